/* test_config.c - pg_config: defaults, the JSON file, the environment, errors and --help.
 * Config files are written into a mkdtemp directory; PUSHGATE_* variables are cleared before
 * each test.
 */
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

/* A 32-byte encryption master key and its first and last bytes; like SECRET, never echoed. */
#define MKEY "zyrm8pvV2C9fJcBfhyXzvxbJVN/H7QLmbe0xJi1GhPU="
static const unsigned char mkey_bytes[32] = {
    0xcf, 0x2a, 0xe6, 0xf2, 0x9b, 0xd5, 0xd8, 0x2f, 0x5f, 0x25, 0xc0, 0x5f, 0x87, 0x25, 0xf3, 0xbf,
    0x16, 0xc9, 0x54, 0xdf, 0xc7, 0xed, 0x02, 0xe6, 0x6d, 0xed, 0x31, 0x26, 0x2d, 0x46, 0x84, 0xf5};
#define MKEY_31 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==" /* bytes 0..30 */
#define MKEY_33 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g" /* bytes 0..32 */

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

static void clear_env(void)
{
    for (int i = 0; env_vars[i]; i++)
        unsetenv(env_vars[i]);
}

static int group_setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/pg_test_config_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < n_paths; i++)
        unlink(paths[i]);
    rmdir(dir);
    clear_env();
    return 0;
}

static int setup(void **state)
{
    (void)state;
    clear_env();
    return 0;
}

/* Writes text to dir/name and returns the path (valid for the whole run). */
static const char *write_cfg(const char *name, const char *text)
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

static int expected_auto_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN) - 1;
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

static void assert_app_defaults(const struct pg_app *a)
{
    assert_true(a->enabled);
    assert_false(a->enable_client_messages);
    assert_false(a->enable_user_authentication);
    assert_false(a->authorized_connections);
    assert_int_equal(a->authorization_timeout_ms, 30000);
    assert_false(a->subscription_count);
    assert_int_equal(a->max_connections, PG_UNLIMITED);
    assert_int_equal(a->max_client_events_per_sec, 10);
    assert_int_equal(a->max_backend_events_per_sec, PG_UNLIMITED);
    assert_int_equal(a->max_read_requests_per_sec, PG_UNLIMITED);
    assert_int_equal(a->max_channel_name_length, 200);
    assert_int_equal(a->max_event_name_length, 200);
    assert_int_equal(a->max_event_payload_in_kb, 10);
    assert_int_equal(a->max_event_batch_size, 10);
    assert_int_equal(a->max_event_channels_at_once, 100);
    assert_int_equal(a->max_presence_members_per_channel, 100);
    assert_int_equal(a->max_presence_member_size_in_kb, 2);
    assert_int_equal(a->cache_ttl_seconds, 1800);
    assert_null(a->encryption_master_key_base64);
    assert_false(a->has_encryption_key);
    static const unsigned char zero[32];
    assert_memory_equal(a->encryption_master_key, zero, 32);
    assert_null(a->webhooks);
    assert_int_equal(a->n_webhooks, 0);
}

static void assert_top_defaults(const struct pg_config *c)
{
    assert_string_equal(c->host, "0.0.0.0");
    assert_int_equal(c->port, 6001);
    assert_int_equal(c->api_port, 6002);
    assert_int_equal(c->workers, expected_auto_workers());
    assert_int_equal(c->activity_timeout, 120);
    assert_int_equal(c->pong_timeout, 30);
    assert_int_equal(c->max_message_size_kb, 64);
    assert_int_equal(c->out_queue_max_frames, 1000);
    assert_int_equal(c->out_queue_max_kb, 1024);
    assert_int_equal(c->max_connections_per_ip, PG_UNLIMITED);
    assert_int_equal(c->max_new_connections_per_ip_per_sec, PG_UNLIMITED);
    assert_null(c->trusted_proxies);
    assert_int_equal(c->n_trusted_proxies, 0);
    assert_false(c->require_protocol);
    assert_string_equal(c->log_level, "info");
    assert_int_equal(c->webhook_batch_ms, 50);
    assert_int_equal(c->webhook_batch_max, 100);
    assert_int_equal(c->webhook_queue_max, 10000);
    assert_int_equal(c->webhook_timeout_ms, 10000);
    assert_int_equal(c->webhook_retry_min_ms, 1000);
    assert_int_equal(c->webhook_retry_max_ms, 60000);
    assert_int_equal(c->webhook_retry_window_s, 300);
    assert_int_equal(c->webhook_debounce_ms, 3000);
}

