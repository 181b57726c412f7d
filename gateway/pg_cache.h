/* pg_cache.h - the last event of each cache channel (cache-, private-cache-,
 * private-encrypted-cache-, presence-cache-), kept for the app's cache_ttl_seconds.
 * Guarded by: striped mutexes; the REST thread writes, workers read on subscribe.
 * Thread: any.
 */
#ifndef PG_CACHE_H
#define PG_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "pg_buf.h"
#include "pg_msg.h"

struct pg_cache;

struct pg_cache *pg_cache_create(void);
void pg_cache_destroy(struct pg_cache *c); /* NULL: no-op */

/* Remembers the event frame (its bytes are copied) and its data string for (app, ch) until
 * now_ms + ttl_ms, replacing what was there. Returns 0 or -ENOMEM. */
int pg_cache_put(struct pg_cache *c, int app, const char *ch, size_t len,
                 const struct pg_msg *frame, const char *data, size_t dlen, int64_t now_ms,
                 int64_t ttl_ms);

/* A new message (refs = 1, caller owns) holding the cached frame, or NULL on a miss or expiry. */
struct pg_msg *pg_cache_get(struct pg_cache *c, int app, const char *ch, size_t len,
                            int64_t now_ms);

/* For GET /channels/{name}?info=cache: appends {"data":"<data>","ttl":<seconds left>} to out
 * and returns 0, or returns -ENOENT (nothing cached) and writes nothing. */
int pg_cache_info(struct pg_cache *c, int app, const char *ch, size_t len, int64_t now_ms,
                  struct pg_buf *out);

/* Drops expired entries; returns how many. */
size_t pg_cache_purge(struct pg_cache *c, int64_t now_ms);

#endif
