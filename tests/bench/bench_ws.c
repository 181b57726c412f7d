/* bench_ws.c - pg-bench's subscribers: per-connection accounting shared by both transports.
 * Thread: the caller's (the one that services the client set). Callers: bench_main.c; the
 * transports bench_ws_epoll.c and bench_ws_lws.c call the bench_ws__* functions.
 *
 * Frames are not JSON-parsed: with 10,000 subscribers every event becomes 10,000 frames, and the
 * client must stay cheaper than the server it measures. A delivery is found by its marker
 * "#pgb:<seq>:<t_ns>;" (see bench_rest__payload); control events by a substring of their name.
 */
#include "bench_ws.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_ws_int.h"

#define MAX_WAIT_MS 20 /* wake at least this often to check deadlines and stop() */

const char bench_ws__pong[] = "{\"event\":\"pusher:pong\",\"data\":{}}";
const size_t bench_ws__pong_len = sizeof bench_ws__pong - 1;

void bench_ws__error(struct bench_ws *b, const char *fmt, ...)
{
    if (b->st.first_error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->st.first_error, sizeof b->st.first_error, fmt, ap);
    va_end(ap);
}

int bench_ws__scan(const char *frame, size_t len, uint64_t *seq, uint64_t *t_ns)
{
    const char *m = memmem(frame, len, "#pgb:", 5);
    if (!m)
        return 0;
    const char *end = frame + len, *p = m + 5;
    uint64_t v[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        const char *start = p;
        while (p < end && *p >= '0' && *p <= '9')
            v[k] = v[k] * 10 + (uint64_t)(*p++ - '0');
        if (p == start || p >= end || *p != (k == 0 ? ':' : ';'))
            return -1;
        p++;
    }
    *seq = v[0];
    *t_ns = v[1];
    return 1;
}

static void on_delivery(struct bench_ws *b, struct bench_conn *c, uint64_t seq, uint64_t t_ns,
                        uint64_t rx)
{
    if (seq >= b->cfg.events) {
        b->st.bad_frames++;
        return;
    }
    uint8_t bit = (uint8_t)(1u << (seq & 7));
    if (c->seen[seq >> 3] & bit) {
        b->st.duplicates++;
        return;
    }
    c->seen[seq >> 3] |= bit;
    b->st.received++;
    if (!b->st.first_rx_ns)
        b->st.first_rx_ns = rx;
    b->st.last_rx_ns = rx;
    bench_hist_add(&b->hist, rx > t_ns ? (rx - t_ns) / 1000 : 0);
}

static bool has(const char *m, size_t len, const char *needle)
{
    return memmem(m, len, needle, strlen(needle)) != NULL;
}

static void on_message(struct bench_ws *b, unsigned i, const char *m, size_t len)
{
    struct bench_conn *c = &b->conns[i];
    uint64_t seq, t_ns;
    int r = bench_ws__scan(m, len, &seq, &t_ns);
    if (r > 0) {
        on_delivery(b, c, seq, t_ns, bench_now_ns());
        return;
    }
    if (r < 0) {
        b->st.bad_frames++;
        return;
    }
    if (has(m, len, "\"pusher:connection_established\"")) {
        if (c->state == BC_CONNECTING) {
            c->state = BC_ESTABLISHED;
            b->pending--;
            b->st.established++;
            b->st.t_last_established_ns = bench_now_ns();
            c->want_subscribe = true;
            b->ops->flush(b, i);
        }
    } else if (has(m, len, "\"pusher_internal:subscription_succeeded\"")) {
        if (c->state == BC_ESTABLISHED) {
            c->state = BC_SUBSCRIBED;
            b->st.subscribed++;
            b->st.t_last_subscribed_ns = bench_now_ns();
        }
    } else if (has(m, len, "\"pusher:ping\"")) {
        c->want_pong = true;
        b->ops->flush(b, i);
    } else if (has(m, len, "\"pusher:error\"") || has(m, len, "\"pusher:subscription_error\"")) {
        b->st.pusher_errors++;
        bench_ws__error(b, "server sent: %.*s", (int)(len > 200 ? 200 : len), m);
    }
}

void bench_ws__data(struct bench_ws *b, unsigned i, const char *in, size_t len, bool complete)
{
    struct bench_conn *c = &b->conns[i];
    if (complete && c->msg_len == 0) {
        on_message(b, i, in, len);
        return;
    }
    if (c->msg_len + len > c->msg_cap) {
        size_t cap = (c->msg_len + len) * 2;
        char *n = realloc(c->msg, cap);
        if (!n) {
            b->st.bad_frames++;
            c->msg_len = 0;
            return;
        }
        c->msg = n;
        c->msg_cap = cap;
    }
    memcpy(c->msg + c->msg_len, in, len);
    c->msg_len += len;
    if (complete) {
        on_message(b, i, c->msg, c->msg_len);
        c->msg_len = 0;
    }
}

void bench_ws__gone(struct bench_ws *b, unsigned i, const char *why)
{
    struct bench_conn *c = &b->conns[i];
    if (c->state == BC_CONNECTING)
        b->pending--;
    if (c->state == BC_SUBSCRIBED) {
        c->state = BC_CLOSED;
        b->st.closed_after_sub++;
        bench_ws__error(b, "subscribed connection closed: %s", why);
    } else if (c->state != BC_FAILED && c->state != BC_CLOSED) {
        c->state = BC_FAILED;
        b->st.failed++;
        bench_ws__error(b, "connection failed: %s", why);
    }
}

