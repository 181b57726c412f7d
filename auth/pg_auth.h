/* pg_auth.h - results shared by every signature check in auth/.
 * Thread: any (pure). The values are small negatives; callers map any of them to HTTP 401 or a
 * pusher:subscription_error / pusher:error.
 */
#ifndef PG_AUTH_H
#define PG_AUTH_H

enum pg_auth_result {
    PG_AUTH_OK = 0,
    PG_AUTH_MISSING = -1,     /* no token / a required parameter is absent */
    PG_AUTH_BAD_KEY = -2,     /* key part is not this app's key */
    PG_AUTH_BAD_VERSION = -3, /* auth_version is not "1.0" */
    PG_AUTH_EXPIRED = -4,     /* auth_timestamp not an integer within +/-600 s */
    PG_AUTH_BAD_MD5 = -5,     /* body_md5 does not match the body */
    PG_AUTH_BAD_SIG = -6,     /* signature mismatch */
    PG_AUTH_MALFORMED = -7,   /* token or query string cannot be parsed */
};

/* Short static description; never NULL. Unknown values give "unknown auth error". */
const char *pg_auth_strerror(int r);

#endif
