/* test_auth.c - auth/: socket ids, channel and user signatures (spec 6.1), REST request signing
 * and verification (spec 9.2), webhook signatures (spec 10.1).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "pg_auth.h"
#include "pg_chan_auth.h"
#include "pg_hook_sign.h"
#include "pg_md5.h"
#include "pg_rest_sign.h"
#include "pg_socket_id.h"
#include "pg_user_auth.h"

#define KEY "278d425bdf160c739803"
#define SECRET "7ad3773142a6692b25b8"
#define SID "1234.1234"
#define S(lit) lit, (sizeof lit - 1)

#define PRIV_SIG "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
#define CD_CHANNELS "{\"user_id\":10,\"user_info\":{\"name\":\"Mr. Channels\"}}"
#define CD_PUSHER "{\"user_id\":10,\"user_info\":{\"name\":\"Mr. Pusher\"}}"

#define TS 1353088179
#define DOCS_BODY                                                                                  \
    "{\"name\":\"foo\",\"channels\":[\"project-3\"],\"data\":\"{\\\"some\\\":\\\"data\\\"}\"}"
#define DOCS_MD5 "ec365a775a4cd0599faeb73354201b6f"
#define DOCS_SIG "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
#define DOCS_QUERY "auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0&body_md5=" DOCS_MD5

static int setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(pg_auth_strerror(PG_AUTH_OK), "ok");
    assert_string_equal(pg_auth_strerror(PG_AUTH_BAD_SIG), "invalid signature");
    assert_string_equal(pg_auth_strerror(PG_AUTH_EXPIRED), "timestamp expired");
    assert_string_equal(pg_auth_strerror(-ENOMEM), "out of memory");
    assert_string_equal(pg_auth_strerror(-99), "unknown auth error");
    for (int r = PG_AUTH_MALFORMED; r <= PG_AUTH_OK; r++)
        assert_string_not_equal(pg_auth_strerror(r), "unknown auth error");
}

static void test_socket_id_valid(void **state)
{
    (void)state;
    assert_int_equal(pg_socket_id_valid(S("1234.1234")), 1);
    assert_int_equal(pg_socket_id_valid(S("0.0")), 1);
    assert_int_equal(pg_socket_id_valid(S("12345678901234567890.12345678901234567890")), 1);
    assert_int_equal(pg_socket_id_valid(S("123456789012345678901.1")), 0); /* 21 digits */
    assert_int_equal(pg_socket_id_valid(S("1.123456789012345678901")), 0);
    assert_int_equal(pg_socket_id_valid(S("")), 0);
    assert_int_equal(pg_socket_id_valid(S("1234")), 0);
    assert_int_equal(pg_socket_id_valid(S("1234.")), 0);
    assert_int_equal(pg_socket_id_valid(S(".1234")), 0);
    assert_int_equal(pg_socket_id_valid(S("12.34.56")), 0);
    assert_int_equal(pg_socket_id_valid(S("12a.34")), 0);
    assert_int_equal(pg_socket_id_valid(S("12.34 ")), 0);
    assert_int_equal(pg_socket_id_valid(S("-1.2")), 0);
    assert_int_equal(pg_socket_id_valid(S("1.2:private-x")), 0);
    /* len bounds the check, not a NUL. */
    assert_int_equal(pg_socket_id_valid("1.2junk", 3), 1);
}

static void test_socket_id_format(void **state)
{
    (void)state;
    char out[32];

    assert_int_equal(pg_socket_id_format(out, sizeof out, 1234, 1234), 9);
    assert_string_equal(out, "1234.1234");
    assert_int_equal(pg_socket_id_valid(out, 9), 1);
    assert_int_equal(pg_socket_id_format(out, sizeof out, UINT32_MAX, UINT64_MAX), 31);
    assert_string_equal(out, "4294967295.18446744073709551615");
    assert_int_equal(pg_socket_id_valid(out, 31), 1);
    assert_int_equal(pg_socket_id_format(out, 9, 1234, 1234), -ENOBUFS);
    assert_string_equal(out, "");
}

static void test_chan_sign_vectors(void **state)
{
    (void)state;
    char hex[65];

    pg_chan_auth_sign(S(SECRET), S(SID), S("private-foobar"), NULL, 0, hex);
    assert_string_equal(hex, PRIV_SIG);
    pg_chan_auth_sign(S(SECRET), S(SID), S("presence-foobar"), S(CD_CHANNELS), hex);
    assert_string_equal(hex, "31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80");
    pg_chan_auth_sign(S(SECRET), S(SID), S("presence-foobar"), S(CD_PUSHER), hex);
    assert_string_equal(hex, "afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c");
    /* phn: channel data on a (private-encrypted) channel adds a third component. */
    pg_chan_auth_sign(S("tofu"), S("123.456"), S("private-encrypted-bla"), S("\"foo\""), hex);
    assert_string_equal(hex, "962c48b78bf93d98ff4c92ee7dff04865821455b7b401e9d60a9e0a90af2c105");
    /* Empty but present channel_data still adds the ':'. */
    pg_chan_auth_sign(S(SECRET), S(SID), S("private-foobar"), "", 0, hex);
    assert_string_not_equal(hex, PRIV_SIG);
}

