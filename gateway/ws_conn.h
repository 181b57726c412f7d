/* ws_conn.h - one WebSocket connection, its bounded out-queue and its subscriptions.
 * Owned by: its ws worker thread (the struct lives in lws's per-session data). Other threads never
 * hold a pointer to it; they send the worker a bus message keyed by socket id.
 */
#ifndef WS_CONN_H
#define WS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pg_bus.h"
#include "pg_config.h"
#include "pg_msg.h"

struct lws;
struct ws_worker;
struct ws_chan;

/* Cluster mode: what a live event on a subscription must check while an answer from Redis for it
 * is due (ws_worker.c deliver, ws_gate.c). ch->gated counts the subscriptions with a gate. */
enum ws_gate {
    WS_GATE_NONE,
    WS_GATE_REPLAY_WAIT,  /* cache channel: its replay is asked for */
    WS_GATE_REPLAY_STALE, /* ... and a live event came first: the replay is dropped */
    WS_GATE_JOIN,         /* presence: subscription_succeeded is due; events are held */
};

/* One subscription of a connection. pos is the connection's index in ch->ent. */
struct ws_sub {
    struct ws_chan *ch;
    uint32_t pos;
    unsigned kind; /* PG_CHAN_* flags */
    char *user_id; /* presence only: the member id this connection joined as */
    size_t ulen;
    uint8_t gate;         /* enum ws_gate (set with ws_chanidx_gate) */
    uint16_t nheld;       /* WS_GATE_JOIN: frames held until subscription_succeeded */
    struct pg_msg **held; /* (references; ws_gate.c) */
};

struct ws_conn {
    struct lws *wsi;
    struct ws_worker *w;
    const struct pg_app *app;    /* NULL until the handshake succeeded */
    struct ws_conn *prev, *next; /* the worker's list, for the liveness sweep */
    char sid[PG_SID_MAX];
    uint8_t sidlen;
    bool established; /* connection_established sent */
    bool closing;     /* a close code is set: nothing more is queued */
    bool rx_skip;     /* rest of the current message is ignored (binary) */
    int close_code;
    char close_reason[96];
    int64_t last_rx_ms;
    int64_t ping_sent_ms;     /* 0: no pusher:ping outstanding */
    int64_t auth_deadline_ms; /* 0, or when an unauthorized connection is closed with 4009 */
    bool authorized;          /* signed in, or subscribed to a private/presence channel */
    bool quota_counted;       /* counted in srv->app_conns (max_connections) */
    bool ip_counted;          /* counted in the per-IP table */
    char *user_id;            /* set by pusher:signin */
    size_t uidlen;
    char *user_info; /* JSON text of user_data.user_info, or NULL */
    size_t uinfolen;
    char ip[46];          /* client address used for per-IP limits */
    int64_t rl_window_ms; /* client-event rate limit: start of the current 1 s window */
    uint32_t rl_count;

    /* Out-queue: a ring of shared frames, bounded by frames and bytes. */
    struct pg_msg **q;
    uint32_t qhead, qlen, qcap;
    size_t qbytes;

    /* Inbound message being reassembled from fragments; allocated only when needed. */
    char *rx;
    size_t rxlen, rxcap;

    struct ws_sub *subs;
    uint32_t nsubs, capsubs;
};

/* Queues m for sending (takes a new reference; the caller keeps its own). Returns 0, or -ENOBUFS
 * when the out-queue passed its bound: the connection is then being closed with 4100. */
int ws_conn_send(struct ws_conn *c, struct pg_msg *m);
/* Queues a frame the caller built for this connection only (consumes m). */
int ws_conn_send_own(struct ws_conn *c, struct pg_msg *m);
/* Sends pusher:error {code, message} then closes with code (code < 4000: close only). */
void ws_conn_fail(struct ws_conn *c, int code, const char *message);
/* Sends pusher:error {code (or null when < 0), message}; the connection stays open. */
void ws_conn_error(struct ws_conn *c, int code, const char *message);
/* Writes queued frames; returns -1 when lws must close the connection. Called on WRITEABLE. */
int ws_conn_on_writable(struct ws_conn *c);
/* Drops every queued frame. */
void ws_conn_queue_clear(struct ws_conn *c);

#endif
