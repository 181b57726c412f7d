/* bench_opts.c - pg-bench's option table, parser and --help.
 * Thread: main only. Callers: bench_main.c.
 */
#include "bench_opts.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bench_rest.h"

enum opt_kind { K_STR, K_U64, K_DBL, K_FLAG };

struct opt_row {
    const char *name;
    enum opt_kind kind;
    size_t off;        /* field in struct bench_opts */
    const char *def;   /* default, parsed like a command-line value; NULL: none */
    uint64_t min, max; /* K_U64 range */
    const char *help;
};

#define F(field) offsetof(struct bench_opts, field)
#define U64_ANY 0, UINT64_MAX

static const struct opt_row rows[] = {
    {"ws-host", K_STR, F(ws_host), "127.0.0.1", 0, 0, "WebSocket host (IPv4 literal)"},
    {"ws-port", K_U64, F(ws_port), "6001", 1, 65535, "WebSocket port"},
    {"ws-ports", K_STR, F(ws_ports_list), NULL, 0, 0,
     "P1,P2,...: WebSocket ports of several nodes, connection i on port i mod K (overrides "
     "--ws-port; REST still goes to --api-port)"},
    {"api-host", K_STR, F(api_host), NULL, 0, 0, "REST host (IPv4 literal; default: --ws-host)"},
    {"api-port", K_U64, F(api_port), "6002", 1, 65535, "REST port"},
    {"app-id", K_STR, F(app_id), "app-id", 0, 0, "app id (REST path)"},
    {"key", K_STR, F(key), "app-key", 0, 0, "app key (WebSocket path, REST auth_key)"},
    {"secret", K_STR, F(secret), "app-secret", 0, 0, "app secret (REST signatures)"},
    {"conns", K_U64, F(conns), "100", 1, 1000000, "subscribed clients N"},
    {"channel", K_STR, F(channel), "bench", 0, 0, "public channel every client subscribes to"},
    {"event", K_STR, F(event), "bench", 0, 0, "event name"},
    {"events", K_U64, F(events), "100", 0, 100000000, "events E to publish"},
    {"rate", K_DBL, F(rate), "0", 0, 0, "events per second; 0: as fast as the REST API answers"},
    {"rest-conns", K_U64, F(rest_conns), "2", 1, BENCH_REST_MAX_CONNS,
     "keep-alive REST connections = requests in flight"},
    {"payload", K_U64, F(payload), "100", 0, 102400, "length of each event's data string, bytes"},
    {"server-pid", K_U64, F(server_pid), "0", U64_ANY,
     "server process whose VmRSS is read (0: skip memory figures)"},
    {"client", K_STR, F(client), "epoll", 0, 0,
     "client transport: epoll (plain sockets) or lws (one lws context, poll backend)"},
    {"source-addrs", K_U64, F(source_addrs), "1", 1, 254,
     "spread client sockets over 127.0.0.1..127.0.0.K (more ephemeral ports)"},
    {"max-pending", K_U64, F(max_pending), "500", 1, 1000000, "handshakes in flight"},
    {"idle-ms", K_U64, F(idle_ms), "2000", U64_ANY, "idle time before the second RSS read"},
    {"drain-ms", K_U64, F(drain_ms), "10000", U64_ANY,
     "after the last send, stop after this long without a delivery"},
    {"connect-timeout", K_U64, F(connect_timeout_s), "0", U64_ANY,
     "phase 1 deadline in seconds (0: 60 + N / 200)"},
    {"phase-hook", K_STR, F(phase_hook), NULL, 0, 0,
     "shell command run as \"CMD before\" just before the first event and as \"CMD after\" "
     "once phase 2 ends (e.g. to read server counters); a non-zero status fails the run"},
    {"label", K_STR, F(label), "", 0, 0, "text copied into the report and the JSON line"},
    {"json", K_FLAG, F(json), NULL, 0, 0, "also print one JSON result line"},
    {"quiet", K_FLAG, F(quiet), NULL, 0, 0, "no progress lines on stderr"},
};
#define NROWS (sizeof rows / sizeof rows[0])

