/* test_crypto.c - crypto/: hex, HMAC, SHA-256, MD5, constant-time compare, base64, random, and the
 * encrypted-channel vectors of spec 6.3.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "pg_b64.h"
#include "pg_ct.h"
#include "pg_hex.h"
#include "pg_hmac.h"
#include "pg_md5.h"
#include "pg_rand.h"
#include "pg_sha256.h"

#define SECRET "7ad3773142a6692b25b8"
#define S(lit) lit, (sizeof lit - 1)

static int setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static void test_hex(void **state)
{
    (void)state;
    const unsigned char in[] = {0x00, 0x01, 0x7f, 0xab, 0xff};
    char out[11];

    memset(out, 'x', sizeof out);
    pg_hex_encode(in, sizeof in, out);
    assert_string_equal(out, "00017fabff");

    out[0] = 'x';
    pg_hex_encode(in, 0, out);
    assert_string_equal(out, "");
}

static void test_hmac_rfc4231(void **state)
{
    (void)state;
    char hex[65];
    unsigned char key[131];

    /* RFC 4231 test case 2: a key shorter than 32 bytes. */
    pg_hmac_sha256_hex(S("Jefe"), S("what do ya want for nothing?"), hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    /* RFC 4231 test case 6: a key longer than the 64-byte block is hashed first. */
    memset(key, 0xaa, sizeof key);
    pg_hmac_sha256_hex(key, sizeof key, S("Test Using Larger Than Block-Size Key - Hash Key First"),
                       hex);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_hmac_spec_vectors(void **state)
{
    (void)state;
    char hex[65];

    pg_hmac_sha256_hex(S(SECRET), S("1234.1234:private-foobar"), hex);
    assert_string_equal(hex, "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4");
    pg_hmac_sha256_hex(
        S(SECRET),
        S("1234.1234:presence-foobar:{\"user_id\":10,\"user_info\":{\"name\":\"Mr. Channels\"}}"),
        hex);
    assert_string_equal(hex, "31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80");
    pg_hmac_sha256_hex(
        S(SECRET),
        S("1234.1234:presence-foobar:{\"user_id\":10,\"user_info\":{\"name\":\"Mr. Pusher\"}}"),
        hex);
    assert_string_equal(hex, "afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f529792be6304c");
    pg_hmac_sha256_hex(S(SECRET), S("1234.1234::user::{\"id\":\"12345\"}"), hex);
    assert_string_equal(hex, "4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba");
    pg_hmac_sha256_hex(S("tofu"), S("123.456:private-encrypted-bla:\"foo\""), hex);
    assert_string_equal(hex, "962c48b78bf93d98ff4c92ee7dff04865821455b7b401e9d60a9e0a90af2c105");
}

static void test_hmac_streaming_matches_oneshot(void **state)
{
    (void)state;
    struct pg_hmac h;
    unsigned char raw[32];
    char hex[65], oneshot[65], rawhex[65];

    pg_hmac_init(&h, S(SECRET));
    pg_hmac_update(&h, S("1234.1234"));
    pg_hmac_update(&h, S(":"));
    pg_hmac_update(&h, "", 0);
    pg_hmac_update(&h, S("private-foobar"));
    pg_hmac_final_hex(&h, hex);
    assert_string_equal(hex, "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4");

    pg_hmac_sha256_hex(S(SECRET), S("1234.1234:private-foobar"), oneshot);
    assert_string_equal(hex, oneshot);
    pg_hmac_sha256(S(SECRET), S("1234.1234:private-foobar"), raw);
    pg_hex_encode(raw, sizeof raw, rawhex);
    assert_string_equal(rawhex, oneshot);
}

static void test_sha256(void **state)
{
    (void)state;
    unsigned char d[32], d2[32];
    char hex[65];
    struct pg_sha256 s;

    pg_sha256(S("abc"), d);
    pg_hex_encode(d, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    pg_sha256("", 0, d);
    pg_hex_encode(d, 32, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    pg_sha256_init(&s);
    pg_sha256_update(&s, S("a"));
    pg_sha256_update(&s, "", 0);
    pg_sha256_update(&s, S("bc"));
    pg_sha256_final(&s, d2);
    pg_sha256(S("abc"), d);
    assert_memory_equal(d, d2, 32);
}

static void test_md5(void **state)
{
    (void)state;
    char hex[33];

    pg_md5_hex("", 0, hex);
    assert_string_equal(hex, "d41d8cd98f00b204e9800998ecf8427e");
    pg_md5_hex(S("{}"), hex);
    assert_string_equal(hex, "99914b932bd37a50b983c5e7c90ae93b");
    pg_md5_hex(S("{\"name\":\"foo\",\"channels\":[\"project-3\"],\"data\":\"{\\\"some\\\":"
                 "\\\"data\\\"}\"}"),
               hex);
    assert_string_equal(hex, "ec365a775a4cd0599faeb73354201b6f");
    pg_md5_hex(S("example body"), hex);
    assert_string_equal(hex, "165d5e6d7ca8f73b3853ce45addf42fc");
}

static void test_ct_eq(void **state)
{
    (void)state;

    assert_int_equal(pg_ct_eq(S("abcdef"), S("abcdef")), 1);
    assert_int_equal(pg_ct_eq(S("abcdef"), S("abcdeg")), 0);
    assert_int_equal(pg_ct_eq(S("Abcdef"), S("abcdef")), 0);
    assert_int_equal(pg_ct_eq(S("abcdef"), S("abcde")), 0);
    assert_int_equal(pg_ct_eq(S("abc"), S("abcdef")), 0);
    assert_int_equal(pg_ct_eq("", 0, "", 0), 1);
    assert_int_equal(pg_ct_eq("", 0, S("a")), 0);
    assert_int_equal(pg_ct_eq("a\0b", 3, "a\0c", 3), 0);
    assert_int_equal(pg_ct_eq("a\0b", 3, "a\0b", 3), 1);
}

static void test_ct_hex_eq(void **state)
{
    (void)state;
    char big[129];

    assert_int_equal(pg_ct_hex_eq(S("58df8b0c36d6"), S("58df8b0c36d6")), 1);
    assert_int_equal(pg_ct_hex_eq(S("58DF8B0C36D6"), S("58df8b0c36d6")), 1);
    assert_int_equal(pg_ct_hex_eq(S("58dF8b0C36d6"), S("58Df8B0c36D6")), 1);
    assert_int_equal(pg_ct_hex_eq(S("58df8b0c36d7"), S("58df8b0c36d6")), 0);
    assert_int_equal(pg_ct_hex_eq(S("58df8b0c36d"), S("58df8b0c36d6")), 0);
    assert_int_equal(pg_ct_hex_eq(S("58df8b0c36d6"), S("58df8b0c36d66")), 0);
    /* Only ASCII letters fold: '@' (0x40) is not '`' (0x60). */
    assert_int_equal(pg_ct_hex_eq(S("@"), S("`")), 0);
    assert_int_equal(pg_ct_hex_eq("", 0, "", 0), 1);

    /* Over 128 chars never compares equal, even to itself. */
    memset(big, 'a', sizeof big);
    assert_int_equal(pg_ct_hex_eq(big, 128, big, 128), 1);
    assert_int_equal(pg_ct_hex_eq(big, 129, big, 129), 0);
}

static void test_b64_encode(void **state)
{
    (void)state;
    char out[64];

    assert_int_equal(pg_b64_encoded_len(0), 1);
    assert_int_equal(pg_b64_encoded_len(1), 5);
    assert_int_equal(pg_b64_encoded_len(3), 5);
    assert_int_equal(pg_b64_encoded_len(32), 45);

    pg_b64_encode((const unsigned char *)"", 0, out);
    assert_string_equal(out, "");
    pg_b64_encode((const unsigned char *)"f", 1, out);
    assert_string_equal(out, "Zg==");
    pg_b64_encode((const unsigned char *)"fo", 2, out);
    assert_string_equal(out, "Zm8=");
    pg_b64_encode((const unsigned char *)"foobar", 6, out);
    assert_string_equal(out, "Zm9vYmFy");
    /* The ORIGINAL alphabet: 0xfb 0xff -> "+/8=" (not "-_8"). */
    pg_b64_encode((const unsigned char *)"\xfb\xff", 2, out);
    assert_string_equal(out, "+/8=");
}

static void test_b64_decode(void **state)
{
    (void)state;
    unsigned char out[16];
    size_t n = 99;

    assert_int_equal(pg_b64_decode(S("Zm9vYmFy"), out, sizeof out, &n), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "foobar", 6);
    assert_int_equal(pg_b64_decode(S("Zm8="), out, sizeof out, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "fo", 2);
    assert_int_equal(pg_b64_decode(S("+/8="), out, sizeof out, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "\xfb\xff", 2);
    assert_int_equal(pg_b64_decode("", 0, out, sizeof out, &n), 0);
    assert_int_equal(n, 0);

    assert_int_equal(pg_b64_decode(S("Zm8"), out, sizeof out, &n), -EINVAL);   /* no padding */
    assert_int_equal(pg_b64_decode(S("Zm8=="), out, sizeof out, &n), -EINVAL); /* extra pad */
    assert_int_equal(pg_b64_decode(S("Zm*v"), out, sizeof out, &n), -EINVAL);  /* bad char */
    assert_int_equal(pg_b64_decode(S("-_8="), out, sizeof out, &n), -EINVAL);  /* URL alphabet */
    assert_int_equal(pg_b64_decode(S("Zm9v "), out, sizeof out, &n), -EINVAL); /* trailing */
    assert_int_equal(pg_b64_decode(S("Zm9vYmFy"), out, 5, &n), -EINVAL);       /* too small */
}

/* Spec 6.3: shared_secret = base64(SHA-256(channel || master key)). */
static void derive(const char *channel, unsigned char key[32])
{
    unsigned char master[32];
    size_t mlen = 0;
    struct pg_sha256 s;

    assert_int_equal(pg_b64_decode(S("zyrm8pvV2C9fJcBfhyXzvxbJVN/H7QLmbe0xJi1GhPU="), master,
                                   sizeof master, &mlen),
                     0);
    assert_int_equal(mlen, 32);
    pg_sha256_init(&s);
    pg_sha256_update(&s, channel, strlen(channel));
    pg_sha256_update(&s, master, sizeof master);
    pg_sha256_final(&s, key);
}

static void test_encrypted_shared_secret(void **state)
{
    (void)state;
    unsigned char key[32], again[32], master[32];
    unsigned char buf[21 + 32];
    char b64[45];
    size_t mlen;

    derive("private-encrypted-bla", key);
    assert_int_equal(pg_b64_encoded_len(sizeof key), sizeof b64);
    pg_b64_encode(key, sizeof key, b64);
    assert_string_equal(b64, "nlr49ISQHz91yS3cy/yWmW8wFMNeTnNL5tNHnbPJcLQ=");

    /* One-shot over the concatenation gives the same key. */
    assert_int_equal(pg_b64_decode(S("zyrm8pvV2C9fJcBfhyXzvxbJVN/H7QLmbe0xJi1GhPU="), master,
                                   sizeof master, &mlen),
                     0);
    memcpy(buf, "private-encrypted-bla", 21);
    memcpy(buf + 21, master, 32);
    pg_sha256(buf, sizeof buf, again);
    assert_memory_equal(key, again, 32);

    /* A different channel gives a different key. */
    derive("private-encrypted-blb", again);
    assert_memory_not_equal(key, again, 32);
}

static void test_encrypted_secretbox_vector(void **state)
{
    (void)state;
    static const char msg[] = "{\"message\":\"hello\"}";
    unsigned char key[32], nonce[crypto_secretbox_NONCEBYTES];
    unsigned char ct[sizeof msg - 1 + crypto_secretbox_MACBYTES], ct2[64], pt[64];
    char b64[64];
    size_t n;

    derive("private-encrypted-bla", key);
    for (size_t i = 0; i < sizeof nonce; i++)
        nonce[i] = (unsigned char)i;
    pg_b64_encode(nonce, sizeof nonce, b64);
    assert_string_equal(b64, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX");

    assert_int_equal(sizeof ct, 35);
    assert_int_equal(
        crypto_secretbox_easy(ct, (const unsigned char *)msg, sizeof msg - 1, nonce, key), 0);
    pg_b64_encode(ct, sizeof ct, b64);
    assert_string_equal(b64, "6rVSuKAuBIv93dzoqJgh+AEidySHWH/MlDfFNmdv+bWcdCM=");

    /* And back: decode the spec's ciphertext, open it. */
    assert_int_equal(
        pg_b64_decode(S("6rVSuKAuBIv93dzoqJgh+AEidySHWH/MlDfFNmdv+bWcdCM="), ct2, sizeof ct2, &n),
        0);
    assert_int_equal(n, 35);
    assert_int_equal(crypto_secretbox_open_easy(pt, ct2, n, nonce, key), 0);
    assert_memory_equal(pt, msg, sizeof msg - 1);
    ct2[0] ^= 1;
    assert_int_equal(crypto_secretbox_open_easy(pt, ct2, n, nonce, key), -1);
}

static void test_rand(void **state)
{
    (void)state;
    unsigned char a[32], b[32], zero[32] = {0};
    uint32_t first = pg_rand_u32();
    int varied = 0;

    pg_rand_buf(a, sizeof a);
    pg_rand_buf(b, sizeof b);
    assert_memory_not_equal(a, b, sizeof a);
    assert_memory_not_equal(a, zero, sizeof a);
    for (int i = 0; i < 16; i++)
        varied |= pg_rand_u32() != first;
    assert_true(varied);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_hmac_spec_vectors),
        cmocka_unit_test(test_hmac_streaming_matches_oneshot),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_md5),
        cmocka_unit_test(test_ct_eq),
        cmocka_unit_test(test_ct_hex_eq),
        cmocka_unit_test(test_b64_encode),
        cmocka_unit_test(test_b64_decode),
        cmocka_unit_test(test_encrypted_shared_secret),
        cmocka_unit_test(test_encrypted_secretbox_vector),
        cmocka_unit_test(test_rand),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
