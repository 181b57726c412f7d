/* pg_cluster_msg.h - the node-to-node message carried over Redis pub/sub (design.md section 8).
 * Thread: any (pure: no I/O, no allocation).
 *
 * One message is a text header line, then the variable fields back to back, then the frame:
 *
 *   PG1 <origin> <kind> <app-len> <except-len> <channel-len>\n<app><except><channel><frame>
 *
 *   origin       the sending node's id: exactly 16 lowercase hex digits
 *   kind         EVENT      deliver <frame> to the local subscribers of (app, channel), except the
 *                           socket <except> (except-len 0: nobody is excluded)
 *                TERMINATE  close (4009) the local sockets signed in as the user: <channel> is
 *                           "#server-to-user-<user_id>"; except and frame are empty
 *                ANNOUNCE   as EVENT, and delivered by the origin node too (which does not deliver
 *                           it locally beforehand): member events, counts and watchlist changes
 *                           the cluster state announces, so every node, the origin included,
 *                           sees them in the order Redis published them
 *                RESYNC     the cluster state of the app was rebuilt after Redis lost it: send
 *                           every local presence subscriber the cluster roster again;
 *                           except, channel and frame are empty
 *   *-len        decimal byte counts, no sign, no leading zero (0 is "0"), at most 7 digits
 *   frame        the wire frame exactly as the origin built it; its length is what remains
 *
 * Every variable field is framed by a length, never by a separator, so app ids and channel names
 * holding any byte (spaces, newlines, NUL) travel safely, and receivers copy the frame as it is:
 * it is never parsed or re-serialized. Decoding is strict (one space between header fields, each
 * limit below enforced) so a fuzzer finds nothing a receiver would misread.
 */
#ifndef PG_CLUSTER_MSG_H
#define PG_CLUSTER_MSG_H

#include <stddef.h>
#include <stdint.h>

#define PG_CLUSTER_APP_MAX 1024      /* app id bytes */
#define PG_CLUSTER_EXCEPT_MAX 47     /* socket id bytes (PG_SID_MAX - 1); printable ASCII only */
#define PG_CLUSTER_CHANNEL_MAX 65535 /* channel name bytes */
#define PG_CLUSTER_FRAME_MAX (16u << 20)
#define PG_CLUSTER_HEADER_MAX 64 /* the header line, '\n' included, is never longer */

enum pg_cluster_kind {
    PG_CLUSTER_EVENT = 1,
    PG_CLUSTER_TERMINATE = 2,
    PG_CLUSTER_RESYNC = 3,
    PG_CLUSTER_ANNOUNCE = 4,
};

/* Decoded: the pointers borrow the input buffer. Encoded: the caller's fields. */
struct pg_cluster_msg {
    uint64_t origin;
    enum pg_cluster_kind kind;
    const char *app;
    size_t alen; /* 1 .. PG_CLUSTER_APP_MAX */
    const char *except;
    size_t elen; /* 0 .. PG_CLUSTER_EXCEPT_MAX; 0 for TERMINATE */
    const char *channel;
    size_t clen; /* 0 .. PG_CLUSTER_CHANNEL_MAX */
    const char *frame;
    size_t flen; /* EVENT: 1 .. PG_CLUSTER_FRAME_MAX; TERMINATE: 0 */
};

/* Bytes pg_cluster_msg_encode writes for m (m's fields are not checked here). */
size_t pg_cluster_msg_size(const struct pg_cluster_msg *m);

/* Writes m into out (cap bytes) and its length into *outlen. Returns 0, -EINVAL when a field is
 * out of the limits above, or -ENOBUFS when cap < pg_cluster_msg_size(m). */
int pg_cluster_msg_encode(const struct pg_cluster_msg *m, char *out, size_t cap, size_t *outlen);

/* Parses len bytes of s into m (pointers into s). Returns 0, -EPROTONOSUPPORT for a message of
 * another version ("PG<n> " with n != 1), or -EINVAL for anything malformed. */
int pg_cluster_msg_decode(struct pg_cluster_msg *m, const char *s, size_t len);

/* "EVENT", "TERMINATE" or "?" (for logs). */
const char *pg_cluster_kind_name(enum pg_cluster_kind k);

#endif
