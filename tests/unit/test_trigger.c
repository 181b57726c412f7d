/* test_trigger.c - REST trigger body parsing and validation (pg_trigger; spec 9.3, 9.4, 6.3).
 * private-encrypted channels are in test_trigger_enc.c. */
#include "test_trigger_util.h"

/* ---- good bodies ---- */

static void test_single_full(void **state)
{
    (void)state;
    struct pg_trigger t;
    const char *body =
        "{\"name\":\"my-event\",\"data\":\"{\\\"message\\\":\\\"hello\\\"}\","
        "\"channels\":[\"my-channel\",\"presence-room\"],\"socket_id\":\"1234.1234\","
        "\"info\":\"user_count,subscription_count\"}";
    assert_int_equal(parse(&t, body, false), 0);
    assert_false(t.batch);
    assert_true(t.any_info);
    assert_int_equal(t.nev, 1);
    const struct pg_trigger_event *ev = &t.ev[0];
    assert_int_equal(ev->nlen, 8);
    assert_string_equal(ev->name, "my-event");
    assert_int_equal(ev->dlen, 19);
    assert_memory_equal(ev->data, "{\"message\":\"hello\"}", 19);
    assert_int_equal(ev->nchan, 2);
    assert_string_equal(ev->chans[0].name, "my-channel");
    assert_int_equal(ev->chans[0].len, 10);
    assert_int_equal(ev->chans[0].kind, PG_CHAN_PUBLIC);
    assert_string_equal(ev->chans[1].name, "presence-room");
    assert_int_equal(ev->chans[1].kind & PG_CHAN_PRESENCE, PG_CHAN_PRESENCE);
    assert_string_equal(ev->socket_id, "1234.1234");
    assert_int_equal(ev->slen, 9);
    assert_true(ev->info_users);
    assert_true(ev->info_subs);
    pg_trigger_dispose(&t);
    assert_null(t.ev);
    pg_trigger_dispose(&t); /* zeroed: no-op */
}

static void test_single_channel_member(void **state)
{
    (void)state;
    struct pg_trigger t;
    assert_int_equal(parse(&t, "{\"name\":\"e\",\"data\":\"hi\",\"channel\":\"private-x\"}", false),
                     0);
    assert_int_equal(t.ev[0].nchan, 1);
    assert_string_equal(t.ev[0].chans[0].name, "private-x");
    assert_int_equal(t.ev[0].chans[0].kind, PG_CHAN_PRIVATE);
    assert_null(t.ev[0].socket_id);
    assert_false(t.ev[0].info_users);
    assert_false(t.ev[0].info_subs);
    assert_false(t.any_info);
    pg_trigger_dispose(&t);
}

static void test_unknown_members_and_nulls_ignored(void **state)
{
    (void)state;
    struct pg_trigger t;
    const char *body =
        "{\"extra\":{\"deep\":[1,2,3]},\"name\":\"e\",\"data\":\"d\",\"channels\":[\"a\"],"
        "\"socket_id\":null,\"info\":null,\"channel\":null,\"n\":1.5}";
    assert_int_equal(parse(&t, body, false), 0);
    assert_null(t.ev[0].socket_id);
    assert_false(t.any_info);
    assert_int_equal(t.ev[0].nchan, 1);
    pg_trigger_dispose(&t);
}

static void test_whitespace_around_body(void **state)
{
    (void)state;
    struct pg_trigger t;
    assert_int_equal(parse(&t, " \n{\"name\":\"e\",\"data\":\"d\",\"channel\":\"a\"}\r\n ", false),
                     0);
    pg_trigger_dispose(&t);
}

