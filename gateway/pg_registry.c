/* pg_registry.c - the shared channel table (see pg_registry.h).
 * Guarded by: stripe[hash % PG_STRIPES].lock for every channel of that stripe.
 * Presence broadcasts are pushed to the bus while the stripe lock is held: a push is a short
 * mutex section plus at most one non-blocking wake-up write, never I/O that can block.
 */
#include "pg_registry.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_frame.h"
#include "pg_hooks.h"

#define PG_STRIPES 64

struct member {
    char *uid;
    size_t ulen;
    char *info; /* JSON text; NULL means null */
    size_t ilen;
    uint32_t conns;
};

struct chan {
    struct chan *next;
    uint64_t hash;
    int app;
    size_t len;
    long subs;
    uint64_t mask;
    uint32_t *wcount; /* subscribers per worker */
    struct member *mem;
    size_t nmem, capmem;
    bool dirty; /* on the stripe's dirty list: subscription_count to broadcast */
    struct chan *dnext;
    int64_t count_sent_ms; /* last subscription_count broadcast */
    char name[];           /* len bytes + NUL */
};

struct stripe {
    pthread_mutex_t lock;
    struct chan **bucket;
    size_t nbucket, count;
    struct chan *dirty; /* channels with a subscription_count change to broadcast */
};

struct pg_registry {
    unsigned nworkers;
    struct pg_bus *bus;
    struct pg_hooks *hooks; /* NULL: no webhooks */
    /* NULL: every marked channel gets its subscription_count. Swapped by a reload (pg-main). */
    const struct pg_config *_Atomic cfg;
    pg_registry_sink sink; /* cluster mode: NULL in single-node mode; immutable after start */
    void *sink_ctx;
    struct stripe st[PG_STRIPES];
};

static uint64_t chan_hash(int app, const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(unsigned)app;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

struct pg_registry *pg_registry_create(unsigned nworkers, struct pg_bus *bus)
{
    if (nworkers == 0 || nworkers > PG_BUS_MAX_WORKERS)
        return NULL;
    struct pg_registry *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->nworkers = nworkers;
    r->bus = bus;
    for (int i = 0; i < PG_STRIPES; i++)
        pthread_mutex_init(&r->st[i].lock, NULL);
    return r;
}

static void chan_free(struct chan *c)
{
    for (size_t i = 0; i < c->nmem; i++) {
        free(c->mem[i].uid);
        free(c->mem[i].info);
    }
    free(c->mem);
    free(c->wcount);
    free(c);
}

void pg_registry_set_hooks(struct pg_registry *r, struct pg_hooks *h) { r->hooks = h; }

void pg_registry_set_config(struct pg_registry *r, const struct pg_config *cfg) { r->cfg = cfg; }

void pg_registry_set_cluster(struct pg_registry *r, pg_registry_sink sink, void *ctx)
{
    r->sink = sink;
    r->sink_ctx = ctx;
}

/* Cluster mode: whether changes of c go to the sink. '#' channels stay node-local, except
 * "#server-to-user-<id>", whose cluster-wide count is the user's signed-in connections (watchlist
 * online / offline, srv_cstate_watch.c). */
static bool cluster_wide(const struct chan *c)
{
    static const char user[] = "#server-to-user-";
    if (!c->len || c->name[0] != '#')
        return true;
    return c->len > sizeof user - 1 && memcmp(c->name, user, sizeof user - 1) == 0;
}

/* Cluster mode: reports a change to the sink (caller holds the stripe lock). Returns the sink's
 * answer; -1 for the node-local '#' channels. */
static int tell(struct pg_registry *r, const struct chan *c, enum pg_registry_op op, unsigned w,
                const char *sid, const char *uid, size_t ulen, const char *info, size_t ilen)
{
    if (!cluster_wide(c))
        return -1;
    struct pg_registry_change chg = {op, c->app, c->name, c->len, w, sid, uid, ulen, info, ilen};
    return r->sink(r->sink_ctx, &chg);
}

/* Caller holds the stripe lock, so webhooks of one channel are emitted in transition order. */
static void hook_chan(struct pg_registry *r, const struct chan *c, enum pg_hook_type t)
{
    if (r->hooks && !r->sink)
        pg_hooks_emit(r->hooks, c->app, t, c->name, c->len, NULL, 0);
}

void pg_registry_destroy(struct pg_registry *r)
{
    if (!r)
        return;
    for (int i = 0; i < PG_STRIPES; i++) {
        struct stripe *s = &r->st[i];
        for (size_t b = 0; b < s->nbucket; b++) {
            struct chan *c = s->bucket[b];
            while (c) {
                struct chan *next = c->next;
                chan_free(c);
                c = next;
            }
        }
        free(s->bucket);
        pthread_mutex_destroy(&s->lock);
    }
    free(r);
}

static struct stripe *stripe_of(struct pg_registry *r, uint64_t h)
{
    return &r->st[h % PG_STRIPES];
}

/* Caller holds the stripe lock. */
static struct chan *find(struct stripe *s, uint64_t h, int app, const char *ch, size_t len)
{
    if (!s->nbucket)
        return NULL;
    for (struct chan *c = s->bucket[(h / PG_STRIPES) % s->nbucket]; c; c = c->next)
        if (c->hash == h && c->app == app && c->len == len && memcmp(c->name, ch, len) == 0)
            return c;
    return NULL;
}

static int grow(struct stripe *s)
{
    size_t nb = s->nbucket ? s->nbucket * 2 : 16;
    struct chan **b = calloc(nb, sizeof *b);
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < s->nbucket; i++) {
        struct chan *c = s->bucket[i];
        while (c) {
            struct chan *next = c->next;
            size_t k = (c->hash / PG_STRIPES) % nb;
            c->next = b[k];
            b[k] = c;
            c = next;
        }
    }
    free(s->bucket);
    s->bucket = b;
    s->nbucket = nb;
    return 0;
}

