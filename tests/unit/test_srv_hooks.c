/* test_srv_hooks.c - webhooks (pg_hooks.c, pg_hook_body.c) on a fake transport and a fake clock:
 * exact bodies and signatures, batching per app and endpoint, debounce, cache_miss dedupe,
 * filters, '#' channels, the queue bound, backoff, retries in order, the retry window, final
 * 4xx, flush on stop. The real pg-hook thread (srv_hook_http.c) is in test_srv_hooks_http.c.
 */
#include "test_srv_hooks_util.h"

#include "pg_hook_sign.h"
#include "pg_hooks_int.h"

/* ---- fake clock and transport ---------------------------------------------------------------- */

static int64_t t_mono, t_wall;
static int64_t fake_mono(void) { return t_mono; }
static int64_t fake_wall(void) { return t_wall; }

#define MAX_STARTS 64
struct fake {
    struct pg_hook_batch *b[MAX_STARTS];
    char *body[MAX_STARTS];
    size_t n;
    int wakes;
};
static struct fake fk;

static int fake_start(void *ctx, struct pg_hook_batch *b)
{
    (void)ctx;
    assert_true(fk.n < MAX_STARTS);
    fk.b[fk.n] = b;
    fk.body[fk.n] = strndup(b->body, b->blen);
    fk.n++;
    return 0;
}

static void fake_wake(void *ctx)
{
    (void)ctx;
    fk.wakes++;
}

static void fake_reset(void)
{
    for (size_t i = 0; i < fk.n; i++)
        free(fk.body[i]);
    memset(&fk, 0, sizeof fk);
}

#define SPEC_SECRET "7ad3773142a6692b25b8"
static char *only_member_added[] = {"member_added"};
static char *only_vacated[] = {"channel_vacated"};

static struct pg_hooks *engine(const struct pg_config *cfg)
{
    fake_reset();
    struct pg_hook_tp tp = {.start = fake_start, .wake = fake_wake, .ctx = NULL};
    char err[128];
    struct pg_hooks *h = pg_hooks__new(cfg, &tp, err, sizeof err);
    assert_non_null(h);
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

static void answer(struct pg_hooks *h, size_t i, long status)
{
    assert_true(i < fk.n);
    pg_hooks__result(h, fk.b[i], status, status ? NULL : "Connection refused", t_mono);
}

static bool body_has(size_t i, const char *needle) { return strstr(fk.body[i], needle) != NULL; }

/* ---- exact bodies ---------------------------------------------------------------------------- */

static void expect_one(struct pg_hooks *h, const char *event_json)
{
    char want[1024];
    size_t i = fk.n;
    pump_at(h, t_mono);
    assert_int_equal(fk.n, i + 1);
    snprintf(want, sizeof want, "{\"time_ms\":1327078148132,\"events\":[%s]}", event_json);
    assert_string_equal(fk.body[i], want);
    char sig[65];
    pg_hook_sign(SPEC_SECRET, strlen(SPEC_SECRET), fk.body[i], strlen(fk.body[i]), sig);
    assert_string_equal(fk.b[i]->sig, sig);
    answer(h, i, 200);
}

static void test_bodies(void **state)
{
    (void)state;
    struct pg_webhook w = {.url = "http://127.0.0.1:1/"};
    struct pg_app app;
    struct pg_config cfg;
    app_init(&app, 0, SPEC_SECRET, &w, 1);
    cfg_init(&cfg, &app, 1);
    struct pg_hooks *h = engine(&cfg);

    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "my-channel");
    assert_int_equal(fk.wakes, 1);
    pump_at(h, t_mono);
    assert_int_equal(fk.n, 1);
    /* spec 10.1 vector */
    assert_string_equal(
        fk.body[0],
        "{\"time_ms\":1327078148132,\"events\":[{\"name\":\"channel_occupied\",\"channel\":\"my-"
        "channel\"}]}");
    assert_string_equal(fk.b[0]->sig,
                        "c19001ae3963ccb13bf618e5b16ba9848e7e74df0993aa0689168e341c6833cf");
    answer(h, 0, 200);

