/* ws_gate.c - cluster mode: keeping an answer from Redis in order with the live events of the
 * same subscription. Thread: ws worker only.
 *
 * A cache channel's replay and a watchlist's initial state are asked of Redis after the socket
 * already receives live events, and the answer comes back on another connection than the live
 * events do, so the two can cross. While an answer is due the subscription carries a gate
 * (ws_conn.h), and deliver() (ws_worker.c) calls ws_gate_live for the channels that have one:
 *   cache replay: a live event before the replay means the replay is stale or the same event
 *   (the cache holds the newest event; a newer one than the replay reaches the socket live), so
 *   the replay is dropped. A replay sent first may still be followed by its own event arriving
 *   live (it was published just before the read): the first live frame within REPLAY_DUP_MS that
 *   is byte-identical to the replay is dropped once. Identical bytes are indistinguishable to the
 *   client, so at worst it sees the last state once where the app sent it twice.
 *   watchlist state: a live online / offline change before the state arrives means the state may
 *   be older than that change; the state is asked for again (at most WATCH_TRIES times in all),
 *   which then reflects the change, and the stale one is dropped.
 */
#include <string.h>

#include "pg_clock.h"
#include "ws_chanidx.h"
#include "ws_worker.h"

#define REPLAY_DUP_MS 1000
#define WATCH_TRIES 3
#define WATCH_PREFIX "#watch-"

static uint64_t frame_id(struct pg_msg *m)
{
    const unsigned char *p = pg_msg_data(m);
    uint64_t h = 1469598103934665603ULL;
    for (uint32_t i = 0; i < m->len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h ^ m->len;
}

bool ws_gate_live(struct ws_conn *c, struct ws_sub *s, struct pg_msg *m)
{
    switch (s->gate) {
    case WS_GATE_REPLAY_WAIT:
        ws_chanidx_gate(s, WS_GATE_REPLAY_STALE);
        return false;
    case WS_GATE_REPLAY_SENT: {
        bool dup = pg_now_ms() - s->gate_ms < REPLAY_DUP_MS && frame_id(m) == s->gate_id;
        ws_chanidx_gate(s, WS_GATE_NONE);
        return dup;
    }
    case WS_GATE_WATCH:
        if (c->watch_wait)
            c->watch_wait = 2;
        return false;
    default:
        return false;
    }
}

/* The socket it->except among the local subscribers of (it->app, it->channel), and its
 * subscription there; NULL when either is gone. */
static struct ws_conn *find(struct ws_worker *w, const struct pg_bus_item *it, struct ws_sub **s)
{
    struct ws_chan *k = ws_chanidx_find(w->idx, it->app, it->channel, it->clen);
    for (uint32_t i = 0; k && i < k->n; i++) {
        struct ws_conn *c = k->ent[i].conn;
        if (strcmp(c->sid, it->except) == 0) {
            *s = &c->subs[k->ent[i].slot];
            return c->closing ? NULL : c;
        }
    }
    return NULL;
}

void ws_gate_replay_begin(struct ws_sub *s) { ws_chanidx_gate(s, WS_GATE_REPLAY_WAIT); }

void ws_gate_replay(struct ws_worker *w, struct pg_bus_item *it)
{
    struct ws_sub *s = NULL;
    struct ws_conn *c = find(w, it, &s);
    if (!c)
        return;
    if (s->gate == WS_GATE_REPLAY_STALE) {
        ws_chanidx_gate(s, WS_GATE_NONE);
        return;
    }
    ws_conn_send(c, it->msg);
    ws_chanidx_gate(s, WS_GATE_REPLAY_SENT);
    s->gate_ms = pg_now_ms();
    s->gate_id = frame_id(it->msg);
}

/* Sets (or, gate WS_GATE_NONE, clears) the gate of every #watch- subscription of c. */
static void gate_watches(struct ws_conn *c, uint8_t gate)
{
    for (uint32_t i = 0; i < c->nsubs; i++) {
        struct ws_sub *s = &c->subs[i];
        if (s->ch->len > sizeof WATCH_PREFIX - 1 &&
            memcmp(s->ch->name, WATCH_PREFIX, sizeof WATCH_PREFIX - 1) == 0)
            ws_chanidx_gate(s, gate);
    }
}

bool ws_gate_watch_begin(struct ws_conn *c)
{
    if (c->watch_tries >= WATCH_TRIES || !ws_watch_request(c))
        return false;
    c->watch_tries++;
    c->watch_wait = 1;
    gate_watches(c, WS_GATE_WATCH);
    return true;
}

void ws_gate_watch(struct ws_worker *w, struct pg_bus_item *it)
{
    struct ws_sub *s = NULL;
    struct ws_conn *c = find(w, it, &s);
    if (!c || !c->watch_wait)
        return;
    bool stale = c->watch_wait == 2;
    c->watch_wait = 0;
    gate_watches(c, WS_GATE_NONE);
    if (stale && ws_gate_watch_begin(c))
        return; /* asked again: the newer answer replaces this one */
    ws_conn_send(c, it->msg);
}
