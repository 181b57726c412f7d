/* ws_proto.c - the lws protocol callback: handshake checks, inbound message reassembly and
 * parsing, and dispatch to the protocol actions.
 * Thread: the ws worker that owns the connection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pg_chan_name.h"
#include "pg_debug.h"
#include "pg_frame.h"
#include "pg_hooks.h"
#include "pg_iplimit.h"
#include "pg_log.h"
#include "pg_socket_id.h"
#include "srv_redis.h"
#include "ws_worker.h"

static void conn_link(struct ws_worker *w, struct ws_conn *c)
{
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    atomic_fetch_add(&w->load, 1);
}

static void conn_unlink(struct ws_worker *w, struct ws_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (w->conns == c)
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    atomic_fetch_sub(&w->load, 1);
}

/* Returns the app key in the path "[prefix]/app/<key>", or NULL. */
static const char *path_key(const char *uri, size_t *klen)
{
    const char *p = NULL;
    for (const char *q = strstr(uri, "/app/"); q; q = strstr(q + 1, "/app/"))
        p = q;
    if (!p)
        return NULL;
    p += 5;
    size_t n = strlen(p);
    if (n == 0 || memchr(p, '/', n))
        return NULL;
    *klen = n;
    return p;
}

/* A version string such as 8.4.0, 7.0.3-beta or 2.1+build: digits first, then [0-9A-Za-z.+-]. */
static bool version_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 32 || v[0] < '0' || v[0] > '9')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = v[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '.' || ch == '-' || ch == '+'))
            return false;
    }
    return true;
}

/* Checks the query of the handshake (spec 2.1). Returns 0 or the close code: 4007 for a protocol
 * that is not an integer in 4..7, 4008 for a missing one when require_protocol is set, 4006 for
 * a malformed version. */
static int check_query(struct lws *wsi, bool require_protocol, const char **msg)
{
    char frag[128];
    bool have_protocol = false;
    for (int i = 0; i < 32; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        if (strncmp(frag, "protocol=", 9) == 0) {
            const char *v = frag + 9;
            have_protocol = true;
            if (!(v[0] >= '4' && v[0] <= '7' && v[1] == 0)) {
                *msg = "Unsupported protocol version";
                return 4007;
            }
        } else if (strncmp(frag, "version=", 8) == 0 && !version_ok(frag + 8)) {
            *msg = "Invalid version string format";
            return 4006;
        }
    }
    if (!have_protocol && require_protocol) {
        *msg = "No protocol version supplied";
        return 4008;
    }
    return 0;
}

/* The client address for per-IP limits: the peer, or the last X-Forwarded-For entry when the
 * peer is a trusted proxy (the entry that proxy appended). */
static void client_ip(struct ws_conn *c, const struct pg_config *cfg)
{
    lws_get_peer_simple(c->wsi, c->ip, sizeof c->ip);
    bool trusted = false;
    for (size_t i = 0; i < cfg->n_trusted_proxies && !trusted; i++)
        trusted = strcmp(cfg->trusted_proxies[i], c->ip) == 0;
    char xff[256];
    if (!trusted || lws_hdr_copy(c->wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR) <= 0)
        return;
    char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    while (*last == ' ')
        last++;
    size_t n = strcspn(last, " ");
    if (n > 0 && n < sizeof c->ip) {
        memcpy(c->ip, last, n);
        c->ip[n] = 0;
    }
}

/* Counts c against max_connections; on refusal closes it with 4004. */
static int take_quota(struct ws_conn *c)
{
    struct pg_server *srv = c->w->srv;
    const struct pg_app *app = c->app;
    long n = atomic_fetch_add(&srv->app_conns[app->idx], 1) + 1;
    if (app->max_connections >= 0 &&
        n + atomic_load(&srv->app_conns_others[app->idx]) > app->max_connections) {
        atomic_fetch_sub(&srv->app_conns[app->idx], 1);
        pg_server_count_limit(srv, PG_LIMIT_CONNECTIONS);
        ws_conn_fail(c, 4004, "Application is over connection quota");
        return -EDQUOT;
    }
    c->quota_counted = true;
    return 0;
}

