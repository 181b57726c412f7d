/* pg_chan_auth.h - private / presence / encrypted channel subscription signatures (spec 6.1).
 * String to sign: "<socket_id>:<channel>" or "<socket_id>:<channel>:<channel_data>".
 * Thread: any (pure).
 */
#ifndef PG_CHAN_AUTH_H
#define PG_CHAN_AUTH_H

#include <stddef.h>

/* channel_data NULL: two-part string. Non-NULL (even with cdlen 0): three parts, signed exactly as
 * received. Writes 64 lowercase hex chars and a NUL. */
void pg_chan_auth_sign(const char *secret, size_t slen, const char *socket_id, size_t sidlen,
                       const char *channel, size_t clen, const char *channel_data, size_t cdlen,
                       char out_hex[65]);

/* Checks auth = "<app_key>:<hex>". Returns PG_AUTH_OK, PG_AUTH_MISSING (empty), PG_AUTH_MALFORMED
 * (no ':'), PG_AUTH_BAD_KEY (key part differs) or PG_AUTH_BAD_SIG (hex differs; compared in
 * constant time, case-insensitively). When expected_str is non-NULL the string to sign is written
 * there, NUL-terminated and truncated to explen - 1, for the "Invalid signature: Expected HMAC
 * SHA256 hex digest of <string>, but got <sig>" message. It never contains the secret. */
int pg_chan_auth_verify(const char *app_key, size_t klen, const char *secret, size_t slen,
                        const char *socket_id, size_t sidlen, const char *channel, size_t clen,
                        const char *channel_data, size_t cdlen, const char *auth, size_t alen,
                        char *expected_str, size_t explen);

#endif