static void test_chan_verify(void **state)
{
    (void)state;
    char exp[128];

    assert_int_equal(pg_chan_auth_verify(S(KEY), S(SECRET), S(SID), S("private-foobar"), NULL, 0,
                                         S(KEY ":" PRIV_SIG), exp, sizeof exp),
                     PG_AUTH_OK);
    assert_string_equal(exp, "1234.1234:private-foobar");

    assert_int_equal(pg_chan_auth_verify(
                         S(KEY), S(SECRET), S(SID), S("presence-foobar"), S(CD_CHANNELS),
                         S(KEY ":31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80"),
                         exp, sizeof exp),
                     PG_AUTH_OK);
    assert_string_equal(exp, "1234.1234:presence-foobar:" CD_CHANNELS);

    /* The stale docs example: Mr. Pusher's signature over Mr. Channels' data. */
    assert_int_equal(pg_chan_auth_verify(
                         S(KEY), S(SECRET), S(SID), S("presence-foobar"), S(CD_CHANNELS),
                         S(KEY ":afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c"),
                         NULL, 0),
                     PG_AUTH_BAD_SIG);

    assert_int_equal(
        pg_chan_auth_verify(S("f00d"), S("tofu"), S("123.456"), S("private-encrypted-bla"),
                            S("\"foo\""),
                            S("f00d:962C48B78BF93D98FF4C92EE7DFF04865821455B7B401E9D60A"
                              "9E0A90AF2C105"),
                            NULL, 0),
        PG_AUTH_OK);
}

static void test_chan_verify_failures(void **state)
{
    (void)state;
    char bad[] = KEY ":" PRIV_SIG;
    char exp[128], tiny[8];

    assert_int_equal(pg_chan_auth_verify(S(KEY), S(SECRET), S(SID), S("private-foobar"), NULL, 0,
                                         "", 0, exp, sizeof exp),
                     PG_AUTH_MISSING);
    assert_string_equal(exp, "1234.1234:private-foobar");
    assert_int_equal(pg_chan_auth_verify(S(KEY), S(SECRET), S(SID), S("private-foobar"), NULL, 0,
                                         NULL, 0, NULL, 0),
                     PG_AUTH_MISSING);
    assert_int_equal(pg_chan_auth_verify(S(KEY), S(SECRET), S(SID), S("private-foobar"), NULL, 0,
                                         S(PRIV_SIG), NULL, 0),
                     PG_AUTH_MALFORMED);
    assert_int_equal(pg_chan_auth_verify(S(KEY), S(SECRET), S(SID), S("private-foobar"), NULL, 0,
                                         S("wrongkey:" PRIV_SIG), NULL, 0),
                     PG_AUTH_BAD_KEY);
    assert_int_equal(pg_chan_auth_verify(S(KEY), S(SECRET), S(SID), S("private-foobar"), NULL, 0,
                                         S(":" PRIV_SIG), NULL, 0),
                     PG_AUTH_BAD_KEY);
    /* Flip one hex char. */
    bad[sizeof bad - 2] = bad[sizeof bad - 2] == '4' ? '5' : '4';
    assert_int_equal(pg_chan_auth_verify(S(KEY), S(SECRET), S(SID), S("private-foobar"), NULL, 0,
                                         bad, sizeof bad - 1, NULL, 0),
                     PG_AUTH_BAD_SIG);
    /* Truncated or extended signature. */
    assert_int_equal(pg_chan_auth_verify(S(KEY), S(SECRET), S(SID), S("private-foobar"), NULL, 0,
                                         S(KEY ":" PRIV_SIG) - 1, NULL, 0),
                     PG_AUTH_BAD_SIG);
    assert_int_equal(pg_chan_auth_verify(S(KEY), S(SECRET), S(SID), S("private-foobar"), NULL, 0,
                                         S(KEY ":" PRIV_SIG "0"), NULL, 0),
                     PG_AUTH_BAD_SIG);
    /* Right signature, other socket or channel. */
    assert_int_equal(pg_chan_auth_verify(S(KEY), S(SECRET), S("1234.1235"), S("private-foobar"),
                                         NULL, 0, S(KEY ":" PRIV_SIG), NULL, 0),
                     PG_AUTH_BAD_SIG);
    assert_int_equal(pg_chan_auth_verify(S(KEY), S(SECRET), S(SID), S("private-foobaz"), NULL, 0,
                                         S(KEY ":" PRIV_SIG), NULL, 0),
                     PG_AUTH_BAD_SIG);
    /* The expected string is truncated safely. */
    assert_int_equal(pg_chan_auth_verify(S(KEY), S(SECRET), S(SID), S("private-foobar"), NULL, 0,
                                         S(KEY ":" PRIV_SIG), tiny, sizeof tiny),
                     PG_AUTH_OK);
    assert_string_equal(tiny, "1234.12");
}

