/* bench_ws_int.h - what bench_ws.c shares with its two transports, bench_ws_epoll.c and
 * bench_ws_lws.c. Not for other callers.
 * Thread: the one thread that services the client set.
 */
#ifndef BENCH_WS_INT_H
#define BENCH_WS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_stats.h"
#include "bench_ws.h"

struct lws;
struct lws_context;

enum bench_conn_state {
    BC_IDLE = 0,
    BC_CONNECTING,  /* TCP + upgrade + waiting for connection_established */
    BC_ESTABLISHED, /* subscribe queued or sent */
    BC_SUBSCRIBED,
    BC_FAILED, /* closed before BC_SUBSCRIBED */
    BC_CLOSED, /* closed after BC_SUBSCRIBED */
};

/* Owner: the service thread. */
struct bench_conn {
    enum bench_conn_state state;
    bool want_subscribe, want_pong; /* control messages the transport still has to send */
    uint8_t *seen;                  /* bitmap over sequence numbers, inside bench_ws.seen */
    char *msg;                      /* a message split over several reads, reassembled */
    size_t msg_len, msg_cap;
    /* transport state */
    struct lws *wsi; /* lws */
    int fd;          /* epoll: -1 when closed */
    bool upgraded;   /* epoll: 101 received */
    char *rbuf;      /* epoll: unparsed input */
    size_t rlen, rcap;
    char *wbuf; /* epoll: output the socket did not take yet */
    size_t wlen, wcap;
};

struct bench_ws_ops {
    int (*init)(struct bench_ws *b, char *err, size_t errlen);
    void (*fini)(struct bench_ws *b); /* closes every connection, releases the transport */
    void (*start)(struct bench_ws *b, unsigned i); /* begins connection i; may fail it at once */
    void (*flush)(struct bench_ws *b, unsigned i); /* want_subscribe/want_pong were set */
    int (*service)(struct bench_ws *b, unsigned max_wait_ms); /* one wait; < 0: fatal */
};

extern const struct bench_ws_ops bench_ws__epoll_ops;
extern const struct bench_ws_ops bench_ws__lws_ops;

/* Owner: the service thread. */
struct bench_ws {
    struct bench_ws_cfg cfg;
    const struct bench_ws_ops *ops;
    struct bench_conn *conns;
    uint8_t *seen;
    size_t seen_stride;
    char path[256], subscribe[256];
    char hosthdr[BENCH_WS_MAX_PORTS][128]; /* "host:port" per port; [0] for cfg.port alone */
    size_t subscribe_len;
    char (*ifaces)[24]; /* source addresses, NULL when not binding */
    unsigned next;      /* next connection to start */
    unsigned pending;   /* connections in BC_CONNECTING */
    struct bench_ws_stats st;
    struct bench_hist hist;
    /* transport state */
    struct lws_context *lws_ctx;
    void *lws_tick; /* lws_sorted_usec_list_t, allocated by bench_ws_lws.c */
    int epfd;
};

static inline unsigned bench_ws__index(const struct bench_ws *b, const struct bench_conn *c)
{
    return (unsigned)(c - b->conns);
}

/* Which port connection i uses: an index into hosthdr; *port gets the port. */
static inline unsigned bench_ws__target(const struct bench_ws *b, unsigned i, int *port)
{
    if (!b->cfg.nports) {
        *port = b->cfg.port;
        return 0;
    }
    unsigned k = i % b->cfg.nports;
    *port = b->cfg.ports[k];
    return k;
}

/* Text received on connection i; complete is false while more of the message is to come. */
void bench_ws__data(struct bench_ws *b, unsigned i, const char *in, size_t len, bool complete);
/* Connection i is gone (error or close); why is kept for the report if it is the first. */
void bench_ws__gone(struct bench_ws *b, unsigned i, const char *why);
void bench_ws__error(struct bench_ws *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

extern const char bench_ws__pong[];
extern const size_t bench_ws__pong_len;

#endif
