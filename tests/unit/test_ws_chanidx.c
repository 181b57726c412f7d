/* test_ws_chanidx.c - a worker's channel index (ws_chanidx): both sides of the O(1) swap-remove
 * stay consistent whatever the order of adds and removes. Connections are fakes: zeroed
 * struct ws_conn with only the subscription array in use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ws_chanidx.h"
#include "ws_conn.h"

#define MAXC 12 /* connections */
#define MAXK 10 /* channels */

/* The model: which connection is in which channel, and the channels' (app, name). */
struct model {
    struct ws_chanidx *ix;
    struct ws_conn conn[MAXC];
    int nconn, nchan;
    int app[MAXK];
    char name[MAXK][24];
    bool in[MAXC][MAXK];
    bool with_uid[MAXK]; /* subscriptions of this channel carry a strdup'd user_id */
};

static void model_init(struct model *m, int nconn, int nchan)
{
    memset(m, 0, sizeof *m);
    m->ix = ws_chanidx_create();
    assert_non_null(m->ix);
    m->nconn = nconn;
    m->nchan = nchan;
    for (int k = 0; k < nchan; k++) {
        /* Two channels share a name across apps; one is a prefix of another. */
        m->app[k] = k == 1 ? 2 : 1;
        if (k < 2)
            snprintf(m->name[k], sizeof m->name[k], "shared");
        else if (k == 2)
            snprintf(m->name[k], sizeof m->name[k], "shared-2");
        else
            snprintf(m->name[k], sizeof m->name[k], "%s-%d", k % 2 ? "presence" : "private", k);
        m->with_uid[k] = k % 2 == 1;
    }
}

static void uid_of(char *out, size_t n, int c, int k) { snprintf(out, n, "user-%d-%d", c, k); }

static void model_add(struct model *m, int c, int k)
{
    assert_false(m->in[c][k]);
    struct ws_conn *cn = &m->conn[c];
    uint32_t before = cn->nsubs;
    struct ws_sub *s =
        ws_chanidx_add(m->ix, cn, m->app[k], m->name[k], strlen(m->name[k]), (unsigned)k + 100);
    assert_non_null(s);
    assert_ptr_equal(s, &cn->subs[before]); /* appended */
    assert_int_equal(cn->nsubs, before + 1);
    assert_int_equal(s->kind, (unsigned)k + 100);
    assert_null(s->user_id);
    if (m->with_uid[k]) {
        char u[32];
        uid_of(u, sizeof u, c, k);
        s->user_id = strdup(u);
        assert_non_null(s->user_id);
        s->ulen = strlen(u);
    }
    m->in[c][k] = true;
}

static void model_remove(struct model *m, int c, int k)
{
    assert_true(m->in[c][k]);
    struct ws_conn *cn = &m->conn[c];
    struct ws_sub *s = ws_chanidx_sub_of(cn, m->app[k], m->name[k], strlen(m->name[k]));
    assert_non_null(s);
    ws_chanidx_remove(m->ix, cn, s); /* frees s->user_id */
    m->in[c][k] = false;
}

