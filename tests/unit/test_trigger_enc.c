/* test_trigger_enc.c - REST trigger bodies on private-encrypted channels (pg_trigger; spec 6.3):
 * envelopes without a master key, and plaintext the gateway encrypts with one. */
#include "test_trigger_util.h"

/* ---- private-encrypted ---- */

#define ENC_BODY(data)                                                                             \
    "{\"name\":\"secret\",\"channel\":\"private-encrypted-bla\",\"data\":" data "}"
#define ENC_ERR "private-encrypted channels require an encrypted payload"

static void test_encrypted_good(void **state)
{
    (void)state;
    struct pg_trigger t;
    const char *env = "{\"nonce\":\"" NONCE24 "\",\"ciphertext\":\"" CT35 "\"}";
    assert_int_equal(parse(&t,
                           ENC_BODY("\"{\\\"nonce\\\":\\\"" NONCE24
                                    "\\\",\\\"ciphertext\\\":\\\"" CT35 "\\\"}\""),
                           false),
                     0);
    assert_int_equal(t.ev[0].chans[0].kind & PG_CHAN_ENCRYPTED, PG_CHAN_ENCRYPTED);
    assert_int_equal(t.ev[0].dlen, strlen(env));
    assert_memory_equal(t.ev[0].data, env, strlen(env)); /* relayed untouched */
    pg_trigger_dispose(&t);

    /* the envelope as a JSON object (serialized), extra members, and a 16-byte ciphertext */
    assert_int_equal(parse(&t,
                           ENC_BODY("{\"nonce\":\"" NONCE24
                                    "\",\"ciphertext\":\"AAECAwQFBgcICQoLDA0ODw==\",\"v\":1}"),
                           false),
                     0);
    pg_trigger_dispose(&t);

    /* private-encrypted-cache- is encrypted too */
    assert_int_equal(parse(&t,
                           "{\"name\":\"e\",\"channel\":\"private-encrypted-cache-x\",\"data\":{"
                           "\"nonce\":\"" NONCE24 "\",\"ciphertext\":\"" CT35 "\"}}",
                           false),
                     0);
    pg_trigger_dispose(&t);
}

static void test_encrypted_bad(void **state)
{
    (void)state;
    const char *bad[] = {
        /* plaintext */
        ENC_BODY("\"top secret plaintext\""),
        ENC_BODY("\"{\\\"message\\\":\\\"top secret plaintext\\\"}\""),
        ENC_BODY("{\"message\":\"top secret plaintext\"}"),
        ENC_BODY("\"\""),
        /* bad base64 */
        ENC_BODY("{\"nonce\":\"!!!!AECAwQFBgcICQoLDA0ODxAREhMUFRYX\",\"ciphertext\":\"" CT35 "\"}"),
        ENC_BODY("{\"nonce\":\"" NONCE24 "\",\"ciphertext\":\"not base64 at all\"}"),
        ENC_BODY("{\"nonce\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX\\n\",\"ciphertext\":\"" CT35 "\"}"),
        /* 23- and 25-byte nonces */
        ENC_BODY("{\"nonce\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRY=\",\"ciphertext\":\"" CT35 "\"}"),
        ENC_BODY("{\"nonce\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGA==\",\"ciphertext\":\"" CT35
                 "\"}"),
        /* ciphertext shorter than the 16-byte MAC */
        ENC_BODY("{\"nonce\":\"" NONCE24 "\",\"ciphertext\":\"AAECAwQFBgcICQoLDA0O\"}"),
        ENC_BODY("{\"nonce\":\"" NONCE24 "\",\"ciphertext\":\"\"}"),
        /* wrong types, missing members, not an object */
        ENC_BODY("{\"nonce\":24,\"ciphertext\":\"" CT35 "\"}"),
        ENC_BODY("{\"ciphertext\":\"" CT35 "\"}"),
        ENC_BODY("{\"nonce\":\"" NONCE24 "\"}"),
        ENC_BODY("[\"" NONCE24 "\",\"" CT35 "\"]"),
        ENC_BODY("\"{\\\"nonce\\\":\\\"" NONCE24 "\\\",\\\"ciphertext\\\":\\\"" CT35 "\\\"} x\""),
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        expect_400(bad[i], false, ENC_ERR);
        assert_null(strstr(err, "top secret")); /* never echoes the data */
    }
    /* the same rules for a batch item */
    expect_400(
        "{\"batch\":[{\"name\":\"e\",\"channel\":\"private-encrypted-x\",\"data\":\"plain\"}]}",
        true, "batch[0]: " ENC_ERR);
}

static void test_encrypted_multi_channel(void **state)
{
    (void)state;
    const char *good_env =
        "\"{\\\"nonce\\\":\\\"" NONCE24 "\\\",\\\"ciphertext\\\":\\\"" CT35 "\\\"}\"";
    char body[512];
    snprintf(body, sizeof body,
             "{\"name\":\"e\",\"data\":%s,\"channels\":[\"private-encrypted-a\",\"public\"]}",
             good_env);
    expect_400(body, false, "more than one channel when one is private-encrypted-");
    snprintf(body, sizeof body,
             "{\"name\":\"e\",\"data\":%s,\"channels\":[\"x\",\"private-encrypted-a\","
             "\"private-encrypted-b\"]}",
             good_env);
    expect_400(body, false, "more than one channel when one is private-encrypted-");
    /* private- (not encrypted) channels may be combined */
    struct pg_trigger t;
    assert_int_equal(
        parse(&t, "{\"name\":\"e\",\"data\":\"d\",\"channels\":[\"private-a\",\"private-b\"]}",
              false),
        0);
    assert_int_equal(t.ev[0].nchan, 2);
    pg_trigger_dispose(&t);
}

