/* pg_config.c - configuration loader. One option table per JSON object (top level, app, webhook)
 * drives everything: defaults, the JSON file, the PUSHGATE_* environment, range checks, unknown-key
 * rejection and --help (redis standardConfig style; no hand-written per-key parser).
 * Thread: main, before other threads start. Never logs: failures become one line in err.
 */
#include "pg_config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>

#define CFG_MAX_FILE (16u << 20) /* a config file larger than this is a mistake */
#define CFG_DEPTH 32
#define CFG_MAX_WORKERS 64
#ifndef JSON_TOKENER_ALLOW_TRAILING_CHARS /* json-c < 0.15: strict mode rejects them itself */
#define JSON_TOKENER_ALLOW_TRAILING_CHARS 0
#endif
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct ld {           /* one load: where errors go and what they are prefixed with */
    const char *file; /* NULL while reading the environment */
    char *err;
    size_t errlen;
};

enum opt_type { T_BOOL, T_INT, T_INT64, T_STR, T_ENUM, T_ID, T_LIST };

#define F_REQUIRED 0x1u  /* must be in the file; the default serves only the default app */
#define F_SECRET 0x2u    /* the value is never echoed in an error */
#define F_UNLIMITED 0x4u /* -1 is accepted and means "no limit" */

struct opt {
    const char *key;
    const char *env; /* app table: applies to the embedded default app only */
    enum opt_type type;
    unsigned flags;
    size_t off;
    int64_t def;                /* T_BOOL, T_INT, T_INT64 */
    const char *sdef;           /* T_STR, T_ENUM, T_ID */
    int64_t min, max;           /* T_INT, T_INT64 */
    const char *const *choices; /* T_ENUM, and a T_LIST of names: NULL-terminated */
    /* T_LIST: arrays and objects with their own shape. what names the expected value. */
    int (*parse)(struct ld *ld, const struct opt *o, struct json_object *v, void *obj,
                 const char *kp);
    void (*dispose)(void *obj);
    const char *what;
    const char *help;
};

/* offsetof(S, f), and a compile error under -Werror when f is not of type T (comparing distinct
 * pointer types). The comparison sits inside sizeof, so it is never evaluated. */
#define FIELD(S, f, T) (offsetof(S, f) + 0 * sizeof(&((S *)0)->f == (T *)0))

#define OPT_BOOL(S, k, e, f, d, h)                                                                 \
    {                                                                                              \
        .key = k, .env = e, .type = T_BOOL, .off = FIELD(S, f, bool), .def = d, .help = h          \
    }
#define OPT_INT(S, k, e, f, d, lo, hi, h)                                                          \
    {                                                                                              \
        .key = k, .env = e, .type = T_INT, .off = FIELD(S, f, int), .def = d, .min = lo,           \
        .max = hi, .help = h                                                                       \
    }
#define OPT_I64(S, k, f, d, lo, hi, h)                                                             \
    {                                                                                              \
        .key = k, .type = T_INT64, .off = FIELD(S, f, int64_t), .def = d, .min = lo, .max = hi,    \
        .help = h                                                                                  \
    }
#define OPT_MAX(S, k, f, d, h)                                                                     \
    {                                                                                              \
        .key = k, .type = T_INT64, .flags = F_UNLIMITED, .off = FIELD(S, f, int64_t), .def = d,    \
        .min = 1, .max = INT64_MAX, .help = h                                                      \
    }
#define OPT_STR(S, k, e, f, fl, d, h)                                                              \
    {                                                                                              \
        .key = k, .env = e, .type = T_STR, .flags = fl, .off = FIELD(S, f, char *), .sdef = d,     \
        .help = h                                                                                  \
    }
#define OPT_ENUM(S, k, e, f, d, ch, h)                                                             \
    {                                                                                              \
        .key = k, .env = e, .type = T_ENUM, .off = FIELD(S, f, char *), .sdef = d, .choices = ch,  \
        .help = h                                                                                  \
    }
