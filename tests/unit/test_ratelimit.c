/* test_ratelimit.c - token bucket (pg_ratelimit) with explicit times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pg_ratelimit.h"

static void test_burst_then_refill(void **state)
{
    (void)state;
    struct pg_ratelimit rl;
    int64_t wait = -1;
    pg_ratelimit_init(&rl, 10);
    /* starts full: 10 at once */
    for (int i = 0; i < 10; i++)
        assert_int_equal(pg_ratelimit_take(&rl, 1, 1000, &wait), 1);
    assert_int_equal(pg_ratelimit_take(&rl, 1, 1000, &wait), 0);
    assert_int_equal(wait, 100); /* one token every 100 ms */
    assert_int_equal(pg_ratelimit_take(&rl, 1, 1099, &wait), 0);
    assert_int_equal(wait, 1);
    assert_int_equal(pg_ratelimit_take(&rl, 1, 1100, &wait), 1);
    assert_int_equal(pg_ratelimit_take(&rl, 1, 1100, &wait), 0);
    /* a long pause refills to the burst, not beyond */
    for (int i = 0; i < 10; i++)
        assert_int_equal(pg_ratelimit_take(&rl, 1, 60000, NULL), 1);
    assert_int_equal(pg_ratelimit_take(&rl, 1, 60000, NULL), 0);
}

static void test_cost(void **state)
{
    (void)state;
    struct pg_ratelimit rl;
    int64_t wait = 0;
    pg_ratelimit_init(&rl, 10);
    assert_int_equal(pg_ratelimit_take(&rl, 7, 0, &wait), 1);
    assert_int_equal(pg_ratelimit_take(&rl, 4, 0, &wait), 0); /* 3 left: nothing taken */
    assert_int_equal(wait, 100);
    assert_int_equal(pg_ratelimit_take(&rl, 3, 0, &wait), 1);
    assert_int_equal(pg_ratelimit_take(&rl, 5, 0, &wait), 0);
    assert_int_equal(wait, 500);
    assert_int_equal(pg_ratelimit_take(&rl, 5, 500, &wait), 1);
    /* bigger than the burst: never passes; wait names the time to a full bucket */
    assert_int_equal(pg_ratelimit_take(&rl, 11, 500, &wait), 0);
    assert_int_equal(wait, 1000);
    assert_int_equal(pg_ratelimit_take(&rl, 11, 100000, &wait), 0);
    assert_int_equal(wait, 1);
    assert_int_equal(pg_ratelimit_take(&rl, 10, 100000, &wait), 1);
    /* zero cost always passes */
    assert_int_equal(pg_ratelimit_take(&rl, 0, 100000, &wait), 1);
}

static void test_fractional_rate(void **state)
{
    (void)state;
    struct pg_ratelimit rl;
    int64_t wait = 0;
    pg_ratelimit_init(&rl, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pg_ratelimit_take(&rl, 1, 0, NULL), 1);
    assert_int_equal(pg_ratelimit_take(&rl, 1, 0, &wait), 0);
    assert_int_equal(wait, 334); /* 333.3 ms, rounded up */
    assert_int_equal(pg_ratelimit_take(&rl, 1, 333, &wait), 0);
    assert_int_equal(wait, 1);
    assert_int_equal(pg_ratelimit_take(&rl, 1, 334, &wait), 1);
}

static void test_unlimited_and_zero(void **state)
{
    (void)state;
    struct pg_ratelimit rl;
    int64_t wait = 0;
    pg_ratelimit_init(&rl, -1);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(pg_ratelimit_take(&rl, 100, 0, &wait), 1);
    pg_ratelimit_init(&rl, 0);
    assert_int_equal(pg_ratelimit_take(&rl, 1, 0, &wait), 0);
    assert_int_equal(wait, 1000);
    assert_int_equal(pg_ratelimit_take(&rl, 1, 1000000, &wait), 0);
}

static void test_clock_going_back(void **state)
{
    (void)state;
    struct pg_ratelimit rl;
    int64_t wait = 0;
    pg_ratelimit_init(&rl, 2);
    assert_int_equal(pg_ratelimit_take(&rl, 2, 5000, NULL), 1);
    /* an earlier time counts as no time passed */
    assert_int_equal(pg_ratelimit_take(&rl, 1, 1000, &wait), 0);
    assert_int_equal(wait, 500);
    assert_int_equal(pg_ratelimit_take(&rl, 1, 5499, &wait), 0);
    assert_int_equal(pg_ratelimit_take(&rl, 1, 5500, &wait), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refill), cmocka_unit_test(test_cost),
        cmocka_unit_test(test_fractional_rate),   cmocka_unit_test(test_unlimited_and_zero),
        cmocka_unit_test(test_clock_going_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
