/* test_registry.c - the shared channel table (pg_registry): subscription counts, worker masks,
 * listing, and stripe locking. Presence is in test_registry_presence.c. */
#include <pthread.h>

#include "test_registry_util.h"

/* ---- plain subscriptions ---- */

static void test_create_limits(void **state)
{
    (void)state;
    assert_null(pg_registry_create(0, NULL));
    assert_null(pg_registry_create(PG_BUS_MAX_WORKERS + 1, NULL));
    struct pg_registry *r = pg_registry_create(PG_BUS_MAX_WORKERS, NULL);
    assert_non_null(r);
    /* The highest worker's bit is the top bit of the mask. */
    assert_int_equal(pg_registry_sub(r, APP, S("c"), PG_BUS_MAX_WORKERS - 1), 1);
    assert_true(mask_of(r, APP, "c") == UINT64_C(1) << 63);
    assert_int_equal(pg_registry_unsub(r, APP, S("c"), PG_BUS_MAX_WORKERS - 1), 0);
    assert_int_equal(mask_of(r, APP, "c"), 0);
    pg_registry_destroy(r);
    pg_registry_destroy(NULL);
}

static void test_sub_unsub_counts_masks(void **state)
{
    (void)state;
    struct pg_registry *r = pg_registry_create(3, NULL);
    assert_non_null(r);
    assert_int_equal(subs_of(r, APP, "ch"), -ENOENT);
    assert_int_equal(mask_of(r, APP, "ch"), 0);

    assert_int_equal(pg_registry_sub(r, APP, S("ch"), 0), 1);
    assert_int_equal(mask_of(r, APP, "ch"), 0x1);
    assert_int_equal(pg_registry_sub(r, APP, S("ch"), 0), 2);
    assert_int_equal(mask_of(r, APP, "ch"), 0x1);
    assert_int_equal(pg_registry_sub(r, APP, S("ch"), 2), 3);
    assert_int_equal(mask_of(r, APP, "ch"), 0x5);
    assert_int_equal(pg_registry_sub(r, APP, S("ch"), 1), 4);
    assert_int_equal(mask_of(r, APP, "ch"), 0x7);
    assert_int_equal(pg_registry_sub(r, APP, S("ch"), 2), 5);
    assert_int_equal(subs_of(r, APP, "ch"), 5);
    assert_int_equal(users_of(r, APP, "ch"), 0);

    /* Bits clear on each worker's last subscriber only. */
    assert_int_equal(pg_registry_unsub(r, APP, S("ch"), 0), 4);
    assert_int_equal(mask_of(r, APP, "ch"), 0x7);
    assert_int_equal(pg_registry_unsub(r, APP, S("ch"), 0), 3);
    assert_int_equal(mask_of(r, APP, "ch"), 0x6);
    assert_int_equal(pg_registry_unsub(r, APP, S("ch"), 2), 2);
    assert_int_equal(mask_of(r, APP, "ch"), 0x6);
    assert_int_equal(pg_registry_unsub(r, APP, S("ch"), 1), 1);
    assert_int_equal(mask_of(r, APP, "ch"), 0x4);
    assert_int_equal(subs_of(r, APP, "ch"), 1);
    /* Re-adding on a cleared worker sets its bit again. */
    assert_int_equal(pg_registry_sub(r, APP, S("ch"), 0), 2);
    assert_int_equal(mask_of(r, APP, "ch"), 0x5);
    assert_int_equal(pg_registry_unsub(r, APP, S("ch"), 0), 1);
    assert_int_equal(pg_registry_unsub(r, APP, S("ch"), 2), 0);

    /* Empty: gone from stats, mask and listing. */
    assert_int_equal(mask_of(r, APP, "ch"), 0);
    assert_int_equal(subs_of(r, APP, "ch"), -ENOENT);
    struct listing *l = malloc(sizeof *l);
    list(r, APP, NULL, l);
    assert_int_equal(l->n, 0);
    free(l);
    /* Unsubscribing an unknown channel is harmless. */
    assert_int_equal(pg_registry_unsub(r, APP, S("ch"), 0), 0);
    assert_int_equal(pg_registry_unsub(r, APP, S("never"), 1), 0);
    assert_int_equal(subs_of(r, APP, "ch"), -ENOENT);

    pg_registry_destroy(r);
}

