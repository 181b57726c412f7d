/* srv_cstate.c - cluster mode: the cluster-wide channel state in Redis (design.md 8).
 * Thread: pg-redis, except cs_sink (any thread, under a registry stripe lock), cs_dropped and
 * srv_redis_roster (a worker).
 *
 * Keys (<P> = redis_prefix; fields join parts with byte 0x1F):
 *   <P>:subs:<app>              hash channel -> cluster subscription count
 *   <P>:pres:<app>:<channel>    hash user -> cluster presence connections
 *   <P>:pinfo:<app>:<channel>   hash user -> user_info JSON ("null" when none)
 *   <P>:node:<id>:subs          hash "<app>\x1f<channel>" -> this node's subscriptions
 *   <P>:node:<id>:pres          hash "<app>\x1f<channel>\x1f<user>" -> this node's connections
 *   <P>:node:<id>:conns         hash app -> this node's connections counted for max_connections
 *   <P>:nodes                   sorted set node id -> expiry (wall-clock ms)
 *   <P>:debq                    sorted set of debounced vacated / member_removed webhooks -> due
 *   <P>:epoch                   set once per Redis data set: tells a node Redis kept its data
 * Only the Lua script of srv_cstate_lua.c changes them (SCRIPT LOAD on every connect, then EVALSHA
 * on the command connection, so one node's changes apply in the order its registry made them).
 * Each run returns the transitions it made cluster-wide, so exactly one node sees each and
 * announces it (cs_apply; member events are PUBLISHed by the script itself, atomically):
 *   channel occupied / vacated: the channel_occupied / channel_vacated webhooks;
 *   a user's first connection anywhere joins / last leaves: member_added / member_removed to every
 *   subscriber on every node (PUBLISH + local delivery; the joiner's socket excepted) and the
 *   member webhooks;
 *   any other count change of a non-presence channel: subscription_count with the cluster count,
 *   coalesced per channel over CS_PERIOD_MS, sent by the node whose script saw it (over 100
 *   subscribers at most once per 5 s per channel and node, as in single-node mode).
 * Webhook debounce is cluster-wide: a vacate (member leave) queues its webhook in <P>:debq and an
 * occupy (join) anywhere within webhook_debounce_ms cancels both, as pg_hooks does on one node
 * (which in cluster mode leaves debouncing to this file); every CS_PERIOD_MS a "due" run takes what
 * is due and the node that took it sends it. A node that stops or dies leaves its debounced
 * webhooks to the others.
 * A presence subscribe waits for its script: the worker registers the connection locally (the
 * registry reports it through cs_sink), pg-redis runs "join", which answers on this node's reply
 * channel (a routed op, cs_route: in order with member events), and posts subscription_succeeded
 * with the cluster roster to the worker (PG_BUS_PRESENCE_RESULT; ws_gate.c holds the channel's
 * events until then). If the link is down or goes
 * down first, the worker gets the local roster instead, so a subscribe is always answered.
 * "join" also enforces max_presence_members_per_channel cluster-wide: a user not yet in the
 * channel's :pres hash is refused (-2, nothing changed) when HLEN is at the limit; the worker then
 * answers subscription_error 4100 and undoes its local join (PG_BUS_PRESENCE_FULL). A repeated
 * subscribe of the same socket is answered with the cluster roster too (srv_redis_roster).
 * A leave never decrements what this node did not add (its node:<id> hashes are the guard).
 *
 * Liveness: every TICK_MS the "tick" run refreshes this node in <P>:nodes (expiry now +
 * NODE_TTL_MS, wall clock: nodes need roughly synchronized clocks) and reaps every expired node:
 * ZREM inside the script is the lock (a script is atomic, so exactly one node reaps each dead
 * node), its contributions are subtracted and the transitions returned, which the reaper
 * announces as above. The tick also stores this node's per-app connection counts and returns the
 * other live nodes' sums, which max_connections adds to the local count (srv->app_conns_others:
 * at most one tick old). A node that finds itself gone from <P>:nodes (it stalled past its expiry
 * and was reaped) registers its whole local state again, announcing it (member_added etc.).
 *
 * Resync (srv_cstate_sync.c): on every (re)connect the node stages its whole local state and
 * "commit" applies the difference to what Redis still holds for it. What changed while the node
 * was cut off (members who left or joined, channels vacated or occupied) is then announced to the
 * other nodes (this node's own sockets saw it locally when it happened); after a Redis restart
 * that lost the data (a new <P>:epoch) the state is rebuilt quietly instead.
 * At stop, "depart" removes this node and announces what that changes.
 *
 * Signed-in users: "#server-to-user-<id>" is counted like any channel (in :subs and the node's
 * :subs, so reaping and resync cover it) but announces no webhooks or counts: its 0 -> 1 and -> 0
 * transitions are the user's watchlist online / offline, published on "#watch-<id>" to every node
 * (srv_cstate_watch.c, which also answers a watcher's initial state from :subs). Cache channels
 * keep their last event in <P>:cache:<app>:<channel> (srv_cstate_cache.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_bus.h"
#include "pg_chan_name.h"
#include "pg_clock.h"
#include "pg_config.h"
#include "pg_cstate.h"
#include "pg_frame.h"
#include "pg_hooks.h"
#include "pg_log.h"
#include "pg_registry.h"
#include "pg_server.h"
#include "srv_redis_int.h"

#define TICK_MS 2000

int64_t cs_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cs_load_script(struct srv_redis *r, redisContext *c, char *sha, char *why, size_t n)
{
    (void)r;
    redisReply *rep = redisCommand(c, "SCRIPT LOAD %s", cs_script);
    bool ok = rep && rep->type == REDIS_REPLY_STRING && rep->len == 40;
    if (ok) {
        memcpy(sha, rep->str, 40);
        sha[40] = 0;
    } else if (rep && rep->type == REDIS_REPLY_ERROR) {
        snprintf(why, n, "SCRIPT LOAD: %.*s", (int)(rep->len > 200 ? 200 : rep->len), rep->str);
    } else {
        snprintf(why, n, "SCRIPT LOAD: %s", c->err ? c->errstr : "unexpected reply");
    }
    if (rep)
        freeReplyObject(rep);
    return ok ? 0 : -1;
}

/* ---- the registry's sink: changes into the queue (any thread, under a stripe lock) ---------- */

