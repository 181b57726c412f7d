/* pg_hmac.c - HMAC-SHA256 over libsodium's init/update/final, which hashes keys longer than a
 * block as RFC 2104 says (the one-shot crypto_auth_hmacsha256 wants exactly 32 key bytes, and app
 * secrets are 20 bytes).
 * Thread: any (pure).
 */
#include "pg_hmac.h"
#include "pg_hex.h"

void pg_hmac_init(struct pg_hmac *h, const void *key, size_t keylen)
{
    crypto_auth_hmacsha256_init(&h->st, key, keylen);
}

void pg_hmac_update(struct pg_hmac *h, const void *p, size_t n)
{
    if (n > 0)
        crypto_auth_hmacsha256_update(&h->st, p, n);
}

void pg_hmac_final_hex(struct pg_hmac *h, char out[65])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];

    crypto_auth_hmacsha256_final(&h->st, mac);
    pg_hex_encode(mac, sizeof mac, out);
    sodium_memzero(mac, sizeof mac);
    sodium_memzero(&h->st, sizeof h->st);
}

void pg_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
                    unsigned char out[32])
{
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, key, keylen);
    if (len > 0)
        crypto_auth_hmacsha256_update(&st, msg, len);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof st);
}

void pg_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t len, char out[65])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];

    pg_hmac_sha256(key, keylen, msg, len, mac);
    pg_hex_encode(mac, sizeof mac, out);
    sodium_memzero(mac, sizeof mac);
}
