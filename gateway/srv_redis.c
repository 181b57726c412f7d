/* srv_redis.c - the pg-redis thread: Redis pub/sub between nodes (see srv_redis.h).
 * Thread: pg-redis owns both hiredis contexts and every field marked "pg-redis" in
 * srv_redis_int.h; srv_redis_publish (and the registry's sink, srv_cstate.c) run on producer
 * threads (REST, workers) and touch only the queue, under its lock; main calls
 * create/start/stop/destroy. At stop, what is queued still goes out and this node's part of the
 * cluster state is removed ("depart", announced), for at most FLUSH_MS.
 *
 * hiredis 0.14 has no event loop of its own worth using here, so the contexts are driven by
 * hand: connect, AUTH, SELECT and PSUBSCRIBE run blocking with a 1 s timeout; then each socket
 * turns non-blocking (REDIS_BLOCK cleared) and one poll() serves both sockets and the eventfd
 * that producers write when the queue goes from empty to non-empty. Replies are read with
 * redisBufferRead + redisGetReplyFromReader; commands are appended to the context's output buffer
 * and written with redisBufferWrite as the socket allows. The output buffer is refilled from the
 * queue only below OBUF_LOW bytes, so memory stays bounded by the queue bounds.
 *
 * Liveness: both contexts get a PING every 5 s (in subscribed mode the reply is ["pong",""]); a
 * context that has received nothing for 15 s is dead. TCP keepalive is on as well.
 */
#include "srv_redis.h"
#include "srv_redis_int.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pg_bus.h"
#include "pg_clock.h"
#include "pg_config.h"
#include "pg_log.h"
#include "pg_rand.h"
#include "pg_redis_url.h"
#include "pg_registry.h"
#include "pg_server.h"

#define QUEUE_MAX_ITEMS 100000
#define QUEUE_MAX_BYTES (64u << 20)
#define OBUF_LOW (256u << 10) /* refill the output buffer below this ... */
#define OBUF_BATCH (1u << 20) /* ... with at most this many bytes at a time */
#define IO_TIMEOUT_MS 1000    /* connect and each handshake command */
#define PING_MS 5000
#define DEAD_MS 15000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define FLUSH_MS 1000 /* at stop: how long queued messages and the departure may still take */
#define LOG_EVERY_MS 10000
#define USER_PREFIX "#server-to-user-"

_Static_assert(PG_CLUSTER_EXCEPT_MAX == PG_SID_MAX - 1, "socket ids fit the message");

/* ---- small helpers -------------------------------------------------------------------------- */

/* True when a line for this kind is due now; *n receives the count since the last one. */
bool srv_redis__ratelog_due(struct ratelog *l, unsigned long *n)
{
    int64_t now = pg_now_ms();
    long long last = atomic_load(&l->last_ms);
    atomic_fetch_add(&l->since, 1);
    if (last && now - last < LOG_EVERY_MS)
        return false;
    if (!atomic_compare_exchange_strong(&l->last_ms, &last, now ? now : 1))
        return false;
    *n = atomic_exchange(&l->since, 0);
    return true;
}

static void wake(struct srv_redis *r)
{
    uint64_t one = 1;
    ssize_t rc = write(r->efd, &one, sizeof one);
    (void)rc; /* EAGAIN: the counter is already non-zero, so a wake-up is pending */
}

void srv_redis__free_items(struct qitem *it)
{
    while (it) {
        struct qitem *next = it->next;
        free(it);
        it = next;
    }
}

/* Going down drops what is queued: messages are never replayed late; state ops are redone by
 * the resync after the next connect, and a presence join waiting for its roster gets the local
 * one (cs_dropped). */
void srv_redis__set_up(struct srv_redis *r, bool up)
{
    pthread_mutex_lock(&r->lock);
    atomic_store(&r->up, up);
    struct qitem *drop = up ? NULL : r->head;
    size_t n = up ? 0 : r->qn;
    if (!up) {
        r->head = r->tail = NULL;
        r->qn = r->qbytes = 0;
    }
    pthread_mutex_unlock(&r->lock);
    for (struct qitem *it = drop; it; it = it->next)
        cs_dropped(r, it);
    srv_redis__free_items(drop);
    atomic_fetch_add(&r->dropped_down, n);
}

/* ---- connecting ----------------------------------------------------------------------------- */