#define OPT_ID(S, k, e, f, fl, d, h)                                                               \
    {                                                                                              \
        .key = k, .env = e, .type = T_ID, .flags = fl, .off = FIELD(S, f, char *), .sdef = d,      \
        .help = h                                                                                  \
    }
#define OPT_LIST(k, fl, fn, dfn, ch, w, h)                                                         \
    {                                                                                              \
        .key = k, .type = T_LIST, .flags = fl, .parse = fn, .dispose = dfn, .choices = ch,         \
        .what = w, .help = h                                                                       \
    }

static int parse_apps(struct ld *, const struct opt *, struct json_object *, void *, const char *);
static int parse_hooks(struct ld *, const struct opt *, struct json_object *, void *, const char *);
static int parse_url(struct ld *, const struct opt *, struct json_object *, void *, const char *);
static int parse_events(struct ld *, const struct opt *, struct json_object *, void *,
                        const char *);
static int parse_headers(struct ld *, const struct opt *, struct json_object *, void *,
                         const char *);
static void free_apps(void *obj);
static void free_hooks(void *obj);
static void free_url(void *obj);
static void free_events(void *obj);
static void free_headers(void *obj);

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const hook_events[] = {
    "channel_occupied", "channel_vacated", "member_added",       "member_removed",
    "client_event",     "cache_miss",      "subscription_count", NULL};

#define C struct pg_config
static const struct opt top_opts[] = {
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
    OPT_BOOL(C, "require_protocol", NULL, require_protocol, false,
             "Refuse connections without a protocol= query parameter (close 4008) instead of "
             "assuming protocol 7."),
    OPT_ENUM(C, "log_level", "PUSHGATE_LOG_LEVEL", log_level, "info", log_levels, "Log verbosity."),
    OPT_LIST("apps", 0, parse_apps, free_apps, NULL, "an array of app objects",
             "Applications (keys below). Absent or empty: the embedded demo app app-id / app-key "
             "/ app-secret, for development only."),
};
#undef C

#define A struct pg_app
static const struct opt app_opts[] = {
    OPT_ID(A, "id", "PUSHGATE_DEFAULT_APP_ID", id, F_REQUIRED, "app-id",
           "App id used in REST paths (/apps/{id}/...); a number is kept as its decimal text."),
    OPT_STR(A, "key", "PUSHGATE_DEFAULT_APP_KEY", key, F_REQUIRED, "app-key",
            "Public key clients connect with (/app/{key})."),
    OPT_STR(A, "secret", "PUSHGATE_DEFAULT_APP_SECRET", secret, F_REQUIRED | F_SECRET, "app-secret",
            "Secret that signs REST requests and channel auth; never logged."),
    OPT_BOOL(A, "enabled", NULL, enabled, true, "A disabled app refuses connections (4003)."),
    OPT_BOOL(A, "enable_client_messages", NULL, enable_client_messages, false,
             "Allow client-* events on private and presence channels."),
    OPT_BOOL(A, "enable_user_authentication", NULL, enable_user_authentication, false,
             "Accept pusher:signin (user authentication)."),
    OPT_BOOL(A, "authorized_connections", NULL, authorized_connections, false,
             "Close connections that do not sign in within authorization_timeout_ms."),
    OPT_I64(A, "authorization_timeout_ms", authorization_timeout_ms, 30000, 1, 3600000,
            "Sign-in deadline when authorized_connections is on, in milliseconds."),
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
    OPT_LIST("webhooks", 0, parse_hooks, free_hooks, NULL, "an array of webhook objects",
             "Webhook endpoints (keys below)."),
};
#undef A

static const struct opt hook_opts[] = {
    OPT_LIST("url", F_REQUIRED | F_SECRET, parse_url, free_url, NULL, "an http:// or https:// URL",
             "Endpoint the signed webhook POST goes to."),
    OPT_LIST("event_types", 0, parse_events, free_events, hook_events,
             "an array of event type names", "Events sent to this endpoint; absent or empty: all."),
    OPT_LIST("headers", 0, parse_headers, free_headers, NULL, "an object of string values",
             "Extra HTTP headers sent with each webhook; values are never logged."),
};

