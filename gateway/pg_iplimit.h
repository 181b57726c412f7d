/* pg_iplimit.h - per-client-IP abuse limits on WebSocket connections: open connections per IP
 * and new connections per IP per second (token bucket), as the hosted service has.
 * Guarded by: one mutex (a connect or close costs one short critical section). Thread: any.
 */
#ifndef PG_IPLIMIT_H
#define PG_IPLIMIT_H

#include <stddef.h>
#include <stdint.h>

struct pg_iplimit;

/* max_conns / max_per_sec: -1 = unlimited. */
struct pg_iplimit *pg_iplimit_create(int64_t max_conns, int64_t max_per_sec);
void pg_iplimit_destroy(struct pg_iplimit *l); /* NULL: no-op */

/* A new connection from ip. Returns 0 (counted: call pg_iplimit_leave on close), -EMFILE when
 * the IP already holds max_conns, or -EAGAIN when it opened max_per_sec in the last second. */
int pg_iplimit_enter(struct pg_iplimit *l, const char *ip, int64_t now_ms);
void pg_iplimit_leave(struct pg_iplimit *l, const char *ip);
/* Forgets idle IPs (no connection, bucket refilled). Returns how many were dropped. */
size_t pg_iplimit_purge(struct pg_iplimit *l, int64_t now_ms);
/* Number of IPs tracked (tests, metrics). */
size_t pg_iplimit_size(struct pg_iplimit *l);

#endif