static const struct pg_app *app_at(struct srv_redis *r, int app)
{
    const struct pg_config *cfg = r->srv->cfg;
    return app >= 0 && (size_t)app < cfg->n_apps ? &cfg->apps[app] : NULL;
}

struct qitem *cs_qitem_make(enum qop op, const char *const *f, const size_t *fl, int nf)
{
    size_t total = 0;
    for (int i = 0; i < nf; i++)
        total += fl[i];
    struct qitem *it = calloc(1, sizeof *it + total + QF_MAX);
    if (!it)
        return NULL;
    it->op = op;
    char *p = it->data;
    for (int i = 0; i < nf; i++) {
        memcpy(p, f[i], fl[i]);
        p += fl[i] + 1;
        it->len[i] = (uint32_t)fl[i];
    }
    return it;
}

int cs_sink(void *ctx, const struct pg_registry_change *chg)
{
    struct srv_redis *r = ctx;
    const struct pg_app *app = app_at(r, chg->app);
    if (!app)
        return -EINVAL;
    if (!atomic_load(&r->up))
        return -ENOTCONN;
    const char *f[5] = {app->id, chg->ch, chg->uid, chg->info ? chg->info : "null", chg->sid};
    size_t fl[5] = {strlen(app->id), chg->len, chg->ulen, chg->info ? chg->ilen : 4,
                    chg->sid ? strlen(chg->sid) : 0};
    struct qitem *it = NULL;
    switch (chg->op) {
    case PG_REG_SUB:
    case PG_REG_UNSUB:
        if ((it = cs_qitem_make(Q_SUB, f, fl, 2)))
            it->delta = chg->op == PG_REG_SUB ? 1 : -1;
        break;
    case PG_REG_JOIN:
        if (chg->sid && fl[4] < PG_SID_MAX)
            it = cs_qitem_make(Q_JOIN, f, fl, 5);
        break;
    case PG_REG_LEAVE:
        it = cs_qitem_make(Q_LEAVE, f, fl, 3);
        break;
    }
    if (!it)
        return -ENOMEM;
    it->app = chg->app;
    it->w = chg->w;
    int rc = srv_redis__enqueue(r, it);
    if (rc == 0)
        atomic_fetch_add(&r->state_ops, 1);
    return rc;
}

/* ---- announcing ------------------------------------------------------------------------------ */

/* Frame (event, ch, data) to every subscriber on every node. Linked, this node's own subscribers
 * get it back from Redis (ANNOUNCE), so they see it in the order Redis published it, as every
 * other node does. */