_Static_assert(NELEM(app_opts) <= 64 && NELEM(top_opts) <= 64, "seen-key bitmap is 64 bits");

/* ---- errors ---------------------------------------------------------------------------------- */

__attribute__((format(printf, 4, 5))) static int fail(struct ld *ld, int rc, const char *kp,
                                                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (!ld->err || !ld->errlen)
        return rc;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ld->file && kp)
        snprintf(ld->err, ld->errlen, "%s: %s: %s", ld->file, kp, msg);
    else if (ld->file || kp)
        snprintf(ld->err, ld->errlen, "%s: %s", ld->file ? ld->file : kp, msg);
    else
        snprintf(ld->err, ld->errlen, "%s", msg);
    return rc;
}

static int nomem(struct ld *ld) { return fail(ld, -ENOMEM, NULL, "out of memory"); }

/* A short, printable, double-quoted excerpt of s for an error line. */
static const char *quote(char *buf, size_t n, const char *s, size_t len)
{
    size_t o = 0, i;
    buf[o++] = '"';
    for (i = 0; i < len && i < 40 && o + 8 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(buf + o, n - o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    if (i < len)
        o += (size_t)snprintf(buf + o, n - o, "...");
    snprintf(buf + o, n - o, "\"");
    return buf;
}

static const char *describe(char *buf, size_t n, struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return "null";
    case json_type_object:
        return "an object";
    case json_type_array:
        return "an array";
    case json_type_string:
        return quote(buf, n, json_object_get_string(v), (size_t)json_object_get_string_len(v));
    default:
        snprintf(buf, n, "%.40s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        return buf;
    }
}

static void join(char *buf, size_t n, const char *const *list, const char *sep)
{
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; list[i] && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? sep : "", list[i]);
}

/* What a value of o must be, as the "expected ..." part of an error line. */
static const char *expect(char *buf, size_t n, const struct opt *o)
{
    const char *unl = (o->flags & F_UNLIMITED) ? " or -1" : "";
    switch (o->type) {
    case T_BOOL:
        return "true or false";
    case T_INT:
    case T_INT64:
        if (o->max == INT64_MAX)
            snprintf(buf, n, "an integer >= %" PRId64 "%s", o->min, unl);
        else
            snprintf(buf, n, "an integer from %" PRId64 " to %" PRId64 "%s", o->min, o->max, unl);
        return buf;
    case T_STR:
        return "a non-empty string";
    case T_ENUM: {
        char list[200];
        join(list, sizeof list, o->choices, ", ");
        snprintf(buf, n, "one of %s", list);
        return buf;
    }
    case T_ID:
        return "a non-empty string or an integer";
    case T_LIST:
        return o->what;
    }
    return "?";
}

static int bad(struct ld *ld, const char *kp, const struct opt *o, struct json_object *v)
{
    char eb[256], vb[200];
    if (o->flags & F_SECRET)
        return fail(ld, -EINVAL, kp, "expected %s", expect(eb, sizeof eb, o));
    return fail(ld, -EINVAL, kp, "expected %s, got %s", expect(eb, sizeof eb, o),
                describe(vb, sizeof vb, v));
}

/* ---- storing values (shared by defaults, file and environment) ------------------------------- */

static void *field(void *obj, const struct opt *o) { return (char *)obj + o->off; }

static void free_str(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s)); /* may be a secret */
        free(s);
    }
}

static bool in_range(const struct opt *o, int64_t v)
{
    return (v >= o->min && v <= o->max) || ((o->flags & F_UNLIMITED) && v == PG_UNLIMITED);
}

static void put_int(void *obj, const struct opt *o, int64_t v)
{
    if (o->type == T_INT)
        *(int *)field(obj, o) = (int)v; /* in range, so it fits */
    else
        *(int64_t *)field(obj, o) = v;
}