static bool reply_ok(redisReply *rep, char *why, size_t n, const char *what)
{
    if (!rep) {
        snprintf(why, n, "%s: no reply", what);
        return false;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(why, n, "%s: %.*s", what, (int)(rep->len > 200 ? 200 : rep->len), rep->str);
        freeReplyObject(rep);
        return false;
    }
    freeReplyObject(rep);
    return true;
}

redisContext *srv_redis__dial(struct srv_redis *r, int timeout_ms, char *why, size_t n)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(r->url.host, r->url.port, tv);
    if (!c) {
        snprintf(why, n, "out of memory");
        return NULL;
    }
    if (c->err) {
        snprintf(why, n, "%s", c->errstr);
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    redisEnableKeepAlive(c);
    if (r->url.password[0]) {
        redisReply *rep = r->url.user[0]
                              ? redisCommand(c, "AUTH %s %s", r->url.user, r->url.password)
                              : redisCommand(c, "AUTH %s", r->url.password);
        if (!reply_ok(rep, why, n, "AUTH")) {
            if (!rep)
                snprintf(why, n, "AUTH: %s", c->err ? c->errstr : "no reply");
            redisFree(c);
            return NULL;
        }
    }
    if (r->url.db) {
        redisReply *rep = redisCommand(c, "SELECT %d", r->url.db);
        if (!reply_ok(rep, why, n, "SELECT")) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

static void nonblocking(redisContext *c)
{
    int fl = fcntl(c->fd, F_GETFL);
    if (fl >= 0)
        fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
    c->flags &= ~REDIS_BLOCK;
}

static void close_link(struct srv_redis *r)
{
    cs_link_lost(r);
    if (r->sub)
        redisFree(r->sub);
    if (r->pub)
        redisFree(r->pub);
    r->sub = r->pub = NULL;
}

/* Both contexts, PSUBSCRIBE acknowledged, or nothing. Returns 0 or -1 with why. */
static int link_up(struct srv_redis *r, char *why, size_t n)
{
    char pattern[sizeof r->prefix + 1];
    snprintf(pattern, sizeof pattern, "%s*", r->prefix);
    if (!(r->sub = srv_redis__dial(r, IO_TIMEOUT_MS, why, n)))
        return -1;
    redisReply *rep = redisCommand(r->sub, "PSUBSCRIBE %s", pattern);
    bool ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
              rep->element[0]->type == REDIS_REPLY_STRING &&
              strcmp(rep->element[0]->str, "psubscribe") == 0;
    if (!ok) {
        if (rep && rep->type == REDIS_REPLY_ERROR)
            snprintf(why, n, "PSUBSCRIBE: %.*s", (int)(rep->len > 200 ? 200 : rep->len), rep->str);
        else
            snprintf(why, n, "PSUBSCRIBE: %s", r->sub->err ? r->sub->errstr : "unexpected reply");
        if (rep)
            freeReplyObject(rep);
        close_link(r);
        return -1;
    }
    freeReplyObject(rep);
    rep = redisCommand(r->sub, "SUBSCRIBE %s", r->rchan);
    ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
         rep->element[0]->type == REDIS_REPLY_STRING &&
         strcmp(rep->element[0]->str, "subscribe") == 0;
    if (!ok) {
        snprintf(why, n, "SUBSCRIBE: %s", r->sub->err ? r->sub->errstr : "unexpected reply");
        if (rep)
            freeReplyObject(rep);
        close_link(r);
        return -1;
    }
    freeReplyObject(rep);
    if (!(r->pub = srv_redis__dial(r, IO_TIMEOUT_MS, why, n)) ||
        cs_load_script(r, r->pub, r->sha, why, n) < 0) {
        close_link(r);
        return -1;
    }
    nonblocking(r->sub);
    nonblocking(r->pub);
    r->broken = false;
    int64_t now = pg_now_ms();
    r->sub_rx_ms = r->pub_rx_ms = r->ping_ms = now;
    return 0;
}

/* One connection attempt (pg-redis, or main before the thread starts). */
static void try_connect(struct srv_redis *r)
{
    char why[256] = "";
    int64_t now = pg_now_ms();
    if (link_up(r, why, sizeof why) < 0) {
        if (!r->outage_logged) {
            r->outage_logged = true;
            if (!r->down_since_ms)
                r->down_since_ms = now;
            PG_LOG(PG_LOG_WARN, "cluster",
                   "cannot reach Redis at %s:%d (%s); retrying in the background. Until then "
                   "this node serves its own clients only and cross-node messages are dropped",
                   r->url.host, r->url.port, why);
        } else {
            PG_LOG(PG_LOG_DEBUG, "cluster", "Redis at %s:%d still unreachable: %s", r->url.host,
                   r->url.port, why);
        }
        r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (r->backoff_ms > BACKOFF_MAX_MS)
            r->backoff_ms = BACKOFF_MAX_MS;
        r->next_try_ms =
            now + r->backoff_ms / 2 + (int64_t)(pg_rand_u32() % (r->backoff_ms / 2 + 1));
        return;
    }
    cs_resync(r, false); /* marks the link up */
    r->backoff_ms = 0;
    if (r->ever_up && r->down_since_ms) {
        atomic_fetch_add(&r->reconnects, 1);
        PG_LOG(PG_LOG_INFO, "cluster",
               "Redis link back after %.1f s (%lu cross-node message(s) dropped meanwhile)",
               (double)(now - r->down_since_ms) / 1000.0,
               atomic_load(&r->dropped_down) - r->dropped_at_down);
    } else {
        PG_LOG(PG_LOG_INFO, "cluster", "node %s linked to Redis at %s:%d (db %d), channels %s*",
               r->node_hex, r->url.host, r->url.port, r->url.db, r->prefix);
    }
    r->ever_up = true;
    r->outage_logged = false;
    r->down_since_ms = 0;
}

static void link_down(struct srv_redis *r, const char *why)
{
    close_link(r);
    r->dropped_at_down = atomic_load(&r->dropped_down);
    srv_redis__set_up(r, false);
    r->down_since_ms = pg_now_ms();
    r->outage_logged = true;
    r->backoff_ms = 0;
    r->next_try_ms = r->down_since_ms; /* at once: a restart is often quick */
    PG_LOG(PG_LOG_WARN, "cluster",
           "lost Redis at %s:%d (%s); retrying. Each node keeps serving its own clients; "
           "cross-node messages are dropped until the link is back",
           r->url.host, r->url.port, why);
}

/* ---- receiving ------------------------------------------------------------------------------ */

static void terminate_local(struct srv_redis *r, int app, const struct pg_cluster_msg *m,
                            uint64_t mask)
{
    struct pg_server *srv = r->srv;
    size_t pl = sizeof USER_PREFIX - 1;
    if (m->clen <= pl || memcmp(m->channel, USER_PREFIX, pl) != 0) {
        atomic_fetch_add(&r->bad, 1);
        return;
    }
    for (unsigned w = 0; mask && w < PG_BUS_MAX_WORKERS; w++, mask >>= 1) {
        if (!(mask & 1))
            continue;
        struct pg_bus_item *it = pg_bus_item_new(PG_BUS_TERMINATE, m->channel, m->clen);
        if (!it)
            return;
        it->app = app;
        pg_bus_push(srv->bus, w, it);
    }
    atomic_fetch_add(&r->delivered, 1);
}

/* A message from Redis: decode, drop echoes, deliver locally as a local publish would. */
static void on_message(struct srv_redis *r, const char *s, size_t len)
{
    struct pg_server *srv = r->srv;
    struct pg_cluster_msg m;
    unsigned long n;
    int rc = pg_cluster_msg_decode(&m, s, len);
    if (rc < 0) {
        atomic_fetch_add(&r->bad, 1);
        if (srv_redis__ratelog_due(&r->log_bad, &n))
            PG_LOG(PG_LOG_WARN, "cluster", "%lu undecodable message(s) on %s*%s", n, r->prefix,
                   rc == -EPROTONOSUPPORT ? " (another pushgate version?)" : "");
        return;
    }
    if (m.origin == r->node && m.kind != PG_CLUSTER_ANNOUNCE)
        return; /* our own, already delivered locally */
    atomic_fetch_add(&r->received, 1);
    const struct pg_config *cfg = srv->cfg;
    const struct pg_app *app = pg_config_app_by_id(cfg, m.app, m.alen);
    if (!app || !app->enabled)
        return; /* not an app of this node */
    if (m.kind == PG_CLUSTER_RESYNC) {
        cs_refresh_soon(r);
        return;
    }
    uint64_t mask = pg_registry_mask(srv->reg, app->idx, m.channel, m.clen);
    if (!mask)
        return;
    if (m.kind == PG_CLUSTER_TERMINATE) {
        terminate_local(r, app->idx, &m, mask);
        return;
    }
    /* EVENT or ANNOUNCE */
    if (pg_bus_check(srv->bus, mask) == -ENOBUFS) {
        atomic_fetch_add(&r->dropped_busy, 1);
        if (srv_redis__ratelog_due(&r->log_busy, &n))
            PG_LOG(PG_LOG_WARN, "cluster",
                   "%lu message(s) from other nodes dropped: worker inboxes full", n);
        return;
    }
    struct pg_msg *pm = pg_msg_from(m.frame, m.flen);
    if (!pm)
        return;
    char except[PG_SID_MAX];
    memcpy(except, m.except ? m.except : "", m.elen);
    except[m.elen] = 0;
    if (pg_bus_publish(srv->bus, mask, app->idx, m.channel, m.clen, pm, m.elen ? except : NULL) > 0)
        atomic_fetch_add(&r->delivered, 1);
}

static void on_sub_reply(struct srv_redis *r, redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
        rep->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (rep->elements == 4 && strcmp(rep->element[0]->str, "pmessage") == 0 &&
        rep->element[3]->type == REDIS_REPLY_STRING)
        on_message(r, rep->element[3]->str, rep->element[3]->len);
    else if (rep->elements == 3 && strcmp(rep->element[0]->str, "message") == 0 &&
             rep->element[2]->type == REDIS_REPLY_STRING)
        cs_routed(r, rep->element[2]->str, rep->element[2]->len); /* the reply channel's */
    /* else: "pong" to our PING, or a (p)subscribe confirmation */
}

/* Reads what the socket has and handles every complete reply. -1: the link is broken. */
static int read_replies(struct srv_redis *r, redisContext *c, int64_t *rx_ms)
{
    if (redisBufferRead(c) != REDIS_OK)
        return -1;
    *rx_ms = pg_now_ms();
    for (;;) {
        void *v = NULL;
        if (redisGetReplyFromReader(c, &v) != REDIS_OK)
            return -1;
        if (!v)
            return 0;
        redisReply *rep = v;
        if (c == r->sub)
            on_sub_reply(r, rep);
        else
            cs_on_reply(r, rep);
        freeReplyObject(rep);
    }
}

/* ---- publishing ----------------------------------------------------------------------------- */

/* A Q_PUBLISH item for the message, or NULL (*rc: -ENOMEM, or -EINVAL: over the limits). */
struct qitem *srv_redis__encode(struct srv_redis *r, enum pg_cluster_kind kind, const char *app_id,
                                const char *ch, size_t clen, const char *except, const void *frame,
                                size_t flen, int *rc)
{
    size_t alen = strlen(app_id);
    struct pg_cluster_msg m = {
        .origin = r->node,
        .kind = kind,
        .app = app_id,
        .alen = alen,
        .except = except,
        .elen = except ? strnlen(except, PG_SID_MAX) : 0,
        .channel = ch,
        .clen = clen,
        .frame = frame,
        .flen = flen,
    };
    size_t psize = pg_cluster_msg_size(&m), rclen = r->plen + alen;
    struct qitem *it = calloc(1, sizeof *it + rclen + psize + 2);
    if (!it) {
        *rc = -ENOMEM;
        return NULL;
    }
    it->op = Q_PUBLISH;
    memcpy(it->data, r->prefix, r->plen);
    memcpy(it->data + r->plen, app_id, alen);
    it->len[0] = (uint32_t)rclen;
    size_t plen = 0;
    *rc = pg_cluster_msg_encode(&m, it->data + rclen + 1, psize, &plen);
    it->len[1] = (uint32_t)plen;
    if (*rc < 0) {
        free(it);
        unsigned long n;
        atomic_fetch_add(&r->bad, 1);
        if (srv_redis__ratelog_due(&r->log_bad, &n))
            PG_LOG(PG_LOG_WARN, "cluster",
                   "%lu message(s) not sent to other nodes: a field is over the message limits", n);
        return NULL;
    }
    return it;
}

int srv_redis__enqueue(struct srv_redis *r, struct qitem *it)
{
    size_t bytes = qitem_bytes(it);
    int rc;
    pthread_mutex_lock(&r->lock);
    if (r->closed || !atomic_load(&r->up)) {
        rc = r->closed ? -ESHUTDOWN : -ENOTCONN;
    } else if (r->qn >= QUEUE_MAX_ITEMS || r->qbytes + bytes > QUEUE_MAX_BYTES) {
        rc = -ENOBUFS;
    } else {
        bool was_empty = !r->head;
        it->next = NULL;
        if (r->tail)
            r->tail->next = it;
        else
            r->head = it;
        r->tail = it;
        r->qn++;
        r->qbytes += bytes;
        pthread_mutex_unlock(&r->lock);
        if (was_empty)
            wake(r);
        return 0;
    }
    pthread_mutex_unlock(&r->lock);
    free(it);
    unsigned long n;
    if (rc == -ENOBUFS) {
        atomic_fetch_add(&r->dropped_full, 1);
        if (srv_redis__ratelog_due(&r->log_full, &n))
            PG_LOG(PG_LOG_WARN, "cluster",
                   "%lu message(s) or state change(s) not sent to Redis: queue full (%u items / "
                   "%u MiB)",
                   n, QUEUE_MAX_ITEMS, QUEUE_MAX_BYTES >> 20);
    } else if (rc == -ENOTCONN) {
        atomic_fetch_add(&r->dropped_down, 1);
    }
    return rc;
}

int srv_redis_publish(struct srv_redis *r, enum pg_cluster_kind kind, const struct pg_app *app,
                      const char *ch, size_t clen, const char *except, const void *frame,
                      size_t flen)
{
    if (!r)
        return 0;
    if (!atomic_load(&r->up)) { /* cheap early refusal; checked again under the lock */
        atomic_fetch_add(&r->dropped_down, 1);
        return -ENOTCONN;
    }
    int rc;
    struct qitem *it = srv_redis__encode(r, kind, app->id, ch, clen, except, frame, flen, &rc);
    if (!it)
        return rc;
    rc = srv_redis__enqueue(r, it);
    if (rc == 0)
        atomic_fetch_add(&r->published, 1);
    return rc;
}

struct pend *srv_redis__pend(struct srv_redis *r, enum pend_kind kind, struct qitem *op)
{
    if (kind == P_IGNORE && r->ptail && r->ptail->kind == P_IGNORE) {
        r->ptail->n++;
        return r->ptail;
    }
    struct pend *p = calloc(1, sizeof *p);
    if (!p) { /* cannot track the reply: the link is reset rather than misattributing replies */
        r->broken = true;
        if (op)
            cs_dropped(r, op);
        srv_redis__free_items(op);
        return NULL;
    }
    p->kind = kind;
    p->n = 1;
    p->op = op;
    if (r->ptail)
        r->ptail->next = p;
    else
        r->phead = p;
    r->ptail = p;
    return p;
}

void srv_redis__publish_now(struct srv_redis *r, enum pg_cluster_kind kind, const char *app_id,
                            const char *ch, size_t clen, const char *except, const void *frame,
                            size_t flen)
{
    int rc;
    struct qitem *it = srv_redis__encode(r, kind, app_id, ch, clen, except, frame, flen, &rc);
    if (!it)
        return;
    redisAppendCommand(r->pub, "PUBLISH %b %b", it->data, (size_t)it->len[0], qitem_field(it, 1),
                       (size_t)it->len[1]);
    srv_redis__pend(r, P_IGNORE, NULL);
    atomic_fetch_add(&r->published, 1);
    free(it);
}

/* Moves queued items into the command context's output buffer, up to OBUF_BATCH bytes. */
static void fill_pub(struct srv_redis *r)
{
    if (sdslen(r->pub->obuf) >= OBUF_LOW)
        return;
    pthread_mutex_lock(&r->lock);
    struct qitem *first = r->head, *last = NULL, *it = r->head;
    size_t taken = 0;
    while (it && taken < OBUF_BATCH) {
        size_t b = qitem_bytes(it);
        taken += b;
        r->qn--;
        r->qbytes -= b;
        last = it;
        it = it->next;
    }
    r->head = it;
    if (!it)
        r->tail = NULL;
    if (last)
        last->next = NULL;
    pthread_mutex_unlock(&r->lock);
    while (first) {
        it = first;
        first = it->next;
        it->next = NULL;
        if (it->op == Q_PUBLISH) {
            redisAppendCommand(r->pub, "PUBLISH %b %b", it->data, (size_t)it->len[0],
                               qitem_field(it, 1), (size_t)it->len[1]);
            srv_redis__pend(r, P_IGNORE, NULL);
            free(it);
        } else {
            cs_append_op(r, it); /* owns it now */
        }
    }
}

static int flush(redisContext *c)
{
    int done = 0;
    if (sdslen(c->obuf) == 0)
        return 0;
    return redisBufferWrite(c, &done) == REDIS_OK ? 0 : -1;
}

/* ---- the thread ----------------------------------------------------------------------------- */

static void drain_efd(struct srv_redis *r)
{
    uint64_t v;
    ssize_t rc = read(r->efd, &v, sizeof v);
    (void)rc;
}

/* One turn with the link up: returns -1 (and why) when it broke. */
static int serve(struct srv_redis *r, struct pollfd *p, char *why, size_t n)
{
    int64_t now = pg_now_ms();
    if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && read_replies(r, r->sub, &r->sub_rx_ms) < 0)
        goto broken_sub;
    if ((p[2].revents & (POLLIN | POLLHUP | POLLERR)) && read_replies(r, r->pub, &r->pub_rx_ms) < 0)
        goto broken_pub;
    if (now - r->ping_ms >= PING_MS) {
        r->ping_ms = now;
        redisAppendCommand(r->sub, "PING");
        redisAppendCommand(r->pub, "PING");
        srv_redis__pend(r, P_IGNORE, NULL);
    }
    fill_pub(r);
    cs_periodic(r, now);
    if (r->broken) {
        snprintf(why, n, "out of memory");
        return -1;
    }
    if (flush(r->sub) < 0)
        goto broken_sub;
    if (flush(r->pub) < 0)
        goto broken_pub;
    if (now - r->sub_rx_ms > DEAD_MS || now - r->pub_rx_ms > DEAD_MS) {
        snprintf(why, n, "no reply for %d s", DEAD_MS / 1000);
        return -1;
    }
    return 0;
broken_sub:
    snprintf(why, n, "%s", r->sub->errstr[0] ? r->sub->errstr : "connection closed");
    return -1;
broken_pub:
    snprintf(why, n, "%s", r->pub->errstr[0] ? r->pub->errstr : "connection closed");
    return -1;
}

/* At stop: what is queued may still go out, for at most FLUSH_MS. */
static void final_flush(struct srv_redis *r)
{
    int64_t deadline = pg_now_ms() + FLUSH_MS;
    while (r->pub && pg_now_ms() < deadline) {
        fill_pub(r);
        pthread_mutex_lock(&r->lock);
        bool empty = !r->head;
        pthread_mutex_unlock(&r->lock);
        if (empty && !r->departed)
            cs_depart(r); /* this node's contributions leave the cluster state, announced */
        if (flush(r->pub) < 0)
            return;
        if (empty && r->departed && !r->phead && sdslen(r->pub->obuf) == 0)
            return;
        struct pollfd p = {.fd = r->pub->fd,
                           .events = POLLIN | (sdslen(r->pub->obuf) ? POLLOUT : 0)};
        if (poll(&p, 1, 50) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) &&
            read_replies(r, r->pub, &r->pub_rx_ms) < 0)
            return;
    }
}

