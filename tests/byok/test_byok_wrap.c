/*
 * Unit tests of the customer-side wrap code: RFC 5649's published vectors
 * (section 6), and CKM_RSA_AES_KEY_WRAP blobs taken apart again with plain
 * OpenSSL calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "tools/byok_wrap.h"

/* RFC 5649 section 6: the KEK of both examples (192 bits). */
static const unsigned char rfc5649_kek[24] = {
    0x58, 0x40, 0xdf, 0x6e, 0x29, 0xb0, 0x2a, 0xf1, 0xab, 0x49, 0x3b, 0x70,
    0x5b, 0xf1, 0x6e, 0xa1, 0xae, 0x83, 0x38, 0xf4, 0xdc, 0xc1, 0x76, 0xa8,
};

/* RFC 5649 section 6, first example: a 20-octet key. */
static const unsigned char rfc5649_key20[20] = {
    0xc3, 0x7b, 0x7e, 0x64, 0x92, 0x58, 0x43, 0x40, 0xbe, 0xd1,
    0x22, 0x07, 0x80, 0x89, 0x41, 0x15, 0x50, 0x68, 0xf7, 0x38,
};
static const unsigned char rfc5649_wrap20[32] = {
    0x13, 0x8b, 0xde, 0xaa, 0x9b, 0x8f, 0xa7, 0xfc, 0x61, 0xf9, 0x77, 0x42, 0xe7, 0x22, 0x48, 0xee,
    0x5a, 0xe6, 0xae, 0x53, 0x60, 0xd1, 0xae, 0x6a, 0x5f, 0x54, 0xf3, 0x73, 0xfa, 0x54, 0x3b, 0x6a,
};

/* RFC 5649 section 6, second example: a 7-octet key. */
static const unsigned char rfc5649_key7[7] = {0x46, 0x6f, 0x72, 0x50, 0x61, 0x73, 0x69};
static const unsigned char rfc5649_wrap7[16] = {
    0xaf, 0xbe, 0xb0, 0xf0, 0x7d, 0xfb, 0xf5, 0x41, 0x92, 0x00, 0xf2, 0xcc, 0xb5, 0x0b, 0xb2, 0x4f,
};

static void test_kwp_rfc5649_wrap_20(void)
{
	unsigned char out[BYOK_KWP_WRAPPED_LEN(20)];
	size_t out_len = 0;

	CU_ASSERT_EQUAL_FATAL(byok_kwp_wrap(rfc5649_kek, 24, rfc5649_key20, 20, out, &out_len), 0);
	CU_ASSERT_EQUAL(out_len, sizeof(rfc5649_wrap20));
	CU_ASSERT_EQUAL(memcmp(out, rfc5649_wrap20, sizeof(rfc5649_wrap20)), 0);
}

static void test_kwp_rfc5649_wrap_7(void)
{
	unsigned char out[BYOK_KWP_WRAPPED_LEN(7)];
	size_t out_len = 0;

	CU_ASSERT_EQUAL_FATAL(byok_kwp_wrap(rfc5649_kek, 24, rfc5649_key7, 7, out, &out_len), 0);
	CU_ASSERT_EQUAL(out_len, sizeof(rfc5649_wrap7));
	CU_ASSERT_EQUAL(memcmp(out, rfc5649_wrap7, sizeof(rfc5649_wrap7)), 0);
}

static void test_kwp_rfc5649_unwrap(void)
{
	unsigned char out[32];
	size_t out_len = 0;

	CU_ASSERT_EQUAL_FATAL(byok_kwp_unwrap(rfc5649_kek, 24, rfc5649_wrap20, 32, out, &out_len),
	                      0);
	CU_ASSERT_EQUAL(out_len, 20);
	CU_ASSERT_EQUAL(memcmp(out, rfc5649_key20, 20), 0);

	CU_ASSERT_EQUAL_FATAL(byok_kwp_unwrap(rfc5649_kek, 24, rfc5649_wrap7, 16, out, &out_len),
	                      0);
	CU_ASSERT_EQUAL(out_len, 7);
	CU_ASSERT_EQUAL(memcmp(out, rfc5649_key7, 7), 0);
}

