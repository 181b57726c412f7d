/* pg_hook_sign.c - webhook body signature (spec 10.1). Thread: any (pure). */
#include "pg_hook_sign.h"

#include "pg_hmac.h"

void pg_hook_sign(const char *secret, size_t slen, const void *body, size_t blen, char out_hex[65])
{
    pg_hmac_sha256_hex(secret, slen, body, blen, out_hex);
}
