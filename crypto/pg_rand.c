/* pg_rand.c - random bytes from libsodium. Thread: any. */
#include "pg_rand.h"

#include <sodium.h>

void pg_rand_buf(void *p, size_t n) { randombytes_buf(p, n); }

uint32_t pg_rand_u32(void) { return randombytes_random(); }
