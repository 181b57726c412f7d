/* srv_hook_redis.c - cluster mode for webhooks (design.md 9): the batches of every node are kept
 * in Redis until they are finished, and a dead node's are sent by another node.
 * Thread: pg-hook (create / destroy on pg-main while pg-hook is not running).
 *
 * Keys (<P> = redis_prefix; <node> = this pg-hook's random 64-bit id in hex, <job> =
 * "<node>.<seq>"):
 *   <P>:wh:nodes      sorted set node -> expiry (wall-clock ms): the pg-hook heartbeats
 *   <P>:wh:p:<node>   list of the jobs the node holds (forming, in flight, waiting for a retry)
 *   <P>:wh:j:<job>    the job: "PGWH1 <webhook index> <url hash> <events> <created ms> <signature>
 *                     <app id>\n" then the exact body bytes; PX retry window + 10 min (an orphan
 *                     left by a crash between two commands goes away by itself)
 * A batch is stored (SET the job, RPUSH its name) when it is formed, before its first attempt;
 * when it is finished (delivered, refused with a final 4xx, or past the retry window) its name is
 * LREMed and the job DELeted. So a node's list always holds all it has not finished.
 *
 * Hand-over: every HEARTBEAT_MS one script refreshes this node in <P>:wh:nodes (expiry now +
 * NODE_TTL_MS, the timing of srv_cstate.c's own heartbeat: a dead node is taken over 8 to 10 s
 * after its last beat) and, for every expired node, ZREMs it (the script is atomic: exactly one
 * node adopts each dead node, no lock key needed) and moves that node's list, in order, to the end
 * of its own list. The adopter then GETs each job (a missing one was finished meanwhile) and
 * queues it behind the batches of the same endpoint (found by app id and URL hash, so differing
 * webhook orders on the nodes are fine); its retry window goes on from the job's creation.
 * A node stopping with jobs left (the receiver still down) marks itself expired, so another node
 * adopts them within a heartbeat. Heartbeats are separate from srv_cstate's <P>:nodes (which
 * srv_cstate ZREMs when it reaps, and whose node id changes when a node rejoins).
 *
 * Ordering: per app and endpoint, one node's batches go out in order, one at a time. Across a
 * death, the dead node's batches go out in their order, after what the adopter already had queued
 * for that endpoint, and possibly interleaved in time with the adopter's later events; receivers
 * order by time_ms. At least once: a batch the dead node had sent but not yet removed is sent
 * again; so is one whose node was taken for dead while it was only cut off from Redis.
 *
 * Redis failures: commands time out after IO_TIMEOUT_MS; the link is then dropped and redialled
 * with backoff (100 ms doubling to 2 s). Meanwhile batches are sent from memory as usual (bounded
 * by webhook_queue_max as always); those not stored yet are stored, and finished ones removed,
 * when the link is back. A node that stays cut off past NODE_TTL_MS may be adopted: duplicates.
 */
#include "srv_hook_redis.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_clock.h"
#include "pg_log.h"
#include "pg_rand.h"
#include "pg_redis_url.h"

#define HEARTBEAT_MS 2000
#define NODE_TTL_MS 8000
#define IO_TIMEOUT_MS 500
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define JOB_EXTRA_TTL_MS 600000 /* a stored job outlives its retry window by this much */

/* clang-format off */
static const char beat_script[] =
"local p, me, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])\n"
"local nk, mine = p .. ':wh:nodes', p .. ':wh:p:' .. me\n"
"local out = {redis.call('ZADD', nk, now + ttl, me)}\n"
"for _, d in ipairs(redis.call('ZRANGEBYSCORE', nk, '-inf', now)) do\n"
"  if d ~= me and redis.call('ZREM', nk, d) == 1 then\n"
"    local src = p .. ':wh:p:' .. d\n"
"    for _, j in ipairs(redis.call('LRANGE', src, 0, -1)) do\n"
"      redis.call('RPUSH', mine, j)\n"
"      out[#out + 1] = j\n"
"    end\n"
"    redis.call('DEL', src)\n"
"  end\n"
"end\n"
"return out\n";

static const char depart_script[] =
"local nk, mine = ARGV[1] .. ':wh:nodes', ARGV[1] .. ':wh:p:' .. ARGV[2]\n"
"if redis.call('LLEN', mine) > 0 then redis.call('ZADD', nk, 0, ARGV[2]) return 1 end\n"
"redis.call('ZREM', nk, ARGV[2])\n"
"return 0\n";
/* clang-format on */