static struct chan *find_or_add(struct pg_registry *r, struct stripe *s, uint64_t h, int app,
                                const char *ch, size_t len)
{
    struct chan *c = find(s, h, app, ch, len);
    if (c)
        return c;
    if (s->count >= s->nbucket && grow(s) < 0 && !s->nbucket)
        return NULL;
    c = calloc(1, sizeof *c + len + 1);
    if (!c)
        return NULL;
    c->wcount = calloc(r->nworkers, sizeof *c->wcount);
    if (!c->wcount) {
        free(c);
        return NULL;
    }
    c->hash = h;
    c->app = app;
    c->len = len;
    memcpy(c->name, ch, len);
    size_t k = (h / PG_STRIPES) % s->nbucket;
    c->next = s->bucket[k];
    s->bucket[k] = c;
    s->count++;
    return c;
}

static void unlink_chan(struct stripe *s, struct chan *c)
{
    if (c->dirty) {
        struct chan **dp = &s->dirty;
        while (*dp != c)
            dp = &(*dp)->dnext;
        *dp = c->dnext;
    }
    struct chan **pp = &s->bucket[(c->hash / PG_STRIPES) % s->nbucket];
    while (*pp != c)
        pp = &(*pp)->next;
    *pp = c->next;
    s->count--;
    chan_free(c);
}

static void conn_add(struct chan *c, unsigned w)
{
    assert(w < PG_BUS_MAX_WORKERS);
    c->subs++;
    if (c->wcount[w]++ == 0)
        c->mask |= UINT64_C(1) << w;
}

static void conn_remove(struct chan *c, unsigned w)
{
    if (c->subs > 0)
        c->subs--;
    if (c->wcount[w] > 0 && --c->wcount[w] == 0)
        c->mask &= ~(UINT64_C(1) << w);
}

