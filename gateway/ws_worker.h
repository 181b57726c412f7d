/* ws_worker.h - a WebSocket worker thread: one lws_context, the connections adopted into it, its
 * channel index, its liveness sweep.
 * Owned by: main creates and joins it; everything inside is touched only by the worker's own
 * thread, except `load` (atomic, read by the acceptor) and the bus inbox.
 */
#ifndef WS_WORKER_H
#define WS_WORKER_H

#include <json-c/json.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pg_clock.h"
#include "pg_server.h"
#include "ws_chanidx.h"
#include "ws_conn.h"

struct ws_worker {
    unsigned id;
    struct pg_server *srv;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    pthread_t thread;
    bool started;
    lws_sorted_usec_list_t sweep;
    struct ws_conn *conns; /* every established connection */
    struct ws_chanidx *idx;
    atomic_long load;         /* open connections; read by the acceptor to balance */
    bool stop;                /* leave the service loop */
    int64_t shutdown_at;      /* 0, or when the shutdown grace period ends */
    int64_t purge_ms;         /* worker 0: last cache / per-IP table purge */
    struct json_tokener *tok; /* reused for every inbound message */
    uint64_t frames_out, bytes_out, overflow_closes;
};

int ws_worker_init(struct ws_worker *w, struct pg_server *srv, unsigned id, char *err,
                   size_t errlen);
int ws_worker_start(struct ws_worker *w);
void ws_worker_join(struct ws_worker *w);
void ws_worker_dispose(struct ws_worker *w); /* zeroed: no-op */

/* The opaque user data of a wsi adopted as TLS (see adopt() in ws_worker.c). */
extern const char ws_tls_mark;

/* Takes the worker's whole inbox and acts on it (LWS_CALLBACK_EVENT_WAIT_CANCELLED). */
void ws_worker_drain(struct ws_worker *w);

void ws_worker_count_out(struct ws_worker *w, size_t bytes);
void ws_worker_count_overflow(struct ws_worker *w);

/* ws_proto.c: the lws protocol callback and the per-message dispatcher. */
int ws_proto_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);
/* ws_subscribe.c */
void ws_subscribe(struct ws_conn *c, struct json_object *data);
void ws_unsubscribe(struct ws_conn *c, struct json_object *data);
/* Cluster mode: the cluster roster for socket sid's pending presence subscription of (app, ch)
 * arrived as frame m (subscription_succeeded; borrowed): sends it, then the after-join steps.
 * m NULL: refused (channel full cluster-wide): subscription_error 4100, the subscription undone.
 * Dropped when the socket or its subscription is gone. */
void ws_presence_result(struct ws_worker *w, int app, const char *ch, size_t clen, const char *sid,
                        struct pg_msg *m);
/* Leaves every channel (on close). */
void ws_unsubscribe_all(struct ws_conn *c);
/* Subscribes c to a server-side channel ('#' names, no reply). Returns the channel's new
 * subscription count, or a negative errno. */
long ws_sub_internal(struct ws_conn *c, const char *ch, size_t len, unsigned kind);
/* Marks c authorized (sign-in, private or presence subscription): cancels its authorization
 * deadline and, with authorized_connections, counts it against max_connections. Returns 0, or
 * -EDQUOT when the app is over quota (the connection is then being closed with 4004). */
int ws_conn_authorize(struct ws_conn *c);
/* ws_signin.c */
void ws_signin(struct ws_conn *c, json_object *data);
/* The socket left internal channel ch (len) which now has `remaining` subscribers: a
 * #server-to-user- channel reaching 0 means the user went offline. */
void ws_user_left(struct ws_conn *c, const char *ch, size_t len, long remaining);

/* Cluster mode, linked: asks Redis for the initial state of every id c watches (its #watch-
 * subscriptions), answered later as PG_BUS_WATCH_STATE. False when it cannot (nothing queued). */
bool ws_watch_request(struct ws_conn *c);

/* ws_gate.c: answers from Redis kept in order with live events (see there). */
struct ws_sub;
struct pg_bus_item;
/* Called by deliver() for a subscription with a gate; true: do not send m to it now. */
bool ws_gate_live(struct ws_sub *s, struct pg_msg *m);
/* The replay was asked of Redis; stale: events of the channel were sent already (held ones). */
void ws_gate_replay_begin(struct ws_sub *s, bool stale);
void ws_gate_replay(struct ws_worker *w, struct pg_bus_item *it); /* PG_BUS_CACHE_REPLY */
void ws_gate_join_begin(struct ws_sub *s);                        /* the cluster roster is due */
/* The roster came (send: the held frames go out now; else they are dropped); ungates s. True
 * when held frames were sent. */
bool ws_gate_join_end(struct ws_conn *c, struct ws_sub *s, bool send);

#endif