/* ---- private-encrypted with a master key: the gateway encrypts plaintext ---- */

static void set_key(void)
{
    app.has_encryption_key = true;
    for (int i = 0; i < 32; i++)
        app.encryption_master_key[i] = (unsigned char)(0xA0 + i);
}

static void test_encrypted_with_key_plaintext(void **state)
{
    (void)state;
    struct pg_trigger t;
    set_key();
    const char *plain[] = {
        ENC_BODY("\"top secret plaintext\""),
        ENC_BODY("{\"message\":\"top secret plaintext\"}"),
        ENC_BODY("\"\""),
        /* a broken envelope is plaintext too (encrypted, not refused) */
        ENC_BODY("{\"nonce\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRY=\",\"ciphertext\":\"" CT35 "\"}"),
    };
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        if (parse(&t, plain[i], false) != 0)
            fail_msg("body %s: %s", plain[i], err);
        assert_true(t.ev[0].encrypt);
        assert_int_equal(t.ev[0].nchan, 1);
        pg_trigger_dispose(&t);
    }
    /* the plaintext is kept byte for byte for the publisher to encrypt */
    assert_int_equal(parse(&t, ENC_BODY("{\"message\":\"hello\"}"), false), 0);
    assert_int_equal(t.ev[0].dlen, 19);
    assert_memory_equal(t.ev[0].data, "{\"message\":\"hello\"}", 19);
    pg_trigger_dispose(&t);
    /* private-encrypted-cache- as well, and batch items (single channel each) */
    assert_int_equal(
        parse(&t, "{\"name\":\"e\",\"channel\":\"private-encrypted-cache-x\",\"data\":\"p\"}",
              false),
        0);
    assert_true(t.ev[0].encrypt);
    pg_trigger_dispose(&t);
    assert_int_equal(
        parse(&t,
              "{\"batch\":[{\"name\":\"e\",\"channel\":\"private-encrypted-x\","
              "\"data\":\"plain\"},{\"name\":\"e\",\"channel\":\"public\",\"data\":\"p\"}]}",
              true),
        0);
    assert_true(t.ev[0].encrypt);
    assert_false(t.ev[1].encrypt);
    pg_trigger_dispose(&t);
}

static void test_encrypted_with_key_envelope(void **state)
{
    (void)state;
    struct pg_trigger t;
    set_key();
    const char *env = "{\"nonce\":\"" NONCE24 "\",\"ciphertext\":\"" CT35 "\"}";
    /* already encrypted by the server library: relayed untouched, never encrypted twice */
    assert_int_equal(parse(&t,
                           ENC_BODY("\"{\\\"nonce\\\":\\\"" NONCE24
                                    "\\\",\\\"ciphertext\\\":\\\"" CT35 "\\\"}\""),
                           false),
                     0);
    assert_false(t.ev[0].encrypt);
    assert_int_equal(t.ev[0].dlen, strlen(env));
    assert_memory_equal(t.ev[0].data, env, strlen(env));
    pg_trigger_dispose(&t);
    /* other channels are never encrypted */
    assert_int_equal(parse(&t, "{\"name\":\"e\",\"channel\":\"private-x\",\"data\":\"p\"}", false),
                     0);
    assert_false(t.ev[0].encrypt);
    pg_trigger_dispose(&t);
}

static void test_encrypted_with_key_multi_channel(void **state)
{
    (void)state;
    set_key();
    expect_400("{\"name\":\"e\",\"data\":\"p\",\"channels\":[\"private-encrypted-a\",\"public\"]}",
               false, "more than one channel when one is private-encrypted-");
    expect_400("{\"name\":\"e\",\"data\":\"p\",\"channels\":[\"private-encrypted-a\","
               "\"private-encrypted-b\"]}",
               false, "more than one channel when one is private-encrypted-");
    /* the same channel twice is one channel after dedupe, but still named twice: refused */
    expect_400("{\"name\":\"e\",\"data\":\"p\",\"channels\":[\"private-encrypted-a\","
               "\"private-encrypted-a\"]}",
               false, "more than one channel when one is private-encrypted-");
}

static void test_encrypted_without_key_still_refused(void **state)
{
    (void)state;
    struct pg_trigger t;
    /* the key bytes alone do not count: has_encryption_key decides */
    for (int i = 0; i < 32; i++)
        app.encryption_master_key[i] = 1;
    expect_400(ENC_BODY("\"top secret plaintext\""), false, ENC_ERR);
    assert_null(strstr(err, "top secret"));
    assert_int_equal(parse(&t,
                           "{\"name\":\"e\",\"channel\":\"private-encrypted-x\",\"data\":{"
                           "\"nonce\":\"" NONCE24 "\",\"ciphertext\":\"" CT35 "\"}}",
                           false),
                     0);
    assert_false(t.ev[0].encrypt);
    pg_trigger_dispose(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_encrypted_good, setup),
        cmocka_unit_test_setup(test_encrypted_bad, setup),
        cmocka_unit_test_setup(test_encrypted_multi_channel, setup),
        cmocka_unit_test_setup(test_encrypted_with_key_plaintext, setup),
        cmocka_unit_test_setup(test_encrypted_with_key_envelope, setup),
        cmocka_unit_test_setup(test_encrypted_with_key_multi_channel, setup),
        cmocka_unit_test_setup(test_encrypted_without_key_still_refused, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
