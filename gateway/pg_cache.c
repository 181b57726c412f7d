/* pg_cache.c - last event of each cache channel (see pg_cache.h; spec 4.8, 9.6).
 * Guarded by: st[hash % PG_CACHE_STRIPES].lock for every entry of that stripe.
 * Thread: any. The REST thread puts, ws workers get on subscribe, main purges periodically.
 *
 * Entries own private copies of the frame bytes and the data string: a pg_msg's refcount is a
 * plain int and may only be touched by one thread, so the cache never hands out or keeps a
 * reference to a message somebody else holds. Copies are made outside the lock when putting;
 * get and info copy under the lock (one memcpy of at most a few KB).
 * Expired entries are invisible at once and freed by the next put on the same name or by
 * pg_cache_purge.
 */
#include "pg_cache.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PG_CACHE_STRIPES 32

struct entry {
    struct entry *next;
    uint64_t hash;
    int app;
    int64_t expires_ms;   /* monotonic; the entry is gone when now_ms >= expires_ms */
    struct pg_msg *frame; /* owned copy, refs = 1, never shared */
    char *data;           /* owned copy, dlen bytes + NUL */
    size_t dlen;
    size_t len;
    char name[]; /* len bytes + NUL */
};

struct stripe {
    pthread_mutex_t lock;
    struct entry **bucket;
    size_t nbucket, count;
};

struct pg_cache {
    struct stripe st[PG_CACHE_STRIPES];
};

static uint64_t key_hash(int app, const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(unsigned)app;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

static struct stripe *stripe_of(struct pg_cache *c, uint64_t h)
{
    return &c->st[h % PG_CACHE_STRIPES];
}

static size_t slot(const struct stripe *s, uint64_t h)
{
    return (size_t)((h / PG_CACHE_STRIPES) % s->nbucket);
}

static void entry_free(struct entry *e)
{
    if (!e)
        return;
    pg_msg_unref(e->frame);
    free(e->data);
    free(e);
}

struct pg_cache *pg_cache_create(void)
{
    struct pg_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    for (int i = 0; i < PG_CACHE_STRIPES; i++)
        pthread_mutex_init(&c->st[i].lock, NULL);
    return c;
}

void pg_cache_destroy(struct pg_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < PG_CACHE_STRIPES; i++) {
        struct stripe *s = &c->st[i];
        for (size_t b = 0; b < s->nbucket; b++) {
            struct entry *e = s->bucket[b];
            while (e) {
                struct entry *next = e->next;
                entry_free(e);
                e = next;
            }
        }
        free(s->bucket);
        pthread_mutex_destroy(&s->lock);
    }
    free(c);
}

/* Caller holds the stripe lock. pp receives the link that points at the entry. */
static struct entry *find(struct stripe *s, uint64_t h, int app, const char *ch, size_t len,
                          struct entry ***pp)
{
    if (!s->nbucket)
        return NULL;
    for (struct entry **p = &s->bucket[slot(s, h)]; *p; p = &(*p)->next) {
        struct entry *e = *p;
        if (e->hash == h && e->app == app && e->len == len && memcmp(e->name, ch, len) == 0) {
            if (pp)
                *pp = p;
            return e;
        }
    }
    return NULL;
}

/* Caller holds the stripe lock. A failed grow keeps the old table (longer chains, still right). */
static void grow(struct stripe *s)
{
    size_t nb = s->nbucket ? s->nbucket * 2 : 16;
    struct entry **b = calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < s->nbucket; i++) {
        struct entry *e = s->bucket[i];
        while (e) {
            struct entry *next = e->next;
            size_t k = (size_t)((e->hash / PG_CACHE_STRIPES) % nb);
            e->next = b[k];
            b[k] = e;
            e = next;
        }
    }
    free(s->bucket);
    s->bucket = b;
    s->nbucket = nb;
}

/* Removes (app, ch) if present; caller holds the lock and frees the returned entry later. */
static struct entry *take_out(struct stripe *s, uint64_t h, int app, const char *ch, size_t len)
{
    struct entry **pp = NULL;
    struct entry *e = find(s, h, app, ch, len, &pp);
    if (e) {
        *pp = e->next;
        s->count--;
    }
    return e;
}

