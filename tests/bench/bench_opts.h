/* bench_opts.h - pg-bench command line: one table row per option gives its name, type, field,
 * default and help; the same table fills defaults, parses argv and prints --help.
 * Thread: main only; struct bench_opts is immutable after bench_opts_parse.
 */
#ifndef BENCH_OPTS_H
#define BENCH_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench_ws.h"

/* Owner: main. Strings point into argv or the table's defaults. */
struct bench_opts {
    const char *ws_host, *api_host, *app_id, *key, *secret, *channel, *event, *label, *client;
    const char *ws_ports_list, *phase_hook; /* NULL: not given */
    uint64_t ws_port, api_port, server_pid;
    uint64_t conns, max_pending, source_addrs, rest_conns;
    uint64_t events, payload;
    uint64_t idle_ms, drain_ms, connect_timeout_s;
    double rate;
    bool json, quiet;
    enum bench_ws_backend backend;         /* from client */
    uint16_t ws_ports[BENCH_WS_MAX_PORTS]; /* from ws_ports_list; n_ws_ports 0: --ws-port only */
    unsigned n_ws_ports;
};

/* Returns 0, 1 when --help was printed, or -EINVAL after printing the reason to stderr. */
int bench_opts_parse(struct bench_opts *o, int argc, char **argv);
void bench_opts_usage(FILE *out);

#endif
