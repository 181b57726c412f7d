/* srv_hook_http.c - the pg-hook thread: runs the webhook engine (pg_hooks.c) and sends its batches
 * with the libcurl multi interface, so no worker ever waits on a receiver.
 * Thread: pg_hooks_create / start / stop / destroy on pg-main; the rest on pg-hook, except
 * http_wake (any producer: curl_multi_wakeup is libcurl's one thread-safe multi call).
 * curl_global_init() must have run before any thread started (main does it).
 * With redis_url (cluster mode) the batches are also kept in Redis (srv_hook_redis.c), driven from
 * this thread's loop; without it nothing of that runs.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pg_clock.h"
#include "pg_hooks_int.h"
#include "pg_log.h"
#include "srv_hook_redis.h"

#define MAX_TOTAL_CONNS 64L /* all endpoints together */
#define MAX_HOST_CONNS 8L   /* one receiver host */
#define MAX_WAIT_MS 1000    /* upper bound of one curl_multi_poll, a safety net */

/* Owned by: pg-hook once started (pg-main before start and after join). */
struct hook_http {
    CURLM *multi;
    struct pg_hooks *h;
    struct hook_redis *store; /* NULL: single node */
    pthread_t thr;
    bool started;
};

/* One attempt in flight. */
struct xfer {
    CURL *e;
    struct curl_slist *hdr;
};

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static struct curl_slist *add_header(struct curl_slist *l, bool *oom, const char *name,
                                     const char *value)
{
    size_t n = strlen(name), v = strlen(value);
    char *line = malloc(n + v + 3);
    if (!line) {
        *oom = true;
        return l;
    }
    /* "Name;" is how libcurl sends a header with an empty value ("Name:" would remove it). */
    if (v)
        snprintf(line, n + v + 3, "%s: %s", name, value);
    else
        snprintf(line, n + v + 3, "%s;", name);
    struct curl_slist *nl = curl_slist_append(l, line);
    free(line);
    if (!nl)
        *oom = true;
    return nl ? nl : l;
}

/* The headers the receiver checks (spec 10.1) cannot be replaced by configured ones. */
static bool reserved(const char *name)
{
    return !strcasecmp(name, "Content-Type") || !strcasecmp(name, "X-Pusher-Key") ||
           !strcasecmp(name, "X-Pusher-Signature") || !strcasecmp(name, "Content-Length");
}

static int http_start(void *ctx, struct pg_hook_batch *b)
{
    struct hook_http *hh = ctx;
    const struct pg_hook_ep *ep = b->ep;
    const struct pg_webhook *w = ep->cfg;
    long timeout = (long)hh->h->cfg->webhook_timeout_ms;
    struct xfer *x = calloc(1, sizeof *x);
    if (!x || !(x->e = curl_easy_init())) {
        free(x);
        return -ENOMEM;
    }
    bool oom = false;
    x->hdr = add_header(x->hdr, &oom, "Content-Type", "application/json");
    x->hdr = add_header(x->hdr, &oom, "X-Pusher-Key", ep->cfg_app->key);
    x->hdr = add_header(x->hdr, &oom, "X-Pusher-Signature", b->sig);
    struct curl_slist *nl = curl_slist_append(x->hdr, "Expect:"); /* no 100-continue wait */
    if (nl)
        x->hdr = nl;
    else
        oom = true;
    for (size_t i = 0; i < w->n_headers; i++)
        if (!reserved(w->header_names[i]))
            x->hdr = add_header(x->hdr, &oom, w->header_names[i], w->header_values[i]);
    CURL *e = x->e;
    curl_easy_setopt(e, CURLOPT_URL, w->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, b->body); /* not copied: the batch outlives the xfer */
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->blen);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdr);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "pushgate-webhooks/" PG_VERSION);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)b);
    if (oom || curl_multi_add_handle(hh->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        curl_slist_free_all(x->hdr);
        free(x);
        return -ENOMEM;
    }
    b->xfer = x;
    return 0;
}

static void http_wake(void *ctx)
{
    struct hook_http *hh = ctx;
    curl_multi_wakeup(hh->multi);
}

static void xfer_free(struct hook_http *hh, struct xfer *x)
{
    curl_multi_remove_handle(hh->multi, x->e);
    curl_easy_cleanup(x->e);
    curl_slist_free_all(x->hdr);
    free(x);
}