static void test_duplicate_channels_dropped(void **state)
{
    (void)state;
    struct pg_trigger t;
    assert_int_equal(
        parse(&t, "{\"name\":\"e\",\"data\":\"d\",\"channels\":[\"b\",\"a\",\"b\",\"ab\",\"a\"]}",
              false),
        0);
    assert_int_equal(t.ev[0].nchan, 3);
    assert_string_equal(t.ev[0].chans[0].name, "b");
    assert_string_equal(t.ev[0].chans[1].name, "a");
    assert_string_equal(t.ev[0].chans[2].name, "ab");
    pg_trigger_dispose(&t);

    /* more than 16 names: the sorting path keeps the first of each, in request order */
    char body[1024];
    size_t k = (size_t)snprintf(body, sizeof body, "{\"name\":\"e\",\"data\":\"d\",\"channels\":[");
    for (int i = 0; i < 40; i++)
        k += (size_t)snprintf(body + k, sizeof body - k, "%s\"c%d\"", i ? "," : "", (i * 7) % 20);
    snprintf(body + k, sizeof body - k, "]}");
    assert_int_equal(parse(&t, body, false), 0);
    assert_int_equal(t.ev[0].nchan, 20);
    for (int i = 0; i < 20; i++) {
        char want[8];
        snprintf(want, sizeof want, "c%d", (i * 7) % 20);
        assert_string_equal(t.ev[0].chans[i].name, want);
    }
    pg_trigger_dispose(&t);
}

static void test_server_to_user_channel(void **state)
{
    (void)state;
    struct pg_trigger t;
    assert_int_equal(
        parse(&t, "{\"name\":\"e\",\"data\":\"d\",\"channels\":[\"#server-to-user-42\"]}", false),
        0);
    assert_string_equal(t.ev[0].chans[0].name, "#server-to-user-42");
    assert_int_equal(t.ev[0].chans[0].kind & PG_CHAN_USER, PG_CHAN_USER);
    pg_trigger_dispose(&t);
}

static void test_data_string_byte_for_byte(void **state)
{
    (void)state;
    struct pg_trigger t;
    /* escapes are decoded once; an embedded NUL and non-ASCII survive; slashes are not escaped */
    assert_int_equal(
        parse(&t, "{\"name\":\"e\",\"channel\":\"c\",\"data\":\"a\\\"b\\u0000c/\xc3\xa9\"}", false),
        0);
    assert_int_equal(t.ev[0].dlen, 8);
    assert_memory_equal(t.ev[0].data, "a\"b\0c/\xc3\xa9", 8);
    pg_trigger_dispose(&t);

    /* empty string data is valid */
    assert_int_equal(parse(&t, "{\"name\":\"e\",\"channel\":\"c\",\"data\":\"\"}", false), 0);
    assert_int_equal(t.ev[0].dlen, 0);
    pg_trigger_dispose(&t);
}

static void test_data_non_string_serialized(void **state)
{
    (void)state;
    struct pg_trigger t;
    assert_int_equal(
        parse(&t, "{\"name\":\"e\",\"channel\":\"c\",\"data\":{\"a\": [1, \"x/y\", true, null]}}",
              false),
        0);
    assert_string_equal(t.ev[0].data, "{\"a\":[1,\"x/y\",true,null]}");
    assert_int_equal(t.ev[0].dlen, strlen("{\"a\":[1,\"x/y\",true,null]}"));
    pg_trigger_dispose(&t);

    assert_int_equal(parse(&t, "{\"name\":\"e\",\"channel\":\"c\",\"data\":123}", false), 0);
    assert_string_equal(t.ev[0].data, "123");
    assert_int_equal(t.ev[0].dlen, 3);
    pg_trigger_dispose(&t);

    assert_int_equal(parse(&t, "{\"name\":\"e\",\"channel\":\"c\",\"data\":false}", false), 0);
    assert_string_equal(t.ev[0].data, "false");
    pg_trigger_dispose(&t);

    assert_int_equal(parse(&t, "{\"name\":\"e\",\"channel\":\"c\",\"data\":[]}", false), 0);
    assert_string_equal(t.ev[0].data, "[]");
    pg_trigger_dispose(&t);
}

