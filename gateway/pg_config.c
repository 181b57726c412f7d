/* pg_config.c - configuration loader. One option table per JSON object (top level, app, webhook)
 * drives everything: defaults, the JSON file, the PUSHGATE_* environment, range checks, unknown-key
 * rejection and --help (redis standardConfig style; no hand-written per-key parser). This file
 * holds the tables, the two sources (file, environment) and the public API; reading values is in
 * pg_config_parse.c, --help in pg_config_help.c.
 * Thread: main, before other threads start. Never logs: failures become one line in err.
 */
#include "pg_config_int.h"
#include "pg_redis_url.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CFG_MAX_FILE (16u << 20) /* a config file larger than this is a mistake */
#define CFG_DEPTH 32
#define CFG_MAX_WORKERS 64
#ifndef JSON_TOKENER_ALLOW_TRAILING_CHARS /* json-c < 0.15: strict mode rejects them itself */
#define JSON_TOKENER_ALLOW_TRAILING_CHARS 0
#endif

/* offsetof(S, f), and a compile error under -Werror when f is not of type T (comparing distinct
 * pointer types). The comparison sits inside sizeof, so it is never evaluated. */
#define FIELD(S, f, T) (offsetof(S, f) + 0 * sizeof(&((S *)0)->f == (T *)0))

#define OPT_BOOL(S, k, e, f, d, h)                                                                 \
    {                                                                                              \
        .key = k, .env = e, .type = CFG_T_BOOL, .off = FIELD(S, f, bool), .def = d, .help = h      \
    }
#define OPT_INT(S, k, e, f, d, lo, hi, h)                                                          \
    {                                                                                              \
        .key = k, .env = e, .type = CFG_T_INT, .off = FIELD(S, f, int), .def = d, .min = lo,       \
        .max = hi, .help = h                                                                       \
    }
#define OPT_I64(S, k, f, d, lo, hi, h)                                                             \
    {                                                                                              \
        .key = k, .type = CFG_T_INT64, .off = FIELD(S, f, int64_t), .def = d, .min = lo,           \
        .max = hi, .help = h                                                                       \
    }
#define OPT_MAX(S, k, f, d, h)                                                                     \
    {                                                                                              \
        .key = k, .type = CFG_T_INT64, .flags = CFG_F_UNLIMITED, .off = FIELD(S, f, int64_t),      \
        .def = d, .min = 1, .max = INT64_MAX, .help = h                                            \
    }
#define OPT_STR(S, k, e, f, fl, d, h)                                                              \
    {                                                                                              \
        .key = k, .env = e, .type = CFG_T_STR, .flags = fl, .off = FIELD(S, f, char *), .sdef = d, \
        .help = h                                                                                  \
    }
#define OPT_ENUM(S, k, e, f, d, ch, h)                                                             \
    {                                                                                              \
        .key = k, .env = e, .type = CFG_T_ENUM, .off = FIELD(S, f, char *), .sdef = d,             \
        .choices = ch, .help = h                                                                   \
    }
#define OPT_ID(S, k, e, f, fl, d, h)                                                               \
    {                                                                                              \
        .key = k, .env = e, .type = CFG_T_ID, .flags = fl, .off = FIELD(S, f, char *), .sdef = d,  \
        .help = h                                                                                  \
    }
#define OPT_LIST(k, fl, fn, dfn, ch, w, h)                                                         \
    {                                                                                              \
        .key = k, .type = CFG_T_LIST, .flags = fl, .parse = fn, .dispose = dfn, .choices = ch,     \
        .what = w, .help = h                                                                       \
    }

static const char *const log_formats[] = {"text", "json", NULL};
static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const hook_events[] = {
    "channel_occupied", "channel_vacated", "member_added",       "member_removed",
    "client_event",     "cache_miss",      "subscription_count", NULL};