/* Hands every finished attempt to the engine. Returns how many finished. */
static int reap(struct hook_http *hh)
{
    int n = 0, left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(hh->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode res = m->data.result;
        char *priv = NULL;
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        if (res == CURLE_OK)
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        struct pg_hook_batch *b = (struct pg_hook_batch *)(void *)priv;
        xfer_free(hh, b->xfer);
        b->xfer = NULL;
        pg_hooks__result(hh->h, b, status, res == CURLE_OK ? NULL : curl_easy_strerror(res),
                         pg_now_ms());
        n++;
    }
    return n;
}

static void *run(void *arg)
{
    struct hook_http *hh = arg;
    struct pg_hooks *h = hh->h;
    pthread_setname_np(pthread_self(), "pg-hook");
    for (;;) {
        int64_t now = pg_now_ms();
        bool stopping = atomic_load(&h->stopping);
        pg_hooks__pump(h, now);
        if (hh->store)
            hook_redis_tick(hh->store, now);
        if (stopping && (pg_hooks__outstanding(h) <= 0 || now >= h->deadline_ms))
            break;
        int running = 0;
        curl_multi_perform(hh->multi, &running);
        if (reap(hh) > 0)
            continue; /* a finished batch may let the next one of its endpoint go at once */
        int64_t due = pg_hooks__next_due(h, now);
        if (hh->store && hook_redis_next_due(hh->store) < due)
            due = hook_redis_next_due(hh->store);
        if (stopping && due > h->deadline_ms)
            due = h->deadline_ms;
        int64_t wait = due == INT64_MAX ? MAX_WAIT_MS : due - now;
        if (wait > MAX_WAIT_MS)
            wait = MAX_WAIT_MS;
        if (wait > 0)
            curl_multi_poll(hh->multi, NULL, 0, (int)wait, NULL);
    }
    /* Deadline reached (or all done): cancel what is still in flight, then count the rest. */
    for (size_t i = 0; i < h->n_eps; i++) {
        struct pg_hook_batch *b = h->eps[i].batch;
        if (b && b->in_flight && b->xfer) {
            xfer_free(hh, b->xfer);
            b->xfer = NULL;
            b->in_flight = false;
        }
    }
    if (hh->store)
        hook_redis_depart(hh->store); /* what is left goes to another node */
    pg_hooks__abandon(h);
    return NULL;
}

/* ---- public ---------------------------------------------------------------------------------- */

struct pg_hooks *pg_hooks_create(const struct pg_config *cfg, char *err, size_t errlen)
{
    struct hook_http *hh = calloc(1, sizeof *hh);
    if (!hh || !(hh->multi = curl_multi_init())) {
        free(hh);
        snprintf(err, errlen, "webhooks: cannot create the libcurl multi handle");
        return NULL;
    }
    curl_multi_setopt(hh->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, MAX_TOTAL_CONNS);
    curl_multi_setopt(hh->multi, CURLMOPT_MAX_HOST_CONNECTIONS, MAX_HOST_CONNS);
    curl_multi_setopt(hh->multi, CURLMOPT_MAXCONNECTS, MAX_TOTAL_CONNS);
    struct pg_hook_tp tp = {.start = http_start, .wake = http_wake, .ctx = hh};
    struct pg_hooks *h = pg_hooks__new(cfg, &tp, err, errlen);
    if (!h) {
        curl_multi_cleanup(hh->multi);
        free(hh);
        return NULL;
    }
    hh->h = h;
    if (cfg->redis_url && !(hh->store = hook_redis_create(h, cfg, err, errlen))) {
        pg_hooks__free(h);
        curl_multi_cleanup(hh->multi);
        free(hh);
        return NULL;
    }
    return h;
}

int pg_hooks_start(struct pg_hooks *h)
{
    struct hook_http *hh = h->tp.ctx;
    if (!h->n_eps)
        return 0; /* no webhook configured: nothing is ever emitted, no thread needed */
    int rc = pthread_create(&hh->thr, NULL, run, hh);
    if (rc)
        return -rc;
    hh->started = true;
    return 0;
}

void pg_hooks_stop(struct pg_hooks *h, int64_t deadline_ms)
{
    if (!h)
        return;
    struct hook_http *hh = h->tp.ctx;
    h->deadline_ms = deadline_ms;
    atomic_store(&h->stopping, 1);
    if (hh->started) {
        curl_multi_wakeup(hh->multi);
        pthread_join(hh->thr, NULL);
        hh->started = false;
    } else {
        pg_hooks__abandon(h);
    }
}

void pg_hooks_destroy(struct pg_hooks *h)
{
    if (!h)
        return;
    struct hook_http *hh = h->tp.ctx;
    if (hh->started)
        pg_hooks_stop(h, pg_now_ms());
    pg_hooks__free(h);
    hook_redis_destroy(hh->store);
    curl_multi_cleanup(hh->multi);
    free(hh);
}
