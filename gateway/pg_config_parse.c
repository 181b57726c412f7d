/* pg_config_parse.c - turning one JSON value into one field: the error lines every source shares,
 * storing and freeing values through an option row, reading a JSON object through a table, and the
 * options with a shape of their own (apps, webhooks, URLs, event types, headers, trusted proxies,
 * the encryption master key).
 * Thread: main, before other threads start. Callers: pg_config.c (file, environment, defaults).
 */
#include "pg_config_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pg_b64.h"

/* ---- errors ---------------------------------------------------------------------------------- */

int pg_config__fail(struct cfg_ld *ld, int rc, const char *kp, const char *fmt, ...)
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

int pg_config__nomem(struct cfg_ld *ld)
{
    return pg_config__fail(ld, -ENOMEM, NULL, "out of memory");
}

/* A short, printable, double-quoted excerpt of s for an error line. */
const char *pg_config__quote(char *buf, size_t n, const char *s, size_t len)
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

const char *pg_config__describe(char *buf, size_t n, struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return "null";
    case json_type_object:
        return "an object";
    case json_type_array:
        return "an array";
    case json_type_string:
        return pg_config__quote(buf, n, json_object_get_string(v),
                                (size_t)json_object_get_string_len(v));
    default:
        snprintf(buf, n, "%.40s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        return buf;
    }
}

void pg_config__join(char *buf, size_t n, const char *const *list, const char *sep)
{
    size_t o = 0;
    buf[0] = 0;
    for (size_t i = 0; list[i] && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? sep : "", list[i]);
}

/* What a value of o must be, as the "expected ..." part of an error line. */
const char *pg_config__expect(char *buf, size_t n, const struct cfg_opt *o)
{
    const char *unl = (o->flags & CFG_F_UNLIMITED) ? " or -1" : "";
    switch (o->type) {
    case CFG_T_BOOL:
        return "true or false";
    case CFG_T_INT:
    case CFG_T_INT64:
        if (o->max == INT64_MAX)
            snprintf(buf, n, "an integer >= %" PRId64 "%s", o->min, unl);
        else
            snprintf(buf, n, "an integer from %" PRId64 " to %" PRId64 "%s", o->min, o->max, unl);
        return buf;
    case CFG_T_STR:
        return "a non-empty string";
    case CFG_T_ENUM: {
        char list[200];
        pg_config__join(list, sizeof list, o->choices, ", ");
        snprintf(buf, n, "one of %s", list);
        return buf;
    }
    case CFG_T_ID:
        return "a non-empty string or an integer";
    case CFG_T_LIST:
        return o->what;
    }
    return "?";
}

static int bad(struct cfg_ld *ld, const char *kp, const struct cfg_opt *o, struct json_object *v)
{
    char eb[256], vb[200];
    if (o->flags & CFG_F_SECRET)
        return pg_config__fail(ld, -EINVAL, kp, "expected %s", pg_config__expect(eb, sizeof eb, o));
    return pg_config__fail(ld, -EINVAL, kp, "expected %s, got %s",
                           pg_config__expect(eb, sizeof eb, o),
                           pg_config__describe(vb, sizeof vb, v));
}

/* ---- storing values (shared by defaults, file and environment) ------------------------------- */

void pg_config__free_str(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s)); /* may be a secret */
        free(s);
    }
}

bool pg_config__in_range(const struct cfg_opt *o, int64_t v)
{
    return (v >= o->min && v <= o->max) || ((o->flags & CFG_F_UNLIMITED) && v == PG_UNLIMITED);
}

void pg_config__put_int(void *obj, const struct cfg_opt *o, int64_t v)
{
    if (o->type == CFG_T_INT)
        *(int *)cfg_field(obj, o) = (int)v; /* in range, so it fits */
    else
        *(int64_t *)cfg_field(obj, o) = v;
}

/* 0, -EINVAL (empty, embedded NUL, not a choice) or -ENOMEM. */
int pg_config__put_str(void *obj, const struct cfg_opt *o, const char *s, size_t len)
{
    char **slot = cfg_field(obj, o), *copy;
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
    pg_config__free_str(*slot);
    *slot = copy;
    return 0;
}

