/* test_debug.c - the debug console's stream (pg_debug): nothing when the console is off or nobody
 * watches, the frame and its fields, '#' channels skipped, data cut on a UTF-8 boundary, REST
 * triggers, and the inbox bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "pg_bus.h"
#include "pg_debug.h"
#include "pg_registry.h"
#include "pg_server.h"
#include "pg_trigger.h"

#define APP 1
#define WATCHER 1 /* the worker holding the console's socket */

struct fixture {
    struct pg_config cfg;
    struct pg_server srv;
};

static struct fixture *setup(size_t soft_bytes)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->cfg.debug_console = true;
    f->srv.cfg = &f->cfg;
    f->srv.nworkers = 2;
    f->srv.bus = pg_bus_create(2, soft_bytes);
    f->srv.reg = pg_registry_create(2, f->srv.bus);
    assert_non_null(f->srv.bus);
    assert_non_null(f->srv.reg);
    assert_int_equal(
        pg_registry_sub(f->srv.reg, APP, PG_DEBUG_CHANNEL, PG_DEBUG_CHANNEL_LEN, WATCHER), 1);
    return f;
}

static void teardown(struct fixture *f)
{
    pg_registry_destroy(f->srv.reg);
    pg_bus_destroy(f->srv.bus);
    free(f);
}

static size_t drain_count(struct pg_bus *b, unsigned w)
{
    size_t n = 0;
    for (struct pg_bus_item *it = pg_bus_take(b, w), *next; it; it = next) {
        next = it->next;
        pg_bus_item_free(it);
        n++;
    }
    return n;
}

/* Takes exactly one mirrored event from the watcher's inbox and returns its decoded data object
 * (caller puts it). Checks the frame around it. */
static json_object *take_one(struct fixture *f)
{
    struct pg_bus_item *it = pg_bus_take(f->srv.bus, WATCHER);
    assert_non_null(it);
    assert_null(it->next);
    assert_int_equal(it->kind, PG_BUS_EVENT);
    assert_int_equal(it->app, APP);
    assert_string_equal(it->channel, PG_DEBUG_CHANNEL);
    assert_string_equal(it->except, "");
    json_object *frame = json_tokener_parse((const char *)pg_msg_data(it->msg));
    assert_non_null(frame);
    assert_string_equal(json_object_get_string(json_object_object_get(frame, "event")),
                        PG_DEBUG_EVENT);
    assert_string_equal(json_object_get_string(json_object_object_get(frame, "channel")),
                        PG_DEBUG_CHANNEL);
    json_object *jd = json_object_object_get(frame, "data");
    assert_true(json_object_is_type(jd, json_type_string)); /* a JSON string, as Pusher's data */
    json_object *d = json_tokener_parse(json_object_get_string(jd));
    assert_non_null(d);
    assert_true(json_object_is_type(json_object_object_get(d, "time"), json_type_int));
    json_object_put(frame);
    pg_bus_item_free(it);
    assert_int_equal(drain_count(f->srv.bus, 0), 0); /* nobody watches on worker 0 */
    return d;
}

static const char *member(json_object *d, const char *key)
{
    json_object *v = json_object_object_get(d, key);
    return v ? json_object_get_string(v) : NULL;
}

static void test_off_or_unwatched(void **state)
{
    (void)state;
    struct fixture *f = setup(1 << 20);
    f->cfg.debug_console = false;
    pg_debug_mirror(&f->srv, APP, "connected", PG_DBG_SID("1.1"), PG_DBG_END);
    assert_int_equal(drain_count(f->srv.bus, WATCHER), 0);

    f->cfg.debug_console = true;
    pg_debug_mirror(&f->srv, APP + 1, "connected", PG_DBG_SID("1.1"), PG_DBG_END); /* other app */
    assert_int_equal(drain_count(f->srv.bus, WATCHER), 0);

    pg_registry_unsub(f->srv.reg, APP, PG_DEBUG_CHANNEL, PG_DEBUG_CHANNEL_LEN, WATCHER);
    pg_debug_mirror(&f->srv, APP, "connected", PG_DBG_SID("1.1"), PG_DBG_END); /* console gone */
    assert_int_equal(drain_count(f->srv.bus, WATCHER), 0);
    teardown(f);
}

static void test_fields(void **state)
{
    (void)state;
    struct fixture *f = setup(1 << 20);
    pg_debug_mirror(&f->srv, APP, "client_event", PG_DBG_C("private-chat"),
                    PG_DBG_S("event", "client-typing"), PG_DBG_SID("12.34"),
                    PG_DBG_S("user_id", NULL), PG_DBG_D("data", "{\"a\":\"\\\"q\"}", 11),
                    PG_DBG_END);
    json_object *d = take_one(f);
    assert_string_equal(member(d, "type"), "client_event");
    assert_string_equal(member(d, "channel"), "private-chat");
    assert_string_equal(member(d, "event"), "client-typing");
    assert_string_equal(member(d, "socket_id"), "12.34");
    assert_null(json_object_object_get(d, "user_id")); /* NULL values are left out */
    assert_string_equal(member(d, "data"), "{\"a\":\"\\\"q\"}");
    assert_null(json_object_object_get(d, "truncated"));
    json_object_put(d);
    teardown(f);
}