static void test_batch_good(void **state)
{
    (void)state;
    struct pg_trigger t;
    const char *body =
        "{\"batch\":[{\"channel\":\"my-channel\",\"name\":\"event\",\"data\":\"test1\","
        "\"info\":\"subscription_count\"},"
        "{\"channel\":\"presence-my-channel\",\"name\":\"event\",\"data\":\"test2\","
        "\"info\":\"user_count,subscription_count\",\"socket_id\":\"1302.1081607\"},"
        "{\"channel\":\"other\",\"name\":\"ev3\",\"data\":{\"k\":1}}]}";
    assert_int_equal(parse(&t, body, true), 0);
    assert_true(t.batch);
    assert_true(t.any_info);
    assert_int_equal(t.nev, 3);
    assert_string_equal(t.ev[0].chans[0].name, "my-channel");
    assert_int_equal(t.ev[0].nchan, 1);
    assert_string_equal(t.ev[0].data, "test1");
    assert_false(t.ev[0].info_users);
    assert_true(t.ev[0].info_subs);
    assert_null(t.ev[0].socket_id);
    assert_string_equal(t.ev[1].chans[0].name, "presence-my-channel");
    assert_true(t.ev[1].info_users);
    assert_true(t.ev[1].info_subs);
    assert_string_equal(t.ev[1].socket_id, "1302.1081607");
    assert_string_equal(t.ev[2].name, "ev3");
    assert_string_equal(t.ev[2].data, "{\"k\":1}");
    assert_false(t.ev[2].info_users || t.ev[2].info_subs);
    pg_trigger_dispose(&t);
}

static void test_batch_without_info(void **state)
{
    (void)state;
    struct pg_trigger t;
    char *b = batch_body(10);
    assert_int_equal(parse(&t, b, true), 0);
    assert_int_equal(t.nev, 10);
    assert_false(t.any_info);
    assert_string_equal(t.ev[9].data, "9");
    pg_trigger_dispose(&t);
    free(b);
}

/* ---- malformed JSON ---- */

static void test_malformed_json(void **state)
{
    (void)state;
    expect_400("", false, "empty");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\"", false, "unexpected end");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\"}x", false, "Malformed JSON");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\"}{}", false, "Malformed JSON");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\",}", false, "Malformed JSON");
    expect_400("{\"name\":\"e\",\"data\":\"d\" \"channel\":\"c\"}", false, "Malformed JSON");
    expect_400("[{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\"}]", false,
               "must be a JSON object");
    expect_400("\"str\"", false, "must be a JSON object");
    expect_400("null", false, "must be a JSON object");
    expect_400(" 12", false, "must be a JSON object");
    expect_400("{\"batch\":[]} junk", true, "trailing");
}