    emit(h, 0, PG_HOOK_CHANNEL_VACATED, "my-channel");
    expect_one(h, "{\"name\":\"channel_vacated\",\"channel\":\"my-channel\"}");
    emit_user(h, 0, PG_HOOK_MEMBER_ADDED, "presence-room", "33");
    expect_one(h, "{\"name\":\"member_added\",\"channel\":\"presence-room\",\"user_id\":\"33\"}");
    emit_user(h, 0, PG_HOOK_MEMBER_REMOVED, "presence-room", "33");
    expect_one(h, "{\"name\":\"member_removed\",\"channel\":\"presence-room\",\"user_id\":\"33\"}");
    pg_hooks_client_event(h, 0, S("private-chat"), S("client-typing"), S("{\"typing\":true}"),
                          "1234.1234", S("33"));
    expect_one(h, "{\"name\":\"client_event\",\"channel\":\"private-chat\",\"event\":\"client-"
                  "typing\",\"data\":\"{\\\"typing\\\":true}\",\"socket_id\":\"1234.1234\","
                  "\"user_id\":\"33\"}");
    /* a string the client sent is that string; no user_id off presence channels */
    pg_hooks_client_event(h, 0, S("private-chat"), S("client-x"), S("\"hi \\\"you\\\"\""), "1.2",
                          NULL, 0);
    expect_one(h, "{\"name\":\"client_event\",\"channel\":\"private-chat\",\"event\":\"client-x\","
                  "\"data\":\"hi \\\"you\\\"\",\"socket_id\":\"1.2\"}");
    pg_hooks_client_event(h, 0, S("private-chat"), S("client-n"), S("42"), "1.2", NULL, 0);
    expect_one(h, "{\"name\":\"client_event\",\"channel\":\"private-chat\",\"event\":\"client-n\","
                  "\"data\":\"42\",\"socket_id\":\"1.2\"}");
    emit(h, 0, PG_HOOK_CACHE_MISS, "cache-location");
    expect_one(h, "{\"name\":\"cache_miss\",\"channel\":\"cache-location\"}");
    pg_hooks_subscription_count(h, 0, S("my-channel"), 3);
    expect_one(h,
               "{\"name\":\"subscription_count\",\"channel\":\"my-channel\",\"subscription_count\":"
               "3}");
    /* a channel name that needs escaping */
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "a\"b");
    expect_one(h, "{\"name\":\"channel_occupied\",\"channel\":\"a\\\"b\"}");

    struct pg_hooks_stats st;
    pg_hooks_get_stats(h, &st);
    assert_int_equal(st.sent, 10);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.dropped + st.failed + st.retried, 0);
    pg_hooks__free(h);
    fake_reset();
}

/* ---- batching -------------------------------------------------------------------------------- */

static void test_batching_per_app(void **state)
{
    (void)state;
    struct pg_webhook wa = {.url = "http://a/"}, wb = {.url = "http://b/"};
    struct pg_app apps[2];
    struct pg_config cfg;
    app_init(&apps[0], 0, "secret-a", &wa, 1);
    app_init(&apps[1], 1, "secret-b", &wb, 1);
    cfg_init(&cfg, apps, 2);
    cfg.webhook_batch_ms = 50;
    cfg.webhook_batch_max = 3;
    struct pg_hooks *h = engine(&cfg);

    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "a1");
    emit(h, 1, PG_HOOK_CHANNEL_OCCUPIED, "b1");
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "a2");
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "a3");
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "a4");
    emit(h, 1, PG_HOOK_CHANNEL_OCCUPIED, "b2");
    assert_int_equal(fk.wakes, 1); /* one wake-up per empty -> non-empty */
    pump_at(h, 1000);
    assert_int_equal(fk.n, 1); /* app 0 reached webhook_batch_max: no need to wait */
    assert_int_equal(pg_hooks__next_due(h, 1000), 1050);
    pump_at(h, 1049);
    assert_int_equal(fk.n, 1);
    pump_at(h, 1050);
    assert_int_equal(fk.n, 2);
    assert_string_equal(fk.body[0],
                        "{\"time_ms\":1327078148132,\"events\":[{\"name\":\"channel_occupied\","
                        "\"channel\":\"a1\"},{\"name\":\"channel_occupied\",\"channel\":\"a2\"},{"
                        "\"name\":\"channel_occupied\",\"channel\":\"a3\"}]}");
    assert_string_equal(fk.body[1],
                        "{\"time_ms\":1327078148132,\"events\":[{\"name\":\"channel_occupied\","
                        "\"channel\":\"b1\"},{\"name\":\"channel_occupied\",\"channel\":\"b2\"}]}");
    char sig[65];
    pg_hook_sign(S("secret-b"), fk.body[1], strlen(fk.body[1]), sig);
    assert_string_equal(fk.b[1]->sig, sig);
    assert_ptr_equal(fk.b[1]->ep->cfg_app, &apps[1]);
    /* a4 waits behind app 0's batch, then goes at once (its window is over) */
    pump_at(h, 1100);
    assert_int_equal(fk.n, 2);
    answer(h, 0, 204);
    pump_at(h, 1100);
    assert_int_equal(fk.n, 3);
    assert_true(body_has(2, "\"a4\"") && !body_has(2, "\"a3\"") && !body_has(2, "\"b"));
    answer(h, 1, 200);
    answer(h, 2, 200);
    assert_int_equal(pg_hooks__outstanding(h), 0);

    /* webhook_batch_ms 0: one event per request */
    cfg.webhook_batch_ms = 0;
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "x1");
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "x2");
    pump_at(h, 2000);
    assert_int_equal(fk.n, 4);
    assert_int_equal(fk.b[3]->n, 1);
    answer(h, 3, 200);
    pump_at(h, 2000);
    assert_int_equal(fk.n, 5);
    assert_true(body_has(4, "\"x2\""));
    answer(h, 4, 200);
    pg_hooks__free(h);
    fake_reset();
}

