/* bench_stats.c - clocks, /proc RSS reading and the latency histogram of pg-bench.
 * Thread: any (the histogram is filled only by the lws loop thread).
 */
#include "bench_stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define HIST_SUB 1024u  /* sub-buckets per power of two */
#define HIST_EXACT 2048 /* values below this have their own bucket */

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_sleep_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
                          .tv_nsec = (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

long bench_rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

double bench_cpu_s(int pid)
{
    if (pid == 0) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) < 0)
            return -1;
        return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    }
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after "pid (comm) ": state is field 3, utime 14, stime 15; comm may hold spaces */
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static size_t hist_index(uint64_t v)
{
    if (v < HIST_EXACT)
        return (size_t)v;
    unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - 10; /* v >> shift in [1024, 2047] */
    return (size_t)shift * HIST_SUB + (size_t)(v >> shift);
}

/* Lowest value of bucket i and its width. */
static void hist_bucket(size_t i, double *lo, double *width)
{
    if (i < HIST_EXACT) {
        *lo = (double)i;
        *width = 1;
        return;
    }
    unsigned shift = (unsigned)(i / HIST_SUB) - 1;
    uint64_t mant = i - (size_t)shift * HIST_SUB;
    *lo = (double)(mant << shift);
    *width = (double)(1ull << shift);
}

int bench_hist_init(struct bench_hist *h)
{
    memset(h, 0, sizeof *h);
    h->nb = hist_index(UINT64_MAX) + 1;
    h->b = calloc(h->nb, sizeof *h->b);
    if (!h->b) {
        h->nb = 0;
        return -ENOMEM;
    }
    return 0;
}

void bench_hist_dispose(struct bench_hist *h)
{
    free(h->b);
    memset(h, 0, sizeof *h);
}

void bench_hist_add(struct bench_hist *h, uint64_t us)
{
    h->b[hist_index(us)]++;
    h->count++;
    if (us > h->max_us)
        h->max_us = us;
}

double bench_hist_quantile_us(const struct bench_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q >= 1)
        return (double)h->max_us;
    uint64_t rank = (uint64_t)(q * (double)h->count); /* 0-based rank of the sample wanted */
    uint64_t seen = 0;
    for (size_t i = 0; i < h->nb; i++) {
        seen += h->b[i];
        if (seen > rank) {
            double lo, width;
            hist_bucket(i, &lo, &width);
            double mid = lo + (width - 1) / 2;
            return mid > (double)h->max_us ? (double)h->max_us : mid;
        }
    }
    return (double)h->max_us;
}
