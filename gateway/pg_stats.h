/* pg_stats.h - traffic counters for /metrics, one row per (thread, app).
 * Each row has exactly one writer (a ws worker, or the REST thread), so a counter is bumped with
 * a relaxed load + store (no locked instruction on the hot path); /metrics sums the rows with
 * relaxed loads. Rows: [worker w][app] for w < nworkers, then [nworkers][app] for REST.
 */
#ifndef PG_STATS_H
#define PG_STATS_H

#include <stdatomic.h>
#include <stdint.h>

struct pg_app_stats {
    atomic_uint_fast64_t conns_new;           /* WebSocket connections established */
    atomic_uint_fast64_t conns_closed;        /* ... and closed again */
    atomic_uint_fast64_t msgs_in, bytes_in;   /* WebSocket messages received */
    atomic_uint_fast64_t msgs_out, bytes_out; /* WebSocket frames written */
    atomic_uint_fast64_t http_calls, http_bytes_in, http_bytes_out; /* REST API */
};

static inline void pg_stat_add(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline uint64_t pg_stat_get(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

#endif