static void *run(void *arg)
{
    struct srv_redis *r = arg;
    pthread_setname_np(pthread_self(), "pg-redis");
    char why[256];
    while (!atomic_load(&r->stop)) {
        int64_t now = pg_now_ms();
        if (!r->sub && now >= r->next_try_ms) {
            try_connect(r);
            continue;
        }
        struct pollfd p[3] = {{.fd = r->efd, .events = POLLIN}, {.fd = -1}, {.fd = -1}};
        int timeout;
        if (r->sub) {
            p[1].fd = r->sub->fd;
            p[1].events = POLLIN | (sdslen(r->sub->obuf) ? POLLOUT : 0);
            p[2].fd = r->pub->fd;
            p[2].events = POLLIN | (sdslen(r->pub->obuf) ? POLLOUT : 0);
            int64_t t = r->ping_ms + PING_MS - now;
            timeout = t < 0 ? 0 : t > CS_PERIOD_MS ? CS_PERIOD_MS : (int)t;
        } else {
            int64_t t = r->next_try_ms - now;
            timeout = t < 0 ? 0 : (int)t;
        }
        if (poll(p, 3, timeout) < 0 && errno != EINTR)
            break;
        if (p[0].revents & POLLIN)
            drain_efd(r);
        if (r->sub && serve(r, p, why, sizeof why) < 0)
            link_down(r, why);
    }
    final_flush(r);
    close_link(r);
    return NULL;
}

