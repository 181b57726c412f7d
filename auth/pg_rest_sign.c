/* pg_rest_sign.c - REST request signing: query parsing, canonical form, verification (spec 9.2).
 * Thread: any (pure). Callers: the REST server's auth check, the bench tool's signer.
 */
#include "pg_hex.h"
#include "pg_rest_sign.h"
#include "pg_auth.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_ct.h"
#include "pg_hmac.h"
#include "pg_md5.h"

#define PG_REST_TS_WINDOW 600
#define PG_REST_METHOD_MAX 15
#define PG_REST_EMPTY_MD5 "d41d8cd98f00b204e9800998ecf8427e"

/* ---- query parsing ---- */

/* Decodes %XX in s[0..n) into a new string. %00 is refused: keys and values are C strings, and an
 * embedded NUL would let two different raw keys look identical. */
static int pct_decode(const char *s, size_t n, char **out)
{
    char *d = malloc(n + 1);
    size_t j = 0;

    if (!d)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0') { /* a raw NUL would cut the value short: refuse it like %00 */
            free(d);
            return -EINVAL;
        }
        if (s[i] != '%') {
            d[j++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? pg_hex_val((unsigned char)s[i + 1]) : -1;
        int lo = i + 2 < n ? pg_hex_val((unsigned char)s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(d);
            return -EINVAL;
        }
        d[j++] = (char)(hi << 4 | lo);
        i += 2;
    }
    d[j] = '\0';
    *out = d;
    return 0;
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Bytewise order of the ASCII-lower-cased keys: the order of the canonical query. */
static int key_cmp(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;

    while (*x && lower(*x) == lower(*y)) {
        x++;
        y++;
    }
    return (int)lower(*x) - (int)lower(*y);
}

static int kv_ptr_cmp(const void *a, const void *b)
{
    const struct pg_rest_kv *const *x = a, *const *y = b;
    return key_cmp((*x)->key, (*y)->key);
}

/* Returns a malloc'd array of pointers into q->kv sorted by key_cmp, or NULL (n == 0 or OOM). */
static const struct pg_rest_kv **sorted_kv(const struct pg_rest_query *q)
{
    const struct pg_rest_kv **v;

    if (q->n == 0)
        return NULL;
    v = malloc(q->n * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < q->n; i++)
        v[i] = &q->kv[i];
    qsort(v, q->n, sizeof *v, kv_ptr_cmp);
    return v;
}

static int parse_item(struct pg_rest_kv *kv, const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n);
    size_t klen = eq ? (size_t)(eq - s) : n;
    int rc;

    if (klen == 0)
        return -EINVAL;
    rc = pct_decode(s, klen, &kv->key);
    if (rc < 0)
        return rc;
    if (eq)
        rc = pct_decode(eq + 1, n - klen - 1, &kv->val);
    else
        rc = pct_decode("", 0, &kv->val);
    if (rc < 0) {
        free(kv->key);
        kv->key = NULL;
        return rc;
    }
    return 0;
}

int pg_rest_query_parse(struct pg_rest_query *q, const char *raw, size_t len)
{
    const struct pg_rest_kv **v;
    size_t items = 1;
    int rc = 0;

    memset(q, 0, sizeof *q);
    if (!raw || len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        items += raw[i] == '&';
    q->kv = calloc(items, sizeof *q->kv);
    if (!q->kv)
        return -ENOMEM;

    for (size_t start = 0; start <= len;) {
        const char *amp = memchr(raw + start, '&', len - start);
        size_t end = amp ? (size_t)(amp - raw) : len;
        if (end > start) {
            rc = parse_item(&q->kv[q->n], raw + start, end - start);
            if (q->kv[q->n].key)
                q->n++; /* owned by q from here, so dispose frees it on failure */
            if (rc < 0)
                goto fail;
        }
        start = end + 1;
    }

    if (q->n > 1) {
        v = sorted_kv(q);
        if (!v) {
            rc = -ENOMEM;
            goto fail;
        }
        for (size_t i = 1; i < q->n && rc == 0; i++)
            if (key_cmp(v[i - 1]->key, v[i]->key) == 0)
                rc = -EINVAL;
        free(v);
        if (rc < 0)
            goto fail;
    }
    return 0;

fail:
    pg_rest_query_dispose(q);
    return rc;
}

const char *pg_rest_query_get(const struct pg_rest_query *q, const char *key)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->kv[i].key, key) == 0)
            return q->kv[i].val;
    return NULL;
}

void pg_rest_query_dispose(struct pg_rest_query *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->kv[i].key);
        free(q->kv[i].val);
    }
    free(q->kv);
    memset(q, 0, sizeof *q);
}