int pg_cache_put(struct pg_cache *c, int app, const char *ch, size_t len,
                 const struct pg_msg *frame, const char *data, size_t dlen, int64_t now_ms,
                 int64_t ttl_ms)
{
    uint64_t h = key_hash(app, ch, len);
    struct stripe *s = stripe_of(c, h);
    struct entry *old;

    if (ttl_ms <= 0) { /* nothing to keep: forget what was there */
        pthread_mutex_lock(&s->lock);
        old = take_out(s, h, app, ch, len);
        pthread_mutex_unlock(&s->lock);
        entry_free(old);
        return 0;
    }

    struct entry *e = calloc(1, sizeof *e + len + 1);
    if (!e)
        return -ENOMEM;
    e->frame = pg_msg_copy(frame);
    e->data = malloc(dlen + 1);
    if (!e->frame || !e->data) {
        entry_free(e);
        return -ENOMEM;
    }
    if (dlen)
        memcpy(e->data, data, dlen);
    e->data[dlen] = '\0';
    e->dlen = dlen;
    e->hash = h;
    e->app = app;
    e->len = len;
    memcpy(e->name, ch, len);
    e->expires_ms = ttl_ms > INT64_MAX - now_ms ? INT64_MAX : now_ms + ttl_ms;

    pthread_mutex_lock(&s->lock);
    old = take_out(s, h, app, ch, len);
    if (s->count >= s->nbucket)
        grow(s);
    if (!s->nbucket) { /* the very first table could not be allocated */
        pthread_mutex_unlock(&s->lock);
        entry_free(old);
        entry_free(e);
        return -ENOMEM;
    }
    size_t k = slot(s, h);
    e->next = s->bucket[k];
    s->bucket[k] = e;
    s->count++;
    pthread_mutex_unlock(&s->lock);
    entry_free(old); /* outside the lock */
    return 0;
}

struct pg_msg *pg_cache_get(struct pg_cache *c, int app, const char *ch, size_t len, int64_t now_ms)
{
    uint64_t h = key_hash(app, ch, len);
    struct stripe *s = stripe_of(c, h);
    struct pg_msg *m = NULL;

    pthread_mutex_lock(&s->lock);
    struct entry *e = find(s, h, app, ch, len, NULL);
    if (e && now_ms < e->expires_ms)
        m = pg_msg_from(pg_msg_data(e->frame), e->frame->len);
    pthread_mutex_unlock(&s->lock);
    return m;
}

int pg_cache_info(struct pg_cache *c, int app, const char *ch, size_t len, int64_t now_ms,
                  struct pg_buf *out)
{
    uint64_t h = key_hash(app, ch, len);
    struct stripe *s = stripe_of(c, h);
    int rc = -ENOENT;

    pthread_mutex_lock(&s->lock);
    struct entry *e = find(s, h, app, ch, len, NULL);
    if (e && now_ms < e->expires_ms) {
        /* whole seconds, rounded up: an entry with 300 ms left still reports 1 */
        int64_t left = e->expires_ms - now_ms;
        int64_t ttl = left / 1000 + (left % 1000 != 0);
        pg_buf_puts(out, "{\"data\":");
        pg_buf_json_str(out, e->data, e->dlen);
        pg_buf_printf(out, ",\"ttl\":%" PRId64 "}", ttl < 1 ? 1 : ttl);
        rc = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

size_t pg_cache_purge(struct pg_cache *c, int64_t now_ms)
{
    size_t n = 0;

    for (int i = 0; i < PG_CACHE_STRIPES; i++) {
        struct stripe *s = &c->st[i];
        struct entry *dead = NULL;
        pthread_mutex_lock(&s->lock);
        for (size_t b = 0; b < s->nbucket; b++) {
            struct entry **pp = &s->bucket[b];
            while (*pp) {
                struct entry *e = *pp;
                if (now_ms >= e->expires_ms) {
                    *pp = e->next;
                    e->next = dead;
                    dead = e;
                    s->count--;
                    n++;
                } else {
                    pp = &e->next;
                }
            }
        }
        pthread_mutex_unlock(&s->lock);
        while (dead) { /* freed outside the lock */
            struct entry *next = dead->next;
            entry_free(dead);
            dead = next;
        }
    }
    return n;
}
