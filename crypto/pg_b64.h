/* pg_b64.h - standard base64 with padding (RFC 4648 alphabet "+/", "=" padding), as used for the
 * encrypted-channel shared_secret, nonce and ciphertext.
 * Thread: any (pure).
 */
#ifndef PG_B64_H
#define PG_B64_H

#include <stddef.h>

/* Bytes needed to encode n input bytes, including the NUL. */
size_t pg_b64_encoded_len(size_t n);
/* out must hold pg_b64_encoded_len(n) bytes; always NUL-terminated. */
void pg_b64_encode(const unsigned char *in, size_t n, char *out);
/* Decodes exactly inlen chars (padding required, no whitespace). Returns 0 and sets *outlen, or
 * -EINVAL on bad input or when the result does not fit in outmax bytes. */
int pg_b64_decode(const char *in, size_t inlen, unsigned char *out, size_t outmax, size_t *outlen);

#endif