static void test_no_file_defaults(void **state)
{
    (void)state;
    struct pg_config c;
    char err[512] = "junk";
    assert_int_equal(pg_config_load(&c, NULL, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_top_defaults(&c);
    assert_true(c.default_app);
    assert_int_equal(c.n_apps, 1);
    assert_int_equal(c.apps[0].idx, 0);
    assert_string_equal(c.apps[0].id, "app-id");
    assert_string_equal(c.apps[0].key, "app-key");
    assert_string_equal(c.apps[0].secret, "app-secret");
    assert_int_equal(c.apps[0].secret_len, 10);
    assert_app_defaults(&c.apps[0]);
    pg_config_dispose(&c);
    assert_null(c.apps);
    assert_null(c.host);
    pg_config_dispose(&c); /* twice: still a no-op */
}

static const char full_cfg[] =
    "{\n"
    "  \"host\": \"127.0.0.1\", \"port\": 7001, \"api_port\": 7002, \"workers\": 5,\n"
    "  \"activity_timeout\": 60, \"pong_timeout\": 15, \"max_message_size_kb\": 128,\n"
    "  \"out_queue_max_frames\": 500, \"out_queue_max_kb\": 2048, \"log_level\": \"debug\",\n"
    "  \"max_connections_per_ip\": 50, \"max_new_connections_per_ip_per_sec\": 5,\n"
    "  \"trusted_proxies\": [\"10.0.0.2\", \"::1\", \"2001:db8::7\", \"::ffff:192.0.2.1\"],\n"
    "  \"require_protocol\": true,\n"
    "  \"apps\": [\n"
    "    {\"id\": \"first\", \"key\": \"k1\", \"secret\": \"s1\", \"enabled\": false,\n"
    "     \"enable_client_messages\": true, \"enable_user_authentication\": true,\n"
    "     \"authorized_connections\": true, \"authorization_timeout_ms\": 5000,\n"
    "     \"subscription_count\": true, \"max_connections\": 1000,\n"
    "     \"max_client_events_per_sec\": 20, \"max_backend_events_per_sec\": 300,\n"
    "     \"max_read_requests_per_sec\": 400, \"max_channel_name_length\": 150,\n"
    "     \"max_event_name_length\": 120, \"max_event_payload_in_kb\": 50,\n"
    "     \"max_event_batch_size\": 12, \"max_event_channels_at_once\": 90,\n"
    "     \"max_presence_members_per_channel\": 80, \"max_presence_member_size_in_kb\": 3,\n"
    "     \"cache_ttl_seconds\": 600, \"encryption_master_key_base64\": \"" MKEY "\",\n"
    "     \"webhooks\": [\n"
    "       {\"url\": \"https://hooks.example.com/pusher\",\n"
    "        \"event_types\": [\"channel_occupied\", \"member_added\", \"client_event\"],\n"
    "        \"headers\": {\"X-Token\": \"tok\", \"X-Env\": \"prod\"}},\n"
    "       {\"url\": \"http://10.0.0.1:8080/h\"}\n"
    "     ]},\n"
    "    {\"id\": 123, \"key\": \"k2\", \"secret\": \"secret-two\"}\n"
    "  ]\n"
    "}\n";

static void test_full_file(void **state)
{
    (void)state;
    struct pg_config c;
    char err[512];
    const char *p = write_cfg("full.json", full_cfg);
    assert_int_equal(pg_config_load(&c, p, err, sizeof err), 0);
    assert_string_equal(c.host, "127.0.0.1");
    assert_int_equal(c.port, 7001);
    assert_int_equal(c.api_port, 7002);
    assert_int_equal(c.workers, 5);
    assert_int_equal(c.activity_timeout, 60);
    assert_int_equal(c.pong_timeout, 15);
    assert_int_equal(c.max_message_size_kb, 128);
    assert_int_equal(c.out_queue_max_frames, 500);
    assert_int_equal(c.out_queue_max_kb, 2048);
    assert_string_equal(c.log_level, "debug");
    assert_int_equal(c.max_connections_per_ip, 50);
    assert_int_equal(c.max_new_connections_per_ip_per_sec, 5);
    assert_int_equal(c.n_trusted_proxies, 4);
    assert_string_equal(c.trusted_proxies[0], "10.0.0.2");
    assert_string_equal(c.trusted_proxies[1], "::1");
    assert_string_equal(c.trusted_proxies[2], "2001:db8::7");
    assert_string_equal(c.trusted_proxies[3], "::ffff:192.0.2.1");
    assert_true(c.require_protocol);
    assert_false(c.default_app);
    assert_int_equal(c.n_apps, 2);

    const struct pg_app *a = &c.apps[0];
    assert_int_equal(a->idx, 0);
    assert_string_equal(a->id, "first");
    assert_string_equal(a->key, "k1");
    assert_string_equal(a->secret, "s1");
    assert_int_equal(a->secret_len, 2);
    assert_false(a->enabled);
    assert_true(a->enable_client_messages);
    assert_true(a->enable_user_authentication);
    assert_true(a->authorized_connections);
    assert_int_equal(a->authorization_timeout_ms, 5000);
    assert_true(a->subscription_count);
    assert_int_equal(a->max_connections, 1000);
    assert_int_equal(a->max_client_events_per_sec, 20);
    assert_int_equal(a->max_backend_events_per_sec, 300);
    assert_int_equal(a->max_read_requests_per_sec, 400);
    assert_int_equal(a->max_channel_name_length, 150);
    assert_int_equal(a->max_event_name_length, 120);
    assert_int_equal(a->max_event_payload_in_kb, 50);
    assert_int_equal(a->max_event_batch_size, 12);
    assert_int_equal(a->max_event_channels_at_once, 90);
    assert_int_equal(a->max_presence_members_per_channel, 80);
    assert_int_equal(a->max_presence_member_size_in_kb, 3);
    assert_int_equal(a->cache_ttl_seconds, 600);
    assert_string_equal(a->encryption_master_key_base64, MKEY);
    assert_true(a->has_encryption_key);
    assert_int_equal(a->encryption_master_key[0], 0xcf);
    assert_int_equal(a->encryption_master_key[1], 0x2a);
    assert_int_equal(a->encryption_master_key[2], 0xe6);
    assert_int_equal(a->encryption_master_key[31], 0xf5);
    assert_memory_equal(a->encryption_master_key, mkey_bytes, 32);

    assert_int_equal(a->n_webhooks, 2);
    const struct pg_webhook *h = &a->webhooks[0];
    assert_string_equal(h->url, "https://hooks.example.com/pusher");
    assert_int_equal(h->n_event_types, 3);
    assert_string_equal(h->event_types[0], "channel_occupied");
    assert_string_equal(h->event_types[1], "member_added");
    assert_string_equal(h->event_types[2], "client_event");
    assert_int_equal(h->n_headers, 2);
    /* json-c keeps object keys in file order */
    assert_string_equal(h->header_names[0], "X-Token");
    assert_string_equal(h->header_values[0], "tok");
    assert_string_equal(h->header_names[1], "X-Env");
    assert_string_equal(h->header_values[1], "prod");
    h = &a->webhooks[1];
    assert_string_equal(h->url, "http://10.0.0.1:8080/h");
    assert_int_equal(h->n_event_types, 0);
    assert_null(h->event_types);
    assert_int_equal(h->n_headers, 0);

    a = &c.apps[1];
    assert_int_equal(a->idx, 1);
    assert_string_equal(a->id, "123"); /* JSON number kept as decimal text */
    assert_string_equal(a->key, "k2");
    assert_string_equal(a->secret, "secret-two");
    assert_int_equal(a->secret_len, 10);
    assert_app_defaults(a);
    pg_config_dispose(&c);
}

static void test_missing_fields_default(void **state)
{
    (void)state;
    struct pg_config c;
    char err[512];
    const char *p = write_cfg("min.json", "{\"port\": 8000, \"apps\": [" APP_OK "]}");
    assert_int_equal(pg_config_load(&c, p, err, sizeof err), 0);
    assert_int_equal(c.port, 8000);
    assert_string_equal(c.host, "0.0.0.0");
    assert_int_equal(c.api_port, 6002);
    assert_int_equal(c.workers, expected_auto_workers());
    assert_string_equal(c.log_level, "info");
    assert_false(c.default_app);
    assert_int_equal(c.n_apps, 1);
    assert_string_equal(c.apps[0].id, "a1");
    assert_string_equal(c.apps[0].secret, SECRET);
    assert_int_equal(c.apps[0].secret_len, strlen(SECRET));
    assert_app_defaults(&c.apps[0]);
    pg_config_dispose(&c);

    /* empty object: all defaults; "apps": [] also means the default app */
    p = write_cfg("empty_obj.json", "{}");
    assert_int_equal(pg_config_load(&c, p, err, sizeof err), 0);
    assert_top_defaults(&c);
    assert_true(c.default_app);
    assert_string_equal(c.apps[0].key, "app-key");
    pg_config_dispose(&c);
    p = write_cfg("empty_apps.json", "{\"apps\": [], \"workers\": 0}");
    assert_int_equal(pg_config_load(&c, p, err, sizeof err), 0);
    assert_true(c.default_app);
    assert_int_equal(c.n_apps, 1);
    assert_int_equal(c.workers, expected_auto_workers());
    pg_config_dispose(&c);
}

static void test_unlimited(void **state)
{
    (void)state;
    struct pg_config c;
    char err[512];
    const char *p = write_cfg(
        "unl.json",
        "{\"apps\": [{\"id\": \"u\", \"key\": \"uk\", \"secret\": \"us\", \"max_connections\": -1,"
        " \"max_client_events_per_sec\": -1, \"max_event_payload_in_kb\": -1,"
        " \"max_event_batch_size\": -1, \"max_presence_members_per_channel\": -1,"
        " \"max_event_channels_at_once\": 1}]}");
    assert_int_equal(pg_config_load(&c, p, err, sizeof err), 0);
    assert_int_equal(c.apps[0].max_connections, -1);
    assert_int_equal(c.apps[0].max_client_events_per_sec, -1);
    assert_int_equal(c.apps[0].max_event_payload_in_kb, -1);
    assert_int_equal(c.apps[0].max_event_batch_size, -1);
    assert_int_equal(c.apps[0].max_presence_members_per_channel, -1);
    assert_int_equal(c.apps[0].max_event_channels_at_once, 1);
    pg_config_dispose(&c);
}

/* The edges of each new option's range, and an empty proxy list. */
static void test_new_option_edges(void **state)
{
    (void)state;
    struct pg_config c;
    char err[512];
    const char *p = write_cfg(
        "edges_lo.json",
        "{\"max_connections_per_ip\": 1, \"max_new_connections_per_ip_per_sec\": 1,"
        " \"trusted_proxies\": [], \"apps\": [{\"id\": \"e\", \"key\": \"ek\", \"secret\": \"es\","
        " \"cache_ttl_seconds\": 1}]}");
    assert_int_equal(pg_config_load(&c, p, err, sizeof err), 0);
    assert_int_equal(c.max_connections_per_ip, 1);
    assert_int_equal(c.max_new_connections_per_ip_per_sec, 1);
    assert_null(c.trusted_proxies);
    assert_int_equal(c.n_trusted_proxies, 0);
    assert_int_equal(c.apps[0].cache_ttl_seconds, 1);
    assert_false(c.apps[0].has_encryption_key);
    pg_config_dispose(&c);

    p = write_cfg("edges_hi.json",
                  "{\"max_connections_per_ip\": -1, \"max_new_connections_per_ip_per_sec\": "
                  "9223372036854775807, \"trusted_proxies\": [\"0.0.0.0\"],"
                  " \"apps\": [{\"id\": \"e\", \"key\": \"ek\", \"secret\": \"es\","
                  " \"cache_ttl_seconds\": 86400}]}");
    assert_int_equal(pg_config_load(&c, p, err, sizeof err), 0);
    assert_int_equal(c.max_connections_per_ip, PG_UNLIMITED);
    assert_int_equal(c.max_new_connections_per_ip_per_sec, INT64_MAX);
    assert_int_equal(c.n_trusted_proxies, 1);
    assert_string_equal(c.trusted_proxies[0], "0.0.0.0");
    assert_int_equal(c.apps[0].cache_ttl_seconds, 86400);
    pg_config_dispose(&c);
    assert_null(c.trusted_proxies);
}

/* Disposing an app wipes the decoded key, not just frees it. */
static void test_master_key_wiped(void **state)
{
    (void)state;
    struct pg_config c;
    char err[512];
    static const unsigned char zero[32];
    const char *p =
        write_cfg("mkey.json", "{\"apps\": [{\"id\": \"m\", \"key\": \"mk\", \"secret\": \"ms\","
                               " \"encryption_master_key_base64\": \"" MKEY "\"}, " APP_OK "]}");
    assert_int_equal(pg_config_load(&c, p, err, sizeof err), 0);
    assert_true(c.apps[0].has_encryption_key);
    assert_memory_equal(c.apps[0].encryption_master_key, mkey_bytes, 32);
    assert_false(c.apps[1].has_encryption_key); /* per app */
    pg_config__free_master_key(&c.apps[0]);
    assert_false(c.apps[0].has_encryption_key);
    assert_null(c.apps[0].encryption_master_key_base64);
    assert_memory_equal(c.apps[0].encryption_master_key, zero, 32);
    pg_config_dispose(&c); /* frees the rest; the key part is now a no-op */
}

struct bad_case {
    const char *name;
    const char *json;
    const char *want;  /* substring of the error after "<path>: " */
    const char *avoid; /* must not appear (besides SECRET), or NULL */
};

#define APP_WITH(extra)                                                                            \
    "{\"apps\": [{\"id\": \"a1\", \"key\": \"k1\", \"secret\": \"" SECRET "\"" extra "}]}"

static const struct bad_case bad_cases[] = {
    {"unknown_top", "{\"prot\": 6001}", "unknown key \"prot\" at top level", NULL},
    {"unknown_app", APP_WITH(", \"max_conections\": 5"), "apps[0]: unknown key \"max_conections\"",
     NULL},
    {"port_string", "{\"port\": \"6001\"}",
     "port: expected an integer from 1 to 65535, got \"6001\"", NULL},
    {"port_double", "{\"port\": 6001.5}", "port: expected an integer from 1 to 65535, got 6001.5",
     NULL},
    {"key_number", "{\"apps\": [{\"id\": \"a\", \"key\": 42, \"secret\": \"" SECRET "\"}]}",
     "apps[0].key: expected a non-empty string, got 42", NULL},
    {"id_bool", "{\"apps\": [{\"id\": true, \"key\": \"k\", \"secret\": \"" SECRET "\"}]}",
     "apps[0].id: expected a non-empty string or an integer, got true", NULL},
    {"port_range", "{\"port\": 70000}", "port: expected an integer from 1 to 65535, got 70000",
     NULL},
    {"port_huge", "{\"port\": 18446744073709551615}",
     "port: expected an integer from 1 to 65535, got 18446744073709551615", NULL},
    {"workers_range", "{\"workers\": 65}", "workers: expected an integer from 0 to 64, got 65",
     NULL},
    {"maxconn_neg2", APP_WITH(", \"max_connections\": -2"),
     "apps[0].max_connections: expected an integer >= 1 or -1, got -2", NULL},
    {"maxconn_zero", APP_WITH(", \"max_connections\": 0"),
     "apps[0].max_connections: expected an integer >= 1 or -1, got 0", NULL},
    {"maxconn_str", APP_WITH(", \"max_connections\": \"abc\""),
     "apps[0].max_connections: expected an integer >= 1 or -1, got \"abc\"", NULL},
    {"authto_range", APP_WITH(", \"authorization_timeout_ms\": 0"),
     "apps[0].authorization_timeout_ms: expected an integer from 1 to 3600000, got 0", NULL},
    {"enabled_str", APP_WITH(", \"enabled\": \"yes\""),
     "apps[0].enabled: expected true or false, got \"yes\"", NULL},
    {"log_level", "{\"log_level\": \"verbose\"}",
     "log_level: expected one of error, warn, info, debug, got \"verbose\"", NULL},
    {"hook_batch_max", "{\"webhook_batch_max\": 0}",
     "webhook_batch_max: expected an integer from 1 to 10000, got 0", NULL},
    {"hook_event",
     APP_WITH(", \"webhooks\": [{\"url\": \"https://h.example/x\", \"event_types\": "
              "[\"member_added\", \"channel_exploded\"]}]"),
     "apps[0].webhooks[0].event_types[1]: expected one of channel_occupied, ", NULL},
    {"hook_no_url", APP_WITH(", \"webhooks\": [{\"event_types\": []}]"),
     "apps[0].webhooks[0].url: required key is missing", NULL},
    {"hook_bad_url", APP_WITH(", \"webhooks\": [{\"url\": \"ftp://user:pw@h.example/x\"}]"),
     "apps[0].webhooks[0].url: expected an http:// or https:// URL", "pw@"},
    {"hook_unknown", APP_WITH(", \"webhooks\": [{\"url\": \"https://h.example\", \"retry\": 1}]"),
     "apps[0].webhooks[0]: unknown key \"retry\"", NULL},
    {"hook_header_crlf",
     APP_WITH(", \"webhooks\": [{\"url\": \"https://h.example\", \"headers\": {\"X-A\": "
              "\"v\\r\\nEvil: tok123\"}}]"),
     "apps[0].webhooks[0].headers.X-A: expected a string without CR, LF or NUL", "tok123"},
    {"hook_header_num",
     APP_WITH(", \"webhooks\": [{\"url\": \"https://h.example\", \"headers\": {\"X-A\": 5}}]"),
     "apps[0].webhooks[0].headers.X-A: expected a string", NULL},
    {"hook_header_null",
     APP_WITH(", \"webhooks\": [{\"url\": \"https://h.example\", \"headers\": {\"X-A\": null}}]"),
     "apps[0].webhooks[0].headers.X-A: expected a string", NULL},
    {"hook_event_null",
     APP_WITH(", \"webhooks\": [{\"url\": \"https://h.example\", \"event_types\": [null]}]"),
     "apps[0].webhooks[0].event_types[0]: expected one of channel_occupied, ", NULL},
    {"hook_event_nul",
     APP_WITH(", \"webhooks\": [{\"url\": \"https://h.example\", \"event_types\": "
              "[\"member_added\\u0000x\"]}]"),
     "apps[0].webhooks[0].event_types[0]: expected one of channel_occupied, ", NULL},
    {"app_null", "{\"apps\": [null]}", "apps[0]: expected an object, got null", NULL},
    {"port_null", "{\"port\": null}", "port: expected an integer from 1 to 65535, got null", NULL},
    {"dup_id",
     "{\"apps\": [{\"id\": \"same\", \"key\": \"ka\", \"secret\": \"" SECRET "\"},"
     " {\"id\": \"other\", \"key\": \"kb\", \"secret\": \"x\"},"
     " {\"id\": \"same\", \"key\": \"kc\", \"secret\": \"" SECRET "\"}]}",
     "apps[0].id: duplicate id \"same\" (also apps[2])", NULL},
    {"dup_id_numeric",
     "{\"apps\": [{\"id\": 7, \"key\": \"ka\", \"secret\": \"" SECRET "\"},"
     " {\"id\": \"7\", \"key\": \"kb\", \"secret\": \"" SECRET "\"}]}",
     "apps[0].id: duplicate id \"7\" (also apps[1])", NULL},
    {"dup_key",
     "{\"apps\": [{\"id\": \"a\", \"key\": \"k1\", \"secret\": \"" SECRET "\"},"
     " {\"id\": \"b\", \"key\": \"k1\", \"secret\": \"" SECRET "\"}]}",
     "apps[0].key: duplicate key \"k1\" (also apps[1])", NULL},
    {"missing_secret", "{\"apps\": [{\"id\": \"a\", \"key\": \"k\"}]}",
     "apps[0].secret: required key is missing", NULL},
    {"missing_id", "{\"apps\": [" APP_OK ", {\"key\": \"k9\", \"secret\": \"" SECRET "\"}]}",
     "apps[1].id: required key is missing", NULL},
    {"empty_key", "{\"apps\": [{\"id\": \"a\", \"key\": \"\", \"secret\": \"" SECRET "\"}]}",
     "apps[0].key: expected a non-empty string, got \"\"", NULL},
    {"empty_secret", "{\"apps\": [{\"id\": \"a\", \"key\": \"k\", \"secret\": \"\"}]}",
     "apps[0].secret: expected a non-empty string", "got"},
    {"secret_number", "{\"apps\": [{\"id\": \"a\", \"key\": \"k\", \"secret\": 987654321}]}",
     "apps[0].secret: expected a non-empty string", "987654321"},
    {"app_not_object", "{\"apps\": [" APP_OK ", 5]}", "apps[1]: expected an object, got 5", NULL},
    {"apps_not_array", "{\"apps\": {}}", "apps: expected an array of app objects, got an object",
     NULL},
    /* cache_ttl_seconds */
    {"ttl_zero", APP_WITH(", \"cache_ttl_seconds\": 0"),
     "apps[0].cache_ttl_seconds: expected an integer from 1 to 86400, got 0", NULL},
    {"ttl_neg1", APP_WITH(", \"cache_ttl_seconds\": -1"),
     "apps[0].cache_ttl_seconds: expected an integer from 1 to 86400, got -1", NULL},
    {"ttl_high", APP_WITH(", \"cache_ttl_seconds\": 86401"),
     "apps[0].cache_ttl_seconds: expected an integer from 1 to 86400, got 86401", NULL},
    {"ttl_str", APP_WITH(", \"cache_ttl_seconds\": \"60\""),
     "apps[0].cache_ttl_seconds: expected an integer from 1 to 86400, got \"60\"", NULL},
    {"ttl_double", APP_WITH(", \"cache_ttl_seconds\": 60.5"),
     "apps[0].cache_ttl_seconds: expected an integer from 1 to 86400, got 60.5", NULL},
    /* per-IP limits */
    {"ip_conn_zero", "{\"max_connections_per_ip\": 0}",
     "max_connections_per_ip: expected an integer >= 1 or -1, got 0", NULL},
    {"ip_conn_neg2", "{\"max_connections_per_ip\": -2}",
     "max_connections_per_ip: expected an integer >= 1 or -1, got -2", NULL},
    {"ip_conn_str", "{\"max_connections_per_ip\": \"10\"}",
     "max_connections_per_ip: expected an integer >= 1 or -1, got \"10\"", NULL},
    {"ip_conn_bool", "{\"max_connections_per_ip\": true}",
     "max_connections_per_ip: expected an integer >= 1 or -1, got true", NULL},
    {"ip_conn_huge", "{\"max_connections_per_ip\": 9223372036854775808}",
     "max_connections_per_ip: expected an integer >= 1 or -1, got 9223372036854775808", NULL},
    {"ip_rate_zero", "{\"max_new_connections_per_ip_per_sec\": 0}",
     "max_new_connections_per_ip_per_sec: expected an integer >= 1 or -1, got 0", NULL},
    {"ip_rate_neg2", "{\"max_new_connections_per_ip_per_sec\": -2}",
     "max_new_connections_per_ip_per_sec: expected an integer >= 1 or -1, got -2", NULL},
    {"ip_rate_double", "{\"max_new_connections_per_ip_per_sec\": 2.5}",
     "max_new_connections_per_ip_per_sec: expected an integer >= 1 or -1, got 2.5", NULL},
    {"ip_rate_null", "{\"max_new_connections_per_ip_per_sec\": null}",
     "max_new_connections_per_ip_per_sec: expected an integer >= 1 or -1, got null", NULL},
    /* trusted_proxies */
    {"proxies_string", "{\"trusted_proxies\": \"10.0.0.1\"}",
     "trusted_proxies: expected an array of IPv4 or IPv6 addresses, got \"10.0.0.1\"", NULL},
    {"proxies_object", "{\"trusted_proxies\": {}}",
     "trusted_proxies: expected an array of IPv4 or IPv6 addresses, got an object", NULL},
    {"proxies_hostname", "{\"trusted_proxies\": [\"10.0.0.1\", \"lb.internal\"]}",
     "trusted_proxies[1]: expected an IPv4 or IPv6 address, got \"lb.internal\"", NULL},
    {"proxies_cidr", "{\"trusted_proxies\": [\"::1\", \"::2\", \"10.0.0.0/8\"]}",
     "trusted_proxies[2]: expected an IPv4 or IPv6 address, got \"10.0.0.0/8\"", NULL},
    {"proxies_port", "{\"trusted_proxies\": [\"10.0.0.1:8080\"]}",
     "trusted_proxies[0]: expected an IPv4 or IPv6 address, got \"10.0.0.1:8080\"", NULL},
    {"proxies_space", "{\"trusted_proxies\": [\" 10.0.0.1\"]}",
     "trusted_proxies[0]: expected an IPv4 or IPv6 address, got \" 10.0.0.1\"", NULL},
    {"proxies_v4_range", "{\"trusted_proxies\": [\"10.0.0.256\"]}",
     "trusted_proxies[0]: expected an IPv4 or IPv6 address, got \"10.0.0.256\"", NULL},
    {"proxies_empty_str", "{\"trusted_proxies\": [\"\"]}",
     "trusted_proxies[0]: expected an IPv4 or IPv6 address, got \"\"", NULL},
    {"proxies_nul", "{\"trusted_proxies\": [\"10.0.0.1\\u0000x\"]}",
     "trusted_proxies[0]: expected an IPv4 or IPv6 address, got \"10.0.0.1\\x00x\"", NULL},
    {"proxies_number", "{\"trusted_proxies\": [167772161]}",
     "trusted_proxies[0]: expected an IPv4 or IPv6 address, got 167772161", NULL},
    {"proxies_null", "{\"trusted_proxies\": [null]}",
     "trusted_proxies[0]: expected an IPv4 or IPv6 address, got null", NULL},
    /* encryption_master_key_base64: a secret, so errors never carry its text */
    {"mkey_number", APP_WITH(", \"encryption_master_key_base64\": 123456789"),
     "apps[0].encryption_master_key_base64: expected a standard base64 string of exactly 32 "
     "bytes",
     "123456789"},
    {"mkey_null", APP_WITH(", \"encryption_master_key_base64\": null"),
     "apps[0].encryption_master_key_base64: expected a standard base64 string of exactly 32 "
     "bytes",
     "got"},
    {"mkey_not_b64", APP_WITH(", \"encryption_master_key_base64\": \"not*base64!Zq9\""),
     "apps[0].encryption_master_key_base64: expected a standard base64 string of exactly 32 "
     "bytes",
     "Zq9"},
    {"mkey_unpadded",
     APP_WITH(
         ", \"encryption_master_key_base64\": \"zyrm8pvV2C9fJcBfhyXzvxbJVN/H7QLmbe0xJi1GhPU\""),
     "apps[0].encryption_master_key_base64: expected a standard base64 string of exactly 32 "
     "bytes",
     "zyrm8"},
    {"mkey_urlsafe",
     APP_WITH(
         ", \"encryption_master_key_base64\": \"zyrm8pvV2C9fJcBfhyXzvxbJVN_H7QLmbe0xJi1GhPU=\""),
     "apps[0].encryption_master_key_base64: expected a standard base64 string of exactly 32 "
     "bytes",
     "zyrm8"},
    {"mkey_space",
     APP_WITH(
         ", \"encryption_master_key_base64\": \"zyrm8pvV2C9fJcBfhyXzvxbJ VN/H7QLmbe0xJi1GhPU=\""),
     "apps[0].encryption_master_key_base64: expected a standard base64 string of exactly 32 "
     "bytes",
     "zyrm8"},
    {"mkey_31", APP_WITH(", \"encryption_master_key_base64\": \"" MKEY_31 "\""),
     "apps[0].encryption_master_key_base64: expected a standard base64 string of exactly 32 "
     "bytes, got 31 bytes",
     MKEY_31},
    {"mkey_33", APP_WITH(", \"encryption_master_key_base64\": \"" MKEY_33 "\""),
     "apps[0].encryption_master_key_base64: expected a standard base64 string of exactly 32 "
     "bytes, got 33 bytes",
     MKEY_33},
    {"mkey_64", APP_WITH(", \"encryption_master_key_base64\": \"" MKEY_33 MKEY_33 "\""),
     "apps[0].encryption_master_key_base64: expected a standard base64 string of exactly 32 "
     "bytes",
     "AAECAwQF"},
    {"mkey_empty", APP_WITH(", \"encryption_master_key_base64\": \"\""),
     "apps[0].encryption_master_key_base64: expected a standard base64 string of exactly 32 "
     "bytes, got 0 bytes",
     NULL},
    /* a good key is not echoed either when a later key of the same app is wrong */
    {"mkey_ok_then_bad",
     APP_WITH(", \"encryption_master_key_base64\": \"" MKEY "\", \"cache_ttl_seconds\": 0"),
     "apps[0].cache_ttl_seconds: expected an integer from 1 to 86400, got 0", MKEY},
    {"top_array", "[{\"port\": 1}]", "expected a JSON object at top level, got an array", NULL},
    {"invalid_json", "{\n  \"port\": 6001,\n  \"host\": tru\n}\n",
     "invalid JSON (boolean expected) at line 3, column", NULL},
    {"trailing_comma", "{\"port\": 6001,}", "invalid JSON (unexpected character) at line 1", NULL},
    {"single_quote", "{\"port\": 6001,\n 'x': 1}",
     "invalid JSON (single quote) at line 2, column 2", NULL},
    {"raw_tab", "{\"host\": \"a\tb\"}", "invalid JSON (control character in string) at line 1",
     NULL},
    {"quote_in_string_ok_then_bad", "{\"host\": \"it's \\\" fine\", \"prot\": 1}",
     "unknown key \"prot\" at top level", NULL},
    {"trailing_garbage", "{\"port\": 6001}\n\n}x",
     "trailing characters after the JSON object at line 3, column 1", NULL},
    {"truncated", "{\"port\": 6001, \"apps\": [", "invalid JSON: unexpected end of file", NULL},
    {"empty_file", "", "invalid JSON: unexpected end of file", NULL},
    {"too_deep",
     "{\"apps\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
     "invalid JSON (nesting too deep)", NULL},
};

static void test_bad_files(void **state)
{
    (void)state;
    char name[64], want[512], err[512];
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *b = &bad_cases[i];
        struct pg_config c;
        snprintf(name, sizeof name, "bad_%s.json", b->name);
        const char *p = write_cfg(name, b->json);
        memset(err, 0, sizeof err);
        int rc = pg_config_load(&c, p, err, sizeof err);
        snprintf(want, sizeof want, "%s: %s", p, b->want);
        if (rc != -EINVAL || strncmp(err, want, strlen(want)) || strstr(err, SECRET) ||
            strstr(err, MKEY) || strchr(err, '\n') ||
            (b->avoid && strstr(err + strlen(p), b->avoid)))
            fail_msg("case %s: rc %d, err \"%s\", want \"%s...\"", b->name, rc, err, want);
        if (getenv("PG_TEST_VERBOSE"))
            print_message("%s\n", err);
        /* a failed load leaves nothing behind */
        assert_null(c.apps);
        assert_null(c.host);
        assert_int_equal(c.n_apps, 0);
        pg_config_dispose(&c);
    }
}

static void test_unreadable(void **state)
{
    (void)state;
    struct pg_config c;
    char err[512], want[600], p[128];
    snprintf(p, sizeof p, "%s/does-not-exist.json", dir);
    assert_int_equal(pg_config_load(&c, p, err, sizeof err), -ENOENT);
    snprintf(want, sizeof want, "cannot read %s: No such file or directory", p);
    assert_string_equal(err, want);
    pg_config_dispose(&c);

    assert_int_equal(pg_config_load(&c, dir, err, sizeof err), -EISDIR);
    snprintf(want, sizeof want, "cannot read %s: Is a directory", dir);
    assert_string_equal(err, want);

    /* errlen 0 and NULL err are tolerated */
    assert_int_equal(pg_config_load(&c, p, NULL, 0), -ENOENT);
    /* a tiny buffer gets a truncated, terminated line */
    char small[8];
    assert_int_equal(pg_config_load(&c, p, small, sizeof small), -ENOENT);
    assert_string_equal(small, "cannot ");
}

static void test_env_overrides(void **state)
{
    (void)state;
    struct pg_config c;
    char err[512];
    const char *p = write_cfg("env.json", "{\"port\": 6500, \"host\": \"10.1.1.1\", \"workers\": 2,"
                                          " \"apps\": [" APP_OK "]}");
    setenv("PUSHGATE_PORT", "7100", 1);
    setenv("PUSHGATE_API_PORT", "7200", 1);
    setenv("PUSHGATE_HOST", "::1", 1);
    setenv("PUSHGATE_WORKERS", "3", 1);
    setenv("PUSHGATE_LOG_LEVEL", "warn", 1);
    assert_int_equal(pg_config_load(&c, p, err, sizeof err), 0);
    assert_int_equal(c.port, 7100);
    assert_int_equal(c.api_port, 7200);
    assert_string_equal(c.host, "::1");
    assert_int_equal(c.workers, 3);
    assert_string_equal(c.log_level, "warn");
    assert_false(c.default_app);
    assert_string_equal(c.apps[0].key, "k1");
    pg_config_dispose(&c);

    /* workers=0 from the environment means auto, like in the file */
    setenv("PUSHGATE_WORKERS", "0", 1);
    assert_int_equal(pg_config_load(&c, p, err, sizeof err), 0);
    assert_int_equal(c.workers, expected_auto_workers());
    pg_config_dispose(&c);
}

static void test_env_default_app(void **state)
{
    (void)state;
    struct pg_config c;
    char err[512];
    setenv("PUSHGATE_DEFAULT_APP_ID", "42", 1);
    setenv("PUSHGATE_DEFAULT_APP_KEY", "demo-key", 1);
    setenv("PUSHGATE_DEFAULT_APP_SECRET", "demo-secret-xyz", 1);
    assert_int_equal(pg_config_load(&c, NULL, err, sizeof err), 0);
    assert_true(c.default_app);
    assert_int_equal(c.n_apps, 1);
    assert_string_equal(c.apps[0].id, "42");
    assert_string_equal(c.apps[0].key, "demo-key");
    assert_string_equal(c.apps[0].secret, "demo-secret-xyz");
    assert_int_equal(c.apps[0].secret_len, 15);
    assert_app_defaults(&c.apps[0]);
    pg_config_dispose(&c);

    /* only the key: the others keep their demo values; an empty apps list still counts as none */
    unsetenv("PUSHGATE_DEFAULT_APP_ID");
    unsetenv("PUSHGATE_DEFAULT_APP_SECRET");
    const char *p = write_cfg("noapps.json", "{\"apps\": []}");
    assert_int_equal(pg_config_load(&c, p, err, sizeof err), 0);
    assert_true(c.default_app);
    assert_string_equal(c.apps[0].id, "app-id");
    assert_string_equal(c.apps[0].key, "demo-key");
    assert_string_equal(c.apps[0].secret, "app-secret");
    pg_config_dispose(&c);
}

static void test_env_default_app_with_apps(void **state)
{
    (void)state;
    struct pg_config c;
    char err[512], want[600];
    const char *p = write_cfg("withapps.json", "{\"apps\": [" APP_OK "]}");
    setenv("PUSHGATE_DEFAULT_APP_KEY", "demo-key", 1);
    assert_int_equal(pg_config_load(&c, p, err, sizeof err), -EINVAL);
    snprintf(want, sizeof want, "%s: PUSHGATE_DEFAULT_APP_KEY is set but \"apps\" lists 1 app(s)",
             p);
    assert_memory_equal(err, want, strlen(want));
    assert_null(c.apps);
    unsetenv("PUSHGATE_DEFAULT_APP_KEY");

    setenv("PUSHGATE_DEFAULT_APP_SECRET", "env-secret-value", 1);
    assert_int_equal(pg_config_load(&c, p, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "PUSHGATE_DEFAULT_APP_SECRET is set"));
    assert_null(strstr(err, "env-secret-value"));
}

static void test_env_bad_values(void **state)
{
    (void)state;
    static const struct {
        const char *var, *val, *want;
    } cases[] = {
        {"PUSHGATE_PORT", "abc", "PUSHGATE_PORT: expected an integer from 1 to 65535, got \"abc\""},
        {"PUSHGATE_PORT", "70000",
         "PUSHGATE_PORT: expected an integer from 1 to 65535, got \"70000\""},
        {"PUSHGATE_PORT", "80x", "PUSHGATE_PORT: expected an integer from 1 to 65535, got \"80x\""},
        {"PUSHGATE_PORT", " 80", "PUSHGATE_PORT: expected an integer from 1 to 65535, got \" 80\""},
        {"PUSHGATE_PORT", "", "PUSHGATE_PORT: expected an integer from 1 to 65535, got \"\""},
        {"PUSHGATE_API_PORT", "0",
         "PUSHGATE_API_PORT: expected an integer from 1 to 65535, got \"0\""},
        {"PUSHGATE_WORKERS", "99999999999999999999",
         "PUSHGATE_WORKERS: expected an integer from 0 to 64, got \"99999999999999999999\""},
        {"PUSHGATE_HOST", "", "PUSHGATE_HOST: expected a non-empty string, got \"\""},
        {"PUSHGATE_LOG_LEVEL", "loud",
         "PUSHGATE_LOG_LEVEL: expected one of error, warn, info, debug, got \"loud\""},
        {"PUSHGATE_DEFAULT_APP_KEY", "",
         "PUSHGATE_DEFAULT_APP_KEY: expected a non-empty string, got \"\""},
        {"PUSHGATE_DEFAULT_APP_SECRET", "",
         "PUSHGATE_DEFAULT_APP_SECRET: expected a non-empty "
         "string"},
    };
    struct pg_config c;
    char err[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clear_env();
        setenv(cases[i].var, cases[i].val, 1);
        int rc = pg_config_load(&c, NULL, err, sizeof err);
        if (rc != -EINVAL || strcmp(err, cases[i].want))
            fail_msg("%s=\"%s\": rc %d, err \"%s\"", cases[i].var, cases[i].val, rc, err);
        assert_null(c.apps);
    }
}

static void test_app_lookup(void **state)
{
    (void)state;
    struct pg_config c;
    char err[512];
    const char *p = write_cfg("lookup.json", full_cfg);
    assert_int_equal(pg_config_load(&c, p, err, sizeof err), 0);
    assert_ptr_equal(pg_config_app_by_key(&c, "k1", 2), &c.apps[0]);
    assert_ptr_equal(pg_config_app_by_key(&c, "k2", 2), &c.apps[1]);
    assert_ptr_equal(pg_config_app_by_key(&c, "k2-and-more", 2), &c.apps[1]); /* (ptr,len) */
    assert_null(pg_config_app_by_key(&c, "k", 1));
    assert_null(pg_config_app_by_key(&c, "k12", 3));
    assert_null(pg_config_app_by_key(&c, "K1", 2));
    assert_null(pg_config_app_by_key(&c, "k1\0", 3));
    assert_null(pg_config_app_by_key(&c, "", 0));
    assert_ptr_equal(pg_config_app_by_id(&c, "first", 5), &c.apps[0]);
    assert_ptr_equal(pg_config_app_by_id(&c, "123", 3), &c.apps[1]);
    assert_null(pg_config_app_by_id(&c, "12", 2));
    assert_null(pg_config_app_by_id(&c, "1234", 4));
    assert_null(pg_config_app_by_id(&c, "k1", 2)); /* keys are not ids */
    pg_config_dispose(&c);

    struct pg_config zero;
    memset(&zero, 0, sizeof zero);
    assert_null(pg_config_app_by_key(&zero, "k1", 2));
    pg_config_dispose(&zero); /* zeroed: no-op */
}

static void test_print_help(void **state)
{
    (void)state;
    static const char *const want[] = {
        /* top level */
        "host", "port", "api_port", "workers", "activity_timeout", "pong_timeout",
        "max_message_size_kb", "out_queue_max_frames", "out_queue_max_kb", "max_connections_per_ip",
        "max_new_connections_per_ip_per_sec", "trusted_proxies", "require_protocol", "log_level",
        "apps",
        /* app */
        "id", "key", "secret", "enabled", "enable_client_messages", "enable_user_authentication",
        "authorized_connections", "authorization_timeout_ms", "subscription_count",
        "max_connections", "max_client_events_per_sec", "max_backend_events_per_sec",
        "max_read_requests_per_sec", "max_channel_name_length", "max_event_name_length",
        "max_event_payload_in_kb", "max_event_batch_size", "max_event_channels_at_once",
        "max_presence_members_per_channel", "max_presence_member_size_in_kb", "cache_ttl_seconds",
        "encryption_master_key_base64", "webhooks",
        /* webhook */
        "url", "event_types", "headers"};
    static const char *const also[] = {"PUSHGATE_HOST",
                                       "PUSHGATE_PORT",
                                       "PUSHGATE_API_PORT",
                                       "PUSHGATE_WORKERS",
                                       "PUSHGATE_LOG_LEVEL",
                                       "PUSHGATE_DEFAULT_APP_ID",
                                       "PUSHGATE_DEFAULT_APP_KEY",
                                       "PUSHGATE_DEFAULT_APP_SECRET",
                                       "default 6001",
                                       "default 6002",
                                       "default \"0.0.0.0\"",
                                       "integer 1..65535",
                                       "error|warn|info|debug",
                                       "default -1 (unlimited)",
                                       "default 10",
                                       "required (default app: \"app-id\")",
                                       "member_removed",
                                       "subscription_count",
                                       "cache_miss",
                                       "integer 1..86400; default 1800",
                                       "array of IPv4 or IPv6 addresses; optional",
                                       "standard base64 string of exactly 32 bytes; optional",
                                       "X-Forwarded-For",
                                       "closed with 4100",
                                       "private-encrypted-",
                                       "within authorization_timeout_ms (4009)",
                                       "else close 4009 (soketi's meaning)",
                                       "Deadline for authorized_connections / "
                                       "enable_user_authentication"};
    FILE *f = tmpfile();
    assert_non_null(f);
    pg_config_print_help(f);
    long n = ftell(f);
    assert_true(n > 0);
    char *buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    rewind(f);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    char needle[80];
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf(needle, sizeof needle, "\n  %s ", want[i]); /* a key starts its own line */
        if (!strstr(buf, needle))
            fail_msg("help lacks key %s", want[i]);
    }
    for (size_t i = 0; i < sizeof also / sizeof also[0]; i++)
        if (!strstr(buf, also[i]))
            fail_msg("help lacks %s", also[i]);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test_setup(test_no_file_defaults, setup),
        cmocka_unit_test_setup(test_full_file, setup),
        cmocka_unit_test_setup(test_missing_fields_default, setup),
        cmocka_unit_test_setup(test_unlimited, setup),
        cmocka_unit_test_setup(test_new_option_edges, setup),
        cmocka_unit_test_setup(test_master_key_wiped, setup),
        cmocka_unit_test_setup(test_bad_files, setup),
        cmocka_unit_test_setup(test_unreadable, setup),
        cmocka_unit_test_setup(test_env_overrides, setup),
        cmocka_unit_test_setup(test_env_default_app, setup),
        cmocka_unit_test_setup(test_env_default_app_with_apps, setup),
        cmocka_unit_test_setup(test_env_bad_values, setup),
        cmocka_unit_test_setup(test_app_lookup, setup),
        cmocka_unit_test_setup(test_print_help, setup),
    };
    return cmocka_run_group_tests(t, group_setup, group_teardown);
}
