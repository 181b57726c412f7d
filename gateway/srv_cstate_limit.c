/* srv_cstate_limit.c - cluster mode: the REST rate limits (max_backend_events_per_sec,
 * max_read_requests_per_sec) counted for the whole cluster, see srv_redis.h.
 * Thread: pg-rest (on the REST thread's synchronous context, srv_cstate_rest.c, under rest_lock).
 *
 * One token bucket per (app, limit) in Redis: the hash <P>:rl:<app>:<which> (which 0: events,
 * 1: reads) holds "tokens" (available as of "last_ms") and "last_ms" (Redis's TIME, in ms, of the
 * last refill), as pg_ratelimit keeps them on a single node: rate tokens per second, burst = rate,
 * a missing key is a full bucket. A small Lua script of its own refills, takes and answers
 * {allowed, retry_ms} in one round trip, so every node draws from the same bucket and node clocks
 * do not matter. A refusal writes nothing (the stored refill time still gives the same answer
 * later); a take PEXPIREs the key a little after it would be full again, so idle apps leave
 * nothing behind.
 *
 * The script runs with EVALSHA; its SHA1 is kept in a file-static (one srv_redis per process,
 * guarded by rest_lock). srv_redis__rest_run answers a NOSCRIPT by reloading the state script,
 * not this one, and then gives up (NULL) with the context still open: that case (a Redis restarted
 * empty, SCRIPT FLUSH) is told from an unreachable Redis by the context surviving, and gets one
 * SCRIPT LOAD and one more try. When Redis cannot answer, -EIO: the caller falls back to its own
 * per-node bucket, so an outage still limits each node.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "srv_redis_int.h"

/* KEYS[1]: the bucket; ARGV: rate (tokens per second), cost. Returns {1, 0} (taken) or
 * {0, retry_ms}. The same rules as pg_ratelimit_take: rate < 0 or cost <= 0 always pass, rate 0
 * refuses (retry 1 s), a cost over the burst gets the time until the bucket is full, and the
 * comparison tolerates a refill landing a hair below a whole token. */
/* clang-format off */
static const char script[] =
"local rate, cost = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
"if not rate or not cost then return redis.error_reply('pushgate: bad rate or cost') end\n"
"if rate < 0 or cost <= 0 then return {1, 0} end\n"
"if rate == 0 then return {0, 1000} end\n"
"local t = redis.call('TIME')\n"
"local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000\n"
"local s = redis.call('HMGET', KEYS[1], 'tokens', 'last_ms')\n"
"local tokens, last = tonumber(s[1]), tonumber(s[2])\n"
"if not tokens or not last then tokens, last = rate, now end\n"
"if now > last then\n"
"  tokens = tokens + (now - last) * rate / 1000\n"
"  last = now\n"
"end\n"
"if tokens > rate then tokens = rate end\n"
"if tokens < 0 then tokens = 0 end\n"
"if tokens + 1e-9 >= cost then\n"
"  tokens = tokens > cost and tokens - cost or 0\n"
"  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),\n"
"             'last_ms', string.format('%.17g', last))\n"
"  local full = math.ceil((rate - tokens) * 1000 / rate)\n"
"  if full > 1e12 then full = 1e12 end\n"
"  redis.call('PEXPIRE', KEYS[1], full + 1000)\n"
"  return {1, 0}\n"
"end\n"
"local want = cost > rate and rate or cost\n"
"local ms = math.ceil((want - tokens) * 1000 / rate - 1e-6)\n"
"if ms > 1e15 then ms = 1e15 end\n"
"if ms < 1 then ms = 1 end\n"
"return {0, ms}\n";
/* clang-format on */

static char sha[41]; /* this script's SHA1 once loaded ("" before); guarded by rest_lock */

/* SCRIPT LOAD on the REST context. 0 or -EIO. Caller holds rest_lock. */
static int load(struct srv_redis *r)
{
    const char *argv[] = {"SCRIPT", "LOAD", script};
    size_t argl[] = {6, 4, sizeof script - 1};
    redisReply *rep = srv_redis__rest_run(r, 3, argv, argl);
    int rc = rep && rep->type == REDIS_REPLY_STRING && rep->len == 40 ? 0 : -EIO;
    if (rc == 0) {
        memcpy(sha, rep->str, 40);
        sha[40] = '\0';
    }
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int srv_redis_rate_take(struct srv_redis *r, const char *app_id, int which, double rate,
                        double cost, int64_t *retry_after_ms)
{
    char key[600], rs[32], cs[32];
    int kl = snprintf(key, sizeof key, "%s:rl:%s:%d", r->kprefix, app_id, which ? 1 : 0);
    int rl = snprintf(rs, sizeof rs, "%.17g", rate);
    int cl = snprintf(cs, sizeof cs, "%.17g", cost);
    if (kl < 0 || kl >= (int)sizeof key || rl < 0 || rl >= (int)sizeof rs || cl < 0 ||
        cl >= (int)sizeof cs)
        return -EIO;

    pthread_mutex_lock(&r->rest_lock);
    redisReply *rep = NULL;
    if (sha[0] || load(r) == 0) {
        const char *argv[] = {"EVALSHA", sha, "1", key, rs, cs};
        size_t argl[] = {7, 40, 1, (size_t)kl, (size_t)rl, (size_t)cl};
        rep = srv_redis__rest_run(r, 6, argv, argl);
        /* NULL with the context still open: Redis answered, most likely NOSCRIPT (it restarted
         * empty); load this script and try once more. */
        if (!rep && r->rest && load(r) == 0)
            rep = srv_redis__rest_run(r, 6, argv, argl);
    }
    int rc = -EIO;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER &&
        rep->element[1]->type == REDIS_REPLY_INTEGER) {
        rc = rep->element[0]->integer ? 1 : 0;
        if (rc == 0 && retry_after_ms) {
            long long ms = rep->element[1]->integer;
            *retry_after_ms = ms < 1 ? 1 : (int64_t)ms;
        }
    }
    if (rep)
        freeReplyObject(rep);
    pthread_mutex_unlock(&r->rest_lock);
    return rc;
}