static void announce(struct srv_redis *r, const struct pg_app *app, const char *ch, size_t clen,
                     const char *event, const char *data, size_t dlen)
{
    struct pg_server *srv = r->srv;
    struct pg_msg *m = pg_frame_str(event, ch, clen, data, dlen);
    if (!m)
        return;
    if (r->pub) {
        srv_redis__publish_now(r, PG_CLUSTER_ANNOUNCE, app->id, ch, clen, NULL, pg_msg_data(m),
                               m->len);
        pg_msg_unref(m);
        return;
    }
    uint64_t mask = pg_registry_mask(srv->reg, app->idx, ch, clen);
    if (mask)
        pg_bus_publish(srv->bus, mask, app->idx, ch, clen, m, NULL);
    else
        pg_msg_unref(m);
}

static bool counted(struct srv_redis *r, const struct pg_app *app, const char *ch, size_t clen)
{
    if (!app || (clen && ch[0] == '#') || (pg_chan_classify(ch, clen) & PG_CHAN_PRESENCE))
        return false;
    return app->subscription_count ||
           pg_hooks_wants(r->srv->hooks, app->idx, PG_HOOK_SUBSCRIPTION_COUNT);
}

static uint64_t count_hash(int app, const char *ch, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(unsigned)app;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)ch[i]) * 1099511628211ULL;
    return h;
}

/* Remembers the newest cluster count of (app, ch) for the next flush. */
static void count_mark(struct srv_redis *r, const struct pg_app *app, const char *ch, size_t len,
                       long count)
{
    if (!counted(r, app, ch, len))
        return;
    struct cs_count **b = &r->counts[count_hash(app->idx, ch, len) % CS_COUNT_BUCKETS];
    for (struct cs_count *c = *b; c; c = c->next)
        if (c->app == app->idx && c->len == len && memcmp(c->name, ch, len) == 0) {
            c->count = count;
            c->pending = true;
            return;
        }
    struct cs_count *c = malloc(sizeof *c + len + 1);
    if (!c)
        return;
    c->app = app->idx;
    c->pending = true;
    c->sent_ms = PG_CSTATE_NEVER;
    c->count = count;
    c->len = len;
    memcpy(c->name, ch, len);
    c->name[len] = 0;
    c->next = *b;
    *b = c;
    r->ncounts++;
}

static void send_count(struct srv_redis *r, const struct pg_app *app, const struct cs_count *c)
{
    pg_hooks_subscription_count(r->srv->hooks, app->idx, c->name, c->len, c->count);
    if (app->subscription_count) {
        char data[64];
        int n = snprintf(data, sizeof data, "{\"subscription_count\":%ld}", c->count);
        announce(r, app, c->name, c->len, "pusher_internal:subscription_count", data, (size_t)n);
    }
}

/* Sends the pending counts the throttle lets go (send false: drops every entry). An entry stays
 * while pending, and for 5 s after its last send (what the throttle needs to know). */
static void counts_flush(struct srv_redis *r, bool send, int64_t now)
{
    for (int i = 0; r->ncounts && i < CS_COUNT_BUCKETS; i++) {
        struct cs_count **cp = &r->counts[i];
        while (*cp) {
            struct cs_count *c = *cp;
            const struct pg_app *app = app_at(r, c->app);
            if (send && c->pending && pg_cstate_count_due(c->count, c->sent_ms, now)) {
                c->pending = false;
                c->sent_ms = now;
                if (app && c->count > 0)
                    send_count(r, app, c);
            }
            if (send && (c->pending || now - c->sent_ms < 5000)) {
                cp = &c->next;
                continue;
            }
            *cp = c->next;
            free(c);
            r->ncounts--;
        }
    }
}

static const redisReply *str_el(const redisReply *a, size_t i)
{
    const redisReply *e =
        a && a->type == REDIS_REPLY_ARRAY && i < a->elements ? a->element[i] : NULL;
    return e && e->type == REDIS_REPLY_STRING ? e : NULL;
}

static long int_at(const redisReply *rep, size_t i)
{
    if (!rep || rep->type != REDIS_REPLY_ARRAY || i >= rep->elements)
        return -1;
    const redisReply *e = rep->element[i];
    return e->type == REDIS_REPLY_INTEGER ? (long)e->integer : -1;
}

