/* srv_cstate_cache.c - cluster mode: the last event of each cache channel, cluster-wide
 * (see srv_redis.h). Thread: as marked per function.
 *
 * Key: <P>:cache:<app>:<channel>, a string "<frame length>:<frame><data>" (the event frame as the
 * publishing node built it, then the data string for info=cache), set with PX = the app's
 * cache_ttl_seconds by the node that took the REST call, in one MULTI with the event's PUBLISH
 * (an ANNOUNCE: every node, the publishing one included, delivers the event from Redis). Every
 * node keeps putting into its own pg_cache as well.
 *
 * Redis is the authority while linked: a subscribe to a cache channel always asks it, with the
 * routed "cget" script run (cs_route: the answer comes on this node's reply channel, in order with
 * the channel's events, so ws_gate.c can drop a replay that a live event overtook; never blocking
 * the worker), since a node's own copy may be older than an event published through another
 * node. The answer goes to the subscriber's worker as a PG_BUS_CACHE_REPLY: the cached frame, or
 * pusher:cache_miss (and the cache_miss webhook). When Redis has nothing, or cannot answer (link
 * down, error), the node's own pg_cache answers, so an event cached during an outage still
 * replays on the node that took it; an event whose MULTI Redis did not take is delivered locally
 * (cx_dropped). GET /channels/{name}?info=cache reads the key (and its PTTL) on the REST thread's
 * context with the same fallback.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_cache.h"
#include "pg_clock.h"
#include "pg_config.h"
#include "pg_frame.h"
#include "pg_hooks.h"
#include "pg_log.h"
#include "pg_server.h"
#include "srv_redis_int.h"

#define TTL_MAX_MS (100LL * 365 * 24 * 3600 * 1000) /* Redis refuses expiries past its range */

/* "<P>:cache:<app>:<ch>" in out (malloc'd), or NULL. */
static char *key_of(const struct srv_redis *r, const char *app_id, size_t alen, const char *ch,
                    size_t clen, size_t *klen)
{
    size_t pl = strlen(r->kprefix), n = pl + 7 + alen + 1 + clen;
    char *k = malloc(n + 1);
    if (!k)
        return NULL;
    memcpy(k, r->kprefix, pl);
    memcpy(k + pl, ":cache:", 7);
    memcpy(k + pl + 7, app_id, alen);
    k[pl + 7 + alen] = ':';
    memcpy(k + pl + 8 + alen, ch, clen);
    k[n] = 0;
    *klen = n;
    return k;
}

/* Splits a stored value into frame and data. 0 or -1 (not ours). */
static int parse(const char *v, size_t len, const char **frame, size_t *flen, const char **data,
                 size_t *dlen)
{
    const char *colon = memchr(v, ':', len < 12 ? len : 12);
    if (!colon || colon == v)
        return -1;
    size_t n = 0;
    for (const char *p = v; p < colon; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        n = n * 10 + (size_t)(*p - '0');
    }
    size_t rest = len - (size_t)(colon + 1 - v);
    if (n == 0 || n > rest)
        return -1;
    *frame = colon + 1;
    *flen = n;
    *data = colon + 1 + n;
    *dlen = rest - n;
    return 0;
}

/* ---- producers (pg-rest, workers) ----------------------------------------------------------- */

int srv_redis_cache_put(struct srv_redis *r, const struct pg_app *app, const char *ch, size_t clen,
                        const char *except, const void *frame, size_t flen, const char *data,
                        size_t dlen, int64_t ttl_ms)
{
    if (!r)
        return 0;
    if (!atomic_load(&r->up))
        return -ENOTCONN;
    char ttl[24];
    int tl = snprintf(ttl, sizeof ttl, "%lld",
                      (long long)(ttl_ms < 1            ? 1
                                  : ttl_ms > TTL_MAX_MS ? TTL_MAX_MS
                                                        : ttl_ms));
    except = except ? except : "";
    const char *f[QF_MAX] = {app->id, ch, frame, data, ttl, except};
    size_t fl[QF_MAX] = {
        strlen(app->id), clen, flen, dlen, (size_t)tl, strnlen(except, PG_SID_MAX)};
    struct qitem *it = cs_qitem_make(Q_CACHE_SET, f, fl, QF_MAX);
    if (!it)
        return -ENOMEM;
    it->app = app->idx;
    return srv_redis__enqueue(r, it);
}

