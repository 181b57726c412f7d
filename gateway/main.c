/* main.c - pushgate entry point: configuration, start-up order, signals, shutdown order.
 * Thread: pg-main. It starts every other thread and is the only one that takes signals.
 */
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <libwebsockets.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_cache.h"
#include "pg_clock.h"
#include "pg_config.h"
#include "pg_hooks.h"
#include "pg_iplimit.h"
#include "pg_log.h"
#include "pg_rand.h"
#include "pg_server.h"
#include "rest_server.h"
#include "srv_redis.h"
#include "srv_reload.h"
#include "ws_accept.h"
#include "ws_worker.h"

#define INBOX_SOFT_BYTES (64u * 1024 * 1024)
#define PG_RELOAD_SPARE_APPS 256 /* apps a SIGHUP reload may add over the run */

static void usage(FILE *out)
{
    fprintf(out, "usage: pushgate [--config FILE] [--log-level LEVEL] [--help] [--version]\n\n"
                 "A Pusher Channels compatible realtime gateway.\n"
                 "With no --config it serves the embedded demo app (id app-id, key app-key).\n\n");
    pg_config_print_help(out);
}

int main(int argc, char **argv)
{
    const char *path = NULL, *level = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-v") == 0) {
            printf("pushgate %s (libwebsockets %s, json-c %s, libsodium %s)\n", PG_VERSION,
                   lws_get_library_version(), json_c_version(), sodium_version_string());
            return 0;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            path = argv[++i];
            continue;
        }
        if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            level = argv[++i];
            if (pg_log_parse_level(level) < 0) {
                fprintf(stderr,
                        "pushgate: --log-level: expected error|warn|info|debug, got \"%s\"\n",
                        level);
                return 2;
            }
            continue;
        }
        if (strncmp(argv[i], "--config=", 9) == 0) {
            path = argv[i] + 9;
            continue;
        }
        fprintf(stderr, "pushgate: unknown argument \"%s\" (try --help)\n", argv[i]);
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "pushgate: libsodium failed to initialise\n");
        return 1;
    }

    struct pg_config cfg;
    char err[512];
    if (pg_config_load(&cfg, path, err, sizeof err) < 0) {
        fprintf(stderr, "pushgate: %s\n", err);
        pg_config_dispose(&cfg);
        return 2;
    }
    if (cfg.require_tls && !cfg.tls.cert) {
        fprintf(stderr, "pushgate: %s: require_tls: needs a \"tls\" object with cert and key\n",
                path ? path : "(defaults)");
        pg_config_dispose(&cfg);
        return 2;
    }
    pg_log_json = strcmp(cfg.log_format, "json") == 0;
    int lvl = pg_log_parse_level(level ? level : cfg.log_level);
    pg_log_level = lvl < 0 ? PG_LOG_INFO : lvl;
    lws_set_log_level(LLL_ERR | LLL_WARN, pg_log_lws);
    if (cfg.default_app)
        PG_LOG(PG_LOG_WARN, "main",
               "*** DEMO MODE: serving the embedded default app (id \"%s\", key \"%s\") with "
               "its publicly known secret. Anyone can publish to it. Configure your own apps "
               "with --config FILE before exposing this server. ***",
               cfg.apps[0].id, cfg.apps[0].key);

    /* Signals go to pg-main only: block them before any thread starts. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* libcurl (webhooks): its global init is not thread-safe, so it runs before any thread. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "pushgate: libcurl failed to initialise\n");
        pg_config_dispose(&cfg);
        return 1;
    }

    int rc = 1;
    struct pg_server srv;
    memset(&srv, 0, sizeof srv);
    srv.cfg = &cfg;
    srv.nworkers = (unsigned)cfg.workers;
    srv.node_tag = pg_rand_u32();
    srv.app_cap = (unsigned)cfg.n_apps + PG_RELOAD_SPARE_APPS;
    srv.app_conns = calloc(srv.app_cap, sizeof *srv.app_conns);
    srv.app_conns_others = calloc(srv.app_cap, sizeof *srv.app_conns_others);
    srv.stats = calloc((srv.nworkers + 1) * (size_t)srv.app_cap, sizeof *srv.stats);
    srv.started_ms = pg_now_ms();
    srv.bus = pg_bus_create(srv.nworkers, INBOX_SOFT_BYTES);
    srv.reg = pg_registry_create(srv.nworkers, srv.bus);
    srv.cache = pg_cache_create();
    if (cfg.max_connections_per_ip >= 0 || cfg.max_new_connections_per_ip_per_sec >= 0)
        srv.iplimit =
            pg_iplimit_create(cfg.max_connections_per_ip, cfg.max_new_connections_per_ip_per_sec);
    struct ws_worker *workers = calloc(srv.nworkers, sizeof *workers);
    struct ws_acceptor acc = {.fd = -1};
    struct rest_server *rest = NULL;
    unsigned started = 0;
    bool want_ip = cfg.max_connections_per_ip >= 0 || cfg.max_new_connections_per_ip_per_sec >= 0;
    if (!srv.app_conns || !srv.app_conns_others || !srv.stats || !srv.bus || !srv.reg ||
        !srv.cache || (want_ip && !srv.iplimit) || !workers) {
        fprintf(stderr, "pushgate: out of memory\n");
        goto out;
    }
    /* Webhooks start before the workers, whose joins and leaves emit them. */
    if (!(srv.hooks = pg_hooks_create(&cfg, err, sizeof err)) || pg_hooks_start(srv.hooks) < 0) {
        fprintf(stderr, "pushgate: %s\n", srv.hooks ? "cannot start the webhook thread" : err);
        goto out;
    }
    pg_registry_set_hooks(srv.reg, srv.hooks);
    pg_registry_set_config(srv.reg, &cfg);
    for (unsigned i = 0; i < srv.nworkers; i++)
        if (ws_worker_init(&workers[i], &srv, i, err, sizeof err) < 0) {
            fprintf(stderr, "pushgate: %s\n", err);
            goto out;
        }
    /* Cluster mode: created before the workers, which publish client events through it. */
    if (cfg.redis_url && !(srv.redis = srv_redis_create(&srv, err, sizeof err))) {
        fprintf(stderr, "pushgate: %s\n", err);
        goto out;
    }
    for (; started < srv.nworkers; started++)
        if (ws_worker_start(&workers[started]) < 0) {
            fprintf(stderr, "pushgate: cannot start worker thread\n");
            goto out;
        }
    /* pg-redis delivers into the workers; it links to Redis (if it answers) before any client
     * can connect. */
    if (srv.redis && srv_redis_start(srv.redis) < 0) {
        fprintf(stderr, "pushgate: cannot start the Redis thread\n");
        goto out;
    }
    /* Listeners open last: a port that accepts means the gateway is ready. */
    if (ws_accept_open(&acc, &srv, workers, err, sizeof err) < 0) {
        fprintf(stderr, "pushgate: WebSocket listener: %s\n", err);
        goto out;
    }
    rest = rest_server_create(&srv, err, sizeof err);
    if (!rest) {
        fprintf(stderr, "pushgate: REST listener: %s\n", err);
        goto out;
    }
    if (ws_accept_start(&acc) < 0) {
        fprintf(stderr, "pushgate: cannot start the accept thread\n");
        goto out;
    }
    bool tls = cfg.tls.cert != NULL;
    PG_LOG(PG_LOG_INFO, "main", "WebSocket listening on %s://%s:%d/app/{key} (%u workers%s)",
           tls ? "wss" : "ws", cfg.host, cfg.port, srv.nworkers,
           tls ? (cfg.require_tls ? ", plain ws:// refused with 4000" : ", plain ws:// too") : "");
    PG_LOG(PG_LOG_INFO, "main", "REST API listening on %s://%s:%d/apps/{id}/...",
           tls ? "https" : "http", cfg.host, cfg.api_port);

    int sig = 0;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP) {
        if (srv_reload(&srv, path, err, sizeof err) < 0)
            PG_LOG(PG_LOG_ERROR, "main", "reload refused, the running configuration stays: %s",
                   err);
        else
            pg_registry_set_config(srv.reg, srv.cfg);
    }
    PG_LOG(PG_LOG_INFO, "main", "%s received: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;

out:
    atomic_store(&srv.stopping, 1);
    ws_accept_stop(&acc);
    if (rest)
        rest_server_quiesce(rest);
    for (unsigned i = 0; i < started; i++) {
        struct pg_bus_item *it = pg_bus_item_new(PG_BUS_SHUTDOWN, NULL, 0);
        if (it)
            pg_bus_push(srv.bus, i, it);
    }
    srv_redis_stop(srv.redis); /* nothing more from other nodes into closing workers */
    for (unsigned i = 0; i < started; i++)
        ws_worker_join(&workers[i]);
    /* Every leave has been emitted now: flush the webhooks, then give up what is left. */
    pg_hooks_stop(srv.hooks, pg_now_ms() + 5000);
    rest_server_destroy(rest); /* /metrics may read the hook counters until here */
    /* After REST and the workers, which publish through it. */
    srv_redis_destroy(srv.redis);
    srv.redis = NULL;
    pg_hooks_destroy(srv.hooks);
    srv.hooks = NULL;
    if (srv.bus)
        pg_bus_close(srv.bus);
    for (unsigned i = 0; workers && i < srv.nworkers; i++)
        ws_worker_dispose(&workers[i]);
    free(workers);
    pg_registry_destroy(srv.reg);
    pg_cache_destroy(srv.cache);
    pg_iplimit_destroy(srv.iplimit);
    pg_bus_destroy(srv.bus);
    free(srv.app_conns);
    free(srv.app_conns_others);
    free(srv.stats);
    srv_reload_dispose();
    pg_config_dispose(&cfg);
    curl_global_cleanup();
    PG_LOG(PG_LOG_INFO, "main", "stopped");
    return rc;
}
