/* fuzz_rest_query.c - auth/pg_rest_sign: the REST query string (spec 9.2). The input is a raw
 * query string without '?': parsed, canonicalized, then verified as the query of the spec's
 * POST /apps/3/events example, of a bodiless GET, and once with a secret holding a newline.
 */
#include <errno.h>
#include <sodium.h>

#include "fuzz.h"
#include "pg_auth.h"
#include "pg_rest_sign.h"

/* The Pusher docs' example app; auth_timestamp=1353088179 is "now", so a seed with the docs'
 * signature reaches PG_AUTH_OK and mutations of it reach every check before. */
#define KEY "278d425bdf160c739803"
#define SECRET "7ad3773142a6692b25b8"
#define NOW 1353088179
#define BODY                                                                                       \
    "{\"name\":\"foo\",\"channels\":[\"project-3\"],\"data\":\"{\\\"some\\\":\\\"data\\\"}\"}"
/* No error may quote a secret: escaped output turns '\n' into "\\n", so only a leak of the
 * secret itself could put this one, raw newline included, into err. */
#define NL_SECRET "nl-\n-secret"

#define S(lit) lit, (sizeof lit - 1)

/* A parsed query never came from input holding a NUL byte: a raw NUL is refused like %00. */
static void check_query(const struct pg_rest_query *q)
{
    char out[4096], again[4096];
    int n = pg_rest_query_canon(q, out, sizeof out);

    FUZZ_CHECK(n == -ENOBUFS || (n >= 0 && (size_t)n == strlen(out)));
    if (n >= 0) { /* an exact fit works, one byte less is -ENOBUFS with "" written */
        FUZZ_CHECK(pg_rest_query_canon(q, again, (size_t)n + 1) == n && !strcmp(out, again));
        FUZZ_CHECK(pg_rest_query_canon(q, again, (size_t)n) == -ENOBUFS && (!n || !again[0]));
    }
    for (size_t i = 0; i < q->n; i++) {
        FUZZ_CHECK(q->kv[i].key && q->kv[i].val && q->kv[i].key[0]);
        /* Keys are distinct even ignoring ASCII case, so an exact lookup finds this one. */
        FUZZ_CHECK(pg_rest_query_get(q, q->kv[i].key) == q->kv[i].val);
    }
    if (n > 0) {
        /* Keys are lower-cased: everything before the first '=' is the first key (a decoded
         * key may hold '=' or '&' itself, so the rest cannot be split back). */
        for (size_t i = 0; i < (size_t)n && out[i] != '='; i++)
            FUZZ_CHECK(out[i] < 'A' || out[i] > 'Z');
    }
}

static void verify(const char *method, const char *path, size_t plen, const char *raw, size_t len,
                   const char *body, size_t blen, const char *secret, size_t slen)
{
    char err[512];
    int rc = pg_rest_verify(method, path, plen, raw, len, body, blen, KEY, secret, slen, NOW, err,
                            sizeof err);

    FUZZ_CHECK(rc == -ENOMEM || (rc <= PG_AUTH_OK && rc >= PG_AUTH_MALFORMED));
    FUZZ_CHECK(memchr(err, 0, sizeof err) != NULL);
    FUZZ_CHECK((rc == PG_AUTH_OK) == (err[0] == '\0'));
    FUZZ_CHECK(strstr(err, NL_SECRET) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    const char *raw = (const char *)data;
    struct pg_rest_query q;
    int rc;

    if (!init++ && sodium_init() < 0)
        abort();
    rc = pg_rest_query_parse(&q, raw, size);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    if (rc == 0) {
        FUZZ_CHECK(memchr(raw, 0, size) == NULL);
        check_query(&q);
    } else
        FUZZ_CHECK(q.n == 0 && q.kv == NULL);
    pg_rest_query_dispose(&q);
    FUZZ_CHECK(q.n == 0 && q.kv == NULL);

    verify("POST", S("/apps/3/events"), raw, size, S(BODY), S(SECRET));
    verify("GET", S("/apps/3/channels"), raw, size, NULL, 0, S(SECRET));
    verify("post", S("/apps/3/events"), raw, size, S(BODY), S(NL_SECRET));
    return 0;
}
