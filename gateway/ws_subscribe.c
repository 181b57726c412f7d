/* ws_subscribe.c - pusher:subscribe and pusher:unsubscribe.
 * Thread: ws worker only (called from ws_proto.c).
 * Touches: the caller's ws_conn and its worker's chan index; the registry under its stripe lock.
 * Order (design 6): name rules, kind, signature, limits, registry and index, reply.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_cache.h"
#include "pg_chan_auth.h"
#include "pg_chan_name.h"
#include "pg_debug.h"
#include "pg_frame.h"
#include "pg_hooks.h"
#include "srv_redis.h"
#include "ws_worker.h"

#define PG_USER_ID_MAX 128

static void sub_error(struct ws_conn *c, const char *ch, size_t clen, const char *type,
                      const char *error, int status)
{
    struct pg_buf d;
    pg_buf_init(&d);
    pg_buf_puts(&d, "{\"type\":");
    pg_buf_json_str(&d, type, strlen(type));
    pg_buf_puts(&d, ",\"error\":");
    pg_buf_json_str(&d, error, strlen(error));
    pg_buf_printf(&d, ",\"status\":%d}", status);
    if (!d.oom)
        ws_conn_send_own(c,
                         pg_frame_raw("pusher:subscription_error", ch, clen, d.p, d.len, NULL, 0));
    pg_buf_dispose(&d);
}

/* max_presence_members_per_channel reached (on this node, or cluster-wide in cluster mode). */
static void full_error(struct ws_conn *c, const char *ch, size_t clen)
{
    char msg[128];
    pg_server_count_limit(c->w->srv, PG_LIMIT_PRESENCE);
    snprintf(msg, sizeof msg, "Presence channel is full (max_presence_members_per_channel %ld)",
             (long)c->app->max_presence_members_per_channel);
    sub_error(c, ch, clen, "LimitReached", msg, 4100);
}

static void succeeded(struct ws_conn *c, const char *ch, size_t clen, const struct pg_buf *roster)
{
    if (roster)
        ws_conn_send_own(c, pg_frame_str("pusher_internal:subscription_succeeded", ch, clen,
                                         roster->p, roster->len));
    else
        ws_conn_send_own(c,
                         pg_frame_str("pusher_internal:subscription_succeeded", ch, clen, "{}", 2));
}

/* Reads the presence identity from channel_data: {"user_id": string|integer, "user_info": any}.
 * Returns 0, or -EINVAL / -EMSGSIZE with a message in err. *uid and *info are malloc'd. */
static int presence_identity(const struct pg_app *app, const char *cd, size_t cdlen, char **uid,
                             size_t *ulen, char **info, size_t *ilen, char *err, size_t errlen)
{
    *uid = *info = NULL;
    struct json_tokener *tok = json_tokener_new_ex(16);
    if (!tok)
        return -ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, cd, (int)cdlen);
    int rc = -EINVAL;
    if (!o || json_tokener_get_parse_end(tok) != cdlen ||
        !json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen, "channel_data must be a JSON object with a user_id");
        goto out;
    }
    json_object *ju = json_object_object_get(o, "user_id");
    const char *u = NULL;
    if (json_object_is_type(ju, json_type_string) || json_object_is_type(ju, json_type_int))
        u = json_object_get_string(ju);
    if (!u || !*u) {
        snprintf(err, errlen, "channel_data.user_id must be a non-empty string or integer");
        goto out;
    }
    if (strlen(u) > PG_USER_ID_MAX) {
        snprintf(err, errlen, "channel_data.user_id is longer than %d characters", PG_USER_ID_MAX);
        rc = -EMSGSIZE;
        goto out;
    }
    json_object *ji = json_object_object_get(o, "user_info");
    if (ji) {
        const char *s = json_object_to_json_string_ext(ji, JSON_C_TO_STRING_PLAIN);
        *ilen = strlen(s);
        if (app->max_presence_member_size_in_kb >= 0 &&
            *ilen > (size_t)app->max_presence_member_size_in_kb * 1024) {
            snprintf(err, errlen, "user_info is over max_presence_member_size_in_kb (%ld KB)",
                     (long)app->max_presence_member_size_in_kb);
            rc = -EMSGSIZE;
            goto out;
        }
        *info = strdup(s);
        if (!*info) {
            rc = -ENOMEM;
            goto out;
        }
    }
    *ulen = strlen(u);
    *uid = strdup(u);
    rc = *uid ? 0 : -ENOMEM;
out:
    if (rc < 0) {
        free(*info);
        *info = NULL;
    }
    json_object_put(o);
    json_tokener_free(tok);
    return rc;
}

/* Side effects after subscription_succeeded: cache replay, subscription count. */
/* Subscription counts are tracked for the app's broadcast or its subscription_count webhook. */
static bool counted(const struct ws_conn *c)
{
    return c->app->subscription_count ||
           pg_hooks_wants(c->w->srv->hooks, c->app->idx, PG_HOOK_SUBSCRIPTION_COUNT);
}

