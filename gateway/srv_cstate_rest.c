/* srv_cstate_rest.c - cluster mode: the REST API's reads of the cluster state (GET /channels,
 * /channels/{name}, /channels/{name}/users, trigger `info`), see srv_redis.h.
 * Thread: pg-rest (MHD runs one internal thread; rest_lock guards the context all the same).
 *
 * A synchronous hiredis context of its own with a short timeout (REST_TIMEOUT_MS per command):
 * the REST thread waits at most that long for Redis, and while Redis is unreachable it tries to
 * reconnect at most every RETRY_MS, answering "unavailable" (503) at once in between. This trades
 * design.md's suspend/resume for simplicity; reads are rare next to publishes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_clock.h"
#include "pg_log.h"
#include "srv_redis_int.h"

#define REST_TIMEOUT_MS 500
#define RETRY_MS 1000

/* Caller holds rest_lock. */
static redisContext *ctx(struct srv_redis *r)
{
    if (r->rest)
        return r->rest;
    int64_t now = pg_now_ms();
    if (now < r->rest_retry_ms)
        return NULL;
    char why[256];
    r->rest = srv_redis__dial(r, REST_TIMEOUT_MS, why, sizeof why);
    if (r->rest && cs_load_script(r, r->rest, r->rest_sha, why, sizeof why) < 0) {
        redisFree(r->rest);
        r->rest = NULL;
    }
    if (!r->rest) {
        r->rest_retry_ms = now + RETRY_MS;
        PG_LOG(PG_LOG_DEBUG, "cluster", "REST reads: Redis unreachable: %s", why);
    }
    return r->rest;
}

/* Runs one command (argv) and returns its reply, or NULL (the context is then dropped). Caller
 * holds rest_lock. */
static redisReply *run(struct srv_redis *r, int argc, const char **argv, const size_t *argl)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        redisContext *c = ctx(r);
        if (!c)
            return NULL;
        redisReply *rep = redisCommandArgv(c, argc, argv, argl);
        if (!rep) {
            redisFree(c);
            r->rest = NULL;
            continue; /* a stale connection (Redis restarted): once more on a fresh one */
        }
        if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(rep);
            char why[256];
            if (cs_load_script(r, c, r->rest_sha, why, sizeof why) < 0)
                return NULL;
            continue;
        }
        if (rep->type == REDIS_REPLY_ERROR) {
            PG_LOG(PG_LOG_WARN, "cluster", "REST read refused by Redis: %.*s",
                   (int)(rep->len > 200 ? 200 : rep->len), rep->str);
            freeReplyObject(rep);
            return NULL;
        }
        return rep;
    }
    return NULL;
}

static int64_t int_of(const redisReply *e)
{
    if (e->type == REDIS_REPLY_INTEGER)
        return (int64_t)e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return strtoll(e->str, NULL, 10);
    return 0;
}

int srv_redis_read_channels(struct srv_redis *r, const char *app_id, const char *prefix,
                            size_t plen, srv_redis_chan_cb cb, void *cbctx, bool users)
{
    const char *argv[] = {"EVALSHA",   r->rest_sha, "0",    "channels", r->kprefix,
                          r->node_hex, "0",         app_id, prefix,     users ? "1" : "0"};
    size_t argl[] = {7, 40, 1, 8, strlen(r->kprefix), 16, 1, strlen(app_id), plen, 1};
    pthread_mutex_lock(&r->rest_lock);
    redisReply *rep = run(r, 10, argv, argl);
    int rc = rep && rep->type == REDIS_REPLY_ARRAY ? 0 : -EIO;
    for (size_t i = 0; rc == 0 && i + 2 < rep->elements; i += 3) {
        const redisReply *c = rep->element[i];
        if (c->type != REDIS_REPLY_STRING)
            continue;
        struct pg_chan_stats st = {(long)int_of(rep->element[i + 1]),
                                   (long)int_of(rep->element[i + 2])};
        if (st.subs > 0)
            cb(cbctx, c->str, c->len, &st);
    }
    if (rep)
        freeReplyObject(rep);
    pthread_mutex_unlock(&r->rest_lock);
    return rc;
}

int srv_redis_read_channel(struct srv_redis *r, const char *app_id, const char *ch, size_t len,
                           struct pg_chan_stats *st)
{
    char key[600];
    int kl = snprintf(key, sizeof key, "%s:subs:%s", r->kprefix, app_id);
    char pkey[1200];
    int pl = snprintf(pkey, sizeof pkey, "%s:pres:%s:%.*s", r->kprefix, app_id, (int)len, ch);
    st->subs = st->users = 0;
    if (kl >= (int)sizeof key || pl >= (int)sizeof pkey)
        return -EIO;
    const char *a1[] = {"HGET", key, ch};
    size_t l1[] = {4, (size_t)kl, len};
    const char *a2[] = {"HLEN", pkey};
    size_t l2[] = {4, (size_t)pl};
    pthread_mutex_lock(&r->rest_lock);
    int rc = -EIO;
    redisReply *rep = run(r, 3, a1, l1);
    if (rep && (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_NIL)) {
        st->subs = rep->type == REDIS_REPLY_STRING ? strtol(rep->str, NULL, 10) : 0;
        freeReplyObject(rep);
        rep = run(r, 2, a2, l2);
        if (rep && rep->type == REDIS_REPLY_INTEGER) {
            st->users = (long)rep->integer;
            rc = 0;
        }
    }
    if (rep)
        freeReplyObject(rep);
    pthread_mutex_unlock(&r->rest_lock);
    return rc;
}

int srv_redis_read_users(struct srv_redis *r, const char *app_id, const char *ch, size_t len,
                         void (*cb)(void *ctx, const char *uid, size_t ulen), void *cbctx)
{
    char pkey[1200];
    int pl = snprintf(pkey, sizeof pkey, "%s:pres:%s:%.*s", r->kprefix, app_id, (int)len, ch);
    if (pl >= (int)sizeof pkey)
        return -EIO;
    const char *a[] = {"HKEYS", pkey};
    size_t l[] = {5, (size_t)pl};
    pthread_mutex_lock(&r->rest_lock);
    redisReply *rep = run(r, 2, a, l);
    int rc = rep && rep->type == REDIS_REPLY_ARRAY ? 0 : -EIO;
    for (size_t i = 0; rc == 0 && i < rep->elements; i++)
        if (rep->element[i]->type == REDIS_REPLY_STRING)
            cb(cbctx, rep->element[i]->str, rep->element[i]->len);
    if (rep)
        freeReplyObject(rep);
    pthread_mutex_unlock(&r->rest_lock);
    return rc;
}

redisReply *srv_redis__rest_run(struct srv_redis *r, int argc, const char **argv,
                                const size_t *argl)
{
    return run(r, argc, argv, argl);
}
