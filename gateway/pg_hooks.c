/* pg_hooks.c - webhooks (spec 10): the producers and the engine.
 * Thread: pg_hooks_wants / pg_hooks_emit* / pg_hooks_get_stats on any thread (registry stripe
 * locks may be held: an emit is a bound check, one malloc and a short mutex append); everything
 * named pg_hooks__* on pg-hook only (srv_hook_http.c), or on a unit test's thread.
 *
 * A record goes: producer -> inbox (MPSC) -> debounce (a cluster's is in Redis, srv_cstate.c) /
 * dedupe -> every endpoint of its app whose event_types take it (FIFO per app and endpoint) -> a
 * batch (after webhook_batch_ms, at most webhook_batch_max records) -> attempts until a 2xx, a
 * final 4xx or the retry window ends. One batch per endpoint at a time (head of line): later
 * records wait and form the next batch, so each endpoint receives its events in order, at least
 * once. With a store (cluster mode) every due batch is formed and stored before its first attempt,
 * then queued behind the head one (still one at a time, in order); a dead node's batches join the
 * end. The queue bound is per app and counts records from emit until they are finished.
 */
#include "pg_hooks_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_clock.h"
#include "pg_hook_sign.h"
#include "pg_log.h"

#define BIT(t) (1u << (t))
#define MISS_SUPPRESS_MS 1000 /* a cache_miss webhook per (app, channel) at most this often */
#define OVERFLOW_LOG_MS 10000 /* one queue-full log line per this interval */
#define CLS_VACATE 'V'        /* pending channel_vacated, keyed by channel */
#define CLS_REMOVE 'R'        /* pending member_removed, keyed by channel and user id */
#define CLS_MISS 'M'          /* recent cache_miss marker, keyed by channel */

/* A debounced record or a cache_miss marker. Owned by: pg-hook. */
struct pg_hook_pend {
    struct pg_hook_pend *hnext;       /* hash chain */
    struct pg_hook_pend *prev, *next; /* due list */
    uint64_t hash;
    int64_t due;
    struct pg_hook_rec *rec; /* debounced record; NULL for a cache_miss marker */
    int app;
    int cls;
    size_t clen, ulen;
    char key[]; /* channel bytes, then user id bytes */
};

static int64_t wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- producers (any thread) ------------------------------------------------------------------ */

int pg_hooks_wants(const struct pg_hooks *h, int app, enum pg_hook_type t)
{
    return h && app >= 0 && (size_t)app < h->n_apps && (unsigned)t < PG_HOOK__COUNT &&
           (h->wants[app] & BIT(t)) != 0;
}

static void overflow(struct pg_hooks *h, int app)
{
    atomic_fetch_add(&h->dropped, 1);
    atomic_fetch_add(&h->overflow_unlogged, 1);
    int_fast64_t now = h->mono_ms(), last = atomic_load(&h->overflow_log_ms);
    if (now - last >= OVERFLOW_LOG_MS &&
        atomic_compare_exchange_strong(&h->overflow_log_ms, &last, now)) {
        unsigned long long n = (unsigned long long)atomic_exchange(&h->overflow_unlogged, 0);
        PG_LOG(PG_LOG_WARN, "hooks",
               "webhook queue of app %s is full (webhook_queue_max %d): dropped %llu webhook "
               "event(s) since the last report",
               h->cfg->apps[app].id, h->cfg->webhook_queue_max, n);
    }
}

/* Decides whether a record is taken and reserves its place in the app's queue bound. */
static bool admit(struct pg_hooks *h, int app, enum pg_hook_type t, const char *ch, size_t clen)
{
    if (!h || app < 0 || (size_t)app >= h->n_apps || (unsigned)t >= PG_HOOK__COUNT ||
        !(h->emit_mask[app] & BIT(t)))
        return false;
    if (clen && ch[0] == '#') /* #server-to-user- and other server channels (spec 10.3) */
        return false;
    if (atomic_load(&h->stopping)) {
        atomic_fetch_add(&h->dropped, 1);
        return false;
    }
    if (atomic_fetch_add(&h->pending[app], 1) >= h->cfg->webhook_queue_max) {
        atomic_fetch_sub(&h->pending[app], 1);
        overflow(h, app);
        return false;
    }
    atomic_fetch_add(&h->queued, 1);
    return true;
}

