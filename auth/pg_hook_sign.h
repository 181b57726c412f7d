/* pg_hook_sign.h - webhook X-Pusher-Signature: lowercase hex HMAC-SHA256(secret, exact body).
 * Thread: any (pure).
 */
#ifndef PG_HOOK_SIGN_H
#define PG_HOOK_SIGN_H

#include <stddef.h>

void pg_hook_sign(const char *secret, size_t slen, const void *body, size_t blen, char out_hex[65]);

#endif
