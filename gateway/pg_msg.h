/* pg_msg.h - a wire frame built once and shared by reference.
 * Owner: whoever holds a reference. A message is touched by one thread at a time: it crosses
 * threads only through a bus inbox (whose mutex orders the hand-over), so refs is a plain int.
 * buf has LWS_PRE bytes of headroom before the payload because lws_write() writes the frame
 * header there; that is also why two workers never share one message (see pg_msg_copy).
 */
#ifndef PG_MSG_H
#define PG_MSG_H

#include <stddef.h>
#include <stdint.h>

#define PG_MSG_PRE                                                                                 \
    16 /* == LWS_PRE of libwebsockets 4.1; checked by a static assert in ws_conn.c                 \
        */

struct pg_msg {
    int refs;
    uint32_t len;
    unsigned char buf[]; /* PG_MSG_PRE headroom, then len payload bytes, then a NUL */
};

/* New message with room for len payload bytes; refs = 1, the caller owns it. NULL on ENOMEM. */
struct pg_msg *pg_msg_new(size_t len);
/* New message holding a copy of s (len bytes). */
struct pg_msg *pg_msg_from(const void *s, size_t len);
/* A private copy for another worker; refs = 1. */
struct pg_msg *pg_msg_copy(const struct pg_msg *m);
static inline unsigned char *pg_msg_data(struct pg_msg *m) { return m->buf + PG_MSG_PRE; }
static inline struct pg_msg *pg_msg_ref(struct pg_msg *m)
{
    m->refs++;
    return m;
}
void pg_msg_unref(struct pg_msg *m); /* NULL: no-op; frees at 0 */

#endif
