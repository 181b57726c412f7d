/* rest_server.c - libmicrohttpd daemon, routing, body accumulation, request signatures.
 * Thread: pg-main creates, quiesces and destroys; everything else runs on MHD's internal epoll
 * thread (pg-rest). Callers: main.c. Handlers: rest_events.c, rest_channels.c.
 *
 * MHD decodes the path and query (and turns '+' into ' '), but signatures cover the raw bytes
 * (spec 9.2, 9.8). The URI log callback therefore copies the raw request target into the
 * per-request state before any decoding, and routing and verification use only that copy.
 *
 * Request flow (design 7): first call: route (404), app (404), method (405), Content-Length vs
 * the app's body cap (413, answered at once). Upload calls: append up to the cap, discard past
 * it. Final call: 413 if it overflowed, signature (401), app enabled (403), the app's
 * max_read_requests_per_sec for GETs (429), handler (which applies max_backend_events_per_sec to
 * triggers once it knows their cost). In cluster mode both limits are counted for the cluster, in
 * Redis (srv_cstate_limit.c; a round trip on this thread per limited request), falling back to
 * this node's own buckets while Redis cannot answer.
 */
#include "pg_hex.h"
#include "rest_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pg_auth.h"
#include "pg_buf.h"
#include "pg_config.h"
#include "pg_clock.h"
#include "pg_log.h"
#include "pg_ratelimit.h"
#include "pg_rest_sign.h"
#include "pg_server.h"
#include "rest_handlers.h"
#include "srv_redis.h"

#define REST_CONN_TIMEOUT_S 60u
#define REST_CONN_LIMIT 1024u
#define REST_BODY_MIN (64u * 1024u)
#define REST_BODY_UNLIMITED (16u * 1024u * 1024u)
#define REST_BODY_MAX (256u * 1024u * 1024u) /* sanity bound for very large configured limits */

/* Owner: main. d is driven by MHD's own thread; srv is shared read-only (plus its atomics). */
struct rest_server {
    struct MHD_Daemon *d;
    struct pg_server *srv;
    bool quiesced;
    /* Two buckets per app: [2 * idx] max_backend_events_per_sec, [2 * idx + 1]
     * max_read_requests_per_sec. Owned by the MHD thread (pg-rest): the daemon runs exactly one
     * internal thread (MHD_USE_EPOLL_INTERNAL_THREAD, no thread pool), so no lock. In cluster
     * mode they are drawn from only while Redis cannot answer (rest__rate_limit). */
    struct pg_ratelimit *rl;
    int64_t *rl_limit;        /* the limit each bucket was set up for (0: not yet); 2 * app_cap */
    char *tls_cert, *tls_key; /* PEM text MHD reads at start (https) */
};

enum rest_route {
    ROUTE_NONE = 0,
    ROUTE_ROOT,      /* GET /        (unsigned liveness) */
    ROUTE_HEALTH,    /* GET /health  (unsigned liveness) */
    ROUTE_METRICS,   /* GET /metrics (Prometheus text) */
    ROUTE_READY,     /* GET /ready   (unsigned readiness; 503 while stopping) */
    ROUTE_EVENTS,    /* POST /apps/{id}/events */
    ROUTE_BATCH,     /* POST /apps/{id}/batch_events */
    ROUTE_CHANNELS,  /* GET  /apps/{id}/channels */
    ROUTE_CHANNEL,   /* GET  /apps/{id}/channels/{name} */
    ROUTE_USERS,     /* GET  /apps/{id}/channels/{name}/users */
    ROUTE_TERMINATE, /* POST /apps/{id}/users/{user_id}/terminate_connections */
    ROUTE_CONSOLE,   /* GET /console (debug_console only; unsigned page, rest_console.c) */
    /* GET /apps/{id}/console/state (debug_console only) */
    ROUTE_CONSOLE_STATE,
};

/* One request. Owner: MHD's thread; lives from the URI log callback to NOTIFY_COMPLETED. */
struct rest_req {
    struct rest_server *rs;
    char *uri;   /* raw request target, NUL-terminated */
    size_t plen; /* raw path = uri[0..plen) */
    const char *query;
    size_t qlen; /* raw query without '?' (may be 0) */
    enum rest_route route;
    const char *id; /* app id span in uri */
    size_t idlen;
    const char *chan; /* raw channel name (channel routes) or user id (terminate) span in uri */
    size_t chanlen;
    const struct pg_app *app;
    struct pg_buf body;
    size_t cap;
    bool started;
    bool too_big;
    bool answered;
    /* A decision made on the first call, sent on the final call when no body follows (so the
     * connection stays alive); with a body coming it is sent at once and MHD closes after it. */
    int early_status;
    const char *early_allow;
    char early_msg[96];
    const char *ctype; /* response Content-Type when not application/json */
};