static void test_trailing_nul_byte(void **state)
{
    (void)state;
    struct pg_trigger t;
    const char body[] = "{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\"}\0{}";
    assert_int_equal(pg_trigger_parse(&t, &app, body, sizeof body - 1, false, err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "trailing"));
    assert_null(t._root);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    expect_400("{\"name\":\"e\",\"data\":\"\xff\xfe\",\"channel\":\"c\"}", false, "UTF-8");
    expect_400("{\"name\":\"e\",\"data\":\"\xc3\",\"channel\":\"c\"}", false, "UTF-8");
    /* forms json-c's own check lets through: surrogate, overlongs, > U+10FFFF, F5 lead byte */
    expect_400("{\"name\":\"\xed\xa0\x80\",\"data\":\"d\",\"channel\":\"c\"}", false, "UTF-8");
    expect_400("{\"name\":\"e\",\"data\":\"\xc0\x80\",\"channel\":\"c\"}", false, "UTF-8");
    expect_400("{\"name\":\"e\",\"data\":\"\xe0\x80\xaf\",\"channel\":\"c\"}", false, "UTF-8");
    expect_400("{\"name\":\"e\",\"data\":\"\xf0\x80\x80\xaf\",\"channel\":\"c\"}", false, "UTF-8");
    expect_400("{\"name\":\"e\",\"data\":\"\xf4\x90\x80\x80\",\"channel\":\"c\"}", false, "UTF-8");
    expect_400("{\"name\":\"e\",\"data\":\"\xf5\x80\x80\x80\",\"channel\":\"c\"}", false, "UTF-8");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\",\"x\":\"\xe2\x82\"}", false,
               "UTF-8");
    /* valid multi-byte text passes untouched; escaped lone surrogates become U+FFFD */
    struct pg_trigger t;
    assert_int_equal(parse(&t,
                           "{\"name\":\"\xc3\xa9v\",\"data\":\"\xe2\x82\xac\xf0\x9f\x98\x80"
                           "\xf4\x8f\xbf\xbf\\ud800\",\"channel\":\"c\"}",
                           false),
                     0);
    assert_int_equal(t.ev[0].dlen, 14);
    assert_memory_equal(t.ev[0].data, "\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xef\xbf\xbd",
                        14);
    pg_trigger_dispose(&t);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    struct pg_trigger t;
    char body[256];
    /* data nested 15 deep under the root: depth 16 in total, accepted */
    strcpy(body, "{\"name\":\"e\",\"channel\":\"c\",\"data\":");
    for (int i = 0; i < 15; i++)
        strcat(body, "[");
    for (int i = 0; i < 15; i++)
        strcat(body, "]");
    strcat(body, "}");
    assert_int_equal(parse(&t, body, false), 0);
    pg_trigger_dispose(&t);
    /* one more level: refused */
    strcpy(body, "{\"name\":\"e\",\"channel\":\"c\",\"data\":");
    for (int i = 0; i < 16; i++)
        strcat(body, "[");
    for (int i = 0; i < 16; i++)
        strcat(body, "]");
    strcat(body, "}");
    expect_400(body, false, "nested more than 16");
}

/* ---- per-field rules ---- */

static void test_name_rules(void **state)
{
    (void)state;
    struct pg_trigger t;
    expect_400("{\"data\":\"d\",\"channel\":\"c\"}", false, "Missing name");
    expect_400("{\"name\":null,\"data\":\"d\",\"channel\":\"c\"}", false, "Missing name");
    expect_400("{\"name\":5,\"data\":\"d\",\"channel\":\"c\"}", false, "name must be a string");
    expect_400("{\"name\":\"\",\"data\":\"d\",\"channel\":\"c\"}", false, "Invalid event name");
    expect_400("{\"name\":\"a\\u0000b\",\"data\":\"d\",\"channel\":\"c\"}", false,
               "Invalid event name");
    expect_400("{\"name\":\"pusher:subscribe\",\"data\":\"d\",\"channel\":\"c\"}", false,
               "reserved");
    expect_400("{\"name\":\"pusher_internal:member_added\",\"data\":\"d\",\"channel\":\"c\"}",
               false, "reserved");
    /* only the exact prefixes are reserved */
    assert_int_equal(parse(&t, "{\"name\":\"pusher-x\",\"data\":\"d\",\"channel\":\"c\"}", false),
                     0);
    pg_trigger_dispose(&t);
    assert_int_equal(parse(&t, "{\"name\":\"client-x\",\"data\":\"d\",\"channel\":\"c\"}", false),
                     0);
    pg_trigger_dispose(&t);

    /* length: 200 ok, 201 too long; then a configured limit of 5 */
    char body[512];
    snprintf(body, sizeof body, "{\"name\":\"%0200d\",\"data\":\"d\",\"channel\":\"c\"}", 0);
    assert_int_equal(parse(&t, body, false), 0);
    assert_int_equal(t.ev[0].nlen, 200);
    pg_trigger_dispose(&t);
    snprintf(body, sizeof body, "{\"name\":\"%0201d\",\"data\":\"d\",\"channel\":\"c\"}", 0);
    expect_fail(body, false, -ENAMETOOLONG, "Event name too long (max_event_name_length 200)");
    app.max_event_name_length = 5;
    expect_fail("{\"name\":\"abcdef\",\"data\":\"d\",\"channel\":\"c\"}", false, -ENAMETOOLONG,
                "Event name too long (max_event_name_length 5)");
    assert_int_equal(parse(&t, "{\"name\":\"abcde\",\"data\":\"d\",\"channel\":\"c\"}", false), 0);
    pg_trigger_dispose(&t);
}

