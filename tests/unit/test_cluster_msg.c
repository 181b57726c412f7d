/* test_cluster_msg.c - node-to-node messages (pg_cluster_msg) and redis_url parsing
 * (pg_redis_url): round trips, exact bytes, binary-safe fields and strict refusal of malformed,
 * truncated, foreign-version and oversized input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg_cluster_msg.h"
#include "pg_redis_url.h"

static struct pg_cluster_msg event(const char *app, const char *except, const char *ch,
                                   const char *frame)
{
    struct pg_cluster_msg m = {
        .origin = UINT64_C(0x0123456789abcdef),
        .kind = PG_CLUSTER_EVENT,
        .app = app,
        .alen = strlen(app),
        .except = except,
        .elen = except ? strlen(except) : 0,
        .channel = ch,
        .clen = strlen(ch),
        .frame = frame,
        .flen = strlen(frame),
    };
    return m;
}

/* Encodes m into a fresh buffer (caller frees); asserts success and the announced size. */
static char *encode(const struct pg_cluster_msg *m, size_t *len)
{
    size_t cap = pg_cluster_msg_size(m);
    char *buf = malloc(cap ? cap : 1);
    assert_non_null(buf);
    assert_int_equal(pg_cluster_msg_encode(m, buf, cap, len), 0);
    assert_int_equal(*len, cap);
    return buf;
}

static void expect_same(const struct pg_cluster_msg *a, const struct pg_cluster_msg *b)
{
    assert_true(a->origin == b->origin);
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->alen, b->alen);
    assert_memory_equal(a->app, b->app, a->alen);
    assert_int_equal(a->elen, b->elen);
    if (a->elen)
        assert_memory_equal(a->except, b->except, a->elen);
    assert_int_equal(a->clen, b->clen);
    if (a->clen)
        assert_memory_equal(a->channel, b->channel, a->clen);
    assert_int_equal(a->flen, b->flen);
    if (a->flen)
        assert_memory_equal(a->frame, b->frame, a->flen);
}

static int decode_str(struct pg_cluster_msg *m, const char *s)
{
    return pg_cluster_msg_decode(m, s, strlen(s));
}

/* ---- exact bytes and round trips ---------------------------------------------------------- */

static void test_exact_bytes(void **state)
{
    (void)state;
    const char *frame = "{\"event\":\"e\",\"channel\":\"ch\",\"data\":\"x\"}";
    struct pg_cluster_msg m = event("app-1", "123.456", "ch", frame), d;
    size_t len;
    char *buf = encode(&m, &len);
    const char *want_head = "PG1 0123456789abcdef EVENT 5 7 2\napp-1123.456ch";
    assert_memory_equal(buf, want_head, strlen(want_head));
    assert_memory_equal(buf + strlen(want_head), frame, strlen(frame));
    assert_int_equal(len, strlen(want_head) + strlen(frame));
    assert_int_equal(pg_cluster_msg_decode(&d, buf, len), 0);
    expect_same(&m, &d);
    /* The frame is borrowed from the input, never copied or re-serialized. */
    assert_ptr_equal(d.frame, buf + strlen(want_head));
    free(buf);
}

static void test_terminate(void **state)
{
    (void)state;
    struct pg_cluster_msg m = {.origin = 1,
                               .kind = PG_CLUSTER_TERMINATE,
                               .app = "42",
                               .alen = 2,
                               .channel = "#server-to-user-u1",
                               .clen = 18},
                          d;
    size_t len;
    char *buf = encode(&m, &len);
    const char *want = "PG1 0000000000000001 TERMINATE 2 0 18\n42#server-to-user-u1";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(buf, want, len);
    assert_int_equal(pg_cluster_msg_decode(&d, buf, len), 0);
    expect_same(&m, &d);
    assert_null(d.except);
    free(buf);
}

static void test_announce(void **state)
{
    (void)state;
    struct pg_cluster_msg m = event("a", "1.2", "presence-x", "{}"), d;
    m.kind = PG_CLUSTER_ANNOUNCE;
    size_t len;
    char *buf = encode(&m, &len);
    const char *want = "PG1 0123456789abcdef ANNOUNCE 1 3 10\na1.2presence-x{}";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(buf, want, len);
    assert_int_equal(pg_cluster_msg_decode(&d, buf, len), 0);
    expect_same(&m, &d);
    free(buf);
    m.flen = 0; /* an ANNOUNCE carries a frame, as an EVENT */
    char out[256];
    assert_int_equal(pg_cluster_msg_encode(&m, out, sizeof out, &len), -EINVAL);
}

