/* pg_hooks.h - webhooks (spec 10): producers on any thread enqueue small records; one thread
 * (pg-hook) batches them per app and endpoint, signs the exact body, POSTs with libcurl multi
 * and retries with backoff (at least once, in order per app and endpoint).
 * Owner: main (create, start, stop, destroy). pg_hooks_emit* are thread-safe and cheap when the
 * app has no webhook for that event type (no allocation, no lock).
 */
#ifndef PG_HOOKS_H
#define PG_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "pg_config.h"

enum pg_hook_type {
    PG_HOOK_CHANNEL_OCCUPIED,
    PG_HOOK_CHANNEL_VACATED,
    PG_HOOK_MEMBER_ADDED,
    PG_HOOK_MEMBER_REMOVED,
    PG_HOOK_CLIENT_EVENT,
    PG_HOOK_CACHE_MISS,
    PG_HOOK_SUBSCRIPTION_COUNT,
    PG_HOOK__COUNT
};

struct pg_hooks;

struct pg_hooks *pg_hooks_create(const struct pg_config *cfg, char *err, size_t errlen);
int pg_hooks_start(struct pg_hooks *h);
/* Stops taking records and flushes what is queued until deadline_ms (pg_now_ms clock); logs and
 * counts what could not be delivered. NULL: no-op. */
void pg_hooks_stop(struct pg_hooks *h, int64_t deadline_ms);
void pg_hooks_destroy(struct pg_hooks *h); /* NULL: no-op */

/* True when app (index) has at least one webhook taking type t. Thread: any. */
int pg_hooks_wants(const struct pg_hooks *h, int app, enum pg_hook_type t);

/* channel_occupied / channel_vacated / member_added / member_removed / cache_miss.
 * user_id only for member events. Channels starting with '#' never produce webhooks. */
void pg_hooks_emit(struct pg_hooks *h, int app, enum pg_hook_type t, const char *ch, size_t clen,
                   const char *user_id, size_t ulen);
/* client_event: data_json is the client's data value as JSON text; it is sent as a string. */
void pg_hooks_client_event(struct pg_hooks *h, int app, const char *ch, size_t clen,
                           const char *event, size_t elen, const char *data_json, size_t dlen,
                           const char *socket_id, const char *user_id, size_t ulen);
void pg_hooks_subscription_count(struct pg_hooks *h, int app, const char *ch, size_t clen,
                                 long count);

/* sent: requests answered 2xx; retried: failed attempts that were retried; dropped: events
 * refused (queue full, after stop) or given up (retry window over, out of memory, abandoned at
 * shutdown), one per endpoint delivery once fanned out; failed: requests answered with a final
 * 4xx; queued: events emitted and not yet finished (a gauge). */
struct pg_hooks_stats {
    uint64_t sent, retried, dropped, failed, queued;
};
void pg_hooks_get_stats(struct pg_hooks *h, struct pg_hooks_stats *out);

#endif
