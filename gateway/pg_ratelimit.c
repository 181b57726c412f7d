/* pg_ratelimit.c - token bucket (see pg_ratelimit.h). Thread: the owner's (pure). */
#include "pg_ratelimit.h"

/* Refills add rate * ms / 1000 in floating point, so 0.99 + 0.01 may land a hair below 1: be
 * that tolerant when comparing and when rounding the wait up. */
#define EPS 1e-9

void pg_ratelimit_init(struct pg_ratelimit *rl, double rate)
{
    rl->rate = rate;
    rl->tokens = rate > 0 ? rate : 0;
    rl->last_ms = INT64_MIN; /* the first take does not refill: the bucket starts full */
}

int pg_ratelimit_take(struct pg_ratelimit *rl, double n, int64_t now_ms, int64_t *retry_after_ms)
{
    double burst = rl->rate;

    if (rl->rate < 0 || n <= 0)
        return 1;
    if (rl->last_ms == INT64_MIN) {
        rl->last_ms = now_ms;
    } else if (now_ms > rl->last_ms) {
        rl->tokens += rl->rate * (double)(now_ms - rl->last_ms) / 1000.0;
        if (rl->tokens > burst)
            rl->tokens = burst;
        rl->last_ms = now_ms;
    }
    if (rl->tokens + EPS >= n) {
        rl->tokens = rl->tokens > n ? rl->tokens - n : 0;
        return 1;
    }
    if (retry_after_ms) {
        double want = n > burst ? burst : n; /* bigger than the burst: until the bucket is full */
        double ms = rl->rate > 0 ? (want - rl->tokens) * 1000.0 / rl->rate - 1e-6 : 1000.0;
        if (ms > 1e15) /* a rate so small it never refills in practice */
            ms = 1e15;
        int64_t whole = (int64_t)ms; /* ceil without libm */
        if ((double)whole < ms)
            whole++;
        *retry_after_ms = whole < 1 ? 1 : whole;
    }
    return 0;
}
