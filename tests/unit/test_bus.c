/* test_bus.c - worker inboxes (pg_bus): FIFO, wake-ups, fan-out copies, soft bound, close. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg_bus.h"
#include "pg_frame.h"
#include "pg_msg.h"

struct waker {
    struct pg_bus *bus;
    unsigned w;
    int calls;
    size_t bytes_seen; /* queued bytes read from inside the waker (it runs outside the lock) */
};

static void wake(void *ctx)
{
    struct waker *k = ctx;
    k->calls++;
    k->bytes_seen = pg_bus_queued_bytes(k->bus, k->w);
}

static struct pg_bus_item *adopt(int fd)
{
    struct pg_bus_item *it = pg_bus_item_new(PG_BUS_ADOPT, NULL, 0);
    assert_non_null(it);
    it->fd = fd;
    return it;
}

static void free_list(struct pg_bus_item *it)
{
    while (it) {
        struct pg_bus_item *next = it->next;
        pg_bus_item_free(it);
        it = next;
    }
}

static size_t list_len(const struct pg_bus_item *it)
{
    size_t n = 0;
    for (; it; it = it->next)
        n++;
    return n;
}

static void test_create_limits(void **state)
{
    (void)state;
    assert_null(pg_bus_create(0, 1024));
    assert_null(pg_bus_create(PG_BUS_MAX_WORKERS + 1, 1024));
    struct pg_bus *b = pg_bus_create(PG_BUS_MAX_WORKERS, 1024);
    assert_non_null(b);
    assert_int_equal(pg_bus_nworkers(b), PG_BUS_MAX_WORKERS);
    for (unsigned w = 0; w < PG_BUS_MAX_WORKERS; w++) {
        assert_null(pg_bus_take(b, w));
        assert_int_equal(pg_bus_queued_bytes(b, w), 0);
    }
    pg_bus_destroy(b);
    pg_bus_destroy(NULL);
}

static void test_item_new(void **state)
{
    (void)state;
    struct pg_bus_item *it = pg_bus_item_new(PG_BUS_EVENT, "my-channel-xyz", 10);
    assert_non_null(it);
    assert_int_equal(it->kind, PG_BUS_EVENT);
    assert_int_equal(it->fd, -1);
    assert_null(it->msg);
    assert_string_equal(it->except, "");
    assert_int_equal(it->clen, 10);
    assert_string_equal(it->channel, "my-channel"); /* clen bytes, NUL-terminated */
    pg_bus_item_free(it);

    it = pg_bus_item_new(PG_BUS_SHUTDOWN, NULL, 99); /* NULL channel: clen ignored */
    assert_non_null(it);
    assert_int_equal(it->clen, 0);
    assert_string_equal(it->channel, "");
    it->msg = pg_msg_from("x", 1); /* owned by the item: freed with it */
    pg_bus_item_free(it);
    pg_bus_item_free(NULL);
}

static void test_fifo(void **state)
{
    (void)state;
    struct pg_bus *b = pg_bus_create(2, 1 << 20);
    assert_non_null(b);
    for (int i = 0; i < 5; i++)
        assert_int_equal(pg_bus_push(b, 1, adopt(100 + i)), 0);
    assert_null(pg_bus_take(b, 0)); /* other inbox untouched */
    assert_true(pg_bus_queued_bytes(b, 1) > 0);

    struct pg_bus_item *l = pg_bus_take(b, 1);
    assert_int_equal(list_len(l), 5);
    int fd = 100;
    for (struct pg_bus_item *it = l; it; it = it->next)
        assert_int_equal(it->fd, fd++);
    free_list(l);
    assert_null(pg_bus_take(b, 1));
    assert_int_equal(pg_bus_queued_bytes(b, 1), 0);

    /* Interleaved pushes and takes keep order within each batch, and across batches. */
    pg_bus_push(b, 0, adopt(1));
    pg_bus_push(b, 0, adopt(2));
    l = pg_bus_take(b, 0);
    pg_bus_push(b, 0, adopt(3));
    assert_int_equal(list_len(l), 2);
    assert_int_equal(l->fd, 1);
    assert_int_equal(l->next->fd, 2);
    free_list(l);
    l = pg_bus_take(b, 0);
    assert_int_equal(list_len(l), 1);
    assert_int_equal(l->fd, 3);
    free_list(l);

    /* Items still queued at destroy are freed by it (ASan: no leak). */
    struct pg_bus_item *it = pg_bus_item_new(PG_BUS_EVENT, "c", 1);
    it->msg = pg_msg_from("queued", 6);
    pg_bus_push(b, 1, it);
    pg_bus_push(b, 1, adopt(7));
    pg_bus_destroy(b);
}