static void hook(struct srv_redis *r, const struct pg_app *app, enum pg_hook_type t,
                 const redisReply *c, const redisReply *u)
{
    if (app)
        pg_hooks_emit(r->srv->hooks, app->idx, t, c->str, c->len, u ? u->str : NULL,
                      u ? u->len : 0);
}

/* Announces the transitions of one script run (srv_cstate_lua.c lists them; the script published
 * the member events itself): webhooks, subscription counts, watchlist changes. */
static void cs_apply(struct srv_redis *r, const redisReply *out)
{
    if (!out || out->type != REDIS_REPLY_ARRAY)
        return;
    const struct pg_config *cfg = r->srv->cfg;
    for (size_t i = 0; i < out->elements; i++) {
        const redisReply *t = out->element[i];
        const redisReply *tag = str_el(t, 0), *a = str_el(t, 1), *c = str_el(t, 2);
        if (!tag || !a || !c || !tag->len)
            continue;
        const struct pg_app *app = pg_config_app_by_id(cfg, a->str, a->len);
        bool user_ch = c->len && c->str[0] == '#';
        const redisReply *u = str_el(t, 3);
        switch (tag->str[0]) {
        case 'o':
            if (user_ch) {
                cw_user_changed(r, a->str, a->len, c->str, c->len, true);
                break;
            }
            if (int_at(t, 4) != 1)
                hook(r, app, PG_HOOK_CHANNEL_OCCUPIED, c, NULL);
            count_mark(r, app, c->str, c->len, int_at(t, 3));
            break;
        case 'v':
            if (user_ch)
                cw_user_changed(r, a->str, a->len, c->str, c->len, false);
            else if (int_at(t, 3) != 1)
                hook(r, app, PG_HOOK_CHANNEL_VACATED, c, NULL);
            break;
        case 'c':
            count_mark(r, app, c->str, c->len, int_at(t, 3));
            break;
        case 'a': /* member_added itself was published by the script */
            if (u && int_at(t, 5) != 1)
                hook(r, app, PG_HOOK_MEMBER_ADDED, c, u);
            break;
        case 'm':
            if (u && int_at(t, 4) != 1)
                hook(r, app, PG_HOOK_MEMBER_REMOVED, c, u);
            break;
        case 'V':
            hook(r, app, PG_HOOK_CHANNEL_VACATED, c, NULL);
            break;
        case 'M':
            if (u)
                hook(r, app, PG_HOOK_MEMBER_REMOVED, c, u);
            break;
        }
    }
}

/* ---- replies ----------------------------------------------------------------------------------
 */

static void post(struct srv_redis *r, enum pg_bus_kind kind, unsigned w, int app, const char *ch,
                 size_t clen, const char *sid, struct pg_msg *m)
{
    struct pg_bus_item *bi =
        m || kind == PG_BUS_PRESENCE_FULL ? pg_bus_item_new(kind, ch, clen) : NULL;
    if (!bi) {
        pg_msg_unref(m);
        return;
    }
    bi->app = app;
    bi->msg = m;
    snprintf(bi->except, sizeof bi->except, "%s", sid);
    pg_bus_push(r->srv->bus, w, bi);
}

void cs_post_socket(struct srv_redis *r, enum pg_bus_kind kind, unsigned w, int app, const char *ch,
                    size_t clen, const char *sid, struct pg_msg *m)
{
    post(r, kind, w, app, ch, clen, sid, m);
}

/* Q_JOIN: the joiner's subscription_succeeded; Q_ROSTER: the repeated subscribe's, or (no socket
 * id: a resync's refresh) every local subscriber's. */
void cs_post_roster(struct srv_redis *r, const struct qitem *it, const struct pg_buf *roster)
{
    const char *ch = qitem_field(it, 1);
    struct pg_msg *m = pg_frame_str("pusher_internal:subscription_succeeded", ch, it->len[1],
                                    roster->p, roster->len);
    if (!m || it->op == Q_JOIN || it->len[4]) {
        post(r, it->op == Q_JOIN ? PG_BUS_PRESENCE_RESULT : PG_BUS_SOCKET_MSG, it->w, it->app, ch,
             it->len[1], qitem_field(it, 4), m);
        return;
    }
    uint64_t mask = pg_registry_mask(r->srv->reg, it->app, ch, it->len[1]);
    if (mask)
        pg_bus_publish(r->srv->bus, mask, it->app, ch, it->len[1], m, NULL);
    else
        pg_msg_unref(m);
}

