/* srv_redis_int.h - what srv_redis.c (the link) and srv_cstate*.c (the shared cluster state)
 * share inside the pg-redis module. Not for other modules.
 * Thread: fields marked "pg-redis" belong to the pg-redis thread; the queue to its lock.
 */
#ifndef SRV_REDIS_INT_H
#define SRV_REDIS_INT_H

#include <hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pg_bus.h"
#include "pg_redis_url.h"
#include "pg_registry.h"
#include "srv_redis.h"

/* What a queue item asks pg-redis to do. */
enum qop {
    Q_PUBLISH, /* f0: Redis channel, f1: pg_cluster_msg payload */
    Q_SUB,     /* f0: app id, f1: channel; delta +1 / -1 */
    Q_JOIN,    /* f0: app id, f1: channel, f2: user id, f3: user_info ("null" if none), f4: sid */
    Q_LEAVE,   /* f0: app id, f1: channel, f2: user id */
    /* srv_cstate_cache.c: f0: app id, f1: cache channel; SET: f2: frame, f3: data, f4: TTL in ms
     * (decimal); GET: f4: the subscriber's socket id (answered on worker w) */
    Q_CACHE_SET, /* ... and f5: the excluded socket id of the event's PUBLISH, in one MULTI */
    Q_CACHE_GET,
    /* srv_cstate_watch.c: f0: app id, f1: the watcher's "#server-to-user-<id>", f2: the watched
     * ids, each "<decimal length>:<bytes>", f4: the watcher's socket id (on worker w) */
    Q_WATCH,
    Q_ROSTER, /* f0: app id, f1: presence channel, f4: the socket id (on worker w) */
};

#define QF_MAX 6
#define CS_PERIOD_MS 250    /* pg-redis wakes at least this often while linked (cs_periodic) */
#define CS_NODE_TTL_MS 8000 /* a node is reaped this long after its last heartbeat */
#define CS_HDR_ARGS 7       /* EVALSHA sha 0 op prefix node deb (srv_cstate_lua.c) */
#define CS_SETTLE_MS 3000   /* a relinking node's reconnect backoff (2 s) plus a margin */

struct qitem {
    struct qitem *next;
    enum qop op;
    int app;      /* state ops: the app's index */
    unsigned w;   /* Q_JOIN: the joiner's worker */
    int delta;    /* Q_SUB */
    uint64_t seq; /* routed ops (cs_route): the number their answer on the reply channel carries */
    uint32_t len[QF_MAX];
    char data[]; /* the fields back to back, each followed by a NUL */
};

static inline const char *qitem_field(const struct qitem *it, int i)
{
    const char *p = it->data;
    for (int k = 0; k < i; k++)
        p += it->len[k] + 1;
    return p;
}

static inline size_t qitem_bytes(const struct qitem *it)
{
    size_t n = sizeof *it;
    for (int k = 0; k < QF_MAX; k++)
        n += it->len[k] + 1;
    return n;
}

/* A reply the command context still owes, in command order. */
enum pend_kind {
    P_IGNORE, /* n PUBLISH / PING / resync replies: errors are logged only */
    P_OP,     /* the script run for queue item op */
    P_TICK,   /* heartbeat and reaping, or this node's departure: transitions to announce */
    P_DUE,    /* the debounced webhooks now due */
    P_COMMIT, /* a resync's commit (srv_cstate_sync.c) */
    P_ROUTED, /* a routed op's script run (seq): its answer comes on the reply channel */
};

struct pend {
    struct pend *next;
    enum pend_kind kind;
    unsigned long n; /* P_IGNORE: how many replies */
    struct qitem *op;
    uint64_t seq; /* P_ROUTED: the op's */
};

/* A channel's subscription_count: waiting for the next flush (pending, coalesced per channel), or
 * kept while its last send (sent_ms) still throttles the next one (pg_cstate_count_due). pg-redis.
 */
struct cs_count {
    struct cs_count *next;
    int app;
    bool pending;
    int64_t sent_ms;
    long count;
    size_t len;
    char name[];
};
#define CS_COUNT_BUCKETS 256

/* A log line at most every 10 s per kind, with the count since the last one. */
struct ratelog {
    atomic_llong last_ms;
    atomic_ulong since;
};

