/* ws_chanidx.c - per-worker channel index (see ws_chanidx.h). Thread: its ws worker only. */
#include "ws_chanidx.h"

#include <stdlib.h>
#include <string.h>

struct ws_chanidx {
    struct ws_chan **bucket;
    size_t nbucket, count;
};

static uint64_t hash_of(int app, const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(unsigned)app;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 31);
}

struct ws_chanidx *ws_chanidx_create(void) { return calloc(1, sizeof(struct ws_chanidx)); }

void ws_chanidx_destroy(struct ws_chanidx *ix)
{
    if (!ix)
        return;
    for (size_t b = 0; b < ix->nbucket; b++) {
        struct ws_chan *c = ix->bucket[b];
        while (c) {
            struct ws_chan *next = c->next;
            free(c->ent);
            free(c);
            c = next;
        }
    }
    free(ix->bucket);
    free(ix);
}

struct ws_chan *ws_chanidx_find(struct ws_chanidx *ix, int app, const char *ch, size_t len)
{
    if (!ix->nbucket)
        return NULL;
    uint64_t h = hash_of(app, ch, len);
    for (struct ws_chan *c = ix->bucket[h % ix->nbucket]; c; c = c->next)
        if (c->hash == h && c->app == app && c->len == len && memcmp(c->name, ch, len) == 0)
            return c;
    return NULL;
}

struct ws_sub *ws_chanidx_sub_of(struct ws_conn *c, int app, const char *ch, size_t len)
{
    for (uint32_t i = 0; i < c->nsubs; i++) {
        struct ws_chan *k = c->subs[i].ch;
        if (k->app == app && k->len == len && memcmp(k->name, ch, len) == 0)
            return &c->subs[i];
    }
    return NULL;
}

static int grow(struct ws_chanidx *ix)
{
    size_t nb = ix->nbucket ? ix->nbucket * 2 : 64;
    struct ws_chan **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < ix->nbucket; i++) {
        struct ws_chan *c = ix->bucket[i];
        while (c) {
            struct ws_chan *next = c->next;
            c->next = b[c->hash % nb];
            b[c->hash % nb] = c;
            c = next;
        }
    }
    free(ix->bucket);
    ix->bucket = b;
    ix->nbucket = nb;
    return 0;
}

static struct ws_chan *chan_get(struct ws_chanidx *ix, int app, const char *ch, size_t len)
{
    struct ws_chan *c = ws_chanidx_find(ix, app, ch, len);
    if (c)
        return c;
    if (ix->count >= ix->nbucket && grow(ix) < 0 && !ix->nbucket)
        return NULL;
    c = calloc(1, sizeof *c + len + 1);
    if (!c)
        return NULL;
    c->hash = hash_of(app, ch, len);
    c->app = app;
    c->len = len;
    memcpy(c->name, ch, len);
    c->next = ix->bucket[c->hash % ix->nbucket];
    ix->bucket[c->hash % ix->nbucket] = c;
    ix->count++;
    return c;
}

static void chan_drop(struct ws_chanidx *ix, struct ws_chan *c)
{
    struct ws_chan **pp = &ix->bucket[c->hash % ix->nbucket];
    while (*pp != c)
        pp = &(*pp)->next;
    *pp = c->next;
    ix->count--;
    free(c->ent);
    free(c);
}

struct ws_sub *ws_chanidx_add(struct ws_chanidx *ix, struct ws_conn *c, int app, const char *ch,
                              size_t len, unsigned kind)
{
    struct ws_chan *k = chan_get(ix, app, ch, len);
    if (!k)
        return NULL;
    if (k->n == k->cap) {
        uint32_t cap = k->cap ? k->cap * 2 : 4;
        struct ws_chan_ent *e = realloc(k->ent, cap * sizeof *e);
        if (!e)
            goto fail;
        k->ent = e;
        k->cap = cap;
    }
    if (c->nsubs == c->capsubs) {
        uint32_t cap = c->capsubs ? c->capsubs * 2 : 2;
        struct ws_sub *s = realloc(c->subs, cap * sizeof *s);
        if (!s)
            goto fail;
        c->subs = s;
        c->capsubs = cap;
    }
    struct ws_sub *s = &c->subs[c->nsubs];
    memset(s, 0, sizeof *s);
    s->ch = k;
    s->pos = k->n;
    s->kind = kind;
    k->ent[k->n].conn = c;
    k->ent[k->n].slot = c->nsubs;
    k->n++;
    c->nsubs++;
    return s;
fail:
    if (k->n == 0)
        chan_drop(ix, k);
    return NULL;
}

void ws_chanidx_gate(struct ws_sub *s, uint8_t gate)
{
    if (!s->gate && gate)
        s->ch->gated++;
    else if (s->gate && !gate)
        s->ch->gated--;
    s->gate = gate;
}

void ws_chanidx_remove(struct ws_chanidx *ix, struct ws_conn *c, struct ws_sub *s)
{
    struct ws_chan *k = s->ch;
    ws_chanidx_gate(s, WS_GATE_NONE);
    for (uint16_t i = 0; i < s->nheld; i++)
        pg_msg_unref(s->held[i]);
    free(s->held);
    uint32_t slot = (uint32_t)(s - c->subs);
    /* Channel side: move the last entry into this one's place. */
    uint32_t pos = s->pos;
    k->ent[pos] = k->ent[--k->n];
    if (pos < k->n)
        k->ent[pos].conn->subs[k->ent[pos].slot].pos = pos;
    /* Connection side: move the last subscription into this slot. */
    free(s->user_id);
    c->subs[slot] = c->subs[--c->nsubs];
    if (slot < c->nsubs) {
        struct ws_sub *moved = &c->subs[slot];
        moved->ch->ent[moved->pos].slot = slot;
    }
    if (k->n == 0)
        chan_drop(ix, k);
}

size_t ws_chanidx_count(const struct ws_chanidx *ix) { return ix->count; }
