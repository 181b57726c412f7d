/* rest_terminate.c - POST /apps/{id}/users/{user_id}/terminate_connections (spec 9.9, 8.2).
 * Thread: pg-rest (called from rest_server.c after the signature check).
 * Touches: the registry (one mask read) and the bus.
 *
 * A signed-in socket is subscribed to the registry channel "#server-to-user-<user_id>", so the
 * workers holding the user's connections are that channel's mask. Each of them gets one
 * PG_BUS_TERMINATE item and closes every local socket signed in as the user with 4009. Sockets
 * that only joined presence channels under that user_id are not affected. The body ({} from
 * pusher-http-node) is covered by the signature and otherwise ignored.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "pg_bus.h"
#include "pg_log.h"
#include "pg_registry.h"
#include "rest_handlers.h"
#include "srv_redis.h"

#define USER_PREFIX "#server-to-user-"
#define USER_ID_MAX 128 /* spec 11: presence / user id length */

static bool user_id_ok(const char *id, size_t n)
{
    if (n == 0 || n > USER_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)id[i];
        if (ch < 0x20 || ch == 0x7f)
            return false;
    }
    return true;
}

int rest__terminate(const struct rest_call *c, struct pg_buf *out)
{
    char name[sizeof USER_PREFIX + USER_ID_MAX];
    size_t plen = sizeof USER_PREFIX - 1, len;
    int app = c->app->idx;

    if (!user_id_ok(c->chan, c->clen))
        return rest__error(out, 400, "Invalid user id (1 to 128 bytes, no control characters)");
    memcpy(name, USER_PREFIX, plen);
    memcpy(name + plen, c->chan, c->clen);
    len = plen + c->clen;
    name[len] = '\0';

    /* Cluster: the other nodes close their sockets of the user too. */
    if (c->srv->redis)
        srv_redis_publish(c->srv->redis, PG_CLUSTER_TERMINATE, c->app, name, len, NULL, NULL, 0);
    uint64_t mask = pg_registry_mask(c->srv->reg, app, name, len);
    for (unsigned w = 0; mask; w++, mask >>= 1) {
        if (!(mask & 1))
            continue;
        struct pg_bus_item *it = pg_bus_item_new(PG_BUS_TERMINATE, name, len);
        if (!it) {
            PG_LOG(PG_LOG_ERROR, "rest", "app %s: out of memory while terminating a user",
                   c->app->id);
            return rest__error(out, 500, "Out of memory");
        }
        it->app = app;
        if (pg_bus_push(c->srv->bus, w, it) == -ESHUTDOWN)
            return rest__error(out, 503, "Shutting down");
    }
    pg_buf_reset(out);
    pg_buf_put(out, "{}", 2);
    return 200;
}
