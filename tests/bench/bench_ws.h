/* bench_ws.h - pg-bench's subscribers: N WebSocket clients serviced by one thread.
 * Two interchangeable transports: plain non-blocking sockets on epoll (bench_ws_epoll.c) and one
 * libwebsockets client context on its default poll backend (bench_ws_lws.c).
 * Thread: everything runs on the caller's thread; nothing here is shared.
 */
#ifndef BENCH_WS_H
#define BENCH_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_stats.h"

/* Borrowed strings; they must outlive bench_ws_destroy. */
enum bench_ws_backend {
    BENCH_WS_EPOLL = 0, /* one epoll set: cost per wakeup independent of N */
    BENCH_WS_LWS,       /* lws poll(): every wakeup scans all N descriptors */
};

#define BENCH_WS_MAX_PORTS 16

struct bench_ws_cfg {
    enum bench_ws_backend backend;
    const char *host;
    int port;
    const uint16_t *ports; /* nports > 0: connection i goes to ports[i % nports], not port */
    unsigned nports;
    const char *key;
    const char *channel;
    unsigned conns;        /* N */
    unsigned max_pending;  /* connections between connect() and connection_established */
    unsigned source_addrs; /* K: bind client sockets to 127.0.0.1..127.0.0.K round robin; 0/1 off */
    uint64_t events;       /* sequence numbers 0..events-1 are tracked per connection */
};

struct bench_ws_stats {
    unsigned started;          /* connect attempts */
    unsigned established;      /* pusher:connection_established seen */
    unsigned subscribed;       /* pusher_internal:subscription_succeeded seen */
    unsigned failed;           /* closed or errored before being subscribed */
    unsigned closed_after_sub; /* closed after being subscribed */
    uint64_t t_start_ns, t_last_established_ns, t_last_subscribed_ns;
    uint64_t received;      /* distinct (connection, sequence) deliveries */
    uint64_t duplicates;    /* the same sequence twice on one connection */
    uint64_t bad_frames;    /* a bench marker that did not parse, or a sequence out of range */
    uint64_t pusher_errors; /* pusher:error / pusher:subscription_error frames */
    uint64_t first_rx_ns, last_rx_ns;
    char first_error[256]; /* the first failure or close, as text */
};

struct bench_ws;

/* Creates the client set. Returns NULL and writes err on failure. */
struct bench_ws *bench_ws_create(const struct bench_ws_cfg *cfg, char *err, size_t errlen);
void bench_ws_destroy(struct bench_ws *b); /* NULL: no-op; closes every connection */

/* Phase 1: opens every connection (at most max_pending handshakes at once) and subscribes each to
 * the channel. Returns when all are subscribed or failed, or at deadline_ns. */
void bench_ws_connect(struct bench_ws *b, uint64_t deadline_ns);

/* Services the loop, calling stop(arg) about every 20 ms and after each service pass, until it
 * returns true or deadline_ns (0: none) passes. */
void bench_ws_run(struct bench_ws *b, bool (*stop)(void *arg), void *arg, uint64_t deadline_ns);

const struct bench_ws_stats *bench_ws_stats(const struct bench_ws *b);
const struct bench_hist *bench_ws_hist(const struct bench_ws *b);
/* Connections that are short of at least one of the first `events` sequence numbers. */
unsigned bench_ws_conns_missing(const struct bench_ws *b, uint64_t events);

/* Parses the marker "#pgb:<seq>:<t_ns>;" in frame[0..len). 1 found, 0 absent, -1 malformed. */
int bench_ws__scan(const char *frame, size_t len, uint64_t *seq, uint64_t *t_ns);

#endif
