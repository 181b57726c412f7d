/* rest_channels.c - GET /apps/{id}/channels, /channels/{name}, /channels/{name}/users
 * (spec 9.5 - 9.7).
 * Thread: pg-rest (called from rest_server.c after the signature check).
 * Touches: the registry, and the cache for info=cache (cluster mode: Redis first). Their callbacks
 * and writers run under a stripe lock, so they only append to our own pg_buf (memory work, no I/O);
 * MHD sees the buffer after every lock is released. The max_read_requests_per_sec check is done by
 * rest_server.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "pg_cache.h"
#include "pg_chan_name.h"
#include "pg_clock.h"
#include "pg_registry.h"
#include "pg_trigger.h"
#include "rest_handlers.h"
#include "srv_redis.h"

/* Cluster mode: the answers come from the cluster state in Redis (srv_cstate_rest.c); when Redis
 * cannot answer, 503 {"error":"cluster state unavailable"}. */
#define CLUSTER_DOWN "cluster state unavailable"

static int parse_info(const struct rest_call *c, bool *users, bool *subs, struct pg_buf *out)
{
    const char *info = pg_rest_query_get(c->query, "info");
    char err[96];

    *users = *subs = false;
    if (info && pg_trigger_info_parse(info, strlen(info), users, subs, err, sizeof err) < 0)
        return rest__error(out, 400, err);
    return 0;
}

/* The {name} of a channel route: same rules as a subscribe or a trigger. */
static int check_name(const struct rest_call *c, struct pg_buf *out)
{
    int rc = pg_chan_name_check(c->chan, c->clen, (long)c->app->max_channel_name_length);
    if (rc == -ENAMETOOLONG) {
        pg_server_count_limit(c->srv, PG_LIMIT_NAMES);
        char msg[96];
        snprintf(msg, sizeof msg, "Channel name too long (max_channel_name_length %ld)",
                 (long)c->app->max_channel_name_length);
        return rest__error(out, 400, msg);
    }
    if (rc < 0)
        return rest__error(out, 400, "Invalid channel name");
    return 0;
}

struct list_ctx {
    struct pg_buf *out;
    bool users, subs;
    size_t n;
};

static void list_one(void *ctx, const char *ch, size_t len, const struct pg_chan_stats *st)
{
    struct list_ctx *x = ctx;
    if (len && ch[0] == '#') /* #server-to-user-* and other internal channels */
        return;
    if (x->n++)
        pg_buf_put(x->out, ",", 1);
    pg_buf_json_str(x->out, ch, len);
    pg_buf_put(x->out, ":{", 2);
    if (x->users)
        pg_buf_printf(x->out, "\"user_count\":%ld", st->users);
    if (x->subs)
        pg_buf_printf(x->out, "%s\"subscription_count\":%ld", x->users ? "," : "", st->subs);
    pg_buf_put(x->out, "}", 1);
}

int rest__channels(const struct rest_call *c, struct pg_buf *out)
{
    struct list_ctx x = {.out = out};
    const char *prefix = pg_rest_query_get(c->query, "filter_by_prefix");
    size_t plen = prefix ? strlen(prefix) : 0;
    int rc = parse_info(c, &x.users, &x.subs, out);

    if (rc)
        return rc;
    if (x.users && (plen < 9 || memcmp(prefix, "presence-", 9) != 0))
        return rest__error(out, 400,
                           "user_count requires filter_by_prefix to start with presence-");
    pg_buf_reset(out);
    pg_buf_puts(out, "{\"channels\":{");
    if (c->srv->redis) {
        if (srv_redis_read_channels(c->srv->redis, c->app->id, prefix ? prefix : "", plen, list_one,
                                    &x, x.users) < 0)
            return rest__error(out, 503, CLUSTER_DOWN);
    } else {
        pg_registry_each(c->srv->reg, c->app->idx, prefix ? prefix : "", plen, list_one, &x);
    }
    pg_buf_puts(out, "}}");
    return 200;
}