int srv_redis_cache_replay(struct srv_redis *r, const struct pg_app *app, const char *ch,
                           size_t clen, unsigned w, const char *sid)
{
    if (!r || !atomic_load(&r->up))
        return -ENOTCONN;
    size_t sl = strlen(sid);
    if (sl >= PG_SID_MAX)
        return -EINVAL;
    const char *f[5] = {app->id, ch, "", "", sid};
    size_t fl[5] = {strlen(app->id), clen, 0, 0, sl};
    struct qitem *it = cs_qitem_make(Q_CACHE_GET, f, fl, 5);
    if (!it)
        return -ENOMEM;
    it->app = app->idx;
    it->w = w;
    return srv_redis__enqueue(r, it);
}

/* ---- pg-redis ------------------------------------------------------------------------------- */

/* SET: MULTI, SET, PUBLISH, EXEC, so that Redis orders the cached value and the event's message
 * the same way for every reader (a replay's GET sees the event if and only if its message went
 * out before the replay's answer). GET: the routed "cget" script run (cs_route). */
void cx_append(struct srv_redis *r, struct qitem *it)
{
    size_t klen;
    char *key = key_of(r, qitem_field(it, 0), it->len[0], qitem_field(it, 1), it->len[1], &klen);
    if (!key) {
        if (it->op == Q_CACHE_GET)
            cx_dropped(r, it);
        free(it);
        return;
    }
    if (it->op == Q_CACHE_SET) {
        char head[24];
        size_t hl = (size_t)snprintf(head, sizeof head, "%" PRIu32 ":", it->len[2]);
        size_t vl = hl + it->len[2] + it->len[3];
        char *v = malloc(vl);
        int rc;
        struct qitem *msg = srv_redis__encode(
            r, PG_CLUSTER_ANNOUNCE, qitem_field(it, 0), qitem_field(it, 1), it->len[1],
            it->len[5] ? qitem_field(it, 5) : NULL, qitem_field(it, 2), it->len[2], &rc);
        if (v && msg) {
            memcpy(v, head, hl);
            memcpy(v + hl, qitem_field(it, 2), it->len[2]);
            memcpy(v + hl + it->len[2], qitem_field(it, 3), it->len[3]);
            const char *argv[] = {"SET", key, v, "PX", qitem_field(it, 4)};
            size_t argl[] = {3, klen, vl, 2, it->len[4]};
            redisAppendCommand(r->pub, "MULTI");
            redisAppendCommandArgv(r->pub, 5, argv, argl);
            redisAppendCommand(r->pub, "PUBLISH %b %b", msg->data, (size_t)msg->len[0],
                               qitem_field(msg, 1), (size_t)msg->len[1]);
            redisAppendCommand(r->pub, "EXEC");
            for (int k = 0; k < 3; k++)
                srv_redis__pend(r, P_IGNORE, NULL);
            srv_redis__pend(r, P_OP, it); /* EXEC's reply (cx_on_exec); owns it now */
            atomic_fetch_add(&r->published, 1);
            it = NULL;
        }
        if (it)
            cx_dropped(r, it);
        free(msg);
        free(v);
        free(key);
        free(it);
        return;
    }
    const char *argv[CS_HDR_ARGS + 3];
    size_t argl[CS_HDR_ARGS + 3];
    char deb[24];
    cs_hdr(r, argv, argl, "cget", NULL, deb);
    argv[CS_HDR_ARGS + 2] = key;
    argl[CS_HDR_ARGS + 2] = klen;
    cs_route(r, it, argv, argl, CS_HDR_ARGS + 3); /* owns it now */
    free(key);
}