static void test_internal_channels_skipped(void **state)
{
    (void)state;
    struct fixture *f = setup(1 << 20);
    pg_debug_mirror(&f->srv, APP, "subscribed", PG_DBG_SID("1.1"), PG_DBG_C("#debug"), PG_DBG_END);
    pg_debug_mirror(&f->srv, APP, "subscribed", PG_DBG_SID("1.1"), PG_DBG_C("#server-to-user-42"),
                    PG_DBG_END);
    assert_int_equal(drain_count(f->srv.bus, WATCHER), 0);
    teardown(f);
}

static void test_cut(void **state)
{
    (void)state;
    assert_int_equal(pg_debug__cut("abc", 3, 10), 3);
    assert_int_equal(pg_debug__cut("abcdef", 6, 4), 4);
    /* "a\xc3\xa9b": cutting at 2 would split the 2-byte sequence */
    assert_int_equal(pg_debug__cut("a\xc3\xa9"
                                   "b",
                                   4, 2),
                     1);
    assert_int_equal(pg_debug__cut("a\xc3\xa9"
                                   "b",
                                   4, 3),
                     3);
    /* a 4-byte sequence at the cut */
    assert_int_equal(pg_debug__cut("ab\xf0\x9f\x98\x80", 6, 5), 2);
}

static void test_data_truncated(void **state)
{
    (void)state;
    struct fixture *f = setup(1 << 20);
    char big[3001];
    for (size_t i = 0; i + 1 < sizeof big; i += 3)
        memcpy(big + i, "\xe2\x82\xac", 3); /* EUR sign, 3 bytes */
    big[3000] = '\0';
    pg_debug_mirror(&f->srv, APP, "client_event", PG_DBG_C("private-x"),
                    PG_DBG_D("data", big, 3000), PG_DBG_END);
    json_object *d = take_one(f); /* json-c parsed it: still valid UTF-8 */
    const char *data = member(d, "data");
    assert_true(strlen(data) <= PG_DEBUG_DATA_MAX);
    assert_int_equal(strlen(data) % 3, 0);
    assert_true(json_object_get_boolean(json_object_object_get(d, "truncated")));
    assert_int_equal(json_object_get_int(json_object_object_get(d, "size")), 3000);
    json_object_put(d);
    teardown(f);
}

static void test_trigger(void **state)
{
    (void)state;
    struct fixture *f = setup(1 << 20);
    struct pg_trigger_chan chans[] = {{"#server-to-user-7", 17, 0}, {"orders", 6, 0}, {"b", 1, 0}};
    struct pg_trigger_event ev[] = {
        {.name = "created",
         .nlen = 7,
         .data = "{\"id\":1}",
         .dlen = 8,
         .chans = chans,
         .nchan = 3,
         .socket_id = "5.6",
         .slen = 3},
        {.name = "to-user", .nlen = 7, .data = "x", .dlen = 1, .chans = chans, .nchan = 1},
        {.name = "secret",
         .nlen = 6,
         .data = "plain",
         .dlen = 5,
         .chans = chans + 1,
         .nchan = 1,
         .encrypt = true},
    };
    struct pg_trigger t = {.ev = ev, .nev = 3};
    pg_debug_trigger(&f->srv, APP, &t);

    struct pg_bus_item *it = pg_bus_take(f->srv.bus, WATCHER);
    assert_non_null(it);
    assert_non_null(it->next);   /* events 1 and 3 */
    assert_null(it->next->next); /* event 2 only went to a '#' channel */
    json_object *frame = json_tokener_parse((const char *)pg_msg_data(it->msg));
    json_object *d =
        json_tokener_parse(json_object_get_string(json_object_object_get(frame, "data")));
    assert_string_equal(member(d, "type"), "api_message");
    assert_string_equal(member(d, "event"), "created");
    assert_string_equal(member(d, "data"), "{\"id\":1}");
    assert_string_equal(member(d, "socket_id"), "5.6");
    json_object *jc = json_object_object_get(d, "channels");
    assert_int_equal(json_object_array_length(jc), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(jc, 0)), "orders");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(jc, 1)), "b");
    json_object_put(d);
    json_object_put(frame);

    frame = json_tokener_parse((const char *)pg_msg_data(it->next->msg));
    d = json_tokener_parse(json_object_get_string(json_object_object_get(frame, "data")));
    assert_string_equal(member(d, "event"), "secret");
    assert_null(strstr(member(d, "data"), "plain")); /* gateway-encrypted plaintext stays hidden */
    json_object_put(d);
    json_object_put(frame);
    pg_bus_item_free(it->next);
    pg_bus_item_free(it);
    teardown(f);
}

static void test_inbox_bound(void **state)
{
    (void)state;
    struct fixture *f = setup(64); /* one mirrored frame puts the inbox over its bound */
    for (int i = 0; i < 5; i++)
        pg_debug_mirror(&f->srv, APP, "connected", PG_DBG_SID("1.1"), PG_DBG_END);
    assert_int_equal(drain_count(f->srv.bus, WATCHER), 1);
    teardown(f);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_off_or_unwatched),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_internal_channels_skipped),
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_data_truncated),
        cmocka_unit_test(test_trigger),
        cmocka_unit_test(test_inbox_bound),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
