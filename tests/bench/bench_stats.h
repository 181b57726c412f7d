/* bench_stats.h - clocks, server RSS and a latency histogram for pg-bench.
 * Thread: any; a bench_hist belongs to the one thread that fills it (the lws loop).
 */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds; the publisher stamps events with it, the clients subtract. */
uint64_t bench_now_ns(void);
void bench_sleep_ns(uint64_t ns);

/* CPU time (user + system) of process pid from /proc/<pid>/stat, in seconds; -1 when unreadable.
 * pid 0: this process (getrusage, all threads). */
double bench_cpu_s(int pid);

/* VmRSS of process pid from /proc/<pid>/status, in KiB; -1 when unreadable. */
long bench_rss_kib(int pid);

/* Log-linear histogram over microseconds: exact below 2048 us, then 1024 sub-buckets per power of
 * two (relative error under 0.1 %). About 40,000 buckets cover any uint64 value. Owner: the
 * caller; bench_hist_dispose frees it. */
struct bench_hist {
    uint64_t *b;
    size_t nb;
    uint64_t count;
    uint64_t max_us;
};

int bench_hist_init(struct bench_hist *h);     /* 0 or -ENOMEM */
void bench_hist_dispose(struct bench_hist *h); /* zeroed: no-op */
void bench_hist_add(struct bench_hist *h, uint64_t us);
/* Value at quantile q (0..1) in microseconds: the middle of its bucket; the max for q >= 1. */
double bench_hist_quantile_us(const struct bench_hist *h, double q);

#endif
