/* srv_reload.h - SIGHUP: reload the app list without dropping connections of apps that stay.
 * Thread: pg-main only.
 * The new file is loaded completely first; a bad file changes nothing. Settings that need new
 * sockets or threads (host, port, api_port, workers, tls, webhook_*) must not change: such a
 * reload is refused with a message; so is one that changes an app's webhooks or adds an app with
 * webhooks (the webhook thread's endpoints are fixed at start). Apps keep their index, which is
 * their position in the app array, by id (per-app state survives); a removed app leaves a
 * placeholder at its position; new apps follow. Each worker then rebinds its connections:
 * connections of removed apps are closed with 4001, of disabled apps with 4003. Older
 * configurations stay allocated until srv_reload_dispose(), since connections and requests in
 * flight may still point into them.
 */
#ifndef SRV_RELOAD_H
#define SRV_RELOAD_H

#include <stddef.h>

#include "pg_server.h"

int srv_reload(struct pg_server *srv, const char *path, char *err, size_t errlen);
/* Frees every configuration srv_reload allocated (call after all threads are joined). */
void srv_reload_dispose(void);

#endif
