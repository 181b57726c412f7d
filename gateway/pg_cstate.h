/* pg_cstate.h - pure pieces of the cluster state (srv_cstate.c): building the frames' data from
 * what the Redis scripts return. Thread: any (no I/O, no shared state).
 */
#ifndef PG_CSTATE_H
#define PG_CSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "pg_buf.h"

/* One member as the scripts return it: the user id and its user_info JSON text ("null" when the
 * member has none; an empty text is written as null as well). */
struct pg_cstate_member {
    const char *uid;
    size_t ulen;
    const char *info;
    size_t ilen;
};

/* {"presence":{"ids":[...],"hash":{id:info,...},"count":N}}, the same shape as the single-node
 * roster (pg_registry.c), for subscription_succeeded. */
void pg_cstate_roster(struct pg_buf *b, const struct pg_cstate_member *m, size_t n);

/* member_added data {"user_id":..,"user_info":..} (added) or member_removed {"user_id":..}. */
void pg_cstate_member_data(struct pg_buf *b, const struct pg_cstate_member *m, int added);

/* The subscription_count throttle of single-node mode (pg_registry_flush_counts): whether a
 * channel's count may be sent at now_ms, its last one sent at sent_ms (PG_CSTATE_NEVER: none).
 * Over 100 subscribers, at most one per 5 s; the count waits (stays pending) meanwhile. */
#define PG_CSTATE_NEVER (INT64_MIN / 2)
int pg_cstate_count_due(long count, int64_t sent_ms, int64_t now_ms);

#endif
