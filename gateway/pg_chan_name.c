/* pg_chan_name.c - channel classification and name checks. Thread: any (pure). */
#include "pg_chan_name.h"

#include <errno.h>
#include <string.h>

#define USER_PREFIX "#server-to-user-"
#define USER_PREFIX_LEN (sizeof USER_PREFIX - 1)

static const struct {
    const char *prefix;
    size_t len;
    unsigned kind;
} kinds[] = {
#define K(p, k)                                                                                    \
    {                                                                                              \
        p, sizeof p - 1, k                                                                         \
    }
    K("private-encrypted-cache-", PG_CHAN_PRIVATE | PG_CHAN_ENCRYPTED | PG_CHAN_CACHE),
    K("private-encrypted-", PG_CHAN_PRIVATE | PG_CHAN_ENCRYPTED),
    K("private-cache-", PG_CHAN_PRIVATE | PG_CHAN_CACHE),
    K("private-", PG_CHAN_PRIVATE),
    K("presence-cache-", PG_CHAN_PRESENCE | PG_CHAN_CACHE),
    K("presence-", PG_CHAN_PRESENCE),
    K("cache-", PG_CHAN_CACHE),
    K(USER_PREFIX, PG_CHAN_USER),
#undef K
};

static int has_prefix(const char *name, size_t len, const char *prefix, size_t plen)
{
    return len >= plen && memcmp(name, prefix, plen) == 0;
}

unsigned pg_chan_classify(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (has_prefix(name, len, kinds[i].prefix, kinds[i].len))
            return kinds[i].kind;
    return PG_CHAN_PUBLIC;
}

static int name_char_ok(unsigned char c)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("_-=@,.;", c) != NULL;
}

int pg_chan_name_check(const char *name, size_t len, long maxlen)
{
    size_t i = 0;

    if (!name || len == 0)
        return -EINVAL;
    if (maxlen >= 0 && len > (unsigned long)maxlen)
        return -ENAMETOOLONG;
    if (has_prefix(name, len, USER_PREFIX, USER_PREFIX_LEN)) {
        if (len == USER_PREFIX_LEN)
            return -EINVAL;
        i = USER_PREFIX_LEN;
    }
    for (; i < len; i++)
        if (!name_char_ok((unsigned char)name[i]))
            return -EINVAL;
    return 0;
}

int pg_event_name_check(const char *name, size_t len, long maxlen)
{
    if (!name || len == 0)
        return -EINVAL;
    if (maxlen >= 0 && len > (unsigned long)maxlen)
        return -ENAMETOOLONG;
    return 0;
}

const char *pg_chan_user_id(const char *name, size_t len, size_t *idlen)
{
    if (!name || len <= USER_PREFIX_LEN || !has_prefix(name, len, USER_PREFIX, USER_PREFIX_LEN))
        return NULL;
    if (idlen)
        *idlen = len - USER_PREFIX_LEN;
    return name + USER_PREFIX_LEN;
}
