/* test_trigger_util.h - shared fixture for test_trigger.c and test_trigger_enc.c: a test app,
 * parse(), expect_fail() / expect_400() and generated bodies. Header-only: each test_*.c is
 * its own binary. */
#ifndef TEST_TRIGGER_UTIL_H
#define TEST_TRIGGER_UTIL_H

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

#include "pg_chan_name.h"
#include "pg_config.h"
#include "pg_trigger.h"

#define NONCE24 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
#define CT35 "6rVSuKAuBIv93dzoqJgh+AEidySHWH/MlDfFNmdv+bWcdCM="

static struct pg_app app;
static char err[256];

static inline int setup(void **state)
{
    (void)state;
    memset(&app, 0, sizeof app);
    app.id = "1";
    app.key = "key";
    app.secret = "secret";
    app.secret_len = 6;
    app.enabled = true;
    app.max_channel_name_length = 200;
    app.max_event_name_length = 200;
    app.max_event_payload_in_kb = 10;
    app.max_event_batch_size = 10;
    app.max_event_channels_at_once = 100;
    err[0] = '\0';
    return 0;
}

static inline int parse(struct pg_trigger *t, const char *body, bool batch)
{
    return pg_trigger_parse(t, &app, body, strlen(body), batch, err, sizeof err);
}

/* Expects failure rc and an error message containing want; t must come back zeroed. */
static inline void expect_fail(const char *body, bool batch, int rc, const char *want)
{
    struct pg_trigger t;
    int got = parse(&t, body, batch);
    if (got != rc || !strstr(err, want))
        fail_msg("body %.120s: rc %d (want %d), err \"%s\" (want \"%s\")", body, got, rc, err,
                 want);
    assert_null(t.ev);
    assert_int_equal(t.nev, 0);
    assert_null(t._root);
    pg_trigger_dispose(&t);
}

static inline void expect_400(const char *body, bool batch, const char *want)
{
    expect_fail(body, batch, -EINVAL, want);
}

/* A JSON body of one event with data "x" on n channels named c0, c1, ... */
static inline char *channels_body(size_t n)
{
    size_t cap = 64 + n * 16;
    char *b = malloc(cap);
    size_t k = (size_t)snprintf(b, cap, "{\"name\":\"e\",\"data\":\"x\",\"channels\":[");
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(b + k, cap - k, "%s\"c%zu\"", i ? "," : "", i);
    snprintf(b + k, cap - k, "]}");
    return b;
}

/* {"name":"e","channel":"c","data":"<n x 'a'>"} */
static inline char *data_body(size_t n)
{
    char *b = malloc(n + 64);
    int k = sprintf(b, "{\"name\":\"e\",\"channel\":\"c\",\"data\":\"");
    memset(b + k, 'a', n);
    strcpy(b + k + n, "\"}");
    return b;
}

static inline char *batch_body(size_t n)
{
    size_t cap = 32 + n * 48;
    char *b = malloc(cap);
    size_t k = (size_t)snprintf(b, cap, "{\"batch\":[");
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(b + k, cap - k,
                              "%s{\"name\":\"e\",\"data\":\"%zu\",\"channel\":\"c\"}", i ? "," : "",
                              i);
    snprintf(b + k, cap - k, "]}");
    return b;
}

#endif
