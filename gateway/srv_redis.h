/* srv_redis.h - cluster mode: the link between this node and the others, over Redis (design.md
 * section 8): pub/sub message relay (this file's srv_redis.c) and the cluster-wide channel state
 * (srv_cstate*.c: presence rosters, counts, occupancy, reaping of dead nodes, resync after a
 * reconnect, cache channels' last event, watchlist online / offline; see srv_cstate.c's header).
 *
 * Thread pg-redis owns two hiredis contexts. One has PSUBSCRIBEd "<prefix>:m:*" and turns every
 * message from another node into local delivery, exactly as a local publish (registry mask ->
 * bus). The other PUBLISHes to "<prefix>:m:<app-id>" what the producers of this node hand to
 * srv_redis_publish through a bounded queue. Payloads are pg_cluster_msg messages carrying the
 * frame bytes, so no node ever re-serializes a frame; a node drops its own echoes by node id,
 * except ANNOUNCE messages (member events, counts, watchlist changes, cache channels' events),
 * which every node delivers in the order Redis published them. The same context also SUBSCRIBEs
 * "<prefix>:r:<node>", where the state script answers the routed ops (srv_redis_int.h, cs_route).
 *
 * One channel per app under one pattern: a node hears every app's traffic and drops what its
 * configuration does not know (apps may differ between nodes during a rolling reload), and a
 * reload needs no re-subscribe. Interest-based routing (a channel per Pusher channel, subscribed
 * while a local subscriber exists) would save traffic for thinly spread channels at the price of
 * a SUBSCRIBE per channel change; not built (README, "Routing").
 *
 * The second context is the command connection: PUBLISH and the state script's EVALSHA runs go
 * out on it in queue order, and its replies are matched to their commands in order (a FIFO of
 * owed replies, srv_redis_int.h).
 *
 * When Redis goes away, delivery on each node goes on; cross-node messages published meanwhile
 * are dropped and counted (never replayed late), the outage is logged once, and the link comes
 * back with backoff (100 ms doubling to 2 s) and a new PSUBSCRIBE.
 */
#ifndef SRV_REDIS_H
#define SRV_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pg_cluster_msg.h"
#include "pg_registry.h"

struct pg_server;
struct pg_app;
struct srv_redis;

/* Counters since start (each read atomically; together only roughly consistent). */
struct srv_redis_stats {
    unsigned long published;    /* messages queued for PUBLISH */
    unsigned long dropped_full; /* refused: the publish queue was full */
    unsigned long dropped_down; /* refused: no Redis link at the time */
    unsigned long received;     /* messages from other nodes */
    unsigned long delivered;    /* of those, handed to local workers */
    unsigned long dropped_busy; /* of those, dropped: a target worker inbox was over its bound */
    unsigned long bad;          /* undecodable or foreign-version messages */
    unsigned long reconnects;   /* links re-established after an outage */
    unsigned long state_ops;    /* subscription / presence changes queued for the shared state */
    unsigned long state_errors; /* commands Redis refused */
    unsigned long reaped;       /* reaps of dead nodes (or departures) with transitions */
    int up;                     /* 1 while the link is up */
};

/* Reads srv->cfg (redis_url, redis_prefix) and picks a random node id. Does not connect.
 * NULL with a reason in err. */
struct srv_redis *srv_redis_create(struct pg_server *srv, char *err, size_t errlen);

/* Tries to connect once (at most about 2 s, so that a node that can reach Redis is linked before
 * its listeners open), then starts pg-redis, which retries in the background if that failed.
 * Returns 0 or a negative errno (the thread could not start). Thread: main. */
int srv_redis_start(struct srv_redis *r);

/* Hands one message to the other nodes: EVENT (frame for the subscribers of (app, ch) except
 * socket except; except NULL or "": nobody) or TERMINATE (ch = "#server-to-user-<id>", no frame).
 * Copies everything; never blocks on the network. Returns 0, -ENOTCONN (link down), -ENOBUFS
 * (queue full), -EINVAL (a field over the message limits), -ENOMEM or -ESHUTDOWN; every failure
 * is counted, and logged at most every 10 s. r NULL (single node): 0. Thread: any. */
int srv_redis_publish(struct srv_redis *r, enum pg_cluster_kind kind, const struct pg_app *app,
                      const char *ch, size_t clen, const char *except, const void *frame,
                      size_t flen);

/* Sends what is queued (for at most 500 ms), closes the link and joins pg-redis. Later publishes
 * return -ESHUTDOWN. Thread: main. NULL: no-op. */
void srv_redis_stop(struct srv_redis *r);

void srv_redis_destroy(struct srv_redis *r); /* after stop; NULL: no-op */

/* Cluster-wide reads for the REST thread (srv_cstate_rest.c): a synchronous context of their own,
 * at most about 500 ms per command; -EIO when Redis cannot answer (REST answers 503).
 * read_channels calls cb for every occupied channel of app_id whose name starts with prefix
 * (users: also the user count of presence channels). Thread: pg-rest. */