/* 0, -EINVAL (empty, embedded NUL, not a choice) or -ENOMEM. */
static int put_str(void *obj, const struct opt *o, const char *s, size_t len)
{
    char **slot = field(obj, o), *copy;
    if (!len || memchr(s, 0, len))
        return -EINVAL;
    if (o->choices) {
        size_t i;
        for (i = 0; o->choices[i]; i++)
            if (strlen(o->choices[i]) == len && !memcmp(o->choices[i], s, len))
                break;
        if (!o->choices[i])
            return -EINVAL;
    }
    if (!(copy = strndup(s, len)))
        return -ENOMEM;
    free_str(*slot);
    *slot = copy;
    return 0;
}

static int fill_defaults(struct ld *ld, const struct opt *t, size_t n, void *obj)
{
    for (size_t i = 0; i < n; i++) {
        const struct opt *o = &t[i];
        switch (o->type) {
        case T_BOOL:
            *(bool *)field(obj, o) = o->def != 0;
            break;
        case T_INT:
        case T_INT64:
            put_int(obj, o, o->def);
            break;
        case T_STR:
        case T_ENUM:
        case T_ID:
            if (o->sdef && put_str(obj, o, o->sdef, strlen(o->sdef)) < 0)
                return nomem(ld);
            break;
        case T_LIST:
            break;
        }
    }
    return 0;
}