static void test_names_by_length(void **state)
{
    (void)state;
    struct pg_registry *r = pg_registry_create(2, NULL);
    /* The length counts, not the NUL: "abc" cut to 2 is "ab". */
    assert_int_equal(pg_registry_sub(r, APP, "abc", 3, 0), 1);
    assert_int_equal(pg_registry_sub(r, APP, "abc", 2, 1), 1);
    assert_int_equal(pg_registry_sub(r, APP, "abX", 2, 1), 2);
    assert_int_equal(subs_of(r, APP, "abc"), 1);
    assert_int_equal(subs_of(r, APP, "ab"), 2);
    assert_int_equal(mask_of(r, APP, "abc"), 0x1);
    assert_int_equal(mask_of(r, APP, "ab"), 0x2);
    assert_int_equal(pg_registry_unsub(r, APP, "abc", 3, 0), 0);
    assert_int_equal(subs_of(r, APP, "ab"), 2);
    assert_int_equal(pg_registry_unsub(r, APP, "ab", 2, 1), 1);
    assert_int_equal(pg_registry_unsub(r, APP, "ab", 2, 1), 0);
    pg_registry_destroy(r);
}

static void test_apps_apart(void **state)
{
    (void)state;
    struct pg_registry *r = pg_registry_create(4, NULL);
    assert_int_equal(pg_registry_sub(r, 1, S("private-a"), 0), 1);
    assert_int_equal(pg_registry_sub(r, 1, S("private-a"), 1), 2);
    assert_int_equal(pg_registry_sub(r, 2, S("private-a"), 3), 1);
    assert_int_equal(join(r, 1, "presence-x", 0, "1.1", "u1", NULL, -1, NULL), 1);
    assert_int_equal(join(r, 2, "presence-x", 2, "2.2", "u1", NULL, -1, NULL), 1); /* new there */

    assert_int_equal(subs_of(r, 1, "private-a"), 2);
    assert_int_equal(subs_of(r, 2, "private-a"), 1);
    assert_int_equal(subs_of(r, 3, "private-a"), -ENOENT);
    assert_int_equal(mask_of(r, 1, "private-a"), 0x3);
    assert_int_equal(mask_of(r, 2, "private-a"), 0x8);
    assert_int_equal(mask_of(r, 1, "presence-x"), 0x1);
    assert_int_equal(mask_of(r, 2, "presence-x"), 0x4);

    struct listing *l = malloc(sizeof *l);
    list(r, 1, NULL, l);
    assert_int_equal(l->n, 2);
    assert_int_equal(listed(l, "private-a")->subs, 2);
    assert_int_equal(listed(l, "presence-x")->users, 1);
    list(r, 2, NULL, l);
    assert_int_equal(l->n, 2);
    assert_int_equal(listed(l, "private-a")->subs, 1);
    list(r, 3, NULL, l);
    assert_int_equal(l->n, 0);

    /* Emptying app 2 leaves app 1 alone. */
    assert_int_equal(pg_registry_unsub(r, 2, S("private-a"), 3), 0);
    assert_int_equal(leave(r, 2, "presence-x", 2, "u1"), 1);
    assert_int_equal(subs_of(r, 2, "private-a"), -ENOENT);
    assert_int_equal(subs_of(r, 2, "presence-x"), -ENOENT);
    assert_int_equal(subs_of(r, 1, "private-a"), 2);
    assert_int_equal(subs_of(r, 1, "presence-x"), 1);
    /* An app that never had the user: unknown. */
    assert_int_equal(leave(r, 2, "presence-x", 0, "u1"), -ENOENT);
    assert_int_equal(subs_of(r, 1, "presence-x"), 1);
    list(r, 2, NULL, l);
    assert_int_equal(l->n, 0);
    list(r, 1, NULL, l);
    assert_int_equal(l->n, 2);
    free(l);

    pg_registry_unsub(r, 1, S("private-a"), 0);
    pg_registry_unsub(r, 1, S("private-a"), 1);
    leave(r, 1, "presence-x", 0, "u1");
    pg_registry_destroy(r);
}

