/* srv_cstate_sync.c - cluster mode: registering this node's whole local state in Redis again after
 * every (re)connect, and after this node was reaped while alive (see srv_cstate.c, "Resync").
 * Thread: pg-redis (or main, before pg-redis starts).
 *
 * The snapshot is taken with every registry stripe locked (pg_registry_snapshot): inside it the
 * link is marked up and the queue is taken, so every change is either in the snapshot (made
 * before) or queued after it, never both and never neither. The snapshot is copied into one arena
 * and sent after the locks are released: the items taken from the queue first, then "stage0"
 * (empties this node's staging hashes), "stage" runs of at most ADD_ARGS arguments each (the
 * snapshot into the staging hashes; replies ignored, errors logged) and "commit", which applies
 * the difference between the staged state and what Redis holds for this node and returns the
 * transitions, announced like any others (srv_cstate.c on_commit).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_buf.h"
#include "pg_clock.h"
#include "pg_config.h"
#include "pg_log.h"
#include "pg_registry.h"
#include "pg_server.h"
#include "srv_redis_int.h"

#define ADD_ARGS 1200
#define HDR CS_HDR_ARGS

struct snap {
    struct srv_redis *r;
    const struct pg_config *cfg;
    struct pg_buf arena; /* every argument, back to back */
    size_t *off;         /* argument i starts at off[i], length len[i] */
    size_t *len;
    size_t n, cap;
    size_t chans, members;
    bool oom;
    struct qitem *taken;
};

static void arg(struct snap *s, const char *p, size_t n)
{
    if (s->oom)
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        size_t *o = realloc(s->off, cap * sizeof *o);
        if (o)
            s->off = o;
        size_t *l = o ? realloc(s->len, cap * sizeof *l) : NULL;
        if (!o || !l) {
            s->oom = true;
            return;
        }
        s->len = l;
        s->cap = cap;
    }
    s->off[s->n] = s->arena.len;
    s->len[s->n++] = n;
    pg_buf_put(&s->arena, p, n);
    if (s->arena.oom)
        s->oom = true;
}

static void arg_long(struct snap *s, long v)
{
    char b[24];
    arg(s, b, (size_t)snprintf(b, sizeof b, "%ld", v));
}

static const char *app_id(struct snap *s, int app)
{
    return app >= 0 && (size_t)app < s->cfg->n_apps ? s->cfg->apps[app].id : NULL;
}

static void begin(void *ctx)
{
    struct snap *s = ctx;
    struct srv_redis *r = s->r;
    pthread_mutex_lock(&r->lock);
    s->taken = r->head;
    r->head = r->tail = NULL;
    r->qn = r->qbytes = 0;
    atomic_store(&r->up, 1);
    pthread_mutex_unlock(&r->lock);
}

static void on_chan(void *ctx, int app, const char *ch, size_t len, long subs)
{
    struct snap *s = ctx;
    const char *id = app_id(s, app);
    if (!id)
        return;
    arg(s, "s", 1);
    arg(s, id, strlen(id));
    arg(s, ch, len);
    arg_long(s, subs);
    s->chans++;
}

static void on_member(void *ctx, int app, const char *ch, size_t len, const char *uid, size_t ulen,
                      const char *info, size_t ilen, long conns)
{
    struct snap *s = ctx;
    const char *id = app_id(s, app);
    if (!id)
        return;
    arg(s, "p", 1);
    arg(s, id, strlen(id));
    arg(s, ch, len);
    arg(s, uid, ulen);
    arg_long(s, conns);
    if (info)
        arg(s, info, ilen);
    else
        arg(s, "null", 4);
    s->members++;
}

static void send_run(struct srv_redis *r, const char **argv, size_t *argl, size_t n)
{
    redisAppendCommandArgv(r->pub, (int)n, argv, argl);
    srv_redis__pend(r, P_IGNORE, NULL);
}

/* A "roster" run for every presence channel of snapshot s, answered to all its local
 * subscribers (a Q_ROSTER without a socket id). */
static void refresh_from(struct srv_redis *r, const struct snap *s)
{
    for (size_t i = 0; !s->oom && i + 3 < s->n;) {
        bool chan = s->arena.p[s->off[i]] == 's';
        const char *f[2] = {s->arena.p + s->off[i + 1], s->arena.p + s->off[i + 2]};
        size_t fl[2] = {s->len[i + 1], s->len[i + 2]};
        const struct pg_app *app = pg_config_app_by_id(s->cfg, f[0], fl[0]);
        i += chan ? 4 : 6;
        if (!chan || !app || fl[1] <= 9 || memcmp(f[1], "presence-", 9) != 0)
            continue;
        struct qitem *it = cs_qitem_make(Q_ROSTER, f, fl, 2);
        if (!it)
            return;
        it->app = app->idx;
        cs_append_op(r, it);
    }
}

