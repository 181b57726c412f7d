/* pg_bus.h - one inbox per ws worker: how every other thread talks to a worker.
 * Producers (acceptor, REST thread, other workers) append under the inbox mutex; the worker takes
 * the whole list at once on its wake-up and works outside the lock. The waker (lws_cancel_service
 * for a worker) is called only when an inbox goes from empty to non-empty, so a burst costs one
 * wake-up. Each inbox has a soft byte bound: producers that can refuse work (the REST API) call
 * pg_bus_check() first and answer 503 instead of buffering without limit; pg_bus_publish itself
 * does not check, so presence broadcasts under a registry lock are never half-delivered.
 * Thread: any, except pg_bus_take (the inbox's worker only).
 */
#ifndef PG_BUS_H
#define PG_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pg_msg.h"

#define PG_BUS_MAX_WORKERS 64
#define PG_SID_MAX 48 /* room for a socket id "<u32>.<u64>" and its NUL */

enum pg_bus_kind {
    PG_BUS_ADOPT = 1,       /* fd: a freshly accepted TCP connection to adopt */
    PG_BUS_EVENT,           /* msg to every local subscriber of (app, channel) except `except` */
    PG_BUS_SHUTDOWN,        /* close every connection with 4200 and stop */
    PG_BUS_RELOAD,          /* the configuration was swapped: rebind connections to the new apps */
    PG_BUS_TERMINATE,       /* close (4009) every local subscriber of (app, channel): the channel is
                             * "#server-to-user-<user_id>", which holds the user's signed-in sockets */
    PG_BUS_PRESENCE_RESULT, /* cluster mode: msg is the subscription_succeeded frame for socket
                             * `except`'s pending presence subscription of (app, channel) */
    PG_BUS_PRESENCE_FULL,   /* cluster mode, no msg: that pending subscription was refused (a new
                             * user, the channel at max_presence_members_per_channel cluster-wide) */
    PG_BUS_SOCKET_MSG,      /* cluster mode: msg for socket `except` alone, found among the local
                             * subscribers of (app, channel): a repeated presence subscribe's
                             * subscription_succeeded */
    PG_BUS_CACHE_REPLY,     /* the same for a cache channel's replay: the cached event or
                             * cache_miss (ws_gate.c orders it against live events) */
    PG_BUS_WATCH_STATE,     /* the same for a watchlist's initial state (channel: the socket's
                             * #server-to-user-; ws_gate.c) */
};

struct pg_bus_item {
    struct pg_bus_item *next;
    enum pg_bus_kind kind;
    int fd;
    bool tls; /* ADOPT: the client opened with a TLS handshake */
    int app;
    struct pg_msg *msg;      /* owned by the item */
    char except[PG_SID_MAX]; /* "" when nobody is excluded */
    size_t clen;
    char channel[]; /* clen bytes + NUL */
};

struct pg_bus;

struct pg_bus *pg_bus_create(unsigned nworkers, size_t soft_bytes_per_inbox);
void pg_bus_destroy(struct pg_bus *b); /* NULL: no-op; frees items still queued */

/* Registers the function that wakes worker w (called outside the inbox lock). */
void pg_bus_set_waker(struct pg_bus *b, unsigned w, void (*wake)(void *), void *ctx);

/* New item with a copy of channel (may be NULL); caller owns it until pushed. */
struct pg_bus_item *pg_bus_item_new(enum pg_bus_kind kind, const char *channel, size_t clen);
void pg_bus_item_free(struct pg_bus_item *it); /* NULL: no-op; unrefs msg */

/* Appends it to worker w's inbox; takes ownership even on failure (-ESHUTDOWN once closed). */
int pg_bus_push(struct pg_bus *b, unsigned w, struct pg_bus_item *it);

/* -ENOBUFS if any inbox in mask is over its soft byte bound, else 0. */
int pg_bus_check(struct pg_bus *b, uint64_t mask);

/* Sends frame m (consumed) for (app, channel) to every worker in mask: the first gets m itself,
 * every other one a copy (one copy per worker, never per subscriber). except may be NULL.
 * Returns the number of workers reached, or a negative errno (nothing was sent). */
int pg_bus_publish(struct pg_bus *b, uint64_t mask, int app, const char *channel, size_t clen,
                   struct pg_msg *m, const char *except);

/* Worker w takes its whole inbox, in FIFO order (NULL when empty). Thread: worker w only. */
struct pg_bus_item *pg_bus_take(struct pg_bus *b, unsigned w);

/* Closes every inbox: later pushes fail with -ESHUTDOWN. */
void pg_bus_close(struct pg_bus *b);

unsigned pg_bus_nworkers(const struct pg_bus *b);
/* Bytes currently queued for worker w (approximate; for metrics and tests). */
size_t pg_bus_queued_bytes(struct pg_bus *b, unsigned w);

#endif
