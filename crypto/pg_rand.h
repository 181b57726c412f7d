/* pg_rand.h - cryptographic random bytes (libsodium randombytes).
 * Thread: any. sodium_init() must have been called (main does it).
 */
#ifndef PG_RAND_H
#define PG_RAND_H

#include <stddef.h>
#include <stdint.h>

void pg_rand_buf(void *p, size_t n);
uint32_t pg_rand_u32(void);

#endif
