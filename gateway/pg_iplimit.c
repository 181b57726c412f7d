/* pg_iplimit.c - per-IP connection limits (see pg_iplimit.h). Guarded by: l->lock. */
#include "pg_iplimit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct ipent {
    struct ipent *next;
    char ip[48];
    int64_t conns;
    double tokens;
    int64_t last_ms;
};

struct pg_iplimit {
    pthread_mutex_t lock;
    int64_t max_conns, max_per_sec;
    struct ipent **bucket;
    size_t nbucket, count;
};

struct pg_iplimit *pg_iplimit_create(int64_t max_conns, int64_t max_per_sec)
{
    struct pg_iplimit *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->nbucket = 1024;
    l->bucket = calloc(l->nbucket, sizeof *l->bucket);
    if (!l->bucket) {
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->lock, NULL);
    l->max_conns = max_conns;
    l->max_per_sec = max_per_sec;
    return l;
}

void pg_iplimit_destroy(struct pg_iplimit *l)
{
    if (!l)
        return;
    for (size_t b = 0; b < l->nbucket; b++) {
        struct ipent *e = l->bucket[b];
        while (e) {
            struct ipent *n = e->next;
            free(e);
            e = n;
        }
    }
    free(l->bucket);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static size_t slot(const struct pg_iplimit *l, const char *ip)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = ip; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    return (size_t)(h % l->nbucket);
}

static struct ipent **find(struct pg_iplimit *l, const char *ip)
{
    struct ipent **pp = &l->bucket[slot(l, ip)];
    while (*pp && strcmp((*pp)->ip, ip) != 0)
        pp = &(*pp)->next;
    return pp;
}

static void refill(const struct pg_iplimit *l, struct ipent *e, int64_t now_ms)
{
    if (l->max_per_sec < 0)
        return;
    double t = e->tokens + (double)(now_ms - e->last_ms) * (double)l->max_per_sec / 1000.0;
    e->tokens = t > (double)l->max_per_sec ? (double)l->max_per_sec : t;
    e->last_ms = now_ms;
}

int pg_iplimit_enter(struct pg_iplimit *l, const char *ip, int64_t now_ms)
{
    int rc = 0;
    pthread_mutex_lock(&l->lock);
    struct ipent **pp = find(l, ip), *e = *pp;
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e) {
            pthread_mutex_unlock(&l->lock);
            return 0; /* fail open: a limit must not refuse everyone when memory is short */
        }
        strncpy(e->ip, ip, sizeof e->ip - 1);
        e->tokens = l->max_per_sec > 0 ? (double)l->max_per_sec : 0;
        e->last_ms = now_ms;
        *pp = e;
        l->count++;
    }
    refill(l, e, now_ms);
    if (l->max_conns >= 0 && e->conns >= l->max_conns)
        rc = -EMFILE;
    else if (l->max_per_sec >= 0 && e->tokens < 1.0)
        rc = -EAGAIN;
    else {
        e->conns++;
        if (l->max_per_sec >= 0)
            e->tokens -= 1.0;
    }
    pthread_mutex_unlock(&l->lock);
    return rc;
}

void pg_iplimit_leave(struct pg_iplimit *l, const char *ip)
{
    pthread_mutex_lock(&l->lock);
    struct ipent *e = *find(l, ip);
    if (e && e->conns > 0)
        e->conns--;
    pthread_mutex_unlock(&l->lock);
}

size_t pg_iplimit_purge(struct pg_iplimit *l, int64_t now_ms)
{
    size_t n = 0;
    pthread_mutex_lock(&l->lock);
    for (size_t b = 0; b < l->nbucket; b++) {
        struct ipent **pp = &l->bucket[b];
        while (*pp) {
            struct ipent *e = *pp;
            refill(l, e, now_ms);
            if (e->conns == 0 && (l->max_per_sec < 0 || e->tokens >= (double)l->max_per_sec)) {
                *pp = e->next;
                free(e);
                l->count--;
                n++;
            } else {
                pp = &e->next;
            }
        }
    }
    pthread_mutex_unlock(&l->lock);
    return n;
}

size_t pg_iplimit_size(struct pg_iplimit *l)
{
    pthread_mutex_lock(&l->lock);
    size_t n = l->count;
    pthread_mutex_unlock(&l->lock);
    return n;
}