static int set(struct bench_opts *o, const struct opt_row *r, const char *v)
{
    char *p = (char *)o + r->off, *end;
    switch (r->kind) {
    case K_STR:
        *(const char **)p = v;
        return 0;
    case K_FLAG:
        *(bool *)p = true;
        return 0;
    case K_DBL: {
        double d = strtod(v, &end);
        if (end == v || *end || d < 0)
            break;
        *(double *)p = d;
        return 0;
    }
    case K_U64: {
        errno = 0;
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || end == v || *end || v[0] == '-' || x < r->min || x > r->max)
            break;
        *(uint64_t *)p = x;
        return 0;
    }
    }
    fprintf(stderr, "pg-bench: --%s: bad value \"%s\"\n", r->name, v);
    return -EINVAL;
}

/* Fills ws_ports from the comma-separated ws_ports_list. */
static int parse_ports(struct bench_opts *o)
{
    const char *p = o->ws_ports_list;
    for (;;) {
        char *end;
        errno = 0;
        unsigned long x = strtoul(p, &end, 10);
        if (errno || end == p || *p == '-' || x < 1 || x > 65535 || (*end && *end != ',') ||
            o->n_ws_ports == BENCH_WS_MAX_PORTS) {
            fprintf(stderr, "pg-bench: --ws-ports: bad list \"%s\" (1 to %d ports, 1..65535)\n",
                    o->ws_ports_list, BENCH_WS_MAX_PORTS);
            return -EINVAL;
        }
        o->ws_ports[o->n_ws_ports++] = (uint16_t)x;
        if (!*end)
            return 0;
        p = end + 1;
    }
}

void bench_opts_usage(FILE *out)
{
    fprintf(out, "usage: pg-bench [options]\n"
                 "Opens N WebSocket clients on one public channel of a Pusher Channels server, "
                 "measures connect time\nand server memory per connection, then publishes E "
                 "signed REST events and measures delivery.\nExit status: 0 all delivered, 1 "
                 "something failed, 2 bad arguments.\n\n");
    for (size_t i = 0; i < NROWS; i++) {
        const struct opt_row *r = &rows[i];
        char lhs[40];
        snprintf(lhs, sizeof lhs, "--%s%s", r->name, r->kind == K_FLAG ? "" : " V");
        fprintf(out, "  %-20s %s", lhs, r->help);
        if (r->def && r->def[0])
            fprintf(out, " [%s]", r->def);
        fputc('\n', out);
    }
}

int bench_opts_parse(struct bench_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].def && set(o, &rows[i], rows[i].def) < 0)
            return -EINVAL;
    struct option lo[NROWS + 2];
    for (size_t i = 0; i < NROWS; i++)
        lo[i] =
            (struct option){rows[i].name, rows[i].kind == K_FLAG ? no_argument : required_argument,
                            NULL, (int)(256 + i)};
    lo[NROWS] = (struct option){"help", no_argument, NULL, 'h'};
    lo[NROWS + 1] = (struct option){NULL, 0, NULL, 0};
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (c == 'h') {
            bench_opts_usage(stdout);
            return 1;
        }
        if (c < 256 || c >= 256 + (int)NROWS) {
            fprintf(stderr, "pg-bench: try --help\n");
            return -EINVAL;
        }
        if (set(o, &rows[c - 256], optarg) < 0)
            return -EINVAL;
    }
    if (optind < argc) {
        fprintf(stderr, "pg-bench: unexpected argument \"%s\"\n", argv[optind]);
        return -EINVAL;
    }
    if (!o->api_host)
        o->api_host = o->ws_host;
    if (o->ws_ports_list && parse_ports(o) < 0)
        return -EINVAL;
    if (!o->connect_timeout_s)
        o->connect_timeout_s = 60 + o->conns / 200;
    if (strcmp(o->client, "epoll") == 0) {
        o->backend = BENCH_WS_EPOLL;
    } else if (strcmp(o->client, "lws") == 0) {
        o->backend = BENCH_WS_LWS;
    } else {
        fprintf(stderr, "pg-bench: --client is epoll or lws\n");
        return -EINVAL;
    }
    return 0;
}
