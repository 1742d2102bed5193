/* Unit tests of the KEK identifiers: pkcs11: URIs (RFC 7512), fingerprints and --id hex. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <openssl/evp.h>

#include "tools/byok_p11.h"

static const unsigned char kek_id[] = {0x01, 0xab, 0x3b, 0x20};

static void test_kid_uri_format(void)
{
	char *uri = byok_key_uri("pay ments", "kek;1", kek_id, sizeof(kek_id), "private");

	CU_ASSERT_STRING_EQUAL(uri, "pkcs11:token=pay%20ments;object=kek%3B1;id=%01%AB%3B%20;"
	                            "type=private");
	free(uri);
	uri = byok_key_uri("t", "k", NULL, 0, "secret-key");
	CU_ASSERT_STRING_EQUAL(uri, "pkcs11:token=t;object=k;type=secret-key");
	free(uri);
}

static void test_kid_uri_round_trip(void)
{
	char *uri = byok_key_uri("pay ments", "kek;1", kek_id, sizeof(kek_id), "private");

	CU_ASSERT_TRUE(byok_kid_matches(uri, "pay ments", "kek;1", kek_id, sizeof(kek_id), NULL));
	CU_ASSERT_FALSE(byok_kid_matches(uri, "payments", "kek;1", kek_id, sizeof(kek_id), NULL));
	CU_ASSERT_FALSE(byok_kid_matches(uri, "pay ments", "kek;2", kek_id, sizeof(kek_id), NULL));
	CU_ASSERT_FALSE(byok_kid_matches(uri, "pay ments", "kek;1", kek_id, 3, NULL));
	free(uri);
}

static void test_kid_uri_attributes(void)
{
	/* Only the attributes present must match; one of object and id is needed. */
	CU_ASSERT_TRUE(byok_kid_matches("pkcs11:object=kek", "t", "kek", kek_id, 4, NULL));
	CU_ASSERT_TRUE(byok_kid_matches("pkcs11:id=%01%ab%3b%20", "t", "x", kek_id, 4, NULL));
	CU_ASSERT_TRUE(
	    byok_kid_matches("pkcs11:object=kek?pin-source=x", "t", "kek", NULL, 0, NULL));
	CU_ASSERT_TRUE(
	    byok_kid_matches("pkcs11:manufacturer=x;object=kek", "t", "kek", NULL, 0, NULL));
	CU_ASSERT_FALSE(byok_kid_matches("pkcs11:token=t", "t", "kek", kek_id, 4, NULL));
	CU_ASSERT_FALSE(byok_kid_matches("pkcs11:", "t", "kek", kek_id, 4, NULL));
	CU_ASSERT_FALSE(
	    byok_kid_matches("pkcs11:object=kek;type=public", "t", "kek", NULL, 0, NULL));
	CU_ASSERT_FALSE(byok_kid_matches("pkcs11:object=ke%6", "t", "kek", NULL, 0, NULL));
	CU_ASSERT_FALSE(byok_kid_matches("pkcs11:object=ke%zz", "t", "kek", NULL, 0, NULL));
	CU_ASSERT_FALSE(byok_kid_matches("pkcs11:object", "t", "kek", NULL, 0, NULL));
	CU_ASSERT_TRUE(byok_kid_matches("pkcs11:object=ke%6B", "t", "kek", NULL, 0, NULL));
}

static void test_kid_fingerprint(void)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	char fingerprint[80], upper[80];

	CU_ASSERT_EQUAL_FATAL(byok_kek_fingerprint(pkey, fingerprint, sizeof(fingerprint)), 0);
	CU_ASSERT_EQUAL(strlen(fingerprint), 7 + 64);
	CU_ASSERT_EQUAL(strncmp(fingerprint, "sha256:", 7), 0);
	CU_ASSERT_TRUE(byok_kid_matches(fingerprint, "t", "kek", NULL, 0, fingerprint));
	for (size_t i = 0; i <= strlen(fingerprint); i++)
		upper[i] = i < 7 ? fingerprint[i] : (char)toupper((unsigned char)fingerprint[i]);
	CU_ASSERT_TRUE(byok_kid_matches(upper, "t", "kek", NULL, 0, fingerprint));
	CU_ASSERT_FALSE(byok_kid_matches("sha256:00", "t", "kek", NULL, 0, fingerprint));
	CU_ASSERT_FALSE(byok_kid_matches(fingerprint, "t", "kek", NULL, 0, NULL));
	CU_ASSERT_EQUAL(byok_kek_fingerprint(pkey, fingerprint, 40), -1);
	EVP_PKEY_free(pkey);
}

static void test_kid_label(void)
{
	CU_ASSERT_TRUE(byok_kid_matches("kek", "t", "kek", NULL, 0, NULL));
	CU_ASSERT_FALSE(byok_kid_matches("kek2", "t", "kek", NULL, 0, NULL));
	CU_ASSERT_FALSE(byok_kid_matches("https://vault/keys/kek", "t", "kek", NULL, 0, NULL));
}

static void test_hex_decode(void)
{
	size_t len = 0;
	unsigned char *bin = byok_hex_decode("01aB3b20", &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(bin);
	CU_ASSERT_EQUAL(len, 4);
	CU_ASSERT_EQUAL(memcmp(bin, kek_id, 4), 0);
	free(bin);
	CU_ASSERT_PTR_NULL(byok_hex_decode("", &len));
	CU_ASSERT_PTR_NULL(byok_hex_decode("abc", &len));
	CU_ASSERT_PTR_NULL(byok_hex_decode("0g", &len));
}

int main(void)
{
	CU_pSuite suite;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("byok_kid", NULL, NULL);
	CU_add_test(suite, "test_kid_uri_format", test_kid_uri_format);
	CU_add_test(suite, "test_kid_uri_round_trip", test_kid_uri_round_trip);
	CU_add_test(suite, "test_kid_uri_attributes", test_kid_uri_attributes);
	CU_add_test(suite, "test_kid_fingerprint", test_kid_fingerprint);
	CU_add_test(suite, "test_kid_label", test_kid_label);
	CU_add_test(suite, "test_hex_decode", test_hex_decode);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
