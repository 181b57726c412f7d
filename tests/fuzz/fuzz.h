/* fuzz.h - shared by the fuzz drivers (tests/fuzz/fuzz_*.c) and replay_main.c (style.md
 * section 9). A driver defines LLVMFuzzerTestOneInput and checks the invariants its parser's
 * header promises with FUZZ_CHECK, so the fuzzer finds wrong answers as well as crashes.
 */
#ifndef PG_FUZZ_H
#define PG_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant aborts: libFuzzer saves the input as crash-<sha1>, ctest fails. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A NUL-terminated copy of the input, for parsers that take C strings (an embedded NUL ends the
 * string there, as it would for the caller). Free it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
