/* fuzz_chan_name.c - gateway/pg_chan_name: channel kinds (spec 5.1) and the channel and event
 * name rules (spec 5.2), checked against a plain restatement of the rules.
 */
#include <errno.h>

#include "fuzz.h"
#include "pg_chan_name.h"

#define USER_PREFIX "#server-to-user-"
#define USER_PREFIX_LEN (sizeof USER_PREFIX - 1)

static bool allowed(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '=' || c == '@' || c == ',' || c == '.' || c == ';';
}

/* The spec's rule, no length limit: [A-Za-z0-9_\-=@,.;]+ or #server-to-user-<same>+. */
static bool valid(const char *s, size_t len)
{
    size_t i = 0;
    if (len > USER_PREFIX_LEN && !memcmp(s, USER_PREFIX, USER_PREFIX_LEN))
        i = USER_PREFIX_LEN;
    if (len == 0)
        return false;
    for (; i < len; i++)
        if (!allowed((unsigned char)s[i]))
            return false;
    return true;
}

static bool starts(const char *s, size_t len, const char *p)
{
    return len >= strlen(p) && !memcmp(s, p, strlen(p));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t idlen = 0;
    bool ok = valid(s, size);

    FUZZ_CHECK(pg_chan_name_check(s, size, -1) == (ok ? 0 : -EINVAL));
    if (size > 0) {
        FUZZ_CHECK(pg_chan_name_check(s, size, (long)size) == (ok ? 0 : -EINVAL));
        FUZZ_CHECK(pg_chan_name_check(s, size, (long)size - 1) == -ENAMETOOLONG);
    }
    FUZZ_CHECK(pg_event_name_check(s, size, -1) == (size ? 0 : -EINVAL));
    int want = size == 0 ? -EINVAL : (size > 200 ? -ENAMETOOLONG : 0);
    FUZZ_CHECK(pg_event_name_check(s, size, 200) == want);

    unsigned kind = pg_chan_classify(s, size);
    FUZZ_CHECK(!(kind & PG_CHAN_ENCRYPTED) || (kind & PG_CHAN_PRIVATE));
    FUZZ_CHECK(!!(kind & PG_CHAN_PRIVATE) == starts(s, size, "private-"));
    FUZZ_CHECK(!!(kind & PG_CHAN_PRESENCE) == starts(s, size, "presence-"));
    FUZZ_CHECK(!!(kind & PG_CHAN_ENCRYPTED) == starts(s, size, "private-encrypted-"));
    FUZZ_CHECK(!!(kind & PG_CHAN_USER) == starts(s, size, USER_PREFIX));
    FUZZ_CHECK(!!(kind & PG_CHAN_CACHE) ==
               (starts(s, size, "cache-") || starts(s, size, "private-cache-") ||
                starts(s, size, "private-encrypted-cache-") || starts(s, size, "presence-cache-")));

    const char *id = pg_chan_user_id(s, size, &idlen);
    if (size > USER_PREFIX_LEN && starts(s, size, USER_PREFIX))
        FUZZ_CHECK(id == s + USER_PREFIX_LEN && idlen == size - USER_PREFIX_LEN);
    else
        FUZZ_CHECK(id == NULL);
    return 0;
}