static void after_join(struct ws_conn *c, const char *ch, size_t clen, unsigned kind, bool held)
{
    struct pg_server *srv = c->w->srv;
    /* Cluster mode: Redis has the cluster's last event; its answer comes later on the bus, kept
     * in order with live events by the subscription's gate (ws_gate.c). */
    struct ws_sub *s =
        srv->redis && (kind & PG_CHAN_CACHE) ? ws_chanidx_sub_of(c, c->app->idx, ch, clen) : NULL;
    if (s && srv_redis_cache_replay(srv->redis, c->app, ch, clen, c->w->id, c->sid) == 0)
        ws_gate_replay_begin(s, held);
    else if (kind & PG_CHAN_CACHE) {
        struct pg_msg *m =
            srv->cache ? pg_cache_get(srv->cache, c->app->idx, ch, clen, pg_now_ms()) : NULL;
        if (m)
            ws_conn_send_own(c, m);
        else {
            ws_conn_send_own(c, pg_frame_str("pusher:cache_miss", ch, clen, "{}", 2));
            pg_hooks_emit(srv->hooks, c->app->idx, PG_HOOK_CACHE_MISS, ch, clen, NULL, 0);
        }
    }
    if (counted(c) && !(kind & PG_CHAN_PRESENCE))
        pg_registry_count_dirty(srv->reg, c->app->idx, ch, clen);
    pg_debug_mirror(srv, c->app->idx, "subscribed", PG_DBG_SID(c->sid), PG_DBG_C(ch), PG_DBG_END);
}

long ws_sub_internal(struct ws_conn *c, const char *ch, size_t len, unsigned kind)
{
    struct ws_sub *s = ws_chanidx_add(c->w->idx, c, c->app->idx, ch, len, kind);
    if (!s)
        return -ENOMEM;
    long n = pg_registry_sub(c->w->srv->reg, c->app->idx, ch, len, c->w->id);
    if (n < 0)
        ws_chanidx_remove(c->w->idx, c, s);
    return n;
}

/* "#debug", the debug console's stream (pg_debug.h), with debug_console on: for a socket whose
 * subscription is signed with the app secret like a private channel's. */
static void debug_subscribe(struct ws_conn *c, json_object *data)
{
    const struct pg_app *app = c->app;
    json_object *ja = json_object_object_get(data, "auth");
    const char *auth = json_object_is_type(ja, json_type_string) ? json_object_get_string(ja) : "";
    if (pg_chan_auth_verify(app->key, strlen(app->key), app->secret, app->secret_len, c->sid,
                            c->sidlen, PG_DEBUG_CHANNEL, PG_DEBUG_CHANNEL_LEN, NULL, 0, auth,
                            strlen(auth), NULL, 0) != 0) {
        sub_error(c, PG_DEBUG_CHANNEL, PG_DEBUG_CHANNEL_LEN, "AuthError",
                  "Invalid signature for #debug: expected <key>:<HMAC SHA256 hex of "
                  "socket_id:#debug with the app secret>",
                  401);
        return;
    }
    if (ws_conn_authorize(c) < 0)
        return;
    if (!ws_chanidx_sub_of(c, app->idx, PG_DEBUG_CHANNEL, PG_DEBUG_CHANNEL_LEN) &&
        ws_sub_internal(c, PG_DEBUG_CHANNEL, PG_DEBUG_CHANNEL_LEN, PG_CHAN_PUBLIC) < 0) {
        ws_conn_error(c, -1, "Server out of memory");
        return;
    }
    succeeded(c, PG_DEBUG_CHANNEL, PG_DEBUG_CHANNEL_LEN, NULL);
}

