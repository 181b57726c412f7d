/* pg_bus.c - worker inboxes (see pg_bus.h).
 * Guarded by: each inbox's own mutex. The waker runs outside the lock.
 */
#include "pg_bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct inbox {
    pthread_mutex_t lock;
    struct pg_bus_item *head, *tail;
    size_t bytes; /* payload bytes queued */
    bool closed;
    void (*wake)(void *);
    void *wake_ctx;
};

struct pg_bus {
    unsigned n;
    size_t soft_bytes;
    struct inbox box[];
};

struct pg_bus *pg_bus_create(unsigned nworkers, size_t soft_bytes_per_inbox)
{
    if (nworkers == 0 || nworkers > PG_BUS_MAX_WORKERS)
        return NULL;
    struct pg_bus *b = calloc(1, sizeof *b + nworkers * sizeof(struct inbox));
    if (!b)
        return NULL;
    b->n = nworkers;
    b->soft_bytes = soft_bytes_per_inbox;
    for (unsigned i = 0; i < nworkers; i++)
        pthread_mutex_init(&b->box[i].lock, NULL);
    return b;
}

void pg_bus_destroy(struct pg_bus *b)
{
    if (!b)
        return;
    for (unsigned i = 0; i < b->n; i++) {
        struct pg_bus_item *it = b->box[i].head;
        while (it) {
            struct pg_bus_item *next = it->next;
            pg_bus_item_free(it);
            it = next;
        }
        pthread_mutex_destroy(&b->box[i].lock);
    }
    free(b);
}

void pg_bus_set_waker(struct pg_bus *b, unsigned w, void (*wake)(void *), void *ctx)
{
    struct inbox *in = &b->box[w];
    pthread_mutex_lock(&in->lock);
    in->wake = wake;
    in->wake_ctx = ctx;
    pthread_mutex_unlock(&in->lock);
}

struct pg_bus_item *pg_bus_item_new(enum pg_bus_kind kind, const char *channel, size_t clen)
{
    if (!channel)
        clen = 0;
    struct pg_bus_item *it = calloc(1, sizeof *it + clen + 1);
    if (!it)
        return NULL;
    it->kind = kind;
    it->fd = -1;
    it->clen = clen;
    if (clen)
        memcpy(it->channel, channel, clen);
    return it;
}

void pg_bus_item_free(struct pg_bus_item *it)
{
    if (!it)
        return;
    pg_msg_unref(it->msg);
    free(it);
}

static size_t item_bytes(const struct pg_bus_item *it)
{
    return (it->msg ? it->msg->len : 0) + it->clen + sizeof *it;
}

int pg_bus_push(struct pg_bus *b, unsigned w, struct pg_bus_item *it)
{
    struct inbox *in = &b->box[w];
    it->next = NULL;
    pthread_mutex_lock(&in->lock);
    if (in->closed) {
        pthread_mutex_unlock(&in->lock);
        pg_bus_item_free(it);
        return -ESHUTDOWN;
    }
    bool was_empty = in->head == NULL;
    if (in->tail)
        in->tail->next = it;
    else
        in->head = it;
    in->tail = it;
    in->bytes += item_bytes(it);
    void (*wake)(void *) = in->wake;
    void *ctx = in->wake_ctx;
    pthread_mutex_unlock(&in->lock);
    if (was_empty && wake)
        wake(ctx);
    return 0;
}

int pg_bus_check(struct pg_bus *b, uint64_t mask)
{
    for (unsigned w = 0; w < b->n; w++) {
        if (!(mask & (UINT64_C(1) << w)))
            continue;
        struct inbox *in = &b->box[w];
        pthread_mutex_lock(&in->lock);
        bool full = in->bytes > b->soft_bytes;
        pthread_mutex_unlock(&in->lock);
        if (full)
            return -ENOBUFS;
    }
    return 0;
}

int pg_bus_publish(struct pg_bus *b, uint64_t mask, int app, const char *channel, size_t clen,
                   struct pg_msg *m, const char *except)
{
    /* Build every item first: once m is in an inbox its worker may free it at any moment, so all
     * copies are taken before the first push. */
    struct pg_bus_item *items[PG_BUS_MAX_WORKERS];
    unsigned targets[PG_BUS_MAX_WORKERS];
    unsigned n = 0;
    for (unsigned w = 0; w < b->n; w++) {
        if (!(mask & (UINT64_C(1) << w)))
            continue;
        struct pg_msg *mm = n == 0 ? m : pg_msg_copy(m);
        struct pg_bus_item *it = mm ? pg_bus_item_new(PG_BUS_EVENT, channel, clen) : NULL;
        if (!it) {
            if (mm != m)
                pg_msg_unref(mm);
            for (unsigned i = 0; i < n; i++) {
                if (i == 0)
                    items[i]->msg = NULL; /* m is still the caller's to unref below */
                pg_bus_item_free(items[i]);
            }
            pg_msg_unref(m);
            return -ENOMEM;
        }
        it->app = app;
        it->msg = mm;
        if (except) {
            size_t el = strnlen(except, PG_SID_MAX - 1);
            memcpy(it->except, except, el);
            it->except[el] = 0;
        }
        items[n] = it;
        targets[n++] = w;
    }
    if (n == 0) {
        pg_msg_unref(m);
        return 0;
    }
    int reached = 0;
    for (unsigned i = 0; i < n; i++)
        if (pg_bus_push(b, targets[i], items[i]) == 0)
            reached++;
    return reached;
}

struct pg_bus_item *pg_bus_take(struct pg_bus *b, unsigned w)
{
    struct inbox *in = &b->box[w];
    pthread_mutex_lock(&in->lock);
    struct pg_bus_item *head = in->head;
    in->head = in->tail = NULL;
    in->bytes = 0;
    pthread_mutex_unlock(&in->lock);
    return head;
}

void pg_bus_close(struct pg_bus *b)
{
    for (unsigned i = 0; i < b->n; i++) {
        pthread_mutex_lock(&b->box[i].lock);
        b->box[i].closed = true;
        pthread_mutex_unlock(&b->box[i].lock);
    }
}

unsigned pg_bus_nworkers(const struct pg_bus *b) { return b->n; }

size_t pg_bus_queued_bytes(struct pg_bus *b, unsigned w)
{
    struct inbox *in = &b->box[w];
    pthread_mutex_lock(&in->lock);
    size_t n = in->bytes;
    pthread_mutex_unlock(&in->lock);
    return n;
}
