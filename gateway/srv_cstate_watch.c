/* srv_cstate_watch.c - cluster mode: watchlist online / offline across nodes (see srv_redis.h).
 * Thread: as marked per function.
 *
 * A signed-in socket holds "#server-to-user-<id>". In cluster mode the registry reports that
 * channel's changes to the shared state like any other channel's (srv_cstate.c, "sub" runs), so
 * the cluster count in <P>:subs:<app> is the user's signed-in connections on every node, and a
 * dead node's part is subtracted by the reaper. The node whose run sees 0 -> 1 publishes
 * {"events":[{"name":"online","user_ids":[id]}]} on "#watch-<id>" to every node, itself included
 * (an ANNOUNCE message: every node delivers it in the order Redis published it); the run (or
 * reap, or departure) that sees the count reach 0 publishes "offline". So each transition is
 * announced once for the cluster.
 *
 * A watcher's initial state after its sign-in is read by the routed "wget" script run (the
 * watched ids' channels in <P>:subs:<app>), after the watcher's own sign-in ("sub") and after its
 * #watch- subscriptions were made locally; the script PUBLISHes its answer to this node's reply
 * channel, so it reaches the watcher's worker (PG_BUS_WATCH_STATE) in order with the transitions:
 * one published before the read arrives before the state (which includes it), one published
 * after arrives after. At worst the watcher hears a change twice (once in the state, once live),
 * never an older state after a newer change. Link down (or a refused command): the node's own
 * registry answers.
 *
 * While the link is down each node announces its own users' transitions to its own watchers
 * (single-node behaviour); after a reconnect the resync announces the differences (srv_cstate.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_buf.h"
#include "pg_config.h"
#include "pg_frame.h"
#include "pg_log.h"
#include "pg_registry.h"
#include "pg_server.h"
#include "srv_redis_int.h"

#define USER_PREFIX "#server-to-user-"
#define UPL (sizeof USER_PREFIX - 1)
#define WATCH_PREFIX "#watch-"
#define WATCH_MAX 100 /* ids per watchlist (ws_signin.c) */

/* ---- producers (workers) -------------------------------------------------------------------- */

bool srv_redis_linked(const struct srv_redis *r) { return r && atomic_load(&r->up); }

int srv_redis_watch_state(struct srv_redis *r, const struct pg_app *app, const char *self_ch,
                          size_t slen, unsigned w, const char *sid, const char *ids, size_t idlen)
{
    if (!r || !atomic_load(&r->up))
        return -ENOTCONN;
    size_t sl = strlen(sid);
    if (sl >= PG_SID_MAX)
        return -EINVAL;
    const char *f[5] = {app->id, self_ch, ids, "", sid};
    size_t fl[5] = {strlen(app->id), slen, idlen, 0, sl};
    struct qitem *it = cs_qitem_make(Q_WATCH, f, fl, 5);
    if (!it)
        return -ENOMEM;
    it->app = app->idx;
    it->w = w;
    return srv_redis__enqueue(r, it);
}

/* ---- the ids of a Q_WATCH ------------------------------------------------------------------- */

struct ids {
    const char *id[WATCH_MAX];
    size_t len[WATCH_MAX];
    size_t n;
};

static void split_ids(const struct qitem *it, struct ids *out)
{
    const char *p = qitem_field(it, 2), *end = p + it->len[2];
    out->n = 0;
    while (p < end && out->n < WATCH_MAX) {
        size_t n = 0;
        while (p < end && *p >= '0' && *p <= '9')
            n = n * 10 + (size_t)(*p++ - '0');
        if (p >= end || *p != ':' || n > (size_t)(end - p - 1))
            return;
        out->id[out->n] = p + 1;
        out->len[out->n++] = n;
        p += 1 + n;
    }
}

/* The watchlist_events frame of ids with online[i] (online first, then offline, as ws_signin.c);
 * posted to the watcher. */
static void post_state(struct srv_redis *r, const struct qitem *it, const struct ids *ids,
                       const bool *online)
{
    struct pg_buf d;
    pg_buf_init(&d);
    pg_buf_puts(&d, "{\"events\":[");
    size_t groups = 0;
    for (int pass = 0; pass < 2; pass++) {
        bool want = pass == 0, any = false;
        for (size_t i = 0; i < ids->n; i++) {
            if (online[i] != want)
                continue;
            if (!any)
                pg_buf_printf(&d, "%s{\"name\":\"%s\",\"user_ids\":[", groups++ ? "," : "",
                              want ? "online" : "offline");
            else
                pg_buf_put(&d, ",", 1);
            any = true;
            pg_buf_json_str(&d, ids->id[i], ids->len[i]);
        }
        if (any)
            pg_buf_puts(&d, "]}");
    }
    pg_buf_puts(&d, "]}");
    struct pg_msg *m = groups && !d.oom
                           ? pg_frame_str("pusher_internal:watchlist_events", NULL, 0, d.p, d.len)
                           : NULL;
    pg_buf_dispose(&d);
    if (m)
        cs_post_socket(r, PG_BUS_WATCH_STATE, it->w, it->app, qitem_field(it, 1), it->len[1],
                       qitem_field(it, 4), m);
}

