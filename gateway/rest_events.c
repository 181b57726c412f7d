/* rest_events.c - POST /apps/{id}/events and /apps/{id}/batch_events (spec 9.3, 9.4, 4.13).
 * Thread: pg-rest (called from rest_server.c after the signature check).
 * Touches: the registry (masks and counts, each call under one stripe lock), the bus, the cache
 * (under its stripe lock) and the app's events bucket (REST thread only; in cluster mode the
 * cluster's, in Redis, see rest__rate_limit).
 *
 * All-or-nothing: pg_trigger validates every event first, the app's max_backend_events_per_sec
 * bucket refuses the whole request (429), then pg_bus_check refuses it (503) if any target
 * worker's inbox is over its bound, so a client retry can never duplicate part of a request.
 * Each event becomes its wire frame once per channel; the bus makes one copy per extra worker,
 * never one per subscriber. Cache channels (spec 4.8) keep a copy of that frame in srv->cache.
 * Plaintext for a private-encrypted- channel of an app with a master key (spec 6.3) is encrypted
 * here, with a fresh random nonce per channel; the key is wiped after use and never logged.
 * Cluster mode: each frame also goes, as built, to srv_redis for the other nodes (even when this
 * node has no subscriber of the channel), with the request's socket_id as the exclusion; a cache
 * channel's frame and data are also stored in Redis (srv_cstate_cache.c).
 */
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>

#include "pg_bus.h"
#include "pg_cache.h"
#include "pg_chan_name.h"
#include "pg_clock.h"
#include "pg_debug.h"
#include "pg_e2e.h"
#include "pg_frame.h"
#include "pg_log.h"
#include "pg_registry.h"
#include "pg_trigger.h"
#include "rest_handlers.h"
#include "srv_redis.h"

/* The data to send for ev on ch: ev's own bytes, or (ev->encrypt) a fresh envelope in enc under
 * the channel's key with a random nonce. The key never leaves this function's stack. */
static int event_data(const struct rest_call *c, const struct pg_trigger_event *ev,
                      const struct pg_trigger_chan *ch, struct pg_buf *enc, const char **data,
                      size_t *dlen)
{
    unsigned char key[PG_E2E_KEY_BYTES];
    int rc;

    if (!ev->encrypt) {
        *data = ev->data;
        *dlen = ev->dlen;
        return 0;
    }
    pg_buf_reset(enc);
    rc = pg_e2e_channel_key(c->app->encryption_master_key, ch->name, ch->len, key);
    if (rc == 0)
        rc = pg_e2e_encrypt(key, NULL, ev->data, ev->dlen, enc);
    sodium_memzero(key, sizeof key);
    if (rc < 0)
        return rc;
    *data = enc->p;
    *dlen = enc->len;
    return 0;
}

/* Delivers every event of t and remembers the last one of each cache channel (spec 4.8: even
 * with no subscriber). Returns 0, -ENOBUFS (nothing sent) or -ENOMEM (some sent). */
static int deliver(const struct rest_call *c, const struct pg_trigger *t)
{
    struct pg_registry *reg = c->srv->reg;
    struct pg_cache *cache = c->srv->cache; /* NULL until main creates it */
    int app = c->app->idx;
    int64_t ttl_s = c->app->cache_ttl_seconds, now = pg_now_ms();
    int64_t ttl_ms = ttl_s > INT64_MAX / 1000 ? INT64_MAX : ttl_s * 1000;
    uint64_t all = 0;
    struct pg_buf enc;
    int rc = 0;

    for (size_t i = 0; i < t->nev; i++)
        for (size_t k = 0; k < t->ev[i].nchan; k++)
            all |= pg_registry_mask(reg, app, t->ev[i].chans[k].name, t->ev[i].chans[k].len);
    if (all && pg_bus_check(c->srv->bus, all) == -ENOBUFS)
        return -ENOBUFS;

    pg_buf_init(&enc);
    for (size_t i = 0; i < t->nev; i++) {
        const struct pg_trigger_event *ev = &t->ev[i];
        for (size_t k = 0; k < ev->nchan; k++) {
            const struct pg_trigger_chan *ch = &ev->chans[k];
            bool cached = cache && (ch->kind & PG_CHAN_CACHE);
            /* Read again: a subscriber may have arrived on another worker since the check. */
            uint64_t mask = pg_registry_mask(reg, app, ch->name, ch->len);
            const char *data;
            size_t dlen;
            if (!mask && !cached && !c->srv->redis)
                continue;
            if (event_data(c, ev, ch, &enc, &data, &dlen) < 0) {
                rc = -ENOMEM;
                continue;
            }
            struct pg_msg *m = pg_frame_str(ev->name, ch->name, ch->len, data, dlen);
            if (!m) {
                rc = -ENOMEM;
                continue;
            }
            /* Before the publish, which consumes m: the cache keeps its own copy. */
            if (cached &&
                pg_cache_put(cache, app, ch->name, ch->len, m, data, dlen, now, ttl_ms) < 0)
                rc = -ENOMEM;
            /* Cluster: the same bytes go to the other nodes (a failure is counted there and
             * does not fail the request: local delivery is complete). A cache channel's event
             * goes with its cache entry, and reaches this node's subscribers through Redis too,
             * in order with the cache replays Redis answers (ws_gate.c); when Redis cannot take
             * it (or loses it on the way), it is delivered here directly. */
            if (cached && c->srv->redis &&
                srv_redis_cache_put(c->srv->redis, c->app, ch->name, ch->len, ev->socket_id,
                                    pg_msg_data(m), m->len, data, dlen, ttl_ms) == 0) {
                pg_msg_unref(m);
                continue;
            }
            if (c->srv->redis && !cached)
                srv_redis_publish(c->srv->redis, PG_CLUSTER_EVENT, c->app, ch->name, ch->len,
                                  ev->socket_id, pg_msg_data(m), m->len);
            if (!mask) {
                pg_msg_unref(m);
                continue;
            }
            if (pg_bus_publish(c->srv->bus, mask, app, ch->name, ch->len, m, ev->socket_id) ==
                -ENOMEM)
                rc = -ENOMEM;
        }
    }
    pg_buf_dispose(&enc);
    return rc;
}