#define USER_DATA "{\"id\":\"12345\"}"
#define USER_SIG "4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba"

static void test_user_auth(void **state)
{
    (void)state;
    char hex[65];

    pg_user_auth_sign(S(SECRET), S(SID), S(USER_DATA), hex);
    assert_string_equal(hex, USER_SIG);

    assert_int_equal(
        pg_user_auth_verify(S(KEY), S(SECRET), S(SID), S(USER_DATA), S(KEY ":" USER_SIG)),
        PG_AUTH_OK);
    assert_int_equal(pg_user_auth_verify(S(KEY), S(SECRET), S(SID), S(USER_DATA), "", 0),
                     PG_AUTH_MISSING);
    assert_int_equal(pg_user_auth_verify(S(KEY), S(SECRET), S(SID), S(USER_DATA), S(USER_SIG)),
                     PG_AUTH_MALFORMED);
    assert_int_equal(
        pg_user_auth_verify(S(KEY), S(SECRET), S(SID), S(USER_DATA), S("f00d:" USER_SIG)),
        PG_AUTH_BAD_KEY);
    assert_int_equal(pg_user_auth_verify(S(KEY), S(SECRET), S(SID), S("{\"id\":\"12346\"}"),
                                         S(KEY ":" USER_SIG)),
                     PG_AUTH_BAD_SIG);
    /* A channel signature is not a user signature. */
    assert_int_equal(
        pg_user_auth_verify(S(KEY), S(SECRET), S(SID), S(USER_DATA), S(KEY ":" PRIV_SIG)),
        PG_AUTH_BAD_SIG);
}

/* ---- REST ---- */

static void test_query_parse(void **state)
{
    (void)state;
    struct pg_rest_query q;

    assert_int_equal(pg_rest_query_parse(&q, S("b=2&a=1&C=x%2Cy&d&e=&f=a=b+c")), 0);
    assert_int_equal(q.n, 6);
    assert_string_equal(q.kv[0].key, "b");
    assert_string_equal(q.kv[0].val, "2");
    assert_string_equal(pg_rest_query_get(&q, "a"), "1");
    assert_string_equal(pg_rest_query_get(&q, "C"), "x,y"); /* key case kept */
    assert_null(pg_rest_query_get(&q, "c"));
    assert_string_equal(pg_rest_query_get(&q, "d"), "");
    assert_string_equal(pg_rest_query_get(&q, "e"), "");
    assert_string_equal(pg_rest_query_get(&q, "f"), "a=b+c"); /* first '=' only; '+' kept */
    assert_null(pg_rest_query_get(&q, "g"));
    pg_rest_query_dispose(&q);
    assert_int_equal(q.n, 0);
    assert_null(q.kv);
    pg_rest_query_dispose(&q); /* zeroed: no-op */

    assert_int_equal(pg_rest_query_parse(&q, "", 0), 0);
    assert_int_equal(q.n, 0);
    pg_rest_query_dispose(&q);
    assert_int_equal(pg_rest_query_parse(&q, S("&a=1&&b=2&")), 0);
    assert_int_equal(q.n, 2);
    pg_rest_query_dispose(&q);

    /* Percent escapes in keys and values, both cases of hex. */
    assert_int_equal(pg_rest_query_parse(&q, S("filter%5fby_prefix=presence%2d&x=%41%7a")), 0);
    assert_string_equal(pg_rest_query_get(&q, "filter_by_prefix"), "presence-");
    assert_string_equal(pg_rest_query_get(&q, "x"), "Az");
    pg_rest_query_dispose(&q);

    /* len bounds the input. */
    assert_int_equal(pg_rest_query_parse(&q, "a=1&b=2", 3), 0);
    assert_int_equal(q.n, 1);
    assert_string_equal(pg_rest_query_get(&q, "a"), "1");
    pg_rest_query_dispose(&q);
}