void cs_dropped(struct srv_redis *r, struct qitem *it)
{
    if (it->op == Q_CACHE_GET || it->op == Q_CACHE_SET)
        cx_dropped(r, it);
    else if (it->op == Q_WATCH)
        cw_dropped(r, it);
    if (it->op != Q_JOIN && (it->op != Q_ROSTER || !it->len[4]))
        return; /* a refresh that cannot be done: the sockets keep what they have */
    struct pg_buf b;
    pg_buf_init(&b);
    if (pg_registry_presence_roster(r->srv->reg, it->app, qitem_field(it, 1), it->len[1], &b) < 0)
        pg_cstate_roster(&b, NULL, 0);
    if (!b.oom)
        cs_post_roster(r, it, &b);
    pg_buf_dispose(&b);
}

/* sub / leave: {0, transitions}. */
static void on_op(struct srv_redis *r, redisReply *rep)
{
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2)
        cs_apply(r, rep->element[1]);
}

/* The tick's {added, [app, others' connections]...}. */
static void on_conns(struct srv_redis *r, const redisReply *sums)
{
    struct pg_server *srv = r->srv;
    const struct pg_config *cfg = srv->cfg;
    for (size_t k = 0; k < cfg->n_apps; k++) {
        long v = 0;
        for (size_t i = 0; sums && sums->type == REDIS_REPLY_ARRAY && i + 1 < sums->elements;
             i += 2) {
            const redisReply *a = sums->element[i], *n = sums->element[i + 1];
            if (a->type == REDIS_REPLY_STRING && n->type == REDIS_REPLY_INTEGER &&
                strlen(cfg->apps[k].id) == a->len && memcmp(cfg->apps[k].id, a->str, a->len) == 0)
                v = (long)n->integer;
        }
        atomic_store(&srv->app_conns_others[cfg->apps[k].idx], v);
    }
}

/* tick: {{added, conns}, transitions}; depart: {0, transitions}. */
static void on_tick(struct srv_redis *r, redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2)
        return;
    const redisReply *out = rep->element[1];
    if (out->type == REDIS_REPLY_ARRAY && out->elements)
        atomic_fetch_add(&r->reaped, 1);
    cs_apply(r, out);
    const redisReply *x = rep->element[0];
    if (r->departed || x->type != REDIS_REPLY_ARRAY || x->elements != 2)
        return;
    on_conns(r, x->element[1]);
    if (int_at(x, 0) == 1) {
        PG_LOG(PG_LOG_WARN, "cluster",
               "node %s was missing from the cluster (stalled past its expiry and reaped?): "
               "registering its local state again",
               r->node_hex);
        cs_resync(r, true);
    }
}

/* commit: {epoch, transitions, quiet}. This node's presence subscribers
 * then get the cluster roster again, since what other nodes announced while this one was cut off
 * never reached them. Quiet: Redis had lost the state, which every node is now rebuilding without
 * announcements; every node sends its presence subscribers the rebuilt roster once the nodes had
 * time to relink (RESYNC, then CS_SETTLE_MS after the last one). */
static void on_commit(struct srv_redis *r, redisReply *rep)
{
    const redisReply *ep = str_el(rep, 0);
    if (!ep || rep->elements != 3)
        return;
    snprintf(r->epoch, sizeof r->epoch, "%.*s", (int)ep->len, ep->str);
    cs_apply(r, rep->element[1]);
    if (int_at(rep, 2) != 1) {
        cs_refresh_rosters(r);
        return;
    }
    cs_refresh_soon(r);
    const struct pg_config *cfg = r->srv->cfg;
    for (size_t k = 0; k < cfg->n_apps; k++)
        srv_redis__publish_now(r, PG_CLUSTER_RESYNC, cfg->apps[k].id, NULL, 0, NULL, NULL, 0);
}

