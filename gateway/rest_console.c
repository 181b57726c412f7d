/* rest_console.c - the debug console: GET /console (the page) and GET /apps/{id}/console/state.
 * Thread: pg-rest (called from rest_server.c; both routes exist only with debug_console on).
 * Touches: the registry (stripe locks, copies only), the per-app stats rows (relaxed loads).
 *
 * The page (console/console.html, embedded at build time as pg_console_html) is public: it holds
 * no data. Everything it shows comes from the signed state API below and from the "#debug"
 * channel (pg_debug.h), which needs a subscription signed with the app secret: whoever has an
 * app's id, key and secret sees that app, nobody else sees anything.
 */
#include <microhttpd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_chan_name.h"
#include "rest_handlers.h"

/* Generated from console/console.html by console/embed.cmake (see CMakeLists.txt). */
extern const unsigned char pg_console_html[];
extern const size_t pg_console_html_len;

#define CONSOLE_MAX_CHANNELS 1000 /* per state answer; the page is a debugging aid */
#define CONSOLE_MAX_USERS 100     /* ids listed per presence channel */

/* ---- GET /console ---- */

/* The host part of a Host header ("example.com:6002" -> "example.com", "[::1]:6002" -> "[::1]")
 * when it is made of host name or IP literal characters only; else 0 (no WebSocket allowed). */
static size_t host_name(const char *h, char *out, size_t outlen)
{
    size_t n = 0;
    if (!h)
        return 0;
    if (h[0] == '[') {
        const char *e = strchr(h, ']');
        n = e ? (size_t)(e - h) + 1 : 0;
        if (n < 3 || strspn(h + 1, "0123456789abcdefABCDEF:.") != n - 2)
            return 0;
    } else {
        n = strcspn(h, ":");
        if (n == 0 ||
            strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != n)
            return 0;
    }
    if (n >= outlen)
        return 0;
    memcpy(out, h, n);
    out[n] = '\0';
    return n;
}

int rest__console_page(struct MHD_Connection *con, const struct pg_config *cfg)
{
    char host[256], csp[1024];
    const char *h = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    /* Inline script and style, fetches to this origin, and WebSockets to this host's ws port:
     * nothing else, so the page cannot be made to send the secret anywhere. */
    int n = snprintf(csp, sizeof csp,
                     "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                     "img-src 'self' data:; connect-src 'self'");
    if (host_name(h, host, sizeof host))
        n += snprintf(csp + n, sizeof csp - (size_t)n, " ws://%s:%d wss://%s:%d", host, cfg->port,
                      host, cfg->port);
    snprintf(csp + n, sizeof csp - (size_t)n,
             "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");

    struct MHD_Response *resp = MHD_create_response_from_buffer(
        pg_console_html_len, (void *)pg_console_html, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    enum MHD_Result ret = MHD_queue_response(con, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---- GET /apps/{id}/console/state ---- */

struct chan_row {
    char *name;
    size_t len;
    struct pg_chan_stats st;
};

struct chan_list {
    struct chan_row *row;
    size_t n;
    bool oom;
};

/* Under a stripe lock: copy and go. */
static void add_chan(void *ctx, const char *ch, size_t len, const struct pg_chan_stats *st)
{
    struct chan_list *l = ctx;
    if (ch[0] == '#' || l->n == CONSOLE_MAX_CHANNELS || l->oom)
        return; /* internal channels (#debug, #server-to-user-, #watch-) are not the app's */
    char *name = malloc(len + 1);
    if (!name) {
        l->oom = true;
        return;
    }
    memcpy(name, ch, len);
    name[len] = '\0';
    l->row[l->n++] = (struct chan_row){name, len, *st};
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct chan_row *)a)->name, ((const struct chan_row *)b)->name);
}

struct user_list {
    struct pg_buf *out;
    long n;
};

/* Under a stripe lock: copy and go. */
static void add_user(void *ctx, const char *id, size_t len)
{
    struct user_list *u = ctx;
    if (u->n++ >= CONSOLE_MAX_USERS)
        return;
    if (u->n > 1)
        pg_buf_put(u->out, ",", 1);
    pg_buf_json_str(u->out, id, len);
}

/* Open WebSocket connections of app: connections established minus closed, over the workers'
 * rows. (srv->app_conns counts only what max_connections counts.) */
static long app_connections(struct pg_server *srv, int app)
{
    long open = 0;
    for (unsigned w = 0; w < srv->nworkers; w++) {
        struct pg_app_stats *st = pg_server_stats(srv, w, app);
        open += (long)(pg_stat_get(&st->conns_new) - pg_stat_get(&st->conns_closed));
    }
    return open < 0 ? 0 : open;
}

int rest__console_state(const struct rest_call *c, struct pg_buf *out)
{
    struct pg_server *srv = c->srv;
    int app = c->app->idx;
    struct chan_list l = {.row = calloc(CONSOLE_MAX_CHANNELS, sizeof *l.row)};
    if (!l.row)
        return rest__error(out, 500, "Out of memory");
    pg_registry_each(srv->reg, app, NULL, 0, add_chan, &l);
    qsort(l.row, l.n, sizeof *l.row, by_name);

    pg_buf_reset(out);
    pg_buf_puts(out, "{\"key\":");
    pg_buf_json_str(out, c->app->key, strlen(c->app->key));
    pg_buf_printf(out, ",\"ws_port\":%d,\"connections\":%ld,\"channels\":[", srv->cfg->port,
                  app_connections(srv, app));
    for (size_t i = 0; i < l.n; i++) {
        struct chan_row *r = &l.row[i];
        pg_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
        pg_buf_json_str(out, r->name, r->len);
        pg_buf_printf(out, ",\"subscription_count\":%ld,\"user_count\":%ld,\"users\":[", r->st.subs,
                      r->st.users);
        if (pg_chan_classify(r->name, r->len) & PG_CHAN_PRESENCE) {
            struct user_list u = {out, 0};
            pg_registry_users(srv->reg, app, r->name, r->len, add_user, &u);
        }
        pg_buf_puts(out, "]}");
        free(r->name);
    }
    pg_buf_puts(out, "]}");
    free(l.row);
    if (l.oom)
        return rest__error(out, 500, "Out of memory");
    return 200;
}
