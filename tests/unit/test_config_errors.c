/* test_config_errors.c - pg_config loads that fail: every bad file, an unreadable path, bad
 * PUSHGATE_* values and a default app beside "apps". Each error names its place, is one line
 * and never echoes a secret; a failed load leaves nothing behind.
 */
#include "test_config_util.h"

#define MKEY_31 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==" /* bytes 0..30 */
#define MKEY_33 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g" /* bytes 0..32 */

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

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test_setup(test_bad_files, setup),
        cmocka_unit_test_setup(test_unreadable, setup),
        cmocka_unit_test_setup(test_env_default_app_with_apps, setup),
        cmocka_unit_test_setup(test_env_bad_values, setup),
    };
    return cmocka_run_group_tests(t, group_setup, group_teardown);
}
