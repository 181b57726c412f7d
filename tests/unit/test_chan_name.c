/* test_chan_name.c - gateway/pg_chan_name: classification (spec 5.1) and name rules (spec 5.2). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "pg_chan_name.h"

#define S(lit) lit, (sizeof lit - 1)

static unsigned classify(const char *name) { return pg_chan_classify(name, strlen(name)); }

static void test_classify_prefixes(void **state)
{
    (void)state;
    assert_int_equal(classify("private-encrypted-cache-x"),
                     PG_CHAN_PRIVATE | PG_CHAN_ENCRYPTED | PG_CHAN_CACHE);
    assert_int_equal(classify("private-encrypted-x"), PG_CHAN_PRIVATE | PG_CHAN_ENCRYPTED);
    assert_int_equal(classify("private-cache-x"), PG_CHAN_PRIVATE | PG_CHAN_CACHE);
    assert_int_equal(classify("private-x"), PG_CHAN_PRIVATE);
    assert_int_equal(classify("presence-cache-x"), PG_CHAN_PRESENCE | PG_CHAN_CACHE);
    assert_int_equal(classify("presence-x"), PG_CHAN_PRESENCE);
    assert_int_equal(classify("cache-x"), PG_CHAN_CACHE);
    assert_int_equal(classify("#server-to-user-42"), PG_CHAN_USER);
    assert_int_equal(classify("my-channel"), PG_CHAN_PUBLIC);
    assert_int_equal(classify("private-foobar"), PG_CHAN_PRIVATE);
    assert_int_equal(classify("presence-foobar"), PG_CHAN_PRESENCE);
    assert_int_equal(classify("private-encrypted-bla"), PG_CHAN_PRIVATE | PG_CHAN_ENCRYPTED);
}

static void test_classify_traps(void **state)
{
    (void)state;
    /* Unanchored matches (soketi) and dash-less prefixes (reverb) are not ours. */
    assert_int_equal(classify("foo-private-x"), PG_CHAN_PUBLIC);
    assert_int_equal(classify("foo-presence-x"), PG_CHAN_PUBLIC);
    assert_int_equal(classify("x-cache-y"), PG_CHAN_PUBLIC);
    assert_int_equal(classify("presence"), PG_CHAN_PUBLIC);
    assert_int_equal(classify("private"), PG_CHAN_PUBLIC);
    assert_int_equal(classify("cache"), PG_CHAN_PUBLIC);
    assert_int_equal(classify("privatex"), PG_CHAN_PUBLIC);
    assert_int_equal(classify("Private-x"), PG_CHAN_PUBLIC); /* case-sensitive */
    assert_int_equal(classify("private-encryptedx"), PG_CHAN_PRIVATE);
    assert_int_equal(classify("private-encrypted"), PG_CHAN_PRIVATE);
    assert_int_equal(classify("private-encrypted-cachex"), PG_CHAN_PRIVATE | PG_CHAN_ENCRYPTED);
    assert_int_equal(classify("private-cachex"), PG_CHAN_PRIVATE);
    assert_int_equal(classify("presence-cachex"), PG_CHAN_PRESENCE);
    assert_int_equal(classify("cache-private-x"), PG_CHAN_CACHE);
    assert_int_equal(classify("#server-to-user"), PG_CHAN_PUBLIC);
    assert_int_equal(classify("server-to-user-1"), PG_CHAN_PUBLIC);
    assert_int_equal(classify(""), PG_CHAN_PUBLIC);
    /* len bounds the match. */
    assert_int_equal(pg_chan_classify("private-x", 7), PG_CHAN_PUBLIC);
    assert_int_equal(pg_chan_classify("private-encrypted-x", 10), PG_CHAN_PRIVATE);
    /* Encrypted always implies private. */
    assert_true(classify("private-encrypted-cache-x") & PG_CHAN_PRIVATE);
}

