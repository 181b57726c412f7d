/* bench_ws_lws.c - pg-bench transport on one libwebsockets client context (default poll
 * backend). Thread: the service thread. Callers: bench_ws.c through bench_ws__lws_ops.
 *
 * lws 4.1's poll backend hands all N descriptors to poll() on every wakeup, so its cost per
 * wakeup grows with N; at 10,000 clients that scan dominates the client's CPU. It stays as a
 * cross-check of the epoll transport (a second, independent WebSocket implementation).
 */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_ws_int.h"

static int on_writeable(struct bench_ws *b, struct bench_conn *c, struct lws *wsi)
{
    unsigned char buf[LWS_PRE + 256];
    const char *msg;
    size_t len;
    if (c->want_subscribe) {
        c->want_subscribe = false;
        msg = b->subscribe;
        len = b->subscribe_len;
    } else if (c->want_pong) {
        c->want_pong = false;
        msg = bench_ws__pong;
        len = bench_ws__pong_len;
    } else {
        return 0;
    }
    memcpy(buf + LWS_PRE, msg, len);
    if (lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len)
        return -1;
    if (c->want_subscribe || c->want_pong)
        lws_callback_on_writable(wsi);
    return 0;
}

static int lws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    struct bench_conn *c = user;
    struct bench_ws *b = c ? lws_context_user(lws_get_context(wsi)) : NULL;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_RECEIVE:
        bench_ws__data(b, bench_ws__index(b, c), in, len,
                       lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(b, c, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
        const unsigned char *p = in;
        int code = len >= 2 ? (p[0] << 8) | p[1] : 0;
        bench_ws__error(b, "server closed with %d \"%.*s\"", code, len > 2 ? (int)len - 2 : 0,
                        len > 2 ? (const char *)in + 2 : "");
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c) {
            c->wsi = NULL;
            bench_ws__gone(b, bench_ws__index(b, c), in ? (const char *)in : "connection error");
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c) {
            c->wsi = NULL;
            bench_ws__gone(b, bench_ws__index(b, c), "closed");
        }
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"pg-bench", lws_cb, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Keeps lws_service() from sleeping longer than the tick when nothing happens. */
struct tick {
    lws_sorted_usec_list_t sul; /* first member: the callback recovers the struct */
    struct bench_ws *b;
    unsigned us;
};

static void tick_cb(lws_sorted_usec_list_t *sul)
{
    struct tick *t = (struct tick *)sul;
    lws_sul_schedule(t->b->lws_ctx, 0, &t->sul, tick_cb, t->us);
}

static int lws_init(struct bench_ws *b, char *err, size_t errlen)
{
    /* A per-thread fd limit below the process limit makes lws 4.1 find sockets by linear search
     * (max_fds_unrelated_to_ulimit); keep it at least the process limit. */
    struct rlimit rl;
    unsigned fdl = b->cfg.conns + 100;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > fdl)
        fdl = (unsigned)rl.rlim_cur;
    struct tick *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->b = b;
    t->us = 20000;
    b->lws_tick = t;

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    info.fd_limit_per_thread = fdl;
    info.timeout_secs = 30;
    info.user = b;
    b->lws_ctx = lws_create_context(&info);
    if (!b->lws_ctx) {
        snprintf(err, errlen, "lws_create_context failed");
        return -1;
    }
    lws_sul_schedule(b->lws_ctx, 0, &t->sul, tick_cb, t->us);
    return 0;
}

static void lws_fini(struct bench_ws *b)
{
    struct tick *t = b->lws_tick;
    if (b->lws_ctx) {
        if (t)
            lws_sul_cancel(&t->sul);
        lws_context_destroy(b->lws_ctx);
        b->lws_ctx = NULL;
    }
    free(t);
    b->lws_tick = NULL;
}

static void lws_start(struct bench_ws *b, unsigned i)
{
    struct bench_conn *c = &b->conns[i];
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = b->lws_ctx;
    ci.address = b->cfg.host;
    unsigned k = bench_ws__target(b, i, &ci.port);
    ci.path = b->path;
    ci.host = b->hosthdr[k];
    ci.origin = b->hosthdr[k];
    ci.local_protocol_name = "pg-bench";
    ci.userdata = c;
    ci.pwsi = &c->wsi;
    if (b->ifaces)
        ci.iface = b->ifaces[i % b->cfg.source_addrs];
    /* lws may already have reported CLIENT_CONNECTION_ERROR; bench_ws__gone is idempotent */
    if (!lws_client_connect_via_info(&ci))
        bench_ws__gone(b, i, "lws_client_connect_via_info failed");
}

static void lws_flush(struct bench_ws *b, unsigned i)
{
    if (b->conns[i].wsi)
        lws_callback_on_writable(b->conns[i].wsi);
}

static int lws_svc(struct bench_ws *b, unsigned max_wait_ms)
{
    (void)max_wait_ms; /* the tick bounds the wait; lws 4.1 ignores the timeout argument */
    return lws_service(b->lws_ctx, 0);
}

const struct bench_ws_ops bench_ws__lws_ops = {
    .init = lws_init,
    .fini = lws_fini,
    .start = lws_start,
    .flush = lws_flush,
    .service = lws_svc,
};
