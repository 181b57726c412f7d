/* rest_handlers.h - the REST endpoint handlers, shared by rest_server.c (routing, auth, MHD) and
 * rest_events.c / rest_channels.c (one file per API action).
 * Thread: pg-rest (the MHD thread). Handlers never block and never touch MHD: they get a verified
 * request and write one JSON body, returning the HTTP status.
 */
#ifndef REST_HANDLERS_H
#define REST_HANDLERS_H

#include <stddef.h>

#include "pg_buf.h"
#include "pg_config.h"
#include "pg_ratelimit.h"
#include "pg_rest_sign.h"
#include "pg_server.h"

/* One signed, verified request for an enabled app. Everything is borrowed for the call. */
struct rest_call {
    struct pg_server *srv;
    const struct pg_app *app;
    const struct pg_rest_query *query; /* decoded query parameters (auth_* included) */
    const char *chan; /* channel routes: percent-decoded name; terminate: the user id;
                       * NUL-terminated */
    size_t clen;
    const char *body; /* raw body, blen bytes (NULL when empty) */
    size_t blen;
    /* The app's max_backend_events_per_sec bucket. Owned by the REST thread (rest_server.c). */
    struct pg_ratelimit *events_rl;
    int *retry_after; /* out: seconds for a Retry-After header (set with a 429), 0 = none */
};

/* Handlers: write the response body (success JSON or {"error":...}) into out; return the status. */
int rest__events(const struct rest_call *c, struct pg_buf *out);       /* POST .../events */
int rest__batch_events(const struct rest_call *c, struct pg_buf *out); /* POST .../batch_events */
int rest__channels(const struct rest_call *c, struct pg_buf *out);     /* GET .../channels */
int rest__channel(const struct rest_call *c, struct pg_buf *out);      /* GET .../channels/{c} */
int rest__users(const struct rest_call *c, struct pg_buf *out); /* GET .../channels/{c}/users */
/* POST .../users/{user_id}/terminate_connections (c->chan is the decoded user id). */
int rest__terminate(const struct rest_call *c, struct pg_buf *out);

/* Debug console (debug_console on), in rest_console.c: GET .../console/state, and GET /console,
 * which queues the page with its security headers on con and returns MHD_YES or MHD_NO. */
int rest__console_state(const struct rest_call *c, struct pg_buf *out);
struct MHD_Connection;
int rest__console_page(struct MHD_Connection *con, const struct pg_config *cfg);

/* GET /metrics body (Prometheus text). In rest_metrics.c. */
void rest__metrics(struct pg_server *srv, struct pg_buf *out);

/* Resets out to {"error":"<msg>"} (msg JSON-escaped) and returns status. In rest_server.c. */
int rest__error(struct pg_buf *out, int status, const char *msg);

/* Takes cost tokens from app's limit which (PG_LIMIT_BACKEND_EVENTS or PG_LIMIT_READ_REQUESTS):
 * in cluster mode (srv->redis) with limit >= 0, from the cluster's bucket in Redis, else (and
 * while Redis cannot answer) from rl, the node's own bucket (NULL: unlimited). Returns 0 when
 * allowed; otherwise counts the hit as which, writes {"error":"Rate limit exceeded: <name>
 * (<limit>)"}, sets *retry_after (may be NULL) to whole seconds rounded up (>= 1) and returns
 * 429. In rest_server.c. */
int rest__rate_limit(struct pg_server *srv, const struct pg_app *app, struct pg_ratelimit *rl,
                     double cost, enum pg_limit which, const char *name, int64_t limit,
                     int *retry_after, struct pg_buf *out);

#endif
