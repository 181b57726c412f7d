/* pg_config.h - gateway configuration: defaults < JSON file (--config) < PUSHGATE_* environment.
 * Owner: main. Immutable after pg_config_load() returns; shared as const struct pg_config *.
 * Secrets are never logged.
 */
#ifndef PG_CONFIG_H
#define PG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PG_UNLIMITED (-1) /* value of a max_* count or rate that has no limit */

struct pg_webhook {
    char *url;
    char **event_types; /* empty: every type */
    size_t n_event_types;
    char **header_names; /* "headers": {"Name":"value",...} */
    char **header_values;
    size_t n_headers;
};

struct pg_tls {
    char *cert; /* PEM certificate (chain) file; NULL: no TLS */
    char *key;  /* PEM private key file */
};

struct pg_app {
    int idx;      /* position in pg_config.apps, stable across reloads */
    bool removed; /* a reload dropped it: a placeholder keeping the position, never found */
    char *id;     /* numbers in the file are kept as their decimal text */
    char *key;
    char *secret;
    size_t secret_len;
    bool enabled;                             /* true */
    bool enable_client_messages;              /* false */
    bool enable_user_authentication;          /* false */
    bool authorized_connections;              /* false */
    int64_t authorization_timeout_ms;         /* 30000 */
    bool subscription_count;                  /* false */
    int64_t max_connections;                  /* -1 */
    int64_t max_client_events_per_sec;        /* 10 */
    int64_t max_backend_events_per_sec;       /* -1 */
    int64_t max_read_requests_per_sec;        /* -1 */
    int64_t max_channel_name_length;          /* 200 */
    int64_t max_event_name_length;            /* 200 */
    int64_t max_event_payload_in_kb;          /* 10 */
    int64_t max_event_batch_size;             /* 10 */
    int64_t max_event_channels_at_once;       /* 100 */
    int64_t max_presence_members_per_channel; /* 100 */
    int64_t max_presence_member_size_in_kb;   /* 2 */
    int64_t cache_ttl_seconds;          /* 1800: how long a cache channel keeps its last event */
    char *encryption_master_key_base64; /* NULL: the gateway is blind to encrypted payloads */
    unsigned char encryption_master_key[32]; /* decoded, valid when has_encryption_key */
    bool has_encryption_key;
    struct pg_webhook *webhooks;
    size_t n_webhooks;
};

struct pg_config {
    char *host;                     /* "0.0.0.0" */
    int port;                       /* 6001, WebSocket */
    int api_port;                   /* 6002, REST */
    int workers;                    /* 0 in the file means "auto": max(1, ncpu - 1), at most 64 */
    int activity_timeout;           /* 120 s, sent in connection_established */
    int pong_timeout;               /* 30 s: close 4201 when no reply to our pusher:ping */
    int max_message_size_kb;        /* 64: inbound WebSocket message cap, close 1009 above */
    int out_queue_max_frames;       /* 1000 per connection, then close 4100 */
    int out_queue_max_kb;           /* 1024 per connection, then close 4100 */
    int64_t max_connections_per_ip; /* -1: no per-IP cap on open connections */
    int64_t max_new_connections_per_ip_per_sec; /* -1: no per-IP connection rate limit */
    char **trusted_proxies; /* X-Forwarded-For is believed only from these peer addresses */
    size_t n_trusted_proxies;
    struct pg_tls tls;      /* "tls": {"cert","key"}: wss:// and https:// */
    bool require_tls;       /* plain ws:// connections are closed with 4000 */
    char *log_format;       /* "text" or "json" */
    char *metrics_prefix;   /* "pushgate_"; "soketi_" makes soketi's dashboards work as they are */
    bool require_protocol;  /* false: a missing protocol= means 7; true: close 4008 */
    bool debug_console;     /* false: GET /console, .../console/state and "#debug" are off */
    char *log_level;        /* "info" */
    int webhook_batch_ms;   /* 50: batching window per app and endpoint; 0 = one per request */
    int webhook_batch_max;  /* 100 events per request */
    int webhook_queue_max;  /* 10000 undelivered webhook events per app, then dropped */
    int webhook_timeout_ms; /* 10000 per request */
    int webhook_retry_min_ms;   /* 1000: first retry delay, doubling ... */
    int webhook_retry_max_ms;   /* 60000: ... up to this */
    int webhook_retry_window_s; /* 300: a batch failing for this long is dropped */
    int webhook_debounce_ms;    /* 3000: channel_vacated / member_removed delay */
    char *redis_url;    /* NULL: single node; redis://[[user]:password@]host[:port][/db], checked */
    char *redis_prefix; /* "pushgate": first part of every Redis key and channel */
    struct pg_app *apps;
    size_t n_apps;
    bool default_app; /* true when the embedded demo app (no "apps" given) is in use */
};

/* Loads defaults, then the file at path (NULL: none), then the environment. On failure returns a
 * negative errno and writes one line into err naming the file, the key and what was expected.
 * cfg is always left disposable. */
int pg_config_load(struct pg_config *cfg, const char *path, char *err, size_t errlen);
void pg_config_dispose(struct pg_config *cfg); /* zeroed: no-op */

const struct pg_app *pg_config_app_by_key(const struct pg_config *cfg, const char *key, size_t len);
const struct pg_app *pg_config_app_by_id(const struct pg_config *cfg, const char *id, size_t len);

/* Prints every option, its env variable, default and meaning, from the table the parser reads. */
void pg_config_print_help(FILE *out);

#endif
