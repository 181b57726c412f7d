/* pg_auth.c - descriptions of pg_auth_result values. Thread: any (pure). */
#include "pg_auth.h"

#include <errno.h>

const char *pg_auth_strerror(int r)
{
    switch (r) {
    case PG_AUTH_OK:
        return "ok";
    case PG_AUTH_MISSING:
        return "missing auth parameter";
    case PG_AUTH_BAD_KEY:
        return "invalid key";
    case PG_AUTH_BAD_VERSION:
        return "unsupported auth_version";
    case PG_AUTH_EXPIRED:
        return "timestamp expired";
    case PG_AUTH_BAD_MD5:
        return "body_md5 mismatch";
    case PG_AUTH_BAD_SIG:
        return "invalid signature";
    case PG_AUTH_MALFORMED:
        return "malformed auth";
    case -ENOMEM:
        return "out of memory";
    default:
        return "unknown auth error";
    }
}
