/* pg_registry.h - the one channel table shared by all threads.
 * Per (app, channel): total subscriptions, which workers hold subscribers (a bitmask used to fan
 * out), and for presence channels the roster user_id -> {user_info, connections}.
 * Guarded by: striped mutexes chosen by the channel hash; every call is O(1) or O(members) work
 * under one stripe lock and never does I/O. Presence joins and leaves publish member_added /
 * member_removed through the bus while holding the stripe lock, so the roster a joiner receives
 * and the broadcasts the others receive always agree.
 * Thread: any.
 */
#ifndef PG_REGISTRY_H
#define PG_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "pg_buf.h"
#include "pg_bus.h"

struct pg_registry;

struct pg_chan_stats {
    long subs;  /* subscriptions (connections) */
    long users; /* distinct presence users; 0 for other channels */
};

/* bus may be NULL (unit tests): presence broadcasts are then skipped. */
struct pg_registry *pg_registry_create(unsigned nworkers, struct pg_bus *bus);
void pg_registry_destroy(struct pg_registry *r); /* NULL: no-op */

struct pg_hooks;
struct pg_config;
/* Webhooks: channel_occupied (subscriptions 0 -> 1), channel_vacated (-> 0), member_added and
 * member_removed are emitted under the stripe lock, subscription_count from
 * pg_registry_flush_counts. h NULL (the default): none. Call before other threads use r. */
void pg_registry_set_hooks(struct pg_registry *r, struct pg_hooks *h);
/* Gives pg_registry_flush_counts each app's subscription_count flag: channels marked only for the
 * subscription_count webhook are then not broadcast. NULL (the default): every marked channel is
 * broadcast. Call before other threads use r. */
void pg_registry_set_config(struct pg_registry *r, const struct pg_config *cfg);

/* Cluster mode (design.md section 8; srv_cstate.c). The registry then keeps only this node's
 * state, for local delivery, and reports every change of a channel not starting with '#' (and of
 * every "#server-to-user-<id>": the user's signed-in connections, for the watchlist) to the
 * sink, under the stripe lock, so the sink sees changes in registry order. It emits no occupancy
 * or member webhooks, no member_added / member_removed broadcasts and no subscription_count: the
 * cluster layer does, from the shared state. A sink that refuses a JOIN or LEAVE (returns < 0: no
 * Redis link) gets the single-node behaviour for it instead: local broadcasts and roster. */
enum pg_registry_op { PG_REG_SUB, PG_REG_UNSUB, PG_REG_JOIN, PG_REG_LEAVE };
struct pg_registry_change {
    enum pg_registry_op op;
    int app;
    const char *ch;
    size_t len;
    unsigned w;
    const char *sid; /* JOIN: the joining socket */
    const char *uid; /* JOIN, LEAVE */
    size_t ulen;
    const char *info; /* JOIN: user_info JSON text, NULL for null */
    size_t ilen;
};
typedef int (*pg_registry_sink)(void *ctx, const struct pg_registry_change *chg);
/* Call before other threads use r. sink NULL: single-node mode (the default). */
void pg_registry_set_cluster(struct pg_registry *r, pg_registry_sink sink, void *ctx);
/* pg_registry_presence_join in cluster mode: the sink took the join; the roster is not written
 * (the cluster answers with subscription_succeeded later). */
#define PG_REGISTRY_DEFERRED 2

/* Calls begin(ctx) and then the callbacks for every channel the sink hears of (subs = this
 * node's subscriptions) and every presence member (conns = this node's connections), with every
 * stripe locked at once: no change is half-seen, and a change made after begin() returned is not
 * in the snapshot. Callbacks must only copy. Thread: any (the cluster resync). */
typedef void (*pg_registry_snap_chan)(void *ctx, int app, const char *ch, size_t len, long subs);
typedef void (*pg_registry_snap_member)(void *ctx, int app, const char *ch, size_t len,
                                        const char *uid, size_t ulen, const char *info, size_t ilen,
                                        long conns);
void pg_registry_snapshot(struct pg_registry *r, void (*begin)(void *ctx),
                          pg_registry_snap_chan on_chan, pg_registry_snap_member on_member,
                          void *ctx);

/* A connection on worker w joined / left a non-presence channel. Returns the channel's new
 * subscription count (>= 0) or -ENOMEM. */
long pg_registry_sub(struct pg_registry *r, int app, const char *ch, size_t len, unsigned w);
long pg_registry_unsub(struct pg_registry *r, int app, const char *ch, size_t len, unsigned w);

/* A connection (socket id sid, on worker w) joins presence channel ch as user_id with user_info
 * (JSON text, or NULL for null). When the user is new to the channel and the channel already has
 * max_members users (max_members >= 0) returns -ENOSPC and changes nothing. Otherwise adds the
 * connection; if it is the user's first, publishes member_added to every other subscriber. Writes
 * the roster {"presence":{"ids":[...],"hash":{...},"count":N}} into roster (may be NULL).
 * Returns 1 when the user is new in the channel, 0 when it was already there. */
int pg_registry_presence_join(struct pg_registry *r, int app, const char *ch, size_t len,
                              unsigned w, const char *sid, const char *user_id, size_t ulen,
                              const char *user_info, size_t ilen, long max_members,
                              struct pg_buf *roster);
/* The mirror: publishes member_removed when the user's last connection leaves.
 * Returns 1 when the user left the channel, 0 when other connections remain, -ENOENT if unknown. */
int pg_registry_presence_leave(struct pg_registry *r, int app, const char *ch, size_t len,
                               unsigned w, const char *user_id, size_t ulen);

/* Writes the current roster of presence channel ch (as presence_join does) without changing it.
 * Returns the number of users, or -ENOENT. */
long pg_registry_presence_roster(struct pg_registry *r, int app, const char *ch, size_t len,
                                 struct pg_buf *roster);

/* Marks (app, ch) for a pusher_internal:subscription_count broadcast at the next flush. */
void pg_registry_count_dirty(struct pg_registry *r, int app, const char *ch, size_t len);
/* Broadcasts pusher_internal:subscription_count for every marked channel that still has
 * subscribers, coalescing the changes since the last flush: channels with up to 100 subscribers
 * at every flush, larger ones at most once per 5 s (as Pusher). Called periodically by one
 * thread. Also emits the subscription_count webhook (when the app has one), on the same schedule.
 * Returns the number of broadcasts. */
int pg_registry_flush_counts(struct pg_registry *r, int64_t now_ms);

/* Workers with at least one subscriber of (app, ch). */
uint64_t pg_registry_mask(struct pg_registry *r, int app, const char *ch, size_t len);

/* Stats of one channel; zeroes and -ENOENT when it has no subscriber. */
int pg_registry_stats(struct pg_registry *r, int app, const char *ch, size_t len,
                      struct pg_chan_stats *out);

/* Calls cb for every occupied channel of app whose name starts with prefix (plen may be 0).
 * cb runs under a stripe lock: it must only copy what it needs. */
typedef void (*pg_registry_chan_cb)(void *ctx, const char *ch, size_t len,
                                    const struct pg_chan_stats *st);
void pg_registry_each(struct pg_registry *r, int app, const char *prefix, size_t plen,
                      pg_registry_chan_cb cb, void *ctx);

/* Calls cb for every distinct user of presence channel ch (under the stripe lock).
 * Returns the number of users, or -ENOENT when the channel has none. */
typedef void (*pg_registry_user_cb)(void *ctx, const char *user_id, size_t len);
long pg_registry_users(struct pg_registry *r, int app, const char *ch, size_t len,
                       pg_registry_user_cb cb, void *ctx);

#endif
