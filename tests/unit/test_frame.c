/* test_frame.c - JSON string escaping (pg_buf), frame writers (pg_frame) and refcounted frames
 * (pg_msg). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg_buf.h"
#include "pg_frame.h"
#include "pg_msg.h"

/* Escapes n bytes of s and compares with want (a C string of the full literal, quotes included). */
static void expect_json_str(const char *s, size_t n, const char *want)
{
    struct pg_buf b;
    pg_buf_init(&b);
    pg_buf_json_str(&b, s, n);
    assert_false(b.oom);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.p, want, b.len);
    assert_int_equal(b.p[b.len], '\0');
    pg_buf_dispose(&b);
}

/* Checks that m holds exactly want, NUL-terminated after the payload, with refs 1. */
static void expect_msg(struct pg_msg *m, const char *want)
{
    assert_non_null(m);
    assert_int_equal(m->refs, 1);
    size_t n = strlen(want);
    if (m->len != n || memcmp(pg_msg_data(m), want, n) != 0)
        fail_msg("frame\n  got  %.*s\n  want %s", (int)m->len, (const char *)pg_msg_data(m), want);
    assert_int_equal(pg_msg_data(m)[m->len], '\0');
}

/* ---- pg_buf_json_str ---- */

static void test_json_str_plain(void **state)
{
    (void)state;
    expect_json_str("", 0, "\"\"");
    expect_json_str(NULL, 0, "\"\"");
    expect_json_str("hello world", 11, "\"hello world\"");
    expect_json_str("a/b", 3, "\"a/b\"");    /* '/' needs no escape */
    expect_json_str("abcdef", 3, "\"abc\""); /* n, not strlen */
}

static void test_json_str_quote_backslash(void **state)
{
    (void)state;
    expect_json_str("\"", 1, "\"\\\"\"");
    expect_json_str("\\", 1, "\"\\\\\"");
    expect_json_str("say \"hi\" \\o/", 12, "\"say \\\"hi\\\" \\\\o/\"");
    expect_json_str("{\"a\":1}", 7, "\"{\\\"a\\\":1}\"");
}

static void test_json_str_short_escapes(void **state)
{
    (void)state;
    expect_json_str("\n", 1, "\"\\n\"");
    expect_json_str("\r", 1, "\"\\r\"");
    expect_json_str("\t", 1, "\"\\t\"");
    expect_json_str("\b", 1, "\"\\b\"");
    expect_json_str("\f", 1, "\"\\f\"");
    expect_json_str("a\r\nb\tc", 6, "\"a\\r\\nb\\tc\"");
}

static void test_json_str_control_u00xx(void **state)
{
    (void)state;
    expect_json_str("\0", 1, "\"\\u0000\"");
    expect_json_str("\x01", 1, "\"\\u0001\"");
    expect_json_str("\x07", 1, "\"\\u0007\"");
    expect_json_str("\x0b", 1, "\"\\u000b\"");
    expect_json_str("\x0e", 1, "\"\\u000e\"");
    expect_json_str("\x1f", 1, "\"\\u001f\"");
    expect_json_str("\x1b[0m", 4, "\"\\u001b[0m\"");
    expect_json_str("a\0b", 3, "\"a\\u0000b\"");
    /* 0x20 and DEL are not control characters for JSON. */
    expect_json_str(" \x7f", 2, "\" \x7f\"");

    /* Every byte below 0x20: either a short escape or \u00XX in lower-case hex. */
    for (int c = 0; c < 0x20; c++) {
        char in = (char)c, want[16];
        switch (c) {
        case '\b':
            strcpy(want, "\"\\b\"");
            break;
        case '\t':
            strcpy(want, "\"\\t\"");
            break;
        case '\n':
            strcpy(want, "\"\\n\"");
            break;
        case '\f':
            strcpy(want, "\"\\f\"");
            break;
        case '\r':
            strcpy(want, "\"\\r\"");
            break;
        default:
            snprintf(want, sizeof want, "\"\\u%04x\"", c);
        }
        expect_json_str(&in, 1, want);
    }
}