int rest__channel(const struct rest_call *c, struct pg_buf *out)
{
    const char *info = pg_rest_query_get(c->query, "info");
    unsigned want = 0, kind = pg_chan_classify(c->chan, c->clen);
    struct pg_chan_stats st;
    char err[96];
    int rc = check_name(c, out);

    if (rc)
        return rc;
    if (info &&
        pg_trigger_info_flags(info, strlen(info),
                              PG_INFO_USER_COUNT | PG_INFO_SUBSCRIPTION_COUNT | PG_INFO_CACHE,
                              &want, err, sizeof err) < 0)
        return rest__error(out, 400, err);
    if ((want & PG_INFO_USER_COUNT) && !(kind & PG_CHAN_PRESENCE))
        return rest__error(out, 400, "user_count is only available for presence channels");
    if ((want & PG_INFO_CACHE) && !(kind & PG_CHAN_CACHE))
        return rest__error(out, 400, "cache is only available for cache channels");
    bool occupied;
    struct pg_buf cached; /* cluster mode: info=cache from Redis */
    pg_buf_init(&cached);
    if (c->srv->redis) {
        int crc = (want & PG_INFO_CACHE)
                      ? srv_redis_cache_info(c->srv->redis, c->app->id, c->chan, c->clen, &cached)
                      : 0;
        if (crc == -EIO || cached.oom ||
            srv_redis_read_channel(c->srv->redis, c->app->id, c->chan, c->clen, &st) < 0) {
            pg_buf_dispose(&cached);
            return rest__error(out, 503, CLUSTER_DOWN);
        }
        occupied = st.subs > 0;
    } else {
        occupied = pg_registry_stats(c->srv->reg, c->app->idx, c->chan, c->clen, &st) == 0;
    }
    pg_buf_reset(out);
    pg_buf_printf(out, "{\"occupied\":%s", occupied ? "true" : "false");
    if (want & PG_INFO_USER_COUNT)
        pg_buf_printf(out, ",\"user_count\":%ld", st.users);
    if (want & PG_INFO_SUBSCRIPTION_COUNT)
        pg_buf_printf(out, ",\"subscription_count\":%ld", st.subs);
    if (want & PG_INFO_CACHE) {
        /* {"data":"<last data>","ttl":<seconds left>}, or null: nothing cached (spec 9.6) */
        pg_buf_puts(out, ",\"cache\":");
        if (cached.len) /* else this node's own, as a cache replay falls back to it */
            pg_buf_put(out, cached.p, cached.len);
        else if (!c->srv->cache ||
                 pg_cache_info(c->srv->cache, c->app->idx, c->chan, c->clen, pg_now_ms(), out) < 0)
            pg_buf_puts(out, "null");
    }
    pg_buf_dispose(&cached);
    pg_buf_put(out, "}", 1);
    return 200;
}

struct users_ctx {
    struct pg_buf *out;
    size_t n;
};

static void users_one(void *ctx, const char *uid, size_t len)
{
    struct users_ctx *x = ctx;
    pg_buf_puts(x->out, x->n++ ? ",{\"id\":" : "{\"id\":");
    pg_buf_json_str(x->out, uid, len);
    pg_buf_put(x->out, "}", 1);
}

int rest__users(const struct rest_call *c, struct pg_buf *out)
{
    struct users_ctx x = {.out = out};
    int rc = check_name(c, out);

    if (rc)
        return rc;
    if (!(pg_chan_classify(c->chan, c->clen) & PG_CHAN_PRESENCE))
        return rest__error(out, 400, "Users can only be retrieved for presence channels");
    pg_buf_reset(out);
    pg_buf_puts(out, "{\"users\":[");
    if (c->srv->redis) {
        if (srv_redis_read_users(c->srv->redis, c->app->id, c->chan, c->clen, users_one, &x) < 0)
            return rest__error(out, 503, CLUSTER_DOWN);
    } else {
        pg_registry_users(c->srv->reg, c->app->idx, c->chan, c->clen, users_one, &x);
    }
    pg_buf_puts(out, "]}");
    return 200;
}