/* ---- life cycle ----------------------------------------------------------------------------- */

struct srv_redis *srv_redis_create(struct pg_server *srv, char *err, size_t errlen)
{
    const struct pg_config *cfg = srv->cfg;
    struct srv_redis *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->srv = srv;
    r->efd = -1;
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->rest_lock, NULL);
    snprintf(r->kprefix, sizeof r->kprefix, "%s", cfg->redis_prefix);
    char why[160];
    if (pg_redis_url_parse(&r->url, cfg->redis_url, why, sizeof why) < 0) {
        snprintf(err, errlen, "redis_url: %s", why); /* the loader already checked it */
        srv_redis_destroy(r);
        return NULL;
    }
    r->plen = (size_t)snprintf(r->prefix, sizeof r->prefix, "%s:m:", cfg->redis_prefix);
    if (r->plen >= sizeof r->prefix) {
        snprintf(err, errlen, "redis_prefix: too long");
        srv_redis_destroy(r);
        return NULL;
    }
    pg_rand_buf(&r->node, sizeof r->node);
    snprintf(r->node_hex, sizeof r->node_hex, "%016" PRIx64, r->node);
    snprintf(r->rchan, sizeof r->rchan, "%s:r:%s", cfg->redis_prefix, r->node_hex);
    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        srv_redis_destroy(r);
        return NULL;
    }
    /* From now on the registry reports every change to the shared state (srv_cstate.c). */
    pg_registry_set_cluster(srv->reg, cs_sink, r);
    return r;
}