static void test_json_str_utf8_passthrough(void **state)
{
    (void)state;
    expect_json_str("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"");              /* é */
    expect_json_str("\xe2\x82\xac", 3, "\"\xe2\x82\xac\"");            /* € */
    expect_json_str("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");    /* U+1F600 */
    expect_json_str("\xe2\x80\xa8", 3, "\"\xe2\x80\xa8\"");            /* U+2028 */
    expect_json_str("\xe6\x97\xa5\"\n", 5, "\"\xe6\x97\xa5\\\"\\n\""); /* mixed */
}

static void test_json_str_appends_and_grows(void **state)
{
    (void)state;
    struct pg_buf b;
    pg_buf_init(&b);
    pg_buf_puts(&b, "[");
    /* 300 control bytes: the worst case (6x) must fit after earlier content. */
    char in[300];
    memset(in, 0x01, sizeof in);
    pg_buf_json_str(&b, in, sizeof in);
    pg_buf_puts(&b, "]");
    assert_false(b.oom);
    assert_int_equal(b.len, 1 + 2 + 300 * 6 + 1);
    assert_int_equal(b.p[0], '[');
    assert_int_equal(b.p[1], '"');
    assert_memory_equal(b.p + 2, "\\u0001\\u0001", 12);
    assert_memory_equal(b.p + b.len - 8, "\\u0001\"]", 8);
    assert_int_equal(b.p[b.len], '\0');
    pg_buf_dispose(&b);
}

/* ---- pg_buf basics ---- */

static void test_buf_basics(void **state)
{
    (void)state;
    struct pg_buf b;
    pg_buf_init(&b);
    assert_string_equal(pg_buf_cstr(&b), "");
    pg_buf_put(&b, "ab", 2);
    pg_buf_printf(&b, "-%d-%s", 42, "x");
    assert_string_equal(pg_buf_cstr(&b), "ab-42-x");
    assert_int_equal(b.len, 7);
    pg_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(pg_buf_cstr(&b), "");
    pg_buf_puts(&b, "z");
    size_t n = 0;
    char *s = pg_buf_steal(&b, &n);
    assert_int_equal(n, 1);
    assert_string_equal(s, "z");
    free(s);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    s = pg_buf_steal(&b, &n); /* empty: still a string to free */
    assert_non_null(s);
    assert_int_equal(n, 0);
    assert_string_equal(s, "");
    free(s);
    pg_buf_dispose(&b);
    pg_buf_dispose(&b); /* zeroed: no-op */
}

/* ---- pg_frame ---- */

static void test_frame_str(void **state)
{
    (void)state;
    struct pg_msg *m = pg_frame_str("pusher_internal:member_added", "presence-x", 10,
                                    "{\"user_id\":\"1\",\"user_info\":{\"name\":\"a\"}}", 40);
    expect_msg(m, "{\"event\":\"pusher_internal:member_added\",\"channel\":\"presence-x\","
                  "\"data\":\"{\\\"user_id\\\":\\\"1\\\",\\\"user_info\\\":{\\\"name\\\":\\\"a\\\"}"
                  "}\"}");
    pg_msg_unref(m);

    m = pg_frame_str("my-event", "my-channel", 10, "line1\nline2\t\x01", 13);
    expect_msg(m, "{\"event\":\"my-event\",\"channel\":\"my-channel\","
                  "\"data\":\"line1\\nline2\\t\\u0001\"}");
    pg_msg_unref(m);

    /* clen and dlen count, not strlen; no channel member when channel is NULL. */
    m = pg_frame_str("e", "abcdef", 3, "xyz", 0);
    expect_msg(m, "{\"event\":\"e\",\"channel\":\"abc\",\"data\":\"\"}");
    pg_msg_unref(m);
    m = pg_frame_str("pusher:pong", NULL, 0, "{}", 2);
    expect_msg(m, "{\"event\":\"pusher:pong\",\"data\":\"{}\"}");
    pg_msg_unref(m);

    /* The event name is escaped too. */
    m = pg_frame_str("a\"b", "c\\d", 3, "\xc3\xa9", 2);
    expect_msg(m, "{\"event\":\"a\\\"b\",\"channel\":\"c\\\\d\",\"data\":\"\xc3\xa9\"}");
    pg_msg_unref(m);
}

static void test_frame_raw(void **state)
{
    (void)state;
    const char *d = "{\"presence\":{\"ids\":[\"1\"],\"hash\":{\"1\":null},\"count\":1}}";
    struct pg_msg *m = pg_frame_raw("pusher_internal:subscription_succeeded", "presence-x", 10, d,
                                    strlen(d), NULL, 0);
    expect_msg(m,
               "{\"event\":\"pusher_internal:subscription_succeeded\",\"channel\":\"presence-x\","
               "\"data\":{\"presence\":{\"ids\":[\"1\"],\"hash\":{\"1\":null},\"count\":1}}}");
    pg_msg_unref(m);

    /* user_id member (client events on presence channels). */
    m = pg_frame_raw("client-typing", "presence-room", 13, "{\"x\":1}", 7, "u\"1", 3);
    expect_msg(m, "{\"event\":\"client-typing\",\"channel\":\"presence-room\",\"data\":{\"x\":1},"
                  "\"user_id\":\"u\\\"1\"}");
    pg_msg_unref(m);

    /* ulen counts; an already-quoted string data goes in verbatim. */
    m = pg_frame_raw("ev", "ch", 2, "\"s\"", 3, "12345", 2);
    expect_msg(m, "{\"event\":\"ev\",\"channel\":\"ch\",\"data\":\"s\",\"user_id\":\"12\"}");
    pg_msg_unref(m);

    /* No channel, no user_id. */
    const char *est = "\"{\\\"socket_id\\\":\\\"1.2\\\",\\\"activity_timeout\\\":120}\"";
    m = pg_frame_raw("pusher:connection_established", NULL, 0, est, strlen(est), NULL, 0);
    expect_msg(m, "{\"event\":\"pusher:connection_established\",\"data\":\"{\\\"socket_id\\\":"
                  "\\\"1.2\\\",\\\"activity_timeout\\\":120}\"}");
    pg_msg_unref(m);
}

static void test_frame_error(void **state)
{
    (void)state;
    struct pg_msg *m = pg_frame_error(4100, "Over capacity");
    expect_msg(m, "{\"event\":\"pusher:error\",\"data\":{\"code\":4100,\"message\":\"Over "
                  "capacity\"}}");
    pg_msg_unref(m);

    m = pg_frame_error(-1, "Invalid \"event\"");
    expect_msg(m, "{\"event\":\"pusher:error\",\"data\":{\"code\":null,\"message\":\"Invalid "
                  "\\\"event\\\"\"}}");
    pg_msg_unref(m);

    m = pg_frame_error(0, "");
    expect_msg(m, "{\"event\":\"pusher:error\",\"data\":{\"code\":0,\"message\":\"\"}}");
    pg_msg_unref(m);

    m = pg_frame_error(-4009, "x\n");
    expect_msg(m, "{\"event\":\"pusher:error\",\"data\":{\"code\":null,\"message\":\"x\\n\"}}");
    pg_msg_unref(m);
}

static void test_frame_headroom(void **state)
{
    (void)state;
    struct pg_msg *m = pg_frame_str("e", "c", 1, "d", 1);
    assert_non_null(m);
    /* The payload starts PG_MSG_PRE bytes into buf; the headroom is writable. */
    assert_ptr_equal(pg_msg_data(m), m->buf + PG_MSG_PRE);
    memset(m->buf, 0xAA, PG_MSG_PRE);
    expect_msg(m, "{\"event\":\"e\",\"channel\":\"c\",\"data\":\"d\"}");
    pg_msg_unref(m);
}

/* ---- pg_msg ---- */

static void test_msg_new_from(void **state)
{
    (void)state;
    struct pg_msg *m = pg_msg_new(0);
    assert_non_null(m);
    assert_int_equal(m->refs, 1);
    assert_int_equal(m->len, 0);
    assert_int_equal(pg_msg_data(m)[0], '\0');
    pg_msg_unref(m);

    m = pg_msg_from("abc", 3);
    expect_msg(m, "abc");
    pg_msg_unref(m);

    m = pg_msg_from(NULL, 0);
    expect_msg(m, "");
    pg_msg_unref(m);

    /* Too large for the uint32_t length: refused, not truncated. */
    assert_null(pg_msg_new((size_t)UINT32_MAX));
    assert_null(pg_msg_new((size_t)UINT32_MAX - PG_MSG_PRE));
    pg_msg_unref(NULL); /* no-op */
}

static void test_msg_refcount_copy(void **state)
{
    (void)state;
    struct pg_msg *m = pg_frame_str("e", "c", 1, "payload", 7);
    assert_non_null(m);
    assert_ptr_equal(pg_msg_ref(m), m);
    assert_ptr_equal(pg_msg_ref(m), m);
    assert_int_equal(m->refs, 3);

    struct pg_msg *c = pg_msg_copy(m);
    assert_non_null(c);
    assert_ptr_not_equal(c, m);
    assert_ptr_not_equal(pg_msg_data(c), pg_msg_data(m));
    assert_int_equal(c->refs, 1);
    assert_int_equal(m->refs, 3); /* the original is not touched */
    assert_int_equal(c->len, m->len);
    assert_memory_equal(pg_msg_data(c), pg_msg_data(m), m->len);
    assert_int_equal(pg_msg_data(c)[c->len], '\0');

    /* The copy is independent: writing its headroom or payload leaves m alone. */
    memset(c->buf, 0x55, PG_MSG_PRE);
    pg_msg_data(c)[0] = 'X';
    assert_int_equal(pg_msg_data(m)[0], '{');

    pg_msg_unref(m);
    pg_msg_unref(m);
    assert_int_equal(m->refs, 1);
    assert_int_equal(pg_msg_data(m)[0], '{'); /* still alive (ASan would flag a free) */
    pg_msg_unref(m);                          /* freed here */

    /* A copy of a copy, after the first original is gone. */
    struct pg_msg *cc = pg_msg_copy(c);
    assert_int_equal(cc->refs, 1);
    assert_int_equal(cc->len, c->len);
    assert_memory_equal(pg_msg_data(cc), pg_msg_data(c), c->len);
    pg_msg_unref(c);
    pg_msg_unref(cc);

    /* Copy of an empty message. */
    struct pg_msg *e = pg_msg_new(0);
    struct pg_msg *ec = pg_msg_copy(e);
    assert_non_null(ec);
    assert_int_equal(ec->len, 0);
    assert_int_equal(ec->refs, 1);
    pg_msg_unref(e);
    pg_msg_unref(ec);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_json_str_plain),
        cmocka_unit_test(test_json_str_quote_backslash),
        cmocka_unit_test(test_json_str_short_escapes),
        cmocka_unit_test(test_json_str_control_u00xx),
        cmocka_unit_test(test_json_str_utf8_passthrough),
        cmocka_unit_test(test_json_str_appends_and_grows),
        cmocka_unit_test(test_buf_basics),
        cmocka_unit_test(test_frame_str),
        cmocka_unit_test(test_frame_raw),
        cmocka_unit_test(test_frame_error),
        cmocka_unit_test(test_frame_headroom),
        cmocka_unit_test(test_msg_new_from),
        cmocka_unit_test(test_msg_refcount_copy),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