/* ---- debounce -------------------------------------------------------------------------------- */

static void test_debounce(void **state)
{
    (void)state;
    struct pg_webhook w = {.url = "http://a/"};
    struct pg_webhook wv = {.url = "http://v/", .event_types = only_vacated, .n_event_types = 1};
    struct pg_app apps[2];
    struct pg_config cfg;
    app_init(&apps[0], 0, "s", &w, 1);
    app_init(&apps[1], 1, "s", &wv, 1);
    cfg_init(&cfg, apps, 2);
    cfg.webhook_debounce_ms = 3000;
    struct pg_hooks *h = engine(&cfg);

    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "c");
    pump_at(h, 0);
    assert_int_equal(fk.n, 1); /* occupied is never delayed */
    answer(h, 0, 200);
    /* vacated then re-occupied within the window: nothing at all */
    t_mono = 100;
    emit(h, 0, PG_HOOK_CHANNEL_VACATED, "c");
    pump_at(h, 100);
    assert_int_equal(pg_hooks__next_due(h, 100), 3100);
    t_mono = 2000;
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "c");
    pump_at(h, 2000);
    pump_at(h, 10000);
    assert_int_equal(fk.n, 1);
    assert_int_equal(pg_hooks__outstanding(h), 0);
    /* vacated and not re-occupied: sent after the window */
    t_mono = 20000;
    emit(h, 0, PG_HOOK_CHANNEL_VACATED, "c");
    pump_at(h, 22999);
    assert_int_equal(fk.n, 1);
    pump_at(h, 23000);
    assert_int_equal(fk.n, 2);
    assert_true(body_has(1, "\"channel_vacated\""));
    answer(h, 1, 200);
    /* members: same, keyed by channel and user */
    emit_user(h, 0, PG_HOOK_MEMBER_REMOVED, "presence-p", "u1");
    emit_user(h, 0, PG_HOOK_MEMBER_REMOVED, "presence-p", "u2");
    emit_user(h, 0, PG_HOOK_MEMBER_ADDED, "presence-p", "u1");
    pump_at(h, 25999);
    assert_int_equal(fk.n, 2);
    pump_at(h, 26000);
    assert_int_equal(fk.n, 3);
    assert_string_equal(fk.body[2], "{\"time_ms\":1327078148132,\"events\":[{\"name\":\"member_"
                                    "removed\",\"channel\":\"presence-p\",\"user_id\":\"u2\"}]}");
    answer(h, 2, 200);
    /* an endpoint taking only channel_vacated: the untaken occupied still cancels it */
    assert_true(pg_hooks_wants(h, 1, PG_HOOK_CHANNEL_VACATED));
    assert_false(pg_hooks_wants(h, 1, PG_HOOK_CHANNEL_OCCUPIED));
    t_mono = 40000;
    emit(h, 1, PG_HOOK_CHANNEL_OCCUPIED, "d");
    emit(h, 1, PG_HOOK_CHANNEL_VACATED, "d");
    emit(h, 1, PG_HOOK_CHANNEL_OCCUPIED, "d");
    pump_at(h, 40000);
    pump_at(h, 50000);
    assert_int_equal(fk.n, 3);
    emit(h, 1, PG_HOOK_CHANNEL_VACATED, "d");
    pump_at(h, 50000);
    pump_at(h, 53000);
    assert_int_equal(fk.n, 4);
    assert_true(body_has(3, "\"channel_vacated\",\"channel\":\"d\""));
    answer(h, 3, 200);
    assert_int_equal(pg_hooks__outstanding(h), 0);
    /* on stop, pending leaves go out at once */
    t_mono = 60000;
    emit(h, 0, PG_HOOK_CHANNEL_VACATED, "e");
    pump_at(h, 60000);
    assert_int_equal(fk.n, 4);
    atomic_store(&h->stopping, 1);
    pump_at(h, 60001);
    assert_int_equal(fk.n, 5);
    answer(h, 4, 200);
    pg_hooks__free(h);
    fake_reset();
}

