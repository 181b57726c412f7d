/* pg_debug.h - the debug console's live event stream: the internal channel "#debug".
 * With debug_console on, the gateway mirrors what happens in an app (REST triggers, client
 * events, connections opened and closed, subscriptions, presence members) into that app's
 * "#debug" channel, which only a socket signed with the app secret can join (ws_subscribe.c).
 * Each mirrored event is one frame {"event":"pushgate:debug","channel":"#debug","data":"<json>"}
 * where <json> is an object {"type":..,"time":<unix ms>, ...fields}.
 *
 * Cost when unused: one config flag read (console off), else one registry lookup (nobody
 * watching). Nothing is mirrored for '#' channels themselves, and nothing is queued when a
 * watcher's worker inbox is over its bound (the stream is best effort, the app's traffic is not).
 * Thread: any (producers call it where the event happens).
 */
#ifndef PG_DEBUG_H
#define PG_DEBUG_H

#include <stddef.h>

#define PG_DEBUG_CHANNEL "#debug"
#define PG_DEBUG_CHANNEL_LEN 6
#define PG_DEBUG_EVENT "pushgate:debug"
#define PG_DEBUG_DATA_MAX 1024 /* event data is cut to this many bytes (on a UTF-8 boundary) */

struct pg_server;
struct pg_trigger;

/* Field tags of pg_debug_mirror's variable arguments; use the macros below. */
enum pg_debug_tag {
    PG_DBG_END = 0, /* ends the list */
    PG_DBG_STR,     /* const char *key, const char *value (NUL-terminated; NULL: omitted) */
    PG_DBG_CHAN,    /* const char *channel: member "channel"; a '#' channel drops the event */
    PG_DBG_DATA,    /* const char *key, const char *data, size_t len: cut to PG_DEBUG_DATA_MAX */
};
#define PG_DBG_S(k, v) PG_DBG_STR, (const char *)(k), (const char *)(v)
#define PG_DBG_SID(v) PG_DBG_S("socket_id", v)
#define PG_DBG_C(v) PG_DBG_CHAN, (const char *)(v)
#define PG_DBG_D(k, v, n) PG_DBG_DATA, (const char *)(k), (const char *)(v), (size_t)(n)

/* Mirrors one event of type `type` for app index app into its "#debug" channel, with the fields
 * that follow (tagged, ending with PG_DBG_END). Example:
 *   pg_debug_mirror(srv, app, "subscribed", PG_DBG_SID(sid), PG_DBG_C(ch), PG_DBG_END); */
void pg_debug_mirror(struct pg_server *srv, int app, const char *type, ...);

/* Mirrors every event of a delivered REST trigger as type "api_message": event, channels (the
 * non-'#' ones; none left: skipped), data (cut; hidden for a gateway-encrypted event), socket_id.
 */
void pg_debug_trigger(struct pg_server *srv, int app, const struct pg_trigger *t);

/* Length of the longest prefix of s[0..n) that is at most max bytes and does not end inside a
 * UTF-8 sequence. */
size_t pg_debug__cut(const char *s, size_t n, size_t max);

#endif