static void test_query_parse_rejects(void **state)
{
    (void)state;
    struct pg_rest_query q;
    static const char *const bad[] = {
        "a=%",  "a=%4",   "a=%4g",   "a=%g4",     "%zz=1",
        "a=1%", "a=%00",  "a=1&a=2", "a=1&b&a=1", "Auth_Key=1&auth_key=1",
        "=1",   "a=1&=2",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&q, 0xff, sizeof q);
        assert_int_equal(pg_rest_query_parse(&q, bad[i], strlen(bad[i])), -EINVAL);
        assert_int_equal(q.n, 0);
        assert_null(q.kv);
        pg_rest_query_dispose(&q);
    }
    /* A raw NUL byte is refused like %00 (it would cut a key or value short). */
    static const char nul_key[] = {'\0', '=', '1'}, nul_val[] = {'a', '=', '1', '\0', 'x'};
    assert_int_equal(pg_rest_query_parse(&q, nul_key, sizeof nul_key), -EINVAL);
    assert_int_equal(pg_rest_query_parse(&q, nul_val, sizeof nul_val), -EINVAL);
    pg_rest_query_dispose(&q);
}

static void test_query_canon(void **state)
{
    (void)state;
    struct pg_rest_query q;
    char out[256], small[8];

    assert_int_equal(
        pg_rest_query_parse(&q, S("info=user_count&auth_signature=abc&Auth_Version=1.0&"
                                  "filter_by_prefix=presence-&auth_key=" KEY
                                  "&auth_timestamp=1353088179")),
        0);
    assert_int_equal(pg_rest_query_canon(&q, out, sizeof out),
                     (int)strlen("auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0&"
                                 "filter_by_prefix=presence-&info=user_count"));
    assert_string_equal(out, "auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0&"
                             "filter_by_prefix=presence-&info=user_count");
    assert_int_equal(pg_rest_query_canon(&q, small, sizeof small), -ENOBUFS);
    assert_string_equal(small, "");
    assert_int_equal(pg_rest_query_canon(&q, out, 0), -ENOBUFS);
    pg_rest_query_dispose(&q);

    /* Bytewise order after lower-casing: '_' (0x5f) sorts before 'a' and after 'Z'. */
    assert_int_equal(pg_rest_query_parse(&q, S("ab=1&a_=2&A=3&b=%2C")), 0);
    assert_int_equal(pg_rest_query_canon(&q, out, sizeof out), 17);
    assert_string_equal(out, "a=3&a_=2&ab=1&b=,");
    pg_rest_query_dispose(&q);

    /* Exact fit: 3 chars + NUL. */
    assert_int_equal(pg_rest_query_parse(&q, S("a=1")), 0);
    assert_int_equal(pg_rest_query_canon(&q, small, 4), 3);
    assert_string_equal(small, "a=1");
    assert_int_equal(pg_rest_query_canon(&q, small, 3), -ENOBUFS);
    pg_rest_query_dispose(&q);

    assert_int_equal(pg_rest_query_parse(&q, S("auth_signature=x")), 0);
    assert_int_equal(pg_rest_query_canon(&q, out, sizeof out), 0);
    assert_string_equal(out, "");
    pg_rest_query_dispose(&q);
}

static void test_rest_md5_vectors(void **state)
{
    (void)state;
    char hex[33];

    pg_md5_hex(S(DOCS_BODY), hex);
    assert_string_equal(hex, DOCS_MD5);
    pg_md5_hex(S("{}"), hex);
    assert_string_equal(hex, "99914b932bd37a50b983c5e7c90ae93b");
    pg_md5_hex(S("example body"), hex);
    assert_string_equal(hex, "165d5e6d7ca8f73b3853ce45addf42fc");
}

