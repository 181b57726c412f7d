/* test_cluster_state.c - the pure parts of the cluster state: rosters and member data built from
 * what the Redis scripts return (pg_cstate), and the registry's cluster mode (pg_registry with a
 * sink): every change reported in order, presence joins deferred, the local fallback when the sink
 * refuses, no occupancy webhooks of its own, and the snapshot used by the resync. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg_buf.h"
#include "pg_cstate.h"
#include "pg_registry.h"

static void test_roster(void **state)
{
    (void)state;
    struct pg_cstate_member m[] = {
        {"X", 1, "{\"name\":\"x\"}", 12}, {"a\"b", 3, "null", 4}, {"7", 1, NULL, 0}};
    struct pg_buf b;
    pg_buf_init(&b);
    pg_cstate_roster(&b, m, 3);
    assert_string_equal(pg_buf_cstr(&b), "{\"presence\":{\"ids\":[\"X\",\"a\\\"b\",\"7\"],\"hash\":"
                                         "{\"X\":{\"name\":\"x\"},\"a\\\"b\":null,\"7\":null},"
                                         "\"count\":3}}");
    pg_buf_reset(&b);
    pg_cstate_roster(&b, NULL, 0);
    assert_string_equal(pg_buf_cstr(&b), "{\"presence\":{\"ids\":[],\"hash\":{},\"count\":0}}");
    pg_buf_dispose(&b);
}

static void test_member_data(void **state)
{
    (void)state;
    struct pg_cstate_member m = {"u1", 2, "[1,2]", 5};
    struct pg_buf b;
    pg_buf_init(&b);
    pg_cstate_member_data(&b, &m, 1);
    assert_string_equal(pg_buf_cstr(&b), "{\"user_id\":\"u1\",\"user_info\":[1,2]}");
    pg_buf_reset(&b);
    pg_cstate_member_data(&b, &m, 0);
    assert_string_equal(pg_buf_cstr(&b), "{\"user_id\":\"u1\"}");
    pg_buf_dispose(&b);
}

/* subscription_count in cluster mode follows single-node's throttle: up to 100 subscribers at
 * once, above that at most once per 5 s after the last send. */
static void test_count_throttle(void **state)
{
    (void)state;
    assert_true(pg_cstate_count_due(1, PG_CSTATE_NEVER, 0));
    assert_true(pg_cstate_count_due(101, PG_CSTATE_NEVER, 1000));
    assert_true(pg_cstate_count_due(100, 10000, 10001)); /* 100: never throttled */
    assert_false(pg_cstate_count_due(101, 10000, 10001));
    assert_false(pg_cstate_count_due(5000, 10000, 14999));
    assert_true(pg_cstate_count_due(101, 10000, 15000));
    assert_true(pg_cstate_count_due(101, 10000, 99999));
}

/* A sink that records "<op>:<channel>[:<user>[:<sid>]]" lines and answers `answer`. */
struct rec {
    char log[16][96];
    int n;
    int answer;
};

static int sink(void *ctx, const struct pg_registry_change *c)
{
    struct rec *r = ctx;
    static const char *ops[] = {"SUB", "UNSUB", "JOIN", "LEAVE"};
    if (r->n < 16)
        snprintf(r->log[r->n++], sizeof r->log[0], "%s:%.*s%s%.*s%s%s", ops[c->op], (int)c->len,
                 c->ch, c->uid ? ":" : "", c->uid ? (int)c->ulen : 0, c->uid ? c->uid : "",
                 c->sid ? ":" : "", c->sid ? c->sid : "");
    return r->answer;
}