#define C struct pg_config
static const struct cfg_opt top_opts[] = {
    OPT_STR(C, "host", "PUSHGATE_HOST", host, 0, "0.0.0.0", "Address both listeners bind to."),
    OPT_INT(C, "port", "PUSHGATE_PORT", port, 6001, 1, 65535,
            "WebSocket port: Pusher clients connect here."),
    OPT_INT(C, "api_port", "PUSHGATE_API_PORT", api_port, 6002, 1, 65535,
            "HTTP port of the Pusher REST API (publishing, channel queries)."),
    OPT_INT(C, "workers", "PUSHGATE_WORKERS", workers, 0, 0, CFG_MAX_WORKERS,
            "WebSocket worker threads; 0 = auto: one per CPU minus one, at least 1."),
    OPT_INT(C, "activity_timeout", NULL, activity_timeout, 120, 1, 3600,
            "Seconds of client silence before the server sends pusher:ping; sent to clients in "
            "pusher:connection_established."),
    OPT_INT(C, "pong_timeout", NULL, pong_timeout, 30, 1, 600,
            "Seconds to wait for pusher:pong before closing with 4201."),
    OPT_INT(C, "max_message_size_kb", NULL, max_message_size_kb, 64, 1, 10240,
            "Largest inbound WebSocket message in KiB; a bigger one closes with 1009."),
    OPT_INT(C, "out_queue_max_frames", NULL, out_queue_max_frames, 1000, 1, 1000000,
            "Frames queued to one slow client before it is closed with 4100."),
    OPT_INT(C, "out_queue_max_kb", NULL, out_queue_max_kb, 1024, 1, 1048576,
            "KiB queued to one slow client before it is closed with 4100."),
    OPT_MAX(C, "max_connections_per_ip", max_connections_per_ip, PG_UNLIMITED,
            "Open WebSocket connections one client IP may hold; more are closed with 4100."),
    OPT_MAX(C, "max_new_connections_per_ip_per_sec", max_new_connections_per_ip_per_sec,
            PG_UNLIMITED,
            "New WebSocket connections one client IP may open per second; more are closed with "
            "4100."),
    OPT_LIST("trusted_proxies", 0, pg_config__parse_proxies, pg_config__free_proxies, NULL,
             "an array of IPv4 or IPv6 addresses",
             "Peer addresses (e.g. your load balancer) whose X-Forwarded-For header is believed "
             "for per-IP limits."),
    OPT_LIST("tls", 0, pg_config__parse_tls, pg_config__free_tls, NULL,
             "an object {\"cert\": file, \"key\": file}",
             "Serve wss:// on port and https:// on api_port with this PEM certificate and key. "
             "Plain ws:// is still accepted on the same port unless require_tls is set."),
    OPT_BOOL(C, "require_tls", NULL, require_tls, false,
             "Close plain ws:// connections with 4000 so pusher-js reconnects over wss:// (needs "
             "tls)."),
    OPT_ENUM(C, "log_format", "PUSHGATE_LOG_FORMAT", log_format, "text", log_formats,
             "Log lines as plain text or as JSON objects (one per line)."),
    OPT_STR(C, "metrics_prefix", NULL, metrics_prefix, 0, "pushgate_",
            "Prefix of every /metrics series; \"soketi_\" lets soketi's dashboards read them."),
    OPT_BOOL(C, "require_protocol", NULL, require_protocol, false,
             "Refuse connections without a protocol= query parameter (close 4008) instead of "
             "assuming protocol 7."),
    OPT_BOOL(C, "debug_console", NULL, debug_console, false,
             "Serve the live debug console at GET /console on api_port (connections, channels, "
             "presence members, events, a test trigger); it needs the app id, key and secret."),
    OPT_ENUM(C, "log_level", "PUSHGATE_LOG_LEVEL", log_level, "info", log_levels, "Log verbosity."),
    OPT_INT(C, "webhook_batch_ms", NULL, webhook_batch_ms, 50, 0, 60000,
            "Webhook batching window in ms, per app and endpoint: events within it share one "
            "request. 0 = one event per request."),
    OPT_INT(C, "webhook_batch_max", NULL, webhook_batch_max, 100, 1, 10000,
            "Most webhook events in one request."),
    OPT_INT(C, "webhook_queue_max", NULL, webhook_queue_max, 10000, 1, 10000000,
            "Undelivered webhook events kept per app; more are dropped (logged and counted)."),
    OPT_INT(C, "webhook_timeout_ms", NULL, webhook_timeout_ms, 10000, 100, 600000,
            "Timeout of one webhook request, connecting included, in ms."),
    OPT_INT(C, "webhook_retry_min_ms", NULL, webhook_retry_min_ms, 1000, 1, 3600000,
            "First delay before retrying a failed webhook request (connection error, timeout, "
            "5xx, 408, 429); it doubles on each failure, with jitter."),
    OPT_INT(C, "webhook_retry_max_ms", NULL, webhook_retry_max_ms, 60000, 1, 3600000,
            "Largest delay between webhook retries, in ms."),
    OPT_INT(C, "webhook_retry_window_s", NULL, webhook_retry_window_s, 300, 0, 86400,
            "Seconds a failing webhook request is retried before its events are dropped "
            "(counted). Later events of that endpoint wait behind it, in order."),
    OPT_INT(C, "webhook_debounce_ms", NULL, webhook_debounce_ms, 3000, 0, 60000,
            "Delay of channel_vacated and member_removed webhooks; both are dropped with the "
            "matching channel_occupied / member_added when the channel is re-occupied or the "
            "user re-joins within it (as Pusher). 0 = no delay."),
    OPT_STR(C, "redis_url", "PUSHGATE_REDIS_URL", redis_url, CFG_F_SECRET, NULL,
            "Cluster mode: redis://[[user]:password@]host[:port][/db] of the Redis that joins "
            "several pushgate nodes (events, client events, server-to-user and terminate reach "
            "every node). Absent: one node, no Redis."),
    OPT_STR(C, "redis_prefix", "PUSHGATE_REDIS_PREFIX", redis_prefix, 0, "pushgate",
            "First part of every Redis channel and key (1 to 64 of A-Z a-z 0-9 _ - . : { }), so "
            "deployments sharing one Redis stay apart."),
    OPT_LIST("apps", 0, pg_config__parse_apps, pg_config__free_apps, NULL,
             "an array of app objects",
             "Applications (keys below). Absent or empty: the embedded demo app app-id / app-key "
             "/ app-secret, for development only."),
};
#undef C

