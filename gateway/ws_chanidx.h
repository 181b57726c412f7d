/* ws_chanidx.h - a worker's own channel index: (app, channel) -> its local subscribers.
 * Owned by: one ws worker thread; nobody else reads it. Removal is O(1) per subscription: each
 * entry knows its slot in the connection's subscription array and each subscription knows its
 * position in the channel's entry array, so both sides swap-remove.
 */
#ifndef WS_CHANIDX_H
#define WS_CHANIDX_H

#include <stddef.h>
#include <stdint.h>

#include "ws_conn.h"

struct ws_chan_ent {
    struct ws_conn *conn;
    uint32_t slot; /* index in conn->subs */
};

struct ws_chan {
    struct ws_chan *next;
    uint64_t hash;
    int app;
    size_t len;
    struct ws_chan_ent *ent;
    uint32_t n, cap;
    uint32_t gated; /* entries whose subscription has a gate (ws_conn.h) */
    char name[];
};

struct ws_chanidx;

struct ws_chanidx *ws_chanidx_create(void);
void ws_chanidx_destroy(struct ws_chanidx *ix); /* NULL: no-op; connections must be gone */

struct ws_chan *ws_chanidx_find(struct ws_chanidx *ix, int app, const char *ch, size_t len);
/* Returns the connection's subscription for (app, ch), or NULL. */
struct ws_sub *ws_chanidx_sub_of(struct ws_conn *c, int app, const char *ch, size_t len);
/* Adds c to (app, ch). Returns the new subscription (owned by c->subs) or NULL on ENOMEM. */
struct ws_sub *ws_chanidx_add(struct ws_chanidx *ix, struct ws_conn *c, int app, const char *ch,
                              size_t len, unsigned kind);
/* Removes subscription s of c (s points into c->subs; it is invalid afterwards). */
void ws_chanidx_remove(struct ws_chanidx *ix, struct ws_conn *c, struct ws_sub *s);
size_t ws_chanidx_count(const struct ws_chanidx *ix);

/* Sets s's gate (enum ws_gate), keeping s->ch->gated right. */
void ws_chanidx_gate(struct ws_sub *s, uint8_t gate);

#endif