static void test_data_rules(void **state)
{
    (void)state;
    expect_400("{\"name\":\"e\",\"channel\":\"c\"}", false, "Missing data");
    expect_400("{\"name\":\"e\",\"channel\":\"c\",\"data\":null}", false, "Missing data");
}

static void test_data_size_limit(void **state)
{
    (void)state;
    struct pg_trigger t;
    char *b = data_body(10240);
    assert_int_equal(parse(&t, b, false), 0);
    assert_int_equal(t.ev[0].dlen, 10240);
    pg_trigger_dispose(&t);
    free(b);

    b = data_body(10241);
    expect_fail(b, false, -EMSGSIZE, "Event data too large (max_event_payload_in_kb 10)");
    free(b);

    /* the limit counts decoded bytes: 10240 chars written as \u0061 escapes are fine */
    size_t n = 10240;
    b = malloc(n * 6 + 64);
    int k = sprintf(b, "{\"name\":\"e\",\"channel\":\"c\",\"data\":\"");
    for (size_t i = 0; i < n; i++)
        memcpy(b + k + i * 6, "\\u0061", 6);
    strcpy(b + k + n * 6, "\"}");
    assert_int_equal(parse(&t, b, false), 0);
    assert_int_equal(t.ev[0].dlen, 10240);
    pg_trigger_dispose(&t);
    free(b);

    /* serialized non-string data counts too */
    app.max_event_payload_in_kb = 1;
    char body[1200];
    int m = sprintf(body, "{\"name\":\"e\",\"channel\":\"c\",\"data\":[\"");
    memset(body + m, 'z', 1020); /* ["zzz..."] = 1024 bytes */
    strcpy(body + m + 1020, "\"]}");
    assert_int_equal(parse(&t, body, false), 0);
    assert_int_equal(t.ev[0].dlen, 1024);
    pg_trigger_dispose(&t);
    body[m] = 'y';
    memmove(body + m + 1, body + m, strlen(body + m) + 1); /* one byte more */
    expect_fail(body, false, -EMSGSIZE, "max_event_payload_in_kb 1");

    /* a batch item over the limit fails the batch with 413, naming the item */
    b = malloc(3000);
    k = sprintf(b, "{\"batch\":[{\"name\":\"e\",\"channel\":\"c\",\"data\":\"ok\"},"
                   "{\"name\":\"e\",\"channel\":\"c\",\"data\":\"");
    memset(b + k, 'q', 1025);
    strcpy(b + k + 1025, "\"}]}");
    expect_fail(b, true, -EMSGSIZE, "batch[1]: Event data too large (max_event_payload_in_kb 1)");
    free(b);
}

static void test_channels_rules(void **state)
{
    (void)state;
    struct pg_trigger t;
    expect_400("{\"name\":\"e\",\"data\":\"d\"}", false, "Missing channels");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channels\":\"c\"}", false, "must be an array");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channels\":[]}", false, "must not be empty");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channels\":[\"a\",3]}", false, "must be strings");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":[\"a\"]}", false, "must be strings");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channels\":[\"ok\",\"bad name\"]}", false,
               "Invalid channel name");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channels\":[\"\"]}", false,
               "Invalid channel name");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":\"a/b\"}", false,
               "Invalid channel name");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":\"#other\"}", false,
               "Invalid channel name");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\",\"channels\":[\"c\"]}", false,
               "not both");
    assert_int_equal(parse(&t, "{\"name\":\"e\",\"data\":\"d\",\"channel\":\"A-z_0=@,.;\"}", false),
                     0);
    pg_trigger_dispose(&t);

    char body[512];
    snprintf(body, sizeof body, "{\"name\":\"e\",\"data\":\"d\",\"channel\":\"%0200d\"}", 0);
    assert_int_equal(parse(&t, body, false), 0);
    pg_trigger_dispose(&t);
    snprintf(body, sizeof body, "{\"name\":\"e\",\"data\":\"d\",\"channel\":\"%0201d\"}", 0);
    expect_fail(body, false, -ENAMETOOLONG, "Channel name too long (max_channel_name_length 200)");

    /* 100 channels ok, 101 refused; then a configured limit of 3 */
    char *b = channels_body(100);
    assert_int_equal(parse(&t, b, false), 0);
    assert_int_equal(t.ev[0].nchan, 100);
    assert_string_equal(t.ev[0].chans[99].name, "c99");
    pg_trigger_dispose(&t);
    free(b);
    b = channels_body(101);
    expect_fail(b, false, -E2BIG, "Too many channels (max_event_channels_at_once 100)");
    free(b);
    app.max_event_channels_at_once = 3;
    b = channels_body(4);
    expect_fail(b, false, -E2BIG, "Too many channels (max_event_channels_at_once 3)");
    free(b);
}