struct bench_ws *bench_ws_create(const struct bench_ws_cfg *cfg, char *err, size_t errlen)
{
    struct bench_ws *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->cfg = *cfg;
    b->epfd = -1;
    b->ops = cfg->backend == BENCH_WS_LWS ? &bench_ws__lws_ops : &bench_ws__epoll_ops;
    b->seen_stride = (size_t)((cfg->events + 7) / 8);
    b->conns = calloc(cfg->conns ? cfg->conns : 1, sizeof *b->conns);
    b->seen = calloc(cfg->conns ? cfg->conns : 1, b->seen_stride ? b->seen_stride : 1);
    unsigned k = cfg->source_addrs > 1 ? cfg->source_addrs : 0;
    b->ifaces = k ? calloc(k, sizeof *b->ifaces) : NULL;
    if (!b->conns || !b->seen || (k && !b->ifaces) || bench_hist_init(&b->hist) < 0) {
        snprintf(err, errlen, "out of memory for %u connections x %llu events", cfg->conns,
                 (unsigned long long)cfg->events);
        free(b->conns);
        b->conns = NULL;
        bench_ws_destroy(b);
        return NULL;
    }
    for (unsigned i = 0; i < k; i++)
        snprintf(b->ifaces[i], sizeof b->ifaces[i], "127.0.0.%u", i + 1);
    for (unsigned i = 0; i < cfg->conns; i++) {
        b->conns[i].seen = b->seen + (size_t)i * b->seen_stride;
        b->conns[i].fd = -1;
    }
    snprintf(b->path, sizeof b->path, "/app/%s?protocol=7&client=pg-bench&version=1", cfg->key);
    if (cfg->nports > BENCH_WS_MAX_PORTS) {
        snprintf(err, errlen, "more than %d ports", BENCH_WS_MAX_PORTS);
        bench_ws_destroy(b);
        return NULL;
    }
    for (unsigned j = 0; j < (cfg->nports ? cfg->nports : 1); j++)
        snprintf(b->hosthdr[j], sizeof b->hosthdr[j], "%s:%d", cfg->host,
                 cfg->nports ? cfg->ports[j] : cfg->port);
    int n = snprintf(b->subscribe, sizeof b->subscribe,
                     "{\"event\":\"pusher:subscribe\",\"data\":{\"auth\":\"\",\"channel\":\"%s\"}}",
                     cfg->channel);
    if (n < 0 || (size_t)n >= sizeof b->subscribe) {
        snprintf(err, errlen, "channel name too long");
        bench_ws_destroy(b);
        return NULL;
    }
    b->subscribe_len = (size_t)n;
    if (b->ops->init(b, err, errlen) < 0) {
        bench_ws_destroy(b);
        return NULL;
    }
    return b;
}

void bench_ws_destroy(struct bench_ws *b)
{
    if (!b)
        return;
    if (b->conns) {
        b->ops->fini(b);
        for (unsigned i = 0; i < b->cfg.conns; i++) {
            free(b->conns[i].msg);
            free(b->conns[i].rbuf);
            free(b->conns[i].wbuf);
        }
    }
    free(b->conns);
    free(b->seen);
    free(b->ifaces);
    bench_hist_dispose(&b->hist);
    free(b);
}

static bool connect_done(void *arg)
{
    struct bench_ws *b = arg;
    while (b->next < b->cfg.conns && b->pending < b->cfg.max_pending) {
        unsigned i = b->next++;
        b->conns[i].state = BC_CONNECTING;
        b->pending++;
        b->st.started++;
        b->ops->start(b, i);
    }
    return b->next == b->cfg.conns &&
           b->st.subscribed + b->st.failed + b->st.closed_after_sub >= b->cfg.conns;
}

void bench_ws_connect(struct bench_ws *b, uint64_t deadline_ns)
{
    if (!b->cfg.max_pending)
        b->cfg.max_pending = 1;
    b->st.t_start_ns = bench_now_ns();
    bench_ws_run(b, connect_done, b, deadline_ns);
    if (b->st.subscribed < b->cfg.conns && deadline_ns && bench_now_ns() >= deadline_ns)
        bench_ws__error(b, "phase 1 deadline: %u of %u subscribed (%u started, %u established)",
                        b->st.subscribed, b->cfg.conns, b->st.started, b->st.established);
}

void bench_ws_run(struct bench_ws *b, bool (*stop)(void *arg), void *arg, uint64_t deadline_ns)
{
    while (!stop(arg)) {
        if (deadline_ns && bench_now_ns() >= deadline_ns)
            break;
        if (b->ops->service(b, MAX_WAIT_MS) < 0)
            break;
    }
}

const struct bench_ws_stats *bench_ws_stats(const struct bench_ws *b) { return &b->st; }

const struct bench_hist *bench_ws_hist(const struct bench_ws *b) { return &b->hist; }

unsigned bench_ws_conns_missing(const struct bench_ws *b, uint64_t events)
{
    unsigned n = 0;
    if (events > b->cfg.events)
        events = b->cfg.events;
    for (unsigned i = 0; i < b->cfg.conns; i++) {
        const uint8_t *s = b->conns[i].seen;
        for (uint64_t q = 0; q < events; q++) {
            if (!(s[q >> 3] & (1u << (q & 7)))) {
                n++;
                break;
            }
        }
    }
    return n;
}
