/* pg_ratelimit.h - a token bucket: rate tokens per second, holding at most burst (= rate) tokens.
 * Owner: whoever embeds it; no lock inside. The REST thread owns the per-app buckets of
 * max_backend_events_per_sec and max_read_requests_per_sec (rest_server.c).
 * Thread: the owner's only (pure; the caller passes the time, so tests use explicit times).
 */
#ifndef PG_RATELIMIT_H
#define PG_RATELIMIT_H

#include <stdint.h>

struct pg_ratelimit {
    double tokens;   /* available now (as of last_ms) */
    double rate;     /* tokens per second; < 0: unlimited */
    int64_t last_ms; /* time of the last refill (monotonic ms) */
};

/* rate tokens per second, burst = rate, starts full. rate < 0 (PG_UNLIMITED): every take
 * succeeds. rate 0: every take of n > 0 fails. Nothing to dispose. */
void pg_ratelimit_init(struct pg_ratelimit *rl, double rate);

/* Takes n tokens at now_ms (monotonic ms; a time before the last one counts as no time passed).
 * Returns 1 when allowed (tokens taken), 0 when refused (nothing taken). On refusal
 * *retry_after_ms (may be NULL) is how long until n tokens will be there, at least 1; a request
 * bigger than the whole burst can never pass and gets the time until the bucket is full. */
int pg_ratelimit_take(struct pg_ratelimit *rl, double n, int64_t now_ms, int64_t *retry_after_ms);

#endif