/* Owned by: pg-hook. */
struct hook_redis {
    struct pg_hooks *h;
    struct pg_redis_url url;
    char *prefix;
    char node[17];
    char *list_key;
    uint64_t seq;
    redisContext *c;
    int64_t next_dial_ms, backoff_ms, next_beat_ms;
    bool registered; /* the first heartbeat went through */
    bool down_logged;
    bool dirty;     /* some batch may not be stored yet */
    bool orphans;   /* this node's list may hold jobs it does not hold in memory */
    char (*rm)[48]; /* finished jobs to remove */
    size_t nrm, rmcap;
};

static char *key(const struct hook_redis *r, const char *mid, const char *tail)
{
    size_t n = strlen(r->prefix) + strlen(mid) + strlen(tail) + 1;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s%s%s", r->prefix, mid, tail);
    return k;
}

static uint64_t url_hash(const char *s)
{
    uint64_t x = 1469598103934665603ULL;
    for (; *s; s++)
        x = (x ^ (unsigned char)*s) * 1099511628211ULL;
    return x;
}

/* ---- the link -------------------------------------------------------------------------------- */

static void link_lost(struct hook_redis *r, const char *why)
{
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
    r->dirty = true; /* a command in flight may or may not have been applied */
    r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (r->backoff_ms > BACKOFF_MAX_MS)
        r->backoff_ms = BACKOFF_MAX_MS;
    r->next_dial_ms = pg_now_ms() + r->backoff_ms;
    if (!r->down_logged)
        PG_LOG(PG_LOG_WARN, "hooks",
               "webhook store: Redis unreachable (%s); webhooks go on from memory and are stored "
               "when it is back",
               why);
    r->down_logged = true;
}

/* A reply that is not an error; otherwise the link is dropped. Frees nothing. */
static bool good(struct hook_redis *r, redisReply *rep, const char *what)
{
    char why[160];
    if (rep && rep->type != REDIS_REPLY_ERROR)
        return true;
    if (rep)
        snprintf(why, sizeof why, "%s: %.*s", what, (int)(rep->len > 100 ? 100 : rep->len),
                 rep->str);
    else
        snprintf(why, sizeof why, "%s: %s", what, r->c && r->c->err ? r->c->errstr : "no reply");
    link_lost(r, why);
    return false;
}

/* Reads n pipelined replies; false (link dropped) when one is missing or an error. */
static bool replies(struct hook_redis *r, size_t n, const char *what)
{
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        void *rep = NULL;
        if (redisGetReply(r->c, &rep) != REDIS_OK)
            rep = NULL;
        ok = good(r, rep, what);
        if (rep)
            freeReplyObject(rep);
    }
    return ok;
}

static void dial(struct hook_redis *r)
{
    struct timeval tv = {IO_TIMEOUT_MS / 1000, (IO_TIMEOUT_MS % 1000) * 1000};
    r->c = redisConnectWithTimeout(r->url.host, r->url.port, tv);
    if (!r->c || r->c->err) {
        link_lost(r, r->c ? r->c->errstr : "out of memory");
        return;
    }
    redisSetTimeout(r->c, tv);
    redisEnableKeepAlive(r->c);
    redisReply *rep = NULL;
    if (r->url.password[0]) {
        rep = r->url.user[0] ? redisCommand(r->c, "AUTH %s %s", r->url.user, r->url.password)
                             : redisCommand(r->c, "AUTH %s", r->url.password);
        bool ok = good(r, rep, "AUTH");
        if (rep)
            freeReplyObject(rep);
        if (!ok)
            return;
    }
    if (r->url.db) {
        rep = redisCommand(r->c, "SELECT %d", r->url.db);
        bool ok = good(r, rep, "SELECT");
        if (rep)
            freeReplyObject(rep);
        if (!ok)
            return;
    }
    if (r->down_logged)
        PG_LOG(PG_LOG_INFO, "hooks", "webhook store: Redis link back");
    r->down_logged = false;
    r->backoff_ms = 0;
    r->next_beat_ms = 0; /* beat (and adopt) at once */
}

/* ---- storing and removing jobs --------------------------------------------------------------- */