void cs_on_reply(struct srv_redis *r, redisReply *rep)
{
    struct pend *p = r->phead;
    unsigned long n;
    if (!p)
        return; /* nothing owed: cannot happen */
    if (rep->type == REDIS_REPLY_ERROR) {
        atomic_fetch_add(&r->state_errors, 1);
        if (srv_redis__ratelog_due(&r->log_state, &n))
            PG_LOG(PG_LOG_WARN, "cluster", "Redis refused %lu command(s): %.*s", n,
                   (int)(rep->len > 200 ? 200 : rep->len), rep->str);
    }
    if (p->kind == P_IGNORE && --p->n > 0)
        return;
    r->phead = p->next;
    if (!r->phead)
        r->ptail = NULL;
    if (p->kind == P_OP) {
        if (p->op->op == Q_CACHE_SET)
            cx_on_exec(r, p->op, rep);
        else
            on_op(r, rep);
        free(p->op);
    } else if (p->kind == P_ROUTED) {
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2)
            cs_apply(r, rep->element[1]);
        else
            cs_route_error(r, p->seq);
    } else if (p->kind == P_TICK) {
        r->tick_pending = false;
        on_tick(r, rep);
    } else if (p->kind == P_DUE) {
        r->due_pending = false;
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2)
            cs_apply(r, rep->element[1]);
    } else if (p->kind == P_COMMIT) {
        on_commit(r, rep);
    }
    free(p);
}

/* ---- commands ---------------------------------------------------------------------------------
 */

/* The webhook debounce for the script's deb argument: webhook_debounce_ms when app (NULL: any
 * app) takes vacated or member_removed webhooks, else 0. */
static long deb_ms(struct srv_redis *r, const struct pg_app *one)
{
    const struct pg_config *cfg = r->srv->cfg;
    if (cfg->webhook_debounce_ms <= 0)
        return 0;
    for (size_t k = 0; k < cfg->n_apps; k++) {
        const struct pg_app *app = &cfg->apps[k];
        if (one && app != one)
            continue;
        if (pg_hooks_wants(r->srv->hooks, app->idx, PG_HOOK_CHANNEL_VACATED) ||
            pg_hooks_wants(r->srv->hooks, app->idx, PG_HOOK_MEMBER_REMOVED))
            return cfg->webhook_debounce_ms;
    }
    return 0;
}

void cs_hdr(struct srv_redis *r, const char **argv, size_t *argl, const char *op,
            const struct pg_app *app, char deb[24])
{
    snprintf(deb, 24, "%ld", deb_ms(r, app));
    const char *v[CS_HDR_ARGS] = {"EVALSHA", r->sha, "0", op, r->kprefix, r->node_hex, deb};
    for (int i = 0; i < CS_HDR_ARGS; i++) {
        argv[i] = v[i];
        argl[i] = strlen(v[i]);
    }
}

static const char *op_name(enum qop op)
{
    switch (op) {
    case Q_SUB:
        return "sub";
    case Q_JOIN:
        return "join";
    case Q_LEAVE:
        return "leave";
    default:
        return "roster";
    }
}

void cs_append_op(struct srv_redis *r, struct qitem *it)
{
    if (it->op == Q_CACHE_SET || it->op == Q_CACHE_GET) {
        cx_append(r, it);
        return;
    }
    if (it->op == Q_WATCH) {
        cw_append(r, it);
        return;
    }
    const struct pg_app *app = app_at(r, it->app);
    const char *argv[CS_HDR_ARGS + 9];
    size_t argl[CS_HDR_ARGS + 9];
    char deb[24], num[24];
    bool routed = it->op == Q_JOIN || it->op == Q_ROSTER;
    int n = CS_HDR_ARGS + (routed ? 2 : 0); /* cs_route fills the two in */
    cs_hdr(r, argv, argl, op_name(it->op), app, deb);
    int nf = it->op == Q_SUB || it->op == Q_ROSTER ? 2 : it->op == Q_JOIN ? 4 : 3;
    for (int i = 0; i < nf; i++, n++) {
        argv[n] = qitem_field(it, i);
        argl[n] = it->len[i];
    }
    if (it->op == Q_SUB) {
        argl[n] = (size_t)snprintf(num, sizeof num, "%d", it->delta);
        argv[n++] = num;
    } else if (it->op == Q_JOIN) { /* the app's max_presence_members_per_channel (-1: none) */
        long lim = app ? (long)app->max_presence_members_per_channel : -1;
        argl[n] = (size_t)snprintf(num, sizeof num, "%ld", lim < 0 ? -1 : lim);
        argv[n++] = num;
        argv[n] = qitem_field(it, 4); /* the joiner: no member_added to it */
        argl[n++] = it->len[4];
    }
    if (routed) {
        cs_route(r, it, argv, argl, n);
        return;
    }
    redisAppendCommandArgv(r->pub, n, argv, argl);
    srv_redis__pend(r, P_OP, it);
}