static void unadmit(struct pg_hooks *h, int app)
{
    atomic_fetch_sub(&h->pending[app], 1);
    atomic_fetch_sub(&h->queued, 1);
    atomic_fetch_add(&h->dropped, 1);
}

static char *put(char **p, const char *s, size_t n)
{
    char *d = *p;
    if (n)
        memcpy(d, s, n);
    d[n] = 0;
    *p += n + 1;
    return d;
}

static void submit(struct pg_hooks *h, int app, enum pg_hook_type t, const char *ch, size_t clen,
                   const char *uid, size_t ulen, const char *ev, size_t elen, const char *data,
                   size_t dlen, const char *sid, long count)
{
    size_t slen = sid ? strlen(sid) : 0;
    struct pg_hook_rec *r =
        malloc(sizeof *r + clen + ulen + elen + dlen + slen + 5); /* five NULs */
    if (!r) {
        unadmit(h, app);
        return;
    }
    memset(r, 0, sizeof *r);
    char *p = r->buf;
    r->refs = 1;
    r->app = app;
    r->type = t;
    r->time_ms = h->wall_ms();
    r->mono_ms = h->mono_ms();
    r->count = count;
    r->ch = put(&p, ch, clen);
    r->clen = clen;
    if (uid) {
        r->uid = put(&p, uid, ulen);
        r->ulen = ulen;
    }
    if (ev) {
        r->ev = put(&p, ev, elen);
        r->elen = elen;
    }
    if (data) {
        r->data = put(&p, data, dlen);
        r->dlen = dlen;
    }
    if (sid)
        r->sid = put(&p, sid, slen);
    pthread_mutex_lock(&h->lock);
    bool was_empty = h->in_head == NULL;
    if (h->in_tail)
        h->in_tail->next = r;
    else
        h->in_head = r;
    h->in_tail = r;
    pthread_mutex_unlock(&h->lock);
    if (was_empty && h->tp.wake)
        h->tp.wake(h->tp.ctx);
}

void pg_hooks_emit(struct pg_hooks *h, int app, enum pg_hook_type t, const char *ch, size_t clen,
                   const char *user_id, size_t ulen)
{
    if (t == PG_HOOK_CLIENT_EVENT || t == PG_HOOK_SUBSCRIPTION_COUNT || !admit(h, app, t, ch, clen))
        return;
    bool member = t == PG_HOOK_MEMBER_ADDED || t == PG_HOOK_MEMBER_REMOVED;
    submit(h, app, t, ch, clen, member ? (user_id ? user_id : "") : NULL, member ? ulen : 0, NULL,
           0, NULL, 0, NULL, 0);
}

void pg_hooks_client_event(struct pg_hooks *h, int app, const char *ch, size_t clen,
                           const char *event, size_t elen, const char *data_json, size_t dlen,
                           const char *socket_id, const char *user_id, size_t ulen)
{
    if (!admit(h, app, PG_HOOK_CLIENT_EVENT, ch, clen))
        return;
    submit(h, app, PG_HOOK_CLIENT_EVENT, ch, clen, user_id, user_id ? ulen : 0, event ? event : "",
           event ? elen : 0, data_json ? data_json : "null", data_json ? dlen : 4, socket_id, 0);
}

void pg_hooks_subscription_count(struct pg_hooks *h, int app, const char *ch, size_t clen,
                                 long count)
{
    if (admit(h, app, PG_HOOK_SUBSCRIPTION_COUNT, ch, clen))
        submit(h, app, PG_HOOK_SUBSCRIPTION_COUNT, ch, clen, NULL, 0, NULL, 0, NULL, 0, NULL,
               count);
}