struct srv_redis {
    struct pg_server *srv;   /* immutable after create */
    struct pg_redis_url url; /* immutable after create; holds the password */
    char prefix[72];         /* "<redis_prefix>:m:" */
    size_t plen;
    char rchan[96];   /* "<redis_prefix>:r:<node>": this node's reply channel (SUBSCRIBEd) */
    char kprefix[72]; /* "<redis_prefix>": the shared-state keys' prefix */
    uint64_t node;
    char node_hex[17];

    pthread_mutex_t lock; /* guards the queue below and up */
    struct qitem *head, *tail;
    size_t qn, qbytes;
    bool closed;
    atomic_int up; /* written under lock; read without it for stats */

    int efd;
    atomic_int stop;
    pthread_t thread;
    bool started;

    /* pg-redis */
    redisContext *sub, *pub;
    int64_t sub_rx_ms, pub_rx_ms, ping_ms;
    int64_t next_try_ms, backoff_ms, down_since_ms;
    bool ever_up, outage_logged;
    unsigned long dropped_at_down; /* dropped_down when the outage began */
    char sha[41];                  /* the state script's SHA1 on this link */
    struct pend *phead, *ptail;    /* replies owed by pub */
    int64_t tick_ms, count_ms;     /* last heartbeat; last subscription_count flush */
    bool tick_pending, departed, due_pending;
    char epoch[64];     /* <P>:epoch as of the last commit ("" before the first) */
    int64_t refresh_ms; /* when to run cs_refresh_rosters (0: not asked for) */
    /* routed ops whose answer has not come on the reply channel yet, in command order */
    struct qitem *await_head, *await_tail;
    uint64_t route_seq;
    bool broken; /* a reply could not be tracked: reset the link */
    struct cs_count *counts[CS_COUNT_BUCKETS];
    size_t ncounts;

    /* pg-rest: the synchronous context for cluster reads (srv_cstate_rest.c) */
    pthread_mutex_t rest_lock;
    redisContext *rest;
    char rest_sha[41];
    int64_t rest_retry_ms;

    atomic_ulong published, dropped_full, dropped_down, received, delivered, dropped_busy, bad,
        reconnects, state_ops, state_errors, reaped;
    struct ratelog log_full, log_down, log_bad, log_busy, log_err, log_state;
};

/* srv_redis.c */
bool srv_redis__ratelog_due(struct ratelog *l, unsigned long *n);
/* One blocking connection with AUTH and SELECT (timeout_ms per step). NULL with why. */
redisContext *srv_redis__dial(struct srv_redis *r, int timeout_ms, char *why, size_t n);
/* Appends it to the queue (takes ownership). 0, -ENOTCONN, -ENOBUFS or -ESHUTDOWN (freed). */
int srv_redis__enqueue(struct srv_redis *r, struct qitem *it);
/* Marks the link up or down; going down drops (and answers, see cs_dropped) what is queued. */
void srv_redis__set_up(struct srv_redis *r, bool up);
void srv_redis__free_items(struct qitem *it);
/* A Q_PUBLISH item (f0: the Redis channel, f1: the message), or NULL (*rc: -ENOMEM, or -EINVAL:
 * over the limits). Any thread. */
struct qitem *srv_redis__encode(struct srv_redis *r, enum pg_cluster_kind kind, const char *app_id,
                                const char *ch, size_t clen, const char *except, const void *frame,
                                size_t flen, int *rc);
/* Appends "PUBLISH <P>:m:<app> <msg>" for a message of kind (EVENT: a frame; RESYNC: nothing but
 * the app), reply ignored. pg-redis, link up. */
void srv_redis__publish_now(struct srv_redis *r, enum pg_cluster_kind kind, const char *app_id,
                            const char *ch, size_t clen, const char *except, const void *frame,
                            size_t flen);
/* Owes a reply of kind (op: owned now); the new entry, or NULL (out of memory: op answered as
 * dropped and freed, the link reset). */
struct pend *srv_redis__pend(struct srv_redis *r, enum pend_kind kind, struct qitem *op);

/* srv_cstate_rest.c: one command on the REST thread's context (NULL: Redis cannot answer).
 * Caller holds rest_lock. */
redisReply *srv_redis__rest_run(struct srv_redis *r, int argc, const char **argv,
                                const size_t *argl);

/* srv_cstate.c (pg-redis unless noted) */
/* A queue item with nf fields (any thread); NULL when out of memory. */
struct qitem *cs_qitem_make(enum qop op, const char *const *f, const size_t *fl, int nf);
extern const char cs_script[]; /* srv_cstate_lua.c */
int cs_load_script(struct srv_redis *r, redisContext *c, char *sha, char *why, size_t n);
int64_t cs_wall_ms(void);
/* The script's first CS_HDR_ARGS arguments for op; deb: the caller's buffer for the debounce of
 * app's webhooks (NULL: of any app). */
