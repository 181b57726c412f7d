/* pg_frame.h - builds Pusher protocol frames ({"event","channel","data"}) straight into a pg_msg.
 * Thread: any (pure). Every function returns a new message (refs = 1, caller owns) or NULL.
 */
#ifndef PG_FRAME_H
#define PG_FRAME_H

#include <stddef.h>

#include "pg_msg.h"

/* data_json is inserted verbatim as the value of "data" (an object, or an already-quoted string).
 * channel and user_id may be NULL (member omitted). */
struct pg_msg *pg_frame_raw(const char *event, const char *channel, size_t clen,
                            const char *data_json, size_t dlen, const char *user_id, size_t ulen);
/* data is a plain string: it is written as a JSON string value (escaped). */
struct pg_msg *pg_frame_str(const char *event, const char *channel, size_t clen, const char *data,
                            size_t dlen);
/* pusher_internal:watchlist_events with one event ("online" or "offline") about user id. */
struct pg_msg *pg_frame_watch(const char *id, size_t idlen, int online);
/* {"event":"pusher:error","data":{"code":code,"message":"..."}}; code < 0 writes null. */
struct pg_msg *pg_frame_error(int code, const char *message);

#endif