/* ---- cache_miss dedupe, filters, '#' channels, queue bound ----------------------------------- */

static void test_cache_miss_dedupe(void **state)
{
    (void)state;
    struct pg_webhook w = {.url = "http://a/"};
    struct pg_app app;
    struct pg_config cfg;
    app_init(&app, 0, "s", &w, 1);
    cfg_init(&cfg, &app, 1);
    cfg.webhook_batch_ms = 10;
    struct pg_hooks *h = engine(&cfg);
    t_mono = 0;
    emit(h, 0, PG_HOOK_CACHE_MISS, "cache-a");
    emit(h, 0, PG_HOOK_CACHE_MISS, "cache-a");
    emit(h, 0, PG_HOOK_CACHE_MISS, "cache-b");
    pump_at(h, 10);
    assert_int_equal(fk.n, 1);
    assert_int_equal(fk.b[0]->n, 2); /* cache-a once, cache-b */
    answer(h, 0, 200);
    t_mono = 500;
    emit(h, 0, PG_HOOK_CACHE_MISS, "cache-a"); /* still outstanding */
    pump_at(h, 600);
    assert_int_equal(fk.n, 1);
    t_mono = 1500;
    emit(h, 0, PG_HOOK_CACHE_MISS, "cache-a");
    pump_at(h, 1510);
    assert_int_equal(fk.n, 2);
    answer(h, 1, 200);
    assert_int_equal(pg_hooks__outstanding(h), 0);
    pg_hooks__free(h);
    fake_reset();
}

static void test_filters_and_hash_channels(void **state)
{
    (void)state;
    struct pg_webhook w[2] = {
        {.url = "http://all/"},
        {.url = "http://members/", .event_types = only_member_added, .n_event_types = 1}};
    struct pg_app apps[2];
    struct pg_config cfg;
    app_init(&apps[0], 0, "s", w, 2);
    app_init(&apps[1], 1, "s", NULL, 0);
    cfg_init(&cfg, apps, 2);
    struct pg_hooks *h = engine(&cfg);
    cfg.webhook_batch_ms = 10;

    assert_false(pg_hooks_wants(NULL, 0, PG_HOOK_CLIENT_EVENT));
    assert_false(pg_hooks_wants(h, 1, PG_HOOK_CLIENT_EVENT));
    assert_false(pg_hooks_wants(h, 2, PG_HOOK_CLIENT_EVENT));
    assert_false(pg_hooks_wants(h, -1, PG_HOOK_CLIENT_EVENT));
    for (int t = 0; t < PG_HOOK__COUNT; t++)
        assert_true(pg_hooks_wants(h, 0, (enum pg_hook_type)t));

    /* '#' channels and apps without webhooks produce nothing, and cost no wake-up */
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "#server-to-user-1");
    pg_hooks_client_event(h, 0, S("#watch-x"), S("client-a"), S("{}"), "1.1", NULL, 0);
    emit(h, 1, PG_HOOK_CHANNEL_OCCUPIED, "c");
    pg_hooks_emit(NULL, 0, PG_HOOK_CHANNEL_OCCUPIED, S("c"), NULL, 0);
    pg_hooks_client_event(NULL, 0, S("c"), S("client-a"), S("{}"), "1.1", NULL, 0);
    pg_hooks_subscription_count(NULL, 0, S("c"), 1);
    assert_int_equal(fk.wakes, 0);
    assert_int_equal(pg_hooks__outstanding(h), 0);

    t_mono = 0;
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "presence-r");
    emit_user(h, 0, PG_HOOK_MEMBER_ADDED, "presence-r", "7");
    pg_hooks_client_event(h, 0, S("presence-r"), S("client-a"), S("{}"), "1.1", S("7"));
    pump_at(h, 10);
    assert_int_equal(fk.n, 2);
    size_t all = fk.b[0]->ep->idx == 0 ? 0 : 1, mem = 1 - all;
    assert_int_equal(fk.b[all]->n, 3);
    assert_string_equal(fk.body[mem], "{\"time_ms\":1327078148132,\"events\":[{\"name\":\"member_"
                                      "added\",\"channel\":\"presence-r\",\"user_id\":\"7\"}]}");
    answer(h, 0, 200);
    assert_int_equal(pg_hooks__outstanding(h), 1); /* the member record is shared until both end */
    answer(h, 1, 200);
    assert_int_equal(pg_hooks__outstanding(h), 0);
    pg_hooks__free(h);
    fake_reset();
}

