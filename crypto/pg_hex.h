/* pg_hex.h - lowercase hex encoding, and hex digits for %XX decoders.
 * Thread: any (pure).
 */
#ifndef PG_HEX_H
#define PG_HEX_H

#include <stddef.h>

/* Writes 2n lowercase hex chars and a NUL to out (room for 2n + 1 bytes). */
void pg_hex_encode(const unsigned char *in, size_t n, char *out);

/* The value of hex digit c (either case), or -1. */
static inline int pg_hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