static void test_waker_only_on_empty(void **state)
{
    (void)state;
    struct pg_bus *b = pg_bus_create(3, 1 << 20);
    struct waker k0 = {b, 0, 0, 0}, k2 = {b, 2, 0, 0};
    pg_bus_set_waker(b, 0, wake, &k0);
    pg_bus_set_waker(b, 2, wake, &k2);

    assert_int_equal(pg_bus_push(b, 0, adopt(1)), 0);
    assert_int_equal(k0.calls, 1);
    assert_true(k0.bytes_seen > 0); /* the item was visible when the waker ran */
    for (int i = 0; i < 9; i++)
        pg_bus_push(b, 0, adopt(2 + i));
    assert_int_equal(k0.calls, 1); /* a burst costs one wake-up */
    assert_int_equal(k2.calls, 0);

    /* Worker 1 has no waker: pushes still work. */
    assert_int_equal(pg_bus_push(b, 1, adopt(1)), 0);
    assert_int_equal(k0.calls, 1);
    assert_int_equal(k2.calls, 0);

    pg_bus_push(b, 2, adopt(1));
    pg_bus_push(b, 2, adopt(2));
    assert_int_equal(k2.calls, 1);

    free_list(pg_bus_take(b, 0));
    pg_bus_push(b, 0, adopt(1)); /* empty again: wakes again */
    assert_int_equal(k0.calls, 2);
    pg_bus_push(b, 0, adopt(2));
    assert_int_equal(k0.calls, 2);

    /* An empty take does not re-arm anything by itself. */
    free_list(pg_bus_take(b, 0));
    assert_null(pg_bus_take(b, 0));
    assert_int_equal(k0.calls, 2);

    /* publish wakes each target inbox once, and only on empty -> non-empty. */
    free_list(pg_bus_take(b, 2));
    struct pg_msg *m = pg_msg_from("m", 1);
    assert_int_equal(pg_bus_publish(b, 0x5, 1, "c", 1, m, NULL), 2);
    assert_int_equal(k0.calls, 3);
    assert_int_equal(k2.calls, 2);
    m = pg_msg_from("m", 1);
    assert_int_equal(pg_bus_publish(b, 0x5, 1, "c", 1, m, NULL), 2);
    assert_int_equal(k0.calls, 3);
    assert_int_equal(k2.calls, 2);

    /* Replacing the waker takes effect. */
    struct waker k0b = {b, 0, 0, 0};
    pg_bus_set_waker(b, 0, wake, &k0b);
    free_list(pg_bus_take(b, 0));
    pg_bus_push(b, 0, adopt(1));
    assert_int_equal(k0.calls, 3);
    assert_int_equal(k0b.calls, 1);

    pg_bus_destroy(b);
}

static void test_publish_copies(void **state)
{
    (void)state;
    struct pg_bus *b = pg_bus_create(4, 1 << 20);
    struct pg_msg *m = pg_frame_str("my-event", "my-channel", 10, "hello", 5);
    assert_non_null(m);
    const uint32_t len = m->len;
    char want[128];
    assert_true(len < sizeof want);
    memcpy(want, pg_msg_data(m), len);

    /* Workers 0, 1 and 3. */
    int rc = pg_bus_publish(b, 0xB, 7, "my-channel", 10, m, "123.456");
    assert_int_equal(rc, 3);
    assert_null(pg_bus_take(b, 2));

    struct pg_msg *seen[3];
    const unsigned ws[3] = {0, 1, 3};
    for (int i = 0; i < 3; i++) {
        struct pg_bus_item *it = pg_bus_take(b, ws[i]);
        assert_non_null(it);
        assert_null(it->next); /* one item per worker */
        assert_int_equal(it->kind, PG_BUS_EVENT);
        assert_int_equal(it->app, 7);
        assert_int_equal(it->clen, 10);
        assert_string_equal(it->channel, "my-channel");
        assert_string_equal(it->except, "123.456");
        assert_non_null(it->msg);
        assert_int_equal(it->msg->refs, 1);
        assert_int_equal(it->msg->len, len);
        assert_memory_equal(pg_msg_data(it->msg), want, len);
        assert_int_equal(pg_msg_data(it->msg)[len], '\0');
        seen[i] = it->msg;
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(seen[j], seen[i]);
        /* Each worker writes its own headroom (lws_write): must not disturb the others. */
        memset(it->msg->buf, 0x11 * (i + 1), PG_MSG_PRE);
        pg_msg_data(it->msg)[0] = (unsigned char)('A' + i);
        if (i > 0)
            assert_int_equal(pg_msg_data(seen[i - 1])[0], 'A' + i - 1);
        /* Keep the message alive past the item to compare it with the next one. */
        pg_msg_ref(it->msg);
        pg_bus_item_free(it);
    }
    /* The first target got the original pointer. */
    assert_ptr_equal(seen[0], m);
    for (int i = 0; i < 3; i++)
        pg_msg_unref(seen[i]);
    pg_bus_destroy(b);
}

