/* rest_metrics.c - GET /metrics (Prometheus text format 0.0.4) and GET /health.
 * Thread: pg-rest. Reads atomics, the registry (stripe locks, no I/O) and webhook stats.
 * Names: metrics_prefix (default "pushgate_") + soketi's metric names where soketi has the same
 * metric, so with metrics_prefix "soketi_" its Grafana dashboards work unchanged.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "pg_clock.h"
#include "pg_hooks.h"
#include "rest_handlers.h"
#include "srv_redis.h"

static const char *const limit_names[PG_LIMIT__COUNT] = {
    [PG_LIMIT_CONNECTIONS] = "max_connections",
    [PG_LIMIT_IP_CONNECTIONS] = "max_connections_per_ip",
    [PG_LIMIT_IP_RATE] = "max_new_connections_per_ip_per_sec",
    [PG_LIMIT_CLIENT_EVENTS] = "max_client_events_per_sec",
    [PG_LIMIT_BACKEND_EVENTS] = "max_backend_events_per_sec",
    [PG_LIMIT_READ_REQUESTS] = "max_read_requests_per_sec",
    [PG_LIMIT_PAYLOAD] = "max_event_payload_in_kb",
    [PG_LIMIT_NAMES] = "name_length",
    [PG_LIMIT_BATCH] = "batch_or_channels",
    [PG_LIMIT_PRESENCE] = "presence",
    [PG_LIMIT_MESSAGE_SIZE] = "max_message_size_kb",
    [PG_LIMIT_OUT_QUEUE] = "out_queue",
    [PG_LIMIT_WATCHLIST] = "watchlist",
};

struct chan_sum {
    long channels, subs, members;
};

static void sum_chan(void *ctx, const char *ch, size_t len, const struct pg_chan_stats *st)
{
    (void)len;
    struct chan_sum *s = ctx;
    if (ch[0] == '#')
        return; /* internal channels (#server-to-user-, #watch-) are not the app's */
    s->channels++;
    s->subs += st->subs;
    s->members += st->users;
}

/* A label value: Prometheus escapes only backslash, double quote and newline. */
static void label(struct pg_buf *o, const char *v)
{
    pg_buf_put(o, "\"", 1);
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            pg_buf_put(o, "\\", 1);
        if (*v == '\n')
            pg_buf_put(o, "\\n", 2);
        else
            pg_buf_put(o, v, 1);
    }
    pg_buf_put(o, "\"", 1);
}

static void head(struct pg_buf *o, const char *p, const char *name, const char *type,
                 const char *help)
{
    pg_buf_printf(o, "# HELP %s%s %s\n# TYPE %s%s %s\n", p, name, help, p, name, type);
}

/* One per-app series summed over the thread rows. */
static void per_app(struct pg_buf *o, struct pg_server *srv, const char *p, const char *name,
                    const char *type, const char *help, size_t field)
{
    const struct pg_config *cfg = srv->cfg;
    head(o, p, name, type, help);
    for (size_t a = 0; a < cfg->n_apps; a++) {
        if (cfg->apps[a].removed)
            continue;
        uint64_t v = 0;
        for (unsigned row = 0; row <= srv->nworkers; row++) {
            struct pg_app_stats *st = pg_server_stats(srv, row, cfg->apps[a].idx);
            v += pg_stat_get((atomic_uint_fast64_t *)((char *)st + field));
        }
        pg_buf_printf(o, "%s%s{app_id=", p, name);
        label(o, cfg->apps[a].id);
        pg_buf_printf(o, "} %llu\n", (unsigned long long)v);
    }
}

