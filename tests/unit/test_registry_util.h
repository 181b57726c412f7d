/* test_registry_util.h - shared helpers for test_registry.c and test_registry_presence.c:
 * counts, masks and listings of one channel, and presence join / leave by C string.
 * Header-only: each test_*.c is its own binary. */
#ifndef TEST_REGISTRY_UTIL_H
#define TEST_REGISTRY_UTIL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg_buf.h"
#include "pg_bus.h"
#include "pg_msg.h"
#include "pg_registry.h"

/* A string literal as (pointer, length). */
#define S(lit) lit, (sizeof lit - 1)

#define APP 1

/* ---- helpers ---- */

static inline long subs_of(struct pg_registry *r, int app, const char *ch)
{
    struct pg_chan_stats st = {-1, -1};
    int rc = pg_registry_stats(r, app, ch, strlen(ch), &st);
    if (rc == -ENOENT) {
        assert_int_equal(st.subs, 0);
        assert_int_equal(st.users, 0);
        return -ENOENT;
    }
    assert_int_equal(rc, 0);
    return st.subs;
}

static inline long users_of(struct pg_registry *r, int app, const char *ch)
{
    struct pg_chan_stats st = {-1, -1};
    pg_registry_stats(r, app, ch, strlen(ch), &st);
    return st.users;
}

static inline uint64_t mask_of(struct pg_registry *r, int app, const char *ch)
{
    return pg_registry_mask(r, app, ch, strlen(ch));
}

#define MAX_LISTED 1100

struct listing {
    size_t n;
    struct {
        char name[64];
        struct pg_chan_stats st;
    } e[MAX_LISTED];
};

static inline void list_cb(void *ctx, const char *ch, size_t len, const struct pg_chan_stats *st)
{
    struct listing *l = ctx;
    if (l->n >= MAX_LISTED || len >= sizeof l->e[0].name)
        return;
    memcpy(l->e[l->n].name, ch, len);
    l->e[l->n].name[len] = 0;
    l->e[l->n].st = *st;
    l->n++;
}

static inline void list(struct pg_registry *r, int app, const char *prefix, struct listing *l)
{
    memset(l, 0, sizeof *l);
    pg_registry_each(r, app, prefix, prefix ? strlen(prefix) : 0, list_cb, l);
}

/* The entry named ch in l, or NULL. */
static inline const struct pg_chan_stats *listed(const struct listing *l, const char *ch)
{
    const struct pg_chan_stats *found = NULL;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->e[i].name, ch) == 0) {
            assert_null(found); /* listed once */
            found = &l->e[i].st;
        }
    return found;
}

static inline int join(struct pg_registry *r, int app, const char *ch, unsigned w, const char *sid,
                       const char *uid, const char *info, long max, struct pg_buf *roster)
{
    return pg_registry_presence_join(r, app, ch, strlen(ch), w, sid, uid, strlen(uid), info,
                                     info ? strlen(info) : 0, max, roster);
}

static inline int leave(struct pg_registry *r, int app, const char *ch, unsigned w, const char *uid)
{
    return pg_registry_presence_leave(r, app, ch, strlen(ch), w, uid, strlen(uid));
}

#endif
