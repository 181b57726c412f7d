/* fuzz_redis_url.c - gateway/pg_redis_url: the redis_url option,
 * redis://[[user]:password@]host[:port][/db]. The input is the URL (up to its first NUL).
 */
#include <errno.h>

#include "fuzz.h"
#include "pg_redis_url.h"

static bool terminated(const char *s, size_t cap) { return memchr(s, 0, cap) != NULL; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char zero[sizeof((struct pg_redis_url *)0)->password];
    char *s = fuzz_cstr(data, size), err[160];
    struct pg_redis_url u;

    err[0] = '\0';
    int rc = pg_redis_url_parse(&u, s, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    FUZZ_CHECK(terminated(err, sizeof err));
    if (rc == 0) {
        FUZZ_CHECK(terminated(u.host, sizeof u.host) && u.host[0] != '\0');
        FUZZ_CHECK(terminated(u.user, sizeof u.user));
        FUZZ_CHECK(terminated(u.password, sizeof u.password));
        FUZZ_CHECK(u.port >= 1 && u.port <= 65535 && u.db >= 0 && u.db <= 1000000);
        /* A user needs a password; neither holds a control byte. */
        FUZZ_CHECK(!u.user[0] || u.password[0]);
        for (const char *p = u.password; *p; p++)
            FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
    } else {
        FUZZ_CHECK(err[0] != '\0');
        /* A refused URL leaves no part of a password behind. */
        FUZZ_CHECK(memcmp(u.password, zero, sizeof zero) == 0);
    }
    pg_redis_url_dispose(&u);
    FUZZ_CHECK(memcmp(u.password, zero, sizeof zero) == 0);
    free(s);
    return 0;
}