int ws_conn_authorize(struct ws_conn *c)
{
    if (c->authorized)
        return 0;
    c->authorized = true;
    /* enable_user_authentication wants a sign-in specifically; a channel does not do. */
    if (c->user_id || !c->app->enable_user_authentication)
        c->auth_deadline_ms = 0;
    if (c->app->authorized_connections && !c->quota_counted)
        return take_quota(c);
    return 0;
}

static int on_established(struct ws_worker *w, struct ws_conn *c, struct lws *wsi)
{
    struct pg_server *srv = w->srv;
    c->wsi = wsi;
    c->w = w;
    c->last_rx_ms = pg_now_ms();
    conn_link(w, c);

    char uri[512];
    size_t klen = 0;
    const char *key = NULL;
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) > 0)
        key = path_key(uri, &klen);
    if (!key) {
        ws_conn_fail(c, 4005, "Path not found");
        return 0;
    }
    const char *qmsg = NULL;
    int qcode = check_query(wsi, srv->cfg->require_protocol, &qmsg);
    if (qcode) {
        ws_conn_fail(c, qcode, qmsg);
        return 0;
    }
    if (srv->cfg->require_tls && lws_get_opaque_user_data(wsi) != &ws_tls_mark) {
        ws_conn_fail(c, 4000, "Application only accepts SSL connections, reconnect using wss://");
        return 0;
    }
    const struct pg_app *app = pg_config_app_by_key(srv->cfg, key, klen);
    if (!app) {
        ws_conn_fail(c, 4001, "Application does not exist");
        return 0;
    }
    if (!app->enabled) {
        ws_conn_fail(c, 4003, "Application disabled");
        return 0;
    }
    c->app = app;
    if (srv->iplimit) {
        client_ip(c, srv->cfg);
        int r = pg_iplimit_enter(srv->iplimit, c->ip, pg_now_ms());
        if (r < 0) {
            pg_server_count_limit(srv, r == -EMFILE ? PG_LIMIT_IP_CONNECTIONS : PG_LIMIT_IP_RATE);
            ws_conn_fail(c, 4100,
                         r == -EMFILE ? "Over capacity: too many connections from your address"
                                      : "Over capacity: connecting too fast, retry in a second");
            return 0;
        }
        c->ip_counted = true;
    }
    /* Unauthorized connections are not counted while authorized_connections is on. */
    if (!app->authorized_connections && take_quota(c) < 0)
        return 0;
    if (app->authorized_connections || app->enable_user_authentication)
        c->auth_deadline_ms = pg_now_ms() + app->authorization_timeout_ms;
    uint64_t seq = atomic_fetch_add(&srv->sid_seq, 1) + 1;
    c->sidlen = (uint8_t)pg_socket_id_format(c->sid, sizeof c->sid, srv->node_tag, seq);
    atomic_fetch_add(&srv->conns, 1);
    pg_stat_add(&pg_server_stats(srv, w->id, app->idx)->conns_new, 1);
    c->established = true;
    pg_debug_mirror(srv, app->idx, "connected", PG_DBG_SID(c->sid), PG_DBG_END);

    char data[128];
    int n = snprintf(data, sizeof data, "{\"socket_id\":\"%s\",\"activity_timeout\":%d}", c->sid,
                     srv->cfg->activity_timeout);
    ws_conn_send_own(c, pg_frame_str("pusher:connection_established", NULL, 0, data, (size_t)n));
    return 0;
}

static void on_closed(struct ws_worker *w, struct ws_conn *c)
{
    if (!c->w)
        return; /* never reached ESTABLISHED */
    if (c->established) {
        ws_unsubscribe_all(c);
        pg_debug_mirror(w->srv, c->app->idx, "disconnected", PG_DBG_SID(c->sid), PG_DBG_END);
        atomic_fetch_sub(&w->srv->conns, 1);
        pg_stat_add(&pg_server_stats(w->srv, w->id, c->app->idx)->conns_closed, 1);
    }
    if (c->quota_counted)
        atomic_fetch_sub(&w->srv->app_conns[c->app->idx], 1);
    if (c->ip_counted)
        pg_iplimit_leave(w->srv->iplimit, c->ip);
    free(c->user_id);
    free(c->user_info);
    c->user_id = c->user_info = NULL;
    conn_unlink(w, c);
    ws_conn_queue_clear(c);
    free(c->q);
    free(c->rx);
    free(c->subs);
    c->q = NULL;
    c->rx = NULL;
    c->subs = NULL;
    c->w = NULL;
}

