/* pg_md5.h - MD5 hex digest, only for the REST body_md5 parameter (not a security primitive).
 * Thread: any (pure).
 */
#ifndef PG_MD5_H
#define PG_MD5_H

#include <stddef.h>

/* Writes 32 lowercase hex chars and a NUL. */
void pg_md5_hex(const void *p, size_t n, char out[33]);

#endif