void pg_hooks_get_stats(struct pg_hooks *h, struct pg_hooks_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!h)
        return;
    out->sent = atomic_load(&h->sent);
    out->retried = atomic_load(&h->retried);
    out->dropped = atomic_load(&h->dropped);
    out->failed = atomic_load(&h->failed);
    long q = atomic_load(&h->queued);
    out->queued = q > 0 ? (uint64_t)q : 0;
}

/* ---- records (pg-hook) ----------------------------------------------------------------------- */

static void rec_unref(struct pg_hooks *h, struct pg_hook_rec *r)
{
    if (--r->refs > 0)
        return;
    atomic_fetch_sub(&h->pending[r->app], 1);
    atomic_fetch_sub(&h->queued, 1);
    free(r);
}

static int ep_push(struct pg_hook_ep *ep, struct pg_hook_rec *r)
{
    if (ep->qlen == ep->qcap) {
        size_t cap = ep->qcap ? ep->qcap * 2 : 16;
        struct pg_hook_rec **q = malloc(cap * sizeof *q);
        if (!q)
            return -ENOMEM;
        for (size_t i = 0; i < ep->qlen; i++)
            q[i] = ep->q[(ep->qhead + i) % ep->qcap];
        free(ep->q);
        ep->q = q;
        ep->qcap = cap;
        ep->qhead = 0;
    }
    ep->q[(ep->qhead + ep->qlen++) % ep->qcap] = r;
    r->refs++;
    return 0;
}

static struct pg_hook_rec *ep_pop(struct pg_hook_ep *ep)
{
    struct pg_hook_rec *r = ep->q[ep->qhead];
    ep->qhead = (ep->qhead + 1) % ep->qcap;
    ep->qlen--;
    return r;
}

/* Hands r (the caller's reference) to every endpoint of its app that takes its type. */
static void release(struct pg_hooks *h, struct pg_hook_rec *r)
{
    for (size_t i = h->ep_off[r->app]; i < h->ep_off[r->app + 1]; i++) {
        struct pg_hook_ep *ep = &h->eps[i];
        if ((ep->types & BIT(r->type)) && ep_push(ep, r) < 0)
            atomic_fetch_add(&h->dropped, 1);
    }
    rec_unref(h, r);
}

/* ---- pending debounces and cache_miss markers ------------------------------------------------ */

static uint64_t pend_hash(int cls, int app, const char *ch, size_t clen, const char *uid,
                          size_t ulen)
{
    uint64_t x = 1469598103934665603ULL ^ ((uint64_t)(unsigned)app << 8) ^ (uint64_t)cls;
    for (size_t i = 0; i < clen; i++)
        x = (x ^ (unsigned char)ch[i]) * 1099511628211ULL;
    x = (x ^ 0xffu) * 1099511628211ULL; /* separator: (ab, c) != (a, bc) */
    for (size_t i = 0; i < ulen; i++)
        x = (x ^ (unsigned char)uid[i]) * 1099511628211ULL;
    return x ^ (x >> 31);
}

static struct pg_hook_pend *pend_find(struct pg_hooks *h, int cls, int app, const char *ch,
                                      size_t clen, const char *uid, size_t ulen)
{
    if (!h->pcap)
        return NULL;
    uint64_t hv = pend_hash(cls, app, ch, clen, uid, ulen);
    for (struct pg_hook_pend *p = h->ptab[hv & (h->pcap - 1)]; p; p = p->hnext)
        if (p->hash == hv && p->cls == cls && p->app == app && p->clen == clen && p->ulen == ulen &&
            !memcmp(p->key, ch, clen) && (!ulen || !memcmp(p->key + clen, uid, ulen)))
            return p;
    return NULL;
}

static int pend_grow(struct pg_hooks *h)
{
    size_t cap = h->pcap ? h->pcap * 2 : 64;
    struct pg_hook_pend **t = calloc(cap, sizeof *t);
    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < h->pcap; i++)
        for (struct pg_hook_pend *p = h->ptab[i], *n; p; p = n) {
            n = p->hnext;
            p->hnext = t[p->hash & (cap - 1)];
            t[p->hash & (cap - 1)] = p;
        }
    free(h->ptab);
    h->ptab = t;
    h->pcap = cap;
    return 0;
}

