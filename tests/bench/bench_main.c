/* bench_main.c - pg-bench: connection, memory, fan-out throughput and latency benchmark for a
 * Pusher Channels server (pushgate, or any compatible one).
 * Thread: main services the clients (bench_ws.c); bench_rest.c publishes from its own threads.
 *
 * Phase 1: read the server's RSS, open N clients, subscribe each to one public channel, idle, read
 * the RSS again. Phase 2: publish E events through the signed REST API; each carries its send
 * time (CLOCK_MONOTONIC, same machine) and a sequence number; every client records what it gets.
 * Exit status: 0 when every client subscribed and received every event once, 1 otherwise, 2 for
 * bad arguments or set-up failures.
 */
#include <errno.h>
#include <inttypes.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_opts.h"
#include "bench_rest.h"
#include "bench_stats.h"
#include "bench_ws.h"

/* Owner: main; the phase-2 stop predicate's state. */
struct phase2 {
    const struct bench_opts *o;
    struct bench_ws *ws;
    struct bench_rest *rest;
    uint64_t last_received, last_progress_ns, next_report_ns, t0_ns;
};

/* Owner: main; everything the report prints. */
struct result {
    long rss0, rss1, rss2; /* KiB: before connecting, idle after phase 1, after phase 2 */
    double rss_per_conn;   /* bytes */
    double est_s, sub_s;   /* last connection_established / subscription_succeeded after start */
    double srv_cpu_s, own_cpu_s; /* CPU seconds spent in phase 2 by the server and by pg-bench */
    struct bench_rest_result rest;
    bool hook_failed; /* --phase-hook after failed */
};

/* Raises the open-file soft limit to the hard limit; returns the limit now in force. */
static rlim_t raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
}

static bool idle_stop(void *arg) { return bench_now_ns() >= *(uint64_t *)arg; }

static bool phase2_stop(void *arg)
{
    struct phase2 *p = arg;
    const struct bench_ws_stats *st = bench_ws_stats(p->ws);
    uint64_t now = bench_now_ns();
    if (st->received != p->last_received) {
        p->last_received = st->received;
        p->last_progress_ns = now;
    }
    if (!p->o->quiet && now >= p->next_report_ns) {
        fprintf(stderr,
                "[pg-bench] %5.1f s: sent %" PRIu64 "/%" PRIu64 ", received %" PRIu64 "/%" PRIu64
                "\n",
                (double)(now - p->t0_ns) / 1e9, (uint64_t)atomic_load(&p->rest->sent), p->o->events,
                st->received, p->o->events * p->o->conns);
        p->next_report_ns = now + 1000000000u;
    }
    if (!bench_rest_done(p->rest))
        return false;
    if (st->received >= p->o->events * st->subscribed)
        return true; /* everything the subscribers can get */
    if (st->subscribed == st->closed_after_sub)
        return true; /* nobody left to receive */
    return now - p->last_progress_ns >= p->o->drain_ms * 1000000u;
}

/* Runs "<--phase-hook> <when>" if a hook was given; returns 0 when it exited with status 0. */
static int run_hook(const struct bench_opts *o, const char *when)
{
    if (!o->phase_hook)
        return 0;
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "%s %s", o->phase_hook, when);
    if (n < 0 || (size_t)n >= sizeof cmd) {
        fprintf(stderr, "pg-bench: --phase-hook too long\n");
        return -1;
    }
    fflush(stdout);
    int st = system(cmd);
    if (st != 0) {
        fprintf(stderr, "pg-bench: phase hook \"%s\" failed (wait status %d)\n", cmd, st);
        return -1;
    }
    return 0;
}

static void phase1(const struct bench_opts *o, struct bench_ws *ws, struct result *r)
{
    r->rss0 = o->server_pid ? bench_rss_kib((int)o->server_pid) : -1;
    if (!o->quiet)
        fprintf(stderr, "[pg-bench] phase 1: %" PRIu64 " connections (server RSS %ld KiB)\n",
                o->conns, r->rss0);
    bench_ws_connect(ws, bench_now_ns() + o->connect_timeout_s * 1000000000u);
    uint64_t idle_until = bench_now_ns() + o->idle_ms * 1000000u;
    bench_ws_run(ws, idle_stop, &idle_until, 0);
    r->rss1 = o->server_pid ? bench_rss_kib((int)o->server_pid) : -1;

    const struct bench_ws_stats *st = bench_ws_stats(ws);
    unsigned live = st->subscribed - st->closed_after_sub;
    if (r->rss0 >= 0 && r->rss1 >= 0 && live)
        r->rss_per_conn = (double)(r->rss1 - r->rss0) * 1024 / live;
    if (st->t_last_established_ns)
        r->est_s = (double)(st->t_last_established_ns - st->t_start_ns) / 1e9;
    if (st->t_last_subscribed_ns)
        r->sub_s = (double)(st->t_last_subscribed_ns - st->t_start_ns) / 1e9;
}