/* ---- helpers shared with the handlers ---- */

int rest__error(struct pg_buf *out, int status, const char *msg)
{
    pg_buf_reset(out);
    pg_buf_put(out, "{\"error\":", 9);
    pg_buf_json_str(out, msg, strlen(msg));
    pg_buf_put(out, "}", 1);
    return status;
}

int rest__rate_limit(struct pg_server *srv, const struct pg_app *app, struct pg_ratelimit *rl,
                     double cost, enum pg_limit which, const char *name, int64_t limit,
                     int *retry_after, struct pg_buf *out)
{
    int64_t wait_ms = 0;
    char msg[96];
    int rc = -EIO;

    if (!rl)
        return 0;
    /* Cluster mode: the cluster's bucket in Redis; the node's own when Redis cannot answer (and
     * always for an unlimited app, which never costs a round trip). */
    if (srv->redis && app && limit >= 0)
        rc = srv_redis_rate_take(srv->redis, app->id, which == PG_LIMIT_READ_REQUESTS ? 1 : 0,
                                 (double)limit, cost, &wait_ms);
    if (rc < 0)
        rc = pg_ratelimit_take(rl, cost, pg_now_ms(), &wait_ms);
    if (rc)
        return 0;
    pg_server_count_limit(srv, which);
    if (retry_after) {
        int64_t s = (wait_ms + 999) / 1000;
        *retry_after = s < 1 ? 1 : s > INT32_MAX ? INT32_MAX : (int)s;
    }
    snprintf(msg, sizeof msg, "Rate limit exceeded: %s (%" PRId64 ")", name, limit);
    return rest__error(out, 429, msg);
}

/* ---- routing ---- */

static bool span_is(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n == l && memcmp(s, lit, l) == 0;
}

static void route(struct rest_req *r)
{
    const char *p = r->uri, *end = r->uri + r->plen;

    r->route = ROUTE_NONE;
    if (span_is(p, r->plen, "/")) {
        r->route = ROUTE_ROOT;
        return;
    }
    if (span_is(p, r->plen, "/ready")) {
        r->route = ROUTE_READY;
        return;
    }
    if (span_is(p, r->plen, "/health")) {
        r->route = ROUTE_HEALTH;
        return;
    }
    if (span_is(p, r->plen, "/metrics")) {
        r->route = ROUTE_METRICS;
        return;
    }
    if (span_is(p, r->plen, "/console") && r->rs->srv->cfg->debug_console) {
        r->route = ROUTE_CONSOLE;
        return;
    }
    if (r->plen < 6 || memcmp(p, "/apps/", 6) != 0)
        return;
    const char *id = p + 6, *slash = memchr(id, '/', (size_t)(end - id));
    if (!slash || slash == id)
        return;
    r->id = id;
    r->idlen = (size_t)(slash - id);
    const char *rest = slash;
    size_t rn = (size_t)(end - rest);
    if (span_is(rest, rn, "/events")) {
        r->route = ROUTE_EVENTS;
    } else if (span_is(rest, rn, "/batch_events")) {
        r->route = ROUTE_BATCH;
    } else if (span_is(rest, rn, "/channels")) {
        r->route = ROUTE_CHANNELS;
    } else if (span_is(rest, rn, "/console/state") && r->rs->srv->cfg->debug_console) {
        r->route = ROUTE_CONSOLE_STATE;
    } else if (rn > 10 && memcmp(rest, "/channels/", 10) == 0) {
        const char *name = rest + 10, *s2 = memchr(name, '/', (size_t)(end - name));
        if (!s2) {
            r->route = ROUTE_CHANNEL;
            r->chan = name;
            r->chanlen = (size_t)(end - name);
        } else if (s2 > name && span_is(s2, (size_t)(end - s2), "/users")) {
            r->route = ROUTE_USERS;
            r->chan = name;
            r->chanlen = (size_t)(s2 - name);
        }
    } else if (rn > 7 && memcmp(rest, "/users/", 7) == 0) {
        const char *user = rest + 7, *s2 = memchr(user, '/', (size_t)(end - user));
        /* An empty user id matches no route (404), as an empty channel name does. */
        if (s2 && s2 > user && span_is(s2, (size_t)(end - s2), "/terminate_connections")) {
            r->route = ROUTE_TERMINATE;
            r->chan = user;
            r->chanlen = (size_t)(s2 - user);
        }
    }
}

