/* pg_chan_auth.c - channel subscription signatures. Thread: any (pure). */
#include "pg_chan_auth.h"
#include "pg_auth.h"

#include <string.h>

#include "pg_ct.h"
#include "pg_hmac.h"

void pg_chan_auth_sign(const char *secret, size_t slen, const char *socket_id, size_t sidlen,
                       const char *channel, size_t clen, const char *channel_data, size_t cdlen,
                       char out_hex[65])
{
    struct pg_hmac h;

    pg_hmac_init(&h, secret, slen);
    pg_hmac_update(&h, socket_id, sidlen);
    pg_hmac_update(&h, ":", 1);
    pg_hmac_update(&h, channel, clen);
    if (channel_data) {
        pg_hmac_update(&h, ":", 1);
        pg_hmac_update(&h, channel_data, cdlen);
    }
    pg_hmac_final_hex(&h, out_hex);
}

/* Appends p[0..n) to out at *pos, keeping room for the NUL; silently truncates. */
static void put(char *out, size_t outlen, size_t *pos, const char *p, size_t n)
{
    size_t room = outlen - 1 - *pos;
    if (n > room)
        n = room;
    memcpy(out + *pos, p, n);
    *pos += n;
    out[*pos] = '\0';
}

static void write_expected(char *out, size_t outlen, const char *socket_id, size_t sidlen,
                           const char *channel, size_t clen, const char *channel_data, size_t cdlen)
{
    size_t pos = 0;

    if (!out || outlen == 0)
        return;
    out[0] = '\0';
    put(out, outlen, &pos, socket_id, sidlen);
    put(out, outlen, &pos, ":", 1);
    put(out, outlen, &pos, channel, clen);
    if (channel_data) {
        put(out, outlen, &pos, ":", 1);
        put(out, outlen, &pos, channel_data, cdlen);
    }
}

int pg_chan_auth_verify(const char *app_key, size_t klen, const char *secret, size_t slen,
                        const char *socket_id, size_t sidlen, const char *channel, size_t clen,
                        const char *channel_data, size_t cdlen, const char *auth, size_t alen,
                        char *expected_str, size_t explen)
{
    char want[65];
    const char *colon;
    int ok;

    write_expected(expected_str, explen, socket_id, sidlen, channel, clen, channel_data, cdlen);
    if (!auth || alen == 0)
        return PG_AUTH_MISSING;
    colon = memchr(auth, ':', alen);
    if (!colon)
        return PG_AUTH_MALFORMED;
    if (!pg_ct_eq(auth, (size_t)(colon - auth), app_key, klen))
        return PG_AUTH_BAD_KEY;

    pg_chan_auth_sign(secret, slen, socket_id, sidlen, channel, clen, channel_data, cdlen, want);
    ok = pg_ct_hex_eq(colon + 1, alen - (size_t)(colon - auth) - 1, want, 64);
    sodium_memzero(want, sizeof want);
    return ok ? PG_AUTH_OK : PG_AUTH_BAD_SIG;
}