static void free_obj(const struct opt *t, size_t n, void *obj)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].type == T_STR || t[i].type == T_ENUM || t[i].type == T_ID) {
            char **slot = field(obj, &t[i]);
            free_str(*slot);
            *slot = NULL;
        } else if (t[i].type == T_LIST) {
            t[i].dispose(obj);
        }
    }
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static int apply_json(struct ld *ld, const struct opt *o, void *obj, struct json_object *v,
                      const char *kp)
{
    int rc;
    switch (o->type) {
    case T_BOOL:
        if (!json_object_is_type(v, json_type_boolean))
            return bad(ld, kp, o, v);
        *(bool *)field(obj, o) = json_object_get_boolean(v);
        return 0;
    case T_INT:
    case T_INT64: {
        if (!json_object_is_type(v, json_type_int))
            return bad(ld, kp, o, v);
        int64_t i = json_object_get_int64(v); /* saturates: values past INT64_MAX are caught */
        if ((i == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX) || !in_range(o, i))
            return bad(ld, kp, o, v);
        put_int(obj, o, i);
        return 0;
    }
    case T_ID:
        if (json_object_is_type(v, json_type_int)) {
            const char *num = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
            rc = put_str(obj, o, num, strlen(num));
            return rc == -ENOMEM ? nomem(ld) : rc < 0 ? bad(ld, kp, o, v) : 0;
        }
        /* fall through */
    case T_STR:
    case T_ENUM:
        if (!json_object_is_type(v, json_type_string))
            return bad(ld, kp, o, v);
        rc = put_str(obj, o, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        return rc == -ENOMEM ? nomem(ld) : rc < 0 ? bad(ld, kp, o, v) : 0;
    case T_LIST:
        return o->parse(ld, o, v, obj, kp);
    }
    return -EINVAL;
}

static void child(char *buf, size_t n, const char *kp, const char *key)
{
    if (kp)
        snprintf(buf, n, "%s.%s", kp, key);
    else
        snprintf(buf, n, "%s", key);
}

/* Reads the JSON object jo into obj through table t. kp is the key path of jo (NULL: top level). */
static int parse_obj(struct ld *ld, const struct opt *t, size_t n, struct json_object *jo,
                     void *obj, const char *kp)
{
    char ckp[256], qb[200];
    uint64_t seen = 0;
    if (!json_object_is_type(jo, json_type_object))
        return fail(ld, -EINVAL, kp, "expected an object, got %s", describe(qb, sizeof qb, jo));
    json_object_object_foreach(jo, key, val)
    {
        size_t i;
        for (i = 0; i < n && strcmp(t[i].key, key); i++)
            ;
        if (i == n && kp)
            return fail(ld, -EINVAL, kp, "unknown key %s", quote(qb, sizeof qb, key, strlen(key)));
        if (i == n)
            return fail(ld, -EINVAL, NULL, "unknown key %s at top level",
                        quote(qb, sizeof qb, key, strlen(key)));
        child(ckp, sizeof ckp, kp, key);
        int rc = apply_json(ld, &t[i], obj, val, ckp);
        if (rc < 0)
            return rc;
        seen |= 1ull << i;
    }
    for (size_t i = 0; i < n; i++) {
        if ((t[i].flags & F_REQUIRED) && !(seen & (1ull << i))) {
            child(ckp, sizeof ckp, kp, t[i].key);
            return fail(ld, -EINVAL, ckp, "required key is missing");
        }
    }
    return 0;
}

static void free_app(struct pg_app *a) { free_obj(app_opts, NELEM(app_opts), a); }

static void free_apps(void *obj)
{
    struct pg_config *cfg = obj;
    for (size_t i = 0; i < cfg->n_apps; i++)
        free_app(&cfg->apps[i]);
    free(cfg->apps);
    cfg->apps = NULL;
    cfg->n_apps = 0;
}

static int dup_check(struct ld *ld, const struct pg_config *cfg, size_t off, const char *name)
{
    char kp[64], qb[200];
    for (size_t i = 0; i < cfg->n_apps; i++) {
        const char *a = *(char *const *)((const char *)&cfg->apps[i] + off);
        for (size_t j = i + 1; j < cfg->n_apps; j++) {
            if (strcmp(a, *(char *const *)((const char *)&cfg->apps[j] + off)))
                continue;
            snprintf(kp, sizeof kp, "apps[%zu].%s", i, name);
            return fail(ld, -EINVAL, kp, "duplicate %s %s (also apps[%zu])", name,
                        quote(qb, sizeof qb, a, strlen(a)), j);
        }
    }
    return 0;
}

static int parse_apps(struct ld *ld, const struct opt *o, struct json_object *v, void *obj,
                      const char *kp)
{
    struct pg_config *cfg = obj;
    char ckp[64];
    int rc;
    if (!json_object_is_type(v, json_type_array))
        return bad(ld, kp, o, v);
    free_apps(cfg);
    size_t n = json_object_array_length(v);
    if (!n)
        return 0;
    if (!(cfg->apps = calloc(n, sizeof *cfg->apps)))
        return nomem(ld);
    cfg->n_apps = n;
    for (size_t i = 0; i < n; i++) {
        struct pg_app *a = &cfg->apps[i];
        snprintf(ckp, sizeof ckp, "%s[%zu]", kp, i);
        if ((rc = fill_defaults(ld, app_opts, NELEM(app_opts), a)) < 0 ||
            (rc = parse_obj(ld, app_opts, NELEM(app_opts), json_object_array_get_idx(v, i), a,
                            ckp)) < 0)
            return rc;
        a->idx = (int)i;
        a->secret_len = strlen(a->secret);
    }
    if ((rc = dup_check(ld, cfg, offsetof(struct pg_app, id), "id")) < 0)
        return rc;
    return dup_check(ld, cfg, offsetof(struct pg_app, key), "key");
}

static void free_hooks(void *obj)
{
    struct pg_app *a = obj;
    for (size_t i = 0; i < a->n_webhooks; i++)
        free_obj(hook_opts, NELEM(hook_opts), &a->webhooks[i]);
    free(a->webhooks);
    a->webhooks = NULL;
    a->n_webhooks = 0;
}

static int parse_hooks(struct ld *ld, const struct opt *o, struct json_object *v, void *obj,
                       const char *kp)
{
    struct pg_app *a = obj;
    char ckp[256];
    if (!json_object_is_type(v, json_type_array))
        return bad(ld, kp, o, v);
    free_hooks(a);
    size_t n = json_object_array_length(v);
    if (!n)
        return 0;
    if (!(a->webhooks = calloc(n, sizeof *a->webhooks)))
        return nomem(ld);
    a->n_webhooks = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(ckp, sizeof ckp, "%s[%zu]", kp, i);
        int rc = parse_obj(ld, hook_opts, NELEM(hook_opts), json_object_array_get_idx(v, i),
                           &a->webhooks[i], ckp);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void free_url(void *obj)
{
    struct pg_webhook *h = obj;
    free_str(h->url); /* may carry user:password */
    h->url = NULL;
}

static int parse_url(struct ld *ld, const struct opt *o, struct json_object *v, void *obj,
                     const char *kp)
{
    struct pg_webhook *h = obj;
    if (!json_object_is_type(v, json_type_string))
        return bad(ld, kp, o, v);
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v), skip;
    if (!strncasecmp(s, "http://", 7))
        skip = 7;
    else if (!strncasecmp(s, "https://", 8))
        skip = 8;
    else
        return bad(ld, kp, o, v);
    if (len == skip)
        return bad(ld, kp, o, v);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return bad(ld, kp, o, v);
    free_url(h);
    return (h->url = strndup(s, len)) ? 0 : nomem(ld);
}

static void free_events(void *obj)
{
    struct pg_webhook *h = obj;
    for (size_t i = 0; i < h->n_event_types; i++)
        free(h->event_types[i]);
    free(h->event_types);
    h->event_types = NULL;
    h->n_event_types = 0;
}

static int parse_events(struct ld *ld, const struct opt *o, struct json_object *v, void *obj,
                        const char *kp)
{
    struct pg_webhook *h = obj;
    char ckp[256], qb[200], list[200];
    if (!json_object_is_type(v, json_type_array))
        return bad(ld, kp, o, v);
    free_events(h);
    size_t n = json_object_array_length(v);
    if (!n)
        return 0;
    if (!(h->event_types = calloc(n, sizeof *h->event_types)))
        return nomem(ld);
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(v, i);
        const char *s = json_object_get_string(e);
        size_t k = 0;
        if (json_object_is_type(e, json_type_string))
            for (; o->choices[k] && strcmp(o->choices[k], s); k++)
                ;
        if (!json_object_is_type(e, json_type_string) || !o->choices[k]) {
            snprintf(ckp, sizeof ckp, "%s[%zu]", kp, i);
            join(list, sizeof list, o->choices, ", ");
            return fail(ld, -EINVAL, ckp, "expected one of %s, got %s", list,
                        describe(qb, sizeof qb, e));
        }
        if (!(h->event_types[i] = strdup(s)))
            return nomem(ld);
        h->n_event_types = i + 1;
    }
    return 0;
}