static void test_socket_id_rules(void **state)
{
    (void)state;
    const char *bad[] = {"\"abc\"",  "\"1.\"",   "\".1\"", "\"1.2.3\"", "\"1234\"",
                         "\"-1.2\"", "\" 1.2\"", "\"\"",   "1234.5",    "[\"1.2\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char body[128];
        snprintf(body, sizeof body,
                 "{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\",\"socket_id\":%s}", bad[i]);
        expect_400(body, false, "Invalid socket_id");
    }
}

static void test_info_rules(void **state)
{
    (void)state;
    struct pg_trigger t;
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\",\"info\":[\"user_count\"]}", false,
               "info must be a string");
    expect_400(
        "{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\",\"info\":\"subscription_count,cash\"}",
        false, "Unknown info attribute 'cash'");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\",\"info\":\"User_count\"}", false,
               "Unknown info attribute");
    /* user_count needs a presence target */
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":\"private-c\",\"info\":\"user_count\"}",
               false, "user_count is only available for presence channels");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channels\":[\"a\",\"b\"],\"info\":\"user_count\"}",
               false, "user_count is only available for presence channels");
    /* a mixed trigger may ask for it (reported for the presence channels only, spec 9.3) */
    assert_int_equal(parse(&t,
                           "{\"name\":\"e\",\"data\":\"d\",\"channels\":[\"a\",\"presence-b\"],"
                           "\"info\":\"user_count,subscription_count\"}",
                           false),
                     0);
    assert_true(t.ev[0].info_users && t.ev[0].info_subs);
    pg_trigger_dispose(&t);
    /* empty items and an empty list are tolerated */
    assert_int_equal(
        parse(&t,
              "{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\",\"info\":\",subscription_count,\"}",
              false),
        0);
    assert_false(t.ev[0].info_users);
    assert_true(t.ev[0].info_subs);
    assert_true(t.any_info);
    pg_trigger_dispose(&t);
    assert_int_equal(
        parse(&t, "{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\",\"info\":\"\"}", false), 0);
    assert_false(t.any_info);
    pg_trigger_dispose(&t);
}

static void test_info_parse(void **state)
{
    (void)state;
    bool u, s;
    assert_int_equal(
        pg_trigger_info_parse("user_count,subscription_count", 29, &u, &s, err, sizeof err), 0);
    assert_true(u && s);
    assert_int_equal(pg_trigger_info_parse("subscription_count", 18, &u, &s, err, sizeof err), 0);
    assert_true(!u && s);
    /* len is honoured: the prefix "user_count" of a longer buffer */
    assert_int_equal(pg_trigger_info_parse("user_countXYZ", 10, &u, &s, err, sizeof err), 0);
    assert_true(u && !s);
    assert_int_equal(pg_trigger_info_parse("", 0, &u, &s, err, sizeof err), 0);
    assert_true(!u && !s);
    assert_int_equal(pg_trigger_info_parse("user_count,cache", 16, &u, &s, err, sizeof err),
                     -EINVAL);
    assert_string_equal(err, "Unknown info attribute 'cache'");
    assert_true(!u && !s);
}

