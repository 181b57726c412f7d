/* pg_rest_sign.h - REST API request signing and verification (spec 9.2, byte for byte with
 * pusher-http-node). String to sign: METHOD "\n" PATH "\n" QUERY, where QUERY is every parameter
 * except auth_signature, keys lower-cased, sorted bytewise by key, "k=v" joined by "&", unescaped.
 * Thread: any (pure; a pg_rest_query belongs to its caller).
 */
#ifndef PG_REST_SIGN_H
#define PG_REST_SIGN_H

#include <stddef.h>
#include <stdint.h>

struct pg_rest_kv {
    char *key; /* percent-decoded, case kept, NUL-terminated; owned by the query */
    char *val; /* percent-decoded, NUL-terminated ("" for "k" or "k="); owned by the query */
};

/* Owner: the caller; free with pg_rest_query_dispose. */
struct pg_rest_query {
    struct pg_rest_kv *kv;
    size_t n;
};

/* Parses a raw query string (no leading '?'): split on '&' (empty items are skipped), each item
 * on its first '=', %XX decoded in keys and values ('+' stays '+'). Returns 0, -EINVAL (bad or
 * %00 escape, empty key, or a key repeated, compared ASCII case-insensitively since the canonical
 * form lower-cases keys) or -ENOMEM. q is overwritten; on failure it is left zeroed. */
int pg_rest_query_parse(struct pg_rest_query *q, const char *raw, size_t len);
/* Value for an exact (case-sensitive) key, or NULL; borrowed from q. */
const char *pg_rest_query_get(const struct pg_rest_query *q, const char *key);
/* Writes the canonical QUERY, NUL-terminated. Returns its length, -ENOBUFS when it does not fit
 * in outlen, or -ENOMEM. */
int pg_rest_query_canon(const struct pg_rest_query *q, char *out, size_t outlen);
void pg_rest_query_dispose(struct pg_rest_query *q); /* zeroed: no-op */

/* HMAC-SHA256(secret, METHOD "\n" path "\n" canon_query) as lowercase hex. The method is
 * upper-cased. Returns 0, or -EINVAL when method is NULL or longer than 15 chars. */
int pg_rest_sign(const char *secret, size_t slen, const char *method, const char *path, size_t plen,
                 const char *canon_query, size_t qlen, char out_hex[65]);

/* Verifies a REST request: path is the raw request path, raw_query the raw query string, body the
 * raw body (blen 0: none), now the server's Unix time in seconds. Returns PG_AUTH_OK or:
 *   PG_AUTH_MALFORMED   query string does not parse;
 *   PG_AUTH_MISSING     auth_key, auth_timestamp, auth_version or auth_signature absent;
 *   PG_AUTH_BAD_KEY     auth_key differs from app_key;
 *   PG_AUTH_BAD_VERSION auth_version is not "1.0";
 *   PG_AUTH_EXPIRED     auth_timestamp not a plain integer within +/-600 s of now;
 *   PG_AUTH_BAD_MD5     body without body_md5, body_md5 differing from MD5-hex of the body
 *                       (case-insensitive), or present on an empty body and not the empty MD5;
 *   PG_AUTH_BAD_SIG     signature mismatch (constant-time compare);
 *   -ENOMEM.
 * err (may be NULL) receives a Pusher-style explanation for the 401 body; "" on success. It
 * never contains the secret. */
int pg_rest_verify(const char *method, const char *path, size_t plen, const char *raw_query,
                   size_t qlen, const void *body, size_t blen, const char *app_key,
                   const char *secret, size_t slen, int64_t now, char *err, size_t errlen);

#endif