static void begin_nothing(void *ctx) { (void)ctx; }

void cs_refresh_soon(struct srv_redis *r) { r->refresh_ms = pg_now_ms() + CS_SETTLE_MS; }

void cs_refresh_rosters(struct srv_redis *r)
{
    struct snap s = {.r = r, .cfg = r->srv->cfg};
    pg_buf_init(&s.arena);
    pg_registry_snapshot(r->srv->reg, begin_nothing, on_chan, on_member, &s);
    refresh_from(r, &s);
    free(s.off);
    free(s.len);
    pg_buf_dispose(&s.arena);
}

void cs_resync(struct srv_redis *r, bool local)
{
    struct snap s = {.r = r, .cfg = r->srv->cfg};
    pg_buf_init(&s.arena);
    pg_registry_snapshot(r->srv->reg, begin, on_chan, on_member, &s);

    /* 1. what was queued before the snapshot, in order */
    while (s.taken) {
        struct qitem *it = s.taken;
        s.taken = it->next;
        it->next = NULL;
        if (it->op == Q_PUBLISH) {
            redisAppendCommand(r->pub, "PUBLISH %b %b", it->data, (size_t)it->len[0],
                               qitem_field(it, 1), (size_t)it->len[1]);
            srv_redis__pend(r, P_IGNORE, NULL);
            free(it);
        } else {
            cs_append_op(r, it);
        }
    }

    /* 2. stage0: an empty staging area (a resync cut short may have left one) */
    const char *argv[HDR + ADD_ARGS + 8];
    size_t argl[HDR + ADD_ARGS + 8];
    char deb[24];
    cs_hdr(r, argv, argl, "stage0", NULL, deb);
    send_run(r, argv, argl, HDR);

    /* 3. stage: the whole local state, in runs of whole entries */
    if (s.oom)
        PG_LOG(PG_LOG_ERROR, "cluster",
               "out of memory while re-registering this node's state: cluster counts and rosters "
               "miss this node's part until the next reconnect");
    argv[3] = "stage";
    argl[3] = 5;
    size_t n = HDR;
    for (size_t i = 0; !s.oom && i < s.n;) {
        size_t k = s.arena.p[s.off[i]] == 's' ? 4 : 6;
        if (i + k > s.n)
            break;
        for (size_t j = 0; j < k; j++, n++) {
            argv[n] = s.arena.p + s.off[i + j];
            argl[n] = s.len[i + j];
        }
        i += k;
        if (n - HDR + 6 > ADD_ARGS || i == s.n) {
            send_run(r, argv, argl, n);
            n = HDR;
        }
    }
    /* 4. commit: the difference to what Redis holds for this node, announced */
    char now[24], ttl[16], node_ep[40];
    argv[3] = "commit";
    argl[3] = 6;
    argl[HDR] = (size_t)snprintf(now, sizeof now, "%lld", (long long)cs_wall_ms());
    argv[HDR] = now;
    argl[HDR + 1] = (size_t)snprintf(ttl, sizeof ttl, "%d", CS_NODE_TTL_MS);
    argv[HDR + 1] = ttl;
    argv[HDR + 2] = r->epoch;
    argl[HDR + 2] = strlen(r->epoch);
    argl[HDR + 3] = (size_t)snprintf(node_ep, sizeof node_ep, "%s.%s", r->node_hex, now);
    argv[HDR + 3] = node_ep;
    argv[HDR + 4] = local ? "1" : "0"; /* member events to this node's sockets too */
    argl[HDR + 4] = 1;
    redisAppendCommandArgv(r->pub, HDR + 5, argv, argl);
    srv_redis__pend(r, P_COMMIT, NULL);
    r->tick_ms = pg_now_ms();

    PG_LOG(s.chans ? PG_LOG_INFO : PG_LOG_DEBUG, "cluster",
           "node %s registered %zu channel(s) and %zu presence member(s)", r->node_hex, s.chans,
           s.members);
    free(s.off);
    free(s.len);
    pg_buf_dispose(&s.arena);
}
