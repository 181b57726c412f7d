/* pg_trigger.h - parses and validates REST trigger bodies (spec 9.3 /events, 9.4 /batch_events).
 * Thread: any (pure; no I/O, no MHD). Called by rest_events.c; unit tested in test_trigger.c.
 *
 * Everything is checked before anything is published: a body that parses here is fully valid for
 * the app's limits, so the caller can deliver every event without further checks, and a body that
 * fails delivers nothing (one bad batch item fails the whole batch).
 */
#ifndef PG_TRIGGER_H
#define PG_TRIGGER_H

#include <stdbool.h>
#include <stddef.h>

#include "pg_config.h"

struct json_object;

/* One target channel; name is NUL-terminated and borrowed from the owning pg_trigger. */
struct pg_trigger_chan {
    const char *name;
    size_t len;
    unsigned kind; /* pg_chan_classify() bits (PG_CHAN_PRESENCE, PG_CHAN_ENCRYPTED, ...) */
};

/* One event to publish. Every pointer is borrowed from the owning pg_trigger and NUL-terminated
 * (data may also contain NUL bytes: always use dlen). */
struct pg_trigger_event {
    const char *name; /* event name, no NUL bytes inside */
    size_t nlen;
    const char *data; /* the REST "data" string byte for byte, or a non-string value serialized */
    size_t dlen;
    struct pg_trigger_chan *chans; /* distinct names, in request order (duplicates dropped) */
    size_t nchan;
    const char *socket_id; /* NULL when absent; else matches ^\d+\.\d+$ */
    size_t slen;
    bool info_users; /* "info" asked for user_count (some channel is then presence; report it
                      * for presence channels only) */
    bool info_subs;  /* "info" asked for subscription_count */
    bool encrypt;    /* data is plaintext for a private-encrypted- channel of an app with an
                      * encryption master key: the publisher encrypts it per channel (spec 6.3) */
};

/* Owner: the caller (embed it; pg_trigger_dispose frees what parse allocated). */
struct pg_trigger {
    struct pg_trigger_event *ev; /* nev events: 1 for /events, 1..max_event_batch_size for batch */
    size_t nev;
    bool batch;    /* parsed as {"batch":[...]} */
    bool any_info; /* some event has info_users or info_subs */
    /* private */
    struct json_object *_root;      /* owns every string the events point to */
    struct pg_trigger_chan *_chans; /* one array for all events' channels */
};

/* Parses body (len bytes, not NUL-terminated) as a /events body (batch false) or a /batch_events
 * body (batch true) against app's limits (PG_UNLIMITED = no limit). Returns:
 *   0        t is filled; release it with pg_trigger_dispose;
 *   -EINVAL  the request is invalid (HTTP 400);
 *   -ENAMETOOLONG an event or channel name is over max_event_name_length /
 *            max_channel_name_length (HTTP 400; counted as PG_LIMIT_NAMES);
 *   -E2BIG   more channels than max_event_channels_at_once, or more batch items than
 *            max_event_batch_size (HTTP 400; counted as PG_LIMIT_BATCH);
 *   -EMSGSIZE an event's data is over max_event_payload_in_kb (HTTP 413);
 *   -ENOMEM.
 * On failure err receives a short message naming what is wrong (batch items are named
 * "batch[i]: ..."), and t is left zeroed. The encrypted-payload error never echoes the data.
 *
 * private-encrypted- channels: data that is a valid {"nonce","ciphertext"} envelope is relayed
 * untouched. Other data is refused (400) unless the app has an encryption master key: then the
 * event is accepted with encrypt set. A multi-channel event naming an encrypted channel is
 * always refused. */
int pg_trigger_parse(struct pg_trigger *t, const struct pg_app *app, const char *body, size_t len,
                     bool batch, char *err, size_t errlen);
void pg_trigger_dispose(struct pg_trigger *t); /* zeroed: no-op */

/* Parses an "info" attribute list (len bytes): comma-separated words user_count and
 * subscription_count; empty items are skipped. Returns 0, or -EINVAL naming the unknown word in
 * err. Shared with the GET /channels handlers. */
int pg_trigger_info_parse(const char *s, size_t len, bool *users, bool *subs, char *err,
                          size_t errlen);

/* Attribute bits of an "info" list. */
enum {
    PG_INFO_USER_COUNT = 1,
    PG_INFO_SUBSCRIPTION_COUNT = 2,
    PG_INFO_CACHE = 4, /* GET /channels/{name} only (spec 9.6) */
};
/* The same with a choice of words: allowed is a set of PG_INFO_* bits; *out receives the bits
 * named. A word outside allowed is unknown (-EINVAL, *out = 0). */
int pg_trigger_info_flags(const char *s, size_t len, unsigned allowed, unsigned *out, char *err,
                          size_t errlen);

#endif
