/* ws_conn.c - out-queue and close handling of one connection.
 * Thread: the connection's ws worker only.
 */
#include "ws_conn.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "pg_frame.h"
#include "pg_log.h"
#include "ws_worker.h"

_Static_assert(PG_MSG_PRE == LWS_PRE, "pg_msg headroom must equal LWS_PRE");

/* Frames written per WRITEABLE callback while the socket still takes data. */
#define WS_WRITE_BATCH 64

void ws_conn_queue_clear(struct ws_conn *c)
{
    while (c->qlen) {
        pg_msg_unref(c->q[c->qhead]);
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qlen--;
    }
    c->qhead = 0;
    c->qbytes = 0;
}

static int push(struct ws_conn *c, struct pg_msg *m)
{
    if (c->qlen == c->qcap) {
        uint32_t cap = c->qcap ? c->qcap * 2 : 4;
        struct pg_msg **q = malloc(cap * sizeof *q);
        if (!q)
            return -ENOMEM;
        for (uint32_t i = 0; i < c->qlen; i++)
            q[i] = c->q[(c->qhead + i) % c->qcap];
        free(c->q);
        c->q = q;
        c->qcap = cap;
        c->qhead = 0;
    }
    c->q[(c->qhead + c->qlen) % c->qcap] = m;
    c->qlen++;
    c->qbytes += m->len;
    if (c->qlen == 1)
        lws_callback_on_writable(c->wsi);
    return 0;
}

static void set_close(struct ws_conn *c, int code, const char *reason)
{
    c->closing = true;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    lws_callback_on_writable(c->wsi);
}

static void overflow(struct ws_conn *c)
{
    const struct pg_config *cfg = c->w->srv->cfg;
    PG_LOG(PG_LOG_WARN, "ws", "socket %s closed 4100: out-queue over %d frames or %d KiB", c->sid,
           cfg->out_queue_max_frames, cfg->out_queue_max_kb);
    ws_worker_count_overflow(c->w);
    pg_server_count_limit(c->w->srv, PG_LIMIT_OUT_QUEUE);
    ws_conn_queue_clear(c);
    struct pg_msg *e = pg_frame_error(4100, "Over capacity: client is not reading fast enough");
    if (e)
        push(c, e);
    set_close(c, 4100, "Over capacity");
    /* A peer that reads nothing never makes the socket writable again: give up after 5 s. */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
}

int ws_conn_send(struct ws_conn *c, struct pg_msg *m)
{
    if (c->closing)
        return 0;
    const struct pg_config *cfg = c->w->srv->cfg;
    if (c->qlen >= (uint32_t)cfg->out_queue_max_frames ||
        c->qbytes + m->len > (size_t)cfg->out_queue_max_kb * 1024) {
        overflow(c);
        return -ENOBUFS;
    }
    if (push(c, pg_msg_ref(m)) < 0) {
        pg_msg_unref(m);
        overflow(c);
        return -ENOBUFS;
    }
    return 0;
}

int ws_conn_send_own(struct ws_conn *c, struct pg_msg *m)
{
    if (!m)
        return -ENOMEM;
    int rc = ws_conn_send(c, m);
    pg_msg_unref(m);
    return rc;
}

void ws_conn_error(struct ws_conn *c, int code, const char *message)
{
    ws_conn_send_own(c, pg_frame_error(code, message));
}

void ws_conn_fail(struct ws_conn *c, int code, const char *message)
{
    if (c->closing)
        return;
    /* One line per close the server decides, naming the reason; shutdown closes (4200) and
     * handshake refusals of unknown keys or paths are routine, so they stay at debug. */
    bool routine = code == 4200 || code == 4001 || code == 4005;
    PG_LOG(routine ? PG_LOG_DEBUG : PG_LOG_INFO, "ws", "socket %s (app %s) closed %d: %s",
           c->sid[0] ? c->sid : "-", c->app ? c->app->id : "-", code, message);
    if (code >= 4000)
        ws_conn_error(c, code, message);
    set_close(c, code, message);
}

int ws_conn_on_writable(struct ws_conn *c)
{
    for (int i = 0; i < WS_WRITE_BATCH && c->qlen; i++) {
        if (i > 0 && lws_send_pipe_choked(c->wsi))
            break;
        struct pg_msg *m = c->q[c->qhead];
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qlen--;
        c->qbytes -= m->len;
        int n = lws_write(c->wsi, pg_msg_data(m), m->len, LWS_WRITE_TEXT);
        ws_worker_count_out(c->w, m->len);
        if (c->app) {
            struct pg_app_stats *st = pg_server_stats(c->w->srv, c->w->id, c->app->idx);
            pg_stat_add(&st->msgs_out, 1);
            pg_stat_add(&st->bytes_out, m->len);
        }
        pg_msg_unref(m);
        if (n < 0)
            return -1;
    }
    if (c->qlen) {
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (c->closing) {
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    return 0;
}