/* Checks every invariant of the index against the model. */
static void check(struct model *m)
{
    size_t occupied = 0;
    for (int k = 0; k < m->nchan; k++) {
        uint32_t members = 0;
        for (int c = 0; c < m->nconn; c++)
            members += m->in[c][k];
        struct ws_chan *ch = ws_chanidx_find(m->ix, m->app[k], m->name[k], strlen(m->name[k]));
        if (members == 0) {
            if (ch)
                fail_msg("channel %d/%s still indexed with no subscriber", m->app[k], m->name[k]);
            continue;
        }
        occupied++;
        assert_non_null(ch);
        assert_int_equal(ch->app, m->app[k]);
        assert_int_equal(ch->len, strlen(m->name[k]));
        assert_memory_equal(ch->name, m->name[k], ch->len);
        assert_int_equal(ch->n, members);
        assert_true(ch->n <= ch->cap);
        /* Channel side: each entry points back at its connection's subscription. */
        for (uint32_t p = 0; p < ch->n; p++) {
            struct ws_conn *cn = ch->ent[p].conn;
            assert_true(cn >= m->conn && cn < m->conn + m->nconn);
            assert_true(m->in[cn - m->conn][k]);
            assert_true(ch->ent[p].slot < cn->nsubs);
            assert_ptr_equal(cn->subs[ch->ent[p].slot].ch, ch);
            assert_int_equal(cn->subs[ch->ent[p].slot].pos, p);
            for (uint32_t q = 0; q < p; q++)
                assert_ptr_not_equal(ch->ent[q].conn, cn);
        }
    }
    assert_int_equal(ws_chanidx_count(m->ix), occupied);

    /* Connection side: each subscription points back at its channel entry. */
    for (int c = 0; c < m->nconn; c++) {
        struct ws_conn *cn = &m->conn[c];
        uint32_t want = 0;
        for (int k = 0; k < m->nchan; k++)
            want += m->in[c][k];
        assert_int_equal(cn->nsubs, want);
        assert_true(cn->nsubs <= cn->capsubs || cn->capsubs == 0);
        for (uint32_t i = 0; i < cn->nsubs; i++) {
            struct ws_sub *s = &cn->subs[i];
            assert_non_null(s->ch);
            assert_true(s->pos < s->ch->n);
            assert_ptr_equal(s->ch->ent[s->pos].conn, cn);
            assert_int_equal(s->ch->ent[s->pos].slot, i);
            /* Which model channel is it? Its kind and user_id moved with it. */
            int k = (int)s->kind - 100;
            assert_in_range(k, 0, m->nchan - 1);
            assert_true(m->in[c][k]);
            assert_ptr_equal(s->ch,
                             ws_chanidx_find(m->ix, m->app[k], m->name[k], strlen(m->name[k])));
            if (m->with_uid[k]) {
                char u[32];
                uid_of(u, sizeof u, c, k);
                assert_non_null(s->user_id);
                assert_string_equal(s->user_id, u);
                assert_int_equal(s->ulen, strlen(u));
            } else {
                assert_null(s->user_id);
            }
        }
        for (int k = 0; k < m->nchan; k++) {
            struct ws_sub *s = ws_chanidx_sub_of(cn, m->app[k], m->name[k], strlen(m->name[k]));
            if (m->in[c][k]) {
                assert_non_null(s);
                assert_int_equal(s->kind, (unsigned)k + 100);
            } else {
                assert_null(s);
            }
        }
    }
}

/* Removes whatever is left, frees the connections' arrays and the index. */
static void model_dispose(struct model *m)
{
    for (int c = 0; c < m->nconn; c++)
        for (int k = 0; k < m->nchan; k++)
            if (m->in[c][k])
                model_remove(m, c, k);
    check(m);
    assert_int_equal(ws_chanidx_count(m->ix), 0);
    for (int c = 0; c < m->nconn; c++) {
        free(m->conn[c].subs);
        m->conn[c].subs = NULL;
    }
    ws_chanidx_destroy(m->ix);
    m->ix = NULL;
}

static uint32_t rnd_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void shuffle(int *a, int n, uint32_t *seed)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rnd_next(seed) % (uint32_t)(i + 1));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* ---- tests ---- */

static void test_empty(void **state)
{
    (void)state;
    struct ws_chanidx *ix = ws_chanidx_create();
    assert_non_null(ix);
    assert_int_equal(ws_chanidx_count(ix), 0);
    assert_null(ws_chanidx_find(ix, 1, "a", 1));
    struct ws_conn c;
    memset(&c, 0, sizeof c);
    assert_null(ws_chanidx_sub_of(&c, 1, "a", 1));
    ws_chanidx_destroy(ix);
    ws_chanidx_destroy(NULL);
}