void cs_hdr(struct srv_redis *r, const char **argv, size_t *argl, const char *op,
            const struct pg_app *app, char deb[24]);
/* srv_cstate_sync.c: after (re)connecting, or after this node was reaped: registers the local
 * state again and announces the difference (local: to this node's sockets too). */
void cs_resync(struct srv_redis *r, bool local);
/* Every local presence channel's subscribers get the cluster roster again (srv_cstate_sync.c).
 * cs_refresh_soon: CS_SETTLE_MS after the last time it was asked for, once (while nodes are still
 * rebuilding the state after Redis lost it, the roster is not whole yet). */
void cs_refresh_rosters(struct srv_redis *r);
void cs_refresh_soon(struct srv_redis *r);
void cs_append_op(struct srv_redis *r, struct qitem *it); /* a state op from the queue */
void cs_on_reply(struct srv_redis *r, redisReply *rep);   /* a reply of pub */
void cs_periodic(struct srv_redis *r, int64_t now);       /* heartbeat, reaping, counts */
void cs_link_lost(struct srv_redis *r);                   /* owed replies will never come */
void cs_dropped(struct srv_redis *r, struct qitem *it);   /* any thread, no lock held */
void cs_depart(struct srv_redis *r);                      /* at stop, link up */
void cs_dispose(struct srv_redis *r);
/* The registry's sink (pg_registry_set_cluster): any thread, under a stripe lock. */
int cs_sink(void *ctx, const struct pg_registry_change *chg);

/* Routed ops (srv_cstate.c): a cache replay, a watchlist state or a presence join is answered by
 * its script through a PUBLISH to this node's reply channel rather than in the command's reply,
 * so the answer comes on the subscriber connection in order with the cluster's messages (a live
 * event published before the script ran arrives before it, one published after arrives after).
 * cs_route: appends the script run (argv[CS_HDR_ARGS], argv[CS_HDR_ARGS + 1] are filled in: the
 * reply channel and the answer's header) and keeps it waiting for its answer (owns it now);
 * cs_routed: an answer (payload after the header) arrived; cs_route_error: the run failed. */
void cs_route(struct srv_redis *r, struct qitem *it, const char **argv, size_t *argl, int argc);
void cs_routed(struct srv_redis *r, const char *msg, size_t len);
void cs_route_error(struct srv_redis *r, uint64_t seq);
/* subscription_succeeded with roster for Q_JOIN (to the joiner) or Q_ROSTER (to its socket, or
 * without one to every local subscriber of the channel). srv_cstate.c. */
struct pg_buf;
void cs_post_roster(struct srv_redis *r, const struct qitem *it, const struct pg_buf *roster);

/* srv_cstate_cache.c and srv_cstate_watch.c (pg-redis; *_dropped: any thread, no lock held).
 * append: the command for queue item it (owns it now); on_reply: its reply (it freed by the
 * caller); dropped: the link cannot answer it, so the node answers alone. */
void cx_append(struct srv_redis *r, struct qitem *it);
void cx_on_answer(struct srv_redis *r, struct qitem *it, const char *a, size_t alen);
void cx_dropped(struct srv_redis *r, struct qitem *it);
void cx_on_exec(struct srv_redis *r, struct qitem *it, const redisReply *rep);
void cw_append(struct srv_redis *r, struct qitem *it);
void cw_on_answer(struct srv_redis *r, struct qitem *it, const char *a, size_t alen);
void cw_dropped(struct srv_redis *r, struct qitem *it);
/* The cluster count of app_id's "#server-to-user-<id>" (ch) went 0 -> 1 (online) or to 0:
 * publishes the watchlist event on "#watch-<id>" to every node, this one included. */
void cw_user_changed(struct srv_redis *r, const char *app_id, size_t alen, const char *ch,
                     size_t clen, bool online);
/* Posts frame m (consumed) to worker w for socket sid among the subscribers of (app, ch), as a
 * bus item of kind (PG_BUS_SOCKET_MSG, _CACHE_REPLY or _WATCH_STATE). */
void cs_post_socket(struct srv_redis *r, enum pg_bus_kind kind, unsigned w, int app, const char *ch,
                    size_t clen, const char *sid, struct pg_msg *m);

#endif
