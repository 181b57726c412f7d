/* pg_user_auth.h - pusher:signin signatures (spec 4.10, 6.1).
 * String to sign: "<socket_id>::user::<user_data>".
 * Thread: any (pure).
 */
#ifndef PG_USER_AUTH_H
#define PG_USER_AUTH_H

#include <stddef.h>

/* Writes 64 lowercase hex chars and a NUL; user_data is signed exactly as received. */
void pg_user_auth_sign(const char *secret, size_t slen, const char *socket_id, size_t sidlen,
                       const char *user_data, size_t udlen, char out_hex[65]);

/* Checks auth = "<app_key>:<hex>". Returns PG_AUTH_OK, PG_AUTH_MISSING (empty), PG_AUTH_MALFORMED
 * (no ':'), PG_AUTH_BAD_KEY or PG_AUTH_BAD_SIG (constant-time, case-insensitive hex compare). */
int pg_user_auth_verify(const char *app_key, size_t klen, const char *secret, size_t slen,
                        const char *socket_id, size_t sidlen, const char *user_data, size_t udlen,
                        const char *auth, size_t alen);

#endif