static int phase2(const struct bench_opts *o, struct bench_ws *ws, struct result *r)
{
    const struct bench_ws_stats *st = bench_ws_stats(ws);
    unsigned live = st->subscribed - st->closed_after_sub;
    if (!o->quiet)
        fprintf(stderr, "[pg-bench] phase 2: %" PRIu64 " events to %u subscribers\n", o->events,
                live);
    if (o->events > 0 && live > 0) {
        struct bench_rest_cfg rc = {.host = o->api_host,
                                    .port = (int)o->api_port,
                                    .app_id = o->app_id,
                                    .key = o->key,
                                    .secret = o->secret,
                                    .channel = o->channel,
                                    .event = o->event,
                                    .events = o->events,
                                    .rate = o->rate,
                                    .payload = (size_t)o->payload,
                                    .conns = (unsigned)o->rest_conns};
        struct bench_rest rest;
        if (run_hook(o, "before") < 0)
            return -1;
        double srv0 = o->server_pid ? bench_cpu_s((int)o->server_pid) : -1, own0 = bench_cpu_s(0);
        if (bench_rest_start(&rest, &rc) < 0) {
            fprintf(stderr, "pg-bench: cannot start the publisher threads\n");
            return -1;
        }
        struct phase2 p2 = {.o = o, .ws = ws, .rest = &rest, .t0_ns = bench_now_ns()};
        p2.last_progress_ns = p2.t0_ns;
        p2.next_report_ns = p2.t0_ns + 1000000000u;
        bench_ws_run(ws, phase2_stop, &p2, 0);
        bench_rest_join(&rest, &r->rest);
        double srv1 = o->server_pid ? bench_cpu_s((int)o->server_pid) : -1;
        r->srv_cpu_s = srv0 >= 0 && srv1 >= 0 ? srv1 - srv0 : -1;
        r->own_cpu_s = bench_cpu_s(0) - own0;
        r->hook_failed = run_hook(o, "after") < 0;
    }
    r->rss2 = o->server_pid ? bench_rss_kib((int)o->server_pid) : -1;
    return 0;
}