#define A struct pg_app
static const struct cfg_opt app_opts[] = {
    OPT_ID(A, "id", "PUSHGATE_DEFAULT_APP_ID", id, CFG_F_REQUIRED, "app-id",
           "App id used in REST paths (/apps/{id}/...); a number is kept as its decimal text."),
    OPT_STR(A, "key", "PUSHGATE_DEFAULT_APP_KEY", key, CFG_F_REQUIRED, "app-key",
            "Public key clients connect with (/app/{key})."),
    OPT_STR(A, "secret", "PUSHGATE_DEFAULT_APP_SECRET", secret, CFG_F_REQUIRED | CFG_F_SECRET,
            "app-secret", "Secret that signs REST requests and channel auth; never logged."),
    OPT_BOOL(A, "enabled", NULL, enabled, true, "A disabled app refuses connections (4003)."),
    OPT_BOOL(A, "enable_client_messages", NULL, enable_client_messages, false,
             "Allow client-* events on private and presence channels."),
    OPT_BOOL(A, "enable_user_authentication", NULL, enable_user_authentication, false,
             "Require pusher:signin within authorization_timeout_ms, else close 4009 (soketi's "
             "meaning). Sign-in itself is always available."),
    OPT_BOOL(A, "authorized_connections", NULL, authorized_connections, false,
             "Close connections that neither sign in nor subscribe to a private or presence "
             "channel within authorization_timeout_ms (4009)."),
    OPT_I64(A, "authorization_timeout_ms", authorization_timeout_ms, 30000, 1, 3600000,
            "Deadline for authorized_connections / enable_user_authentication, in milliseconds."),
    OPT_BOOL(A, "subscription_count", NULL, subscription_count, false,
             "Send pusher_internal:subscription_count to channel members."),
    OPT_MAX(A, "max_connections", max_connections, -1, "Concurrent connections of the app."),
    OPT_MAX(A, "max_client_events_per_sec", max_client_events_per_sec, 10,
            "Client events one connection may send per second."),
    OPT_MAX(A, "max_backend_events_per_sec", max_backend_events_per_sec, -1,
            "Events the REST API accepts per second for the app."),
    OPT_MAX(A, "max_read_requests_per_sec", max_read_requests_per_sec, -1,
            "REST read (channel query) requests per second for the app."),
    OPT_MAX(A, "max_channel_name_length", max_channel_name_length, 200,
            "Longest channel name, in bytes."),
    OPT_MAX(A, "max_event_name_length", max_event_name_length, 200,
            "Longest event name, in bytes."),
    OPT_MAX(A, "max_event_payload_in_kb", max_event_payload_in_kb, 10,
            "Largest event data, in KiB."),
    OPT_MAX(A, "max_event_batch_size", max_event_batch_size, 10,
            "Events in one REST /batch_events request."),
    OPT_MAX(A, "max_event_channels_at_once", max_event_channels_at_once, 100,
            "Channels one REST event may be published to."),
    OPT_MAX(A, "max_presence_members_per_channel", max_presence_members_per_channel, 100,
            "Members of one presence channel."),
    OPT_MAX(A, "max_presence_member_size_in_kb", max_presence_member_size_in_kb, 2,
            "Size of one presence member's user_info, in KiB."),
    OPT_I64(A, "cache_ttl_seconds", cache_ttl_seconds, 1800, 1, 86400,
            "Seconds a cache channel keeps its last event (Pusher: up to 30 minutes)."),
    OPT_LIST("encryption_master_key_base64", CFG_F_SECRET, pg_config__parse_master_key,
             pg_config__free_master_key, NULL, "a standard base64 string of exactly 32 bytes",
             "32-byte master key (base64). When set, the gateway encrypts plaintext REST events to "
             "private-encrypted- channels itself; when absent it only relays envelopes and "
             "refuses plaintext."),
    OPT_LIST("webhooks", 0, pg_config__parse_hooks, pg_config__free_hooks, NULL,
             "an array of webhook objects", "Webhook endpoints (keys below)."),
};
#undef A

