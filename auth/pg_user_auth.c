/* pg_user_auth.c - user sign-in signatures. Thread: any (pure). */
#include "pg_user_auth.h"
#include "pg_auth.h"

#include <string.h>

#include "pg_ct.h"
#include "pg_hmac.h"

void pg_user_auth_sign(const char *secret, size_t slen, const char *socket_id, size_t sidlen,
                       const char *user_data, size_t udlen, char out_hex[65])
{
    struct pg_hmac h;

    pg_hmac_init(&h, secret, slen);
    pg_hmac_update(&h, socket_id, sidlen);
    pg_hmac_update(&h, "::user::", 8);
    pg_hmac_update(&h, user_data, udlen);
    pg_hmac_final_hex(&h, out_hex);
}

int pg_user_auth_verify(const char *app_key, size_t klen, const char *secret, size_t slen,
                        const char *socket_id, size_t sidlen, const char *user_data, size_t udlen,
                        const char *auth, size_t alen)
{
    char want[65];
    const char *colon;
    int ok;

    if (!auth || alen == 0)
        return PG_AUTH_MISSING;
    colon = memchr(auth, ':', alen);
    if (!colon)
        return PG_AUTH_MALFORMED;
    if (!pg_ct_eq(auth, (size_t)(colon - auth), app_key, klen))
        return PG_AUTH_BAD_KEY;

    pg_user_auth_sign(secret, slen, socket_id, sidlen, user_data, udlen, want);
    ok = pg_ct_hex_eq(colon + 1, alen - (size_t)(colon - auth) - 1, want, 64);
    sodium_memzero(want, sizeof want);
    return ok ? PG_AUTH_OK : PG_AUTH_BAD_SIG;
}