static void test_each_prefix(void **state)
{
    (void)state;
    struct pg_registry *r = pg_registry_create(2, NULL);
    pg_registry_sub(r, APP, S("a"), 0);
    pg_registry_sub(r, APP, S("private-a"), 0);
    pg_registry_sub(r, APP, S("private-a"), 1);
    pg_registry_sub(r, APP, S("private-b"), 1);
    pg_registry_sub(r, APP, S("privat"), 1);
    join(r, APP, "presence-x", 0, "1.1", "1", NULL, -1, NULL);
    join(r, APP, "presence-x", 1, "1.2", "1", NULL, -1, NULL);
    join(r, APP, "presence-x", 1, "1.3", "2", NULL, -1, NULL);
    pg_registry_sub(r, APP + 1, S("private-c"), 0);

    struct listing *l = malloc(sizeof *l);
    list(r, APP, NULL, l);
    assert_int_equal(l->n, 5);
    assert_int_equal(listed(l, "a")->subs, 1);
    assert_int_equal(listed(l, "a")->users, 0);
    assert_int_equal(listed(l, "private-a")->subs, 2);
    assert_int_equal(listed(l, "private-b")->subs, 1);
    assert_int_equal(listed(l, "privat")->subs, 1);
    assert_int_equal(listed(l, "presence-x")->subs, 3);
    assert_int_equal(listed(l, "presence-x")->users, 2);
    assert_null(listed(l, "private-c"));

    /* plen 0 with a non-NULL prefix: everything. */
    memset(l, 0, sizeof *l);
    pg_registry_each(r, APP, "zzz", 0, list_cb, l);
    assert_int_equal(l->n, 5);

    list(r, APP, "private-", l);
    assert_int_equal(l->n, 2);
    assert_non_null(listed(l, "private-a"));
    assert_non_null(listed(l, "private-b"));

    list(r, APP, "presence-", l);
    assert_int_equal(l->n, 1);
    assert_int_equal(listed(l, "presence-x")->users, 2);

    list(r, APP, "p", l);
    assert_int_equal(l->n, 4);
    list(r, APP, "private-a", l); /* a whole name is a prefix of itself */
    assert_int_equal(l->n, 1);
    list(r, APP, "private-ab", l); /* longer than every name */
    assert_int_equal(l->n, 0);
    list(r, APP, "x", l);
    assert_int_equal(l->n, 0);
    list(r, APP + 1, "private-", l);
    assert_int_equal(l->n, 1);
    assert_int_equal(listed(l, "private-c")->subs, 1);

    /* The prefix is bounded by plen. */
    memset(l, 0, sizeof *l);
    pg_registry_each(r, APP, "private-zzz", 8, list_cb, l);
    assert_int_equal(l->n, 2);
    free(l);
    pg_registry_destroy(r); /* with channels left: destroy frees them (ASan) */
}

static void test_each_many(void **state)
{
    (void)state;
    enum { N = 1000 };
    struct pg_registry *r = pg_registry_create(2, NULL);
    char name[32];
    for (int i = 0; i < N; i++) {
        int n = snprintf(name, sizeof name, "%s-%d", i % 2 ? "private" : "chan", i);
        assert_int_equal(pg_registry_sub(r, APP, name, (size_t)n, (unsigned)i % 2), 1);
    }
    for (int i = 0; i < N; i += 3) {
        int n = snprintf(name, sizeof name, "%s-%d", i % 2 ? "private" : "chan", i);
        assert_int_equal(pg_registry_sub(r, APP, name, (size_t)n, 1), 2);
    }
    struct listing *l = malloc(sizeof *l);
    list(r, APP, NULL, l);
    assert_int_equal(l->n, N);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "%s-%d", i % 2 ? "private" : "chan", i);
        const struct pg_chan_stats *st = listed(l, name);
        assert_non_null(st);
        assert_int_equal(st->subs, i % 3 ? 1 : 2);
    }
    list(r, APP, "private-", l);
    assert_int_equal(l->n, N / 2);

    for (int i = 0; i < N; i++) {
        int n = snprintf(name, sizeof name, "%s-%d", i % 2 ? "private" : "chan", i);
        if (i % 3 == 0)
            assert_int_equal(pg_registry_unsub(r, APP, name, (size_t)n, 1), 1);
        assert_int_equal(pg_registry_unsub(r, APP, name, (size_t)n, (unsigned)i % 2), 0);
        assert_int_equal(pg_registry_mask(r, APP, name, (size_t)n), 0);
    }
    list(r, APP, NULL, l);
    assert_int_equal(l->n, 0);
    free(l);
    pg_registry_destroy(r);
}

/* ---- many threads on overlapping channels ---- */

#define MT_THREADS 4
#define MT_ITERS 20000
#define MT_HOLD 6

struct mt {
    struct pg_registry *r;
    struct pg_bus *b;
    unsigned w;
    long errors;
    long joined_new, left_last; /* presence join == 1, leave == 1 */
    long events;                /* items taken from the own inbox */
};

static const char *const mt_chan[] = {"a", "b", "private-c", "d", "private-e"};
static const char *const mt_pres[] = {"presence-1", "presence-2", "presence-3"};
static const char *const mt_user[] = {"u0", "u1", "u2", "u3", "u4"};

struct held {
    bool presence;
    const char *ch;
    const char *uid;
};

