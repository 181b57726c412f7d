/* pg_server.h - what the threads of one gateway process share.
 * Owner: main (created before the threads start, destroyed after they are joined).
 * Immutable after start except the atomics.
 */
#ifndef PG_SERVER_H
#define PG_SERVER_H

#include <stdatomic.h>
#include <stdint.h>

#include "pg_bus.h"
#include "pg_config.h"
#include "pg_registry.h"
#include "pg_stats.h"

/* Limit hits, counted for /metrics; each index names the limit. */
enum pg_limit {
    PG_LIMIT_CONNECTIONS,    /* max_connections: 4004 */
    PG_LIMIT_IP_CONNECTIONS, /* max_connections_per_ip: 4100 */
    PG_LIMIT_IP_RATE,        /* max_new_connections_per_ip_per_sec: 4100 */
    PG_LIMIT_CLIENT_EVENTS,  /* max_client_events_per_sec: 4301 */
    PG_LIMIT_BACKEND_EVENTS, /* max_backend_events_per_sec: 429 */
    PG_LIMIT_READ_REQUESTS,  /* max_read_requests_per_sec: 429 */
    PG_LIMIT_PAYLOAD,        /* max_event_payload_in_kb: 413 / 4301 */
    PG_LIMIT_NAMES,          /* channel / event name lengths: 400 / subscription_error */
    PG_LIMIT_BATCH,          /* max_event_batch_size, max_event_channels_at_once: 400 */
    PG_LIMIT_PRESENCE,       /* presence members and member size: subscription_error */
    PG_LIMIT_MESSAGE_SIZE,   /* max_message_size_kb: close 1009 */
    PG_LIMIT_OUT_QUEUE,      /* out-queue bound: close 4100 */
    PG_LIMIT_WATCHLIST,      /* watchlist over 100 ids: 4302 */
    PG_LIMIT__COUNT
};

struct pg_cache;
struct pg_iplimit;
struct pg_hooks;
struct srv_redis;

struct pg_server {
    /* The current configuration. SIGHUP swaps in a new one (only its app list may differ);
     * every older one stays allocated until exit, because connections keep app pointers into it.
     * An _Atomic pointer: every srv->cfg read is an atomic load. */
    const struct pg_config *_Atomic cfg;
    unsigned app_cap; /* app indexes are < app_cap for the whole run (per-app arrays' size) */
    struct pg_registry *reg;
    struct pg_bus *bus;
    unsigned nworkers;
    uint32_t node_tag;            /* first half of every socket id */
    atomic_uint_fast64_t sid_seq; /* second half */
    atomic_int stopping;          /* set once by main on SIGTERM/SIGINT */
    atomic_long conns;            /* open WebSocket connections, all apps */
    atomic_long *app_conns; /* per app (cfg->n_apps): connections counted for max_connections */
    atomic_long *app_conns_others; /* per app: the same on the cluster's other nodes, as of the last
                                    * heartbeat (pg-redis writes; 0 in single-node mode) */
    struct pg_cache *cache;        /* last event of each cache channel */
    struct pg_iplimit *iplimit;    /* NULL when no per-IP limit is configured */
    struct pg_hooks *hooks;        /* webhooks (pg-hook thread); NULL-safe calls */
    struct srv_redis *redis;       /* cluster link (pg-redis thread); NULL in single-node mode */
    atomic_ulong limit_hits[PG_LIMIT__COUNT];
    struct pg_app_stats *stats; /* (nworkers + 1) * app_cap rows, see pg_stats.h */
    int64_t started_ms;
};

/* The stats row of thread `row` (a worker id, or nworkers for REST) for app index app. */
static inline struct pg_app_stats *pg_server_stats(struct pg_server *s, unsigned row, int app)
{
    return &s->stats[(size_t)row * s->app_cap + (size_t)app];
}

static inline void pg_server_count_limit(struct pg_server *s, enum pg_limit l)
{
    atomic_fetch_add_explicit(&s->limit_hits[l], 1, memory_order_relaxed);
}

#endif