static void test_name_allowed_chars(void **state)
{
    (void)state;
    static const char all[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-=@,.;";
    char one[2] = {0, 0};

    assert_int_equal(pg_chan_name_check(S(all), 200), 0);
    assert_int_equal(pg_chan_name_check(S("private-encrypted-bla"), 200), 0);
    assert_int_equal(pg_chan_name_check(S("presence-room@a=b,c.d;e"), -1), 0);

    for (int c = 1; c < 256; c++) {
        one[0] = (char)c;
        int want = strchr(all, c) ? 0 : -EINVAL;
        assert_int_equal(pg_chan_name_check(one, 1, 200), want);
    }
    assert_int_equal(pg_chan_name_check(S("a b"), 200), -EINVAL);
    assert_int_equal(pg_chan_name_check(S("a/b"), 200), -EINVAL);
    assert_int_equal(pg_chan_name_check(S("a:b"), 200), -EINVAL);
    assert_int_equal(pg_chan_name_check(S("caf\xc3\xa9"), 200), -EINVAL);
    assert_int_equal(pg_chan_name_check("a\0b", 3, 200), -EINVAL);
}

static void test_name_hash_reserved(void **state)
{
    (void)state;
    assert_int_equal(pg_chan_name_check(S("#server-to-user-42"), 200), 0);
    assert_int_equal(pg_chan_name_check(S("#server-to-user-a_b-c"), 200), 0);
    assert_int_equal(pg_chan_name_check(S("#server-to-user-"), 200), -EINVAL);
    assert_int_equal(pg_chan_name_check(S("#server-to-user-a b"), 200), -EINVAL);
    assert_int_equal(pg_chan_name_check(S("#server-to-user-#1"), 200), -EINVAL);
    assert_int_equal(pg_chan_name_check(S("#foo"), 200), -EINVAL);
    assert_int_equal(pg_chan_name_check(S("#server-to-user"), 200), -EINVAL);
    assert_int_equal(pg_chan_name_check(S("private-#x"), 200), -EINVAL);
    assert_int_equal(pg_chan_name_check(S("x#server-to-user-1"), 200), -EINVAL);
}

static void test_name_length_and_empty(void **state)
{
    (void)state;
    char name[202];

    memset(name, 'a', sizeof name);
    assert_int_equal(pg_chan_name_check(name, 200, 200), 0);
    assert_int_equal(pg_chan_name_check(name, 201, 200), -ENAMETOOLONG);
    assert_int_equal(pg_chan_name_check(name, 165, 164), -ENAMETOOLONG);
    assert_int_equal(pg_chan_name_check(name, 164, 164), 0);
    assert_int_equal(pg_chan_name_check(name, 202, -1), 0); /* no limit */
    assert_int_equal(pg_chan_name_check("", 0, 200), -EINVAL);
    assert_int_equal(pg_chan_name_check("", 0, -1), -EINVAL);
    assert_int_equal(pg_chan_name_check(NULL, 0, 200), -EINVAL);
}

static void test_event_name(void **state)
{
    (void)state;
    char name[201];

    memset(name, 'e', sizeof name);
    assert_int_equal(pg_event_name_check(S("my-event"), 200), 0);
    assert_int_equal(pg_event_name_check(S("client-typing"), 200), 0);
    assert_int_equal(pg_event_name_check(S("with space/and:colon"), 200), 0);
    assert_int_equal(pg_event_name_check(name, 200, 200), 0);
    assert_int_equal(pg_event_name_check(name, 201, 200), -ENAMETOOLONG);
    assert_int_equal(pg_event_name_check(name, 201, -1), 0);
    assert_int_equal(pg_event_name_check("", 0, 200), -EINVAL);
    assert_int_equal(pg_event_name_check(NULL, 0, 200), -EINVAL);
}

static void test_user_id(void **state)
{
    (void)state;
    static const char name[] = "#server-to-user-12345";
    size_t idlen = 0;
    const char *id = pg_chan_user_id(S(name), &idlen);

    assert_ptr_equal(id, name + 16);
    assert_int_equal(idlen, 5);
    assert_memory_equal(id, "12345", 5);

    idlen = 99;
    assert_null(pg_chan_user_id(S("#server-to-user-"), &idlen));
    assert_int_equal(idlen, 99);
    assert_null(pg_chan_user_id(S("private-12345"), &idlen));
    assert_null(pg_chan_user_id(S("#server-to-use"), &idlen));
    assert_null(pg_chan_user_id(S("x#server-to-user-1"), &idlen));
    assert_null(pg_chan_user_id("", 0, &idlen));
    id = pg_chan_user_id("#server-to-user-7xyz", 17, &idlen);
    assert_non_null(id);
    assert_int_equal(idlen, 1);
    assert_int_equal(id[0], '7');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_prefixes),
        cmocka_unit_test(test_classify_traps),
        cmocka_unit_test(test_name_allowed_chars),
        cmocka_unit_test(test_name_hash_reserved),
        cmocka_unit_test(test_name_length_and_empty),
        cmocka_unit_test(test_event_name),
        cmocka_unit_test(test_user_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