static struct pg_hook_pend **due_head(struct pg_hooks *h, int cls)
{
    return cls == CLS_MISS ? &h->miss_head : &h->deb_head;
}

static struct pg_hook_pend **due_tail(struct pg_hooks *h, int cls)
{
    return cls == CLS_MISS ? &h->miss_tail : &h->deb_tail;
}

/* Appends to the due list: every entry of one list waits the same delay, so it stays sorted. */
static int pend_add(struct pg_hooks *h, int cls, int app, const char *ch, size_t clen,
                    const char *uid, size_t ulen, int64_t due, struct pg_hook_rec *rec)
{
    if (h->pcount >= h->pcap && pend_grow(h) < 0 && !h->pcap)
        return -ENOMEM;
    struct pg_hook_pend *p = malloc(sizeof *p + clen + ulen);
    if (!p)
        return -ENOMEM;
    p->hash = pend_hash(cls, app, ch, clen, uid, ulen);
    p->due = due;
    p->rec = rec;
    p->app = app;
    p->cls = cls;
    p->clen = clen;
    p->ulen = ulen;
    memcpy(p->key, ch, clen);
    if (ulen)
        memcpy(p->key + clen, uid, ulen);
    struct pg_hook_pend **slot = &h->ptab[p->hash & (h->pcap - 1)];
    p->hnext = *slot;
    *slot = p;
    struct pg_hook_pend **tail = due_tail(h, cls);
    p->next = NULL;
    p->prev = *tail;
    if (*tail)
        (*tail)->next = p;
    else
        *due_head(h, cls) = p;
    *tail = p;
    h->pcount++;
    return 0;
}

static void pend_remove(struct pg_hooks *h, struct pg_hook_pend *p)
{
    struct pg_hook_pend **pp = &h->ptab[p->hash & (h->pcap - 1)];
    while (*pp != p)
        pp = &(*pp)->hnext;
    *pp = p->hnext;
    if (p->prev)
        p->prev->next = p->next;
    else
        *due_head(h, p->cls) = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        *due_tail(h, p->cls) = p->prev;
    h->pcount--;
    free(p);
}

/* ---- ingest (pg-hook) ------------------------------------------------------------------------ */

static void ingest(struct pg_hooks *h, struct pg_hook_rec *r, int64_t now)
{
    const struct pg_config *cfg = h->cfg;
    bool member = r->type == PG_HOOK_MEMBER_ADDED || r->type == PG_HOOK_MEMBER_REMOVED;
    int cls = member ? CLS_REMOVE : CLS_VACATE;
    const char *uid = member ? r->uid : NULL;
    size_t ulen = member ? r->ulen : 0;
    struct pg_hook_pend *p;
    switch (r->type) {
    case PG_HOOK_CHANNEL_VACATED:
    case PG_HOOK_MEMBER_REMOVED:
        if (cfg->webhook_debounce_ms <= 0 || cfg->redis_url || atomic_load(&h->stopping)) {
            release(h, r);
            return;
        }
        /* A second leave without a join in between cannot come from the registry; if it does,
         * the older one goes out now rather than being lost. */
        if ((p = pend_find(h, cls, r->app, r->ch, r->clen, uid, ulen))) {
            struct pg_hook_rec *old = p->rec;
            pend_remove(h, p);
            release(h, old);
        }
        /* The delay counts from the leave itself, not from when pg-hook got to it. */
        if (pend_add(h, cls, r->app, r->ch, r->clen, uid, ulen,
                     r->mono_ms + cfg->webhook_debounce_ms, r) < 0)
            release(h, r); /* out of memory: send it undebounced */
        return;
    case PG_HOOK_CHANNEL_OCCUPIED:
    case PG_HOOK_MEMBER_ADDED:
        if ((p = pend_find(h, cls, r->app, r->ch, r->clen, uid, ulen))) {
            /* Re-occupied / re-joined within the debounce: neither webhook is sent. */
            rec_unref(h, p->rec);
            pend_remove(h, p);
            rec_unref(h, r);
            return;
        }
        release(h, r);
        return;
    case PG_HOOK_CACHE_MISS:
        if ((p = pend_find(h, CLS_MISS, r->app, r->ch, r->clen, NULL, 0))) {
            if (p->due > now) {
                rec_unref(h, r); /* a miss for this channel is still outstanding */
                return;
            }
            pend_remove(h, p);
        }
        pend_add(h, CLS_MISS, r->app, r->ch, r->clen, NULL, 0, now + MISS_SUPPRESS_MS, NULL);
        release(h, r);
        return;
    default:
        release(h, r);
        return;
    }
}