static void free_headers(void *obj)
{
    struct pg_webhook *h = obj;
    for (size_t i = 0; i < h->n_headers; i++) {
        free(h->header_names[i]);
        free_str(h->header_values[i]); /* often a token */
    }
    free(h->header_names);
    free(h->header_values);
    h->header_names = h->header_values = NULL;
    h->n_headers = 0;
}

static bool header_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    return true;
}

static int parse_headers(struct ld *ld, const struct opt *o, struct json_object *v, void *obj,
                         const char *kp)
{
    struct pg_webhook *h = obj;
    char ckp[256], qb[200];
    if (!json_object_is_type(v, json_type_object))
        return bad(ld, kp, o, v);
    free_headers(h);
    size_t n = (size_t)json_object_object_length(v);
    if (!n)
        return 0;
    if (!(h->header_names = calloc(n, sizeof(char *))) ||
        !(h->header_values = calloc(n, sizeof(char *))))
        return nomem(ld);
    json_object_object_foreach(v, name, val)
    {
        child(ckp, sizeof ckp, kp, name);
        if (!header_name_ok(name))
            return fail(ld, -EINVAL, kp, "invalid header name %s",
                        quote(qb, sizeof qb, name, strlen(name)));
        const char *s = json_object_get_string(val);
        size_t len = (size_t)json_object_get_string_len(val);
        if (!json_object_is_type(val, json_type_string) || strcspn(s, "\r\n") != len)
            return fail(ld, -EINVAL, ckp, "expected a string without CR, LF or NUL");
        size_t i = h->n_headers;
        if (!(h->header_names[i] = strdup(name)))
            return nomem(ld);
        h->n_headers = i + 1;
        if (!(h->header_values[i] = strdup(s)))
            return nomem(ld);
    }
    return 0;
}

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

