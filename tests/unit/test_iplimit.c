/* test_iplimit.c - per-IP connection limits: concurrency cap, rate bucket, purge. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pg_iplimit.h"

static void test_concurrency_cap(void **state)
{
    (void)state;
    struct pg_iplimit *l = pg_iplimit_create(2, -1);
    assert_non_null(l);
    assert_int_equal(pg_iplimit_enter(l, "10.0.0.1", 0), 0);
    assert_int_equal(pg_iplimit_enter(l, "10.0.0.1", 0), 0);
    assert_int_equal(pg_iplimit_enter(l, "10.0.0.1", 0), -EMFILE);
    /* Another address is not affected. */
    assert_int_equal(pg_iplimit_enter(l, "10.0.0.2", 0), 0);
    pg_iplimit_leave(l, "10.0.0.1");
    assert_int_equal(pg_iplimit_enter(l, "10.0.0.1", 0), 0);
    pg_iplimit_destroy(l);
}

static void test_rate_bucket(void **state)
{
    (void)state;
    struct pg_iplimit *l = pg_iplimit_create(-1, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pg_iplimit_enter(l, "::1", 1000), 0);
    assert_int_equal(pg_iplimit_enter(l, "::1", 1000), -EAGAIN);
    /* A third of a second refills one token at 3 per second. */
    assert_int_equal(pg_iplimit_enter(l, "::1", 1334), 0);
    assert_int_equal(pg_iplimit_enter(l, "::1", 1334), -EAGAIN);
    /* Closing connections does not refill the rate bucket. */
    pg_iplimit_leave(l, "::1");
    assert_int_equal(pg_iplimit_enter(l, "::1", 1334), -EAGAIN);
    pg_iplimit_destroy(l);
}

static void test_purge_keeps_busy_ips(void **state)
{
    (void)state;
    struct pg_iplimit *l = pg_iplimit_create(5, 5);
    assert_int_equal(pg_iplimit_enter(l, "1.1.1.1", 0), 0);
    assert_int_equal(pg_iplimit_enter(l, "2.2.2.2", 0), 0);
    pg_iplimit_leave(l, "2.2.2.2");
    assert_int_equal(pg_iplimit_size(l), 2);
    /* Right away the idle IP's bucket is not full yet: kept. */
    assert_int_equal(pg_iplimit_purge(l, 0), 0);
    /* One second later it is refilled and idle: dropped; the busy one stays. */
    assert_int_equal(pg_iplimit_purge(l, 1000), 1);
    assert_int_equal(pg_iplimit_size(l), 1);
    pg_iplimit_leave(l, "1.1.1.1");
    assert_int_equal(pg_iplimit_purge(l, 2000), 1);
    assert_int_equal(pg_iplimit_size(l), 0);
    pg_iplimit_destroy(l);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_concurrency_cap),
        cmocka_unit_test(test_rate_bucket),
        cmocka_unit_test(test_purge_keeps_busy_ips),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
