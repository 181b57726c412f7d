/* test_config.c - pg_config: defaults, the JSON file, the environment, lookups and --help.
 * Every load that fails is in test_config_errors.c. Config files are written into a mkdtemp
 * directory; PUSHGATE_* variables are cleared before each test.
 */
#include "test_config_util.h"

/* The bytes of MKEY. */
static const unsigned char mkey_bytes[32] = {
    0xcf, 0x2a, 0xe6, 0xf2, 0x9b, 0xd5, 0xd8, 0x2f, 0x5f, 0x25, 0xc0, 0x5f, 0x87, 0x25, 0xf3, 0xbf,
    0x16, 0xc9, 0x54, 0xdf, 0xc7, 0xed, 0x02, 0xe6, 0x6d, 0xed, 0x31, 0x26, 0x2d, 0x46, 0x84, 0xf5};

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
    static const char *const also[] = {
        "PUSHGATE_HOST",
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
        "Deadline for authorized_connections / enable_user_authentication"};
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
        cmocka_unit_test_setup(test_env_overrides, setup),
        cmocka_unit_test_setup(test_env_default_app, setup),
        cmocka_unit_test_setup(test_app_lookup, setup),
        cmocka_unit_test_setup(test_print_help, setup),
    };
    return cmocka_run_group_tests(t, group_setup, group_teardown);
}