static void mt_drain(struct mt *t)
{
    struct pg_bus_item *it = pg_bus_take(t->b, t->w);
    while (it) {
        struct pg_bus_item *next = it->next;
        t->events++;
        pg_bus_item_free(it);
        it = next;
    }
}

static void mt_release(struct mt *t, const struct held *h)
{
    if (h->presence) {
        int rc = pg_registry_presence_leave(t->r, APP, h->ch, strlen(h->ch), t->w, h->uid,
                                            strlen(h->uid));
        if (rc == 1)
            t->left_last++;
        else if (rc != 0)
            t->errors++;
    } else if (pg_registry_unsub(t->r, APP, h->ch, strlen(h->ch), t->w) < 0) {
        t->errors++;
    }
}

static void *mt_main(void *arg)
{
    struct mt *t = arg;
    struct held hold[MT_HOLD];
    unsigned nhold = 0;
    uint32_t rnd = 2463534242u ^ (t->w * 2654435761u);
    char sid[PG_SID_MAX];
    for (int i = 0; i < MT_ITERS; i++) {
        rnd ^= rnd << 13;
        rnd ^= rnd >> 17;
        rnd ^= rnd << 5;
        if (nhold == MT_HOLD || (nhold > 0 && rnd % 3 == 0)) {
            /* Release a random held subscription (swap-remove from the local list). */
            unsigned k = (rnd >> 8) % nhold;
            mt_release(t, &hold[k]);
            hold[k] = hold[--nhold];
            continue;
        }
        struct held h;
        h.presence = (rnd >> 4) & 1;
        if (h.presence) {
            h.ch = mt_pres[(rnd >> 5) % 3];
            h.uid = mt_user[(rnd >> 9) % 5];
            snprintf(sid, sizeof sid, "%u.%d", t->w, i);
            int rc = pg_registry_presence_join(t->r, APP, h.ch, strlen(h.ch), t->w, sid, h.uid,
                                               strlen(h.uid), "{\"n\":1}", 7, -1, NULL);
            if (rc == 1)
                t->joined_new++;
            else if (rc != 0)
                t->errors++;
        } else {
            h.ch = mt_chan[(rnd >> 5) % 5];
            if (pg_registry_sub(t->r, APP, h.ch, strlen(h.ch), t->w) < 1)
                t->errors++;
        }
        hold[nhold++] = h;
        if (i % 64 == 0)
            mt_drain(t);
    }
    while (nhold)
        mt_release(t, &hold[--nhold]);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct pg_bus *b = pg_bus_create(MT_THREADS, (size_t)1 << 40);
    struct pg_registry *r = pg_registry_create(MT_THREADS, b);
    pthread_t th[MT_THREADS];
    struct mt t[MT_THREADS];
    for (unsigned i = 0; i < MT_THREADS; i++) {
        t[i] = (struct mt){.r = r, .b = b, .w = i};
        assert_int_equal(pthread_create(&th[i], NULL, mt_main, &t[i]), 0);
    }
    long joined = 0, left = 0;
    for (unsigned i = 0; i < MT_THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(t[i].errors, 0);
        joined += t[i].joined_new;
        left += t[i].left_last;
        mt_drain(&t[i]);
    }
    /* Every user that arrived also left. */
    assert_true(joined > 0);
    assert_int_equal(joined, left);

    for (size_t i = 0; i < sizeof mt_chan / sizeof *mt_chan; i++) {
        assert_int_equal(subs_of(r, APP, mt_chan[i]), -ENOENT);
        assert_int_equal(mask_of(r, APP, mt_chan[i]), 0);
    }
    struct pg_buf rb;
    pg_buf_init(&rb);
    for (size_t i = 0; i < sizeof mt_pres / sizeof *mt_pres; i++) {
        assert_int_equal(subs_of(r, APP, mt_pres[i]), -ENOENT);
        assert_int_equal(mask_of(r, APP, mt_pres[i]), 0);
        assert_int_equal(pg_registry_presence_roster(r, APP, mt_pres[i], strlen(mt_pres[i]), &rb),
                         -ENOENT);
    }
    pg_buf_dispose(&rb);
    struct listing *l = malloc(sizeof *l);
    list(r, APP, NULL, l);
    assert_int_equal(l->n, 0);
    free(l);
    pg_registry_destroy(r);
    pg_bus_destroy(b);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        /* plain subscriptions */
        cmocka_unit_test(test_create_limits),
        cmocka_unit_test(test_sub_unsub_counts_masks),
        cmocka_unit_test(test_names_by_length),
        cmocka_unit_test(test_apps_apart),
        cmocka_unit_test(test_each_prefix),
        cmocka_unit_test(test_each_many),
        /* many threads on overlapping channels */
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