static const char *route_method(enum rest_route rt)
{
    return rt == ROUTE_EVENTS || rt == ROUTE_BATCH || rt == ROUTE_TERMINATE ? "POST" : "GET";
}

/* max(64 KiB, payload_kb * 1024 * batch_size * 2 + 16 KiB): room for the largest valid batch with
 * its data escaped inside JSON strings. Any unlimited factor: 16 MiB. */
static size_t body_cap(const struct pg_app *a)
{
    if (a->max_event_payload_in_kb < 0 || a->max_event_batch_size < 0)
        return REST_BODY_UNLIMITED;
    int64_t kb = a->max_event_payload_in_kb,
            n = a->max_event_batch_size > 0 ? a->max_event_batch_size : 1;
    if (kb > (int64_t)REST_BODY_MAX / 2048 / n)
        return REST_BODY_MAX;
    int64_t cap = kb * 1024 * n * 2 + 16 * 1024;
    return cap < (int64_t)REST_BODY_MIN ? REST_BODY_MIN : (size_t)cap;
}

/* %XX-decodes a path segment into a new NUL-terminated string (phn never escapes channel names,
 * but other clients may). NULL on a bad escape, %00, or ENOMEM (*oom set). */
static char *path_decode(const char *s, size_t n, size_t *outlen, bool *oom)
{
    char *o = malloc(n + 1);
    size_t k = 0;

    *oom = o == NULL;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            o[k++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? pg_hex_val((unsigned char)s[i + 1]) : -1;
        int lo = i + 2 < n ? pg_hex_val((unsigned char)s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(o);
            return NULL;
        }
        o[k++] = (char)(hi << 4 | lo);
        i += 2;
    }
    o[k] = '\0';
    *outlen = k;
    return o;
}

/* ---- responses ---- */

/* retry_after > 0 adds a Retry-After header (seconds; with 429). */
static enum MHD_Result send_buf(struct MHD_Connection *con, struct rest_req *r, int status,
                                struct pg_buf *b, const char *allow, int retry_after)
{
    struct MHD_Response *resp;
    size_t len = 0;
    char *p;