static const struct cfg_opt hook_opts[] = {
    OPT_LIST("url", CFG_F_REQUIRED | CFG_F_SECRET, pg_config__parse_url, pg_config__free_url, NULL,
             "an http:// or https:// URL", "Endpoint the signed webhook POST goes to."),
    OPT_LIST("event_types", 0, pg_config__parse_events, pg_config__free_events, hook_events,
             "an array of event type names", "Events sent to this endpoint; absent or empty: all."),
    OPT_LIST("headers", 0, pg_config__parse_headers, pg_config__free_headers, NULL,
             "an object of string values",
             "Extra HTTP headers sent with each webhook; values are never logged."),
};

#define T struct pg_tls
static const struct cfg_opt tls_opts[] = {
    OPT_STR(T, "cert", NULL, cert, CFG_F_REQUIRED, NULL, "PEM certificate (chain) file."),
    OPT_STR(T, "key", NULL, key, CFG_F_REQUIRED, NULL, "PEM private key file."),
};
#undef T

_Static_assert(CFG_NELEM(app_opts) <= 64 && CFG_NELEM(top_opts) <= 64 && CFG_NELEM(hook_opts) <= 64,
               "seen-key bitmap is 64 bits");

const struct cfg_table pg_config__top = {top_opts, CFG_NELEM(top_opts)};
const struct cfg_table pg_config__app = {app_opts, CFG_NELEM(app_opts)};
const struct cfg_table pg_config__hook = {hook_opts, CFG_NELEM(hook_opts)};
const struct cfg_table pg_config__tls = {tls_opts, CFG_NELEM(tls_opts)};

/* ---- file ------------------------------------------------------------------------------------ */

static int read_all(const char *path, char **out, size_t *outlen)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
    if (fd < 0 || !buf) {
        rc = fd < 0 ? -errno : -ENOMEM;
        goto out;
    }
    for (;;) {
        if (len + 1 == cap) {
            char *p = cap >= CFG_MAX_FILE ? NULL : realloc(buf, cap * 2);
            if (!p) {
                rc = cap >= CFG_MAX_FILE ? -EFBIG : -ENOMEM;
                goto out;
            }
            buf = p;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    buf[len] = 0;
    *out = buf;
    *outlen = len;
    buf = NULL;
out:
    if (fd >= 0)
        close(fd);
    if (buf) {
        explicit_bzero(buf, len);
        free(buf);
    }
    return rc;
}

static int where(struct cfg_ld *ld, const char *buf, size_t off, const char *what)
{
    unsigned line = 1;
    size_t bol = 0;
    for (size_t i = 0; i < off; i++)
        if (buf[i] == '\n') {
            line++;
            bol = i + 1;
        }
    return pg_config__fail(ld, -EINVAL, NULL, "%s at line %u, column %zu", what, line,
                           off - bol + 1);
}

/* json-c's strict mode still takes 'single-quoted' keys and raw control characters in strings;
 * RFC 8259 takes neither. Returns the offset of the first offence in a parsed document, or len. */
static size_t strict_check(const char *buf, size_t len)
{
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (in_str && c == '\\')
            i++;
        else if (c == '"')
            in_str = !in_str;
        else if ((in_str && c < 0x20) || (!in_str && c == '\''))
            return i;
    }
    return len;
}