static void test_rest_sign_vectors(void **state)
{
    (void)state;
    char hex[65];

    assert_int_equal(pg_rest_sign(S(SECRET), "POST", S("/apps/3/events"), S(DOCS_QUERY), hex), 0);
    assert_string_equal(hex, DOCS_SIG);
    /* Method is upper-cased. */
    assert_int_equal(pg_rest_sign(S(SECRET), "post", S("/apps/3/events"), S(DOCS_QUERY), hex), 0);
    assert_string_equal(hex, DOCS_SIG);

    assert_int_equal(pg_rest_sign(S(SECRET), "GET", S("/apps/3/channels"),
                                  S("auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0&"
                                    "filter_by_prefix=presence-&info=user_count"),
                                  hex),
                     0);
    assert_string_equal(hex, "16819168891cb5dfd72b5c7a5d3d602605b26c6ba1930033b5e2eeeb65010291");

    assert_int_equal(pg_rest_sign(S(SECRET), "POST", S("/apps/3/users/12345/terminate_connections"),
                                  S("auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0&"
                                    "body_md5=99914b932bd37a50b983c5e7c90ae93b"),
                                  hex),
                     0);
    assert_string_equal(hex, "01fa634edeb0cae84115307cad5c23f65a46cd286461b1c89637a3b5871a8f0e");

    assert_int_equal(pg_rest_sign(S("tofu"), "GET", S("/event"),
                                  S("auth_key=f00d&auth_timestamp=1234567890&auth_version=1.0&"
                                    "body_md5=165d5e6d7ca8f73b3853ce45addf42fc"),
                                  hex),
                     0);
    assert_string_equal(hex, "a650196dc427ebe837226f8565ca9232198c6d1b9455eaa72374a9dc0b620e7b");

    assert_int_equal(pg_rest_sign(S("tofu"), "GET", S("/event"),
                                  S("auth_key=f00d&auth_timestamp=1234567890&auth_version=1.0&"
                                    "baz=123454321&foo=bar"),
                                  hex),
                     0);
    assert_string_equal(hex, "d8bdbd31911fb7400a14fbd36fd7de053494725b64400ae5856deafe304b34a9");

    assert_int_equal(pg_rest_sign(S(SECRET), NULL, S("/x"), S(""), hex), -EINVAL);
    assert_int_equal(pg_rest_sign(S(SECRET), "VERYLONGMETHODNAME", S("/x"), S(""), hex), -EINVAL);
}

/* The docs string to sign, through parse + canon. */
static void test_rest_string_to_sign(void **state)
{
    (void)state;
    struct pg_rest_query q;
    char canon[256], sts[512];

    assert_int_equal(pg_rest_query_parse(&q, S(DOCS_QUERY "&auth_signature=" DOCS_SIG)), 0);
    assert_int_equal(pg_rest_query_canon(&q, canon, sizeof canon), (int)strlen(DOCS_QUERY));
    snprintf(sts, sizeof sts, "POST\n%s\n%s", "/apps/3/events", canon);
    assert_string_equal(sts,
                        "POST\n/apps/3/events\nauth_key=278d425bdf160c739803&auth_timestamp="
                        "1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f");
    pg_rest_query_dispose(&q);
}

static int verify_docs(const char *query, const char *body, int64_t now, char *err, size_t errlen)
{
    return pg_rest_verify("POST", S("/apps/3/events"), query, strlen(query), body, strlen(body),
                          KEY, S(SECRET), now, err, errlen);
}

static void test_rest_verify_ok(void **state)
{
    (void)state;
    char err[512];

    strcpy(err, "junk");
    assert_int_equal(
        verify_docs(DOCS_QUERY "&auth_signature=" DOCS_SIG, DOCS_BODY, TS, err, sizeof err),
        PG_AUTH_OK);
    assert_string_equal(err, "");
    /* Parameter order and upper-case hex do not matter; the window is inclusive. */
    assert_int_equal(verify_docs("auth_signature=DA454824C97BA181A32CCC17A72625BA02771F50B50E1E7430"
                                 "E47A1F3F457E6C&body_md5=ec365a775a4cd0599faeb73354201b6f&auth_"
                                 "version=1.0&auth_timestamp=1353088179&auth_key=" KEY,
                                 DOCS_BODY, TS + 600, err, sizeof err),
                     PG_AUTH_OK);
    assert_int_equal(
        verify_docs(DOCS_QUERY "&auth_signature=" DOCS_SIG, DOCS_BODY, TS - 600, NULL, 0),
        PG_AUTH_OK);

    /* body_md5 matches the body case-insensitively, but is signed as sent. */
    {
        char q[512], hex[65];
        const char *canon = "auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0&body_md5="
                            "EC365A775A4CD0599FAEB73354201B6F";
        assert_int_equal(
            pg_rest_sign(S(SECRET), "POST", S("/apps/3/events"), canon, strlen(canon), hex), 0);
        assert_string_not_equal(hex, DOCS_SIG);
        snprintf(q, sizeof q, "%s&auth_signature=%s", canon, hex);
        assert_int_equal(verify_docs(q, DOCS_BODY, TS, err, sizeof err), PG_AUTH_OK);
        snprintf(q, sizeof q, "%s&auth_signature=%s", canon, DOCS_SIG);
        assert_int_equal(verify_docs(q, DOCS_BODY, TS, err, sizeof err), PG_AUTH_BAD_SIG);
    }

    /* GET without body. */
    assert_int_equal(
        pg_rest_verify("GET", S("/apps/3/channels"),
                       S("auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0&filter_by_"
                         "prefix=presence-&info=user_count&auth_signature="
                         "16819168891cb5dfd72b5c7a5d3d602605b26c6ba1930033b5e2eeeb65010291"),
                       NULL, 0, KEY, S(SECRET), TS, err, sizeof err),
        PG_AUTH_OK);

    /* phn: GET /event with a body, and with extra params. */
    assert_int_equal(pg_rest_verify("GET", S("/event"),
                                    S("auth_key=f00d&auth_timestamp=1234567890&auth_version=1.0&"
                                      "body_md5=165d5e6d7ca8f73b3853ce45addf42fc&auth_signature="
                                      "a650196dc427ebe837226f8565ca9232198c6d1b9455eaa72374a9dc0b6"
                                      "20e7b"),
                                    S("example body"), "f00d", S("tofu"), 1234567890, err,
                                    sizeof err),
                     PG_AUTH_OK);
    assert_int_equal(pg_rest_verify("GET", S("/event"),
                                    S("auth_key=f00d&auth_timestamp=1234567890&auth_version=1.0&"
                                      "foo=bar&baz=123454321&auth_signature=d8bdbd31911fb7400a14f"
                                      "bd36fd7de053494725b64400ae5856deafe304b34a9"),
                                    NULL, 0, "f00d", S("tofu"), 1234567890, err, sizeof err),
                     PG_AUTH_OK);

    /* Terminate: body "{}". */
    assert_int_equal(
        pg_rest_verify("POST", S("/apps/3/users/12345/terminate_connections"),
                       S("auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0&body_md5="
                         "99914b932bd37a50b983c5e7c90ae93b&auth_signature="
                         "01fa634edeb0cae84115307cad5c23f65a46cd286461b1c89637a3b5871a8f0e"),
                       S("{}"), KEY, S(SECRET), TS, err, sizeof err),
        PG_AUTH_OK);
}

