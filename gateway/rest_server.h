/* rest_server.h - the Pusher HTTP API (spec 9) on libmicrohttpd.
 * Thread: create / quiesce / destroy from pg-main; requests run on MHD's one internal epoll
 * thread (pg-rest). Owner: main.
 */
#ifndef REST_SERVER_H
#define REST_SERVER_H

#include <stddef.h>

struct pg_server;
struct rest_server;

/* Starts the API on srv->cfg->host:srv->cfg->api_port (host: an IPv4 or IPv6 literal). srv must
 * outlive the rest_server. Returns NULL and writes one line into err on failure (bad host, port in
 * use, ...). Caller frees with rest_server_destroy. */
struct rest_server *rest_server_create(struct pg_server *srv, char *err, size_t errlen);

/* Stops accepting new connections (MHD_quiesce_daemon; the listen socket is closed). Requests on
 * open connections still complete. Idempotent; NULL: no-op. */
void rest_server_quiesce(struct rest_server *rs);

/* Stops the MHD thread, closes every connection and frees rs. NULL: no-op. */
void rest_server_destroy(struct rest_server *rs);

#endif
