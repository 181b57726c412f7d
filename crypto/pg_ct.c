/* pg_ct.c - constant-time comparisons over sodium_memcmp. Thread: any (pure).
 * Lengths are not secret (a hex digest is always 64 chars), so they may decide early; the content
 * never does.
 */
#include "pg_ct.h"

#include <sodium.h>

#define PG_CT_HEX_MAX 128

int pg_ct_eq(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen) {
        /* Same amount of work as a real compare of a, then report "different". */
        if (alen > 0) {
            volatile int sink = sodium_memcmp(a, a, alen);
            (void)sink;
        }
        return 0;
    }
    if (alen == 0)
        return 1;
    return sodium_memcmp(a, b, alen) == 0;
}

/* ASCII lower-case without a data-dependent branch. */
static void lower_ct(const char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)in[i];
        unsigned is_upper = (unsigned)((c - 'A') < 26u);
        out[i] = (char)(c | (is_upper << 5));
    }
}

int pg_ct_hex_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    char la[PG_CT_HEX_MAX], lb[PG_CT_HEX_MAX];
    int eq;

    if (alen > PG_CT_HEX_MAX || blen > PG_CT_HEX_MAX)
        return 0;
    lower_ct(a, alen, la);
    lower_ct(b, blen, lb);
    eq = pg_ct_eq(la, alen, lb, blen);
    sodium_memzero(la, sizeof la);
    sodium_memzero(lb, sizeof lb);
    return eq;
}