void ws_subscribe(struct ws_conn *c, json_object *data)
{
    const struct pg_app *app = c->app;
    struct pg_server *srv = c->w->srv;
    json_object *jch = json_object_object_get(data, "channel");
    if (!json_object_is_type(data, json_type_object) ||
        !json_object_is_type(jch, json_type_string)) {
        ws_conn_error(c, -1, "pusher:subscribe requires data.channel");
        return;
    }
    const char *ch = json_object_get_string(jch);
    size_t clen = (size_t)json_object_get_string_len(jch);
    char msg[512];
    if (srv->cfg->debug_console && clen == PG_DEBUG_CHANNEL_LEN &&
        memcmp(ch, PG_DEBUG_CHANNEL, clen) == 0) {
        debug_subscribe(c, data);
        return;
    }
    if (clen > 0 && ch[0] == '#' && !ws_chanidx_sub_of(c, app->idx, ch, clen)) {
        /* '#' names are the server's own (spec 5.2); a socket holds its #server-to-user- channel
         * from sign-in on, so only that one is confirmed below. */
        sub_error(c, ch, clen, "AuthError",
                  "Channels starting with # are reserved; #server-to-user- needs a connection "
                  "signed in as that user",
                  403);
        return;
    }
    int rc = pg_chan_name_check(ch, clen, (long)app->max_channel_name_length);
    if (rc == -ENAMETOOLONG) {
        snprintf(msg, sizeof msg, "Channel name is longer than max_channel_name_length (%ld)",
                 (long)app->max_channel_name_length);
        pg_server_count_limit(srv, PG_LIMIT_NAMES);
        sub_error(c, ch, clen, "InvalidChannel", msg, 400);
        return;
    }
    if (rc < 0) {
        sub_error(c, ch, clen, "InvalidChannel",
                  "Invalid channel name: use A-Z a-z 0-9 and _ - = @ , . ;", 400);
        return;
    }
    unsigned kind = pg_chan_classify(ch, clen);
    struct ws_sub *have = ws_chanidx_sub_of(c, app->idx, ch, clen);
    if (have) { /* idempotent: confirm again, change nothing */
        if ((kind & PG_CHAN_PRESENCE) &&
            srv_redis_roster(srv->redis, app, ch, clen, c->w->id, c->sid) == 0)
            return; /* cluster mode: answered with the cluster roster */
        struct pg_buf roster;
        pg_buf_init(&roster);
        if (kind & PG_CHAN_PRESENCE)
            pg_registry_presence_roster(srv->reg, app->idx, ch, clen, &roster);
        succeeded(c, ch, clen, (kind & PG_CHAN_PRESENCE) && !roster.oom ? &roster : NULL);
        pg_buf_dispose(&roster);
        return;
    }

    const char *cd = NULL;
    size_t cdlen = 0;
    if (kind & (PG_CHAN_PRIVATE | PG_CHAN_PRESENCE)) {
        json_object *ja = json_object_object_get(data, "auth");
        json_object *jcd = json_object_object_get(data, "channel_data");
        const char *auth =
            json_object_is_type(ja, json_type_string) ? json_object_get_string(ja) : "";
        if (json_object_is_type(jcd, json_type_string)) {
            cd = json_object_get_string(jcd);
            cdlen = (size_t)json_object_get_string_len(jcd);
        }
        if ((kind & PG_CHAN_PRESENCE) && !cd && !c->user_id) {
            sub_error(c, ch, clen, "AuthError",
                      "Presence channels require channel_data or a signed-in connection", 401);
            return;
        }
        char expected[384];
        int ar = pg_chan_auth_verify(app->key, strlen(app->key), app->secret, app->secret_len,
                                     c->sid, c->sidlen, ch, clen, cd, cdlen, auth, strlen(auth),
                                     expected, sizeof expected);
        if (ar != 0) {
            snprintf(msg, sizeof msg,
                     "Invalid signature: Expected HMAC SHA256 hex digest of %.300s, but got %.80s",
                     expected, auth);
            sub_error(c, ch, clen, "AuthError", msg, 401);
            return;
        }
    }

    char *uid = NULL, *info = NULL;
    size_t ulen = 0, ilen = 0;
    if ((kind & PG_CHAN_PRESENCE) && !cd) {
        /* Signed in, no channel_data: the member is the signed-in user (spec 4.6). */
        if (c->user_info && app->max_presence_member_size_in_kb >= 0 &&
            c->uinfolen > (size_t)app->max_presence_member_size_in_kb * 1024) {
            pg_server_count_limit(srv, PG_LIMIT_PRESENCE);
            sub_error(c, ch, clen, "LimitReached",
                      "user_info is over max_presence_member_size_in_kb", 4301);
            return;
        }
        uid = strndup(c->user_id, c->uidlen);
        ulen = c->uidlen;
        info = c->user_info ? strndup(c->user_info, c->uinfolen) : NULL;
        ilen = c->uinfolen;
        if (!uid || (c->user_info && !info)) {
            free(uid);
            free(info);
            ws_conn_error(c, -1, "Server out of memory");
            return;
        }
    } else if (kind & PG_CHAN_PRESENCE) {
        rc = presence_identity(app, cd, cdlen, &uid, &ulen, &info, &ilen, msg, sizeof msg);
        if (rc == -EMSGSIZE) {
            pg_server_count_limit(srv, PG_LIMIT_PRESENCE);
            sub_error(c, ch, clen, "LimitReached", msg, 4301);
            return;
        }
        if (rc < 0) {
            sub_error(c, ch, clen, "AuthError", msg, 401);
            return;
        }
    }
    if ((kind & (PG_CHAN_PRIVATE | PG_CHAN_PRESENCE)) && ws_conn_authorize(c) < 0) {
        free(uid);
        free(info);
        return;
    }
    struct ws_sub *s = ws_chanidx_add(c->w->idx, c, app->idx, ch, clen, kind);
    if (!s) {
        free(uid);
        free(info);
        ws_conn_error(c, -1, "Server out of memory");
        return;
    }
    if (!(kind & PG_CHAN_PRESENCE)) {
        if (pg_registry_sub(srv->reg, app->idx, ch, clen, c->w->id) < 0) {
            ws_chanidx_remove(c->w->idx, c, s);
            ws_conn_error(c, -1, "Server out of memory");
            return;
        }
        succeeded(c, ch, clen, NULL);
        after_join(c, ch, clen, kind, false);
        return;
    }
    s->user_id = uid;
    s->ulen = ulen;
    struct pg_buf roster;
    pg_buf_init(&roster);
    rc = pg_registry_presence_join(srv->reg, app->idx, ch, clen, c->w->id, c->sid, uid, ulen, info,
                                   ilen, (long)app->max_presence_members_per_channel, &roster);
    free(info);
    if (rc < 0) {
        ws_chanidx_remove(c->w->idx, c, s); /* frees uid */
        if (rc == -ENOSPC) {
            full_error(c, ch, clen);
        } else {
            ws_conn_error(c, -1, "Server out of memory");
        }
    } else if (rc == PG_REGISTRY_DEFERRED) { /* the roster comes later: ws_presence_result */
        ws_gate_join_begin(s);
    } else {
        succeeded(c, ch, clen, roster.oom ? NULL : &roster);
        after_join(c, ch, clen, kind, false);
        if (rc == 1)
            pg_debug_mirror(srv, app->idx, "member_added", PG_DBG_C(ch), PG_DBG_S("user_id", uid),
                            PG_DBG_END);
    }
    pg_buf_dispose(&roster);
}