int srv_redis_roster(struct srv_redis *r, const struct pg_app *app, const char *ch, size_t clen,
                     unsigned w, const char *sid)
{
    if (!r || !atomic_load(&r->up))
        return -ENOTCONN;
    const char *f[5] = {app->id, ch, "", "", sid};
    size_t fl[5] = {strlen(app->id), clen, 0, 0, strlen(sid)};
    struct qitem *it = cs_qitem_make(Q_ROSTER, f, fl, 5);
    if (!it)
        return -ENOMEM;
    it->app = app->idx;
    it->w = w;
    return srv_redis__enqueue(r, it);
}

/* tick / depart: now, node TTL; tick also this node's connections of every app that has
 * max_connections (app id, count). */
static void append_tick(struct srv_redis *r, const char *op)
{
    const struct pg_config *cfg = r->srv->cfg;
    size_t cap = CS_HDR_ARGS + 2 + 2 * cfg->n_apps;
    const char **argv = calloc(cap, sizeof *argv);
    size_t *argl = calloc(cap, sizeof *argl);
    char(*nums)[24] = calloc(cfg->n_apps + 2, sizeof *nums);
    if (!argv || !argl || !nums) {
        free(argv);
        free(argl);
        free(nums);
        return;
    }
    char deb[24];
    cs_hdr(r, argv, argl, op, NULL, deb);
    size_t n = CS_HDR_ARGS;
    argl[n] = (size_t)snprintf(nums[0], 24, "%lld", (long long)cs_wall_ms());
    argv[n++] = nums[0];
    argl[n] = (size_t)snprintf(nums[1], 24, "%d", CS_NODE_TTL_MS);
    argv[n++] = nums[1];
    for (size_t k = 0; k < cfg->n_apps && !r->departed; k++) {
        const struct pg_app *app = &cfg->apps[k];
        if (app->max_connections < 0)
            continue;
        argv[n] = app->id;
        argl[n++] = strlen(app->id);
        argl[n] =
            (size_t)snprintf(nums[k + 2], 24, "%ld", atomic_load(&r->srv->app_conns[app->idx]));
        argv[n++] = nums[k + 2];
    }
    redisAppendCommandArgv(r->pub, (int)n, argv, argl);
    srv_redis__pend(r, P_TICK, NULL);
    free(argv);
    free(argl);
    free(nums);
}

void cs_periodic(struct srv_redis *r, int64_t now)
{
    if (now - r->count_ms >= CS_PERIOD_MS) {
        r->count_ms = now;
        counts_flush(r, true, now);
        if (r->refresh_ms && now >= r->refresh_ms) {
            r->refresh_ms = 0;
            cs_refresh_rosters(r);
        }
        if (!r->due_pending && deb_ms(r, NULL) > 0) {
            const char *argv[CS_HDR_ARGS];
            size_t argl[CS_HDR_ARGS];
            char deb[24];
            cs_hdr(r, argv, argl, "due", NULL, deb);
            redisAppendCommandArgv(r->pub, CS_HDR_ARGS, argv, argl);
            srv_redis__pend(r, P_DUE, NULL);
            r->due_pending = true;
        }
    }
    if (!r->tick_pending && now - r->tick_ms >= TICK_MS) {
        r->tick_ms = now;
        r->tick_pending = true;
        append_tick(r, "tick");
    }
}

void cs_depart(struct srv_redis *r)
{
    r->departed = true;
    append_tick(r, "depart");
}

void cs_link_lost(struct srv_redis *r)
{
    while (r->await_head) { /* answers that will not come: this node answers alone */
        struct qitem *it = r->await_head;
        r->await_head = it->next;
        cs_dropped(r, it);
        free(it);
    }
    r->await_tail = NULL;
    struct pend *p = r->phead;
    r->phead = r->ptail = NULL;
    while (p) {
        struct pend *next = p->next;
        if (p->op) {
            cs_dropped(r, p->op);
            free(p->op);
        }
        free(p);
        p = next;
    }
    r->tick_pending = r->due_pending = false;
    counts_flush(r, false, 0);
    /* cut off, max_connections counts this node alone until the next tick */
    for (unsigned k = 0; k < r->srv->app_cap; k++)
        atomic_store(&r->srv->app_conns_others[k], 0);
}

void cs_dispose(struct srv_redis *r)
{
    cs_link_lost(r);
    if (r->rest)
        redisFree(r->rest);
    r->rest = NULL;
}