typedef void (*srv_redis_chan_cb)(void *ctx, const char *ch, size_t len,
                                  const struct pg_chan_stats *st);
int srv_redis_read_channels(struct srv_redis *r, const char *app_id, const char *prefix,
                            size_t plen, srv_redis_chan_cb cb, void *cbctx, bool users);
/* Zeroes when the channel is empty; 0 or -EIO. */
int srv_redis_read_channel(struct srv_redis *r, const char *app_id, const char *ch, size_t len,
                           struct pg_chan_stats *st);
int srv_redis_read_users(struct srv_redis *r, const char *app_id, const char *ch, size_t len,
                         void (*cb)(void *ctx, const char *uid, size_t ulen), void *cbctx);

/* Cache channels cluster-wide (srv_cstate_cache.c). cache_put: remembers the event frame and its
 * data for (app, ch) in Redis for ttl_ms and hands the event to the other nodes (socket except
 * excluded, NULL: nobody), in one MULTI: it replaces srv_redis_publish for a cache channel's
 * event, and must be called after the local delivery of it (queued; copies everything); 0 or a
 * negative errno as srv_redis_publish (r NULL: 0). Thread: any. cache_replay: asks Redis for the
 * subscriber sid's replay, answered later on worker w as PG_BUS_CACHE_REPLY (the cached frame,
 * or cache_miss with its webhook), in order with the channel's live events from other nodes;
 * < 0 (link down, queue full): nothing was queued, the caller answers locally. Thread: a
 * worker. cache_info: writes info=cache's {"data":...,"ttl":N} for (app_id, ch) to out; 0,
 * -ENOENT (nothing in Redis, nothing written) or -EIO. Thread: pg-rest. */
struct pg_buf;
int srv_redis_cache_put(struct srv_redis *r, const struct pg_app *app, const char *ch, size_t clen,
                        const char *except, const void *frame, size_t flen, const char *data,
                        size_t dlen, int64_t ttl_ms);
int srv_redis_cache_replay(struct srv_redis *r, const struct pg_app *app, const char *ch,
                           size_t clen, unsigned w, const char *sid);
int srv_redis_cache_info(struct srv_redis *r, const char *app_id, const char *ch, size_t clen,
                         struct pg_buf *out);

/* Watchlist cluster-wide (srv_cstate_watch.c). A signed-in user is online while the cluster count
 * of its "#server-to-user-<id>" is above 0; the node whose state change takes it 0 -> 1 or to 0
 * publishes the watchlist event. srv_redis_linked: whether the cluster announces those now (else
 * the node announces its own transitions). watch_state: the initial state of ids (each
 * "<decimal length>:<bytes>") for watcher socket sid, found on worker w by its own
 * "#server-to-user-" channel self_ch, answered later as PG_BUS_SOCKET_MSG (a watchlist_events
 * frame); < 0: nothing queued, the caller answers locally. Thread: a worker. */
bool srv_redis_linked(const struct srv_redis *r);
int srv_redis_watch_state(struct srv_redis *r, const struct pg_app *app, const char *self_ch,
                          size_t slen, unsigned w, const char *sid, const char *ids, size_t idlen);

/* A repeated presence subscribe of socket sid (worker w) in cluster mode: its
 * subscription_succeeded with the cluster roster of (app, ch), posted later as PG_BUS_SOCKET_MSG.
 * < 0 (link down, queue full): nothing queued, the caller answers with the local roster.
 * Thread: a worker. */
int srv_redis_roster(struct srv_redis *r, const struct pg_app *app, const char *ch, size_t clen,
                     unsigned w, const char *sid);

void srv_redis_get_stats(struct srv_redis *r, struct srv_redis_stats *out);
uint64_t srv_redis_node_id(const struct srv_redis *r);

/* Cluster-wide token bucket for a REST rate limit (srv_cstate_limit.c): takes cost tokens from
 * the bucket of (app_id, which: 0 max_backend_events_per_sec, 1 max_read_requests_per_sec), rate
 * tokens per second and burst = rate, kept in Redis (key "<redis_prefix>:rl:<app_id>:<which>", a
 * hash with the tokens and the time of the last refill, PEXPIREd after it would be full again) so
 * every node draws from one bucket; time is Redis's own (TIME), so node clocks do not matter. Runs
 * on the REST thread's synchronous context (srv_redis__rest_run, under r->rest_lock). Returns 1
 * allowed, 0 refused (*retry_after_ms set, at least 1), -EIO when Redis cannot answer (the caller
 * then uses its own bucket). Thread: pg-rest. */
int srv_redis_rate_take(struct srv_redis *r, const char *app_id, int which, double rate,
                        double cost, int64_t *retry_after_ms);

#endif