/* "#server-to-user-<id>" in buf; its length, or 0 when it does not fit. */
static size_t user_ch(char *buf, size_t n, const char *id, size_t len)
{
    if (UPL + len >= n)
        return 0;
    memcpy(buf, USER_PREFIX, UPL);
    memcpy(buf + UPL, id, len);
    buf[UPL + len] = 0;
    return UPL + len;
}

/* ---- pg-redis ------------------------------------------------------------------------------- */

void cw_append(struct srv_redis *r, struct qitem *it)
{
    struct ids ids;
    split_ids(it, &ids);
    struct pg_buf names; /* the channels, back to back */
    pg_buf_init(&names);
    size_t off[WATCH_MAX], len[WATCH_MAX];
    char ch[256];
    for (size_t i = 0; i < ids.n; i++) {
        off[i] = names.len;
        len[i] = user_ch(ch, sizeof ch, ids.id[i], ids.len[i]);
        pg_buf_put(&names, ch, len[i]);
    }
    char key[600];
    int kl =
        snprintf(key, sizeof key, "%s:subs:%.*s", r->kprefix, (int)it->len[0], qitem_field(it, 0));
    if (!ids.n || names.oom || kl >= (int)sizeof key) {
        pg_buf_dispose(&names);
        cw_dropped(r, it);
        free(it);
        return;
    }
    const char *argv[CS_HDR_ARGS + 3 + WATCH_MAX];
    size_t argl[CS_HDR_ARGS + 3 + WATCH_MAX];
    char deb[24];
    cs_hdr(r, argv, argl, "wget", NULL, deb);
    argv[CS_HDR_ARGS + 2] = key;
    argl[CS_HDR_ARGS + 2] = (size_t)kl;
    for (size_t i = 0; i < ids.n; i++) {
        argv[CS_HDR_ARGS + 3 + i] = names.p + off[i];
        argl[CS_HDR_ARGS + 3 + i] = len[i];
    }
    cs_route(r, it, argv, argl, CS_HDR_ARGS + 3 + (int)ids.n); /* owns it now */
    pg_buf_dispose(&names);
}

/* One '1' (online) or '0' per id, in order. */
void cw_on_answer(struct srv_redis *r, struct qitem *it, const char *a, size_t alen)
{
    struct ids ids;
    split_ids(it, &ids);
    if (alen != ids.n) {
        cw_dropped(r, it);
        return;
    }
    bool online[WATCH_MAX];
    for (size_t i = 0; i < ids.n; i++)
        online[i] = a[i] == '1';
    post_state(r, it, &ids, online);
}

/* Any thread: this node's own registry answers. */
void cw_dropped(struct srv_redis *r, struct qitem *it)
{
    struct ids ids;
    split_ids(it, &ids);
    bool online[WATCH_MAX];
    char ch[256];
    for (size_t i = 0; i < ids.n; i++) {
        size_t n = user_ch(ch, sizeof ch, ids.id[i], ids.len[i]);
        struct pg_chan_stats st;
        online[i] = n && pg_registry_stats(r->srv->reg, it->app, ch, n, &st) == 0;
    }
    post_state(r, it, &ids, online);
}

void cw_user_changed(struct srv_redis *r, const char *app_id, size_t alen, const char *ch,
                     size_t clen, bool online)
{
    struct pg_server *srv = r->srv;
    if (clen <= UPL || memcmp(ch, USER_PREFIX, UPL) != 0)
        return;
    const char *id = ch + UPL;
    size_t idlen = clen - UPL;
    char wch[256];
    int wl = snprintf(wch, sizeof wch, "%s%.*s", WATCH_PREFIX, (int)idlen, id);
    if (wl < 0 || (size_t)wl >= sizeof wch)
        return;
    struct pg_msg *m = pg_frame_watch(id, idlen, online);
    if (!m)
        return;
    char aid[256];
    snprintf(aid, sizeof aid, "%.*s", (int)alen, app_id);
    if (r->pub) { /* every node, this one included, delivers it in Redis's order (ANNOUNCE) */
        srv_redis__publish_now(r, PG_CLUSTER_ANNOUNCE, aid, wch, (size_t)wl, NULL, pg_msg_data(m),
                               m->len);
        pg_msg_unref(m);
        return;
    }
    const struct pg_app *app = pg_config_app_by_id(srv->cfg, app_id, alen);
    uint64_t mask = app ? pg_registry_mask(srv->reg, app->idx, wch, (size_t)wl) : 0;
    if (mask)
        pg_bus_publish(srv->bus, mask, app->idx, wch, (size_t)wl, m, NULL);
    else
        pg_msg_unref(m);
}
