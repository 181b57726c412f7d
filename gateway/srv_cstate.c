/* srv_cstate.c - cluster mode, phase 2: the cluster-wide channel state in Redis (design.md 8).
 * Thread: pg-redis, except cs_sink (any thread, under a registry stripe lock) and cs_dropped.
 *
 * Keys (<P> = redis_prefix; fields join parts with byte 0x1F):
 *   <P>:subs:<app>              hash channel -> cluster subscription count
 *   <P>:pres:<app>:<channel>    hash user -> cluster presence connections
 *   <P>:pinfo:<app>:<channel>   hash user -> user_info JSON ("null" when none)
 *   <P>:node:<id>:subs          hash "<app>\x1f<channel>" -> this node's subscriptions
 *   <P>:node:<id>:pres          hash "<app>\x1f<channel>\x1f<user>" -> this node's connections
 *   <P>:nodes                   sorted set node id -> expiry (wall-clock ms)
 * Only the one Lua script below changes them (SCRIPT LOAD on every connect, then EVALSHA on the
 * command connection, so one node's changes apply in the order its registry made them). Each run
 * returns the new cluster values, so exactly one node sees each transition and announces it:
 *   subscribe -> 1: channel_occupied; -> 0: channel_vacated (webhooks);
 *   presence join -> user count 1: member_added to every subscriber but the joiner, on every
 *   node (PUBLISH + local delivery), and its webhook; leave -> 0: member_removed likewise;
 *   any other count change of a non-presence channel: subscription_count with the cluster count,
 *   coalesced per channel over CS_PERIOD_MS, sent by the node whose script saw it (over 100
 *   subscribers at most once per 5 s per channel and node, as in single-node mode).
 * A presence subscribe waits for its script: the worker registers the connection locally (the
 * registry reports it through cs_sink), pg-redis runs "join" and posts subscription_succeeded
 * with the cluster roster to the worker (PG_BUS_PRESENCE_RESULT). If the link is down or goes
 * down first, the worker gets the local roster instead, so a subscribe is always answered.
 * "join" also enforces max_presence_members_per_channel cluster-wide: a user not yet in the
 * channel's :pres hash is refused (-2, nothing changed) when HLEN is at the limit; the worker then
 * answers subscription_error 4100 and undoes its local join (PG_BUS_PRESENCE_FULL).
 * A leave never decrements what this node did not add (its node:<id> hashes are the guard).
 *
 * Liveness: every TICK_MS the "tick" run refreshes this node in <P>:nodes (expiry now +
 * NODE_TTL_MS, wall clock: nodes need roughly synchronized clocks) and reaps every expired node:
 * ZREM inside the script is the lock (a script is atomic, so exactly one node reaps each dead
 * node; no separate SET NX key is needed), its contributions are subtracted and the transitions
 * returned, which the reaper announces as above. A node that finds itself gone from <P>:nodes
 * (it stalled past its expiry and was reaped) re-registers its whole local state.
 *
 * Resync: on every (re)connect, with every registry stripe locked (pg_registry_snapshot), the
 * link is marked up and what is queued is taken; then the queued items, "clear" (subtract this
 * node's old contributions, silently) and "add" runs carrying the whole local state (silently)
 * are sent in that order. So after a Redis restart (empty) or an outage, counts and rosters are
 * whole again within a round trip of every node reconnecting, with no member_added repeated.
 * At stop, "depart" removes this node and announces what that changes.
 *
 * Signed-in users: "#server-to-user-<id>" is counted like any channel (in :subs and the node's
 * :subs, so reaping and resync cover it) but announces no webhooks or counts: its 0 -> 1 and -> 0
 * transitions are the user's watchlist online / offline, published on "#watch-<id>" to every node
 * (srv_cstate_watch.c, which also answers a watcher's initial state from :subs). Cache channels
 * keep their last event in <P>:cache:<app>:<channel> (srv_cstate_cache.c).
 *
 * Not cluster-wide yet: a repeated presence subscribe of the same socket answers with the local
 * roster.
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
#define NODE_TTL_MS 8000
#define ADD_ARGS 1200 /* resync: arguments per "add" run, at most */