/* Writes {"user_count":N,"subscription_count":M} with the members ev asked for; user_count only
 * for presence channels (a mixed multi-channel trigger may ask for it). */
static void put_counts(const struct rest_call *c, const struct pg_trigger_event *ev,
                       const struct pg_trigger_chan *ch, struct pg_buf *out)
{
    struct pg_chan_stats st;
    bool users = ev->info_users && (ch->kind & PG_CHAN_PRESENCE);
    /* Cluster mode: the cluster counts. The event is already delivered, so a Redis failure gives
     * zeroes rather than an error a client would retry (a duplicate). */
    if (!c->srv->redis)
        pg_registry_stats(c->srv->reg, c->app->idx, ch->name, ch->len, &st); /* zeroes if empty */
    else if (srv_redis_read_channel(c->srv->redis, c->app->id, ch->name, ch->len, &st) < 0)
        st.subs = st.users = 0;
    pg_buf_put(out, "{", 1);
    if (users)
        pg_buf_printf(out, "\"user_count\":%ld", st.users);
    if (ev->info_subs)
        pg_buf_printf(out, "%s\"subscription_count\":%ld", users ? "," : "", st.subs);
    pg_buf_put(out, "}", 1);
}

static int trigger(const struct rest_call *c, struct pg_buf *out, bool batch)
{
    struct pg_trigger t;
    char err[256];
    int rc = pg_trigger_parse(&t, c->app, c->body, c->blen, batch, err, sizeof err);

    switch (rc) {
    case 0:
        break;
    case -ENOMEM:
        return rest__error(out, 500, "Out of memory");
    case -EMSGSIZE:
        pg_server_count_limit(c->srv, PG_LIMIT_PAYLOAD);
        return rest__error(out, 413, err);
    case -ENAMETOOLONG:
        pg_server_count_limit(c->srv, PG_LIMIT_NAMES);
        return rest__error(out, 400, err);
    case -E2BIG:
        pg_server_count_limit(c->srv, PG_LIMIT_BATCH);
        return rest__error(out, 400, err);
    default:
        return rest__error(out, 400, err);
    }

    /* One point per (event, channel), as soketi counts; checked after validation so an invalid
     * request costs nothing, and before delivery so a refused one delivers nothing. */
    double cost = 0;
    for (size_t i = 0; i < t.nev; i++)
        cost += (double)t.ev[i].nchan;
    rc = rest__rate_limit(c->srv, c->app, c->events_rl, cost, PG_LIMIT_BACKEND_EVENTS,
                          "max_backend_events_per_sec", c->app->max_backend_events_per_sec,
                          c->retry_after, out);
    if (rc) {
        pg_trigger_dispose(&t);
        return rc;
    }

    rc = deliver(c, &t);
    if (rc == -ENOBUFS) {
        pg_trigger_dispose(&t);
        PG_LOG(PG_LOG_DEBUG, "rest", "app %s: publish refused, worker inbox full", c->app->id);
        return rest__error(out, 503, "Gateway overloaded, retry");
    }
    if (rc == -ENOMEM) {
        pg_trigger_dispose(&t);
        PG_LOG(PG_LOG_ERROR, "rest", "app %s: out of memory while publishing", c->app->id);
        return rest__error(out, 500, "Out of memory");
    }
    pg_debug_trigger(c->srv, c->app->idx, &t);

    /* Counts are read after delivery, independently of it (spec 9.3). */
    pg_buf_reset(out);
    if (!t.any_info) {
        pg_buf_put(out, "{}", 2);
    } else if (!batch) {
        const struct pg_trigger_event *ev = &t.ev[0];
        pg_buf_puts(out, "{\"channels\":{");
        for (size_t k = 0; k < ev->nchan; k++) {
            if (k)
                pg_buf_put(out, ",", 1);
            pg_buf_json_str(out, ev->chans[k].name, ev->chans[k].len);
            pg_buf_put(out, ":", 1);
            put_counts(c, ev, &ev->chans[k], out);
        }
        pg_buf_puts(out, "}}");
    } else {
        pg_buf_puts(out, "{\"batch\":[");
        for (size_t i = 0; i < t.nev; i++) {
            const struct pg_trigger_event *ev = &t.ev[i];
            if (i)
                pg_buf_put(out, ",", 1);
            if (ev->info_users || ev->info_subs)
                put_counts(c, ev, &ev->chans[0], out);
            else
                pg_buf_put(out, "{}", 2);
        }
        pg_buf_puts(out, "]}");
    }
    pg_trigger_dispose(&t);
    return 200;
}

int rest__events(const struct rest_call *c, struct pg_buf *out) { return trigger(c, out, false); }

int rest__batch_events(const struct rest_call *c, struct pg_buf *out)
{
    return trigger(c, out, true);
}
