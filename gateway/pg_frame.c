/* pg_frame.c - frame writer. Thread: any. */
#include "pg_frame.h"

#include <string.h>

#include "pg_buf.h"

static struct pg_msg *finish(struct pg_buf *b)
{
    struct pg_msg *m = b->oom ? NULL : pg_msg_from(b->p, b->len);
    pg_buf_dispose(b);
    return m;
}

static void head(struct pg_buf *b, const char *event, const char *channel, size_t clen)
{
    pg_buf_put(b, "{\"event\":", 9);
    pg_buf_json_str(b, event, strlen(event));
    if (channel) {
        pg_buf_put(b, ",\"channel\":", 11);
        pg_buf_json_str(b, channel, clen);
    }
    pg_buf_put(b, ",\"data\":", 8);
}

struct pg_msg *pg_frame_raw(const char *event, const char *channel, size_t clen,
                            const char *data_json, size_t dlen, const char *user_id, size_t ulen)
{
    struct pg_buf b;
    pg_buf_init(&b);
    head(&b, event, channel, clen);
    pg_buf_put(&b, data_json, dlen);
    if (user_id) {
        pg_buf_put(&b, ",\"user_id\":", 11);
        pg_buf_json_str(&b, user_id, ulen);
    }
    pg_buf_put(&b, "}", 1);
    return finish(&b);
}

struct pg_msg *pg_frame_str(const char *event, const char *channel, size_t clen, const char *data,
                            size_t dlen)
{
    struct pg_buf b;
    pg_buf_init(&b);
    head(&b, event, channel, clen);
    pg_buf_json_str(&b, data, dlen);
    pg_buf_put(&b, "}", 1);
    return finish(&b);
}

struct pg_msg *pg_frame_error(int code, const char *message)
{
    struct pg_buf b;
    pg_buf_init(&b);
    head(&b, "pusher:error", NULL, 0);
    if (code < 0)
        pg_buf_puts(&b, "{\"code\":null,\"message\":");
    else
        pg_buf_printf(&b, "{\"code\":%d,\"message\":", code);
    pg_buf_json_str(&b, message, strlen(message));
    pg_buf_put(&b, "}}", 2);
    return finish(&b);
}

struct pg_msg *pg_frame_watch(const char *id, size_t idlen, int online)
{
    struct pg_buf d;
    pg_buf_init(&d);
    pg_buf_printf(&d, "{\"events\":[{\"name\":\"%s\",\"user_ids\":[",
                  online ? "online" : "offline");
    pg_buf_json_str(&d, id, idlen);
    pg_buf_puts(&d, "]}]}");
    struct pg_msg *m =
        d.oom ? NULL : pg_frame_str("pusher_internal:watchlist_events", NULL, 0, d.p, d.len);
    pg_buf_dispose(&d);
    return m;
}
