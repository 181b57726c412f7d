/* pg_socket_id.h - socket ids "<digits>.<digits>" (spec 6.2).
 * Thread: any (pure).
 */
#ifndef PG_SOCKET_ID_H
#define PG_SOCKET_ID_H

#include <stddef.h>
#include <stdint.h>

/* 1 iff s matches ^\d+\.\d+$ with 1..20 digits on each side, else 0. */
int pg_socket_id_valid(const char *s, size_t len);
/* Writes "<node_tag>.<seq>" NUL-terminated; returns its length, or -ENOBUFS if it does not fit
 * (out is then an empty string when outlen > 0). 32 bytes always suffice. */
int pg_socket_id_format(char *out, size_t outlen, uint32_t node_tag, uint64_t seq);

#endif
