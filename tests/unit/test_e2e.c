/* test_e2e.c - gateway-side encryption of private-encrypted- payloads (pg_e2e; spec 6.3). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <sodium.h>

#include "pg_b64.h"
#include "pg_buf.h"
#include "pg_e2e.h"

#define MASTER_B64 "zyrm8pvV2C9fJcBfhyXzvxbJVN/H7QLmbe0xJi1GhPU="
#define KEY_B64 "nlr49ISQHz91yS3cy/yWmW8wFMNeTnNL5tNHnbPJcLQ="
#define NONCE_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
#define CT_B64 "6rVSuKAuBIv93dzoqJgh+AEidySHWH/MlDfFNmdv+bWcdCM="

static int setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static void decode32(const char *b64, unsigned char out[32])
{
    size_t n = 0;
    assert_int_equal(pg_b64_decode(b64, strlen(b64), out, 32, &n), 0);
    assert_int_equal(n, 32);
}

static void vector_key(unsigned char key[32])
{
    unsigned char master[32];
    decode32(MASTER_B64, master);
    assert_int_equal(pg_e2e_channel_key(master, "private-encrypted-bla", 21, key), 0);
    sodium_memzero(master, sizeof master);
}

static void test_channel_key_vector(void **state)
{
    (void)state;
    unsigned char key[32], want[32];
    vector_key(key);
    decode32(KEY_B64, want);
    assert_memory_equal(key, want, 32);
    /* another channel, another key */
    unsigned char master[32], other[32];
    decode32(MASTER_B64, master);
    assert_int_equal(pg_e2e_channel_key(master, "private-encrypted-blb", 21, other), 0);
    assert_memory_not_equal(key, other, 32);
    assert_int_equal(pg_e2e_channel_key(NULL, "x", 1, other), -EINVAL);
    assert_int_equal(pg_e2e_channel_key(master, "x", 1, NULL), -EINVAL);
}

/* Splits an envelope into its decoded nonce and ciphertext (caller frees *ct). */
static void parse_envelope(const struct pg_buf *b, unsigned char nonce[24], unsigned char **ct,
                           size_t *ctlen)
{
    struct json_object *o = json_tokener_parse(b->p), *n, *c;
    assert_non_null(o);
    assert_true(json_object_is_type(o, json_type_object));
    assert_int_equal(json_object_object_length(o), 2);
    assert_true(json_object_object_get_ex(o, "nonce", &n));
    assert_true(json_object_object_get_ex(o, "ciphertext", &c));
    size_t len = 0;
    assert_int_equal(pg_b64_decode(json_object_get_string(n), (size_t)json_object_get_string_len(n),
                                   nonce, 24, &len),
                     0);
    assert_int_equal(len, 24);
    size_t cap = (size_t)json_object_get_string_len(c);
    *ct = malloc(cap + 1);
    assert_int_equal(pg_b64_decode(json_object_get_string(c), cap, *ct, cap, ctlen), 0);
    json_object_put(o);
}

static void test_encrypt_vector(void **state)
{
    (void)state;
    unsigned char key[32], nonce[24];
    struct pg_buf b;
    for (int i = 0; i < 24; i++)
        nonce[i] = (unsigned char)i;
    vector_key(key);
    pg_buf_init(&b);
    assert_int_equal(pg_e2e_encrypt(key, nonce, "{\"message\":\"hello\"}", 19, &b), 0);
    assert_string_equal(pg_buf_cstr(&b),
                        "{\"nonce\":\"" NONCE_B64 "\",\"ciphertext\":\"" CT_B64 "\"}");
    /* appends */
    assert_int_equal(pg_e2e_encrypt(key, nonce, "", 0, &b), 0);
    assert_int_equal(strncmp(b.p + strlen(b.p) - 2, "\"}", 2), 0);
    pg_buf_dispose(&b);
    sodium_memzero(key, sizeof key);
}

static void test_round_trip_random_nonce(void **state)
{
    (void)state;
    unsigned char key[32], n1[24], n2[24], *ct1, *ct2;
    size_t l1, l2;
    struct pg_buf a, b;
    const char *plain = "{\"x\":\"caf\xc3\xa9\",\"n\":[1,2,3]}";
    size_t plen = strlen(plain);

    vector_key(key);
    pg_buf_init(&a);
    pg_buf_init(&b);
    assert_int_equal(pg_e2e_encrypt(key, NULL, plain, plen, &a), 0);
    assert_int_equal(pg_e2e_encrypt(key, NULL, plain, plen, &b), 0);
    parse_envelope(&a, n1, &ct1, &l1);
    parse_envelope(&b, n2, &ct2, &l2);
    assert_memory_not_equal(n1, n2, 24); /* a fresh nonce every time */
    assert_int_equal(l1, plen + crypto_secretbox_MACBYTES);
    assert_int_equal(l2, l1);

    unsigned char *out = malloc(plen + 1);
    assert_int_equal(crypto_secretbox_open_easy(out, ct1, l1, n1, key), 0);
    assert_memory_equal(out, plain, plen);
    assert_int_equal(crypto_secretbox_open_easy(out, ct2, l2, n2, key), 0);
    assert_memory_equal(out, plain, plen);
    /* the wrong nonce or key fails */
    assert_int_not_equal(crypto_secretbox_open_easy(out, ct1, l1, n2, key), 0);
    key[0] ^= 1;
    assert_int_not_equal(crypto_secretbox_open_easy(out, ct1, l1, n1, key), 0);

    free(out);
    free(ct1);
    free(ct2);
    pg_buf_dispose(&a);
    pg_buf_dispose(&b);
    sodium_memzero(key, sizeof key);
}

static void test_bad_args(void **state)
{
    (void)state;
    unsigned char key[32] = {0};
    struct pg_buf b;
    pg_buf_init(&b);
    assert_int_equal(pg_e2e_encrypt(NULL, NULL, "x", 1, &b), -EINVAL);
    assert_int_equal(pg_e2e_encrypt(key, NULL, NULL, 1, &b), -EINVAL);
    assert_int_equal(pg_e2e_encrypt(key, NULL, "x", 1, NULL), -EINVAL);
    assert_int_equal(b.len, 0);
    pg_buf_dispose(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channel_key_vector),
        cmocka_unit_test(test_encrypt_vector),
        cmocka_unit_test(test_round_trip_random_nonce),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