static void test_queue_bound(void **state)
{
    (void)state;
    struct pg_webhook w = {.url = "http://a/"};
    struct pg_app apps[2];
    struct pg_config cfg;
    app_init(&apps[0], 0, "s", &w, 1);
    app_init(&apps[1], 1, "s", &w, 1);
    cfg_init(&cfg, apps, 2);
    cfg.webhook_queue_max = 3;
    cfg.webhook_batch_ms = 10;
    struct pg_hooks *h = engine(&cfg);
    char ch[16];
    for (int i = 0; i < 5; i++) {
        snprintf(ch, sizeof ch, "c%d", i);
        emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, ch);
    }
    emit(h, 1, PG_HOOK_CHANNEL_OCCUPIED, "other"); /* the bound is per app */
    struct pg_hooks_stats st;
    pg_hooks_get_stats(h, &st);
    assert_int_equal(st.queued, 4);
    assert_int_equal(st.dropped, 2);
    pump_at(h, 2000);
    assert_int_equal(fk.n, 2);
    assert_int_equal(fk.b[0]->n, 3);
    assert_true(body_has(0, "\"c2\"") && !body_has(0, "\"c3\""));
    /* still counted while in flight: the bound covers everything undelivered */
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "late");
    pg_hooks_get_stats(h, &st);
    assert_int_equal(st.dropped, 3);
    answer(h, 0, 200);
    answer(h, 1, 200);
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "later");
    pg_hooks_get_stats(h, &st);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(st.queued, 1);
    pg_hooks__free(h); /* abandons the last one */
    fake_reset();
}

/* ---- backoff and retries --------------------------------------------------------------------- */

static void test_backoff_schedule(void **state)
{
    (void)state;
    static const uint32_t rnds[] = {0, 1, 777, 123456789, UINT32_MAX};
    for (int a = 1; a <= 30; a++) {
        int64_t base = 1000;
        for (int i = 1; i < a && base < 60000; i++)
            base *= 2;
        if (base > 60000)
            base = 60000;
        for (size_t k = 0; k < sizeof rnds / sizeof rnds[0]; k++) {
            int64_t d = pg_hooks__backoff(a, 1000, 60000, rnds[k]);
            assert_true(d <= base);
            assert_true(d >= base - base / 5);
            assert_true(d >= 1000);
        }
    }
    assert_int_equal(pg_hooks__backoff(1, 1000, 60000, 0), 1000);
    assert_int_equal(pg_hooks__backoff(2, 1000, 60000, 0), 2000);
    assert_int_equal(pg_hooks__backoff(6, 1000, 60000, 0), 32000);
    assert_int_equal(pg_hooks__backoff(7, 1000, 60000, 0), 60000);
    assert_int_equal(pg_hooks__backoff(1000, 1000, 60000, 0), 60000);
    assert_int_equal(pg_hooks__backoff(3, 500, 100, 0), 500); /* max below min: min */
    /* 5 minutes of retries take at least 9 attempts, at most 5 min / (min delay) */
    int64_t t = 0;
    int n = 0;
    while (t < 300000)
        t += pg_hooks__backoff(++n, 1000, 60000, UINT32_MAX);
    assert_true(n >= 9 && n <= 12);

    assert_true(pg_hooks__retryable(0));
    assert_true(pg_hooks__retryable(500));
    assert_true(pg_hooks__retryable(503));
    assert_true(pg_hooks__retryable(408));
    assert_true(pg_hooks__retryable(429));
    assert_false(pg_hooks__retryable(400));
    assert_false(pg_hooks__retryable(401));
    assert_false(pg_hooks__retryable(404));
    assert_false(pg_hooks__retryable(410));
}

