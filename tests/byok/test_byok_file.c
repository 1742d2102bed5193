/* Unit tests of the .byok file parser and writer, and of base64url. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "tools/byok_file.h"

#define GOOD_HEADER                                                                                \
	"\"header\":{\"kid\":\"pkcs11:object=kek\",\"alg\":\"dir\",\"enc\":\"CKM_RSA_AES_KEY_"     \
	"WRAP\"}"

/* "hello" is aGVsbG8 in base64url. */
static const char good[] = "{\"schema_version\":\"1.0.0\"," GOOD_HEADER
                           ",\"ciphertext\":\"aGVsbG8\",\"generator\":\"test\"}";

static int parse(const char *json, char *err, size_t err_len)
{
	struct byok_file f;
	int ret = byok_file_parse(json, strlen(json), &f, err, err_len);

	byok_file_cleanup(&f);
	return ret;
}

static void test_file_parse_good(void)
{
	struct byok_file f;
	char err[256] = "";

	CU_ASSERT_EQUAL_FATAL(byok_file_parse(good, strlen(good), &f, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(f.kid, "pkcs11:object=kek");
	CU_ASSERT_STRING_EQUAL(f.generator, "test");
	CU_ASSERT_EQUAL(f.ciphertext_len, 5);
	CU_ASSERT_EQUAL(memcmp(f.ciphertext, "hello", 5), 0);
	byok_file_cleanup(&f);
	CU_ASSERT_PTR_NULL(f.kid);
}

/* Each case: a bad file and a word that the error message must contain. */
static const struct {
	const char *json;
	const char *reason;
} bad_cases[] = {
    {"", "invalid JSON"},
    {"{\"schema_version\":\"1.0.0\"", "invalid JSON"},
    {"[]", "not a JSON object"},
    {"{\"schema_version\":\"1.0.0\"," GOOD_HEADER ",\"ciphertext\":\"aGVsbG8\"}",
     "no \"generator\""},
    {"{\"schema_version\":\"1.0.0\"," GOOD_HEADER
     ",\"ciphertext\":\"aGVsbG8\",\"generator\":\"t\",\"extra\":1}",
     "unknown member \"extra\""},
    {"{\"schema_version\":\"2.0.0\"," GOOD_HEADER
     ",\"ciphertext\":\"aGVsbG8\",\"generator\":\"t\"}",
     "\"schema_version\""},
    {"{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"dir\","
     "\"enc\":\"CKM_RSA_PKCS_OAEP\"},\"ciphertext\":\"aGVsbG8\",\"generator\":\"t\"}",
     "\"enc\""},
    {"{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"RSA-OAEP\","
     "\"enc\":\"CKM_RSA_AES_KEY_WRAP\"},\"ciphertext\":\"aGVsbG8\",\"generator\":\"t\"}",
     "\"alg\""},
    {"{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"dir\"},"
     "\"ciphertext\":\"aGVsbG8\",\"generator\":\"t\"}",
     "no \"enc\""},
    {"{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"k\",\"alg\":\"dir\","
     "\"enc\":\"CKM_RSA_AES_KEY_WRAP\",\"x5t\":\"a\"},\"ciphertext\":\"aGVsbG8\","
     "\"generator\":\"t\"}",
     "unknown member \"x5t\""},
    {"{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":\"\",\"alg\":\"dir\","
     "\"enc\":\"CKM_RSA_AES_KEY_WRAP\"},\"ciphertext\":\"aGVsbG8\",\"generator\":\"t\"}",
     "\"kid\" is empty"},
    {"{\"schema_version\":\"1.0.0\",\"header\":{\"kid\":7,\"alg\":\"dir\","
     "\"enc\":\"CKM_RSA_AES_KEY_WRAP\"},\"ciphertext\":\"aGVsbG8\",\"generator\":\"t\"}",
     "\"kid\" is not a string"},
    {"{\"schema_version\":\"1.0.0\",\"header\":\"x\",\"ciphertext\":\"aGVsbG8\","
     "\"generator\":\"t\"}",
     "\"header\" is not an object"},
    {"{\"schema_version\":\"1.0.0\"," GOOD_HEADER
     ",\"ciphertext\":\"aGVsbG8=\",\"generator\":\"t\"}",
     "base64url"},
    {"{\"schema_version\":\"1.0.0\"," GOOD_HEADER
     ",\"ciphertext\":\"a+/sbG8\",\"generator\":\"t\"}",
     "base64url"},
    {"{\"schema_version\":\"1.0.0\"," GOOD_HEADER
     ",\"ciphertext\":\"aGVsbG9\",\"generator\":\"t\"}",
     "base64url"},
    {"{\"schema_version\":\"1.0.0\"," GOOD_HEADER ",\"ciphertext\":\"aGVsb\",\"generator\":\"t\"}",
     "base64url"},
    {"{\"schema_version\":\"1.0.0\"," GOOD_HEADER ",\"ciphertext\":\"\",\"generator\":\"t\"}",
     "is empty"},
    {"{\"schema_version\":\"1.0.0\",\"schema_version\":\"1.0.0\"," GOOD_HEADER
     ",\"ciphertext\":\"aGVsbG8\",\"generator\":\"t\"}",
     "invalid JSON"},
};

static void test_file_parse_bad(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		char err[256] = "";

		CU_ASSERT_EQUAL(parse(bad_cases[i].json, err, sizeof(err)), -1);
		if (!strstr(err, bad_cases[i].reason))
			fprintf(stderr, "case %zu: expected '%s' in '%s'\n", i, bad_cases[i].reason,
			        err);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad_cases[i].reason));
	}
}

