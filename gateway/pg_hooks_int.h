/* pg_hooks_int.h - internals of the webhook module, shared by its files and its unit tests only.
 *   pg_hooks.c        producers (emit, any thread) and the engine run by pg-hook: debounce,
 *                     cache_miss dedupe, event_types filters, per (app, endpoint) FIFO, batches,
 *                     retries
 *   pg_hook_body.c    event objects and request bodies (pure)
 *   srv_hook_http.c   the pg-hook thread: libcurl multi transport, create / start / stop / destroy
 *   srv_hook_redis.c  cluster mode: the batches kept in Redis so a dead node's are sent by another
 * The engine knows no sockets: a transport starts each attempt and reports its HTTP status through
 * pg_hooks__result(), and an optional store (cluster mode) is told when a batch is formed and when
 * it is finished, so the whole state machine is unit tested with fakes and a fake clock.
 */
#ifndef PG_HOOKS_INT_H
#define PG_HOOKS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "pg_buf.h"
#include "pg_hooks.h"

/* One webhook event. Built by the producer in one allocation (strings point into buf); after the
 * inbox it belongs to pg-hook, shared (refs) by the endpoint queues and batches that carry it. */
struct pg_hook_rec {
    struct pg_hook_rec *next; /* inbox link */
    int refs;                 /* pg-hook only */
    int app;
    enum pg_hook_type type;
    int64_t time_ms; /* Unix ms at creation: the body's time_ms */
    int64_t mono_ms; /* pg_now_ms (or the test clock) at creation: starts the batch window */
    long count;      /* subscription_count */
    const char *ch, *uid, *ev, *data, *sid; /* uid, ev, data, sid: NULL when absent */
    size_t clen, ulen, elen, dlen;
    char buf[];
};

/* A batch of one endpoint. The head of the endpoint's batch FIFO is in flight or waiting for its
 * retry time; in single-node mode it is the only one. The body and its signature are built once;
 * every attempt sends the same bytes. */
struct pg_hook_batch {
    struct pg_hook_batch *next; /* ep's batch FIFO */
    struct pg_hook_ep *ep;
    struct pg_hook_rec **recs; /* NULL for an adopted batch */
    size_t n;                  /* events (records) */
    char *body;
    size_t blen;
    char sig[65];
    int attempts;     /* attempts started */
    int64_t first_ms; /* start of the first attempt */
    int64_t next_ms;  /* earliest start of the next attempt */
    bool in_flight;
    void *xfer; /* the transport's handle while in flight */
    /* Store (cluster mode) only. */
    bool adopted;         /* a dead node's batch taken over from Redis: no records */
    bool persisted;       /* in Redis, in this node's processing list */
    int64_t created_wall; /* Unix ms when the batch was formed (kept in Redis) */
    char job[48];         /* the job's name in Redis ("" until the store names it) */
};

/* One (app, webhook). Owned by: pg-hook. */
struct pg_hook_ep {
    int app;
    unsigned idx; /* position in the app's webhooks, for log lines (URLs may hold credentials) */
    const struct pg_app *cfg_app;
    const struct pg_webhook *cfg;
    uint32_t types;         /* 1 << enum pg_hook_type taken by this endpoint */
    struct pg_hook_rec **q; /* FIFO ring of records not yet in a batch */
    size_t qhead, qlen, qcap;
    struct pg_hook_batch *batch; /* NULL, or the head-of-line batch (head of the FIFO) */
    struct pg_hook_batch *btail; /* last batch of the FIFO */
};

struct pg_hook_tp {
    /* pg-hook: starts one POST of b (b->xfer may be set); completion comes through
     * pg_hooks__result. A negative return counts as a failed attempt (retried). */
    int (*start)(void *ctx, struct pg_hook_batch *b);
    /* any thread: the inbox went from empty to non-empty. */
    void (*wake)(void *ctx);
    void *ctx;
};

/* Cluster mode: where batches are kept so that they survive this node (srv_hook_redis.c). */
struct pg_hook_store {
    /* pg-hook: b was just formed, before its first attempt; sets b->persisted when stored. */
    void (*persist)(void *ctx, struct pg_hook_batch *b);
    /* pg-hook: b is finished (delivered, refused for good or dropped) and is about to be freed. */
    void (*finished)(void *ctx, struct pg_hook_batch *b);
    void *ctx;
};

struct pg_hook_pend; /* debounced record or cache_miss marker (pg_hooks.c) */