static void test_publish_except(void **state)
{
    (void)state;
    struct pg_bus *b = pg_bus_create(2, 1 << 20);

    /* No exception. */
    assert_int_equal(pg_bus_publish(b, 0x3, 0, "c", 1, pg_msg_from("x", 1), NULL), 2);
    for (unsigned w = 0; w < 2; w++) {
        struct pg_bus_item *it = pg_bus_take(b, w);
        assert_non_null(it);
        assert_string_equal(it->except, "");
        free_list(it);
    }

    /* A too-long socket id is cut to fit and stays NUL-terminated. */
    char longsid[PG_SID_MAX * 2];
    memset(longsid, '9', sizeof longsid - 1);
    longsid[sizeof longsid - 1] = 0;
    assert_int_equal(pg_bus_publish(b, 0x2, 0, "c", 1, pg_msg_from("x", 1), longsid), 1);
    struct pg_bus_item *it = pg_bus_take(b, 1);
    assert_non_null(it);
    assert_int_equal(strlen(it->except), PG_SID_MAX - 1);
    assert_memory_equal(it->except, longsid, PG_SID_MAX - 1);
    free_list(it);

    /* The longest real socket id fits whole. */
    const char *sid = "4294967295.18446744073709551615";
    assert_int_equal(pg_bus_publish(b, 0x1, 0, "c", 1, pg_msg_from("x", 1), sid), 1);
    it = pg_bus_take(b, 0);
    assert_string_equal(it->except, sid);
    free_list(it);
    pg_bus_destroy(b);
}

static void test_publish_mask_zero_frees(void **state)
{
    (void)state;
    struct pg_bus *b = pg_bus_create(2, 1 << 20);
    struct waker k = {b, 0, 0, 0};
    pg_bus_set_waker(b, 0, wake, &k);
    /* Consumed and freed (the ASan build reports a leak otherwise). */
    assert_int_equal(pg_bus_publish(b, 0, 1, "c", 1, pg_msg_from("lost", 4), "1.1"), 0);
    /* Bits past nworkers reach nobody either. */
    assert_int_equal(pg_bus_publish(b, UINT64_C(1) << 5, 1, "c", 1, pg_msg_from("x", 1), NULL), 0);
    assert_int_equal(pg_bus_publish(b, UINT64_C(1) << 63, 1, "c", 1, pg_msg_from("x", 1), NULL), 0);
    assert_null(pg_bus_take(b, 0));
    assert_null(pg_bus_take(b, 1));
    assert_int_equal(k.calls, 0);
    /* Mixed: only the bits of real workers count. */
    assert_int_equal(pg_bus_publish(b, 0xF0 | 0x2, 1, "c", 1, pg_msg_from("x", 1), NULL), 1);
    free_list(pg_bus_take(b, 1));
    pg_bus_destroy(b);
}

static void test_check_soft_bound(void **state)
{
    (void)state;
    const size_t soft = 1000;
    struct pg_bus *b = pg_bus_create(3, soft);
    assert_int_equal(pg_bus_check(b, 0x7), 0);
    assert_int_equal(pg_bus_check(b, 0), 0);

    /* Fill worker 1 with small events; check flips exactly when the queue passes the bound. */
    int pushes = 0;
    while (pg_bus_queued_bytes(b, 1) <= soft) {
        assert_int_equal(pg_bus_check(b, 0x2), 0);
        struct pg_bus_item *it = pg_bus_item_new(PG_BUS_EVENT, "chan", 4);
        it->msg = pg_msg_from("0123456789012345678901234567890123456789", 40);
        assert_int_equal(pg_bus_push(b, 1, it), 0);
        assert_true(++pushes < 1000);
    }
    assert_true(pushes > 1);
    assert_int_equal(pg_bus_check(b, 0x2), -ENOBUFS);
    assert_int_equal(pg_bus_check(b, 0x7), -ENOBUFS); /* any inbox in the mask */
    assert_int_equal(pg_bus_check(b, 0x5), 0);        /* the others are fine */
    assert_int_equal(pg_bus_check(b, 0x1), 0);

    /* A big message alone passes the bound too. */
    struct pg_msg *big = pg_msg_new(soft * 2);
    memset(pg_msg_data(big), 'x', soft * 2);
    assert_int_equal(pg_bus_publish(b, 0x4, 0, "c", 1, big, NULL), 1);
    assert_true(pg_bus_queued_bytes(b, 2) > soft * 2);
    assert_int_equal(pg_bus_check(b, 0x4), -ENOBUFS);

    free_list(pg_bus_take(b, 1));
    assert_int_equal(pg_bus_queued_bytes(b, 1), 0);
    assert_int_equal(pg_bus_check(b, 0x2), 0);
    assert_int_equal(pg_bus_check(b, 0x7), -ENOBUFS);
    free_list(pg_bus_take(b, 2));
    assert_int_equal(pg_bus_check(b, 0x7), 0);
    pg_bus_destroy(b);
}