static void test_file_parse_nul_in_json(void)
{
	static const char json[] = "{\"schema_version\":\"1.0.0\"}\0 trailing";
	struct byok_file f;
	char err[256] = "";

	CU_ASSERT_EQUAL(byok_file_parse(json, sizeof(json) - 1, &f, err, sizeof(err)), -1);
}

/* RFC 4648 section 10's vectors, in the URL alphabet and without padding. */
static void test_base64url_vectors(void)
{
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const coded[] = {"",       "Zg",      "Zm8",     "Zm9v",
	                                    "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};

	for (size_t i = 0; i < 7; i++) {
		char *text =
		    byok_base64url_encode((const unsigned char *)plain[i], strlen(plain[i]));
		unsigned char *bin = NULL;
		size_t len = 0;

		CU_ASSERT_STRING_EQUAL(text, coded[i]);
		CU_ASSERT_EQUAL(byok_base64url_decode(coded[i], &bin, &len), 0);
		CU_ASSERT_EQUAL(len, strlen(plain[i]));
		CU_ASSERT_EQUAL(memcmp(bin, plain[i], len), 0);
		free(text);
		free(bin);
	}
}

static void test_base64url_alphabet(void)
{
	static const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
	char *text = byok_base64url_encode(bytes, 3);
	unsigned char *bin = NULL;
	size_t len;

	CU_ASSERT_STRING_EQUAL(text, "-_-_");
	free(text);
	CU_ASSERT_EQUAL(byok_base64url_decode("+/+/", &bin, &len), -1);
	CU_ASSERT_EQUAL(byok_base64url_decode("-_-_\n", &bin, &len), -1);
	CU_ASSERT_EQUAL(byok_base64url_decode(" -_-_", &bin, &len), -1);
	CU_ASSERT_EQUAL(byok_base64url_decode("-_-_-", &bin, &len), -1);
	CU_ASSERT_PTR_NULL(bin);
}

static void test_file_write_read(void)
{
	unsigned char ciphertext[300];
	struct byok_file out = {.kid = "pkcs11:token=t;object=k",
	                        .generator = "hsmux test",
	                        .ciphertext = ciphertext,
	                        .ciphertext_len = sizeof(ciphertext)};
	struct byok_file in;
	char path[64], err[256] = "";

	for (size_t i = 0; i < sizeof(ciphertext); i++)
		ciphertext[i] = (unsigned char)(i * 7);
	snprintf(path, sizeof(path), "/tmp/test_byok_file.%d.byok", (int)getpid());
	CU_ASSERT_EQUAL_FATAL(byok_file_write(path, &out, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(byok_file_read(path, &in, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(in.kid, out.kid);
	CU_ASSERT_STRING_EQUAL(in.generator, out.generator);
	CU_ASSERT_EQUAL(in.ciphertext_len, sizeof(ciphertext));
	CU_ASSERT_EQUAL(memcmp(in.ciphertext, ciphertext, sizeof(ciphertext)), 0);
	byok_file_cleanup(&in);
	unlink(path);

	CU_ASSERT_EQUAL(byok_file_read(path, &in, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot open"));
}

int main(void)
{
	CU_pSuite suite;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("byok_file", NULL, NULL);
	CU_add_test(suite, "test_file_parse_good", test_file_parse_good);
	CU_add_test(suite, "test_file_parse_bad", test_file_parse_bad);
	CU_add_test(suite, "test_file_parse_nul_in_json", test_file_parse_nul_in_json);
	CU_add_test(suite, "test_base64url_vectors", test_base64url_vectors);
	CU_add_test(suite, "test_base64url_alphabet", test_base64url_alphabet);
	CU_add_test(suite, "test_file_write_read", test_file_write_read);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned int failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