/* clang-format off */
static const char script[] =
"local op, p, node = ARGV[1], ARGV[2], ARGV[3]\n"
"local S = '\\31'\n"
"local function split(f)\n"
"  local i = string.find(f, S, 1, true)\n"
"  if not i then return f, '', nil end\n"
"  local a, rest = string.sub(f, 1, i - 1), string.sub(f, i + 1)\n"
"  local j = string.find(rest, S, 1, true)\n"
"  if not j then return a, rest, nil end\n"
"  return a, string.sub(rest, 1, j - 1), string.sub(rest, j + 1)\n"
"end\n"
"local function mine(nk, f, d)\n"
"  if d > 0 then redis.call('HINCRBY', nk, f, d) return true end\n"
"  local m = tonumber(redis.call('HGET', nk, f) or '0')\n"
"  if m <= 0 then return false end\n"
"  if m + d <= 0 then redis.call('HDEL', nk, f) else redis.call('HINCRBY', nk, f, d) end\n"
"  return true\n"
"end\n"
"local function sub(app, ch, d)\n"
"  if not mine(p .. ':node:' .. node .. ':subs', app .. S .. ch, d) then return -1 end\n"
"  local sk = p .. ':subs:' .. app\n"
"  local s = redis.call('HINCRBY', sk, ch, d)\n"
"  if s <= 0 then redis.call('HDEL', sk, ch) s = 0 end\n"
"  return s\n"
"end\n"
"local function pres(app, ch, u, d, info)\n"
"  if not mine(p .. ':node:' .. node .. ':pres', app .. S .. ch .. S .. u, d) then return -1 end\n"
"  local pk, ik = p .. ':pres:' .. app .. ':' .. ch, p .. ':pinfo:' .. app .. ':' .. ch\n"
"  local c = redis.call('HINCRBY', pk, u, d)\n"
"  if c <= 0 then redis.call('HDEL', pk, u) redis.call('HDEL', ik, u) return 0 end\n"
"  if c == d and info then redis.call('HSET', ik, u, info) end\n"
"  return c\n"
"end\n"
"local function drop(n, out)\n"
"  local nk = p .. ':node:' .. n\n"
"  local f = redis.call('HGETALL', nk .. ':pres')\n"
"  for i = 1, #f, 2 do\n"
"    local a, c, u = split(f[i])\n"
"    if u then\n"
"      local pk = p .. ':pres:' .. a .. ':' .. c\n"
"      if redis.call('HINCRBY', pk, u, -tonumber(f[i + 1])) <= 0 then\n"
"        redis.call('HDEL', pk, u) redis.call('HDEL', p .. ':pinfo:' .. a .. ':' .. c, u)\n"
"        if out then out[#out + 1] = {'m', a, c, u} end\n"
"      end\n"
"    end\n"
"  end\n"
"  f = redis.call('HGETALL', nk .. ':subs')\n"
"  for i = 1, #f, 2 do\n"
"    local a, c = split(f[i])\n"
"    local sk = p .. ':subs:' .. a\n"
"    local v = redis.call('HINCRBY', sk, c, -tonumber(f[i + 1]))\n"
"    if v <= 0 then\n"
"      redis.call('HDEL', sk, c)\n"
"      if out then out[#out + 1] = {'v', a, c} end\n"
"    elseif out then out[#out + 1] = {'c', a, c, v} end\n"
"  end\n"
"  redis.call('DEL', nk .. ':pres', nk .. ':subs')\n"
"end\n"
"if op == 'sub' then return sub(ARGV[4], ARGV[5], tonumber(ARGV[6])) end\n"
"if op == 'join' then\n"
"  local pk, lim = p .. ':pres:' .. ARGV[4] .. ':' .. ARGV[5], tonumber(ARGV[8] or '-1')\n"
"  if lim >= 0 and redis.call('HEXISTS', pk, ARGV[6]) == 0 and redis.call('HLEN', pk) >= lim\n"
"  then return -2 end\n"
"  local n = pres(ARGV[4], ARGV[5], ARGV[6], 1, ARGV[7])\n"
"  local s = sub(ARGV[4], ARGV[5], 1)\n"
"  return {n, s, redis.call('HGETALL', p .. ':pinfo:' .. ARGV[4] .. ':' .. ARGV[5])}\n"
"end\n"
"if op == 'leave' then\n"
"  local n, s = pres(ARGV[4], ARGV[5], ARGV[6], -1, nil), -1\n"
"  if n >= 0 then s = sub(ARGV[4], ARGV[5], -1) end\n"
"  return {n, s}\n"
"end\n"
"if op == 'tick' or op == 'depart' then\n"
"  local now, out, added = tonumber(ARGV[4]), {}, 0\n"
"  if op == 'tick' then\n"
"    added = redis.call('ZADD', p .. ':nodes', now + tonumber(ARGV[5]), node)\n"
"    for _, d in ipairs(redis.call('ZRANGEBYSCORE', p .. ':nodes', '-inf', now)) do\n"
"      if d ~= node and redis.call('ZREM', p .. ':nodes', d) == 1 then drop(d, out) end\n"
"    end\n"
"  else\n"
"    redis.call('ZREM', p .. ':nodes', node)\n"
"    drop(node, out)\n"
"  end\n"
"  return {added, out}\n"
"end\n"
"if op == 'clear' then\n"
"  drop(node, nil)\n"
"  redis.call('ZADD', p .. ':nodes', tonumber(ARGV[4]) + tonumber(ARGV[5]), node)\n"
"  return 0\n"
"end\n"
"if op == 'add' then\n"
"  local i = 4\n"
"  while i <= #ARGV do\n"
"    if ARGV[i] == 's' then\n"
"      sub(ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])) i = i + 4\n"
"    else\n"
"      pres(ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]), ARGV[i + 5]) i = i + 6\n"
"    end\n"
"  end\n"
"  return 0\n"
"end\n"
"if op == 'channels' then\n"
"  local f, out, pre = redis.call('HGETALL', p .. ':subs:' .. ARGV[4]), {}, ARGV[5]\n"
"  for i = 1, #f, 2 do\n"
"    local c = f[i]\n"
"    if string.sub(c, 1, #pre) == pre then\n"
"      local u = 0\n"
"      if ARGV[6] == '1' and string.sub(c, 1, 9) == 'presence-' then\n"
"        u = redis.call('HLEN', p .. ':pres:' .. ARGV[4] .. ':' .. c)\n"
"      end\n"
"      out[#out + 1] = c out[#out + 1] = tonumber(f[i + 1]) out[#out + 1] = u\n"
"    end\n"
"  end\n"
"  return out\n"
"end\n"
"return redis.error_reply('pushgate: unknown op ' .. tostring(op))\n";
/* clang-format on */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cs_load_script(struct srv_redis *r, redisContext *c, char *sha, char *why, size_t n)
{
    (void)r;
    redisReply *rep = redisCommand(c, "SCRIPT LOAD %s", script);
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
    const char *f[QF_MAX] = {app->id, chg->ch, chg->uid, chg->info ? chg->info : "null", chg->sid};
    size_t fl[QF_MAX] = {strlen(app->id), chg->len, chg->ulen, chg->info ? chg->ilen : 4,
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

/* Frame (event, ch, data) to every subscriber on every node except socket `except`. */
static void announce(struct srv_redis *r, const struct pg_app *app, const char *app_id,
                     const char *ch, size_t clen, const char *event, const char *data, size_t dlen,
                     const char *except)
{
    struct pg_server *srv = r->srv;
    struct pg_msg *m = pg_frame_str(event, ch, clen, data, dlen);
    if (!m)
        return;
    if (r->pub)
        srv_redis__publish_now(r, app_id, ch, clen, except, pg_msg_data(m), m->len);
    uint64_t mask = app ? pg_registry_mask(srv->reg, app->idx, ch, clen) : 0;
    if (mask)
        pg_bus_publish(srv->bus, mask, app->idx, ch, clen, m, except);
    else
        pg_msg_unref(m);
}

static void announce_member(struct srv_redis *r, const struct pg_app *app, const char *app_id,
                            const char *ch, size_t clen, const struct pg_cstate_member *mem,
                            bool added, const char *except)
{
    struct pg_buf d;
    pg_buf_init(&d);
    pg_cstate_member_data(&d, mem, added);
    if (!d.oom)
        announce(r, app, app_id, ch, clen,
                 added ? "pusher_internal:member_added" : "pusher_internal:member_removed", d.p,
                 d.len, except);
    pg_buf_dispose(&d);
    if (app)
        pg_hooks_emit(r->srv->hooks, app->idx,
                      added ? PG_HOOK_MEMBER_ADDED : PG_HOOK_MEMBER_REMOVED, ch, clen, mem->uid,
                      mem->ulen);
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
        announce(r, app, app->id, c->name, c->len, "pusher_internal:subscription_count", data,
                 (size_t)n, NULL);
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

static void post_result(struct srv_redis *r, const struct qitem *it, struct pg_msg *m)
{
    post(r, PG_BUS_PRESENCE_RESULT, it->w, it->app, qitem_field(it, 1), it->len[1],
         qitem_field(it, 4), m);
}

void cs_post_socket(struct srv_redis *r, unsigned w, int app, const char *ch, size_t clen,
                    const char *sid, struct pg_msg *m)
{
    post(r, PG_BUS_SOCKET_MSG, w, app, ch, clen, sid, m);
}

static struct pg_msg *succeeded_frame(const struct qitem *it, const struct pg_buf *roster)
{
    return pg_frame_str("pusher_internal:subscription_succeeded", qitem_field(it, 1), it->len[1],
                        roster->p, roster->len);
}

void cs_dropped(struct srv_redis *r, struct qitem *it)
{
    if (it->op == Q_CACHE_GET)
        cx_dropped(r, it);
    else if (it->op == Q_WATCH)
        cw_dropped(r, it);
    if (it->op != Q_JOIN)
        return;
    struct pg_buf b;
    pg_buf_init(&b);
    if (pg_registry_presence_roster(r->srv->reg, it->app, qitem_field(it, 1), it->len[1], &b) < 0)
        pg_cstate_roster(&b, NULL, 0);
    if (!b.oom)
        post_result(r, it, succeeded_frame(it, &b));
    pg_buf_dispose(&b);
}

static long int_at(const redisReply *rep, size_t i)
{
    if (rep->type != REDIS_REPLY_ARRAY || i >= rep->elements)
        return -1;
    const redisReply *e = rep->element[i];
    return e->type == REDIS_REPLY_INTEGER ? (long)e->integer : -1;
}

static void on_join(struct srv_redis *r, struct qitem *it, redisReply *rep)
{
    const struct pg_app *app = app_at(r, it->app);
    const char *ch = qitem_field(it, 1);
    size_t clen = it->len[1];
    if (rep->type == REDIS_REPLY_INTEGER && rep->integer == -2) { /* a new user, channel full */
        post(r, PG_BUS_PRESENCE_FULL, it->w, it->app, ch, clen, qitem_field(it, 4), NULL);
        return;
    }
    long n = int_at(rep, 0), s = int_at(rep, 1);
    const redisReply *pairs =
        rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 ? rep->element[2] : NULL;
    if (!pairs || pairs->type != REDIS_REPLY_ARRAY || n < 0) {
        cs_dropped(r, it);
        return;
    }
    size_t nm = pairs->elements / 2;
    struct pg_cstate_member *mem = calloc(nm ? nm : 1, sizeof *mem);
    struct pg_buf b;
    pg_buf_init(&b);
    if (!mem) {
        cs_dropped(r, it);
        return;
    }
    for (size_t i = 0; i < nm; i++) {
        mem[i].uid = pairs->element[2 * i]->str;
        mem[i].ulen = pairs->element[2 * i]->len;
        mem[i].info = pairs->element[2 * i + 1]->str;
        mem[i].ilen = pairs->element[2 * i + 1]->len;
    }
    pg_cstate_roster(&b, mem, nm);
    free(mem);
    if (!b.oom)
        post_result(r, it, succeeded_frame(it, &b));
    pg_buf_dispose(&b);
    if (n == 1) {
        struct pg_cstate_member me = {qitem_field(it, 2), it->len[2], qitem_field(it, 3),
                                      it->len[3]};
        announce_member(r, app, qitem_field(it, 0), ch, clen, &me, true, qitem_field(it, 4));
    }
    if (s == 1 && app)
        pg_hooks_emit(r->srv->hooks, app->idx, PG_HOOK_CHANNEL_OCCUPIED, ch, clen, NULL, 0);
}

static void on_op(struct srv_redis *r, struct qitem *it, redisReply *rep)
{
    const struct pg_app *app = app_at(r, it->app);
    const char *ch = qitem_field(it, 1);
    size_t clen = it->len[1];
    struct pg_hooks *hooks = r->srv->hooks;
    if (it->op == Q_CACHE_GET) {
        cx_on_reply(r, it, rep);
        return;
    }
    if (it->op == Q_WATCH) {
        cw_on_reply(r, it, rep);
        return;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        cs_dropped(r, it);
        return;
    }
    if (it->op == Q_JOIN) {
        on_join(r, it, rep);
    } else if (it->op == Q_LEAVE) {
        long n = int_at(rep, 0), s = int_at(rep, 1);
        if (n == 0) {
            struct pg_cstate_member me = {qitem_field(it, 2), it->len[2], NULL, 0};
            announce_member(r, app, qitem_field(it, 0), ch, clen, &me, false, NULL);
        }
        if (s == 0 && app)
            pg_hooks_emit(hooks, app->idx, PG_HOOK_CHANNEL_VACATED, ch, clen, NULL, 0);
    } else if (it->op == Q_SUB && rep->type == REDIS_REPLY_INTEGER && rep->integer >= 0) {
        long s = (long)rep->integer;
        if (clen && ch[0] == '#') { /* "#server-to-user-<id>": the user's signed-in connections */
            if ((it->delta > 0 && s == 1) || (it->delta < 0 && s == 0))
                cw_user_changed(r, qitem_field(it, 0), it->len[0], ch, clen, it->delta > 0);
            return;
        }
        if (app && it->delta > 0 && s == 1)
            pg_hooks_emit(hooks, app->idx, PG_HOOK_CHANNEL_OCCUPIED, ch, clen, NULL, 0);
        if (app && it->delta < 0 && s == 0)
            pg_hooks_emit(hooks, app->idx, PG_HOOK_CHANNEL_VACATED, ch, clen, NULL, 0);
        if (s > 0)
            count_mark(r, app, ch, clen, s);
    }
}

static const redisReply *str_el(const redisReply *a, size_t i)
{
    const redisReply *e = i < a->elements ? a->element[i] : NULL;
    return e && e->type == REDIS_REPLY_STRING ? e : NULL;
}

/* The transitions of a reap (or of this node's departure): [added, [[tag, app, ch, x]...]]. */
static void on_tick(struct srv_redis *r, redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[1]->type != REDIS_REPLY_ARRAY)
        return;
    const struct pg_config *cfg = r->srv->cfg;
    const redisReply *out = rep->element[1];
    if (out->elements)
        atomic_fetch_add(&r->reaped, 1);
    for (size_t i = 0; i < out->elements; i++) {
        const redisReply *t = out->element[i];
        if (t->type != REDIS_REPLY_ARRAY || t->elements < 3)
            continue;
        const redisReply *tag = str_el(t, 0), *a = str_el(t, 1), *c = str_el(t, 2);
        if (!tag || !a || !c)
            continue;
        const struct pg_app *app = pg_config_app_by_id(cfg, a->str, a->len);
        if (tag->str[0] == 'm' && str_el(t, 3)) {
            struct pg_cstate_member me = {t->element[3]->str, t->element[3]->len, NULL, 0};
            announce_member(r, app, a->str, c->str, c->len, &me, false, NULL);
        } else if (tag->str[0] == 'v' && c->len && c->str[0] == '#') {
            cw_user_changed(r, a->str, a->len, c->str, c->len, false);
        } else if (tag->str[0] == 'v' && app) {
            pg_hooks_emit(r->srv->hooks, app->idx, PG_HOOK_CHANNEL_VACATED, c->str, c->len, NULL,
                          0);
        } else if (tag->str[0] == 'c' && t->elements == 4 &&
                   t->element[3]->type == REDIS_REPLY_INTEGER) {
            count_mark(r, app, c->str, c->len, (long)t->element[3]->integer);
        }
    }
    if (!r->departed && rep->element[0]->type == REDIS_REPLY_INTEGER &&
        rep->element[0]->integer == 1) {
        PG_LOG(PG_LOG_WARN, "cluster",
               "node %s was missing from the cluster (stalled past its expiry and reaped?): "
               "registering its local state again",
               r->node_hex);
        cs_resync(r);
    }
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
        on_op(r, p->op, rep);
        free(p->op);
    } else if (p->kind == P_TICK) {
        r->tick_pending = false;
        on_tick(r, rep);
    }
    free(p);
}

/* ---- commands ---------------------------------------------------------------------------------
 */

#define HDR_ARGS 6 /* EVALSHA sha 0 op prefix node */

static void hdr(struct srv_redis *r, const char **argv, size_t *argl, const char *op)
{
    const char *v[HDR_ARGS] = {"EVALSHA", r->sha, "0", op, r->kprefix, r->node_hex};
    for (int i = 0; i < HDR_ARGS; i++) {
        argv[i] = v[i];
        argl[i] = strlen(v[i]);
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
    const char *argv[HDR_ARGS + 5];
    size_t argl[HDR_ARGS + 5];
    char delta[24];
    int n = HDR_ARGS;
    hdr(r, argv, argl, it->op == Q_SUB ? "sub" : it->op == Q_JOIN ? "join" : "leave");
    int nf = it->op == Q_SUB ? 2 : it->op == Q_JOIN ? 4 : 3;
    for (int i = 0; i < nf; i++, n++) {
        argv[n] = qitem_field(it, i);
        argl[n] = it->len[i];
    }
    if (it->op == Q_SUB) {
        argl[n] = (size_t)snprintf(delta, sizeof delta, "%d", it->delta);
        argv[n++] = delta;
    } else if (it->op == Q_JOIN) { /* the app's max_presence_members_per_channel (-1: none) */
        const struct pg_app *app = app_at(r, it->app);
        long lim = app ? (long)app->max_presence_members_per_channel : -1;
        argl[n] = (size_t)snprintf(delta, sizeof delta, "%ld", lim < 0 ? -1 : lim);
        argv[n++] = delta;
    }
    redisAppendCommandArgv(r->pub, n, argv, argl);
    srv_redis__pend(r, P_OP, it);
}

static void append_tick(struct srv_redis *r, const char *op)
{
    const char *argv[HDR_ARGS + 2];
    size_t argl[HDR_ARGS + 2];
    char now[24], ttl[16];
    hdr(r, argv, argl, op);
    argl[HDR_ARGS] = (size_t)snprintf(now, sizeof now, "%lld", (long long)wall_ms());
    argv[HDR_ARGS] = now;
    argl[HDR_ARGS + 1] = (size_t)snprintf(ttl, sizeof ttl, "%d", NODE_TTL_MS);
    argv[HDR_ARGS + 1] = ttl;
    redisAppendCommandArgv(r->pub, HDR_ARGS + 2, argv, argl);
}

void cs_periodic(struct srv_redis *r, int64_t now)
{
    if (now - r->count_ms >= CS_PERIOD_MS) {
        r->count_ms = now;
        counts_flush(r, true, now);
    }
    if (!r->tick_pending && now - r->tick_ms >= TICK_MS) {
        r->tick_ms = now;
        r->tick_pending = true;
        append_tick(r, "tick");
        srv_redis__pend(r, P_TICK, NULL);
    }
}

void cs_depart(struct srv_redis *r)
{
    r->departed = true;
    append_tick(r, "depart");
    srv_redis__pend(r, P_TICK, NULL);
}

void cs_link_lost(struct srv_redis *r)
{
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
    r->tick_pending = false;
    counts_flush(r, false, 0);
}

void cs_dispose(struct srv_redis *r)
{
    cs_link_lost(r);
    if (r->rest)
        redisFree(r->rest);
    r->rest = NULL;
}
