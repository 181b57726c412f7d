/* srv_hook_redis.h - cluster mode for webhooks: every batch is kept in Redis from the moment it is
 * formed until it is finished, so the batches of a node that dies are sent by another node.
 * Thread: pg-hook only (create and destroy on pg-main while pg-hook is not running). It owns one
 * synchronous hiredis context of its own with short timeouts: a slow or absent Redis delays only
 * webhooks, never a worker, and loses nothing (batches stay in memory and are stored once the
 * link is back). See srv_hook_redis.c for the keys and the hand-over.
 */
#ifndef SRV_HOOK_REDIS_H
#define SRV_HOOK_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "pg_hooks_int.h"

struct hook_redis;

/* Reads cfg->redis_url / redis_prefix and installs itself as h's store. NULL with a reason in
 * err. Does not connect. */
struct hook_redis *hook_redis_create(struct pg_hooks *h, const struct pg_config *cfg, char *err,
                                     size_t errlen);
/* Reconnects (with backoff), removes finished jobs, stores what could not be stored, refreshes
 * this node's heartbeat and adopts the jobs of dead nodes. Call after every pump. */
void hook_redis_tick(struct hook_redis *r, int64_t now);
/* The next time tick has work (absolute pg_now_ms), at most one heartbeat away. */
int64_t hook_redis_next_due(const struct hook_redis *r);
/* At shutdown, before pg_hooks__abandon: stores what is not stored yet and hands this node's
 * unfinished jobs over to the cluster at once (or removes its entry when none is left). */
void hook_redis_depart(struct hook_redis *r);
void hook_redis_destroy(struct hook_redis *r); /* NULL: no-op */

#endif
