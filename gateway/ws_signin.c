/* ws_signin.c - pusher:signin (user authentication), the user's #server-to-user- channel and the
 * watchlist.
 * Thread: ws worker only (called from ws_proto.c).
 * A signed-in socket is subscribed internally to "#server-to-user-<id>": REST server-to-user
 * events and terminate_connections then reach every socket of the user through the ordinary
 * channel machinery, on whatever worker it lives, and the channel's cluster-wide subscription
 * count is the user's number of signed-in connections (online while it is above zero). A watcher
 * of user U is subscribed internally to "#watch-<U>", where U's online/offline changes are
 * published. Clients can subscribe to neither directly ('#' names are refused), except that the
 * pusher-js subscribe to its own #server-to-user- channel is confirmed.
 * Cluster mode (srv_cstate_watch.c): while linked to Redis, the cluster count decides online /
 * offline and the node that sees a transition publishes it to every node; the initial state of a
 * watchlist is answered from Redis, later, through the bus.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_chan_name.h"
#include "pg_frame.h"
#include "pg_log.h"
#include "pg_user_auth.h"
#include "srv_redis.h"
#include "ws_worker.h"

#define PG_USER_ID_MAX 128
#define PG_WATCHLIST_MAX 100
#define USER_PREFIX "#server-to-user-"
#define WATCH_PREFIX "#watch-"

static int name_of(char *out, size_t outlen, const char *prefix, const char *id, size_t idlen)
{
    int n = snprintf(out, outlen, "%s%.*s", prefix, (int)idlen, id);
    return n > 0 && (size_t)n < outlen ? n : -ENAMETOOLONG;
}

/* Publishes one watchlist event ("online" or "offline") about user id to its watchers. */
static void publish_watch(struct ws_conn *c, const char *id, size_t idlen, bool online)
{
    struct pg_server *srv = c->w->srv;
    char ch[PG_USER_ID_MAX + 16];
    int n = name_of(ch, sizeof ch, WATCH_PREFIX, id, idlen);
    if (n < 0)
        return;
    uint64_t mask = pg_registry_mask(srv->reg, c->app->idx, ch, (size_t)n);
    if (!mask)
        return;
    struct pg_msg *m = pg_frame_watch(id, idlen, online);
    if (m)
        pg_bus_publish(srv->bus, mask, c->app->idx, ch, (size_t)n, m, NULL);
}

void ws_user_left(struct ws_conn *c, const char *ch, size_t len, long remaining)
{
    if (remaining == 0 && len > sizeof USER_PREFIX - 1 && !srv_redis_linked(c->w->srv->redis))
        publish_watch(c, ch + sizeof USER_PREFIX - 1, len - (sizeof USER_PREFIX - 1), false);
}

static void signin_failed(struct ws_conn *c, const char *why)
{
    const struct pg_app *app = c->app;
    if (app->authorized_connections || app->enable_user_authentication)
        ws_conn_fail(c, 4009, why);
    else
        ws_conn_error(c, 4009, why);
}

bool ws_watch_request(struct ws_conn *c)
{
    struct pg_server *srv = c->w->srv;
    char self[PG_USER_ID_MAX + 24];
    int sl = name_of(self, sizeof self, USER_PREFIX, c->user_id, c->uidlen);
    if (!srv_redis_linked(srv->redis) || sl < 0)
        return false;
    struct pg_buf ids; /* "<length>:<id>" each */
    pg_buf_init(&ids);
    const size_t wl = sizeof WATCH_PREFIX - 1;
    for (uint32_t i = 0; i < c->nsubs; i++) {
        const struct ws_chan *k = c->subs[i].ch;
        if (k->len <= wl || memcmp(k->name, WATCH_PREFIX, wl) != 0)
            continue;
        pg_buf_printf(&ids, "%zu:", k->len - wl);
        pg_buf_put(&ids, k->name + wl, k->len - wl);
    }
    bool ok = !ids.oom && srv_redis_watch_state(srv->redis, c->app, self, (size_t)sl, c->w->id,
                                                c->sid, ids.p, ids.len) == 0;
    pg_buf_dispose(&ids);
    return ok;
}

