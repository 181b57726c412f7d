/* test_cache.c - last event of cache channels (pg_cache; spec 4.8, 9.6). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg_buf.h"
#include "pg_cache.h"
#include "pg_frame.h"
#include "pg_msg.h"

#define CH "cache-x"
#define CHL (sizeof CH - 1)

static struct pg_msg *frame(const char *ch, const char *data)
{
    struct pg_msg *m = pg_frame_str("ev", ch, strlen(ch), data, strlen(data));
    assert_non_null(m);
    return m;
}

static int put(struct pg_cache *c, int app, const char *ch, const char *data, int64_t now,
               int64_t ttl)
{
    struct pg_msg *m = frame(ch, data);
    int rc = pg_cache_put(c, app, ch, strlen(ch), m, data, strlen(data), now, ttl);
    pg_msg_unref(m); /* the cache keeps its own copy */
    return rc;
}

static void expect_frame(struct pg_msg *m, const char *ch, const char *data)
{
    struct pg_msg *want = frame(ch, data);
    assert_non_null(m);
    assert_int_equal(m->refs, 1);
    assert_int_equal(m->len, want->len);
    assert_memory_equal(pg_msg_data(m), pg_msg_data(want), want->len);
    assert_int_equal(pg_msg_data(m)[m->len], 0);
    pg_msg_unref(want);
    pg_msg_unref(m);
}

static void test_create_destroy(void **state)
{
    (void)state;
    pg_cache_destroy(NULL);
    struct pg_cache *c = pg_cache_create();
    assert_non_null(c);
    assert_null(pg_cache_get(c, 0, CH, CHL, 0));
    assert_int_equal(pg_cache_purge(c, 0), 0);
    pg_cache_destroy(c);
}

static void test_put_get(void **state)
{
    (void)state;
    struct pg_cache *c = pg_cache_create();
    assert_int_equal(put(c, 0, CH, "{\"a\":1}", 1000, 60000), 0);
    expect_frame(pg_cache_get(c, 0, CH, CHL, 1000), CH, "{\"a\":1}");
    /* every get is a fresh message */
    struct pg_msg *a = pg_cache_get(c, 0, CH, CHL, 2000), *b = pg_cache_get(c, 0, CH, CHL, 2000);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    pg_msg_unref(a);
    pg_msg_unref(b);
    /* other names miss, prefixes and extensions too */
    assert_null(pg_cache_get(c, 0, "cache-", 6, 1000));
    assert_null(pg_cache_get(c, 0, "cache-xy", 8, 1000));
    pg_cache_destroy(c); /* frees live entries */
}

static void test_replace(void **state)
{
    (void)state;
    struct pg_cache *c = pg_cache_create();
    assert_int_equal(put(c, 0, CH, "first", 0, 10000), 0);
    assert_int_equal(put(c, 0, CH, "second", 5000, 10000), 0);
    expect_frame(pg_cache_get(c, 0, CH, CHL, 5000), CH, "second");
    /* the replacement carries its own expiry: alive after the first would have expired */
    expect_frame(pg_cache_get(c, 0, CH, CHL, 12000), CH, "second");
    struct pg_buf b;
    pg_buf_init(&b);
    assert_int_equal(pg_cache_info(c, 0, CH, CHL, 12000, &b), 0);
    assert_string_equal(pg_buf_cstr(&b), "{\"data\":\"second\",\"ttl\":3}");
    pg_buf_dispose(&b);
    assert_int_equal(pg_cache_purge(c, 12000), 0);
    pg_cache_destroy(c);
}

static void test_expiry(void **state)
{
    (void)state;
    struct pg_cache *c = pg_cache_create();
    assert_int_equal(put(c, 0, CH, "d", 1000, 3000), 0);
    expect_frame(pg_cache_get(c, 0, CH, CHL, 3999), CH, "d");
    assert_null(pg_cache_get(c, 0, CH, CHL, 4000)); /* now >= expiry: gone */
    assert_null(pg_cache_get(c, 0, CH, CHL, 100000));
    struct pg_buf b;
    pg_buf_init(&b);
    assert_int_equal(pg_cache_info(c, 0, CH, CHL, 4000, &b), -ENOENT);
    assert_int_equal(b.len, 0);
    pg_buf_dispose(&b);
    /* a put after expiry starts over */
    assert_int_equal(put(c, 0, CH, "e", 5000, 3000), 0);
    expect_frame(pg_cache_get(c, 0, CH, CHL, 5000), CH, "e");
    /* ttl <= 0 keeps nothing and forgets what was there */
    assert_int_equal(put(c, 0, CH, "f", 5000, 0), 0);
    assert_null(pg_cache_get(c, 0, CH, CHL, 5000));
    pg_cache_destroy(c);
}

static void test_purge(void **state)
{
    (void)state;
    struct pg_cache *c = pg_cache_create();
    char name[32];
    /* enough entries to grow every stripe's table a few times */
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof name, "cache-%d", i);
        assert_int_equal(put(c, i % 3, name, "x", 0, i % 2 ? 10000 : 5000), 0);
    }
    assert_int_equal(pg_cache_purge(c, 4999), 0);
    assert_int_equal(pg_cache_purge(c, 5000), 1000);
    assert_int_equal(pg_cache_purge(c, 5000), 0);
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof name, "cache-%d", i);
        struct pg_msg *m = pg_cache_get(c, i % 3, name, strlen(name), 6000);
        if (i % 2)
            expect_frame(m, name, "x");
        else
            assert_null(m);
    }
    assert_int_equal(pg_cache_purge(c, 10000), 1000);
    assert_null(pg_cache_get(c, 1, "cache-1", 7, 0)); /* purged: gone even at an earlier time */
    pg_cache_destroy(c);
}