int pg_config__fill_defaults(struct cfg_ld *ld, const struct cfg_table *tbl, void *obj)
{
    const struct cfg_opt *t = tbl->opts;
    size_t n = tbl->n;
    for (size_t i = 0; i < n; i++) {
        const struct cfg_opt *o = &t[i];
        switch (o->type) {
        case CFG_T_BOOL:
            *(bool *)cfg_field(obj, o) = o->def != 0;
            break;
        case CFG_T_INT:
        case CFG_T_INT64:
            pg_config__put_int(obj, o, o->def);
            break;
        case CFG_T_STR:
        case CFG_T_ENUM:
        case CFG_T_ID:
            if (o->sdef && pg_config__put_str(obj, o, o->sdef, strlen(o->sdef)) < 0)
                return pg_config__nomem(ld);
            break;
        case CFG_T_LIST:
            break;
        }
    }
    return 0;
}

void pg_config__free_obj(const struct cfg_table *tbl, void *obj)
{
    const struct cfg_opt *t = tbl->opts;
    size_t n = tbl->n;
    for (size_t i = 0; i < n; i++) {
        if (t[i].type == CFG_T_STR || t[i].type == CFG_T_ENUM || t[i].type == CFG_T_ID) {
            char **slot = cfg_field(obj, &t[i]);
            pg_config__free_str(*slot);
            *slot = NULL;
        } else if (t[i].type == CFG_T_LIST) {
            t[i].dispose(obj);
        }
    }
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static int apply_json(struct cfg_ld *ld, const struct cfg_opt *o, void *obj, struct json_object *v,
                      const char *kp)
{
    int rc;
    switch (o->type) {
    case CFG_T_BOOL:
        if (!json_object_is_type(v, json_type_boolean))
            return bad(ld, kp, o, v);
        *(bool *)cfg_field(obj, o) = json_object_get_boolean(v);
        return 0;
    case CFG_T_INT:
    case CFG_T_INT64: {
        if (!json_object_is_type(v, json_type_int))
            return bad(ld, kp, o, v);
        int64_t i = json_object_get_int64(v); /* saturates: values past INT64_MAX are caught */
        if ((i == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX) ||
            !pg_config__in_range(o, i))
            return bad(ld, kp, o, v);
        pg_config__put_int(obj, o, i);
        return 0;
    }
    case CFG_T_ID:
        if (json_object_is_type(v, json_type_int)) {
            const char *num = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
            rc = pg_config__put_str(obj, o, num, strlen(num));
            return rc == -ENOMEM ? pg_config__nomem(ld) : rc < 0 ? bad(ld, kp, o, v) : 0;
        }
        /* fall through */
    case CFG_T_STR:
    case CFG_T_ENUM:
        if (!json_object_is_type(v, json_type_string))
            return bad(ld, kp, o, v);
        rc = pg_config__put_str(obj, o, json_object_get_string(v),
                                (size_t)json_object_get_string_len(v));
        return rc == -ENOMEM ? pg_config__nomem(ld) : rc < 0 ? bad(ld, kp, o, v) : 0;
    case CFG_T_LIST:
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
int pg_config__parse_obj(struct cfg_ld *ld, const struct cfg_table *tbl, struct json_object *jo,
                         void *obj, const char *kp)
{
    const struct cfg_opt *t = tbl->opts;
    size_t n = tbl->n;
    char ckp[256], qb[200];
    uint64_t seen = 0;
    if (!json_object_is_type(jo, json_type_object))
        return pg_config__fail(ld, -EINVAL, kp, "expected an object, got %s",
                               pg_config__describe(qb, sizeof qb, jo));
    json_object_object_foreach(jo, key, val)
    {
        size_t i;
        for (i = 0; i < n && strcmp(t[i].key, key); i++)
            ;
        if (i == n && kp)
            return pg_config__fail(ld, -EINVAL, kp, "unknown key %s",
                                   pg_config__quote(qb, sizeof qb, key, strlen(key)));
        if (i == n)
            return pg_config__fail(ld, -EINVAL, NULL, "unknown key %s at top level",
                                   pg_config__quote(qb, sizeof qb, key, strlen(key)));
        child(ckp, sizeof ckp, kp, key);
        int rc = apply_json(ld, &t[i], obj, val, ckp);
        if (rc < 0)
            return rc;
        seen |= 1ull << i;
    }
    for (size_t i = 0; i < n; i++) {
        if ((t[i].flags & CFG_F_REQUIRED) && !(seen & (1ull << i))) {
            child(ckp, sizeof ckp, kp, t[i].key);
            return pg_config__fail(ld, -EINVAL, ckp, "required key is missing");
        }
    }
    return 0;
}

/* ---- apps and webhooks ----------------------------------------------------------------------- */

static void free_app(struct pg_app *a) { pg_config__free_obj(&pg_config__app, a); }

void pg_config__free_apps(void *obj)
{
    struct pg_config *cfg = obj;
    for (size_t i = 0; i < cfg->n_apps; i++)
        free_app(&cfg->apps[i]);
    free(cfg->apps);
    cfg->apps = NULL;
    cfg->n_apps = 0;
}

static int dup_check(struct cfg_ld *ld, const struct pg_config *cfg, size_t off, const char *name)
{
    char kp[64], qb[200];
    for (size_t i = 0; i < cfg->n_apps; i++) {
        const char *a = *(char *const *)((const char *)&cfg->apps[i] + off);
        for (size_t j = i + 1; j < cfg->n_apps; j++) {
            if (strcmp(a, *(char *const *)((const char *)&cfg->apps[j] + off)))
                continue;
            snprintf(kp, sizeof kp, "apps[%zu].%s", i, name);
            return pg_config__fail(ld, -EINVAL, kp, "duplicate %s %s (also apps[%zu])", name,
                                   pg_config__quote(qb, sizeof qb, a, strlen(a)), j);
        }
    }
    return 0;
}

int pg_config__parse_apps(struct cfg_ld *ld, const struct cfg_opt *o, struct json_object *v,
                          void *obj, const char *kp)
{
    struct pg_config *cfg = obj;
    char ckp[64];
    int rc;
    if (!json_object_is_type(v, json_type_array))
        return bad(ld, kp, o, v);
    pg_config__free_apps(cfg);
    size_t n = json_object_array_length(v);
    if (!n)
        return 0;
    if (!(cfg->apps = calloc(n, sizeof *cfg->apps)))
        return pg_config__nomem(ld);
    cfg->n_apps = n;
    for (size_t i = 0; i < n; i++) {
        struct pg_app *a = &cfg->apps[i];
        snprintf(ckp, sizeof ckp, "%s[%zu]", kp, i);
        if ((rc = pg_config__fill_defaults(ld, &pg_config__app, a)) < 0 ||
            (rc = pg_config__parse_obj(ld, &pg_config__app, json_object_array_get_idx(v, i), a,
                                       ckp)) < 0)
            return rc;
        a->idx = (int)i;
        a->secret_len = strlen(a->secret);
    }
    if ((rc = dup_check(ld, cfg, offsetof(struct pg_app, id), "id")) < 0)
        return rc;
    return dup_check(ld, cfg, offsetof(struct pg_app, key), "key");
}

void pg_config__free_tls(void *obj)
{
    struct pg_config *cfg = obj;
    pg_config__free_obj(&pg_config__tls, &cfg->tls);
}

int pg_config__parse_tls(struct cfg_ld *ld, const struct cfg_opt *o, struct json_object *v,
                         void *obj, const char *kp)
{
    struct pg_config *cfg = obj;
    int rc;
    if (!json_object_is_type(v, json_type_object))
        return bad(ld, kp, o, v);
    pg_config__free_tls(cfg);
    if ((rc = pg_config__fill_defaults(ld, &pg_config__tls, &cfg->tls)) < 0 ||
        (rc = pg_config__parse_obj(ld, &pg_config__tls, v, &cfg->tls, kp)) < 0)
        return rc;
    const char *files[2] = {cfg->tls.cert, cfg->tls.key};
    const char *names[2] = {"cert", "key"};
    for (int i = 0; i < 2; i++) {
        char ckp[64];
        snprintf(ckp, sizeof ckp, "%s.%s", kp, names[i]);
        FILE *f = files[i] ? fopen(files[i], "r") : NULL;
        if (!f)
            return pg_config__fail(ld, -EINVAL, ckp, "cannot read %s: %s",
                                   files[i] ? files[i] : "(none)", strerror(errno));
        fclose(f);
    }
    return 0;
}

void pg_config__free_hooks(void *obj)
{
    struct pg_app *a = obj;
    for (size_t i = 0; i < a->n_webhooks; i++)
        pg_config__free_obj(&pg_config__hook, &a->webhooks[i]);
    free(a->webhooks);
    a->webhooks = NULL;
    a->n_webhooks = 0;
}

int pg_config__parse_hooks(struct cfg_ld *ld, const struct cfg_opt *o, struct json_object *v,
                           void *obj, const char *kp)
{
    struct pg_app *a = obj;
    char ckp[256];
    if (!json_object_is_type(v, json_type_array))
        return bad(ld, kp, o, v);
    pg_config__free_hooks(a);
    size_t n = json_object_array_length(v);
    if (!n)
        return 0;
    if (!(a->webhooks = calloc(n, sizeof *a->webhooks)))
        return pg_config__nomem(ld);
    a->n_webhooks = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(ckp, sizeof ckp, "%s[%zu]", kp, i);
        int rc = pg_config__parse_obj(ld, &pg_config__hook, json_object_array_get_idx(v, i),
                                      &a->webhooks[i], ckp);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void pg_config__free_url(void *obj)
{
    struct pg_webhook *h = obj;
    pg_config__free_str(h->url); /* may carry user:password */
    h->url = NULL;
}

int pg_config__parse_url(struct cfg_ld *ld, const struct cfg_opt *o, struct json_object *v,
                         void *obj, const char *kp)
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
    pg_config__free_url(h);
    return (h->url = strndup(s, len)) ? 0 : pg_config__nomem(ld);
}

/* ---- string lists ---------------------------------------------------------------------------- */

static void free_strs(char ***items, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free((*items)[i]);
    free(*items);
    *items = NULL;
    *n = 0;
}

/* Replaces *items / *n with the JSON array v of strings, each without NUL and accepted by ok(o, s).
 * elem says what one element must be ("an IPv4 or IPv6 address"); errors name the index. */
static int parse_strs(struct cfg_ld *ld, const struct cfg_opt *o, struct json_object *v,
                      const char *kp, char ***items, size_t *n,
                      bool (*ok)(const struct cfg_opt *o, const char *s), const char *elem)
{
    char ckp[256], qb[200];
    if (!json_object_is_type(v, json_type_array))
        return bad(ld, kp, o, v);
    free_strs(items, n);
    size_t len = json_object_array_length(v);
    if (!len)
        return 0;
    if (!(*items = calloc(len, sizeof **items)))
        return pg_config__nomem(ld);
    for (size_t i = 0; i < len; i++) {
        struct json_object *e = json_object_array_get_idx(v, i);
        const char *s = json_object_get_string(e);
        if (!json_object_is_type(e, json_type_string) ||
            strlen(s) != (size_t)json_object_get_string_len(e) || !ok(o, s)) {
            snprintf(ckp, sizeof ckp, "%s[%zu]", kp, i);
            return pg_config__fail(ld, -EINVAL, ckp, "expected %s, got %s", elem,
                                   pg_config__describe(qb, sizeof qb, e));
        }
        if (!((*items)[i] = strdup(s)))
            return pg_config__nomem(ld);
        *n = i + 1;
    }
    return 0;
}

static bool is_choice(const struct cfg_opt *o, const char *s)
{
    for (size_t k = 0; o->choices[k]; k++)
        if (!strcmp(o->choices[k], s))
            return true;
    return false;
}

void pg_config__free_events(void *obj)
{
    struct pg_webhook *h = obj;
    free_strs(&h->event_types, &h->n_event_types);
}

int pg_config__parse_events(struct cfg_ld *ld, const struct cfg_opt *o, struct json_object *v,
                            void *obj, const char *kp)
{
    struct pg_webhook *h = obj;
    char list[200], elem[220];
    pg_config__join(list, sizeof list, o->choices, ", ");
    snprintf(elem, sizeof elem, "one of %s", list);
    return parse_strs(ld, o, v, kp, &h->event_types, &h->n_event_types, is_choice, elem);
}

/* Literal addresses only: a host name would need DNS at start-up and could change under us. */
static bool is_ip(const struct cfg_opt *o, const char *s)
{
    unsigned char addr[sizeof(struct in6_addr)];
    (void)o;
    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

void pg_config__free_proxies(void *obj)
{
    struct pg_config *cfg = obj;
    free_strs(&cfg->trusted_proxies, &cfg->n_trusted_proxies);
}

int pg_config__parse_proxies(struct cfg_ld *ld, const struct cfg_opt *o, struct json_object *v,
                             void *obj, const char *kp)
{
    struct pg_config *cfg = obj;
    return parse_strs(ld, o, v, kp, &cfg->trusted_proxies, &cfg->n_trusted_proxies, is_ip,
                      "an IPv4 or IPv6 address");
}

/* ---- encryption master key ------------------------------------------------------------------- */

void pg_config__free_master_key(void *obj)
{
    struct pg_app *a = obj;
    pg_config__free_str(a->encryption_master_key_base64);
    a->encryption_master_key_base64 = NULL;
    explicit_bzero(a->encryption_master_key, sizeof a->encryption_master_key);
    a->has_encryption_key = false;
}

/* The value is a secret (CFG_F_SECRET): errors say what was expected and at most the decoded
 * length, never the text. */
int pg_config__parse_master_key(struct cfg_ld *ld, const struct cfg_opt *o, struct json_object *v,
                                void *obj, const char *kp)
{
    struct pg_app *a = obj;
    unsigned char key[sizeof a->encryption_master_key + 16]; /* room to report a near miss */
    size_t n = 0;
    if (!json_object_is_type(v, json_type_string))
        return bad(ld, kp, o, v);
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    int rc = pg_b64_decode(s, len, key, sizeof key, &n);
    if (rc == 0 && n == sizeof a->encryption_master_key) {
        pg_config__free_master_key(a);
        a->encryption_master_key_base64 = strndup(s, len);
        if (a->encryption_master_key_base64) {
            memcpy(a->encryption_master_key, key, n);
            a->has_encryption_key = true;
        }
    }
    explicit_bzero(key, sizeof key);
    if (rc < 0)
        return bad(ld, kp, o, v);
    if (n != sizeof a->encryption_master_key)
        return pg_config__fail(ld, -EINVAL, kp, "expected %s, got %zu bytes", o->what, n);
    return a->has_encryption_key ? 0 : pg_config__nomem(ld);
}

/* ---- headers --------------------------------------------------------------------------------- */

void pg_config__free_headers(void *obj)
{
    struct pg_webhook *h = obj;
    for (size_t i = 0; i < h->n_headers; i++) {
        free(h->header_names[i]);
        pg_config__free_str(h->header_values[i]); /* often a token */
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

int pg_config__parse_headers(struct cfg_ld *ld, const struct cfg_opt *o, struct json_object *v,
                             void *obj, const char *kp)
{
    struct pg_webhook *h = obj;
    char ckp[256], qb[200];
    if (!json_object_is_type(v, json_type_object))
        return bad(ld, kp, o, v);
    pg_config__free_headers(h);
    size_t n = (size_t)json_object_object_length(v);
    if (!n)
        return 0;
    if (!(h->header_names = calloc(n, sizeof(char *))) ||
        !(h->header_values = calloc(n, sizeof(char *))))
        return pg_config__nomem(ld);
    json_object_object_foreach(v, name, val)
    {
        child(ckp, sizeof ckp, kp, name);
        if (!header_name_ok(name))
            return pg_config__fail(ld, -EINVAL, kp, "invalid header name %s",
                                   pg_config__quote(qb, sizeof qb, name, strlen(name)));
        const char *s = json_object_get_string(val);
        size_t len = (size_t)json_object_get_string_len(val);
        if (!json_object_is_type(val, json_type_string) || strcspn(s, "\r\n") != len)
            return pg_config__fail(ld, -EINVAL, ckp, "expected a string without CR, LF or NUL");
        size_t i = h->n_headers;
        if (!(h->header_names[i] = strdup(name)))
            return pg_config__nomem(ld);
        h->n_headers = i + 1;
        if (!(h->header_values[i] = strdup(s)))
            return pg_config__nomem(ld);
    }
    return 0;
}
