/* pg_redis_url.c - redis:// URL parsing (see the header). Thread: any (pure). */
#include "pg_hex.h"
#include "pg_redis_url.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DB_MAX 1000000

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* Percent-decodes n bytes of s into out (cap bytes, NUL-terminated). Refuses NUL and control
 * bytes, which AUTH could not carry intact in an inline command. */
static bool decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (n - i < 3)
                return false;
            int hi = pg_hex_val(s[i + 1]), lo = pg_hex_val(s[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = hi << 4 | lo;
            i += 2;
        }
        if (c < 0x20 || c == 0x7f || o + 1 >= cap)
            return false;
        out[o++] = (char)c;
    }
    out[o] = 0;
    return true;
}

/* Parses n digits of s as a number in [lo, hi]. */
static bool number(const char *s, size_t n, long lo, long hi, int *out)
{
    long v = 0;
    if (n == 0 || n > 7)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static bool host_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return false;
    }
    return true;
}

static bool host6_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (pg_hex_val(s[i]) < 0 && s[i] != ':' && s[i] != '.')
            return false;
    return true;
}

int pg_redis_url_parse(struct pg_redis_url *u, const char *s, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (!s)
        return fail(err, errlen, "no URL");
    if (!strncasecmp(s, "rediss://", 9))
        return fail(err, errlen, "rediss:// (TLS) is not supported: hiredis 0.14 has no TLS");
    if (strncasecmp(s, "redis://", 8) != 0)
        return fail(err, errlen, "the URL must start with redis://");
    const char *p = s + 8, *end = p + strlen(p);
    for (const char *q = p; q < end; q++)
        if ((unsigned char)*q <= 0x20 || *q == 0x7f)
            return fail(err, errlen, "spaces and control characters are not allowed");
    if (memchr(p, '?', (size_t)(end - p)) || memchr(p, '#', (size_t)(end - p)))
        return fail(err, errlen, "query strings and fragments are not supported");

    /* userinfo: up to the last '@' (a password may hold an unencoded '@'). */
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            return fail(err, errlen, "credentials must be :password@ or user:password@");
        if (!decode(p, (size_t)(colon - p), u->user, sizeof u->user))
            return fail(err, errlen, "bad user name (too long or bad %%-escape)");
        if (!decode(colon + 1, (size_t)(at - colon - 1), u->password, sizeof u->password)) {
            pg_redis_url_dispose(u);
            return fail(err, errlen, "bad password (too long or bad %%-escape)");
        }
        if (!u->password[0]) {
            pg_redis_url_dispose(u);
            return fail(err, errlen, "empty password");
        }
        p = at + 1;
    }

    /* host[:port] up to the first '/'. */
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *hend = slash ? slash : end, *pstart = NULL;
    const char *h = p;
    size_t hn;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(hend - p));
        if (!rb || !host6_ok(p + 1, (size_t)(rb - p - 1)))
            goto bad_host;
        h = p + 1;
        hn = (size_t)(rb - p - 1);
        if (rb + 1 < hend) {
            if (rb[1] != ':')
                goto bad_host;
            pstart = rb + 2;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(hend - p));
        hn = (size_t)((colon ? colon : hend) - p);
        if (!host_ok(p, hn))
            goto bad_host;
        if (colon)
            pstart = colon + 1;
    }
    if (hn >= sizeof u->host)
        goto bad_host;
    memcpy(u->host, h, hn);
    u->host[hn] = 0;
    if (pstart && !number(pstart, (size_t)(hend - pstart), 1, 65535, &u->port)) {
        pg_redis_url_dispose(u);
        return fail(err, errlen, "the port must be a number from 1 to 65535");
    }
    if (slash && slash + 1 < end &&
        !number(slash + 1, (size_t)(end - slash - 1), 0, DB_MAX, &u->db)) {
        pg_redis_url_dispose(u);
        return fail(err, errlen, "the database must be a number from 0 to %d", DB_MAX);
    }
    return 0;

bad_host:
    pg_redis_url_dispose(u);
    return fail(err, errlen, "expected a host name, an IPv4 address or [IPv6] after redis://");
}

void pg_redis_url_dispose(struct pg_redis_url *u)
{
    explicit_bzero(u->password, sizeof u->password);
    explicit_bzero(u->user, sizeof u->user);
}