int pg_rest_query_canon(const struct pg_rest_query *q, char *out, size_t outlen)
{
    const struct pg_rest_kv **v = sorted_kv(q);
    size_t pos = 0;
    int rc = 0;

    if (q->n > 0 && !v)
        return -ENOMEM;
    if (outlen == 0) {
        free(v);
        return -ENOBUFS;
    }
    for (size_t i = 0; i < q->n; i++) {
        if (key_cmp(v[i]->key, "auth_signature") == 0)
            continue;
        size_t kl = strlen(v[i]->key), vl = strlen(v[i]->val);
        size_t need = (pos > 0) + kl + 1 + vl;
        if (need >= outlen - pos) {
            rc = -ENOBUFS;
            break;
        }
        if (pos > 0)
            out[pos++] = '&';
        for (size_t k = 0; k < kl; k++)
            out[pos++] = (char)lower((unsigned char)v[i]->key[k]);
        out[pos++] = '=';
        memcpy(out + pos, v[i]->val, vl);
        pos += vl;
    }
    free(v);
    if (rc < 0 || pos > INT_MAX) {
        out[0] = '\0';
        return -ENOBUFS;
    }
    out[pos] = '\0';
    return (int)pos;
}

/* ---- signing ---- */

/* Upper-cases method into out; returns its length or -EINVAL. */
static int method_upper(const char *method, char out[PG_REST_METHOD_MAX + 1])
{
    size_t n;

    if (!method)
        return -EINVAL;
    n = strlen(method);
    if (n > PG_REST_METHOD_MAX)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)method[i];
        out[i] = (char)(c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c);
    }
    out[n] = '\0';
    return (int)n;
}

int pg_rest_sign(const char *secret, size_t slen, const char *method, const char *path, size_t plen,
                 const char *canon_query, size_t qlen, char out_hex[65])
{
    char m[PG_REST_METHOD_MAX + 1];
    struct pg_hmac h;
    int mlen = method_upper(method, m);

    if (mlen < 0) {
        out_hex[0] = '\0';
        return mlen;
    }
    pg_hmac_init(&h, secret, slen);
    pg_hmac_update(&h, m, (size_t)mlen);
    pg_hmac_update(&h, "\n", 1);
    pg_hmac_update(&h, path, plen);
    pg_hmac_update(&h, "\n", 1);
    pg_hmac_update(&h, canon_query, qlen);
    pg_hmac_final_hex(&h, out_hex);
    return 0;
}

/* ---- verification ---- */

/* A truncating writer for the caller's err buffer. */
struct errw {
    char *p;
    size_t cap, len;
};

static void errw_put(struct errw *w, const char *s, size_t n)
{
    if (!w->p || w->cap == 0)
        return;
    size_t room = w->cap - 1 - w->len;
    if (n > room)
        n = room;
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
}

static void errw_puts(struct errw *w, const char *s) { errw_put(w, s, strlen(s)); }

/* Appends s with "\n" written as backslash-n and other control bytes as \xNN, so the text stays
 * on one line in a response body or a log. */
static void errw_escaped(struct errw *w, const char *s, size_t n)
{
    char tmp[5];

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            errw_put(w, "\\n", 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(tmp, sizeof tmp, "\\x%02x", c);
            errw_put(w, tmp, 4);
        } else {
            errw_put(w, s + i, 1);
        }
    }
}

