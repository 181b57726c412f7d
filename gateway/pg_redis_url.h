/* pg_redis_url.h - parses the redis_url option: redis://[[user]:password@]host[:port][/db].
 * Thread: any (pure). The configuration checks the URL with it at load time; srv_redis.c parses
 * it again to connect.
 *
 * host is a name, an IPv4 address or an IPv6 address in brackets ([::1]); port defaults to 6379,
 * db to 0. user and password may be percent-encoded (%40 for '@'); a user needs Redis 6 ACLs.
 * rediss:// (TLS) and unix:// are refused: Debian's hiredis 0.14 has neither TLS nor a reason
 * to hide a socket path in a URL.
 */
#ifndef PG_REDIS_URL_H
#define PG_REDIS_URL_H

#include <stddef.h>

struct pg_redis_url {
    char host[256];
    int port;           /* 6379 */
    int db;             /* 0 */
    char user[128];     /* "": none (AUTH password) */
    char password[512]; /* "": no AUTH; a secret, never logged */
};

/* Fills u from s. Returns 0, or -EINVAL with a reason in err ("port must be 1 to 65535"). The
 * reason never quotes the URL, which may hold the password. */
int pg_redis_url_parse(struct pg_redis_url *u, const char *s, char *err, size_t errlen);

/* Wipes the password. */
void pg_redis_url_dispose(struct pg_redis_url *u);

#endif
