/* pg_sha256.h - plain SHA-256 (libsodium), one-shot and streaming. Used for the encrypted-channel
 * shared secret: SHA-256(channel name || master key).
 * Thread: any (pure; a struct pg_sha256 belongs to whoever embeds it).
 */
#ifndef PG_SHA256_H
#define PG_SHA256_H

#include <stddef.h>
#include <sodium.h>

struct pg_sha256 {
    crypto_hash_sha256_state st;
};

void pg_sha256(const void *p, size_t n, unsigned char out[32]);

void pg_sha256_init(struct pg_sha256 *s);
void pg_sha256_update(struct pg_sha256 *s, const void *p, size_t n);
/* Writes the 32-byte digest and wipes the state. */
void pg_sha256_final(struct pg_sha256 *s, unsigned char out[32]);

#endif