static void store(struct hook_redis *r, struct pg_hook_batch *b)
{
    if (!r->c) {
        r->dirty = true;
        return;
    }
    const struct pg_hook_ep *ep = b->ep;
    bool again = b->job[0] != 0;
    if (!again)
        snprintf(b->job, sizeof b->job, "%s.%" PRIx64, r->node, ++r->seq);
    char head[512];
    int hl = snprintf(head, sizeof head, "PGWH1 %u %016" PRIx64 " %zu %" PRId64 " %s %s\n", ep->idx,
                      url_hash(ep->cfg->url), b->n, b->created_wall, b->sig, ep->cfg_app->id);
    char *jk = key(r, ":wh:j:", b->job), *blob = malloc(b->blen + sizeof head);
    if (hl <= 0 || (size_t)hl >= sizeof head || !jk || !blob) {
        free(jk);
        free(blob);
        r->dirty = true;
        return;
    }
    memcpy(blob, head, (size_t)hl);
    memcpy(blob + hl, b->body, b->blen);
    long long ttl = (long long)r->h->cfg->webhook_retry_window_s * 1000 + JOB_EXTRA_TTL_MS;
    redisAppendCommand(r->c, "SET %s %b PX %lld", jk, blob, (size_t)hl + b->blen, ttl);
    if (again) /* the RPUSH of an earlier try may have been applied */
        redisAppendCommand(r->c, "LREM %s 0 %s", r->list_key, b->job);
    redisAppendCommand(r->c, "RPUSH %s %s", r->list_key, b->job);
    free(jk);
    free(blob);
    if (replies(r, again ? 3 : 2, "storing a webhook job"))
        b->persisted = true;
    else
        r->dirty = true;
}

static void store_cb(void *ctx, struct pg_hook_batch *b) { store(ctx, b); }

static void queue_removal(struct hook_redis *r, const char *job)
{
    if (r->nrm == r->rmcap) {
        size_t cap = r->rmcap ? r->rmcap * 2 : 16;
        char(*rm)[48] = realloc(r->rm, cap * sizeof *rm);
        if (!rm) {
            PG_LOG(PG_LOG_ERROR, "hooks", "webhook store: out of memory; job %s stays in Redis",
                   job);
            return;
        }
        r->rm = rm;
        r->rmcap = cap;
    }
    snprintf(r->rm[r->nrm++], sizeof r->rm[0], "%s", job);
}

static void finished_cb(void *ctx, struct pg_hook_batch *b)
{
    if (b->job[0]) /* stored, or maybe stored (a failed try may have been applied) */
        queue_removal(ctx, b->job);
}

static void flush_removals(struct hook_redis *r)
{
    if (!r->c || !r->nrm)
        return;
    for (size_t i = 0; i < r->nrm; i++) {
        redisAppendCommand(r->c, "LREM %s 0 %s", r->list_key, r->rm[i]);
        redisAppendCommand(r->c, "DEL %s%s%s", r->prefix, ":wh:j:", r->rm[i]);
    }
    if (replies(r, 2 * r->nrm, "removing finished webhook jobs"))
        r->nrm = 0; /* otherwise all again later: LREM and DEL are idempotent */
}

static void store_dirty(struct hook_redis *r)
{
    if (!r->c || !r->dirty)
        return;
    r->dirty = false;
    for (size_t i = 0; i < r->h->n_eps && r->c; i++)
        for (struct pg_hook_batch *b = r->h->eps[i].batch; b && r->c; b = b->next)
            if (!b->persisted)
                store(r, b);
}

/* ---- adopting a dead node's jobs ------------------------------------------------------------- */

static struct pg_hook_ep *find_ep(struct pg_hooks *h, const char *app_id, unsigned idx, uint64_t uh)
{
    for (size_t a = 0; a < h->n_apps; a++) {
        if (strcmp(h->cfg->apps[a].id, app_id))
            continue;
        struct pg_hook_ep *best = NULL;
        for (size_t i = h->ep_off[a]; i < h->ep_off[a + 1]; i++)
            if (url_hash(h->eps[i].cfg->url) == uh && (!best || h->eps[i].idx == idx))
                best = &h->eps[i];
        return best;
    }
    return NULL;
}