/* Prints the report (and the JSON line); returns true when the run passed. */
static bool report(const struct bench_opts *o, struct bench_ws *ws, const struct result *r)
{
    const struct bench_ws_stats *st = bench_ws_stats(ws);
    const struct bench_rest_result *rr = &r->rest;
    uint64_t expected = o->events * o->conns;
    uint64_t missing = expected > st->received ? expected - st->received : 0;
    unsigned short_conns = bench_ws_conns_missing(ws, o->events);
    double span_s = rr->first_send_ns && st->last_rx_ns > rr->first_send_ns
                        ? (double)(st->last_rx_ns - rr->first_send_ns) / 1e9
                        : 0;
    double dps = span_s > 0 ? (double)st->received / span_s : 0;
    double send_s = (double)(rr->last_send_ns - rr->first_send_ns) / 1e9;
    const struct bench_hist *h = bench_ws_hist(ws);
    double p50 = bench_hist_quantile_us(h, 0.50) / 1e3, p90 = bench_hist_quantile_us(h, 0.90) / 1e3,
           p99 = bench_hist_quantile_us(h, 0.99) / 1e3, pmax = bench_hist_quantile_us(h, 1) / 1e3;
    bool ok = st->subscribed == o->conns && st->closed_after_sub == 0 && missing == 0 &&
              st->duplicates == 0 && st->bad_frames == 0 && rr->non2xx == 0 && rr->errors == 0 &&
              st->pusher_errors == 0 && !r->hook_failed;

    printf("pg-bench %s: N=%" PRIu64 " events=%" PRIu64 " rate=%g/s payload=%" PRIu64
           " B rest-conns=%" PRIu64 " client=%s\n",
           o->label, o->conns, o->events, o->rate, o->payload, o->rest_conns, o->client);
    printf("  connect     %u/%" PRIu64 " subscribed, %u failed; last connection_established "
           "after %.3f s, last subscription_succeeded after %.3f s\n",
           st->subscribed, o->conns, st->failed, r->est_s, r->sub_s);
    if (o->server_pid)
        printf("  server RSS  %ld KiB before, %ld KiB idle after %" PRIu64 " ms -> %.0f B (%.2f "
               "KiB) per idle subscribed connection; %ld KiB after the events\n",
               r->rss0, r->rss1, o->idle_ms, r->rss_per_conn, r->rss_per_conn / 1024, r->rss2);
    printf("  publish     %" PRIu64 " sent in %.2f s, %" PRIu64 " 2xx, %" PRIu64
           " non-2xx, %" PRIu64 " errors, slowest REST round trip %.1f ms\n",
           rr->sent, send_s, rr->ok, rr->non2xx, rr->errors, rr->max_rtt_ms);
    printf("  deliveries  expected %" PRIu64 ", received %" PRIu64 ", missing %" PRIu64
           " (%u connections short), duplicates %" PRIu64 ", bad frames %" PRIu64 "\n",
           expected, st->received, missing, short_conns, st->duplicates, st->bad_frames);
    printf("  throughput  %.0f deliveries/s (received / (last receive - first send) = %.2f s)\n",
           dps, span_s);
    printf("  latency ms  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", p50, p90, p99, pmax);
    double srv_us = st->received && r->srv_cpu_s > 0 ? r->srv_cpu_s * 1e6 / st->received : 0;
    double own_us = st->received ? r->own_cpu_s * 1e6 / st->received : 0;
    printf("  CPU         phase 2: server %.2f s (%.1f us per delivery), pg-bench %.2f s (%.1f us "
           "per delivery)\n",
           r->srv_cpu_s, srv_us, r->own_cpu_s, own_us);
    if (st->closed_after_sub || st->pusher_errors)
        printf("  closed      %u subscribed connections closed, %" PRIu64 " pusher errors\n",
               st->closed_after_sub, st->pusher_errors);
    if (st->first_error[0])
        printf("  first error %s\n", st->first_error);
    if (rr->first_problem[0])
        printf("  REST issue  %s\n", rr->first_problem);
    if (r->hook_failed)
        printf("  phase hook  \"after\" failed\n");
    printf("  result      %s\n", ok ? "OK" : "FAILED");
    if (o->json)
        printf("{\"label\":\"%s\",\"client\":\"%s\",\"conns\":%" PRIu64 ",\"events\":%" PRIu64
               ",\"rate\":%g,\"payload\":%" PRIu64 ",\"subscribed\":%u,\"failed\":%u,"
               "\"established_s\":%.3f,\"subscribed_s\":%.3f,\"rss_before_kib\":%ld,"
               "\"rss_idle_kib\":%ld,\"rss_after_kib\":%ld,\"rss_per_conn_b\":%.0f,"
               "\"sent\":%" PRIu64 ",\"rest_2xx\":%" PRIu64 ",\"rest_non2xx\":%" PRIu64
               ",\"rest_errors\":%" PRIu64 ",\"expected\":%" PRIu64 ",\"received\":%" PRIu64
               ",\"missing\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"closed\":%u,"
               "\"deliveries_per_s\":%.0f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,"
               "\"max_ms\":%.3f,\"server_cpu_s\":%.2f,\"server_us_per_delivery\":%.2f,"
               "\"bench_cpu_s\":%.2f,\"bench_us_per_delivery\":%.2f,\"ok\":%s}\n",
               o->label, o->client, o->conns, o->events, o->rate, o->payload, st->subscribed,
               st->failed, r->est_s, r->sub_s, r->rss0, r->rss1, r->rss2, r->rss_per_conn, rr->sent,
               rr->ok, rr->non2xx, rr->errors, expected, st->received, missing, st->duplicates,
               st->closed_after_sub, dps, p50, p90, p99, pmax, r->srv_cpu_s, srv_us, r->own_cpu_s,
               own_us, ok ? "true" : "false");
    fflush(stdout);
    return ok;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    int rc = bench_opts_parse(&o, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    signal(SIGPIPE, SIG_IGN);
    lws_set_log_level(LLL_ERR, NULL);
    rlim_t nofile = raise_nofile();
    if (nofile && (rlim_t)o.conns + 100 > nofile) {
        fprintf(stderr,
                "pg-bench: %" PRIu64 " connections need %" PRIu64 " file descriptors, the limit "
                "is %llu; run several pg-bench processes side by side instead\n",
                o.conns, o.conns + 100, (unsigned long long)nofile);
        return 2;
    }

    struct bench_ws_cfg wc = {.backend = o.backend,
                              .host = o.ws_host,
                              .port = (int)o.ws_port,
                              .ports = o.ws_ports,
                              .nports = o.n_ws_ports,
                              .key = o.key,
                              .channel = o.channel,
                              .conns = (unsigned)o.conns,
                              .max_pending = (unsigned)o.max_pending,
                              .source_addrs = (unsigned)o.source_addrs,
                              .events = o.events};
    char err[256];
    struct bench_ws *ws = bench_ws_create(&wc, err, sizeof err);
    if (!ws) {
        fprintf(stderr, "pg-bench: %s\n", err);
        return 2;
    }
    struct result r;
    memset(&r, 0, sizeof r);
    phase1(&o, ws, &r);
    if (phase2(&o, ws, &r) < 0) {
        bench_ws_destroy(ws);
        return 2;
    }
    bool ok = report(&o, ws, &r);
    bench_ws_destroy(ws);
    return ok ? 0 : 1;
}
