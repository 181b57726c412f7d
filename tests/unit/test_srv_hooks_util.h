/* test_srv_hooks_util.h - shared helpers for test_srv_hooks.c and test_srv_hooks_http.c: a
 * webhook config and apps with defaults, and emitting a hook by C string. Header-only: each
 * test_*.c is its own binary. */
#ifndef TEST_SRV_HOOKS_UTIL_H
#define TEST_SRV_HOOKS_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_hooks.h"

#define S(lit) lit, (sizeof lit - 1)

static inline void cfg_init(struct pg_config *cfg, struct pg_app *apps, size_t n)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->webhook_batch_ms = 0;
    cfg->webhook_batch_max = 100;
    cfg->webhook_queue_max = 10000;
    cfg->webhook_timeout_ms = 10000;
    cfg->webhook_retry_min_ms = 1000;
    cfg->webhook_retry_max_ms = 60000;
    cfg->webhook_retry_window_s = 300;
    cfg->webhook_debounce_ms = 0;
    cfg->apps = apps;
    cfg->n_apps = n;
}

static inline void app_init(struct pg_app *a, int idx, const char *secret, struct pg_webhook *w,
                            size_t nw)
{
    static char ids[8][16], keys[8][24];
    memset(a, 0, sizeof *a);
    snprintf(ids[idx], sizeof ids[idx], "%d", 100 + idx);
    snprintf(keys[idx], sizeof keys[idx], "key-%d", idx);
    a->idx = idx;
    a->id = ids[idx];
    a->key = keys[idx];
    a->secret = (char *)secret;
    a->secret_len = strlen(secret);
    a->webhooks = w;
    a->n_webhooks = nw;
}

static inline void emit(struct pg_hooks *h, int app, enum pg_hook_type t, const char *ch)
{
    pg_hooks_emit(h, app, t, ch, strlen(ch), NULL, 0);
}

static inline void emit_user(struct pg_hooks *h, int app, enum pg_hook_type t, const char *ch,
                             const char *uid)
{
    pg_hooks_emit(h, app, t, ch, strlen(ch), uid, strlen(uid));
}

#endif