/* Values are signed decoded: an HTTP client may escape the raw comma as %2C. */
static void test_rest_verify_percent_decoded(void **state)
{
    (void)state;
    char err[512];
    char hex[65];

    assert_int_equal(pg_rest_sign(S(SECRET), "GET", S("/apps/3/channels"),
                                  S("auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0&"
                                    "info=user_count,subscription_count"),
                                  hex),
                     0);
    assert_string_equal(hex, "b5d3066c50a4e758b7d677e4f65cf6e909baab523911ba9dea505a65412149e6");
    assert_int_equal(
        pg_rest_verify("GET", S("/apps/3/channels"),
                       S("auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0&info=user_"
                         "count%2Csubscription_count&auth_signature="
                         "b5d3066c50a4e758b7d677e4f65cf6e909baab523911ba9dea505a65412149e6"),
                       NULL, 0, KEY, S(SECRET), TS, err, sizeof err),
        PG_AUTH_OK);
    assert_int_equal(
        pg_rest_verify("GET", S("/apps/3/channels"),
                       S("auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0&info=user_"
                         "count,subscription_count&auth_signature="
                         "b5d3066c50a4e758b7d677e4f65cf6e909baab523911ba9dea505a65412149e6"),
                       NULL, 0, KEY, S(SECRET), TS, err, sizeof err),
        PG_AUTH_OK);
    /* The path is taken raw: an escaped path signs differently. */
    assert_int_equal(
        pg_rest_verify("GET", S("/apps/3/%63hannels"),
                       S("auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0&info=user_"
                         "count,subscription_count&auth_signature="
                         "b5d3066c50a4e758b7d677e4f65cf6e909baab523911ba9dea505a65412149e6"),
                       NULL, 0, KEY, S(SECRET), TS, err, sizeof err),
        PG_AUTH_BAD_SIG);
}

static void test_rest_verify_expired(void **state)
{
    (void)state;
    char err[512];

    assert_int_equal(
        verify_docs(DOCS_QUERY "&auth_signature=" DOCS_SIG, DOCS_BODY, TS + 601, err, sizeof err),
        PG_AUTH_EXPIRED);
    assert_string_equal(err, "Timestamp expired: Given timestamp (1353088179) not within 600s of "
                             "server time (1353088780)");
    assert_int_equal(
        verify_docs(DOCS_QUERY "&auth_signature=" DOCS_SIG, DOCS_BODY, TS - 601, err, sizeof err),
        PG_AUTH_EXPIRED);
    assert_string_equal(err, "Timestamp expired: Given timestamp (1353088179) not within 600s of "
                             "server time (1353087578)");
    assert_int_equal(
        verify_docs(DOCS_QUERY "&auth_signature=" DOCS_SIG, DOCS_BODY, INT64_MIN, NULL, 0),
        PG_AUTH_EXPIRED);

    static const char *const bad_ts[] = {"",
                                         "abc",
                                         "-1353088179",
                                         "+1353088179",
                                         "1353088179.0",
                                         " 1353088179",
                                         "1234567890123456789"};
    for (size_t i = 0; i < sizeof bad_ts / sizeof bad_ts[0]; i++) {
        char q[256];
        snprintf(q, sizeof q,
                 "auth_key=" KEY "&auth_timestamp=%s&auth_version=1.0&body_md5=" DOCS_MD5
                 "&auth_signature=" DOCS_SIG,
                 bad_ts[i]);
        assert_int_equal(verify_docs(q, DOCS_BODY, TS, err, sizeof err), PG_AUTH_EXPIRED);
    }
}

