/* pg_e2e.c - channel keys and the {"nonce","ciphertext"} envelope (see pg_e2e.h).
 * Thread: any (pure). Callers: rest_events.c; tests/unit/test_e2e.c.
 */
#include "pg_e2e.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pg_b64.h"
#include "pg_rand.h"
#include "pg_sha256.h"

_Static_assert(PG_E2E_KEY_BYTES == crypto_secretbox_KEYBYTES, "secretbox key size");
_Static_assert(PG_E2E_NONCE_BYTES == crypto_secretbox_NONCEBYTES, "secretbox nonce size");

int pg_e2e_channel_key(const unsigned char master[32], const char *ch, size_t clen,
                       unsigned char key[32])
{
    struct pg_sha256 s;

    if (!master || !key || (!ch && clen))
        return -EINVAL;
    pg_sha256_init(&s);
    pg_sha256_update(&s, ch, clen);
    pg_sha256_update(&s, master, 32);
    pg_sha256_final(&s, key); /* also wipes the state, which has seen the master key */
    return 0;
}

int pg_e2e_encrypt(const unsigned char key[32], const unsigned char *nonce_or_null,
                   const char *plain, size_t plen, struct pg_buf *out)
{
    unsigned char nonce[PG_E2E_NONCE_BYTES];
    char nonce_b64[48];
    unsigned char *ct;
    char *ct_b64;
    size_t clen;

    if (!key || !out || (!plain && plen))
        return -EINVAL;
    if (plen > SIZE_MAX / 2 - crypto_secretbox_MACBYTES)
        return -EINVAL;
    if (nonce_or_null)
        memcpy(nonce, nonce_or_null, sizeof nonce);
    else
        pg_rand_buf(nonce, sizeof nonce);

    clen = plen + crypto_secretbox_MACBYTES;
    ct = malloc(clen);
    ct_b64 = malloc(pg_b64_encoded_len(clen));
    if (!ct || !ct_b64) {
        free(ct);
        free(ct_b64);
        return -ENOMEM;
    }
    crypto_secretbox_easy(ct, (const unsigned char *)plain, plen, nonce, key);
    pg_b64_encode(nonce, sizeof nonce, nonce_b64);
    pg_b64_encode(ct, clen, ct_b64);

    /* base64 needs no JSON escaping */
    pg_buf_puts(out, "{\"nonce\":\"");
    pg_buf_puts(out, nonce_b64);
    pg_buf_puts(out, "\",\"ciphertext\":\"");
    pg_buf_puts(out, ct_b64);
    pg_buf_puts(out, "\"}");
    free(ct);
    free(ct_b64);
    return out->oom ? -ENOMEM : 0;
}