static void errw_printf(struct errw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void errw_printf(struct errw *w, const char *fmt, ...)
{
    va_list ap;

    if (!w->p || w->cap == 0)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(w->p + w->len, w->cap - w->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        w->len += (size_t)n < w->cap - w->len ? (size_t)n : w->cap - w->len - 1;
}

/* Parses 1..18 ASCII digits (no sign, no spaces). */
static int parse_ts(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    int64_t v = 0;

    if (n == 0 || n > 18)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int check_body_md5(const struct pg_rest_query *q, const void *body, size_t blen,
                          struct errw *w)
{
    const char *given = pg_rest_query_get(q, "body_md5");
    char want[33];

    if (blen == 0) {
        if (given && !pg_ct_hex_eq(given, strlen(given), PG_REST_EMPTY_MD5, 32)) {
            errw_puts(w, "Invalid body_md5: the body is empty, expected " PG_REST_EMPTY_MD5);
            return PG_AUTH_BAD_MD5;
        }
        return PG_AUTH_OK;
    }
    if (!given) {
        errw_puts(w, "Missing body_md5: required when the request has a body");
        return PG_AUTH_BAD_MD5;
    }
    pg_md5_hex(body, blen, want);
    if (!pg_ct_hex_eq(given, strlen(given), want, strlen(want))) {
        errw_puts(w, "Invalid body_md5: the MD5 hex digest of the body is ");
        errw_puts(w, want);
        return PG_AUTH_BAD_MD5;
    }
    return PG_AUTH_OK;
}

static int check_signature(const struct pg_rest_query *q, const char *method, const char *path,
                           size_t plen, const char *secret, size_t slen, struct errw *w)
{
    const char *given = pg_rest_query_get(q, "auth_signature");
    char m[PG_REST_METHOD_MAX + 1], want[65];
    size_t cap = 1;
    char *canon;
    int clen, mlen, ok;

    mlen = method_upper(method, m);
    if (mlen < 0) {
        errw_puts(w, "Invalid signature: unsupported method");
        return PG_AUTH_BAD_SIG;
    }
    for (size_t i = 0; i < q->n; i++)
        cap += strlen(q->kv[i].key) + strlen(q->kv[i].val) + 2;
    canon = malloc(cap);
    if (!canon)
        return -ENOMEM;
    clen = pg_rest_query_canon(q, canon, cap);
    if (clen < 0) {
        free(canon);
        return clen == -ENOMEM ? -ENOMEM : PG_AUTH_MALFORMED;
    }

    pg_rest_sign(secret, slen, m, path, plen, canon, (size_t)clen, want);
    ok = pg_ct_hex_eq(given, strlen(given), want, 64);
    sodium_memzero(want, sizeof want);
    if (!ok) {
        errw_puts(w, "Invalid signature: you should have sent HmacSHA256Hex(\"");
        errw_escaped(w, m, (size_t)mlen);
        errw_escaped(w, "\n", 1);
        errw_escaped(w, path, plen);
        errw_escaped(w, "\n", 1);
        errw_escaped(w, canon, (size_t)clen);
        errw_puts(w, "\", your_secret_key), but you sent \"");
        errw_escaped(w, given, strlen(given));
        errw_puts(w, "\"");
    }
    free(canon);
    return ok ? PG_AUTH_OK : PG_AUTH_BAD_SIG;
}

int pg_rest_verify(const char *method, const char *path, size_t plen, const char *raw_query,
                   size_t qlen, const void *body, size_t blen, const char *app_key,
                   const char *secret, size_t slen, int64_t now, char *err, size_t errlen)
{
    static const char *const required[] = {"auth_key", "auth_timestamp", "auth_version",
                                           "auth_signature"};
    struct errw w = {err, errlen, 0};
    struct pg_rest_query q;
    const char *key, *ver, *ts_s;
    int64_t ts, diff;
    int rc;

    if (err && errlen > 0)
        err[0] = '\0';
    rc = pg_rest_query_parse(&q, raw_query, qlen);
    if (rc == -ENOMEM)
        return -ENOMEM;
    if (rc < 0) {
        errw_puts(&w, "Malformed query string");
        return PG_AUTH_MALFORMED;
    }

    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        if (!pg_rest_query_get(&q, required[i])) {
            errw_printf(&w, "Missing auth parameter: %s", required[i]);
            rc = PG_AUTH_MISSING;
            goto out;
        }
    }

    key = pg_rest_query_get(&q, "auth_key");
    if (!app_key || strcmp(key, app_key) != 0) {
        errw_puts(&w, "Invalid auth_key");
        rc = PG_AUTH_BAD_KEY;
        goto out;
    }

    ver = pg_rest_query_get(&q, "auth_version");
    if (strcmp(ver, "1.0") != 0) {
        errw_puts(&w, "Unsupported auth_version: must be 1.0");
        rc = PG_AUTH_BAD_VERSION;
        goto out;
    }

    ts_s = pg_rest_query_get(&q, "auth_timestamp");
    if (parse_ts(ts_s, &ts) < 0) {
        errw_puts(&w, "Invalid auth_timestamp: must be an integer number of seconds");
        rc = PG_AUTH_EXPIRED;
        goto out;
    }
    if (__builtin_sub_overflow(now, ts, &diff) || diff > PG_REST_TS_WINDOW ||
        diff < -PG_REST_TS_WINDOW) {
        errw_printf(&w,
                    "Timestamp expired: Given timestamp (%" PRId64
                    ") not within %ds of server time (%" PRId64 ")",
                    ts, PG_REST_TS_WINDOW, now);
        rc = PG_AUTH_EXPIRED;
        goto out;
    }

    rc = check_body_md5(&q, body, blen, &w);
    if (rc != PG_AUTH_OK)
        goto out;
    rc = check_signature(&q, method, path, plen, secret, slen, &w);

out:
    pg_rest_query_dispose(&q);
    return rc;
}