static void test_resync(void **state)
{
    (void)state;
    struct pg_cluster_msg m = {.origin = 2, .kind = PG_CLUSTER_RESYNC, .app = "app-id", .alen = 6},
                          d;
    size_t len;
    char *buf = encode(&m, &len);
    const char *want = "PG1 0000000000000002 RESYNC 6 0 0\napp-id";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(buf, want, len);
    assert_int_equal(pg_cluster_msg_decode(&d, buf, len), 0);
    expect_same(&m, &d);
    free(buf);
    /* RESYNC carries nothing but the app */
    static const char *const bad[] = {
        "PG1 0000000000000002 RESYNC 6 0 1\napp-idx",
        "PG1 0000000000000002 RESYNC 6 1 0\napp-idx",
        "PG1 0000000000000002 RESYNC 6 0 0\napp-id{}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(pg_cluster_msg_decode(&d, bad[i], strlen(bad[i])), -EINVAL);
    m.clen = 1;
    m.channel = "x";
    size_t n;
    char out[128];
    assert_int_equal(pg_cluster_msg_encode(&m, out, sizeof out, &n), -EINVAL);
}

static void test_no_except_and_max_origin(void **state)
{
    (void)state;
    struct pg_cluster_msg m = event("a", NULL, "private-x", "{}"), d;
    m.origin = UINT64_MAX;
    size_t len;
    char *buf = encode(&m, &len);
    assert_memory_equal(buf, "PG1 ffffffffffffffff EVENT 1 0 9\n", 33);
    assert_int_equal(pg_cluster_msg_decode(&d, buf, len), 0);
    expect_same(&m, &d);
    assert_null(d.except);
    free(buf);
}

static void test_empty_channel(void **state)
{
    (void)state;
    struct pg_cluster_msg m = event("app", NULL, "", "F"), d;
    size_t len;
    char *buf = encode(&m, &len);
    assert_int_equal(pg_cluster_msg_decode(&d, buf, len), 0);
    expect_same(&m, &d);
    assert_int_equal(d.clen, 0);
    free(buf);
}

/* App ids and channels with separators, newlines, NUL and high bytes; a frame with all 256
 * byte values: each comes back exactly. */
static void test_binary_safe(void **state)
{
    (void)state;
    static const char app[] = "a p\n\0p\xff";
    static const char ch[] = " \n3 4 5\n\0PG1 ";
    char frame[512];
    for (int i = 0; i < 512; i++)
        frame[i] = (char)(i & 0xff);
    struct pg_cluster_msg m = {.origin = 77,
                               .kind = PG_CLUSTER_EVENT,
                               .app = app,
                               .alen = sizeof app - 1,
                               .except = "9.9",
                               .elen = 3,
                               .channel = ch,
                               .clen = sizeof ch - 1,
                               .frame = frame,
                               .flen = sizeof frame},
                          d;
    size_t len;
    char *buf = encode(&m, &len);
    assert_int_equal(pg_cluster_msg_decode(&d, buf, len), 0);
    expect_same(&m, &d);
    free(buf);
}

/* ---- encoder refusals --------------------------------------------------------------------- */

static void test_encode_refuses(void **state)
{
    (void)state;
    char buf[256];
    size_t len;
    struct pg_cluster_msg m = event("app", "1.2", "ch", "{}");
    assert_int_equal(pg_cluster_msg_encode(&m, buf, pg_cluster_msg_size(&m) - 1, &len), -ENOBUFS);

    struct pg_cluster_msg x = m;
    x.alen = 0;
    assert_int_equal(pg_cluster_msg_encode(&x, buf, sizeof buf, &len), -EINVAL);
    x = m;
    x.alen = PG_CLUSTER_APP_MAX + 1;
    assert_int_equal(pg_cluster_msg_encode(&x, buf, sizeof buf, &len), -EINVAL);
    x = m;
    x.flen = 0; /* an EVENT needs a frame */
    assert_int_equal(pg_cluster_msg_encode(&x, buf, sizeof buf, &len), -EINVAL);
    x = m;
    x.except = "1 2"; /* socket ids are printable, no spaces */
    assert_int_equal(pg_cluster_msg_encode(&x, buf, sizeof buf, &len), -EINVAL);
    x = m;
    x.except = "0123456789012345678901234567890123456789012345678"; /* 49 > 47 */
    x.elen = strlen(x.except);
    assert_int_equal(pg_cluster_msg_encode(&x, buf, sizeof buf, &len), -EINVAL);
    x = m;
    x.clen = PG_CLUSTER_CHANNEL_MAX + 1;
    assert_int_equal(pg_cluster_msg_encode(&x, buf, sizeof buf, &len), -EINVAL);
    x = m;
    x.kind = PG_CLUSTER_TERMINATE; /* TERMINATE carries neither except nor frame */
    assert_int_equal(pg_cluster_msg_encode(&x, buf, sizeof buf, &len), -EINVAL);
    x.elen = 0;
    assert_int_equal(pg_cluster_msg_encode(&x, buf, sizeof buf, &len), -EINVAL);
    x.flen = 0;
    assert_int_equal(pg_cluster_msg_encode(&x, buf, sizeof buf, &len), 0);
    x = m;
    x.kind = (enum pg_cluster_kind)9;
    assert_int_equal(pg_cluster_msg_encode(&x, buf, sizeof buf, &len), -EINVAL);
}

/* ---- decoder refusals --------------------------------------------------------------------- */

static void test_truncated(void **state)
{
    (void)state;
    struct pg_cluster_msg m = event("app", "1.2", "channel", "{\"event\":\"x\"}"), d;
    size_t len;
    char *buf = encode(&m, &len);
    size_t body = (size_t)((char *)memchr(buf, '\n', len) - buf) + 1;
    /* Every prefix that cuts into the header or the app/except/channel fields is refused; one
     * that cuts into the frame leaves a shorter frame, which is all a receiver can know. The
     * frame is never empty, so the cut right after the channel is refused too. */
    for (size_t n = 0; n <= body + 3 + 3 + 7; n++)
        assert_int_equal(pg_cluster_msg_decode(&d, buf, n), -EINVAL);
    assert_int_equal(pg_cluster_msg_decode(&d, buf, body + 3 + 3 + 7 + 1), 0);
    assert_int_equal(d.flen, 1);
    free(buf);
    assert_int_equal(pg_cluster_msg_decode(&d, NULL, 0), -EINVAL);
}

static void test_wrong_version(void **state)
{
    (void)state;
    struct pg_cluster_msg d;
    assert_int_equal(decode_str(&d, "PG2 0123456789abcdef EVENT 1 0 1\naxF"), -EPROTONOSUPPORT);
    assert_int_equal(decode_str(&d, "PG10 0123456789abcdef EVENT 1 0 1\naxF"), -EPROTONOSUPPORT);
    assert_int_equal(decode_str(&d, "PG 0123456789abcdef EVENT 1 0 1\naxF"), -EINVAL);
    assert_int_equal(decode_str(&d, "pg1 0123456789abcdef EVENT 1 0 1\naxF"), -EINVAL);
    assert_int_equal(decode_str(&d, "XG1 0123456789abcdef EVENT 1 0 1\naxF"), -EINVAL);
    assert_int_equal(decode_str(&d, "PG1 0123456789abcdef EVENT 1 0 1\naxF"), 0);
}

static void test_bad_header(void **state)
{
    (void)state;
    struct pg_cluster_msg d;
    static const char *const bad[] = {
        "PG1 0123456789abcdef BOGUS 1 0 1\naxF",     /* unknown kind */
        "PG1 0123456789abcdef event 1 0 1\naxF",     /* kinds are upper case */
        "PG1 0123456789abcdef EVENTS 1 0 1\naxF",    /* a kind's prefix is not enough */
        "PG1 0123456789ABCDEF EVENT 1 0 1\naxF",     /* origin: lower-case hex */
        "PG1 0123456789abcde EVENT 1 0 1\naxF",      /* origin: 15 digits */
        "PG1 0123456789abcdef0 EVENT 1 0 1\naxF",    /* origin: 17 digits */
        "PG1 0123456789abcdeg EVENT 1 0 1\naxF",     /* origin: not hex */
        "PG1  0123456789abcdef EVENT 1 0 1\naxF",    /* two spaces */
        "PG1 0123456789abcdef EVENT 1  0 1\naxF",    /* two spaces */
        "PG1 0123456789abcdef EVENT 1 0 1 \naxF",    /* trailing space */
        "PG1 0123456789abcdef EVENT 1 0\naxF",       /* a length missing */
        "PG1 0123456789abcdef EVENT 1 0 1 1\naxF",   /* a length too many */
        "PG1 0123456789abcdef EVENT 01 0 1\naxF",    /* leading zero */
        "PG1 0123456789abcdef EVENT +1 0 1\naxF",    /* sign */
        "PG1 0123456789abcdef EVENT -1 0 1\naxF",    /* sign */
        "PG1 0123456789abcdef EVENT 0 0 1\nxF",      /* empty app id */
        "PG1 0123456789abcdef EVENT 1 0 1\r\naxF",   /* CR in the header */
        "PG1 0123456789abcdef EVENT 1 0 1\nax",      /* EVENT without a frame */
        "PG1 0123456789abcdef EVENT 1 3 1\na1 2xF",  /* except with a space */
        "PG1 0123456789abcdef EVENT 1 1 1\na\nxF",   /* except with a control byte */
        "PG1 0123456789abcdef TERMINATE 1 1 1\na1x", /* TERMINATE with an except */
        "PG1 0123456789abcdef TERMINATE 1 0 1\naxF", /* TERMINATE with a frame */
        "PG1 0123456789abcdef EVENT 1 0 1",          /* no header end */
        "PG1 0123456789abcdef EVENT 1 0 1\xff\naxF", /* junk before the newline */
        "PG1 0123456789abcdef\nEVENT 1 0 1\naxF",    /* early newline */
        "",                                          /* nothing */
        "PG1 ",                                      /* magic only */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (decode_str(&d, bad[i]) != -EINVAL)
            fail_msg("accepted bad message #%zu: %s", i, bad[i]);
}

static void test_huge_lengths(void **state)
{
    (void)state;
    struct pg_cluster_msg d;
    /* Past the input: refused without reading beyond it. */
    assert_int_equal(decode_str(&d, "PG1 0123456789abcdef EVENT 9999999 0 1\naxF"), -EINVAL);
    assert_int_equal(decode_str(&d, "PG1 0123456789abcdef EVENT 1 0 9999999\naxF"), -EINVAL);
    assert_int_equal(decode_str(&d, "PG1 0123456789abcdef EVENT 1 9999999 1\naxF"), -EINVAL);
    /* More than 7 digits, or a number that would overflow: refused before any arithmetic. */
    assert_int_equal(decode_str(&d, "PG1 0123456789abcdef EVENT 10000000 0 1\naxF"), -EINVAL);
    assert_int_equal(decode_str(&d, "PG1 0123456789abcdef EVENT 1 0 18446744073709551617\naxF"),
                     -EINVAL);
    /* Over a field limit while the input is long enough. */
    size_t n = 64 + PG_CLUSTER_APP_MAX + 2;
    char *buf = malloc(n);
    assert_non_null(buf);
    int hn = snprintf(buf, n, "PG1 0123456789abcdef EVENT %d 0 0\n", PG_CLUSTER_APP_MAX + 1);
    memset(buf + hn, 'a', n - (size_t)hn);
    assert_int_equal(pg_cluster_msg_decode(&d, buf, n), -EINVAL);
    hn = snprintf(buf, n, "PG1 0123456789abcdef EVENT %d 0 0\n", PG_CLUSTER_APP_MAX);
    memset(buf + hn, 'a', n - (size_t)hn);
    assert_int_equal(pg_cluster_msg_decode(&d, buf, n), 0);
    assert_int_equal(d.alen, PG_CLUSTER_APP_MAX);
    free(buf);
}

/* A cheap deterministic fuzz: random mutations of a valid message never crash, and whatever
 * decodes re-encodes to exactly the same bytes (one message, one encoding). */
static void test_mutations(void **state)
{
    (void)state;
    struct pg_cluster_msg m = event("app", "1.2", "presence-x", "{\"a\":1}"), d;
    size_t len, len2;
    char *buf = encode(&m, &len);
    char *mut = malloc(len), *re = malloc(len + 64);
    assert_non_null(mut);
    assert_non_null(re);
    uint32_t seed = 12345;
    for (int round = 0; round < 20000; round++) {
        memcpy(mut, buf, len);
        for (int k = 0; k < 1 + round % 3; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            mut[at] = (char)(seed >> 16);
        }
        seed = seed * 1103515245u + 12345u;
        size_t n = round % 4 == 0 ? (seed >> 8) % (len + 1) : len;
        if (pg_cluster_msg_decode(&d, mut, n) == 0) {
            assert_true(pg_cluster_msg_size(&d) == n);
            assert_int_equal(pg_cluster_msg_encode(&d, re, len + 64, &len2), 0);
            assert_int_equal(len2, n);
            assert_memory_equal(re, mut, n);
        }
    }
    free(buf);
    free(mut);
    free(re);
}

/* ---- redis_url ---------------------------------------------------------------------------- */

static void test_url_ok(void **state)
{
    (void)state;
    struct pg_redis_url u;
    char err[200];
    assert_int_equal(pg_redis_url_parse(&u, "redis://localhost", err, sizeof err), 0);
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_string_equal(u.password, "");
    assert_string_equal(u.user, "");

    assert_int_equal(pg_redis_url_parse(&u, "redis://:s3cr%40t@10.0.0.5:6380/3", err, sizeof err),
                     0);
    assert_string_equal(u.host, "10.0.0.5");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 3);
    assert_string_equal(u.password, "s3cr@t");
    assert_string_equal(u.user, "");

    assert_int_equal(pg_redis_url_parse(&u, "REDIS://app:p@ss:w@redis.internal/", err, sizeof err),
                     0);
    assert_string_equal(u.host, "redis.internal");
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "p@ss:w");
    assert_int_equal(u.db, 0);

    assert_int_equal(pg_redis_url_parse(&u, "redis://[::1]:7000", err, sizeof err), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    assert_int_equal(pg_redis_url_parse(&u, "redis://[::1]", err, sizeof err), 0);
    assert_int_equal(u.port, 6379);
    pg_redis_url_dispose(&u);
}

static void test_url_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "localhost:6379",
        "http://localhost",
        "rediss://localhost",
        "unix:///tmp/redis.sock",
        "redis://",
        "redis://:6379",
        "redis://host:0",
        "redis://host:65536",
        "redis://host:port",
        "redis://host:",
        "redis://host/db",
        "redis://host/-1",
        "redis://host/1/2",
        "redis://host?db=1",
        "redis://ho st",
        "redis://host\n",
        "redis://pass@host", /* no ':' before the password */
        "redis://:@host",    /* empty password */
        "redis://:%zz@host", /* bad escape */
        "redis://:%4@host",  /* short escape */
        "redis://:%0a@host", /* control byte */
        "redis://[::1",      /* unclosed bracket */
        "redis://[::1]x",    /* junk after the bracket */
        "redis://[zz]:1",    /* not IPv6 */
        "redis://host:1234567",
    };
    struct pg_redis_url u;
    char err[200];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        if (pg_redis_url_parse(&u, bad[i], err, sizeof err) != -EINVAL)
            fail_msg("accepted bad URL #%zu: %s", i, bad[i]);
        assert_true(err[0] != 0);
        assert_string_equal(u.password, "");
    }
    /* The reason never repeats the URL (it may hold a password). */
    pg_redis_url_parse(&u, "redis://:hunter2@host:99999", err, sizeof err);
    assert_null(strstr(err, "hunter2"));
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_terminate),
        cmocka_unit_test(test_resync),
        cmocka_unit_test(test_announce),
        cmocka_unit_test(test_no_except_and_max_origin),
        cmocka_unit_test(test_empty_channel),
        cmocka_unit_test(test_binary_safe),
        cmocka_unit_test(test_encode_refuses),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_wrong_version),
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_huge_lengths),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_url_ok),
        cmocka_unit_test(test_url_bad),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