void ws_presence_result(struct ws_worker *w, int app, const char *ch, size_t clen, const char *sid,
                        struct pg_msg *m)
{
    struct ws_chan *k = ws_chanidx_find(w->idx, app, ch, clen);
    for (uint32_t i = 0; k && i < k->n; i++) {
        struct ws_conn *c = k->ent[i].conn;
        if (strcmp(c->sid, sid) != 0)
            continue;
        if (c->closing)
            return;
        struct ws_sub *s = &c->subs[k->ent[i].slot];
        if (!m) { /* refused cluster-wide: undo the local join (the script ignores the leave) */
            ws_gate_join_end(c, s, false);
            full_error(c, ch, clen);
            pg_registry_presence_leave(w->srv->reg, app, ch, clen, w->id, s->user_id, s->ulen);
            ws_chanidx_remove(w->idx, c, s); /* k may be gone now */
            return;
        }
        ws_conn_send(c, m);
        bool held = ws_gate_join_end(c, s, true);
        after_join(c, ch, clen, s->kind, held);
        return;
    }
}

static void leave(struct ws_conn *c, struct ws_sub *s)
{
    struct pg_server *srv = c->w->srv;
    struct ws_chan *k = s->ch;
    pg_debug_mirror(srv, k->app, "unsubscribed", PG_DBG_SID(c->sid), PG_DBG_C(k->name), PG_DBG_END);
    if (s->kind & PG_CHAN_PRESENCE) {
        if (pg_registry_presence_leave(srv->reg, k->app, k->name, k->len, c->w->id, s->user_id,
                                       s->ulen) == 1)
            pg_debug_mirror(srv, k->app, "member_removed", PG_DBG_C(k->name),
                            PG_DBG_S("user_id", s->user_id), PG_DBG_END);
    } else {
        long left = pg_registry_unsub(srv->reg, k->app, k->name, k->len, c->w->id);
        if (s->kind & PG_CHAN_USER)
            ws_user_left(c, k->name, k->len, left);
        else if (counted(c) && k->name[0] != '#' && left > 0)
            pg_registry_count_dirty(srv->reg, k->app, k->name, k->len);
    }
    ws_chanidx_remove(c->w->idx, c, s);
}

void ws_unsubscribe(struct ws_conn *c, json_object *data)
{
    json_object *jch = json_object_object_get(data, "channel");
    if (!json_object_is_type(data, json_type_object) ||
        !json_object_is_type(jch, json_type_string)) {
        ws_conn_error(c, -1, "pusher:unsubscribe requires data.channel");
        return;
    }
    const char *ch = json_object_get_string(jch);
    if (ch[0] == '#')
        return; /* server-side channels (#server-to-user-, #watch-) live as long as the sign-in */
    struct ws_sub *s =
        ws_chanidx_sub_of(c, c->app->idx, ch, (size_t)json_object_get_string_len(jch));
    if (s)
        leave(c, s);
}

void ws_unsubscribe_all(struct ws_conn *c)
{
    while (c->nsubs)
        leave(c, &c->subs[c->nsubs - 1]);
}
