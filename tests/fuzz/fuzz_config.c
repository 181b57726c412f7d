/* fuzz_config.c - gateway/pg_config: the JSON configuration file (every option of the tables in
 * pg_config.c, apps, webhooks, tls, trusted_proxies, redis_url). pg_config_load reads a path, so
 * the input goes into a memfd read back through /proc/self/fd (no disk I/O; a file in /tmp when
 * memfd_create is missing). PUSHGATE_* variables are cleared first: the file alone decides.
 * "tls" paths are opened (not read) by the loader, as they would be at startup.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "pg_config.h"
#include "pg_redis_url.h"

static char path[64];
static int fd = -1;

static void remove_tmp(void) { unlink(path); }

static void init(void)
{
    /* Unset every PUSHGATE_* variable (unsetenv changes environ, so start over each time). */
    for (bool again = true; again;) {
        again = false;
        for (char **e = environ; *e; e++) {
            char name[128];
            size_t n = strcspn(*e, "=");
            if (!strncmp(*e, "PUSHGATE_", 9) && n < sizeof name) {
                memcpy(name, *e, n);
                name[n] = '\0';
                unsetenv(name);
                again = true;
                break;
            }
        }
    }
    fd = memfd_create("pg_fuzz_config", MFD_CLOEXEC);
    if (fd >= 0) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        if (access(path, R_OK) == 0)
            return;
        close(fd);
    }
    strcpy(path, "/tmp/pg_fuzz_config_XXXXXX");
    fd = mkstemp(path);
    if (fd < 0)
        abort();
    atexit(remove_tmp);
}

static void check_app(const struct pg_config *cfg, size_t i)
{
    const struct pg_app *a = &cfg->apps[i];

    FUZZ_CHECK(a->idx == (int)i && !a->removed);
    FUZZ_CHECK(a->id && a->id[0] && a->key && a->key[0] && a->secret && a->secret[0]);
    FUZZ_CHECK(a->secret_len == strlen(a->secret));
    FUZZ_CHECK(pg_config_app_by_key(cfg, a->key, strlen(a->key)) == a);
    FUZZ_CHECK(pg_config_app_by_id(cfg, a->id, strlen(a->id)) == a);
    FUZZ_CHECK(a->has_encryption_key == (a->encryption_master_key_base64 != NULL));
    FUZZ_CHECK(!a->n_webhooks || a->webhooks);
    for (size_t j = 0; j < a->n_webhooks; j++) {
        const struct pg_webhook *w = &a->webhooks[j];
        FUZZ_CHECK(w->url && (!w->n_event_types || w->event_types));
        FUZZ_CHECK(!w->n_headers || (w->header_names && w->header_values));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct pg_config zero;
    struct pg_config cfg;
    char err[512];

    if (fd < 0)
        init();
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    int rc = pg_config_load(&cfg, path, err, sizeof err);
    FUZZ_CHECK(memchr(err, 0, sizeof err) != NULL);
    if (rc < 0) {
        FUZZ_CHECK(err[0] != '\0' && !strchr(err, '\n'));
        FUZZ_CHECK(memcmp(&cfg, &zero, sizeof cfg) == 0);
        pg_config_dispose(&cfg);
        return 0;
    }
    FUZZ_CHECK(rc == 0 && err[0] == '\0');
    FUZZ_CHECK(cfg.host && cfg.log_level && cfg.log_format && cfg.metrics_prefix);
    FUZZ_CHECK(cfg.redis_prefix && cfg.workers >= 1 && cfg.workers <= 64);
    FUZZ_CHECK(cfg.port >= 1 && cfg.port <= 65535 && cfg.api_port >= 1 && cfg.api_port <= 65535);
    FUZZ_CHECK(!cfg.tls.cert == !cfg.tls.key);
    FUZZ_CHECK(!cfg.n_trusted_proxies || cfg.trusted_proxies);
    FUZZ_CHECK(cfg.n_apps >= 1 && cfg.apps && (!cfg.default_app || cfg.n_apps == 1));
    for (size_t i = 0; i < cfg.n_apps; i++)
        check_app(&cfg, i);
    if (cfg.redis_url) {
        struct pg_redis_url u;
        FUZZ_CHECK(pg_redis_url_parse(&u, cfg.redis_url, err, sizeof err) == 0);
        pg_redis_url_dispose(&u);
    }
    pg_config_dispose(&cfg);
    FUZZ_CHECK(memcmp(&cfg, &zero, sizeof cfg) == 0);
    return 0;
}