static void test_registry_cluster_mode(void **state)
{
    (void)state;
    struct pg_registry *reg = pg_registry_create(2, NULL);
    struct rec r = {.answer = 0};
    pg_registry_set_cluster(reg, sink, &r);
    assert_int_equal(pg_registry_sub(reg, 0, "news", 4, 0), 1);
    /* a signed-in user's channel is cluster-wide (watchlist); other '#' channels stay local */
    assert_int_equal(pg_registry_sub(reg, 0, "#server-to-user-1", 17, 1), 1);
    assert_int_equal(pg_registry_sub(reg, 0, "#watch-1", 8, 1), 1); /* node-local */
    assert_int_equal(pg_registry_unsub(reg, 0, "news", 4, 0), 0);
    struct pg_buf roster;
    pg_buf_init(&roster);
    assert_int_equal(
        pg_registry_presence_join(reg, 0, "presence-r", 10, 1, "1.2", "U", 1, "{}", 2, -1, &roster),
        PG_REGISTRY_DEFERRED);
    assert_int_equal(roster.len, 0); /* the cluster answers */
    assert_int_equal(pg_registry_presence_leave(reg, 0, "presence-r", 10, 1, "U", 1), 1);
    assert_int_equal(r.n, 5);
    assert_string_equal(r.log[0], "SUB:news");
    assert_string_equal(r.log[1], "SUB:#server-to-user-1");
    assert_string_equal(r.log[2], "UNSUB:news");
    assert_string_equal(r.log[3], "JOIN:presence-r:U:1.2");
    assert_string_equal(r.log[4], "LEAVE:presence-r:U");

    /* The sink refuses (no Redis link): the local roster, as on a single node. */
    r.answer = -ENOTCONN;
    assert_int_equal(
        pg_registry_presence_join(reg, 0, "presence-r", 10, 0, "1.3", "V", 1, NULL, 0, -1, &roster),
        1);
    assert_string_equal(pg_buf_cstr(&roster),
                        "{\"presence\":{\"ids\":[\"V\"],\"hash\":{\"V\":null},\"count\":1}}");
    pg_buf_dispose(&roster);
    pg_registry_presence_leave(reg, 0, "presence-r", 10, 0, "V", 1);
    pg_registry_unsub(reg, 0, "#server-to-user-1", 17, 1);
    pg_registry_unsub(reg, 0, "#watch-1", 8, 1);
    pg_registry_destroy(reg);
}

struct snap {
    int begun, chans, members;
    long subs, conns;
};

static void snap_begin(void *ctx) { ((struct snap *)ctx)->begun++; }

static void snap_chan(void *ctx, int app, const char *ch, size_t len, long subs)
{
    struct snap *s = ctx;
    (void)app;
    assert_true(s->begun == 1);
    assert_true(len > 0 && (ch[0] != '#' || (len > 16 && memcmp(ch, "#server-to-user-", 16) == 0)));
    s->chans++;
    s->subs += subs;
}

static void snap_member(void *ctx, int app, const char *ch, size_t len, const char *uid,
                        size_t ulen, const char *info, size_t ilen, long conns)
{
    struct snap *s = ctx;
    (void)app, (void)ch, (void)len, (void)info, (void)ilen;
    assert_memory_equal(uid, "U", ulen);
    s->members++;
    s->conns += conns;
}

static void test_snapshot(void **state)
{
    (void)state;
    struct pg_registry *reg = pg_registry_create(2, NULL);
    struct rec r = {.answer = 0};
    pg_registry_set_cluster(reg, sink, &r);
    pg_registry_sub(reg, 0, "a", 1, 0);
    pg_registry_sub(reg, 0, "a", 1, 1);
    pg_registry_sub(reg, 1, "b", 1, 0);
    pg_registry_sub(reg, 0, "#server-to-user-9", 17, 0); /* cluster-wide: in the snapshot */
    pg_registry_sub(reg, 0, "#watch-9", 8, 0);           /* node-local: not */
    pg_registry_presence_join(reg, 0, "presence-p", 10, 0, "1.1", "U", 1, NULL, 0, -1, NULL);
    pg_registry_presence_join(reg, 0, "presence-p", 10, 1, "1.2", "U", 1, NULL, 0, -1, NULL);
    struct snap s = {0};
    pg_registry_snapshot(reg, snap_begin, snap_chan, snap_member, &s);
    assert_int_equal(s.begun, 1);
    assert_int_equal(s.chans, 4);
    assert_int_equal(s.subs, 6);
    assert_int_equal(s.members, 1);
    assert_int_equal(s.conns, 2);
    pg_registry_destroy(reg);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_roster),         cmocka_unit_test(test_member_data),
        cmocka_unit_test(test_count_throttle), cmocka_unit_test(test_registry_cluster_mode),
        cmocka_unit_test(test_snapshot),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