void rest__metrics(struct pg_server *srv, struct pg_buf *o)
{
    const struct pg_config *cfg = srv->cfg;
    const char *p = cfg->metrics_prefix;
#define F(f) offsetof(struct pg_app_stats, f)
    head(o, p, "connected", "gauge", "Open WebSocket connections.");
    for (size_t a = 0; a < cfg->n_apps; a++) {
        if (cfg->apps[a].removed)
            continue;
        uint64_t in = 0, out = 0;
        for (unsigned row = 0; row < srv->nworkers; row++) {
            struct pg_app_stats *st = pg_server_stats(srv, row, cfg->apps[a].idx);
            in += pg_stat_get(&st->conns_new);
            out += pg_stat_get(&st->conns_closed);
        }
        pg_buf_printf(o, "%sconnected{app_id=", p);
        label(o, cfg->apps[a].id);
        pg_buf_printf(o, "} %lld\n", (long long)(in - out));
    }
    per_app(o, srv, p, "new_connections_total", "counter", "WebSocket connections opened.",
            F(conns_new));
    per_app(o, srv, p, "new_disconnections_total", "counter", "WebSocket connections closed.",
            F(conns_closed));
    per_app(o, srv, p, "socket_received_bytes", "counter", "Bytes of WebSocket messages received.",
            F(bytes_in));
    per_app(o, srv, p, "socket_transmitted_bytes", "counter", "Bytes of WebSocket messages sent.",
            F(bytes_out));
    per_app(o, srv, p, "ws_messages_received_total", "counter", "WebSocket messages received.",
            F(msgs_in));
    per_app(o, srv, p, "ws_messages_sent_total", "counter", "WebSocket messages sent.",
            F(msgs_out));
    per_app(o, srv, p, "http_calls_received_total", "counter", "REST API calls answered.",
            F(http_calls));
    per_app(o, srv, p, "http_received_bytes", "counter", "REST API request body bytes.",
            F(http_bytes_in));
    per_app(o, srv, p, "http_transmitted_bytes", "counter", "REST API response body bytes.",
            F(http_bytes_out));
#undef F

    struct chan_sum *sums = calloc(cfg->n_apps ? cfg->n_apps : 1, sizeof *sums);
    for (size_t a = 0; sums && a < cfg->n_apps; a++)
        pg_registry_each(srv->reg, cfg->apps[a].idx, NULL, 0, sum_chan, &sums[a]);
    static const char *const gauges[3][2] = {
        {"channels", "Occupied channels."},
        {"subscriptions", "Channel subscriptions (connections x channels)."},
        {"presence_members", "Distinct users over all presence channels."},
    };
    for (int g = 0; sums && g < 3; g++) {
        head(o, p, gauges[g][0], "gauge", gauges[g][1]);
        for (size_t a = 0; a < cfg->n_apps; a++) {
            if (cfg->apps[a].removed)
                continue;
            long v = g == 0 ? sums[a].channels : g == 1 ? sums[a].subs : sums[a].members;
            pg_buf_printf(o, "%s%s{app_id=", p, gauges[g][0]);
            label(o, cfg->apps[a].id);
            pg_buf_printf(o, "} %ld\n", v);
        }
    }
    free(sums);

    head(o, p, "limit_hits_total", "counter", "Requests or connections refused by a limit.");
    for (int l = 0; l < PG_LIMIT__COUNT; l++)
        pg_buf_printf(o, "%slimit_hits_total{limit=\"%s\"} %lu\n", p, limit_names[l],
                      atomic_load_explicit(&srv->limit_hits[l], memory_order_relaxed));
    head(o, p, "out_queue_closes_total", "counter",
         "Connections closed with 4100 because they did not read fast enough.");
    pg_buf_printf(o, "%sout_queue_closes_total %lu\n", p,
                  atomic_load_explicit(&srv->limit_hits[PG_LIMIT_OUT_QUEUE], memory_order_relaxed));

    struct pg_hooks_stats hs = {0};
    if (srv->hooks)
        pg_hooks_get_stats(srv->hooks, &hs);
    static const char *const hooknames[5][2] = {
        {"webhooks_sent_total", "Webhook requests delivered (2xx)."},
        {"webhooks_retried_total", "Webhook requests retried after a failure."},
        {"webhooks_dropped_total", "Webhook events dropped (queue full or retry window over)."},
        {"webhooks_failed_total", "Webhook requests refused for good (4xx other than 408/429)."},
        {"webhooks_queued", "Webhook events waiting to be sent."},
    };
    uint64_t hv[5] = {hs.sent, hs.retried, hs.dropped, hs.failed, hs.queued};
    for (int i = 0; i < 5; i++) {
        head(o, p, hooknames[i][0], i == 4 ? "gauge" : "counter", hooknames[i][1]);
        pg_buf_printf(o, "%s%s %llu\n", p, hooknames[i][0], (unsigned long long)hv[i]);
    }

    if (srv->redis) { /* cluster mode only */
        struct srv_redis_stats rs;
        srv_redis_get_stats(srv->redis, &rs);
        head(o, p, "cluster_up", "gauge", "1 while the Redis link to the other nodes is up.");
        pg_buf_printf(o, "%scluster_up %d\n", p, rs.up);
        static const char *const cn[4][2] = {
            {"cluster_published_total", "Messages sent to the other nodes."},
            {"cluster_received_total", "Messages received from the other nodes."},
            {"cluster_delivered_total", "Received messages handed to local subscribers."},
            {"cluster_reconnects_total", "Redis links re-established after an outage."},
        };
        unsigned long cv[4] = {rs.published, rs.received, rs.delivered, rs.reconnects};
        for (int i = 0; i < 4; i++) {
            head(o, p, cn[i][0], "counter", cn[i][1]);
            pg_buf_printf(o, "%s%s %lu\n", p, cn[i][0], cv[i]);
        }
        head(o, p, "cluster_dropped_total", "counter",
             "Cross-node messages dropped: publish queue full, Redis link down, local worker "
             "inboxes full, or malformed.");
        pg_buf_printf(o,
                      "%scluster_dropped_total{reason=\"queue_full\"} %lu\n"
                      "%scluster_dropped_total{reason=\"link_down\"} %lu\n"
                      "%scluster_dropped_total{reason=\"inbox_full\"} %lu\n"
                      "%scluster_dropped_total{reason=\"malformed\"} %lu\n",
                      p, rs.dropped_full, p, rs.dropped_down, p, rs.dropped_busy, p, rs.bad);
    }

    head(o, p, "workers", "gauge", "WebSocket worker threads.");
    pg_buf_printf(o, "%sworkers %u\n", p, srv->nworkers);
    head(o, p, "uptime_seconds", "counter", "Seconds since start.");
    pg_buf_printf(o, "%suptime_seconds %lld\n", p,
                  (long long)((pg_now_ms() - srv->started_ms) / 1000));
}
