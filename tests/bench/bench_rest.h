/* bench_rest.h - the publisher of pg-bench: signed POST /apps/<id>/events requests (spec 9.2,
 * 9.3) over a few keep-alive HTTP/1.1 connections written with plain sockets.
 * Thread: bench_rest_start/bench_rest_join on the caller's thread; one publisher thread per HTTP
 * connection in between. Only the atomics in struct bench_rest may be read while it runs.
 */
#ifndef BENCH_REST_H
#define BENCH_REST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_REST_MAX_CONNS 16

/* Borrowed strings; they must outlive bench_rest_join. */
struct bench_rest_cfg {
    const char *host;
    int port;
    const char *app_id;
    const char *key;
    const char *secret;
    const char *channel;
    const char *event; /* event name */
    uint64_t events;   /* how many to publish, sequence numbers 0..events-1 */
    double rate;       /* events per second over all connections; 0: as fast as answered */
    size_t payload;    /* length of the data string (at least the stamp's length) */
    unsigned conns;    /* HTTP connections = requests in flight, 1..BENCH_REST_MAX_CONNS */
};

struct bench_rest_result {
    uint64_t sent;           /* requests written */
    uint64_t ok;             /* 2xx answers */
    uint64_t non2xx;         /* other HTTP answers */
    uint64_t errors;         /* connect/read/write failures and unparsable answers */
    uint64_t first_send_ns;  /* CLOCK_MONOTONIC of the first stamp */
    uint64_t last_send_ns;   /* ... and of the last */
    double max_rtt_ms;       /* slowest request/response round trip */
    char first_problem[256]; /* first non-2xx status line and body, or first error */
};

/* Owner: the caller, which embeds it; filled by bench_rest_start. */
struct bench_rest {
    struct bench_rest_cfg cfg;
    pthread_t th[BENCH_REST_MAX_CONNS];
    unsigned nth;
    uint64_t t0_ns;
    atomic_uint_fast64_t next_seq; /* next sequence number to claim */
    atomic_uint_fast64_t sent;     /* progress, for the caller's progress line */
    atomic_uint running;           /* threads not finished yet */
    pthread_mutex_t lock;          /* guards res */
    struct bench_rest_result res;
};

/* Starts the publisher threads. Returns 0 or a negative errno (no thread is left running). */
int bench_rest_start(struct bench_rest *r, const struct bench_rest_cfg *cfg);
bool bench_rest_done(struct bench_rest *r);
/* Waits for every thread and copies the totals out. */
void bench_rest_join(struct bench_rest *r, struct bench_rest_result *out);

/* The data string of event seq sent at t_ns: "#pgb:<seq>:<t_ns>;" padded with 'x' to payload
 * bytes. Returns its length, or -ENOBUFS. bench_ws__scan (bench_ws.c) parses this format. */
int bench_rest__payload(char *out, size_t outlen, uint64_t seq, uint64_t t_ns, size_t payload);

#endif
