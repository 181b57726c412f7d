/* ws_gate.c - cluster mode: keeping an answer from Redis in order with the live events of the
 * same subscription. Thread: ws worker only.
 *
 * A cache channel's replay and a presence subscription's roster are asked of Redis after the
 * socket already receives the channel's live events. Redis answers through this node's reply
 * channel (srv_redis_int.h, cs_route), so the answer reaches the worker in order with the live
 * messages of other nodes and with cluster announcements (member events): what was published
 * before the answer was computed arrives before it, the rest after. While the answer is due the
 * subscription carries a gate (ws_conn.h) and deliver() (ws_worker.c) asks ws_gate_live first:
 *   cache replay: a live event before the replay means the replay is that event or an older one
 *   (the cache holds the newest, and events of this node reach the worker before their SET goes
 *   to Redis, rest_events.c), so the replay is dropped; otherwise it is sent, and everything
 *   after it is newer.
 *   presence join: member_added / member_removed before the roster are already in the roster (or
 *   about members who left before it) and are dropped; other events are held (at most
 *   HOLD_MAX) and sent right after subscription_succeeded, since no event may precede it.
 */
#include <stdlib.h>
#include <string.h>

#include "ws_chanidx.h"
#include "ws_worker.h"

#define HOLD_MAX 64
#define MEMBER_PREFIX "{\"event\":\"pusher_internal:member_"

static bool member_event(struct pg_msg *m)
{
    size_t n = sizeof MEMBER_PREFIX - 1;
    return m->len > n && memcmp(pg_msg_data(m), MEMBER_PREFIX, n) == 0;
}

bool ws_gate_live(struct ws_sub *s, struct pg_msg *m)
{
    switch (s->gate) {
    case WS_GATE_REPLAY_WAIT:
        ws_chanidx_gate(s, WS_GATE_REPLAY_STALE);
        return false;
    case WS_GATE_JOIN:
        if (member_event(m) || s->nheld >= HOLD_MAX)
            return true;
        if (!s->held && !(s->held = calloc(HOLD_MAX, sizeof *s->held)))
            return true;
        s->held[s->nheld++] = pg_msg_ref(m);
        return true;
    default:
        return false;
    }
}

void ws_gate_replay_begin(struct ws_sub *s, bool stale)
{
    ws_chanidx_gate(s, stale ? WS_GATE_REPLAY_STALE : WS_GATE_REPLAY_WAIT);
}

void ws_gate_join_begin(struct ws_sub *s) { ws_chanidx_gate(s, WS_GATE_JOIN); }

bool ws_gate_join_end(struct ws_conn *c, struct ws_sub *s, bool send)
{
    bool sent = send && s->nheld;
    for (uint16_t i = 0; i < s->nheld; i++) {
        if (send)
            ws_conn_send(c, s->held[i]);
        pg_msg_unref(s->held[i]);
    }
    free(s->held);
    s->held = NULL;
    s->nheld = 0;
    ws_chanidx_gate(s, WS_GATE_NONE);
    return sent;
}

void ws_gate_replay(struct ws_worker *w, struct pg_bus_item *it)
{
    struct ws_chan *k = ws_chanidx_find(w->idx, it->app, it->channel, it->clen);
    for (uint32_t i = 0; k && i < k->n; i++) {
        struct ws_conn *c = k->ent[i].conn;
        if (strcmp(c->sid, it->except) != 0)
            continue;
        struct ws_sub *s = &c->subs[k->ent[i].slot];
        bool stale = s->gate == WS_GATE_REPLAY_STALE;
        if (s->gate == WS_GATE_REPLAY_WAIT || stale)
            ws_chanidx_gate(s, WS_GATE_NONE);
        if (!stale && !c->closing)
            ws_conn_send(c, it->msg);
        return;
    }
}