static void test_basic(void **state)
{
    (void)state;
    struct model *m = malloc(sizeof *m);
    model_init(m, 3, 3);
    model_add(m, 0, 0);
    check(m);
    model_add(m, 1, 0);
    model_add(m, 2, 0);
    model_add(m, 0, 1);
    model_add(m, 0, 2);
    check(m);
    /* Same name, other app: a different channel. */
    assert_ptr_not_equal(ws_chanidx_find(m->ix, 1, "shared", 6),
                         ws_chanidx_find(m->ix, 2, "shared", 6));
    assert_null(ws_chanidx_find(m->ix, 3, "shared", 6));
    assert_null(ws_chanidx_find(m->ix, 1, "share", 5));
    assert_null(ws_chanidx_sub_of(&m->conn[1], 2, "shared", 6));
    assert_non_null(ws_chanidx_sub_of(&m->conn[1], 1, "shared", 6));
    assert_null(ws_chanidx_sub_of(&m->conn[1], 1, "shared-2", 8));
    assert_non_null(ws_chanidx_sub_of(&m->conn[0], 1, "shared-2", 8));

    model_remove(m, 0, 0); /* first entry of channel 0, first slot of conn 0 */
    check(m);
    model_remove(m, 2, 0); /* last entry */
    check(m);
    model_remove(m, 1, 0); /* only entry: channel goes */
    check(m);
    assert_null(ws_chanidx_find(m->ix, 1, "shared", 6));
    assert_int_equal(ws_chanidx_count(m->ix), 2);
    model_dispose(m);
    free(m);
}

/* Every order of the three connections leaving each channel, crossed with every order of the
 * channels, both nestings (channel by channel, or connection by connection). */