static void test_kwp_unwrap_tampered(void)
{
	unsigned char bad[32], out[32];
	size_t out_len = 0;

	memcpy(bad, rfc5649_wrap20, sizeof(bad));
	bad[5] ^= 0x01;
	CU_ASSERT_EQUAL(byok_kwp_unwrap(rfc5649_kek, 24, bad, 32, out, &out_len), -1);
	CU_ASSERT_EQUAL(byok_kwp_unwrap(rfc5649_kek, 24, rfc5649_wrap20, 24, out, &out_len), -1);
	CU_ASSERT_EQUAL(byok_kwp_unwrap(rfc5649_kek, 24, rfc5649_wrap20, 31, out, &out_len), -1);
	CU_ASSERT_EQUAL(byok_kwp_unwrap(rfc5649_kek, 24, rfc5649_wrap7, 8, out, &out_len), -1);
}

static void test_kwp_bad_kek_length(void)
{
	unsigned char out[32];
	size_t out_len = 0;

	CU_ASSERT_EQUAL(byok_kwp_wrap(rfc5649_kek, 20, rfc5649_key7, 7, out, &out_len), -1);
	CU_ASSERT_EQUAL(byok_kwp_wrap(rfc5649_kek, 24, rfc5649_key7, 0, out, &out_len), -1);
}

static EVP_PKEY *rsa_generate(unsigned int bits)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
}

/* Takes a blob apart with plain EVP calls, as an HSM does on import. */
static int oaep_decrypt(EVP_PKEY *kek, const EVP_MD *md, const unsigned char *in, size_t in_len,
                        unsigned char *out, size_t *out_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(kek, NULL);
	int ok;

	ok = ctx && EVP_PKEY_decrypt_init(ctx) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
	     EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) == 1 &&
	     EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1 &&
	     EVP_PKEY_decrypt(ctx, out, out_len, in, in_len) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