int srv_redis_start(struct srv_redis *r)
{
    /* Twice at most (about 2 s with the 1 s timeouts) before the listeners open: a node that can
     * reach Redis is linked, PSUBSCRIBE acknowledged, before it takes its first client. */
    try_connect(r);
    if (!r->sub) {
        int64_t wait = r->next_try_ms - pg_now_ms();
        if (wait > 0)
            usleep((useconds_t)wait * 1000);
        try_connect(r); /* a second failure logs at debug only */
    }
    int rc = pthread_create(&r->thread, NULL, run, r);
    if (rc)
        return -rc;
    r->started = true;
    return 0;
}

void srv_redis_stop(struct srv_redis *r)
{
    if (!r || !r->started)
        return;
    atomic_store(&r->stop, 1);
    wake(r);
    pthread_join(r->thread, NULL);
    r->started = false;
    pthread_mutex_lock(&r->lock);
    r->closed = true;
    pthread_mutex_unlock(&r->lock);
    srv_redis__set_up(r, false);
}

void srv_redis_destroy(struct srv_redis *r)
{
    if (!r)
        return;
    srv_redis_stop(r);
    close_link(r);
    srv_redis__free_items(r->head);
    cs_dispose(r);
    if (r->efd >= 0)
        close(r->efd);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->rest_lock);
    pg_redis_url_dispose(&r->url);
    free(r);
}

void srv_redis_get_stats(struct srv_redis *r, struct srv_redis_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!r)
        return;
    out->published = atomic_load(&r->published);
    out->dropped_full = atomic_load(&r->dropped_full);
    out->dropped_down = atomic_load(&r->dropped_down);
    out->received = atomic_load(&r->received);
    out->delivered = atomic_load(&r->delivered);
    out->dropped_busy = atomic_load(&r->dropped_busy);
    out->bad = atomic_load(&r->bad);
    out->reconnects = atomic_load(&r->reconnects);
    out->state_ops = atomic_load(&r->state_ops);
    out->state_errors = atomic_load(&r->state_errors);
    out->reaped = atomic_load(&r->reaped);
    out->up = atomic_load(&r->up);
}

uint64_t srv_redis_node_id(const struct srv_redis *r) { return r ? r->node : 0; }