static void expire(struct pg_hooks *h, int64_t now)
{
    bool all = atomic_load(&h->stopping);
    while (h->deb_head && (all || h->deb_head->due <= now)) {
        struct pg_hook_rec *r = h->deb_head->rec;
        pend_remove(h, h->deb_head);
        release(h, r);
    }
    while (h->miss_head && h->miss_head->due <= now)
        pend_remove(h, h->miss_head);
}

/* ---- batches and attempts (pg-hook) ---------------------------------------------------------- */

static uint32_t rnd32(struct pg_hooks *h)
{
    uint64_t x = h->rnd; /* xorshift64*: jitter only, no secrecy needed */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    h->rnd = x;
    return (uint32_t)((x * 2685821657736338717ULL) >> 32);
}

int64_t pg_hooks__backoff(int attempt, int64_t min_ms, int64_t max_ms, uint32_t rnd)
{
    if (max_ms < min_ms)
        max_ms = min_ms;
    int64_t base = min_ms;
    for (int i = 1; i < attempt && base < max_ms; i++)
        base *= 2;
    if (base > max_ms)
        base = max_ms;
    int64_t d = base - (int64_t)(rnd % (uint64_t)(base / 5 + 1));
    return d < min_ms ? min_ms : d;
}

bool pg_hooks__retryable(long status)
{
    return status < 400 || status >= 500 || status == 408 || status == 429;
}

static void batch_free(struct pg_hooks *h, struct pg_hook_batch *b)
{
    if (b->adopted)
        atomic_fetch_sub(&h->queued, (long)b->n);
    for (size_t i = 0; b->recs && i < b->n; i++)
        rec_unref(h, b->recs[i]);
    free(b->recs);
    free(b->body);
    free(b);
}

static bool ep_ready(const struct pg_hooks *h, const struct pg_hook_ep *ep, int64_t now)
{
    const struct pg_config *cfg = h->cfg;
    return ep->qlen > 0 && (atomic_load(&h->stopping) || cfg->webhook_batch_ms <= 0 ||
                            ep->qlen >= (size_t)cfg->webhook_batch_max ||
                            now >= ep->q[ep->qhead]->mono_ms + cfg->webhook_batch_ms);
}

static void attempt(struct pg_hooks *h, struct pg_hook_batch *b, int64_t now)
{
    b->in_flight = true;
    if (b->attempts++ == 0 && !b->adopted) /* an adopted batch keeps its age */
        b->first_ms = now;
    if (h->tp.start(h->tp.ctx, b) < 0)
        pg_hooks__result(h, b, 0, "could not start the request", now);
}

