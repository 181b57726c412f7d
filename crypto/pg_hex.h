/* pg_hex.h - lowercase hex encoding.
 * Thread: any (pure).
 */
#ifndef PG_HEX_H
#define PG_HEX_H

#include <stddef.h>

/* Writes 2n lowercase hex chars and a NUL to out (room for 2n + 1 bytes). */
void pg_hex_encode(const unsigned char *in, size_t n, char *out);

#endif
