/* test_config_util.h - shared fixture for test_config.c and test_config_errors.c: the secrets
 * that must never be echoed, a mkdtemp directory for config files, and clearing PUSHGATE_*
 * variables before each test. Header-only: each test_*.c is its own binary. */
#ifndef TEST_CONFIG_UTIL_H
#define TEST_CONFIG_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg_config.h"
#include "pg_config_int.h" /* pg_config__free_master_key: checks that the key is wiped */

#define SECRET "Sup3r-s3cret-V4lue" /* must never appear in an error line */
#define APP_OK "{\"id\":\"a1\",\"key\":\"k1\",\"secret\":\"" SECRET "\"}"

/* A 32-byte encryption master key; like SECRET, never echoed. */
#define MKEY "zyrm8pvV2C9fJcBfhyXzvxbJVN/H7QLmbe0xJi1GhPU="

static char dir[64];
static char paths[160][128];
static int n_paths;

static const char *const env_vars[] = {"PUSHGATE_HOST",
                                       "PUSHGATE_PORT",
                                       "PUSHGATE_API_PORT",
                                       "PUSHGATE_WORKERS",
                                       "PUSHGATE_LOG_LEVEL",
                                       "PUSHGATE_DEFAULT_APP_ID",
                                       "PUSHGATE_DEFAULT_APP_KEY",
                                       "PUSHGATE_DEFAULT_APP_SECRET",
                                       NULL};

static inline void clear_env(void)
{
    for (int i = 0; env_vars[i]; i++)
        unsetenv(env_vars[i]);
}

static inline int group_setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/pg_test_config_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static inline int group_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < n_paths; i++)
        unlink(paths[i]);
    rmdir(dir);
    clear_env();
    return 0;
}

static inline int setup(void **state)
{
    (void)state;
    clear_env();
    return 0;
}

/* Writes text to dir/name and returns the path (valid for the whole run). */
static inline const char *write_cfg(const char *name, const char *text)
{
    assert_true(n_paths < (int)(sizeof paths / sizeof paths[0]));
    char *p = paths[n_paths++];
    snprintf(p, sizeof paths[0], "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return p;
}

#endif