/* Takes the next batch off ep's queue: the body and its signature are built here, once. */
static struct pg_hook_batch *make_batch(struct pg_hooks *h, struct pg_hook_ep *ep)
{
    const struct pg_config *cfg = h->cfg;
    size_t n = cfg->webhook_batch_ms <= 0 ? 1 : ep->qlen;
    if (n > (size_t)cfg->webhook_batch_max)
        n = (size_t)cfg->webhook_batch_max;
    struct pg_hook_batch *b = calloc(1, sizeof *b);
    struct pg_hook_rec **recs = calloc(n, sizeof *recs);
    if (b && recs) {
        for (size_t i = 0; i < n; i++)
            recs[i] = ep->q[(ep->qhead + i) % ep->qcap];
        pg_hook__body(&h->scratch, recs, n);
        if (!h->scratch.oom && (b->body = malloc(h->scratch.len))) {
            memcpy(b->body, h->scratch.p, h->scratch.len);
            b->blen = h->scratch.len;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct pg_hook_rec *r = ep_pop(ep);
        if (b && b->body)
            continue; /* the batch takes over the queue's reference */
        atomic_fetch_add(&h->dropped, 1);
        rec_unref(h, r);
    }
    if (h->scratch.cap > 1u << 20) /* one huge batch should not pin its memory */
        pg_buf_dispose(&h->scratch);
    if (!b || !b->body) {
        PG_LOG(PG_LOG_ERROR, "hooks", "app %s webhook #%u: out of memory, dropped %zu event(s)",
               ep->cfg_app->id, ep->idx, n);
        free(recs);
        free(b);
        return NULL;
    }
    b->ep = ep;
    b->recs = recs;
    b->n = n;
    b->created_wall = h->wall_ms();
    pg_hook_sign(ep->cfg_app->secret, ep->cfg_app->secret_len, b->body, b->blen, b->sig);
    return b;
}

void pg_hooks__pump(struct pg_hooks *h, int64_t now)
{
    pthread_mutex_lock(&h->lock);
    struct pg_hook_rec *r = h->in_head;
    h->in_head = h->in_tail = NULL;
    pthread_mutex_unlock(&h->lock);
    while (r) {
        struct pg_hook_rec *next = r->next;
        r->next = NULL;
        ingest(h, r, now);
        r = next;
    }
    expire(h, now);
    for (size_t i = 0; i < h->n_eps; i++) {
        struct pg_hook_ep *ep = &h->eps[i];
        /* Single node: a batch is formed only when the previous one is finished. */
        while ((!ep->batch || h->store.persist) && ep_ready(h, ep, now)) {
            struct pg_hook_batch *b = make_batch(h, ep);
            if (!b)
                continue; /* dropped and counted; its records are off the queue */
            if (h->store.persist)
                h->store.persist(h->store.ctx, b);
            if (ep->btail)
                ep->btail->next = b;
            else
                ep->batch = b;
            ep->btail = b;
        }
        if (ep->batch && !ep->batch->in_flight && now >= ep->batch->next_ms)
            attempt(h, ep->batch, now);
    }
}

void pg_hooks__adopt(struct pg_hooks *h, struct pg_hook_batch *b)
{
    struct pg_hook_ep *ep = b->ep;
    b->adopted = true;
    b->next = NULL;
    atomic_fetch_add(&h->queued, (long)b->n);
    if (ep->btail)
        ep->btail->next = b;
    else
        ep->batch = b;
    ep->btail = b;
}

/* b, the head of its endpoint, is finished: the next batch becomes the head. */
static void finish(struct pg_hooks *h, struct pg_hook_batch *b)
{
    struct pg_hook_ep *ep = b->ep;
    ep->batch = b->next;
    if (!ep->batch)
        ep->btail = NULL;
    if (h->store.finished)
        h->store.finished(h->store.ctx, b);
    batch_free(h, b);
}

void pg_hooks__result(struct pg_hooks *h, struct pg_hook_batch *b, long status, const char *detail,
                      int64_t now)
{
    const struct pg_config *cfg = h->cfg;
    struct pg_hook_ep *ep = b->ep;
    b->in_flight = false;
    b->xfer = NULL;
    if (status >= 200 && status < 300) {
        atomic_fetch_add(&h->sent, 1);
        if (b->attempts > 1)
            PG_LOG(PG_LOG_INFO, "hooks", "app %s webhook #%u: delivered after %d attempts",
                   ep->cfg_app->id, ep->idx, b->attempts);
        finish(h, b);
        return;
    }
    char why[160];
    if (status)
        snprintf(why, sizeof why, "HTTP %ld", status);
    else
        snprintf(why, sizeof why, "%.150s", detail ? detail : "no response");
    if (!pg_hooks__retryable(status)) {
        atomic_fetch_add(&h->failed, 1);
        PG_LOG(PG_LOG_WARN, "hooks", "app %s webhook #%u: %s, not retried; %zu event(s) lost",
               ep->cfg_app->id, ep->idx, why, b->n);
        finish(h, b);
        return;
    }
    if (now - b->first_ms >= (int64_t)cfg->webhook_retry_window_s * 1000) {
        atomic_fetch_add(&h->dropped, b->n);
        PG_LOG(PG_LOG_WARN, "hooks",
               "app %s webhook #%u: %s after %d attempts over %lld s; %zu event(s) dropped",
               ep->cfg_app->id, ep->idx, why, b->attempts, (long long)((now - b->first_ms) / 1000),
               b->n);
        finish(h, b);
        return;
    }
    atomic_fetch_add(&h->retried, 1);
    b->next_ms = now + pg_hooks__backoff(b->attempts, cfg->webhook_retry_min_ms,
                                         cfg->webhook_retry_max_ms, rnd32(h));
    if (b->attempts == 1)
        PG_LOG(PG_LOG_WARN, "hooks", "app %s webhook #%u: %s; retrying with backoff",
               ep->cfg_app->id, ep->idx, why);
    else
        PG_LOG(PG_LOG_DEBUG, "hooks", "app %s webhook #%u: %s (attempt %d); next in %lld ms",
               ep->cfg_app->id, ep->idx, why, b->attempts, (long long)(b->next_ms - now));
}

int64_t pg_hooks__next_due(const struct pg_hooks *h, int64_t now)
{
    int64_t t = INT64_MAX;
    if (h->deb_head)
        t = h->deb_head->due;
    if (h->miss_head && h->miss_head->due < t)
        t = h->miss_head->due;
    for (size_t i = 0; i < h->n_eps; i++) {
        const struct pg_hook_ep *ep = &h->eps[i];
        int64_t e = INT64_MAX;
        if (ep->batch && !ep->batch->in_flight)
            e = ep->batch->next_ms;
        if (!ep->batch || h->store.persist) {
            int64_t f = INT64_MAX;
            if (ep_ready(h, ep, now))
                f = now;
            else if (ep->qlen)
                f = ep->q[ep->qhead]->mono_ms + h->cfg->webhook_batch_ms;
            if (f < e)
                e = f;
        }
        if (e < t)
            t = e;
    }
    return t;
}

long pg_hooks__outstanding(struct pg_hooks *h) { return atomic_load(&h->queued); }

void pg_hooks__abandon(struct pg_hooks *h)
{
    unsigned long long n = 0;
    pthread_mutex_lock(&h->lock);
    struct pg_hook_rec *r = h->in_head;
    h->in_head = h->in_tail = NULL;
    pthread_mutex_unlock(&h->lock);
    for (struct pg_hook_rec *next; r; r = next) {
        next = r->next;
        n++;
        rec_unref(h, r);
    }
    while (h->deb_head) {
        r = h->deb_head->rec;
        pend_remove(h, h->deb_head);
        n++;
        rec_unref(h, r);
    }
    while (h->miss_head)
        pend_remove(h, h->miss_head);
    unsigned long long kept = 0;
    for (size_t i = 0; i < h->n_eps; i++) {
        struct pg_hook_ep *ep = &h->eps[i];
        while (ep->batch) {
            struct pg_hook_batch *b = ep->batch;
            ep->batch = b->next;
            if (b->persisted)
                kept += b->n;
            else
                n += b->n;
            batch_free(h, b);
        }
        ep->btail = NULL;
        while (ep->qlen) {
            n++;
            rec_unref(h, ep_pop(ep));
        }
    }
    atomic_fetch_add(&h->dropped, n);
    if (n)
        PG_LOG(PG_LOG_WARN, "hooks", "shutdown: abandoned %llu undelivered webhook event(s)", n);
    if (kept)
        PG_LOG(PG_LOG_INFO, "hooks",
               "shutdown: %llu undelivered webhook event(s) left in Redis for another node", kept);
}

/* ---- creation -------------------------------------------------------------------------------- */

static uint32_t types_of(const struct pg_webhook *w)
{
    if (!w->n_event_types)
        return BIT(PG_HOOK__COUNT) - 1;
    uint32_t m = 0;
    for (size_t i = 0; i < w->n_event_types; i++)
        for (unsigned t = 0; t < PG_HOOK__COUNT; t++)
            if (!strcmp(w->event_types[i], pg_hook__type_name((enum pg_hook_type)t)))
                m |= BIT(t);
    return m;
}

struct pg_hooks *pg_hooks__new(const struct pg_config *cfg, const struct pg_hook_tp *tp, char *err,
                               size_t errlen)
{
    struct pg_hooks *h = calloc(1, sizeof *h);
    size_t na = cfg->n_apps, ne = 0;
    for (size_t a = 0; a < na; a++)
        ne += cfg->apps[a].n_webhooks;
    if (h) {
        h->wants = calloc(na ? na : 1, sizeof *h->wants);
        h->emit_mask = calloc(na ? na : 1, sizeof *h->emit_mask);
        h->pending = calloc(na ? na : 1, sizeof *h->pending);
        h->ep_off = calloc(na + 1, sizeof *h->ep_off);
        h->eps = calloc(ne ? ne : 1, sizeof *h->eps);
    }
    if (!h || !h->wants || !h->emit_mask || !h->pending || !h->ep_off || !h->eps) {
        if (h) {
            free(h->wants);
            free(h->emit_mask);
            free(h->pending);
            free(h->ep_off);
            free(h->eps);
            free(h);
        }
        snprintf(err, errlen, "webhooks: out of memory");
        return NULL;
    }
    h->cfg = cfg;
    h->tp = *tp;
    h->mono_ms = pg_now_ms;
    h->wall_ms = wall_now;
    h->n_apps = na;
    h->n_eps = ne;
    h->overflow_log_ms = INT64_MIN / 2;
    h->rnd = ((uint64_t)wall_now() << 20) ^ (uint64_t)(uintptr_t)h ^ 0x9e3779b97f4a7c15ULL;
    pthread_mutex_init(&h->lock, NULL);
    pg_buf_init(&h->scratch);
    size_t k = 0;
    for (size_t a = 0; a < na; a++) {
        const struct pg_app *app = &cfg->apps[a];
        h->ep_off[a] = k;
        for (size_t i = 0; i < app->n_webhooks; i++, k++) {
            struct pg_hook_ep *ep = &h->eps[k];
            ep->app = (int)a;
            ep->idx = (unsigned)i;
            ep->cfg_app = app;
            ep->cfg = &app->webhooks[i];
            ep->types = types_of(ep->cfg);
            h->wants[a] |= ep->types;
        }
        /* A join must reach the engine whenever a leave is wanted: it cancels the debounced
         * leave even when nobody takes the join itself. */
        uint32_t m = h->wants[a];
        if (m & BIT(PG_HOOK_CHANNEL_VACATED))
            m |= BIT(PG_HOOK_CHANNEL_OCCUPIED);
        if (m & BIT(PG_HOOK_MEMBER_REMOVED))
            m |= BIT(PG_HOOK_MEMBER_ADDED);
        h->emit_mask[a] = m;
    }
    h->ep_off[na] = k;
    return h;
}

void pg_hooks__free(struct pg_hooks *h)
{
    if (!h)
        return;
    pg_hooks__abandon(h); /* normally a no-op: stop has flushed or abandoned everything */
    for (size_t i = 0; i < h->n_eps; i++)
        free(h->eps[i].q);
    free(h->ptab);
    free(h->eps);
    free(h->ep_off);
    free(h->wants);
    free(h->emit_mask);
    free(h->pending);
    pg_buf_dispose(&h->scratch);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
