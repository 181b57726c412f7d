/* pg_buf.h - a growable byte buffer with a JSON string writer.
 * Owner: whoever embeds it (init/dispose). Allocation failure is sticky: check ->oom once at the
 * end.
 */
#ifndef PG_BUF_H
#define PG_BUF_H

#include <stddef.h>

struct pg_buf {
    char *p; /* NUL-terminated when len > 0 or after pg_buf_cstr() */
    size_t len;
    size_t cap;
    int oom; /* set when a grow failed; later writes are ignored */
};

void pg_buf_init(struct pg_buf *b);
void pg_buf_dispose(struct pg_buf *b); /* zeroed: no-op */
void pg_buf_reset(struct pg_buf *b);   /* len = 0, keeps memory */
void pg_buf_put(struct pg_buf *b, const void *s, size_t n);
void pg_buf_puts(struct pg_buf *b, const char *s);
void pg_buf_printf(struct pg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes s as a JSON string literal, quotes included, escaping per RFC 8259. */
void pg_buf_json_str(struct pg_buf *b, const char *s, size_t n);
/* Returns the NUL-terminated contents ("" when empty); borrowed until the next write. */
const char *pg_buf_cstr(struct pg_buf *b);
/* Hands the malloc'd string to the caller (caller frees); the buffer is left empty. */
char *pg_buf_steal(struct pg_buf *b, size_t *len);

#endif