static void check_rsa_aes_wrap(enum byok_oaep_hash hash, const EVP_MD *md, const EVP_MD *other)
{
	static const unsigned char target[] = "a target key of 33 bytes, odd....";
	unsigned char aes[512], plain[64], *blob = NULL;
	size_t blob_len = 0, aes_len = sizeof(aes), plain_len = 0;
	EVP_PKEY *kek = rsa_generate(2048);
	char err[256];

	CU_ASSERT_PTR_NOT_NULL_FATAL(kek);
	CU_ASSERT_EQUAL_FATAL(
	    byok_rsa_aes_wrap(kek, hash, target, 33, &blob, &blob_len, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(blob_len, 256 + BYOK_KWP_WRAPPED_LEN(33));

	CU_ASSERT_EQUAL_FATAL(oaep_decrypt(kek, md, blob, 256, aes, &aes_len), 0);
	CU_ASSERT_EQUAL(aes_len, 32);
	CU_ASSERT_EQUAL_FATAL(
	    byok_kwp_unwrap(aes, aes_len, blob + 256, blob_len - 256, plain, &plain_len), 0);
	CU_ASSERT_EQUAL(plain_len, 33);
	CU_ASSERT_EQUAL(memcmp(plain, target, 33), 0);

	aes_len = sizeof(aes);
	CU_ASSERT_EQUAL(oaep_decrypt(kek, other, blob, 256, aes, &aes_len), -1);

	free(blob);
	EVP_PKEY_free(kek);
}

static void test_rsa_aes_wrap_sha1(void)
{
	check_rsa_aes_wrap(BYOK_OAEP_SHA1, EVP_sha1(), EVP_sha256());
}

static void test_rsa_aes_wrap_sha256(void)
{
	check_rsa_aes_wrap(BYOK_OAEP_SHA256, EVP_sha256(), EVP_sha1());
}

static void test_oaep_hash_parse(void)
{
	enum byok_oaep_hash hash = BYOK_OAEP_SHA256;

	CU_ASSERT_TRUE(byok_oaep_hash_parse("sha1", &hash));
	CU_ASSERT_EQUAL(hash, BYOK_OAEP_SHA1);
	CU_ASSERT_TRUE(byok_oaep_hash_parse("sha256", &hash));
	CU_ASSERT_EQUAL(hash, BYOK_OAEP_SHA256);
	CU_ASSERT_FALSE(byok_oaep_hash_parse("SHA-256", &hash));
	CU_ASSERT_FALSE(byok_oaep_hash_parse("md5", &hash));
}

/* Writes pkey as PEM (private) to a temp file; returns its path in buf. */
static void write_pem(EVP_PKEY *pkey, char *buf, size_t len)
{
	BIO *bio;

	snprintf(buf, len, "/tmp/test_byok_wrap.%d.pem", (int)getpid());
	bio = BIO_new_file(buf, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(bio);
	CU_ASSERT_EQUAL(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
	BIO_free(bio);
}

static void test_target_load_rsa_small(void)
{
	EVP_PKEY *pkey = rsa_generate(1024), *pub = NULL;
	enum byok_key_type type;
	unsigned char *key = NULL;
	size_t key_len = 0;
	char path[64], err[256] = "";

	write_pem(pkey, path, sizeof(path));
	CU_ASSERT_EQUAL(
	    byok_target_load(path, false, &key, &key_len, &type, &pub, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NULL(key);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "RSA-1024"));
	unlink(path);
	EVP_PKEY_free(pkey);
}

static void test_target_load_ec_pkcs8(void)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"), *pub = NULL;
	unsigned char *key = NULL, *expected = NULL;
	enum byok_key_type type = BYOK_KEY_AES;
	size_t key_len = 0;
	char path[64], err[256] = "";
	int expected_len;
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);

	write_pem(pkey, path, sizeof(path));
	CU_ASSERT_EQUAL_FATAL(
	    byok_target_load(path, false, &key, &key_len, &type, &pub, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(type, BYOK_KEY_EC);
	CU_ASSERT_PTR_NOT_NULL(pub);

	/* The same bytes as OpenSSL's own PKCS#8 encoder gives. */
	expected_len = i2d_PKCS8_PRIV_KEY_INFO(p8, &expected);
	CU_ASSERT_EQUAL((size_t)expected_len, key_len);
	CU_ASSERT_EQUAL(memcmp(key, expected, key_len), 0);

	OPENSSL_free(expected);
	PKCS8_PRIV_KEY_INFO_free(p8);
	OPENSSL_clear_free(key, key_len);
	unlink(path);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(pkey);
}

static void test_target_load_ec_curve(void)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp224r1");
	enum byok_key_type type;
	unsigned char *key = NULL;
	size_t key_len = 0;
	char path[64], err[256] = "";

	write_pem(pkey, path, sizeof(path));
	CU_ASSERT_EQUAL(
	    byok_target_load(path, false, &key, &key_len, &type, NULL, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "secp224r1"));
	unlink(path);
	EVP_PKEY_free(pkey);
}

static void test_target_load_aes_length(void)
{
	enum byok_key_type type;
	unsigned char *key = NULL;
	size_t key_len = 0;
	char path[64], err[256] = "";
	FILE *fp;

	snprintf(path, sizeof(path), "/tmp/test_byok_wrap.%d.aes", (int)getpid());
	fp = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fwrite("0123456789abcdef0123", 1, 20, fp);
	fclose(fp);
	CU_ASSERT_EQUAL(byok_target_load(path, true, &key, &key_len, &type, NULL, err, sizeof(err)),
	                -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "20 bytes"));

	fp = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fwrite("0123456789abcdef0123456789abcdef", 1, 32, fp);
	fclose(fp);
	CU_ASSERT_EQUAL_FATAL(
	    byok_target_load(path, true, &key, &key_len, &type, NULL, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(type, BYOK_KEY_AES);
	CU_ASSERT_EQUAL(key_len, 32);
	CU_ASSERT_EQUAL(memcmp(key, "0123456789abcdef0123456789abcdef", 32), 0);
	OPENSSL_clear_free(key, key_len);
	unlink(path);
}

int main(void)
{
	CU_pSuite suite;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("byok_wrap", NULL, NULL);
	CU_add_test(suite, "test_kwp_rfc5649_wrap_20", test_kwp_rfc5649_wrap_20);
	CU_add_test(suite, "test_kwp_rfc5649_wrap_7", test_kwp_rfc5649_wrap_7);
	CU_add_test(suite, "test_kwp_rfc5649_unwrap", test_kwp_rfc5649_unwrap);
	CU_add_test(suite, "test_kwp_unwrap_tampered", test_kwp_unwrap_tampered);
	CU_add_test(suite, "test_kwp_bad_kek_length", test_kwp_bad_kek_length);
	CU_add_test(suite, "test_rsa_aes_wrap_sha1", test_rsa_aes_wrap_sha1);
	CU_add_test(suite, "test_rsa_aes_wrap_sha256", test_rsa_aes_wrap_sha256);
	CU_add_test(suite, "test_oaep_hash_parse", test_oaep_hash_parse);
	CU_add_test(suite, "test_target_load_rsa_small", test_target_load_rsa_small);
	CU_add_test(suite, "test_target_load_ec_pkcs8", test_target_load_ec_pkcs8);
	CU_add_test(suite, "test_target_load_ec_curve", test_target_load_ec_curve);
	CU_add_test(suite, "test_target_load_aes_length", test_target_load_aes_length);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned int failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