static void test_info(void **state)
{
    (void)state;
    struct pg_cache *c = pg_cache_create();
    struct pg_buf b;
    pg_buf_init(&b);
    const char *data = "{\"msg\":\"a \\\"quoted\\\" line\\n\"}\x01";
    assert_int_equal(put(c, 0, CH, data, 0, 60000), 0);
    assert_int_equal(pg_cache_info(c, 0, CH, CHL, 0, &b), 0);
    assert_string_equal(pg_buf_cstr(&b),
                        "{\"data\":\"{\\\"msg\\\":\\\"a \\\\\\\"quoted\\\\\\\" line\\\\n\\\"}"
                        "\\u0001\",\"ttl\":60}");
    /* whole seconds rounded up, at least 1 */
    pg_buf_reset(&b);
    assert_int_equal(pg_cache_info(c, 0, CH, CHL, 500, &b), 0);
    assert_non_null(strstr(pg_buf_cstr(&b), "\"ttl\":60}"));
    pg_buf_reset(&b);
    assert_int_equal(pg_cache_info(c, 0, CH, CHL, 1000, &b), 0);
    assert_non_null(strstr(pg_buf_cstr(&b), "\"ttl\":59}"));
    pg_buf_reset(&b);
    assert_int_equal(pg_cache_info(c, 0, CH, CHL, 59999, &b), 0);
    assert_non_null(strstr(pg_buf_cstr(&b), "\"ttl\":1}"));
    /* appends: the caller's prefix stays */
    pg_buf_reset(&b);
    pg_buf_puts(&b, "{\"cache\":");
    assert_int_equal(pg_cache_info(c, 0, CH, CHL, 0, &b), 0);
    assert_int_equal(strncmp(pg_buf_cstr(&b), "{\"cache\":{\"data\":", 17), 0);
    pg_buf_reset(&b);
    assert_int_equal(pg_cache_info(c, 0, "cache-y", 7, 0, &b), -ENOENT);
    assert_int_equal(b.len, 0);
    /* data with NUL bytes: dlen counts */
    struct pg_msg *m = pg_frame_str("ev", "cache-z", 7, "a\0b", 3);
    assert_int_equal(pg_cache_put(c, 0, "cache-z", 7, m, "a\0b", 3, 0, 1000), 0);
    pg_msg_unref(m);
    assert_int_equal(pg_cache_info(c, 0, "cache-z", 7, 0, &b), 0);
    assert_string_equal(pg_buf_cstr(&b), "{\"data\":\"a\\u0000b\",\"ttl\":1}");
    pg_buf_dispose(&b);
    pg_cache_destroy(c);
}

static void test_apps_apart(void **state)
{
    (void)state;
    struct pg_cache *c = pg_cache_create();
    assert_int_equal(put(c, 0, CH, "app0", 0, 10000), 0);
    assert_null(pg_cache_get(c, 1, CH, CHL, 0));
    assert_int_equal(put(c, 1, CH, "app1", 0, 20000), 0);
    expect_frame(pg_cache_get(c, 0, CH, CHL, 0), CH, "app0");
    expect_frame(pg_cache_get(c, 1, CH, CHL, 0), CH, "app1");
    assert_int_equal(pg_cache_purge(c, 15000), 1);
    assert_null(pg_cache_get(c, 0, CH, CHL, 0));
    expect_frame(pg_cache_get(c, 1, CH, CHL, 15000), CH, "app1");
    pg_cache_destroy(c);
}

/* ---- 4 threads: 2 writers, 2 readers on a handful of shared names ---- */

struct thr {
    struct pg_cache *c;
    int id;
    atomic_int *bad;
};

static void *run(void *arg)
{
    struct thr *t = arg;
    char name[16], data[32];
    for (int i = 0; i < 20000; i++) {
        int k = i % 8;
        snprintf(name, sizeof name, "cache-%d", k);
        if (t->id < 2) {
            snprintf(data, sizeof data, "w%d-%d", t->id, i);
            struct pg_msg *m = pg_frame_str("ev", name, strlen(name), data, strlen(data));
            if (!m || pg_cache_put(t->c, 0, name, strlen(name), m, data, strlen(data), i, 1000000))
                atomic_fetch_add(t->bad, 1);
            pg_msg_unref(m);
        } else {
            struct pg_msg *m = pg_cache_get(t->c, 0, name, strlen(name), i);
            /* a hit is always a whole frame of this channel */
            if (m && (m->refs != 1 || !strstr((const char *)pg_msg_data(m), name) ||
                      pg_msg_data(m)[m->len - 1] != '}'))
                atomic_fetch_add(t->bad, 1);
            pg_msg_unref(m);
            if (i % 1000 == 0)
                pg_cache_purge(t->c, 0);
        }
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    struct pg_cache *c = pg_cache_create();
    atomic_int bad = 0;
    pthread_t th[4];
    struct thr t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (struct thr){.c = c, .id = i, .bad = &bad};
        assert_int_equal(pthread_create(&th[i], NULL, run, &t[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&bad), 0);
    for (int k = 0; k < 8; k++) {
        char name[16];
        snprintf(name, sizeof name, "cache-%d", k);
        struct pg_msg *m = pg_cache_get(c, 0, name, strlen(name), 0);
        assert_non_null(m);
        pg_msg_unref(m);
    }
    pg_cache_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_destroy), cmocka_unit_test(test_put_get),
        cmocka_unit_test(test_replace),        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_purge),          cmocka_unit_test(test_info),
        cmocka_unit_test(test_apps_apart),     cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