/* Client events (client-*): private and presence channels only, from a subscriber, relayed to
 * every other subscriber. */
static void client_event(struct ws_conn *c, const char *event, size_t elen, json_object *msg)
{
    const struct pg_app *app = c->app;
    if (!app->enable_client_messages) {
        ws_conn_error(c, 4301, "The app does not have client messaging enabled.");
        return;
    }
    json_object *jch = json_object_object_get(msg, "channel");
    if (!json_object_is_type(jch, json_type_string)) {
        ws_conn_error(c, 4301, "Client event rejected - no channel given");
        return;
    }
    const char *ch = json_object_get_string(jch);
    size_t clen = (size_t)json_object_get_string_len(jch);
    unsigned kind = pg_chan_classify(ch, clen);
    if (!(kind & (PG_CHAN_PRIVATE | PG_CHAN_PRESENCE)) || (kind & PG_CHAN_ENCRYPTED)) {
        ws_conn_error(c, 4301,
                      "Client event rejected - only supported on private and presence channels");
        return;
    }
    struct ws_sub *sub = ws_chanidx_sub_of(c, app->idx, ch, clen);
    if (!sub) {
        ws_conn_error(c, 4301, "Client event rejected - not subscribed to the channel");
        return;
    }
    if (pg_event_name_check(event, elen, (long)app->max_event_name_length) < 0) {
        ws_conn_error(c, 4301, "Client event rejected - event name too long");
        return;
    }
    json_object *data = json_object_object_get(msg, "data");
    const char *dj = data ? json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN) : "null";
    size_t dlen = strlen(dj);
    if (app->max_event_payload_in_kb >= 0 && dlen > (size_t)app->max_event_payload_in_kb * 1024) {
        ws_conn_error(c, 4301, "Client event rejected - payload over max_event_payload_in_kb");
        return;
    }
    if (app->max_client_events_per_sec >= 0) {
        int64_t now = pg_now_ms();
        if (now - c->rl_window_ms >= 1000) {
            c->rl_window_ms = now;
            c->rl_count = 0;
        }
        if (++c->rl_count > (uint64_t)app->max_client_events_per_sec) {
            pg_server_count_limit(c->w->srv, PG_LIMIT_CLIENT_EVENTS);
            ws_conn_error(c, 4301, "Client event rejected due to rate limit");
            return;
        }
    }
    struct pg_msg *m = pg_frame_raw(event, ch, clen, dj, dlen, sub->user_id, sub->ulen);
    if (!m)
        return;
    struct pg_server *srv = c->w->srv;
    /* Cluster: the same bytes to the other nodes, before the local publish consumes m. */
    if (srv->redis)
        srv_redis_publish(srv->redis, PG_CLUSTER_EVENT, app, ch, clen, c->sid, pg_msg_data(m),
                          m->len);
    if (pg_bus_publish(srv->bus, pg_registry_mask(srv->reg, app->idx, ch, clen), app->idx, ch, clen,
                       m, c->sid) >= 0)
        pg_hooks_client_event(srv->hooks, app->idx, ch, clen, event, elen, dj, dlen, c->sid,
                              sub->user_id, sub->ulen);
    pg_debug_mirror(srv, app->idx, "client_event", PG_DBG_C(ch), PG_DBG_S("event", event),
                    PG_DBG_SID(c->sid), PG_DBG_S("user_id", sub->user_id),
                    PG_DBG_D("data", dj, dlen), PG_DBG_END);
}

/* Pusher clients send data of pusher:* events as an object; older ones as a JSON string. */
static json_object *event_data(json_object *msg, json_object **owned)
{
    json_object *d = json_object_object_get(msg, "data");
    *owned = NULL;
    if (json_object_is_type(d, json_type_string)) {
        *owned = json_tokener_parse(json_object_get_string(d));
        return *owned;
    }
    return d;
}

