/* pg_socket_id.c - socket id validation and formatting. Thread: any (pure). */
#include "pg_socket_id.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#define PG_SOCKET_ID_MAX_DIGITS 20

/* Counts the ASCII digits at the start of s[0..len). */
static size_t digits(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

int pg_socket_id_valid(const char *s, size_t len)
{
    if (!s)
        return 0;
    size_t a = digits(s, len);
    if (a == 0 || a > PG_SOCKET_ID_MAX_DIGITS || a >= len || s[a] != '.')
        return 0;
    size_t b = digits(s + a + 1, len - a - 1);
    return b > 0 && b <= PG_SOCKET_ID_MAX_DIGITS && a + 1 + b == len;
}

int pg_socket_id_format(char *out, size_t outlen, uint32_t node_tag, uint64_t seq)
{
    int n = snprintf(out, outlen, "%" PRIu32 ".%" PRIu64, node_tag, seq);
    if (n < 0 || (size_t)n >= outlen) {
        if (outlen > 0)
            out[0] = '\0';
        return -ENOBUFS;
    }
    return n;
}