static void test_info_flags(void **state)
{
    (void)state;
    const unsigned all = PG_INFO_USER_COUNT | PG_INFO_SUBSCRIPTION_COUNT | PG_INFO_CACHE;
    unsigned f = 99;
    assert_int_equal(pg_trigger_info_flags("cache", 5, all, &f, err, sizeof err), 0);
    assert_int_equal(f, PG_INFO_CACHE);
    assert_int_equal(
        pg_trigger_info_flags("subscription_count,,cache,user_count", 36, all, &f, err, sizeof err),
        0);
    assert_int_equal(f, all);
    assert_int_equal(pg_trigger_info_flags("", 0, all, &f, err, sizeof err), 0);
    assert_int_equal(f, 0);
    /* a word outside allowed is unknown */
    assert_int_equal(pg_trigger_info_flags("subscription_count,cache", 24,
                                           PG_INFO_USER_COUNT | PG_INFO_SUBSCRIPTION_COUNT, &f, err,
                                           sizeof err),
                     -EINVAL);
    assert_string_equal(err, "Unknown info attribute 'cache'");
    assert_int_equal(f, 0);
    assert_int_equal(pg_trigger_info_flags("caches", 6, all, &f, err, sizeof err), -EINVAL);
    assert_int_equal(pg_trigger_info_flags("cach", 4, all, &f, err, sizeof err), -EINVAL);
    /* a trigger's info never takes cache */
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":\"cache-x\",\"info\":\"cache\"}", false,
               "Unknown info attribute 'cache'");
}

/* ---- batch rules ---- */

static void test_batch_rules(void **state)
{
    (void)state;
    struct pg_trigger t;
    expect_400("{}", true, "Missing batch");
    expect_400("{\"batch\":{}}", true, "batch must be an array");
    expect_400("{\"batch\":[]}", true, "batch must not be empty");
    expect_400("{\"batch\":[\"x\"]}", true, "batch[0]: event must be a JSON object");
    expect_400("{\"batch\":[{\"name\":\"e\",\"data\":\"d\",\"channels\":[\"c\"]}]}", true,
               "batch[0]: batch events take a single channel");
    expect_400("{\"batch\":[{\"name\":\"e\",\"data\":\"d\"}]}", true, "batch[0]: Missing channel");
    expect_400(
        "{\"batch\":[{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\",\"info\":\"user_count\"}]}",
        true, "batch[0]: user_count is only available for presence channels");
    /* the third item is bad: the whole request fails and names it */
    expect_400("{\"batch\":[{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\"},"
               "{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\"},"
               "{\"name\":\"pusher:x\",\"data\":\"d\",\"channel\":\"c\"}]}",
               true, "batch[2]: Event names starting with pusher:");
    /* a batch body is not an /events body and vice versa */
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\"}", true, "Missing batch");
    expect_400("{\"batch\":[{\"name\":\"e\",\"data\":\"d\",\"channel\":\"c\"}]}", false,
               "Missing name");

    char *b = batch_body(11);
    expect_fail(b, true, -E2BIG, "Too many events in batch (max_event_batch_size 10)");
    free(b);
    app.max_event_batch_size = 2;
    b = batch_body(3);
    expect_fail(b, true, -E2BIG, "Too many events in batch (max_event_batch_size 2)");
    free(b);
    b = batch_body(2);
    assert_int_equal(parse(&t, b, true), 0);
    pg_trigger_dispose(&t);
    free(b);
}

/* ---- PG_UNLIMITED ---- */