/* Sends the current state of the watched ids, then subscribes to their changes. */
static void watchlist(struct ws_conn *c, json_object *wl)
{
    struct pg_server *srv = c->w->srv;
    size_t n = json_object_array_length(wl);
    bool truncated = n > PG_WATCHLIST_MAX;
    if (truncated)
        n = PG_WATCHLIST_MAX;
    const char *idv[PG_WATCHLIST_MAX];
    size_t idl[PG_WATCHLIST_MAX], k = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(wl, i);
        if (!json_object_is_type(e, json_type_string))
            continue;
        const char *id = json_object_get_string(e);
        size_t idlen = (size_t)json_object_get_string_len(e);
        char ch[PG_USER_ID_MAX + 16];
        if (idlen == 0 || idlen > PG_USER_ID_MAX)
            continue;
        int wl_len = name_of(ch, sizeof ch, WATCH_PREFIX, id, idlen);
        if (wl_len < 0 || ws_chanidx_sub_of(c, c->app->idx, ch, (size_t)wl_len))
            continue;
        ws_sub_internal(c, ch, (size_t)wl_len, PG_CHAN_PUBLIC);
        idv[k] = id;
        idl[k++] = idlen;
    }
    struct pg_buf on, off;
    pg_buf_init(&on);
    pg_buf_init(&off);
    size_t non = 0, noff = 0;
    bool remote = k && ws_watch_request(c);
    for (size_t i = 0; !remote && i < k; i++) {
        const char *id = idv[i];
        size_t idlen = idl[i];
        char ch[PG_USER_ID_MAX + 16];
        int ul = name_of(ch, sizeof ch, USER_PREFIX, id, idlen);
        struct pg_chan_stats st;
        bool online = ul > 0 && pg_registry_stats(srv->reg, c->app->idx, ch, (size_t)ul, &st) == 0;
        struct pg_buf *b = online ? &on : &off;
        if (b->len)
            pg_buf_put(b, ",", 1);
        pg_buf_json_str(b, id, idlen);
        if (online)
            non++;
        else
            noff++;
    }
    struct pg_buf d;
    pg_buf_init(&d);
    pg_buf_puts(&d, "{\"events\":[");
    if (non)
        pg_buf_printf(&d, "{\"name\":\"online\",\"user_ids\":[%s]}", pg_buf_cstr(&on));
    if (noff)
        pg_buf_printf(&d, "%s{\"name\":\"offline\",\"user_ids\":[%s]}", non ? "," : "",
                      pg_buf_cstr(&off));
    pg_buf_puts(&d, "]}");
    if ((non || noff) && !d.oom)
        ws_conn_send_own(c, pg_frame_str("pusher_internal:watchlist_events", NULL, 0, d.p, d.len));
    pg_buf_dispose(&d);
    pg_buf_dispose(&on);
    pg_buf_dispose(&off);
    if (truncated) {
        pg_server_count_limit(srv, PG_LIMIT_WATCHLIST);
        ws_conn_error(c, 4302,
                      "Watchlist limit exceeded. Only the first 100 user IDs are accepted.");
    }
}

static void send_success(struct ws_conn *c, const char *ud, size_t udlen)
{
    struct pg_buf d;
    pg_buf_init(&d);
    pg_buf_puts(&d, "{\"user_data\":");
    pg_buf_json_str(&d, ud, udlen);
    pg_buf_puts(&d, "}");
    if (!d.oom)
        ws_conn_send_own(c, pg_frame_raw("pusher:signin_success", NULL, 0, d.p, d.len, NULL, 0));
    pg_buf_dispose(&d);
}

void ws_signin(struct ws_conn *c, json_object *data)
{
    const struct pg_app *app = c->app;
    json_object *ja = json_object_object_get(data, "auth");
    json_object *jud = json_object_object_get(data, "user_data");
    if (!json_object_is_type(data, json_type_object) ||
        !json_object_is_type(ja, json_type_string) || !json_object_is_type(jud, json_type_string)) {
        signin_failed(c, "Invalid pusher:signin: data.auth and data.user_data are required");
        return;
    }
    const char *auth = json_object_get_string(ja);
    const char *ud = json_object_get_string(jud);
    size_t udlen = (size_t)json_object_get_string_len(jud);
    if (pg_user_auth_verify(app->key, strlen(app->key), app->secret, app->secret_len, c->sid,
                            c->sidlen, ud, udlen, auth, strlen(auth)) != 0) {
        signin_failed(c, "Invalid signature for pusher:signin");
        return;
    }
    struct json_tokener *tok = c->w->tok;
    json_tokener_reset(tok);
    json_object *u = json_tokener_parse_ex(tok, ud, (int)udlen);
    json_object *jid = json_object_object_get(u, "id");
    if (!u || json_tokener_get_parse_end(tok) != udlen ||
        !json_object_is_type(u, json_type_object) || !json_object_is_type(jid, json_type_string) ||
        json_object_get_string_len(jid) == 0 || json_object_get_string_len(jid) > PG_USER_ID_MAX ||
        strchr(json_object_get_string(jid), '\x1f')) {
        json_object_put(u);
        signin_failed(c, "Invalid user_data: an object with a non-empty string id (at most 128 "
                         "characters) is required");
        return;
    }
    const char *id = json_object_get_string(jid);
    size_t idlen = (size_t)json_object_get_string_len(jid);
    if (c->user_id) {
        bool same = c->uidlen == idlen && memcmp(c->user_id, id, idlen) == 0;
        json_object_put(u);
        if (!same) {
            signin_failed(c, "This connection is already signed in as another user");
            return;
        }
        send_success(c, ud, udlen); /* a repeated sign-in as the same user changes nothing */
        return;
    }
    char ch[PG_USER_ID_MAX + 16];
    int n = name_of(ch, sizeof ch, USER_PREFIX, id, idlen);
    c->user_id = strndup(id, idlen);
    c->uidlen = idlen;
    json_object *ji = json_object_object_get(u, "user_info");
    if (ji) {
        c->user_info = strdup(json_object_to_json_string_ext(ji, JSON_C_TO_STRING_PLAIN));
        c->uinfolen = c->user_info ? strlen(c->user_info) : 0;
    }
    if (!c->user_id || n < 0) {
        json_object_put(u);
        ws_conn_error(c, -1, "Server out of memory");
        return;
    }
    if (ws_conn_authorize(c) < 0) {
        json_object_put(u);
        return;
    }
    long count = ws_sub_internal(c, ch, (size_t)n, PG_CHAN_USER);
    if (count == 1 && !srv_redis_linked(c->w->srv->redis)) /* else the cluster announces it */
        publish_watch(c, id, idlen, true);

    send_success(c, ud, udlen);

    json_object *wl = json_object_object_get(u, "watchlist");
    if (json_object_is_type(wl, json_type_array))
        watchlist(c, wl);
    json_object_put(u);
}