static void test_retry_in_order(void **state)
{
    (void)state;
    struct pg_webhook w = {.url = "http://a/"};
    struct pg_app app;
    struct pg_config cfg;
    app_init(&app, 0, "s", &w, 1);
    cfg_init(&cfg, &app, 1);
    cfg.webhook_batch_ms = 50;
    cfg.webhook_retry_min_ms = 1000;
    cfg.webhook_retry_max_ms = 4000;
    cfg.webhook_retry_window_s = 10;
    struct pg_hooks *h = engine(&cfg);
    struct pg_hooks_stats st;

    t_mono = 0;
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "e1");
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "e2");
    pump_at(h, 50);
    assert_int_equal(fk.n, 1);
    answer(h, 0, 503);
    t_mono = 100;
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "e3"); /* waits behind the head batch */
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "e4");
    pump_at(h, 700);
    assert_int_equal(fk.n, 1);
    int64_t due = pg_hooks__next_due(h, 700);
    assert_true(due >= 50 + 800 && due <= 50 + 1000);
    pump_at(h, due);
    assert_int_equal(fk.n, 2);
    assert_ptr_equal(fk.b[1], fk.b[0]);          /* same batch ... */
    assert_string_equal(fk.body[1], fk.body[0]); /* ... same bytes */
    assert_true(body_has(1, "\"e2\"") && !body_has(1, "\"e3\""));
    answer(h, 1, 0); /* connection refused */
    due = pg_hooks__next_due(h, t_mono);
    assert_true(due >= t_mono + 1600 && due <= t_mono + 2000);
    pump_at(h, due);
    assert_int_equal(fk.n, 3);
    assert_string_equal(fk.body[2], fk.body[0]);
    answer(h, 2, 200);
    pump_at(h, t_mono);
    assert_int_equal(fk.n, 4);
    assert_string_equal(fk.body[3],
                        "{\"time_ms\":1327078148132,\"events\":[{\"name\":\"channel_occupied\","
                        "\"channel\":\"e3\"},{\"name\":\"channel_occupied\",\"channel\":\"e4\"}]}");
    answer(h, 3, 200);
    pg_hooks_get_stats(h, &st);
    assert_int_equal(st.sent, 2);
    assert_int_equal(st.retried, 2);
    assert_int_equal(st.queued, 0);

    /* a batch failing past webhook_retry_window_s is dropped and counted; the next one goes */
    int64_t start = t_mono + 1000;
    t_mono = start;
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "doomed");
    pump_at(h, start + 50);
    size_t i = fk.n - 1;
    int attempts = 0;
    while (fk.n > i) {
        i = fk.n;
        answer(h, i - 1, 500);
        attempts++;
        int64_t next = pg_hooks__next_due(h, t_mono);
        if (next == INT64_MAX)
            break;
        pump_at(h, next);
    }
    assert_true(t_mono - (start + 50) >= 10000);
    assert_true(attempts >= 4);
    pg_hooks_get_stats(h, &st);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.queued, 0);
    emit(h, 0, PG_HOOK_CHANNEL_OCCUPIED, "after");
    pump_at(h, t_mono + 50);
    assert_true(body_has(fk.n - 1, "\"after\""));
    /* a final 4xx: counted as failed, not retried */
    answer(h, fk.n - 1, 404);
    assert_int_equal(pg_hooks__next_due(h, t_mono), INT64_MAX);
    pg_hooks_get_stats(h, &st);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.queued, 0);
    pg_hooks__free(h);
    fake_reset();
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_batching_per_app),
        cmocka_unit_test(test_debounce),
        cmocka_unit_test(test_cache_miss_dedupe),
        cmocka_unit_test(test_filters_and_hash_channels),
        cmocka_unit_test(test_queue_bound),
        cmocka_unit_test(test_backoff_schedule),
        cmocka_unit_test(test_retry_in_order),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