static int load_file(struct cfg_ld *ld, struct pg_config *cfg, const char *path)
{
    char *buf = NULL, msg[128], qb[200];
    size_t len = 0;
    struct json_tokener *tok = NULL;
    struct json_object *root = NULL;
    int rc = read_all(path, &buf, &len);
    if (rc < 0) {
        ld->file = NULL;
        rc = pg_config__fail(ld, rc, NULL, "cannot read %s: %s", path, strerror(-rc));
        ld->file = path;
        return rc;
    }
    if (memchr(buf, 0, len)) {
        rc = where(ld, buf, (size_t)((char *)memchr(buf, 0, len) - buf), "invalid JSON: NUL byte");
        goto out;
    }
    if (!(tok = json_tokener_new_ex(CFG_DEPTH))) {
        rc = pg_config__nomem(ld);
        goto out;
    }
    /* Trailing characters are allowed here only to be reported below with their position. */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
    root = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue || (!root && jerr == json_tokener_success)) {
        rc = pg_config__fail(ld, -EINVAL, NULL, "invalid JSON: unexpected end of file");
    } else if (jerr != json_tokener_success) {
        snprintf(msg, sizeof msg, "invalid JSON (%s)", json_tokener_error_desc(jerr));
        rc = where(ld, buf, end, msg);
    } else if (end + strspn(buf + end, " \t\r\n") < len) {
        end += strspn(buf + end, " \t\r\n");
        rc = where(ld, buf, end, "trailing characters after the JSON object");
    } else if ((end = strict_check(buf, len)) < len) {
        rc = where(ld, buf, end,
                   buf[end] == '\'' ? "invalid JSON (single quote)"
                                    : "invalid JSON (control character in string)");
    } else if (!json_object_is_type(root, json_type_object)) {
        rc = pg_config__fail(ld, -EINVAL, NULL, "expected a JSON object at top level, got %s",
                             pg_config__describe(qb, sizeof qb, root));
    } else {
        rc = pg_config__parse_obj(ld, &pg_config__top, root, cfg, NULL);
    }
out:
    json_object_put(root);
    if (tok)
        json_tokener_free(tok);
    explicit_bzero(buf, len); /* holds the secrets */
    free(buf);
    return rc;
}

/* ---- environment ----------------------------------------------------------------------------- */

static int apply_env(struct cfg_ld *ld, const struct cfg_opt *o, void *obj, const char *s)
{
    char eb[256], qb[200], *end;
    int rc = -EINVAL;
    switch (o->type) {
    case CFG_T_BOOL:
        if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "false") || !strcmp(s, "0")) {
            *(bool *)cfg_field(obj, o) = s[0] == 't' || s[0] == '1';
            rc = 0;
        }
        break;
    case CFG_T_INT:
    case CFG_T_INT64: {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if ((s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) && !*end && !errno &&
            pg_config__in_range(o, v)) {
            pg_config__put_int(obj, o, v);
            rc = 0;
        }
        break;
    }
    case CFG_T_STR:
    case CFG_T_ENUM:
    case CFG_T_ID:
        rc = pg_config__put_str(obj, o, s, strlen(s));
        if (rc == -ENOMEM)
            return pg_config__nomem(ld);
        break;
    case CFG_T_LIST:
        break;
    }
    if (rc == 0)
        return 0;
    if (o->flags & CFG_F_SECRET)
        return pg_config__fail(ld, -EINVAL, o->env, "expected %s",
                               pg_config__expect(eb, sizeof eb, o));
    return pg_config__fail(ld, -EINVAL, o->env, "expected %s, got %s",
                           pg_config__expect(eb, sizeof eb, o),
                           pg_config__quote(qb, sizeof qb, s, strlen(s)));
}

static int load_env(struct cfg_ld *ld, const struct cfg_table *tbl, void *obj)
{
    const struct cfg_opt *t = tbl->opts;
    size_t n = tbl->n;
    const char *file = ld->file;
    int rc = 0;
    ld->file = NULL; /* errors name the variable, not the file */
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *s = t[i].env ? getenv(t[i].env) : NULL;
        if (s)
            rc = apply_env(ld, &t[i], obj, s);
    }
    ld->file = file;
    return rc;
}

