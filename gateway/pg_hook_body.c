/* pg_hook_body.c - webhook event objects and request bodies (spec 10.1, 10.2).
 * Thread: any (pure); called by pg-hook when it forms a batch, and by the unit test.
 */
#include "pg_hooks_int.h"

#include <inttypes.h>
#include <string.h>

static const char *const type_names[PG_HOOK__COUNT] = {
    [PG_HOOK_CHANNEL_OCCUPIED] = "channel_occupied",
    [PG_HOOK_CHANNEL_VACATED] = "channel_vacated",
    [PG_HOOK_MEMBER_ADDED] = "member_added",
    [PG_HOOK_MEMBER_REMOVED] = "member_removed",
    [PG_HOOK_CLIENT_EVENT] = "client_event",
    [PG_HOOK_CACHE_MISS] = "cache_miss",
    [PG_HOOK_SUBSCRIPTION_COUNT] = "subscription_count",
};

const char *pg_hook__type_name(enum pg_hook_type t)
{
    return (unsigned)t < PG_HOOK__COUNT ? type_names[t] : NULL;
}

/* True when s is exactly one JSON string literal (as json-c serializes a string value). */
static bool is_str_literal(const char *s, size_t n)
{
    if (n < 2 || s[0] != '"' || s[n - 1] != '"')
        return false;
    for (size_t i = 1; i < n - 1; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"')
            return false;
        if (c == '\\' && ++i >= n - 1)
            return false; /* the escape would swallow the closing quote */
    }
    return true;
}

void pg_hook__event_json(struct pg_buf *b, const struct pg_hook_rec *r)
{
    pg_buf_puts(b, "{\"name\":\"");
    pg_buf_puts(b, type_names[r->type]);
    pg_buf_puts(b, "\",\"channel\":");
    pg_buf_json_str(b, r->ch, r->clen);
    switch (r->type) {
    case PG_HOOK_MEMBER_ADDED:
    case PG_HOOK_MEMBER_REMOVED:
        pg_buf_puts(b, ",\"user_id\":");
        pg_buf_json_str(b, r->uid ? r->uid : "", r->ulen);
        break;
    case PG_HOOK_CLIENT_EVENT:
        pg_buf_puts(b, ",\"event\":");
        pg_buf_json_str(b, r->ev ? r->ev : "", r->elen);
        /* data is a string (spec 10.3): a string the client sent is that string, any other value
         * its JSON text. A JSON string literal already is the wanted value, escaped. */
        pg_buf_puts(b, ",\"data\":");
        if (r->data && is_str_literal(r->data, r->dlen))
            pg_buf_put(b, r->data, r->dlen);
        else if (r->data)
            pg_buf_json_str(b, r->data, r->dlen);
        else
            pg_buf_puts(b, "\"null\"");
        if (r->sid) {
            pg_buf_puts(b, ",\"socket_id\":");
            pg_buf_json_str(b, r->sid, strlen(r->sid));
        }
        if (r->uid) {
            pg_buf_puts(b, ",\"user_id\":");
            pg_buf_json_str(b, r->uid, r->ulen);
        }
        break;
    case PG_HOOK_SUBSCRIPTION_COUNT:
        pg_buf_printf(b, ",\"subscription_count\":%ld", r->count);
        break;
    default:
        break;
    }
    pg_buf_put(b, "}", 1);
}

void pg_hook__body(struct pg_buf *b, struct pg_hook_rec *const *recs, size_t n)
{
    pg_buf_reset(b);
    pg_buf_printf(b, "{\"time_ms\":%" PRId64 ",\"events\":[", n ? recs[0]->time_ms : 0);
    for (size_t i = 0; i < n; i++) {
        if (i)
            pg_buf_put(b, ",", 1);
        pg_hook__event_json(b, recs[i]);
    }
    pg_buf_puts(b, "]}");
}
