/* pg_server.h - what the threads of one gateway process share.
 * Owner: main (created before the threads start, destroyed after they are joined).
 * Immutable after start except the atomics.
 */
#ifndef PG_SERVER_H
#define PG_SERVER_H

#include <stdatomic.h>
#include <stdint.h>

#include "pg_bus.h"
#include "pg_config.h"
#include "pg_registry.h"

struct pg_server {
    const struct pg_config *cfg;
    struct pg_registry *reg;
    struct pg_bus *bus;
    unsigned nworkers;
    uint32_t node_tag;            /* first half of every socket id */
    atomic_uint_fast64_t sid_seq; /* second half */
    atomic_int stopping;          /* set once by main on SIGTERM/SIGINT */
    atomic_long conns;            /* open WebSocket connections, all apps */
    atomic_long *app_conns;       /* per app (cfg->n_apps) */
};

#endif