/* The embedded demo app exists only when no app is configured (design.md section 10). */
static int default_app(struct cfg_ld *ld, struct pg_config *cfg)
{
    int rc;
    if (cfg->n_apps) {
        for (size_t i = 0; i < CFG_NELEM(app_opts); i++)
            if (app_opts[i].env && getenv(app_opts[i].env))
                return pg_config__fail(
                    ld, -EINVAL, NULL,
                    "%s is set but \"apps\" lists %zu app(s); the default app and its "
                    "PUSHGATE_DEFAULT_APP_* variables apply only when no apps are "
                    "configured",
                    app_opts[i].env, cfg->n_apps);
        return 0;
    }
    if (!(cfg->apps = calloc(1, sizeof *cfg->apps)))
        return pg_config__nomem(ld);
    cfg->n_apps = 1;
    cfg->default_app = true;
    if ((rc = pg_config__fill_defaults(ld, &pg_config__app, cfg->apps)) < 0 ||
        (rc = load_env(ld, &pg_config__app, cfg->apps)) < 0)
        return rc;
    cfg->apps[0].idx = 0;
    cfg->apps[0].secret_len = strlen(cfg->apps[0].secret);
    return 0;
}

static int auto_workers(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    long w = ncpu - 1 < 1 ? 1 : ncpu - 1;
    return (int)(w > CFG_MAX_WORKERS ? CFG_MAX_WORKERS : w);
}

/* redis_url and redis_prefix: checked once both sources are read, so errors name where the value
 * came from (the variable wins over the file). The URL is never echoed: it may hold a password. */
static int cluster_check(struct cfg_ld *ld, struct pg_config *cfg)
{
    const char *file = ld->file;
    char why[160];
    int rc = 0;
    if (cfg->redis_url) {
        struct pg_redis_url u;
        if (pg_redis_url_parse(&u, cfg->redis_url, why, sizeof why) < 0) {
            bool env = getenv("PUSHGATE_REDIS_URL") != NULL;
            ld->file = env ? NULL : file;
            rc = pg_config__fail(ld, -EINVAL, env ? "PUSHGATE_REDIS_URL" : "redis_url",
                                 "expected redis://[[user]:password@]host[:port][/db]: %s", why);
        }
        pg_redis_url_dispose(&u);
    }
    size_t n = strlen(cfg->redis_prefix);
    bool ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.:{}",
                    cfg->redis_prefix[i]) != NULL;
    if (rc == 0 && !ok) {
        bool env = getenv("PUSHGATE_REDIS_PREFIX") != NULL;
        ld->file = env ? NULL : file;
        rc = pg_config__fail(ld, -EINVAL, env ? "PUSHGATE_REDIS_PREFIX" : "redis_prefix",
                             "expected 1 to 64 of A-Z a-z 0-9 _ - . : { }");
    }
    ld->file = file;
    return rc;
}

/* ---- public ---------------------------------------------------------------------------------- */

int pg_config_load(struct pg_config *cfg, const char *path, char *err, size_t errlen)
{
    struct cfg_ld ld = {.file = path, .err = err, .errlen = errlen};
    int rc;
    memset(cfg, 0, sizeof *cfg);
    if (err && errlen)
        err[0] = 0;
    rc = pg_config__fill_defaults(&ld, &pg_config__top, cfg);
    if (rc == 0 && path)
        rc = load_file(&ld, cfg, path);
    if (rc == 0)
        rc = load_env(&ld, &pg_config__top, cfg);
    if (rc == 0)
        rc = default_app(&ld, cfg);
    if (rc == 0)
        rc = cluster_check(&ld, cfg);
    if (rc < 0) {
        pg_config_dispose(cfg);
        return rc;
    }
    if (cfg->workers == 0)
        cfg->workers = auto_workers();
    return 0;
}

void pg_config_dispose(struct pg_config *cfg)
{
    pg_config__free_obj(&pg_config__top, cfg);
    memset(cfg, 0, sizeof *cfg);
}

static const struct pg_app *find_app(const struct pg_config *cfg, size_t off, const char *s,
                                     size_t len)
{
    for (size_t i = 0; i < cfg->n_apps; i++) {
        const char *v = *(char *const *)((const char *)&cfg->apps[i] + off);
        if (!cfg->apps[i].removed && strlen(v) == len && !memcmp(v, s, len))
            return &cfg->apps[i];
    }
    return NULL;
}

const struct pg_app *pg_config_app_by_key(const struct pg_config *cfg, const char *key, size_t len)
{
    return find_app(cfg, offsetof(struct pg_app, key), key, len);
}

const struct pg_app *pg_config_app_by_id(const struct pg_config *cfg, const char *id, size_t len)
{
    return find_app(cfg, offsetof(struct pg_app, id), id, len);
}