static const int perm3[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

static void test_remove_orders_3x3(void **state)
{
    (void)state;
    struct model *m = malloc(sizeof *m);
    int runs = 0;
    for (int addorder = 0; addorder < 2; addorder++)
        for (int pc = 0; pc < 6; pc++)
            for (int pk = 0; pk < 6; pk++)
                for (int nest = 0; nest < 2; nest++) {
                    model_init(m, 3, 3);
                    for (int a = 0; a < 3; a++)
                        for (int b = 0; b < 3; b++) {
                            if (addorder == 0)
                                model_add(m, a, b);
                            else
                                model_add(m, b, a);
                            check(m);
                        }
                    for (int a = 0; a < 3; a++)
                        for (int b = 0; b < 3; b++) {
                            int c = nest ? perm3[pc][a] : perm3[pc][b];
                            int k = nest ? perm3[pk][b] : perm3[pk][a];
                            model_remove(m, c, k);
                            check(m);
                        }
                    assert_int_equal(ws_chanidx_count(m->ix), 0);
                    model_dispose(m);
                    runs++;
                }
    assert_int_equal(runs, 144);
    free(m);
}

/* Every permutation of the nine subscriptions' removals for one add order would be 9! runs;
 * instead: every removal order of one connection's three subscriptions and of one channel's three
 * subscribers is covered above, and here a few thousand random full orders, adds shuffled too. */
static void test_remove_random_orders_3x3(void **state)
{
    (void)state;
    struct model *m = malloc(sizeof *m);
    uint32_t seed = 0x9e3779b9u;
    for (int run = 0; run < 3000; run++) {
        model_init(m, 3, 3);
        int ord[9];
        for (int i = 0; i < 9; i++)
            ord[i] = i;
        shuffle(ord, 9, &seed);
        for (int i = 0; i < 9; i++) {
            model_add(m, ord[i] / 3, ord[i] % 3);
            check(m);
        }
        shuffle(ord, 9, &seed);
        for (int i = 0; i < 9; i++) {
            model_remove(m, ord[i] / 3, ord[i] % 3);
            check(m);
        }
        model_dispose(m);
    }
    free(m);
}

/* Random interleaved adds and removes over many connections and channels. */
static void test_random_ops(void **state)
{
    (void)state;
    struct model *m = malloc(sizeof *m);
    model_init(m, MAXC, MAXK);
    uint32_t seed = 12345;
    for (int step = 0; step < 20000; step++) {
        int c = (int)(rnd_next(&seed) % MAXC);
        int k = (int)(rnd_next(&seed) % MAXK);
        if (m->in[c][k])
            model_remove(m, c, k);
        else
            model_add(m, c, k);
        if (step % 7 == 0)
            check(m);
        /* Now and then a connection closes: every subscription goes, last slot first or not. */
        if (step % 997 == 0) {
            int victim = (int)(rnd_next(&seed) % MAXC);
            while (m->conn[victim].nsubs) {
                uint32_t slot = step % 2 ? 0 : m->conn[victim].nsubs - 1;
                struct ws_sub *s = &m->conn[victim].subs[slot];
                int kk = (int)s->kind - 100;
                ws_chanidx_remove(m->ix, &m->conn[victim], s);
                m->in[victim][kk] = false;
                check(m);
            }
        }
    }
    check(m);
    model_dispose(m);
    free(m);
}

/* Enough channels and subscriptions to grow the hash table and both arrays several times. */
static void test_growth(void **state)
{
    (void)state;
    enum { NCH = 700, NCONN = 3 };
    struct ws_chanidx *ix = ws_chanidx_create();
    struct ws_conn *conn = calloc(NCONN, sizeof *conn);
    char name[32];
    for (int k = 0; k < NCH; k++) {
        int n = snprintf(name, sizeof name, "private-%d", k);
        for (int c = 0; c < NCONN; c++) {
            struct ws_sub *s = ws_chanidx_add(ix, &conn[c], 1, name, (size_t)n, 0);
            assert_non_null(s);
            if (k % 5 == 0) {
                s->user_id = strdup(name);
                s->ulen = (size_t)n;
            }
        }
    }
    assert_int_equal(ws_chanidx_count(ix), NCH);
    for (int c = 0; c < NCONN; c++)
        assert_int_equal(conn[c].nsubs, NCH);
    for (int k = 0; k < NCH; k++) {
        int n = snprintf(name, sizeof name, "private-%d", k);
        struct ws_chan *ch = ws_chanidx_find(ix, 1, name, (size_t)n);
        assert_non_null(ch);
        assert_int_equal(ch->n, NCONN);
        for (uint32_t p = 0; p < ch->n; p++) {
            struct ws_conn *cn = ch->ent[p].conn;
            assert_ptr_equal(cn->subs[ch->ent[p].slot].ch, ch);
            assert_int_equal(cn->subs[ch->ent[p].slot].pos, p);
        }
    }
    /* Connection 1 leaves everything from the middle out; 0 from the front; 2 from the back. */
    while (conn[1].nsubs) {
        ws_chanidx_remove(ix, &conn[1], &conn[1].subs[conn[1].nsubs / 2]);
        assert_int_equal(ws_chanidx_count(ix), NCH);
    }
    for (uint32_t i = 0; i < conn[0].nsubs; i++) {
        struct ws_sub *s = &conn[0].subs[i];
        assert_int_equal(s->ch->n, 2);
        assert_ptr_equal(s->ch->ent[s->pos].conn, &conn[0]);
        assert_int_equal(s->ch->ent[s->pos].slot, i);
    }
    while (conn[0].nsubs)
        ws_chanidx_remove(ix, &conn[0], &conn[0].subs[0]);
    assert_int_equal(ws_chanidx_count(ix), NCH);
    for (uint32_t i = 0; i < conn[2].nsubs; i++) {
        struct ws_sub *s = &conn[2].subs[i];
        assert_int_equal(s->ch->n, 1);
        assert_ptr_equal(s->ch->ent[s->pos].conn, &conn[2]);
        assert_int_equal(s->ch->ent[s->pos].slot, i);
    }
    while (conn[2].nsubs)
        ws_chanidx_remove(ix, &conn[2], &conn[2].subs[conn[2].nsubs - 1]);
    assert_int_equal(ws_chanidx_count(ix), 0);
    for (int k = 0; k < NCH; k += 37) {
        int n = snprintf(name, sizeof name, "private-%d", k);
        assert_null(ws_chanidx_find(ix, 1, name, (size_t)n));
    }
    for (int c = 0; c < NCONN; c++)
        free(conn[c].subs);
    free(conn);
    ws_chanidx_destroy(ix);
}

/* A channel that vanished can come back: new subscribers get a fresh channel. */
static void test_readd_after_vanish(void **state)
{
    (void)state;
    struct model *m = malloc(sizeof *m);
    model_init(m, 2, 4);
    for (int round = 0; round < 5; round++) {
        model_add(m, 0, 3);
        model_add(m, 1, 3);
        model_add(m, 1, 2);
        check(m);
        model_remove(m, 0, 3);
        model_remove(m, 1, 3);
        check(m);
        assert_null(ws_chanidx_find(m->ix, m->app[3], m->name[3], strlen(m->name[3])));
        model_remove(m, 1, 2);
        check(m);
        assert_int_equal(ws_chanidx_count(m->ix), 0);
    }
    model_dispose(m);
    free(m);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_remove_orders_3x3),
        cmocka_unit_test(test_remove_random_orders_3x3),
        cmocka_unit_test(test_random_ops),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_readd_after_vanish),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
