/* rest_events.c - POST /apps/{id}/events and /apps/{id}/batch_events (spec 9.3, 9.4, 4.13).
 * Thread: pg-rest (called from rest_server.c after the signature check).
 * Touches: the registry (masks and counts, each call under one stripe lock) and the bus.
 *
 * All-or-nothing: pg_trigger validates every event first, then pg_bus_check refuses the whole
 * request (503) if any target worker's inbox is over its bound, so a client retry can never
 * duplicate part of a request. Each event becomes its wire frame once per channel; the bus makes
 * one copy per extra worker, never one per subscriber.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "pg_bus.h"
#include "pg_chan_name.h"
#include "pg_frame.h"
#include "pg_log.h"
#include "pg_registry.h"
#include "pg_trigger.h"
#include "rest_handlers.h"

/* Delivers every event of t. Returns 0, -ENOBUFS (nothing sent) or -ENOMEM (some sent). */
static int deliver(const struct rest_call *c, const struct pg_trigger *t)
{
    struct pg_registry *reg = c->srv->reg;
    int app = c->app->idx;
    uint64_t all = 0;
    int rc = 0;

    for (size_t i = 0; i < t->nev; i++)
        for (size_t k = 0; k < t->ev[i].nchan; k++)
            all |= pg_registry_mask(reg, app, t->ev[i].chans[k].name, t->ev[i].chans[k].len);
    if (all && pg_bus_check(c->srv->bus, all) == -ENOBUFS)
        return -ENOBUFS;

    for (size_t i = 0; i < t->nev; i++) {
        const struct pg_trigger_event *ev = &t->ev[i];
        for (size_t k = 0; k < ev->nchan; k++) {
            const struct pg_trigger_chan *ch = &ev->chans[k];
            /* Read again: a subscriber may have arrived on another worker since the check. */
            uint64_t mask = pg_registry_mask(reg, app, ch->name, ch->len);
            if (!mask)
                continue;
            struct pg_msg *m = pg_frame_str(ev->name, ch->name, ch->len, ev->data, ev->dlen);
            if (!m) {
                rc = -ENOMEM;
                continue;
            }
            if (pg_bus_publish(c->srv->bus, mask, app, ch->name, ch->len, m, ev->socket_id) ==
                -ENOMEM)
                rc = -ENOMEM;
        }
    }
    return rc;
}

/* Writes {"user_count":N,"subscription_count":M} with the members ev asked for; user_count only
 * for presence channels (a mixed multi-channel trigger may ask for it). */
static void put_counts(const struct rest_call *c, const struct pg_trigger_event *ev,
                       const struct pg_trigger_chan *ch, struct pg_buf *out)
{
    struct pg_chan_stats st;
    bool users = ev->info_users && (ch->kind & PG_CHAN_PRESENCE);
    pg_registry_stats(c->srv->reg, c->app->idx, ch->name, ch->len, &st); /* zeroes if empty */
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

    if (rc == -EMSGSIZE)
        return rest__error(out, 413, err);
    if (rc == -ENOMEM)
        return rest__error(out, 500, "Out of memory");
    if (rc < 0)
        return rest__error(out, 400, err);

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