static void test_rest_verify_md5(void **state)
{
    (void)state;
    char err[512];

    /* Body differs from the one body_md5 was computed over. */
    assert_int_equal(verify_docs(DOCS_QUERY "&auth_signature=" DOCS_SIG, "{\"name\":\"bar\"}", TS,
                                 err, sizeof err),
                     PG_AUTH_BAD_MD5);
    assert_non_null(strstr(err, "body_md5"));
    /* Body without body_md5. */
    assert_int_equal(
        verify_docs("auth_key=" KEY
                    "&auth_timestamp=1353088179&auth_version=1.0&auth_signature=" DOCS_SIG,
                    DOCS_BODY, TS, err, sizeof err),
        PG_AUTH_BAD_MD5);
    assert_non_null(strstr(err, "body_md5"));
    /* Empty body with a non-empty-body md5. */
    assert_int_equal(verify_docs(DOCS_QUERY "&auth_signature=" DOCS_SIG, "", TS, err, sizeof err),
                     PG_AUTH_BAD_MD5);
    /* Empty body with the empty md5 passes the md5 step and reaches the signature. */
    assert_int_equal(verify_docs("auth_key=" KEY
                                 "&auth_timestamp=1353088179&auth_version=1.0&body_md5="
                                 "d41d8cd98f00b204e9800998ecf8427e&auth_signature=" DOCS_SIG,
                                 "", TS, err, sizeof err),
                     PG_AUTH_BAD_SIG);
}

static void test_rest_verify_bad_sig(void **state)
{
    (void)state;
    char err[1024];
    char q[] = DOCS_QUERY "&auth_signature=" DOCS_SIG;

    /* Flip the last hex char. */
    q[sizeof q - 2] = q[sizeof q - 2] == 'c' ? 'd' : 'c';
    assert_int_equal(verify_docs(q, DOCS_BODY, TS, err, sizeof err), PG_AUTH_BAD_SIG);
    assert_string_equal(
        err, "Invalid signature: you should have sent HmacSHA256Hex(\"POST\\n/apps/3/events\\n"
             "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5="
             "ec365a775a4cd0599faeb73354201b6f\", your_secret_key), but you sent "
             "\"da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6d\"");
    assert_null(strstr(err, SECRET));

    /* Another method or path. */
    assert_int_equal(pg_rest_verify("PUT", S("/apps/3/events"),
                                    S(DOCS_QUERY "&auth_signature=" DOCS_SIG), S(DOCS_BODY), KEY,
                                    S(SECRET), TS, err, sizeof err),
                     PG_AUTH_BAD_SIG);
    assert_int_equal(pg_rest_verify("POST", S("/apps/4/events"),
                                    S(DOCS_QUERY "&auth_signature=" DOCS_SIG), S(DOCS_BODY), KEY,
                                    S(SECRET), TS, err, sizeof err),
                     PG_AUTH_BAD_SIG);
    /* Wrong secret. */
    assert_int_equal(pg_rest_verify("POST", S("/apps/3/events"),
                                    S(DOCS_QUERY "&auth_signature=" DOCS_SIG), S(DOCS_BODY), KEY,
                                    S("7ad3773142a6692b25b9"), TS, err, sizeof err),
                     PG_AUTH_BAD_SIG);
    assert_null(strstr(err, "7ad3773142a6692b25b9"));
    /* An extra parameter is signed too. */
    assert_int_equal(
        verify_docs(DOCS_QUERY "&x=1&auth_signature=" DOCS_SIG, DOCS_BODY, TS, err, sizeof err),
        PG_AUTH_BAD_SIG);
    /* A short err buffer is truncated, still NUL-terminated. */
    char small[16];
    assert_int_equal(verify_docs(q, DOCS_BODY, TS, small, sizeof small), PG_AUTH_BAD_SIG);
    assert_string_equal(small, "Invalid signatu");
}

