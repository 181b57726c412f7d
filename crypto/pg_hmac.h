/* pg_hmac.h - HMAC-SHA256 with a key of any length (libsodium), one-shot and streaming.
 * Thread: any (pure; a struct pg_hmac belongs to whoever embeds it).
 * sodium_init() must have been called (main does it).
 */
#ifndef PG_HMAC_H
#define PG_HMAC_H

#include <stddef.h>
#include <sodium.h>

/* Streaming state; embed it, init, update any number of times, final once. */
struct pg_hmac {
    crypto_auth_hmacsha256_state st;
};

void pg_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
                    unsigned char out[32]);
/* Lowercase hex of the MAC, NUL-terminated. */
void pg_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t len, char out[65]);

void pg_hmac_init(struct pg_hmac *h, const void *key, size_t keylen);
void pg_hmac_update(struct pg_hmac *h, const void *p, size_t n);
/* Writes the lowercase hex MAC and wipes the state. */
void pg_hmac_final_hex(struct pg_hmac *h, char out[65]);

#endif