/* Turns a stored job into an adopted batch; false when it cannot be sent here. */
static bool adopt_one(struct hook_redis *r, const char *job, const char *v, size_t len)
{
    struct pg_hooks *h = r->h;
    const char *nl = memchr(v, '\n', len);
    char head[512], sig[65], app_id[256];
    unsigned idx;
    uint64_t uh;
    size_t n;
    int64_t created;
    if (!nl || (size_t)(nl - v) >= sizeof head)
        return false;
    memcpy(head, v, (size_t)(nl - v));
    head[nl - v] = 0;
    if (sscanf(head, "PGWH1 %u %" SCNx64 " %zu %" SCNd64 " %64s %255s", &idx, &uh, &n, &created,
               sig, app_id) != 6 ||
        strlen(sig) != 64)
        return false;
    struct pg_hook_ep *ep = find_ep(h, app_id, idx, uh);
    if (!ep) {
        PG_LOG(PG_LOG_WARN, "hooks",
               "webhook store: job %s of a dead node is for app %s webhook #%u, which is not "
               "configured here; %zu event(s) dropped",
               job, app_id, idx, n);
        atomic_fetch_add(&h->dropped, n);
        return false;
    }
    size_t blen = len - (size_t)(nl + 1 - v);
    struct pg_hook_batch *b = calloc(1, sizeof *b);
    char *body = malloc(blen ? blen : 1);
    if (!b || !body) {
        free(b);
        free(body);
        atomic_fetch_add(&h->dropped, n);
        return false;
    }
    memcpy(body, nl + 1, blen);
    b->ep = ep;
    b->body = body;
    b->blen = blen;
    b->n = n;
    memcpy(b->sig, sig, sizeof b->sig);
    b->created_wall = created;
    int64_t age = h->wall_ms() - created;
    b->first_ms = h->mono_ms() - (age > 0 ? age : 0);
    b->persisted = true;
    snprintf(b->job, sizeof b->job, "%s", job);
    pg_hooks__adopt(h, b);
    return true;
}

/* True when this node holds job in memory (or is about to remove it). */
static bool held(const struct hook_redis *r, const char *job)
{
    for (size_t i = 0; i < r->h->n_eps; i++)
        for (const struct pg_hook_batch *b = r->h->eps[i].batch; b; b = b->next)
            if (!strcmp(b->job, job))
                return true;
    for (size_t i = 0; i < r->nrm; i++)
        if (!strcmp(r->rm[i], job))
            return true;
    return false;
}

/* Job names in rep->element[from..]: GETs every job and queues it. With check, only those this
 * node does not hold already (its own list after an adoption was cut short). */
