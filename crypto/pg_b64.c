/* pg_b64.c - base64 over libsodium's constant-time codec. Thread: any (pure). */
#include "pg_b64.h"

#include <errno.h>
#include <sodium.h>

size_t pg_b64_encoded_len(size_t n)
{
    return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
}

void pg_b64_encode(const unsigned char *in, size_t n, char *out)
{
    sodium_bin2base64(out, pg_b64_encoded_len(n), in, n, sodium_base64_VARIANT_ORIGINAL);
}

int pg_b64_decode(const char *in, size_t inlen, unsigned char *out, size_t outmax, size_t *outlen)
{
    size_t binlen = 0;

    /* b64_end == NULL: libsodium fails unless every input char was consumed. */
    if (sodium_base642bin(out, outmax, in, inlen, NULL, &binlen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return -EINVAL;
    if (outlen)
        *outlen = binlen;
    return 0;
}