static void on_message(struct ws_conn *c, const char *buf, size_t len)
{
    struct ws_worker *w = c->w;
    struct pg_app_stats *st = pg_server_stats(w->srv, w->id, c->app->idx);
    pg_stat_add(&st->msgs_in, 1);
    pg_stat_add(&st->bytes_in, len);
    json_tokener_reset(w->tok);
    json_tokener_set_flags(w->tok, JSON_TOKENER_STRICT);
    json_object *msg = json_tokener_parse_ex(w->tok, buf, (int)len);
    if (!msg || json_tokener_get_parse_end(w->tok) != len ||
        !json_object_is_type(msg, json_type_object)) {
        json_object_put(msg);
        ws_conn_error(c, -1, "Invalid message: expected one JSON object");
        return;
    }
    json_object *jev = json_object_object_get(msg, "event");
    if (!json_object_is_type(jev, json_type_string)) {
        json_object_put(msg);
        ws_conn_error(c, -1, "Invalid message: no event name");
        return;
    }
    const char *ev = json_object_get_string(jev);
    size_t elen = (size_t)json_object_get_string_len(jev);
    json_object *owned = NULL;
    if (strcmp(ev, "pusher:ping") == 0) {
        static const char pong[] = "{\"event\":\"pusher:pong\",\"data\":{}}";
        ws_conn_send_own(c, pg_msg_from(pong, sizeof pong - 1));
    } else if (strcmp(ev, "pusher:pong") == 0) {
        /* activity was recorded on receive */
    } else if (strcmp(ev, "pusher:subscribe") == 0) {
        ws_subscribe(c, event_data(msg, &owned));
    } else if (strcmp(ev, "pusher:unsubscribe") == 0) {
        ws_unsubscribe(c, event_data(msg, &owned));
    } else if (strcmp(ev, "pusher:signin") == 0) {
        ws_signin(c, event_data(msg, &owned));
    } else if (strncmp(ev, "client-", 7) == 0) {
        client_event(c, ev, elen, msg);
    } else if (strncmp(ev, "pusher:", 7) == 0 || strncmp(ev, "pusher_internal:", 16) == 0) {
        /* Protocol events this server does not implement are ignored (spec 4.1). */
    } else {
        char m[300];
        snprintf(m, sizeof m, "Unsupported event received on socket: '%.200s'", ev);
        ws_conn_error(c, -1, m);
    }
    json_object_put(owned);
    json_object_put(msg);
}

static int on_receive(struct ws_conn *c, const char *in, size_t len)
{
    struct lws *wsi = c->wsi;
    c->last_rx_ms = pg_now_ms();
    c->ping_sent_ms = 0;
    bool first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
    if (first) {
        c->rxlen = 0;
        c->rx_skip = lws_frame_is_binary(wsi);
    }
    if (c->closing || !c->established || c->rx_skip)
        return 0; /* binary frames are ignored, as Pusher does (spec 1) */
    size_t max = (size_t)c->w->srv->cfg->max_message_size_kb * 1024;
    if (c->rxlen + len > max) {
        pg_server_count_limit(c->w->srv, PG_LIMIT_MESSAGE_SIZE);
        static const char r[] = "Message too big";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)r, sizeof r - 1);
        return -1;
    }
    if (first && final) {
        on_message(c, in, len);
        return 0;
    }
    if (c->rxlen + len > c->rxcap) {
        size_t cap = c->rxcap ? c->rxcap : 4096;
        while (cap < c->rxlen + len)
            cap *= 2;
        char *p = realloc(c->rx, cap);
        if (!p)
            return -1;
        c->rx = p;
        c->rxcap = cap;
    }
    memcpy(c->rx + c->rxlen, in, len);
    c->rxlen += len;
    if (final) {
        on_message(c, c->rx, c->rxlen);
        c->rxlen = 0;
        free(c->rx); /* idle connections keep no reassembly buffer */
        c->rx = NULL;
        c->rxcap = 0;
    }
    return 0;
}

int ws_proto_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    struct ws_worker *w = lws_context_user(lws_get_context(wsi));
    struct ws_conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        ws_worker_drain(w);
        return 0; /* anything else makes lws close its wake-up pipe */
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(w, c, wsi);
    case LWS_CALLBACK_RECEIVE:
        return on_receive(c, in, len);
    case LWS_CALLBACK_RECEIVE_PONG:
        c->last_rx_ms = pg_now_ms();
        c->ping_sent_ms = 0;
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return c->w ? ws_conn_on_writable(c) : -1;
    case LWS_CALLBACK_CLOSED:
        on_closed(w, c);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