long pg_registry_sub(struct pg_registry *r, int app, const char *ch, size_t len, unsigned w)
{
    uint64_t h = chan_hash(app, ch, len);
    struct stripe *s = stripe_of(r, h);
    pthread_mutex_lock(&s->lock);
    struct chan *c = find_or_add(r, s, h, app, ch, len);
    long n = -ENOMEM;
    if (c) {
        conn_add(c, w);
        n = c->subs;
        if (r->sink)
            tell(r, c, PG_REG_SUB, w, NULL, NULL, 0, NULL, 0);
        else if (n == 1)
            hook_chan(r, c, PG_HOOK_CHANNEL_OCCUPIED);
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

long pg_registry_unsub(struct pg_registry *r, int app, const char *ch, size_t len, unsigned w)
{
    uint64_t h = chan_hash(app, ch, len);
    struct stripe *s = stripe_of(r, h);
    pthread_mutex_lock(&s->lock);
    struct chan *c = find(s, h, app, ch, len);
    long n = 0;
    if (c) {
        long before = c->subs;
        conn_remove(c, w);
        n = c->subs;
        if (r->sink && before > 0)
            tell(r, c, PG_REG_UNSUB, w, NULL, NULL, 0, NULL, 0);
        if (before > 0 && n == 0)
            hook_chan(r, c, PG_HOOK_CHANNEL_VACATED);
        if (c->subs == 0 && c->nmem == 0)
            unlink_chan(s, c);
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

static struct member *member_find(struct chan *c, const char *uid, size_t ulen)
{
    for (size_t i = 0; i < c->nmem; i++)
        if (c->mem[i].ulen == ulen && memcmp(c->mem[i].uid, uid, ulen) == 0)
            return &c->mem[i];
    return NULL;
}

static void write_roster(const struct chan *c, struct pg_buf *b)
{
    pg_buf_puts(b, "{\"presence\":{\"ids\":[");
    for (size_t i = 0; i < c->nmem; i++) {
        if (i)
            pg_buf_put(b, ",", 1);
        pg_buf_json_str(b, c->mem[i].uid, c->mem[i].ulen);
    }
    pg_buf_puts(b, "],\"hash\":{");
    for (size_t i = 0; i < c->nmem; i++) {
        if (i)
            pg_buf_put(b, ",", 1);
        pg_buf_json_str(b, c->mem[i].uid, c->mem[i].ulen);
        pg_buf_put(b, ":", 1);
        if (c->mem[i].info)
            pg_buf_put(b, c->mem[i].info, c->mem[i].ilen);
        else
            pg_buf_put(b, "null", 4);
    }
    pg_buf_printf(b, "},\"count\":%zu}}", c->nmem);
}

/* Caller holds the stripe lock: the broadcast is ordered with every other roster change. */
static void broadcast_member(struct pg_registry *r, struct chan *c, const struct member *m,
                             bool added, const char *except)
{
    if (!r->bus || !c->mask)
        return;
    struct pg_buf d;
    pg_buf_init(&d);
    pg_buf_puts(&d, "{\"user_id\":");
    pg_buf_json_str(&d, m->uid, m->ulen);
    if (added) {
        pg_buf_puts(&d, ",\"user_info\":");
        if (m->info)
            pg_buf_put(&d, m->info, m->ilen);
        else
            pg_buf_put(&d, "null", 4);
    }
    pg_buf_put(&d, "}", 1);
    if (!d.oom) {
        struct pg_msg *msg =
            pg_frame_str(added ? "pusher_internal:member_added" : "pusher_internal:member_removed",
                         c->name, c->len, d.p, d.len);
        if (msg)
            pg_bus_publish(r->bus, c->mask, c->app, c->name, c->len, msg, except);
    }
    pg_buf_dispose(&d);
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

int pg_registry_presence_join(struct pg_registry *r, int app, const char *ch, size_t len,
                              unsigned w, const char *sid, const char *user_id, size_t ulen,
                              const char *user_info, size_t ilen, long max_members,
                              struct pg_buf *roster)
{
    uint64_t h = chan_hash(app, ch, len);
    struct stripe *s = stripe_of(r, h);
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    struct chan *c = find_or_add(r, s, h, app, ch, len);
    if (!c) {
        rc = -ENOMEM;
        goto out;
    }
    struct member *m = member_find(c, user_id, ulen);
    if (!m) {
        if (max_members >= 0 && (long)c->nmem >= max_members) {
            rc = -ENOSPC;
            goto out_maybe_drop;
        }
        if (c->nmem == c->capmem) {
            size_t cap = c->capmem ? c->capmem * 2 : 4;
            struct member *nm = realloc(c->mem, cap * sizeof *nm);
            if (!nm) {
                rc = -ENOMEM;
                goto out_maybe_drop;
            }
            c->mem = nm;
            c->capmem = cap;
        }
        m = &c->mem[c->nmem];
        memset(m, 0, sizeof *m);
        m->uid = dup_n(user_id, ulen);
        m->ulen = ulen;
        if (user_info) {
            m->info = dup_n(user_info, ilen);
            m->ilen = ilen;
        }
        if (!m->uid || (user_info && !m->info)) {
            free(m->uid);
            free(m->info);
            rc = -ENOMEM;
            goto out_maybe_drop;
        }
        c->nmem++;
        rc = 1;
    }
    m->conns++;
    conn_add(c, w);
    if (r->sink && tell(r, c, PG_REG_JOIN, w, sid, m->uid, m->ulen, m->info, m->ilen) == 0) {
        rc = PG_REGISTRY_DEFERRED;
        goto out;
    }
    if (c->subs == 1)
        hook_chan(r, c, PG_HOOK_CHANNEL_OCCUPIED);
    if (rc == 1) {
        broadcast_member(r, c, m, true, sid);
        if (r->hooks && !r->sink)
            pg_hooks_emit(r->hooks, app, PG_HOOK_MEMBER_ADDED, ch, len, m->uid, m->ulen);
    }
    if (roster)
        write_roster(c, roster);
    goto out;
out_maybe_drop:
    if (c->subs == 0 && c->nmem == 0)
        unlink_chan(s, c);
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int pg_registry_presence_leave(struct pg_registry *r, int app, const char *ch, size_t len,
                               unsigned w, const char *user_id, size_t ulen)
{
    uint64_t h = chan_hash(app, ch, len);
    struct stripe *s = stripe_of(r, h);
    int rc = -ENOENT;
    pthread_mutex_lock(&s->lock);
    struct chan *c = find(s, h, app, ch, len);
    struct member *m = c ? member_find(c, user_id, ulen) : NULL;
    if (m) {
        long before = c->subs;
        conn_remove(c, w);
        rc = 0;
        bool told = r->sink && tell(r, c, PG_REG_LEAVE, w, NULL, user_id, ulen, NULL, 0) == 0;
        if (--m->conns == 0) {
            struct member gone = *m;
            *m = c->mem[--c->nmem];
            if (!told)
                broadcast_member(r, c, &gone, false, NULL);
            if (r->hooks && !r->sink)
                pg_hooks_emit(r->hooks, app, PG_HOOK_MEMBER_REMOVED, ch, len, gone.uid, gone.ulen);
            free(gone.uid);
            free(gone.info);
            rc = 1;
        }
        if (before > 0 && c->subs == 0)
            hook_chan(r, c, PG_HOOK_CHANNEL_VACATED);
        if (c->subs == 0 && c->nmem == 0)
            unlink_chan(s, c);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

long pg_registry_presence_roster(struct pg_registry *r, int app, const char *ch, size_t len,
                                 struct pg_buf *roster)
{
    uint64_t h = chan_hash(app, ch, len);
    struct stripe *s = stripe_of(r, h);
    pthread_mutex_lock(&s->lock);
    struct chan *c = find(s, h, app, ch, len);
    long n = -ENOENT;
    if (c) {
        write_roster(c, roster);
        n = (long)c->nmem;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

void pg_registry_count_dirty(struct pg_registry *r, int app, const char *ch, size_t len)
{
    if (r->sink)
        return; /* cluster mode: the cluster layer sends cluster-wide counts */
    uint64_t h = chan_hash(app, ch, len);
    struct stripe *s = stripe_of(r, h);
    pthread_mutex_lock(&s->lock);
    struct chan *c = find(s, h, app, ch, len);
    if (c && !c->dirty) {
        c->dirty = true;
        c->dnext = s->dirty;
        s->dirty = c;
    }
    pthread_mutex_unlock(&s->lock);
}

int pg_registry_flush_counts(struct pg_registry *r, int64_t now_ms)
{
    int sent = 0;
    for (int i = 0; i < PG_STRIPES; i++) {
        struct stripe *s = &r->st[i];
        pthread_mutex_lock(&s->lock);
        struct chan **dp = &s->dirty;
        while (*dp) {
            struct chan *c = *dp;
            if (c->subs > 100 && now_ms - c->count_sent_ms < 5000) {
                dp = &c->dnext; /* throttled: stays marked */
                continue;
            }
            *dp = c->dnext;
            c->dirty = false;
            if (c->subs <= 0)
                continue;
            if (r->hooks)
                pg_hooks_subscription_count(r->hooks, c->app, c->name, c->len, c->subs);
            /* Marked for the webhook only (the app's own flag is off): no broadcast. */
            bool bcast = !r->cfg || (c->app >= 0 && (size_t)c->app < r->cfg->n_apps &&
                                     r->cfg->apps[c->app].subscription_count);
            if (!r->bus || !bcast) {
                c->count_sent_ms = now_ms;
                continue;
            }
            char data[64];
            int n = snprintf(data, sizeof data, "{\"subscription_count\":%ld}", c->subs);
            struct pg_msg *m = pg_frame_str("pusher_internal:subscription_count", c->name, c->len,
                                            data, (size_t)n);
            if (m && pg_bus_publish(r->bus, c->mask, c->app, c->name, c->len, m, NULL) > 0)
                sent++;
            c->count_sent_ms = now_ms;
        }
        pthread_mutex_unlock(&s->lock);
    }
    return sent;
}

uint64_t pg_registry_mask(struct pg_registry *r, int app, const char *ch, size_t len)
{
    uint64_t h = chan_hash(app, ch, len);
    struct stripe *s = stripe_of(r, h);
    pthread_mutex_lock(&s->lock);
    struct chan *c = find(s, h, app, ch, len);
    uint64_t mask = c ? c->mask : 0;
    pthread_mutex_unlock(&s->lock);
    return mask;
}

int pg_registry_stats(struct pg_registry *r, int app, const char *ch, size_t len,
                      struct pg_chan_stats *out)
{
    uint64_t h = chan_hash(app, ch, len);
    struct stripe *s = stripe_of(r, h);
    pthread_mutex_lock(&s->lock);
    struct chan *c = find(s, h, app, ch, len);
    out->subs = c ? c->subs : 0;
    out->users = c ? (long)c->nmem : 0;
    pthread_mutex_unlock(&s->lock);
    return out->subs > 0 ? 0 : -ENOENT;
}

void pg_registry_each(struct pg_registry *r, int app, const char *prefix, size_t plen,
                      pg_registry_chan_cb cb, void *ctx)
{
    for (int i = 0; i < PG_STRIPES; i++) {
        struct stripe *s = &r->st[i];
        pthread_mutex_lock(&s->lock);
        for (size_t b = 0; b < s->nbucket; b++)
            for (struct chan *c = s->bucket[b]; c; c = c->next) {
                if (c->app != app || c->subs <= 0)
                    continue;
                if (plen && (c->len < plen || memcmp(c->name, prefix, plen) != 0))
                    continue;
                struct pg_chan_stats st = {c->subs, (long)c->nmem};
                cb(ctx, c->name, c->len, &st);
            }
        pthread_mutex_unlock(&s->lock);
    }
}

long pg_registry_users(struct pg_registry *r, int app, const char *ch, size_t len,
                       pg_registry_user_cb cb, void *ctx)
{
    uint64_t h = chan_hash(app, ch, len);
    struct stripe *s = stripe_of(r, h);
    pthread_mutex_lock(&s->lock);
    struct chan *c = find(s, h, app, ch, len);
    long n = -ENOENT;
    if (c) {
        for (size_t i = 0; i < c->nmem; i++)
            cb(ctx, c->mem[i].uid, c->mem[i].ulen);
        n = (long)c->nmem;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

void pg_registry_snapshot(struct pg_registry *r, void (*begin)(void *ctx),
                          pg_registry_snap_chan on_chan, pg_registry_snap_member on_member,
                          void *ctx)
{
    for (int i = 0; i < PG_STRIPES; i++) /* always in index order: no other path holds two */
        pthread_mutex_lock(&r->st[i].lock);
    begin(ctx);
    for (int i = 0; i < PG_STRIPES; i++) {
        struct stripe *s = &r->st[i];
        for (size_t b = 0; b < s->nbucket; b++)
            for (struct chan *c = s->bucket[b]; c; c = c->next) {
                if (c->subs <= 0 || !cluster_wide(c))
                    continue;
                on_chan(ctx, c->app, c->name, c->len, c->subs);
                for (size_t k = 0; k < c->nmem; k++)
                    on_member(ctx, c->app, c->name, c->len, c->mem[k].uid, c->mem[k].ulen,
                              c->mem[k].info, c->mem[k].ilen, (long)c->mem[k].conns);
            }
    }
    for (int i = PG_STRIPES - 1; i >= 0; i--)
        pthread_mutex_unlock(&r->st[i].lock);
}
