/* ws_accept.h - the WebSocket listener: one thread blocked in accept4(), handing each new socket
 * to the least-loaded worker through its bus inbox (the worker adopts it into its lws context).
 * Owned by: main. The thread touches only the listen socket and reads workers' atomic loads.
 */
#ifndef WS_ACCEPT_H
#define WS_ACCEPT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "pg_server.h"
#include "ws_worker.h"

struct ws_acceptor {
    int fd;
    pthread_t thread;
    bool started;
    struct pg_server *srv;
    struct ws_worker *workers;
    unsigned next; /* round-robin start among equally loaded workers */
};

/* Binds and listens on cfg->host:cfg->port. */
int ws_accept_open(struct ws_acceptor *a, struct pg_server *srv, struct ws_worker *workers,
                   char *err, size_t errlen);
int ws_accept_start(struct ws_acceptor *a);
/* Shuts the listen socket (waking accept4) and joins the thread. */
void ws_accept_stop(struct ws_acceptor *a);

#endif
