/* ws_worker.c - worker thread life cycle, inbox processing and the liveness sweep.
 * Thread: the worker's own, except ws_worker_init/start/join/dispose (main).
 */
#include "ws_worker.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pg_cache.h"
#include "pg_iplimit.h"
#include "pg_log.h"

#define SWEEP_US (250 * 1000) /* liveness, authorization deadlines, subscription counts */
#define SHUTDOWN_GRACE_MS 3000

static const struct lws_protocols protocols[] = {
    {"pusher", ws_proto_callback, sizeof(struct ws_conn), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void wake(void *ctx)
{
    struct ws_worker *w = ctx;
    lws_cancel_service(w->ctx);
}

int ws_worker_init(struct ws_worker *w, struct pg_server *srv, unsigned id, char *err,
                   size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->id = id;
    w->srv = srv;
    w->idx = ws_chanidx_create();
    if (!w->idx) {
        snprintf(err, errlen, "worker %u: out of memory", id);
        return -ENOMEM;
    }
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    info.user = w;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
    if (srv->cfg->tls.cert) {
        /* TLS on the adopted sockets that start with a TLS handshake; plain ws:// stays possible
         * on the same port (see adopt()) so require_tls can answer it with 4000. */
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = srv->cfg->tls.cert;
        info.ssl_private_key_filepath = srv->cfg->tls.key;
    }
    info.pt_serv_buf_size = 16384;
    info.max_http_header_pool = 64;
    info.timeout_secs = 20;
    info.ka_time = 0;
    w->ctx = lws_create_context(&info);
    if (!w->ctx) {
        snprintf(err, errlen, "worker %u: lws_create_context failed", id);
        return -EIO;
    }
    w->tok = json_tokener_new_ex(32);
    if (!w->tok) {
        snprintf(err, errlen, "worker %u: out of memory", id);
        return -ENOMEM;
    }
    w->vh = lws_get_vhost_by_name(w->ctx, "default");
    if (!w->vh) {
        snprintf(err, errlen, "worker %u: lws has no default vhost", id);
        return -EIO;
    }
    pg_bus_set_waker(srv->bus, id, wake, w);
    return 0;
}

static void sweep(lws_sorted_usec_list_t *sul)
{
    struct ws_worker *w = lws_container_of(sul, struct ws_worker, sweep);
    const struct pg_config *cfg = w->srv->cfg;
    int64_t now = pg_now_ms();
    int64_t idle = (int64_t)cfg->activity_timeout * 1000;
    int64_t pong = (int64_t)cfg->pong_timeout * 1000;
    for (struct ws_conn *c = w->conns; c; c = c->next) {
        if (c->closing || !c->established)
            continue;
        if (c->auth_deadline_ms && now >= c->auth_deadline_ms) {
            ws_conn_fail(c, 4009, "Connection not authorized within timeout.");
            continue;
        }
        if (c->ping_sent_ms) {
            if (now - c->ping_sent_ms >= pong)
                ws_conn_fail(c, 4201, "Pong reply not received");
        } else if (now - c->last_rx_ms >= idle) {
            static const char ping[] = "{\"event\":\"pusher:ping\",\"data\":{}}";
            ws_conn_send_own(c, pg_msg_from(ping, sizeof ping - 1));
            c->ping_sent_ms = now;
        }
    }
    if (w->id == 0) {
        /* Shared housekeeping runs on worker 0. */
        pg_registry_flush_counts(w->srv->reg, now);
        if (now - w->purge_ms >= 60000) {
            w->purge_ms = now;
            if (w->srv->cache)
                pg_cache_purge(w->srv->cache, now);
            if (w->srv->iplimit)
                pg_iplimit_purge(w->srv->iplimit, now);
        }
    }
    if (w->shutdown_at && (now >= w->shutdown_at || !w->conns))
        w->stop = true;
    lws_sul_schedule(w->ctx, 0, &w->sweep, sweep, w->shutdown_at ? SWEEP_US / 10 : SWEEP_US);
}

static void deliver(struct ws_worker *w, struct pg_bus_item *it)
{
    struct ws_chan *k = ws_chanidx_find(w->idx, it->app, it->channel, it->clen);
    if (!k)
        return;
    bool except = it->except[0] != 0;
    /* Sending never removes entries (a closing connection leaves the index on CLOSED), so the
     * array is stable during this walk. */
    for (uint32_t i = 0; i < k->n; i++) {
        struct ws_conn *c = k->ent[i].conn;
        if (except && strcmp(c->sid, it->except) == 0)
            continue;
        if (k->gated && ws_gate_live(&c->subs[k->ent[i].slot], it->msg))
            continue;
        ws_conn_send(c, it->msg);
    }
}

/* terminate_connections: every local socket signed in as the user holds the user's
 * #server-to-user- channel, so the channel's subscriber list is exactly the set to close. */
static void terminate(struct ws_worker *w, struct pg_bus_item *it)
{
    struct ws_chan *k = ws_chanidx_find(w->idx, it->app, it->channel, it->clen);
    for (uint32_t i = 0; k && i < k->n; i++)
        ws_conn_fail(k->ent[i].conn, 4009, "You got disconnected by the app.");
}

/* Cluster mode: a frame the cluster answered for one socket (it->except), found among the local
 * subscribers of (app, channel); dropped when the socket or its subscription is gone. */
static void to_socket(struct ws_worker *w, struct pg_bus_item *it)
{
    struct ws_chan *k = ws_chanidx_find(w->idx, it->app, it->channel, it->clen);
    for (uint32_t i = 0; k && i < k->n; i++) {
        struct ws_conn *c = k->ent[i].conn;
        if (strcmp(c->sid, it->except) == 0) {
            if (!c->closing)
                ws_conn_send(c, it->msg);
            return;
        }
    }
}

/* After a reload: point every connection at its app's new entry (same index), or close it when
 * its app was removed (4001) or disabled (4003). */
static void rebind(struct ws_worker *w)
{
    const struct pg_config *cfg = w->srv->cfg;
    for (struct ws_conn *c = w->conns; c; c = c->next) {
        if (!c->app)
            continue;
        const struct pg_app *na = pg_config_app_by_id(cfg, c->app->id, strlen(c->app->id));
        if (!na)
            ws_conn_fail(c, 4001, "Application does not exist");
        else if (!na->enabled)
            ws_conn_fail(c, 4003, "Application disabled");
        else
            c->app = na;
    }
}

static void begin_shutdown(struct ws_worker *w)
{
    if (w->shutdown_at)
        return;
    w->shutdown_at = pg_now_ms() + SHUTDOWN_GRACE_MS;
    for (struct ws_conn *c = w->conns; c; c = c->next)
        ws_conn_fail(c, 4200, "Server shutting down, reconnect");
    lws_sul_schedule(w->ctx, 0, &w->sweep, sweep, SWEEP_US / 10);
}

const char ws_tls_mark;

/* The acceptor sniffed the first byte (ws_accept.c), so a plain ws:// client on a TLS port is
 * adopted as plain HTTP and can be told 4000, while a TLS client gets the handshake. */
static struct lws *adopt(struct ws_worker *w, int fd, bool tls)
{
    lws_adopt_desc_t d;
    memset(&d, 0, sizeof d);
    d.vh = w->vh;
    d.type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | (tls ? LWS_ADOPT_ALLOW_SSL : 0);
    d.fd.sockfd = fd;
    /* lws_is_ssl() answers for the vhost, not the socket: remember what the sniffing saw. */
    d.opaque = tls ? (void *)&ws_tls_mark : NULL;
    return lws_adopt_descriptor_vhost_via_info(&d);
}

/* Called on LWS_CALLBACK_EVENT_WAIT_CANCELLED: take the whole inbox, work outside its lock. */
void ws_worker_drain(struct ws_worker *w)
{
    struct pg_bus_item *it = pg_bus_take(w->srv->bus, w->id);
    while (it) {
        struct pg_bus_item *next = it->next;
        switch (it->kind) {
        case PG_BUS_ADOPT:
            if (w->shutdown_at)
                close(it->fd);
            else if (!adopt(w, it->fd, it->tls)) /* lws closed the fd */
                PG_LOG(PG_LOG_WARN, "ws", "worker %u: could not adopt a connection", w->id);
            break;
        case PG_BUS_EVENT:
            deliver(w, it);
            break;
        case PG_BUS_SHUTDOWN:
            begin_shutdown(w);
            break;
        case PG_BUS_TERMINATE:
            terminate(w, it);
            break;
        case PG_BUS_RELOAD:
            rebind(w);
            break;
        case PG_BUS_PRESENCE_RESULT:
        case PG_BUS_PRESENCE_FULL:
            ws_presence_result(w, it->app, it->channel, it->clen, it->except, it->msg);
            break;
        case PG_BUS_SOCKET_MSG:
            to_socket(w, it);
            break;
        case PG_BUS_CACHE_REPLY:
            ws_gate_replay(w, it);
            break;
        case PG_BUS_WATCH_STATE:
            to_socket(w, it);
            break;
        }
        pg_bus_item_free(it);
        it = next;
    }
}

static void *run(void *arg)
{
    struct ws_worker *w = arg;
    char name[16];
    snprintf(name, sizeof name, "pg-ws-%u", w->id);
    pthread_setname_np(pthread_self(), name);
    lws_sul_schedule(w->ctx, 0, &w->sweep, sweep, SWEEP_US);
    /* Items pushed before the thread ran found no pending wake-up to consume. */
    ws_worker_drain(w);
    while (!w->stop)
        if (lws_service(w->ctx, 0) < 0)
            break;
    lws_sul_cancel(&w->sweep);
    /* Destroying the context closes what is left; CLOSED handlers update the registry. */
    lws_context_destroy(w->ctx);
    w->ctx = NULL;
    return NULL;
}

int ws_worker_start(struct ws_worker *w)
{
    int rc = pthread_create(&w->thread, NULL, run, w);
    if (rc)
        return -rc;
    w->started = true;
    return 0;
}

void ws_worker_join(struct ws_worker *w)
{
    if (w->started)
        pthread_join(w->thread, NULL);
    w->started = false;
}

void ws_worker_dispose(struct ws_worker *w)
{
    if (w->ctx)
        lws_context_destroy(w->ctx);
    ws_chanidx_destroy(w->idx);
    if (w->tok)
        json_tokener_free(w->tok);
    memset(w, 0, sizeof *w);
}

void ws_worker_count_out(struct ws_worker *w, size_t bytes)
{
    w->frames_out++;
    w->bytes_out += bytes;
}

void ws_worker_count_overflow(struct ws_worker *w) { w->overflow_closes++; }