/* Answers a Q_CACHE_GET with frame (hit) or, frame NULL, with this node's own cache. */
static void answer(struct srv_redis *r, struct qitem *it, const char *frame, size_t flen)
{
    struct pg_server *srv = r->srv;
    const char *ch = qitem_field(it, 1);
    size_t clen = it->len[1];
    struct pg_msg *m = frame ? pg_msg_from(frame, flen) : NULL;
    if (!frame && srv->cache)
        m = pg_cache_get(srv->cache, it->app, ch, clen, pg_now_ms());
    if (!m && !frame) {
        m = pg_frame_str("pusher:cache_miss", ch, clen, "{}", 2);
        pg_hooks_emit(srv->hooks, it->app, PG_HOOK_CACHE_MISS, ch, clen, NULL, 0);
    }
    cs_post_socket(r, PG_BUS_CACHE_REPLY, it->w, it->app, ch, clen, qitem_field(it, 4), m);
}

/* "1<value>" (a hit) or "0". */
void cx_on_answer(struct srv_redis *r, struct qitem *it, const char *a, size_t alen)
{
    const char *frame, *data;
    size_t flen, dlen;
    if (alen > 1 && a[0] == '1' && parse(a + 1, alen - 1, &frame, &flen, &data, &dlen) == 0)
        answer(r, it, frame, flen);
    else
        answer(r, it, NULL, 0); /* nothing, or a foreign value: this node's own cache */
}

/* EXEC's reply: an array when the SET and the PUBLISH ran (then the event comes back from Redis
 * to this node's subscribers too); otherwise they are served here. */
void cx_on_exec(struct srv_redis *r, struct qitem *it, const redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ARRAY)
        cx_dropped(r, it);
}

/* Any thread, no lock held. A replay: this node's own cache answers. An event whose MULTI Redis
 * did not take (or that the link lost before its EXEC reply): this node's subscribers get it
 * directly, as in single-node mode. */
void cx_dropped(struct srv_redis *r, struct qitem *it)
{
    if (it->op == Q_CACHE_GET) {
        answer(r, it, NULL, 0);
        return;
    }
    struct pg_server *srv = r->srv;
    const char *ch = qitem_field(it, 1);
    uint64_t mask = pg_registry_mask(srv->reg, it->app, ch, it->len[1]);
    struct pg_msg *m = mask ? pg_msg_from(qitem_field(it, 2), it->len[2]) : NULL;
    if (m)
        pg_bus_publish(srv->bus, mask, it->app, ch, it->len[1], m,
                       it->len[5] ? qitem_field(it, 5) : NULL);
}

/* ---- pg-rest -------------------------------------------------------------------------------- */

int srv_redis_cache_info(struct srv_redis *r, const char *app_id, const char *ch, size_t clen,
                         struct pg_buf *out)
{
    size_t klen;
    char *key = key_of(r, app_id, strlen(app_id), ch, clen, &klen);
    if (!key)
        return -EIO;
    const char *a1[] = {"GET", key}, *a2[] = {"PTTL", key};
    size_t l1[] = {3, klen}, l2[] = {4, klen};
    const char *frame, *data;
    size_t flen, dlen;
    int rc = -EIO;
    pthread_mutex_lock(&r->rest_lock);
    redisReply *v = srv_redis__rest_run(r, 2, a1, l1);
    redisReply *t = v ? srv_redis__rest_run(r, 2, a2, l2) : NULL;
    if (v && t && t->type == REDIS_REPLY_INTEGER) {
        rc = -ENOENT;
        if (v->type == REDIS_REPLY_STRING &&
            parse(v->str, v->len, &frame, &flen, &data, &dlen) == 0 && t->integer > 0) {
            /* whole seconds, rounded up, as pg_cache_info */
            long long left = t->integer, ttl = left / 1000 + (left % 1000 != 0);
            pg_buf_puts(out, "{\"data\":");
            pg_buf_json_str(out, data, dlen);
            pg_buf_printf(out, ",\"ttl\":%lld}", ttl < 1 ? 1 : ttl);
            rc = 0;
        }
    }
    if (v)
        freeReplyObject(v);
    if (t)
        freeReplyObject(t);
    pthread_mutex_unlock(&r->rest_lock);
    free(key);
    return rc;
}
