/* pg_sha256.c - SHA-256 wrappers over libsodium. Thread: any (pure). */
#include "pg_sha256.h"

void pg_sha256(const void *p, size_t n, unsigned char out[32]) { crypto_hash_sha256(out, p, n); }

void pg_sha256_init(struct pg_sha256 *s) { crypto_hash_sha256_init(&s->st); }

void pg_sha256_update(struct pg_sha256 *s, const void *p, size_t n)
{
    if (n > 0)
        crypto_hash_sha256_update(&s->st, p, n);
}

void pg_sha256_final(struct pg_sha256 *s, unsigned char out[32])
{
    crypto_hash_sha256_final(&s->st, out);
    sodium_memzero(&s->st, sizeof s->st);
}
