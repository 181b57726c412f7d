/* test_srv_hooks_store.c - the webhook engine (pg_hooks.c) with a store, as in cluster mode, on a
 * fake transport, store and clock: every due batch is formed and stored before its first attempt
 * (also while the head batch is being retried), batches still go one at a time in order, finished
 * ones are reported to the store, adopted batches (a dead node's) are sent with their own bytes and
 * keep their age for the retry window, and at shutdown stored batches are not counted as dropped.
 * The Redis side (srv_hook_redis.c) is covered by tests/e2e/19-cluster-webhooks.test.js.
 */
#include "test_srv_hooks_util.h"

#include "pg_hooks_int.h"

static int64_t t_mono, t_wall;
static int64_t fake_mono(void) { return t_mono; }
static int64_t fake_wall(void) { return t_wall; }

#define MAX 32
static struct {
    struct pg_hook_batch *started[MAX];
    size_t nstarted;
    struct pg_hook_batch *stored[MAX];
    size_t nstored;
    char finished[MAX][48];
    size_t nfinished;
    bool store_up;
} fk;

static int fake_start(void *ctx, struct pg_hook_batch *b)
{
    (void)ctx;
    assert_true(fk.nstarted < MAX);
    /* stored before its first attempt (when the store is up) */
    assert_true(b->persisted || !fk.store_up || b->attempts > 1);
    fk.started[fk.nstarted++] = b;
    return 0;
}

static void fake_wake(void *ctx) { (void)ctx; }

static void fake_persist(void *ctx, struct pg_hook_batch *b)
{
    (void)ctx;
    assert_int_equal(b->attempts, 0);
    assert_true(fk.nstored < MAX);
    fk.stored[fk.nstored++] = b;
    snprintf(b->job, sizeof b->job, "job-%zu", fk.nstored);
    b->persisted = fk.store_up;
}

static void fake_finished(void *ctx, struct pg_hook_batch *b)
{
    (void)ctx;
    assert_true(fk.nfinished < MAX);
    snprintf(fk.finished[fk.nfinished++], sizeof fk.finished[0], "%s", b->job);
}

static struct pg_hooks *engine(const struct pg_config *cfg)
{
    memset(&fk, 0, sizeof fk);
    fk.store_up = true;
    struct pg_hook_tp tp = {.start = fake_start, .wake = fake_wake};
    char err[128];
    struct pg_hooks *h = pg_hooks__new(cfg, &tp, err, sizeof err);
    assert_non_null(h);
    h->store.persist = fake_persist;
    h->store.finished = fake_finished;
    h->mono_ms = fake_mono;
    h->wall_ms = fake_wall;
    t_mono = 1000;
    t_wall = 1327078148132;
    return h;
}

static void pump_at(struct pg_hooks *h, int64_t t)
{
    t_mono = t;
    pg_hooks__pump(h, t);
}

static bool has(const struct pg_hook_batch *b, const char *needle)
{
    char *s = strndup(b->body, b->blen);
    bool r = strstr(s, needle) != NULL;
    free(s);
    return r;
}

static void test_stored_before_sent_in_order(void **state)
{
    (void)state;
    struct pg_webhook w[1] = {{.url = "http://h/1"}};
    struct pg_app apps[1];
    struct pg_config cfg;
    app_init(&apps[0], 0, "secret", w, 1);
    cfg_init(&cfg, apps, 1);
    cfg.webhook_batch_ms = 50;
    struct pg_hooks *h = engine(&cfg);
    struct pg_hooks_stats st;

    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "a1");
    pump_at(h, 1050);
    assert_int_equal(fk.nstored, 1);
    assert_int_equal(fk.nstarted, 1);
    assert_int_equal(fk.stored[0]->created_wall, t_wall);
    pg_hooks__result(h, fk.started[0], 503, NULL, t_mono);
    /* while a1 waits for its retry, later records still form batches, stored at once */
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "a2");
    pump_at(h, 1100);
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "a3");
    pump_at(h, 1120);
    assert_int_equal(fk.nstored, 2);
    assert_int_equal(pg_hooks__next_due(h, 1120), 1150); /* a3's batch window */
    pump_at(h, 1150);
    assert_int_equal(fk.nstored, 3);
    assert_int_equal(fk.nstarted, 1); /* ... but are not sent before a1 */
    assert_true(has(fk.stored[1], "\"a2\"") && has(fk.stored[2], "\"a3\""));
    int64_t due = pg_hooks__next_due(h, t_mono);
    pump_at(h, due);
    assert_int_equal(fk.nstarted, 2);
    assert_ptr_equal(fk.started[1], fk.stored[0]); /* a1 again */
    pg_hooks__result(h, fk.started[1], 200, NULL, t_mono);
    assert_int_equal(fk.nfinished, 1);
    assert_string_equal(fk.finished[0], "job-1");
    pump_at(h, t_mono);
    assert_ptr_equal(fk.started[2], fk.stored[1]);
    pg_hooks__result(h, fk.started[2], 404, NULL, t_mono); /* final: finished too */
    pump_at(h, t_mono);
    assert_ptr_equal(fk.started[3], fk.stored[2]);
    pg_hooks__result(h, fk.started[3], 200, NULL, t_mono);
    assert_int_equal(fk.nfinished, 3);
    assert_string_equal(fk.finished[2], "job-3");
    assert_int_equal(pg_hooks__next_due(h, t_mono), INT64_MAX);
    pg_hooks_get_stats(h, &st);
    assert_int_equal(st.sent, 2);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.queued, 0);
    pg_hooks__free(h);
}