static void test_close(void **state)
{
    (void)state;
    struct pg_bus *b = pg_bus_create(2, 1 << 20);
    struct waker k = {b, 0, 0, 0};
    pg_bus_set_waker(b, 0, wake, &k);
    pg_bus_push(b, 0, adopt(1)); /* queued before close: still delivered */
    assert_int_equal(k.calls, 1);
    pg_bus_close(b);

    /* Refused and freed, message included (ASan: no leak), and no wake-up. */
    struct pg_bus_item *it = pg_bus_item_new(PG_BUS_EVENT, "c", 1);
    it->msg = pg_msg_from("after close", 11);
    assert_int_equal(pg_bus_push(b, 1, it), -ESHUTDOWN);
    assert_int_equal(pg_bus_push(b, 0, adopt(2)), -ESHUTDOWN);
    assert_int_equal(k.calls, 1);

    /* publish after close reaches nobody and frees the message and every copy. */
    int rc = pg_bus_publish(b, 0x3, 0, "c", 1, pg_msg_from("late", 4), NULL);
    assert_true(rc <= 0);

    struct pg_bus_item *l = pg_bus_take(b, 0);
    assert_int_equal(list_len(l), 1);
    assert_int_equal(l->fd, 1);
    free_list(l);
    assert_null(pg_bus_take(b, 1));
    pg_bus_close(b); /* idempotent */
    pg_bus_destroy(b);
}

/* ---- several producers, one consumer: FIFO per producer, nothing lost ---- */

#define NPROD 4
#define PER_PROD 20000

struct prod {
    struct pg_bus *b;
    int id;
};

static void *producer(void *arg)
{
    struct prod *p = arg;
    for (int i = 0; i < PER_PROD; i++) {
        struct pg_bus_item *it = pg_bus_item_new(PG_BUS_ADOPT, NULL, 0);
        it->fd = p->id * PER_PROD + i;
        if (pg_bus_push(p->b, 0, it) != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_concurrent_producers(void **state)
{
    (void)state;
    struct pg_bus *b = pg_bus_create(1, (size_t)-1);
    pthread_t th[NPROD];
    struct prod p[NPROD];
    for (int i = 0; i < NPROD; i++) {
        p[i] = (struct prod){b, i};
        assert_int_equal(pthread_create(&th[i], NULL, producer, &p[i]), 0);
    }
    int next[NPROD] = {0};
    long total = 0;
    while (total < (long)NPROD * PER_PROD) {
        struct pg_bus_item *l = pg_bus_take(b, 0);
        if (!l)
            sched_yield();
        for (struct pg_bus_item *it = l; it; it = it->next) {
            int who = it->fd / PER_PROD, seq = it->fd % PER_PROD;
            assert_in_range(who, 0, NPROD - 1);
            assert_int_equal(seq, next[who]);
            next[who]++;
            total++;
        }
        free_list(l);
    }
    for (int i = 0; i < NPROD; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        assert_null(ret);
        assert_int_equal(next[i], PER_PROD);
    }
    assert_int_equal(total, (long)NPROD * PER_PROD);
    assert_null(pg_bus_take(b, 0));
    pg_bus_destroy(b);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(test_create_limits),
        cmocka_unit_test(test_item_new),
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_waker_only_on_empty),
        cmocka_unit_test(test_publish_copies),
        cmocka_unit_test(test_publish_except),
        cmocka_unit_test(test_publish_mask_zero_frees),
        cmocka_unit_test(test_check_soft_bound),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_concurrent_producers),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
