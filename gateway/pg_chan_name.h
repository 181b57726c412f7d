/* pg_chan_name.h - channel kinds by prefix (spec 5.1) and channel / event name rules (spec 5.2).
 * Thread: any (pure, no dependencies).
 */
#ifndef PG_CHAN_NAME_H
#define PG_CHAN_NAME_H

#include <stddef.h>

/* Flags returned by pg_chan_classify; PG_CHAN_ENCRYPTED always comes with PG_CHAN_PRIVATE. */
enum {
    PG_CHAN_PUBLIC = 0,
    PG_CHAN_PRIVATE = 1,
    PG_CHAN_PRESENCE = 2,
    PG_CHAN_ENCRYPTED = 4,
    PG_CHAN_CACHE = 8,
    PG_CHAN_USER = 16,
};

/* Kind from the prefix anchored at the start of the name, tested in the order of spec 5.1. */
unsigned pg_chan_classify(const char *name, size_t len);
/* 0 when the name is allowed: non-empty, only [A-Za-z0-9_\-=@,.;], or "#server-to-user-" followed
 * by a non-empty rest of those chars. -EINVAL otherwise; -ENAMETOOLONG when maxlen >= 0 and
 * len > maxlen. */
int pg_chan_name_check(const char *name, size_t len, long maxlen);
/* 0 when the event name is non-empty and at most maxlen (maxlen < 0: no limit); -EINVAL empty,
 * -ENAMETOOLONG too long. Reserved pusher: prefixes are the caller's business. */
int pg_event_name_check(const char *name, size_t len, long maxlen);
/* For "#server-to-user-<id>" with a non-empty id: pointer to the id inside name, *idlen set.
 * Otherwise NULL. */
const char *pg_chan_user_id(const char *name, size_t len, size_t *idlen);

#endif