static struct pg_hook_batch *adopted(struct pg_hook_ep *ep, const char *body, size_t n,
                                     int64_t first_ms)
{
    struct pg_hook_batch *b = calloc(1, sizeof *b);
    assert_non_null(b);
    b->ep = ep;
    b->body = strdup(body);
    b->blen = strlen(body);
    b->n = n;
    b->first_ms = first_ms;
    b->persisted = true;
    memset(b->sig, 'a', 64);
    snprintf(b->job, sizeof b->job, "dead.%zu", n);
    return b;
}

static void test_adopted_batches(void **state)
{
    (void)state;
    struct pg_webhook w[1] = {{.url = "http://h/1"}};
    struct pg_app apps[1];
    struct pg_config cfg;
    app_init(&apps[0], 0, "secret", w, 1);
    cfg_init(&cfg, apps, 1);
    cfg.webhook_retry_window_s = 10;
    struct pg_hooks *h = engine(&cfg);
    struct pg_hooks_stats st;

    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "own");
    pump_at(h, 1000);
    assert_int_equal(fk.nstarted, 1);
    /* two batches of a dead node, queued behind this node's in their order */
    pg_hooks__adopt(h, adopted(&h->eps[0], "{\"dead\":1}", 2, t_mono));
    pg_hooks__adopt(h, adopted(&h->eps[0], "{\"dead\":2}", 3, t_mono - 9500)); /* old */
    pg_hooks_get_stats(h, &st);
    assert_int_equal(st.queued, 6);
    pg_hooks__result(h, fk.started[0], 200, NULL, t_mono);
    pump_at(h, 1010);
    assert_int_equal(fk.nstarted, 2);
    assert_memory_equal(fk.started[1]->body, "{\"dead\":1}", 10);
    assert_int_equal(fk.started[1]->first_ms, 1000); /* kept, not reset by the attempt */
    pg_hooks__result(h, fk.started[1], 200, NULL, t_mono);
    pump_at(h, 1020);
    assert_memory_equal(fk.started[2]->body, "{\"dead\":2}", 10);
    /* its retry window started 9.5 s ago: over at the next failure after 10 s */
    pg_hooks__result(h, fk.started[2], 503, NULL, 1020);
    pump_at(h, pg_hooks__next_due(h, t_mono));
    pg_hooks__result(h, fk.started[3], 503, NULL, t_mono);
    assert_true(t_mono - (1000 - 9500) >= 10000);
    pg_hooks_get_stats(h, &st);
    assert_int_equal(st.sent, 2);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(st.queued, 0);
    assert_int_equal(fk.nfinished, 3);
    assert_string_equal(fk.finished[2], "dead.3");
    pg_hooks__free(h);
}

static void test_shutdown_keeps_stored(void **state)
{
    (void)state;
    struct pg_webhook w[1] = {{.url = "http://h/1"}};
    struct pg_app apps[1];
    struct pg_config cfg;
    app_init(&apps[0], 0, "secret", w, 1);
    cfg_init(&cfg, apps, 1);
    struct pg_hooks *h = engine(&cfg);
    struct pg_hooks_stats st;

    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "s1");
    pump_at(h, 1000);
    fk.store_up = false; /* Redis away: the next batch is not stored (sent from memory) */
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "s2");
    pump_at(h, 1000);
    assert_int_equal(fk.nstored, 2);
    assert_false(fk.stored[1]->persisted);
    pg_hooks__result(h, fk.started[0], 0, "refused", t_mono); /* s1 retrying, in memory */
    pg_hooks__abandon(h);
    pg_hooks_get_stats(h, &st);
    assert_int_equal(st.dropped, 1); /* only s2: s1 is in Redis for another node */
    assert_int_equal(st.queued, 0);
    assert_int_equal(fk.nfinished, 0); /* nothing removed from Redis */
    pg_hooks__free(h);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_stored_before_sent_in_order),
        cmocka_unit_test(test_adopted_batches),
        cmocka_unit_test(test_shutdown_keeps_stored),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