static int where(struct ld *ld, const char *buf, size_t off, const char *what)
{
    unsigned line = 1;
    size_t bol = 0;
    for (size_t i = 0; i < off; i++)
        if (buf[i] == '\n') {
            line++;
            bol = i + 1;
        }
    return fail(ld, -EINVAL, NULL, "%s at line %u, column %zu", what, line, off - bol + 1);
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

static int load_file(struct ld *ld, struct pg_config *cfg, const char *path)
{
    char *buf = NULL, msg[128], qb[200];
    size_t len = 0;
    struct json_tokener *tok = NULL;
    struct json_object *root = NULL;
    int rc = read_all(path, &buf, &len);
    if (rc < 0) {
        ld->file = NULL;
        rc = fail(ld, rc, NULL, "cannot read %s: %s", path, strerror(-rc));
        ld->file = path;
        return rc;
    }
    if (memchr(buf, 0, len)) {
        rc = where(ld, buf, (size_t)((char *)memchr(buf, 0, len) - buf), "invalid JSON: NUL byte");
        goto out;
    }
    if (!(tok = json_tokener_new_ex(CFG_DEPTH))) {
        rc = nomem(ld);
        goto out;
    }
    /* Trailing characters are allowed here only to be reported below with their position. */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
    root = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue || (!root && jerr == json_tokener_success)) {
        rc = fail(ld, -EINVAL, NULL, "invalid JSON: unexpected end of file");
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
        rc = fail(ld, -EINVAL, NULL, "expected a JSON object at top level, got %s",
                  describe(qb, sizeof qb, root));
    } else {
        rc = parse_obj(ld, top_opts, NELEM(top_opts), root, cfg, NULL);
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

static int apply_env(struct ld *ld, const struct opt *o, void *obj, const char *s)
{
    char eb[256], qb[200], *end;
    int rc = -EINVAL;
    switch (o->type) {
    case T_BOOL:
        if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "false") || !strcmp(s, "0")) {
            *(bool *)field(obj, o) = s[0] == 't' || s[0] == '1';
            rc = 0;
        }
        break;
    case T_INT:
    case T_INT64: {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if ((s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) && !*end && !errno && in_range(o, v)) {
            put_int(obj, o, v);
            rc = 0;
        }
        break;
    }
    case T_STR:
    case T_ENUM:
    case T_ID:
        rc = put_str(obj, o, s, strlen(s));
        if (rc == -ENOMEM)
            return nomem(ld);
        break;
    case T_LIST:
        break;
    }
    if (rc == 0)
        return 0;
    if (o->flags & F_SECRET)
        return fail(ld, -EINVAL, o->env, "expected %s", expect(eb, sizeof eb, o));
    return fail(ld, -EINVAL, o->env, "expected %s, got %s", expect(eb, sizeof eb, o),
                quote(qb, sizeof qb, s, strlen(s)));
}

