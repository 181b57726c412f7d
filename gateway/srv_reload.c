/* srv_reload.c - configuration reload on SIGHUP (see srv_reload.h). Thread: pg-main. */
#include "srv_reload.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_buf.h"
#include "pg_log.h"

/* Configurations loaded by reloads (the first one belongs to main). */
static struct pg_config **loaded;
static size_t nloaded;

static int differs(const char *a, const char *b)
{
    if (!a || !b)
        return a != b;
    return strcmp(a, b) != 0;
}

/* Names the first setting that cannot change while running, or NULL. */
static const char *fixed_change(const struct pg_config *o, const struct pg_config *n)
{
    if (differs(o->host, n->host))
        return "host";
    if (o->port != n->port)
        return "port";
    if (o->api_port != n->api_port)
        return "api_port";
    if (o->workers != n->workers)
        return "workers";
    if (differs(o->tls.cert, n->tls.cert) || differs(o->tls.key, n->tls.key))
        return "tls";
    if (differs(o->redis_url, n->redis_url) || differs(o->redis_prefix, n->redis_prefix))
        return "redis_url / redis_prefix";
    if (memcmp(&o->webhook_batch_ms, &n->webhook_batch_ms,
               offsetof(struct pg_config, webhook_debounce_ms) + sizeof n->webhook_debounce_ms -
                   offsetof(struct pg_config, webhook_batch_ms)) != 0)
        return "webhook_*";
    return NULL;
}

/* One string describing an app's webhooks, to tell whether a reload changed them. */
static void hooks_sig(const struct pg_app *a, struct pg_buf *b)
{
    for (size_t i = 0; i < a->n_webhooks; i++) {
        const struct pg_webhook *h = &a->webhooks[i];
        pg_buf_printf(b, "%s\x1f", h->url);
        for (size_t k = 0; k < h->n_event_types; k++)
            pg_buf_printf(b, "%s,", h->event_types[k]);
        for (size_t k = 0; k < h->n_headers; k++)
            pg_buf_printf(b, "%s:%s\x1e", h->header_names[k], h->header_values[k]);
        pg_buf_put(b, "\n", 1);
    }
}

static bool same_hooks(const struct pg_app *a, const struct pg_app *b)
{
    struct pg_buf x, y;
    pg_buf_init(&x);
    pg_buf_init(&y);
    hooks_sig(a, &x);
    hooks_sig(b, &y);
    bool same =
        !x.oom && !y.oom && x.len == y.len && memcmp(pg_buf_cstr(&x), pg_buf_cstr(&y), x.len) == 0;
    pg_buf_dispose(&x);
    pg_buf_dispose(&y);
    return same;
}

/* Rebuilds n->apps so that every app of cur keeps its position (= its index): apps still in n
 * move there, removed ones leave a placeholder; apps new in n follow. */
static int merge_apps(const struct pg_server *srv, const struct pg_config *cur, struct pg_config *n,
                      char *err, size_t errlen)
{
    size_t fresh = 0;
    for (size_t j = 0; j < n->n_apps; j++) {
        const struct pg_app *old = pg_config_app_by_id(cur, n->apps[j].id, strlen(n->apps[j].id));
        if (!old) {
            fresh++;
            if (n->apps[j].n_webhooks) {
                snprintf(err, errlen, "new app \"%s\" has webhooks: restart to add it",
                         n->apps[j].id);
                return -EINVAL;
            }
        } else if (!same_hooks(old, &n->apps[j]) ||
                   (old->n_webhooks && (strcmp(old->key, n->apps[j].key) != 0 ||
                                        strcmp(old->secret, n->apps[j].secret) != 0))) {
            snprintf(err, errlen,
                     "the webhooks of app \"%s\" (or the key or secret that signs them) changed: "
                     "restart to apply them",
                     old->id);
            return -EINVAL;
        }
    }
    size_t total = cur->n_apps + fresh;
    if (total > srv->app_cap) {
        snprintf(err, errlen, "too many apps added since start (at most %u in all); restart",
                 srv->app_cap);
        return -ENOSPC;
    }
    struct pg_app *m = calloc(total ? total : 1, sizeof *m);
    bool *moved = calloc(n->n_apps ? n->n_apps : 1, sizeof *moved);
    if (!m || !moved) {
        free(m);
        free(moved);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < cur->n_apps; i++) {
        const struct pg_app *o = &cur->apps[i];
        size_t j = 0;
        while (j < n->n_apps && (moved[j] || o->removed || strcmp(n->apps[j].id, o->id) != 0))
            j++;
        if (j < n->n_apps) {
            m[i] = n->apps[j];
            moved[j] = true;
        } else {
            m[i].removed = true;
            m[i].enabled = false;
            m[i].id = strdup(o->id);
            m[i].key = strdup(o->key);
            m[i].secret = strdup("");
        }
        m[i].idx = (int)i;
    }
    size_t k = cur->n_apps;
    for (size_t j = 0; j < n->n_apps; j++)
        if (!moved[j]) {
            m[k] = n->apps[j];
            m[k].idx = (int)k;
            k++;
        }
    free(moved);
    free(n->apps);
    n->apps = m;
    n->n_apps = total;
    return 0;
}

int srv_reload(struct pg_server *srv, const char *path, char *err, size_t errlen)
{
    const struct pg_config *cur = srv->cfg;
    struct pg_config *n = calloc(1, sizeof *n);
    struct pg_config **grown = realloc(loaded, (nloaded + 1) * sizeof *loaded);
    if (grown)
        loaded = grown;
    if (!n || !grown) {
        free(n);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int rc = pg_config_load(n, path, err, errlen);
    const char *fixed = rc < 0 ? NULL : fixed_change(cur, n);
    if (fixed) {
        snprintf(err, errlen, "%s: %s cannot change while running; restart to apply it",
                 path ? path : "(defaults)", fixed);
        rc = -EINVAL;
    }
    size_t before = 0;
    for (size_t i = 0; i < cur->n_apps; i++)
        before += !cur->apps[i].removed;
    size_t listed = rc < 0 ? 0 : n->n_apps;
    if (rc == 0)
        rc = merge_apps(srv, cur, n, err, errlen);
    if (rc < 0) {
        pg_config_dispose(n);
        free(n);
        return rc;
    }
    loaded[nloaded++] = n;
    srv->cfg = n; /* atomic store: from here on lookups see the new app list */
    for (unsigned w = 0; w < srv->nworkers; w++) {
        struct pg_bus_item *it = pg_bus_item_new(PG_BUS_RELOAD, NULL, 0);
        if (it)
            pg_bus_push(srv->bus, w, it);
    }
    size_t kept = 0;
    for (size_t i = 0; i < cur->n_apps; i++)
        kept += !cur->apps[i].removed && !n->apps[i].removed;
    PG_LOG(PG_LOG_INFO, "main", "configuration reloaded: %zu apps (%zu kept, %zu new, %zu removed)",
           listed, kept, listed - kept, before - kept);
    return 0;
}

void srv_reload_dispose(void)
{
    for (size_t i = 0; i < nloaded; i++) {
        pg_config_dispose(loaded[i]);
        free(loaded[i]);
    }
    free(loaded);
    loaded = NULL;
    nloaded = 0;
}