struct pg_hooks {
    const struct pg_config *cfg;
    struct pg_hook_tp tp;
    /* .persist NULL: single node, one batch per endpoint at a time. Set: every due batch is formed
     * (and stored) at once, queued behind the head batch; sent in order. */
    struct pg_hook_store store;
    int64_t (*mono_ms)(void); /* pg_now_ms; tests replace both clocks before any emit */
    int64_t (*wall_ms)(void); /* CLOCK_REALTIME ms */
    size_t n_apps;
    uint32_t *wants;      /* per app: types some endpoint takes (immutable) */
    uint32_t *emit_mask;  /* per app: wants plus the partners that cancel a debounced one */
    atomic_long *pending; /* per app: records emitted and not yet finished (the queue bound) */
    atomic_int stopping;  /* set by pg_hooks_stop: no new records, flush everything now */
    int64_t deadline_ms;  /* pg_hooks_stop's deadline */

    /* Producers -> pg-hook: an MPSC list under a mutex; wake on empty -> non-empty. */
    pthread_mutex_t lock;
    struct pg_hook_rec *in_head, *in_tail;

    /* pg-hook only. */
    struct pg_hook_ep *eps; /* grouped by app: app a owns eps[ep_off[a] .. ep_off[a + 1]) */
    size_t n_eps;
    size_t *ep_off;
    struct pg_hook_pend **ptab; /* hash of pending debounces and cache_miss markers */
    size_t pcap, pcount;
    struct pg_hook_pend *deb_head, *deb_tail;   /* due order (one constant delay) */
    struct pg_hook_pend *miss_head, *miss_tail; /* due order (one constant delay) */
    uint64_t rnd;                               /* jitter PRNG state */
    struct pg_buf scratch;

    /* Counters (pg_hooks_get_stats); queued is the sum of pending. */
    atomic_uint_fast64_t sent, retried, dropped, failed;
    atomic_long queued;
    atomic_int_fast64_t overflow_log_ms; /* rate limit of the queue-full log line */
    atomic_uint_fast64_t overflow_unlogged;
};

/* ---- pg_hooks.c: the engine (pg-hook thread, or a test) ---- */
/* Builds the per-app tables and endpoints. tp is copied; tp->ctx may be set later. */
struct pg_hooks *pg_hooks__new(const struct pg_config *cfg, const struct pg_hook_tp *tp, char *err,
                               size_t errlen);
void pg_hooks__free(struct pg_hooks *h); /* NULL: no-op; nothing may be in flight */
/* Takes the inbox, applies debounce / dedupe / filters, starts every due batch or retry. */
void pg_hooks__pump(struct pg_hooks *h, int64_t now);
/* The outcome of one attempt: status is the HTTP status, or 0 for a transport error that detail
 * (may be NULL) describes for the log. */
void pg_hooks__result(struct pg_hooks *h, struct pg_hook_batch *b, long status, const char *detail,
                      int64_t now);
/* The next time pump has work (absolute ms), or INT64_MAX. */
int64_t pg_hooks__next_due(const struct pg_hooks *h, int64_t now);
/* Records emitted and not yet delivered, dropped or failed. */
long pg_hooks__outstanding(struct pg_hooks *h);
/* Drops everything left (the transport has cancelled what was in flight), counts and logs it.
 * Persisted batches are not counted as dropped: they stay in Redis for another node. */
void pg_hooks__abandon(struct pg_hooks *h);
/* Queues b (adopted, persisted, body and sig set, ep set) behind ep's batches; counted in queued
 * until finished. */
void pg_hooks__adopt(struct pg_hooks *h, struct pg_hook_batch *b);
/* Delay before attempt number `attempt + 1` after `attempt` failed ones (attempt >= 1): min
 * doubling to max, minus up to 20 % jitter from rnd, never below min. */
int64_t pg_hooks__backoff(int attempt, int64_t min_ms, int64_t max_ms, uint32_t rnd);
/* True when HTTP status (0: transport error) is worth another attempt. */
bool pg_hooks__retryable(long status);

/* ---- pg_hook_body.c ---- */
/* Appends the spec 10.2 event object of r. */
void pg_hook__event_json(struct pg_buf *b, const struct pg_hook_rec *r);
/* Writes {"time_ms":T,"events":[...]} for recs into b (reset first); T is recs[0]->time_ms. */
void pg_hook__body(struct pg_buf *b, struct pg_hook_rec *const *recs, size_t n);
/* Type name as in the event objects and in event_types; NULL when out of range. */
const char *pg_hook__type_name(enum pg_hook_type t);

#endif