static void adopt(struct hook_redis *r, redisReply *rep, size_t from, bool check)
{
    size_t n = rep->elements - from, taken = 0, skipped = 0;
    bool *skip = calloc(n ? n : 1, sizeof *skip); /* decided once: adopting changes held() */
    if (!skip) {
        r->orphans = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (!(skip[i] = check && held(r, rep->element[from + i]->str)))
            redisAppendCommand(r->c, "GET %s%s%b", r->prefix, ":wh:j:", rep->element[from + i]->str,
                               (size_t)rep->element[from + i]->len);
    for (size_t i = 0; i < n; i++) {
        const char *job = rep->element[from + i]->str;
        if (skip[i]) {
            skipped++;
            continue;
        }
        redisReply *g = NULL;
        if (redisGetReply(r->c, (void **)&g) != REDIS_OK || !good(r, g, "GET")) {
            if (g)
                freeReplyObject(g);
            r->orphans = true; /* they are in this node's list: taken up after the reconnect */
            free(skip);
            return;
        }
        if (g->type == REDIS_REPLY_STRING && adopt_one(r, job, g->str, g->len))
            taken++;
        else
            queue_removal(r, job); /* finished meanwhile, expired, or not sendable here */
        freeReplyObject(g);
    }
    free(skip);
    if (n > skipped)
        PG_LOG(PG_LOG_INFO, "hooks",
               "webhook store: took over %zu webhook batch(es) of dead node(s) (%zu already "
               "finished or not sendable here)",
               taken, n - skipped - taken);
}

static void beat(struct hook_redis *r)
{
    char now[24], ttl[24];
    snprintf(now, sizeof now, "%" PRId64, r->h->wall_ms());
    snprintf(ttl, sizeof ttl, "%d", NODE_TTL_MS);
    redisReply *rep =
        redisCommand(r->c, "EVAL %s 0 %s %s %s %s", beat_script, r->prefix, r->node, now, ttl);
    if (!good(r, rep, "heartbeat")) {
        if (rep)
            freeReplyObject(rep);
        return;
    }
    bool shape = rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 &&
                 rep->element[0]->type == REDIS_REPLY_INTEGER;
    for (size_t i = 1; shape && i < rep->elements; i++)
        shape = rep->element[i]->type == REDIS_REPLY_STRING;
    if (shape) {
        if (rep->element[0]->integer == 1 && r->registered) {
            /* Its list was taken over, or Redis lost it: store again what it holds. */
            PG_LOG(PG_LOG_WARN, "hooks",
                   "webhook store: this node's heartbeat was gone from Redis (taken for dead "
                   "while cut off, or Redis restarted empty): storing its webhooks again; some "
                   "may be sent twice");
            for (size_t i = 0; i < r->h->n_eps; i++)
                for (struct pg_hook_batch *b = r->h->eps[i].batch; b; b = b->next)
                    b->persisted = false;
            r->dirty = true;
        }
        r->registered = true;
        adopt(r, rep, 1, false);
    }
    freeReplyObject(rep);
    if (!r->c || !r->orphans)
        return;
    rep = redisCommand(r->c, "LRANGE %s 0 -1", r->list_key);
    if (good(r, rep, "LRANGE") && rep->type == REDIS_REPLY_ARRAY) {
        shape = true;
        for (size_t i = 0; i < rep->elements; i++)
            shape = shape && rep->element[i]->type == REDIS_REPLY_STRING;
        r->orphans = false;
        if (shape)
            adopt(r, rep, 0, true);
    }
    if (rep)
        freeReplyObject(rep);
}

/* ---- pg-hook's calls ------------------------------------------------------------------------- */

void hook_redis_tick(struct hook_redis *r, int64_t now)
{
    if (!r->c && now >= r->next_dial_ms)
        dial(r);
    flush_removals(r);
    store_dirty(r);
    if (r->c && now >= r->next_beat_ms) {
        r->next_beat_ms = now + HEARTBEAT_MS;
        beat(r);
        flush_removals(r); /* adopted jobs that were finished meanwhile */
    }
}

int64_t hook_redis_next_due(const struct hook_redis *r)
{
    if (!r->c)
        return r->next_dial_ms;
    if (r->nrm || r->dirty)
        return 0;
    return r->next_beat_ms;
}

void hook_redis_depart(struct hook_redis *r)
{
    if (!r->c)
        dial(r); /* one last try */
    flush_removals(r);
    r->dirty = true;
    store_dirty(r);
    if (!r->c)
        return;
    redisReply *rep = redisCommand(r->c, "EVAL %s 0 %s %s", depart_script, r->prefix, r->node);
    if (good(r, rep, "departure") && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1)
        PG_LOG(PG_LOG_INFO, "hooks",
               "webhook store: unfinished webhooks handed over to the other nodes");
    if (rep)
        freeReplyObject(rep);
}

struct hook_redis *hook_redis_create(struct pg_hooks *h, const struct pg_config *cfg, char *err,
                                     size_t errlen)
{
    struct hook_redis *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "webhooks: out of memory");
        return NULL;
    }
    char why[200];
    if (pg_redis_url_parse(&r->url, cfg->redis_url, why, sizeof why) < 0) {
        snprintf(err, errlen, "webhooks: redis_url: %s", why);
        free(r);
        return NULL;
    }
    r->h = h;
    uint64_t id = ((uint64_t)pg_rand_u32() << 32) | pg_rand_u32();
    snprintf(r->node, sizeof r->node, "%016" PRIx64, id);
    r->prefix = strdup(cfg->redis_prefix ? cfg->redis_prefix : "pushgate");
    if (r->prefix)
        r->list_key = key(r, ":wh:p:", r->node);
    if (!r->prefix || !r->list_key) {
        hook_redis_destroy(r);
        snprintf(err, errlen, "webhooks: out of memory");
        return NULL;
    }
    h->store.persist = store_cb;
    h->store.finished = finished_cb;
    h->store.ctx = r;
    return r;
}

void hook_redis_destroy(struct hook_redis *r)
{
    if (!r)
        return;
    if (r->c)
        redisFree(r->c);
    pg_redis_url_dispose(&r->url);
    free(r->prefix);
    free(r->list_key);
    free(r->rm);
    free(r);
}