    if (b->oom) {
        status = 500;
        static const char oom[] = "{\"error\":\"Out of memory\"}";
        resp = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    } else {
        p = pg_buf_steal(b, &len);
        resp = MHD_create_response_from_buffer(len, p, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(p);
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r && r->ctype ? r->ctype : "application/json");
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (r && r->app) {
        struct pg_app_stats *st = pg_server_stats(r->rs->srv, r->rs->srv->nworkers, r->app->idx);
        pg_stat_add(&st->http_calls, 1);
        pg_stat_add(&st->http_bytes_in, r->body.len);
        pg_stat_add(&st->http_bytes_out, len);
    }
    enum MHD_Result ret = MHD_queue_response(con, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (r)
        r->answered = true;
    PG_LOG(PG_LOG_DEBUG, "rest", "%.*s -> %d", r ? (int)r->plen : 1, r ? r->uri : "?", status);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *con, struct rest_req *r, int status,
                                  const char *msg, const char *allow)
{
    struct pg_buf b;
    pg_buf_init(&b);
    rest__error(&b, status, msg);
    enum MHD_Result ret = send_buf(con, r, status, &b, allow, 0);
    pg_buf_dispose(&b);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *con, struct rest_req *r, int status,
                                 const char *json)
{
    struct pg_buf b;
    pg_buf_init(&b);
    pg_buf_puts(&b, json);
    enum MHD_Result ret = send_buf(con, r, status, &b, NULL, 0);
    pg_buf_dispose(&b);
    return ret;
}

/* ---- request phases ---- */

static enum MHD_Result early(struct MHD_Connection *con, struct rest_req *r, bool body_follows,
                             int status, const char *msg, const char *allow)
{
    if (body_follows)
        return send_error(con, r, status, msg, allow);
    r->early_status = status;
    r->early_allow = allow;
    snprintf(r->early_msg, sizeof r->early_msg, "%s", msg);
    return MHD_YES;
}

/* First call: everything that can be decided from the request line and headers. */
static enum MHD_Result begin(struct rest_server *rs, struct MHD_Connection *con, struct rest_req *r,
                             const char *method)
{
    const char *cl =
        MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te =
        MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    unsigned long long clen = 0;
    bool cl_ok = false;
    if (cl) {
        char *e;
        errno = 0;
        clen = strtoull(cl, &e, 10);
        cl_ok = e != cl && *e == '\0' && errno == 0;
    }
    bool body = te || (cl && (!cl_ok || clen > 0));

    r->started = true;
    route(r);
    if (r->route == ROUTE_NONE)
        return early(con, r, body, 404, "Not found", NULL);
    if (r->route == ROUTE_ROOT || r->route == ROUTE_READY || r->route == ROUTE_HEALTH ||
        r->route == ROUTE_METRICS || r->route == ROUTE_CONSOLE) {
        if (strcmp(method, "GET") != 0)
            return early(con, r, body, 405, "Method not allowed", "GET");
        return MHD_YES;
    }
    r->app = pg_config_app_by_id(rs->srv->cfg, r->id, r->idlen);
    if (!r->app)
        return early(con, r, body, 404, "Unknown app", NULL);
    const char *want = route_method(r->route);
    if (strcmp(method, want) != 0)
        return early(con, r, body, 405, "Method not allowed", want);

    r->cap = body_cap(r->app);
    if (cl_ok && clen > r->cap) {
        char msg[96];
        pg_server_count_limit(rs->srv, PG_LIMIT_PAYLOAD);
        snprintf(msg, sizeof msg, "Request body too large (max %zu bytes)", r->cap);
        return send_error(con, r, 413, msg, NULL);
    }
    return MHD_YES;
}

static void upload(struct rest_req *r, const char *data, size_t n)
{
    if (r->too_big || r->early_status || !r->app) /* nothing will read it */
        return;
    if (n > r->cap - r->body.len) {
        r->too_big = true;
        pg_buf_dispose(&r->body);
        pg_buf_init(&r->body);
        return;
    }
    pg_buf_put(&r->body, data, n);
}

/* The app's bucket (which 0: max_backend_events_per_sec, 1: max_read_requests_per_sec), set up
 * on first use and again when a reload changed the limit. Thread: pg-rest. */
static struct pg_ratelimit *bucket(struct rest_server *rs, const struct pg_app *app, int which)
{
    size_t i = 2 * (size_t)app->idx + (size_t)which;
    int64_t limit = which ? app->max_read_requests_per_sec : app->max_backend_events_per_sec;
    if (rs->rl_limit[i] != limit + 2) { /* limits are >= -1; a stored 0 means "never set up" */
        pg_ratelimit_init(&rs->rl[i], (double)limit);
        rs->rl_limit[i] = limit + 2;
    }
    return &rs->rl[i];
}

typedef int (*rest_handler)(const struct rest_call *c, struct pg_buf *out);

/* Final call: the whole body is here. */
static enum MHD_Result finish(struct rest_server *rs, struct MHD_Connection *con,
                              struct rest_req *r, const char *method)
{
    char err[1024]; /* pg_rest_verify explains a mismatch with the expected string */
    char msg[96];
    int rc;

    if (r->early_status)
        return send_error(con, r, r->early_status, r->early_msg, r->early_allow);
    if (r->route == ROUTE_ROOT || r->route == ROUTE_HEALTH)
        return send_json(con, r, 200, "{\"ok\":true}");
    if (r->route == ROUTE_METRICS) {
        struct pg_buf m;
        pg_buf_init(&m);
        rest__metrics(rs->srv, &m);
        r->ctype = "text/plain; version=0.0.4; charset=utf-8";
        enum MHD_Result ret = send_buf(con, r, m.oom ? 500 : 200, &m, NULL, 0);
        pg_buf_dispose(&m);
        return ret;
    }
    if (r->route == ROUTE_CONSOLE)
        return rest__console_page(con, rs->srv->cfg) ? MHD_YES : MHD_NO;
    if (r->route == ROUTE_READY)
        return atomic_load(&rs->srv->stopping) ? send_error(con, r, 503, "Stopping", NULL)
                                               : send_json(con, r, 200, "{\"ok\":true}");
    if (r->too_big) {
        pg_server_count_limit(rs->srv, PG_LIMIT_PAYLOAD);
        snprintf(msg, sizeof msg, "Request body too large (max %zu bytes)", r->cap);
        return send_error(con, r, 413, msg, NULL);
    }
    if (r->body.oom)
        return send_error(con, r, 500, "Out of memory", NULL);

    const struct pg_app *app = r->app;
    const char *body = r->body.len ? r->body.p : NULL;
    err[0] = '\0';
    rc = pg_rest_verify(method, r->uri, r->plen, r->query, r->qlen, body, r->body.len, app->key,
                        app->secret, app->secret_len, (int64_t)time(NULL), err, sizeof err);
    if (rc == -ENOMEM)
        return send_error(con, r, 500, "Out of memory", NULL);
    if (rc != PG_AUTH_OK)
        return send_error(con, r, 401, err[0] ? err : pg_auth_strerror(rc), NULL);
    if (!app->enabled)
        return send_error(con, r, 403, "App is disabled", NULL);

    struct pg_buf out;
    int retry_after = 0;
    pg_buf_init(&out);
    if (strcmp(route_method(r->route), "GET") == 0) {
        rc = rest__rate_limit(rs->srv, app, bucket(rs, app, 1), 1, PG_LIMIT_READ_REQUESTS,
                              "max_read_requests_per_sec", app->max_read_requests_per_sec,
                              &retry_after, &out);
        if (rc) {
            enum MHD_Result ret = send_buf(con, r, rc, &out, NULL, retry_after);
            pg_buf_dispose(&out);
            return ret;
        }
    }

    struct pg_rest_query q = {0};
    rc = pg_rest_query_parse(&q, r->query ? r->query : "", r->qlen);
    if (rc < 0) { /* verify parsed the same string, so only ENOMEM is left */
        pg_buf_dispose(&out);
        return send_error(con, r, rc == -ENOMEM ? 500 : 400,
                          rc == -ENOMEM ? "Out of memory" : "Malformed query string", NULL);
    }

    struct rest_call call = {
        .srv = rs->srv,
        .app = app,
        .query = &q,
        .body = body,
        .blen = r->body.len,
        .events_rl = bucket(rs, app, 0),
        .retry_after = &retry_after,
    };
    char *chan = NULL;
    if (r->route == ROUTE_CHANNEL || r->route == ROUTE_USERS || r->route == ROUTE_TERMINATE) {
        bool oom;
        chan = path_decode(r->chan, r->chanlen, &call.clen, &oom);
        if (!chan) {
            pg_rest_query_dispose(&q);
            pg_buf_dispose(&out);
            return oom ? send_error(con, r, 500, "Out of memory", NULL)
                       : send_error(con, r, 400,
                                    r->route == ROUTE_TERMINATE ? "Invalid user id"
                                                                : "Invalid channel name",
                                    NULL);
        }
        call.chan = chan;
    }

    rest_handler h = NULL;
    switch (r->route) {
    case ROUTE_EVENTS:
        h = rest__events;
        break;
    case ROUTE_BATCH:
        h = rest__batch_events;
        break;
    case ROUTE_CHANNELS:
        h = rest__channels;
        break;
    case ROUTE_CHANNEL:
        h = rest__channel;
        break;
    case ROUTE_USERS:
        h = rest__users;
        break;
    case ROUTE_TERMINATE:
        h = rest__terminate;
        break;
    case ROUTE_CONSOLE_STATE:
        h = rest__console_state;
        break;
    default:
        break;
    }
    int status = h ? h(&call, &out) : rest__error(&out, 404, "Not found");
    enum MHD_Result ret = send_buf(con, r, status, &out, NULL, status == 429 ? retry_after : 0);
    pg_buf_dispose(&out);
    free(chan);
    pg_rest_query_dispose(&q);
    return ret;
}

/* ---- MHD callbacks (thin dispatchers) ---- */

static enum MHD_Result on_access(void *cls, struct MHD_Connection *con, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct rest_server *rs = cls;
    struct rest_req *r = *con_cls;
    (void)url;
    (void)version;

    if (!r) /* the URI log callback could not allocate */
        return send_error(con, NULL, 500, "Out of memory", NULL);
    if (r->answered) { /* an early answer is queued: MHD discards the rest */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!r->started)
        return begin(rs, con, r, method);
    if (*upload_data_size) {
        upload(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return finish(rs, con, r, method);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
    (void)con;
    struct rest_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->rs = cls;
    size_t n = strlen(uri);
    r->uri = malloc(n + 1);
    if (!r->uri) {
        free(r);
        return NULL;
    }
    memcpy(r->uri, uri, n + 1);
    const char *q = memchr(r->uri, '?', n);
    r->plen = q ? (size_t)(q - r->uri) : n;
    r->query = q ? q + 1 : NULL;
    r->qlen = q ? n - r->plen - 1 : 0;
    pg_buf_init(&r->body);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)con;
    (void)toe;
    struct rest_req *r = *con_cls;
    if (!r)
        return;
    pg_buf_dispose(&r->body);
    free(r->uri);
    free(r);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (n < 0)
        return;
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    /* MHD 0.9.75 counts its own internal options and so always claims the logger was not given
     * first, although it is: that one line is noise. */
    if (strncmp(line, "MHD_OPTION_EXTERNAL_LOGGER is not the first", 43) == 0)
        return;
    PG_LOG(PG_LOG_WARN, "mhd", "%s", line);
}

/* ---- lifetime ---- */

/* Whole file as a NUL-terminated string (caller frees), or NULL. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    struct pg_buf b;
    pg_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (1u << 20))
        pg_buf_put(&b, chunk, n);
    fclose(f);
    if (b.oom || !b.len) {
        pg_buf_dispose(&b);
        return NULL;
    }
    return pg_buf_steal(&b, NULL);
}

struct rest_server *rest_server_create(struct pg_server *srv, char *err, size_t errlen)
{
    const struct pg_config *cfg = srv->cfg;
    const char *host = cfg->host && cfg->host[0] ? cfg->host : "0.0.0.0";
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct sockaddr *sa;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;

    if (cfg->api_port <= 0 || cfg->api_port > 65535) {
        snprintf(err, errlen, "rest: invalid api_port %d", cfg->api_port);
        return NULL;
    }
    memset(&sin, 0, sizeof sin);
    memset(&sin6, 0, sizeof sin6);
    if (inet_pton(AF_INET, host, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)cfg->api_port);
        sa = (struct sockaddr *)&sin;
    } else if (inet_pton(AF_INET6, host, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)cfg->api_port);
        sa = (struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "rest: host '%s' is not an IPv4 or IPv6 address", host);
        return NULL;
    }

    struct rest_server *rs = calloc(1, sizeof *rs);
    if (!rs) {
        snprintf(err, errlen, "rest: out of memory");
        return NULL;
    }
    rs->srv = srv;
    rs->rl = calloc(2 * (size_t)srv->app_cap, sizeof *rs->rl);
    rs->rl_limit = calloc(2 * (size_t)srv->app_cap, sizeof *rs->rl_limit);
    if (!rs->rl || !rs->rl_limit) {
        free(rs->rl_limit);
        snprintf(err, errlen, "rest: out of memory");
        free(rs);
        return NULL;
    }
    /* https: MHD takes the PEM text; the options are harmless no-ops without MHD_USE_TLS. */
    if (cfg->tls.cert) {
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
            snprintf(err, errlen, "rest: this libmicrohttpd has no TLS support");
            rest_server_destroy(rs);
            return NULL;
        }
        rs->tls_cert = read_file(cfg->tls.cert);
        rs->tls_key = read_file(cfg->tls.key);
        if (!rs->tls_cert || !rs->tls_key) {
            snprintf(err, errlen, "rest: cannot read the TLS certificate or key");
            rest_server_destroy(rs);
            return NULL;
        }
        flags |= MHD_USE_TLS;
    }
    /* The https options go last, and only with MHD_USE_TLS: MHD warns about them otherwise. */
    rs->d = MHD_start_daemon(
        flags, (uint16_t)cfg->api_port, NULL, NULL, on_access, rs,
        /* first, or MHD logs the earlier options' messages to stderr */
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, rs, MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_CONNECTION_TIMEOUT, REST_CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
        REST_CONN_LIMIT, MHD_OPTION_URI_LOG_CALLBACK, on_uri, rs, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, rs, rs->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, rs->tls_cert,
        MHD_OPTION_HTTPS_MEM_KEY, rs->tls_key, MHD_OPTION_END);
    if (!rs->d) {
        snprintf(err, errlen, "rest: cannot listen on %s:%d (port in use, or a bad TLS key?)", host,
                 cfg->api_port);
        rest_server_destroy(rs);
        return NULL;
    }
    return rs;
}

void rest_server_quiesce(struct rest_server *rs)
{
    if (!rs || rs->quiesced)
        return;
    rs->quiesced = true;
    MHD_socket fd = MHD_quiesce_daemon(rs->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void rest_server_destroy(struct rest_server *rs)
{
    if (!rs)
        return;
    if (rs->d)
        MHD_stop_daemon(rs->d);
    free(rs->rl);
    free(rs->rl_limit);
    if (rs->tls_key)
        explicit_bzero(rs->tls_key, strlen(rs->tls_key));
    free(rs->tls_key);
    free(rs->tls_cert);
    free(rs);
}