static void test_unlimited(void **state)
{
    (void)state;
    struct pg_trigger t;
    app.max_channel_name_length = PG_UNLIMITED;
    app.max_event_name_length = PG_UNLIMITED;
    app.max_event_payload_in_kb = PG_UNLIMITED;
    app.max_event_batch_size = PG_UNLIMITED;
    app.max_event_channels_at_once = PG_UNLIMITED;

    char *b = channels_body(500);
    assert_int_equal(parse(&t, b, false), 0);
    assert_int_equal(t.ev[0].nchan, 500);
    pg_trigger_dispose(&t);
    free(b);
    b = batch_body(50);
    assert_int_equal(parse(&t, b, true), 0);
    assert_int_equal(t.nev, 50);
    pg_trigger_dispose(&t);
    free(b);
    b = data_body(100000);
    assert_int_equal(parse(&t, b, false), 0);
    assert_int_equal(t.ev[0].dlen, 100000);
    pg_trigger_dispose(&t);
    free(b);
    char body[1024];
    snprintf(body, sizeof body, "{\"name\":\"%0300d\",\"data\":\"d\",\"channel\":\"%0300d\"}", 0,
             0);
    assert_int_equal(parse(&t, body, false), 0);
    assert_int_equal(t.ev[0].nlen, 300);
    assert_int_equal(t.ev[0].chans[0].len, 300);
    pg_trigger_dispose(&t);
}

/* ---- #server-to-user- ---- */

static void test_server_to_user_rules(void **state)
{
    (void)state;
    struct pg_trigger t;
    assert_int_equal(
        parse(&t, "{\"name\":\"e\",\"data\":\"d\",\"channel\":\"#server-to-user-a=b@c\"}", false),
        0);
    assert_int_equal(t.ev[0].chans[0].kind, PG_CHAN_USER);
    pg_trigger_dispose(&t);
    /* mixed with ordinary channels, and in a batch */
    assert_int_equal(parse(&t,
                           "{\"name\":\"e\",\"data\":\"d\",\"channels\":[\"#server-to-user-1\","
                           "\"public\"]}",
                           false),
                     0);
    assert_int_equal(t.ev[0].nchan, 2);
    pg_trigger_dispose(&t);
    assert_int_equal(
        parse(&t, "{\"batch\":[{\"name\":\"e\",\"data\":\"d\",\"channel\":\"#server-to-user-9\"}]}",
              true),
        0);
    pg_trigger_dispose(&t);
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":\"#server-to-user-\"}", false,
               "Invalid channel name");
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":\"#server-to-user-a b\"}", false,
               "Invalid channel name");
    /* user_count does not apply */
    expect_400("{\"name\":\"e\",\"data\":\"d\",\"channel\":\"#server-to-user-1\","
               "\"info\":\"user_count\"}",
               false, "user_count is only available for presence channels");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_single_full, setup),
        cmocka_unit_test_setup(test_single_channel_member, setup),
        cmocka_unit_test_setup(test_unknown_members_and_nulls_ignored, setup),
        cmocka_unit_test_setup(test_whitespace_around_body, setup),
        cmocka_unit_test_setup(test_duplicate_channels_dropped, setup),
        cmocka_unit_test_setup(test_server_to_user_channel, setup),
        cmocka_unit_test_setup(test_data_string_byte_for_byte, setup),
        cmocka_unit_test_setup(test_data_non_string_serialized, setup),
        cmocka_unit_test_setup(test_batch_good, setup),
        cmocka_unit_test_setup(test_batch_without_info, setup),
        cmocka_unit_test_setup(test_malformed_json, setup),
        cmocka_unit_test_setup(test_trailing_nul_byte, setup),
        cmocka_unit_test_setup(test_invalid_utf8, setup),
        cmocka_unit_test_setup(test_deep_nesting, setup),
        cmocka_unit_test_setup(test_name_rules, setup),
        cmocka_unit_test_setup(test_data_rules, setup),
        cmocka_unit_test_setup(test_data_size_limit, setup),
        cmocka_unit_test_setup(test_channels_rules, setup),
        cmocka_unit_test_setup(test_socket_id_rules, setup),
        cmocka_unit_test_setup(test_info_rules, setup),
        cmocka_unit_test_setup(test_info_parse, setup),
        cmocka_unit_test_setup(test_batch_rules, setup),
        cmocka_unit_test_setup(test_unlimited, setup),
        cmocka_unit_test_setup(test_info_flags, setup),
        cmocka_unit_test_setup(test_server_to_user_rules, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
