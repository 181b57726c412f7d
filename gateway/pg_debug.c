/* pg_debug.c - mirrors an app's activity into its "#debug" channel for the debug console.
 * Thread: any. Callers: rest_events.c (REST thread), ws_proto.c and ws_subscribe.c (workers).
 * Touches: the registry (one mask lookup), the bus (bound check, publish); nothing is kept here.
 */
#include "pg_debug.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "pg_buf.h"
#include "pg_frame.h"
#include "pg_server.h"
#include "pg_trigger.h"

size_t pg_debug__cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t k = max;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) /* s[k] continues a sequence */
        k--;
    return k;
}

/* Workers holding a console of app, or 0: the common case costs one flag read. */
static uint64_t watchers(struct pg_server *srv, int app)
{
    if (!srv->cfg->debug_console)
        return 0;
    return pg_registry_mask(srv->reg, app, PG_DEBUG_CHANNEL, PG_DEBUG_CHANNEL_LEN);
}

static void put_head(struct pg_buf *b, const char *type)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pg_buf_puts(b, "{\"type\":");
    pg_buf_json_str(b, type, strlen(type));
    pg_buf_printf(b, ",\"time\":%lld", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void put_str(struct pg_buf *b, const char *key, const char *v, size_t n)
{
    pg_buf_put(b, ",", 1);
    pg_buf_json_str(b, key, strlen(key));
    pg_buf_put(b, ":", 1);
    pg_buf_json_str(b, v, n);
}

static void put_data(struct pg_buf *b, const char *key, const char *v, size_t n)
{
    size_t k = pg_debug__cut(v, n, PG_DEBUG_DATA_MAX);
    put_str(b, key, v, k);
    if (k < n)
        pg_buf_printf(b, ",\"truncated\":true,\"size\":%zu", n);
}

/* Sends the finished object in b to the consoles on the workers in mask. Best effort: an inbox
 * over its bound gets nothing (the app's own traffic must not wait behind the console). */
static void publish(struct pg_server *srv, int app, uint64_t mask, struct pg_buf *b)
{
    pg_buf_put(b, "}", 1);
    if (b->oom || pg_bus_check(srv->bus, mask) < 0)
        return;
    struct pg_msg *m =
        pg_frame_str(PG_DEBUG_EVENT, PG_DEBUG_CHANNEL, PG_DEBUG_CHANNEL_LEN, b->p, b->len);
    if (m)
        pg_bus_publish(srv->bus, mask, app, PG_DEBUG_CHANNEL, PG_DEBUG_CHANNEL_LEN, m, NULL);
}

void pg_debug_mirror(struct pg_server *srv, int app, const char *type, ...)
{
    uint64_t mask = watchers(srv, app);
    if (!mask)
        return;
    struct pg_buf b;
    bool skip = false;
    va_list ap;
    pg_buf_init(&b);
    put_head(&b, type);
    va_start(ap, type);
    for (int tag; !skip && (tag = va_arg(ap, int)) != PG_DBG_END;) {
        const char *k = tag == PG_DBG_CHAN ? "channel" : va_arg(ap, const char *);
        const char *v = va_arg(ap, const char *);
        size_t n = tag == PG_DBG_DATA ? va_arg(ap, size_t) : v ? strlen(v) : 0;
        if (tag == PG_DBG_CHAN && (!v || v[0] == '#'))
            skip = true; /* internal channels, the console's own included, are not the app's */
        else if (tag == PG_DBG_DATA && v)
            put_data(&b, k, v, n);
        else if (v)
            put_str(&b, k, v, n);
    }
    va_end(ap);
    if (!skip)
        publish(srv, app, mask, &b);
    pg_buf_dispose(&b);
}

void pg_debug_trigger(struct pg_server *srv, int app, const struct pg_trigger *t)
{
    uint64_t mask = watchers(srv, app);
    if (!mask)
        return;
    struct pg_buf b;
    pg_buf_init(&b);
    for (size_t i = 0; i < t->nev; i++) {
        const struct pg_trigger_event *ev = &t->ev[i];
        size_t shown = 0;
        pg_buf_reset(&b);
        put_head(&b, "api_message");
        put_str(&b, "event", ev->name, ev->nlen);
        pg_buf_puts(&b, ",\"channels\":[");
        for (size_t k = 0; k < ev->nchan; k++) {
            if (ev->chans[k].name[0] == '#')
                continue;
            if (shown++)
                pg_buf_put(&b, ",", 1);
            pg_buf_json_str(&b, ev->chans[k].name, ev->chans[k].len);
        }
        pg_buf_put(&b, "]", 1);
        if (!shown)
            continue;
        /* The gateway holds the master key, the console only the app secret: plaintext that the
         * gateway encrypts for private-encrypted- channels stays hidden. */
        if (ev->encrypt)
            pg_buf_puts(&b, ",\"data\":\"(encrypted by the gateway; not shown)\"");
        else
            put_data(&b, "data", ev->data, ev->dlen);
        if (ev->socket_id)
            put_str(&b, "socket_id", ev->socket_id, ev->slen);
        publish(srv, app, mask, &b);
    }
    pg_buf_dispose(&b);
}