static int load_env(struct ld *ld, const struct opt *t, size_t n, void *obj)
{
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
static int default_app(struct ld *ld, struct pg_config *cfg)
{
    int rc;
    if (cfg->n_apps) {
        for (size_t i = 0; i < NELEM(app_opts); i++)
            if (app_opts[i].env && getenv(app_opts[i].env))
                return fail(ld, -EINVAL, NULL,
                            "%s is set but \"apps\" lists %zu app(s); the default app and its "
                            "PUSHGATE_DEFAULT_APP_* variables apply only when no apps are "
                            "configured",
                            app_opts[i].env, cfg->n_apps);
        return 0;
    }
    if (!(cfg->apps = calloc(1, sizeof *cfg->apps)))
        return nomem(ld);
    cfg->n_apps = 1;
    cfg->default_app = true;
    if ((rc = fill_defaults(ld, app_opts, NELEM(app_opts), cfg->apps)) < 0 ||
        (rc = load_env(ld, app_opts, NELEM(app_opts), cfg->apps)) < 0)
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

/* ---- public ---------------------------------------------------------------------------------- */

int pg_config_load(struct pg_config *cfg, const char *path, char *err, size_t errlen)
{
    struct ld ld = {.file = path, .err = err, .errlen = errlen};
    int rc;
    memset(cfg, 0, sizeof *cfg);
    if (err && errlen)
        err[0] = 0;
    rc = fill_defaults(&ld, top_opts, NELEM(top_opts), cfg);
    if (rc == 0 && path)
        rc = load_file(&ld, cfg, path);
    if (rc == 0)
        rc = load_env(&ld, top_opts, NELEM(top_opts), cfg);
    if (rc == 0)
        rc = default_app(&ld, cfg);
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
    free_obj(top_opts, NELEM(top_opts), cfg);
    memset(cfg, 0, sizeof *cfg);
}

static const struct pg_app *find_app(const struct pg_config *cfg, size_t off, const char *s,
                                     size_t len)
{
    for (size_t i = 0; i < cfg->n_apps; i++) {
        const char *v = *(char *const *)((const char *)&cfg->apps[i] + off);
        if (strlen(v) == len && !memcmp(v, s, len))
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

/* ---- --help ---------------------------------------------------------------------------------- */

static void print_opt(FILE *out, const struct opt *o, bool app)
{
    char tb[256], db[128];
    const char *type = tb;
    switch (o->type) {
    case T_BOOL:
        type = "boolean";
        break;
    case T_INT:
    case T_INT64:
        if (o->flags & F_UNLIMITED)
            snprintf(tb, sizeof tb, "integer >= %" PRId64 ", or -1 for unlimited", o->min);
        else
            snprintf(tb, sizeof tb, "integer %" PRId64 "..%" PRId64, o->min, o->max);
        break;
    case T_STR:
        type = "string";
        break;
    case T_ENUM:
        join(tb, sizeof tb, o->choices, "|");
        break;
    case T_ID:
        type = "string or integer";
        break;
    case T_LIST:
        if (o->choices) {
            char list[200];
            join(list, sizeof list, o->choices, "|");
            snprintf(tb, sizeof tb, "%s (%s)", o->what, list);
        } else {
            type = o->what;
        }
        if (!strncmp(type, "an ", 3) || !strncmp(type, "a ", 2))
            type = strchr(type, ' ') + 1; /* "an array of ..." reads as a type without "an" */
        break;
    }
    if (o->flags & F_REQUIRED)
        snprintf(db, sizeof db, o->sdef ? "required (default app: \"%s\")" : "required",
                 o->sdef ? o->sdef : "");
    else if (o->type == T_BOOL)
        snprintf(db, sizeof db, "default %s", o->def ? "true" : "false");
    else if (o->type == T_INT || o->type == T_INT64)
        snprintf(db, sizeof db, "default %" PRId64 "%s", o->def,
                 (o->flags & F_UNLIMITED) && o->def == PG_UNLIMITED ? " (unlimited)" : "");
    else if (o->sdef)
        snprintf(db, sizeof db, "default \"%s\"", o->sdef);
    else
        snprintf(db, sizeof db, "optional");
    fprintf(out, "  %-34s %s; %s", o->key, type, db);
    if (o->env)
        fprintf(out, "; env %s%s", o->env, app ? " (default app only)" : "");
    fprintf(out, "\n      %s\n", o->help);
}

void pg_config_print_help(FILE *out)
{
    fprintf(out, "Configuration: a JSON object read with --config FILE. Later wins: defaults < "
                 "file < PUSHGATE_* environment < command line.\n\nTop-level keys:\n");
    for (size_t i = 0; i < NELEM(top_opts); i++)
        print_opt(out, &top_opts[i], false);
    fprintf(out, "\nKeys of each object in \"apps\" (max_* limits: -1 = unlimited):\n");
    for (size_t i = 0; i < NELEM(app_opts); i++)
        print_opt(out, &app_opts[i], true);
    fprintf(out, "\nKeys of each object in an app's \"webhooks\":\n");
    for (size_t i = 0; i < NELEM(hook_opts); i++)
        print_opt(out, &hook_opts[i], false);
}
