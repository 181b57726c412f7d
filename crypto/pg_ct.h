/* pg_ct.h - constant-time comparisons for signatures and tokens.
 * Thread: any (pure). Time depends on the lengths only, never on the content.
 */
#ifndef PG_CT_H
#define PG_CT_H

#include <stddef.h>

/* 1 when alen == blen and the bytes are equal, else 0. */
int pg_ct_eq(const void *a, size_t alen, const void *b, size_t blen);
/* Like pg_ct_eq but ASCII letters compare case-insensitively (for hex digests). Strings longer
 * than 128 chars never compare equal. */
int pg_ct_hex_eq(const char *a, size_t alen, const char *b, size_t blen);

#endif