static void test_rest_verify_key_version(void **state)
{
    (void)state;
    char err[512];

    assert_int_equal(verify_docs("auth_key=278d425bdf160c739804&auth_timestamp=1353088179&auth_"
                                 "version=1.0&body_md5=" DOCS_MD5 "&auth_signature=" DOCS_SIG,
                                 DOCS_BODY, TS, err, sizeof err),
                     PG_AUTH_BAD_KEY);
    assert_string_equal(err, "Invalid auth_key");
    assert_int_equal(verify_docs("auth_key=" KEY "&auth_timestamp=1353088179&auth_version=2.0&body_"
                                 "md5=" DOCS_MD5 "&auth_signature=" DOCS_SIG,
                                 DOCS_BODY, TS, err, sizeof err),
                     PG_AUTH_BAD_VERSION);
    assert_int_equal(verify_docs("auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1&body_"
                                 "md5=" DOCS_MD5 "&auth_signature=" DOCS_SIG,
                                 DOCS_BODY, TS, err, sizeof err),
                     PG_AUTH_BAD_VERSION);
}

static void test_rest_verify_missing(void **state)
{
    (void)state;
    static const char *const params[] = {"auth_key=" KEY, "auth_timestamp=1353088179",
                                         "auth_version=1.0", "auth_signature=" DOCS_SIG};
    static const char *const names[] = {"auth_key", "auth_timestamp", "auth_version",
                                        "auth_signature"};
    char q[512], err[512], want[64];

    for (size_t skip = 0; skip < 4; skip++) {
        q[0] = '\0';
        strcat(q, "body_md5=" DOCS_MD5);
        for (size_t i = 0; i < 4; i++) {
            if (i == skip)
                continue;
            strcat(q, "&");
            strcat(q, params[i]);
        }
        assert_int_equal(verify_docs(q, DOCS_BODY, TS, err, sizeof err), PG_AUTH_MISSING);
        snprintf(want, sizeof want, "Missing auth parameter: %s", names[skip]);
        assert_string_equal(err, want);
    }
    assert_int_equal(pg_rest_verify("GET", S("/apps/3/channels"), "", 0, NULL, 0, KEY, S(SECRET),
                                    TS, err, sizeof err),
                     PG_AUTH_MISSING);
    assert_string_equal(err, "Missing auth parameter: auth_key");
}

static void test_rest_verify_malformed(void **state)
{
    (void)state;
    char err[512];

    assert_int_equal(verify_docs(DOCS_QUERY "&auth_signature=" DOCS_SIG "&auth_key=" KEY, DOCS_BODY,
                                 TS, err, sizeof err),
                     PG_AUTH_MALFORMED);
    assert_string_equal(err, "Malformed query string");
    assert_int_equal(verify_docs(DOCS_QUERY "&auth_signature=" DOCS_SIG "&auth_signature=" DOCS_SIG,
                                 DOCS_BODY, TS, err, sizeof err),
                     PG_AUTH_MALFORMED);
    assert_int_equal(
        verify_docs(DOCS_QUERY "&x=%zz&auth_signature=" DOCS_SIG, DOCS_BODY, TS, err, sizeof err),
        PG_AUTH_MALFORMED);
}

static void test_hook_sign(void **state)
{
    (void)state;
    char hex[65];

    pg_hook_sign(S(SECRET),
                 S("{\"time_ms\":1327078148132,\"events\":[{\"name\":\"channel_occupied\","
                   "\"channel\":\"my-channel\"}]}"),
                 hex);
    assert_string_equal(hex, "c19001ae3963ccb13bf618e5b16ba9848e7e74df0993aa0689168e341c6833cf");
    pg_hook_sign(S(SECRET),
                 S("{\"time_ms\":1327078148133,\"events\":[{\"name\":\"channel_occupied\","
                   "\"channel\":\"my-channel\"}]}"),
                 hex);
    assert_string_not_equal(hex,
                            "c19001ae3963ccb13bf618e5b16ba9848e7e74df0993aa0689168e341c6833cf");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_socket_id_valid),
        cmocka_unit_test(test_socket_id_format),
        cmocka_unit_test(test_chan_sign_vectors),
        cmocka_unit_test(test_chan_verify),
        cmocka_unit_test(test_chan_verify_failures),
        cmocka_unit_test(test_user_auth),
        cmocka_unit_test(test_query_parse),
        cmocka_unit_test(test_query_parse_rejects),
        cmocka_unit_test(test_query_canon),
        cmocka_unit_test(test_rest_md5_vectors),
        cmocka_unit_test(test_rest_sign_vectors),
        cmocka_unit_test(test_rest_string_to_sign),
        cmocka_unit_test(test_rest_verify_ok),
        cmocka_unit_test(test_rest_verify_percent_decoded),
        cmocka_unit_test(test_rest_verify_expired),
        cmocka_unit_test(test_rest_verify_md5),
        cmocka_unit_test(test_rest_verify_bad_sig),
        cmocka_unit_test(test_rest_verify_key_version),
        cmocka_unit_test(test_rest_verify_missing),
        cmocka_unit_test(test_rest_verify_malformed),
        cmocka_unit_test(test_hook_sign),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
