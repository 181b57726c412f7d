/* pg_e2e.h - gateway-side encryption for private-encrypted- channels (spec 6.3, 4.14).
 * When an app configures encryption_master_key_base64, a REST publish to a private-encrypted-
 * channel may carry plaintext: the gateway encrypts it exactly as the server libraries would
 * (pusher-http-node lib/events.js), so subscribers cannot tell the difference.
 * Thread: any (pure; keys live on the caller's stack and are wiped by the caller).
 */
#ifndef PG_E2E_H
#define PG_E2E_H

#include <stddef.h>

#include "pg_buf.h"

#define PG_E2E_KEY_BYTES 32   /* crypto_secretbox_KEYBYTES */
#define PG_E2E_NONCE_BYTES 24 /* crypto_secretbox_NONCEBYTES */

/* The channel's shared secret: SHA-256(channel name bytes || 32 master-key bytes), the same key
 * the channel authorizer hands to the client as shared_secret. Returns 0, or -EINVAL for a NULL
 * argument. The caller wipes key (sodium_memzero) when done. */
int pg_e2e_channel_key(const unsigned char master[32], const char *ch, size_t clen,
                       unsigned char key[32]);

/* Encrypts plen bytes of plain with XSalsa20-Poly1305 (crypto_secretbox_easy) under key and
 * appends the envelope {"nonce":"<base64>","ciphertext":"<base64>"} to out. nonce: 24 bytes, or
 * NULL for 24 fresh random bytes (always NULL outside tests). Returns 0, -EINVAL or -ENOMEM
 * (out->oom is also checked). Never writes the key or the plaintext anywhere else. */
int pg_e2e_encrypt(const unsigned char key[32], const unsigned char *nonce_or_null,
                   const char *plain, size_t plen, struct pg_buf *out);

#endif
