/*
 * Tests of CKM_RSA_AES_KEY_WRAP over SoftHSM 2.6.1, which lacks it and
 * CKM_AES_KEY_WRAP_KWP: the composed unwrap of every key type, checked by
 * using the imported key in the token and verifying the result with
 * OpenSSL against the original key, and every bad input, checked to leave
 * no object behind.
 *
 * Built twice: test_byok_mech calls module/mech over SoftHSM directly, and
 * test_byok_module (BYOK_THROUGH_MODULE) makes the same calls as a PKCS#11
 * client of libhsmux.so, whose path is its first argument.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "module/mech/mech.h"
#include "softhsm_fixture.h"
#include "tools/byok_wrap.h"

#ifdef BYOK_THROUGH_MODULE
static const char *module_path;

static CK_RV do_unwrap(CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped,
                       CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                       CK_OBJECT_HANDLE_PTR key)
{
	return fx.fl->C_UnwrapKey(fx.session, mech, unwrapping_key, wrapped, wrapped_len, tmpl,
	                          count, key);
}

static CK_RV do_mechanism_list(CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	return fx.fl->C_GetMechanismList(fx.slot, list, count);
}

static CK_RV do_mechanism_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	return fx.fl->C_GetMechanismInfo(fx.slot, type, info);
}

/* The module's mech trace, from its HSMUX_DEBUG_FILE. */
static char trace_last[8192];

static void trace_reset(void)
{
	FILE *fp = fopen(fixture_trace_path(), "w");

	if (fp)
		fclose(fp);
}

static const char *trace_read(void)
{
	FILE *fp = fopen(fixture_trace_path(), "r");
	size_t n = fp ? fread(trace_last, 1, sizeof(trace_last) - 1, fp) : 0;

	if (fp)
		fclose(fp);
	trace_last[n] = '\0';
	return trace_last;
}
#else
extern char trace_last[512];

static CK_RV do_unwrap(CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped,
                       CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                       CK_OBJECT_HANDLE_PTR key)
{
	return hsmux_mech_unwrap_key(&fx.be, fx.session, mech, unwrapping_key, wrapped, wrapped_len,
	                             tmpl, count, key);
}

static CK_RV do_mechanism_list(CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	return hsmux_mech_get_mechanism_list(&fx.be, fx.slot, list, count);
}

static CK_RV do_mechanism_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	return hsmux_mech_get_mechanism_info(&fx.be, fx.slot, type, info);
}

static void trace_reset(void)
{
	trace_last[0] = '\0';
}

static const char *trace_read(void)
{
	return trace_last;
}
#endif

#ifdef BYOK_THROUGH_MODULE
#define BYOK_SUITE_NAME "byok_module"
#else
#define BYOK_SUITE_NAME "byok_mech"
#endif

static CK_OBJECT_HANDLE kek;
static EVP_PKEY *kek_pub;

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS class_private = CKO_PRIVATE_KEY, class_secret = CKO_SECRET_KEY;

static unsigned char *pkcs8_of(EVP_PKEY *pkey, size_t *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
	unsigned char *der = NULL;
	int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);

	PKCS8_PRIV_KEY_INFO_free(p8);
	*len = n > 0 ? (size_t)n : 0;
	return der;
}

static CK_RV unwrap_blob(CK_OBJECT_HANDLE unwrapping_key, CK_MECHANISM_TYPE hash, CK_ULONG aes_bits,
                         unsigned char *blob, size_t blob_len, CK_ATTRIBUTE *tmpl, CK_ULONG count,
                         CK_OBJECT_HANDLE *key)
{
	CK_RSA_PKCS_OAEP_PARAMS oaep = {hash, hash == CKM_SHA256 ? CKG_MGF1_SHA256 : CKG_MGF1_SHA1,
	                                CKZ_DATA_SPECIFIED, NULL, 0};
	CK_RSA_AES_KEY_WRAP_PARAMS params = {aes_bits, &oaep};
	CK_MECHANISM mech = {CKM_RSA_AES_KEY_WRAP, &params, sizeof(params)};

	*key = CK_INVALID_HANDLE;
	return do_unwrap(&mech, unwrapping_key, blob, blob_len, tmpl, count, key);
}

/* Wraps target under the test KEK as a customer would, then imports it. */
static CK_RV import_key(enum byok_oaep_hash hash, const unsigned char *target, size_t len,
                        CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *key)
{
	unsigned char *blob = NULL;
	size_t blob_len = 0;
	char err[256];
	CK_RV rv;

	CU_ASSERT_EQUAL_FATAL(
	    byok_rsa_aes_wrap(kek_pub, hash, target, len, &blob, &blob_len, err, sizeof(err)), 0);
	rv = unwrap_blob(kek, hash == BYOK_OAEP_SHA256 ? CKM_SHA256 : CKM_SHA_1, 256, blob,
	                 blob_len, tmpl, count, key);
	free(blob);
	return rv;
}

static CK_RV import_private(EVP_PKEY *pkey, CK_KEY_TYPE type, CK_OBJECT_HANDLE *key)
{
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &class_private, sizeof(class_private)},
	    {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_TOKEN, &no, sizeof(no)},
	    {CKA_SIGN, &yes, sizeof(yes)},
	};
	size_t len = 0;
	unsigned char *der = pkcs8_of(pkey, &len);
	CK_RV rv = import_key(BYOK_OAEP_SHA1, der, len, tmpl, 4, key);

	OPENSSL_clear_free(der, len);
	return rv;
}

static void check_unwrapped_attributes(CK_OBJECT_HANDLE key)
{
	CU_ASSERT_EQUAL(fixture_get_bool(key, CKA_LOCAL), 0);
	CU_ASSERT_EQUAL(fixture_get_bool(key, CKA_ALWAYS_SENSITIVE), 0);
	CU_ASSERT_EQUAL(fixture_get_bool(key, CKA_NEVER_EXTRACTABLE), 0);
	CU_ASSERT_EQUAL(fixture_get_bool(key, CKA_SENSITIVE), 1);
	CU_ASSERT_EQUAL(fixture_get_bool(key, CKA_EXTRACTABLE), 0);
}

static int sign_in_token(CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE type, const unsigned char *in,
                         size_t in_len, unsigned char *sig, CK_ULONG *sig_len)
{
	CK_MECHANISM mech = {type, NULL, 0};

	if (fx.fl->C_SignInit(fx.session, &mech, key) != CKR_OK)
		return -1;
	return fx.fl->C_Sign(fx.session, (CK_BYTE_PTR)in, in_len, sig, sig_len) == CKR_OK ? 0 : -1;
}

static int verify_openssl(EVP_PKEY *pkey, const EVP_MD *md, const unsigned char *msg,
                          size_t msg_len, const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1 &&
	         EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1;

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static const unsigned char message[] = "BYOK known-answer message";

static void check_rsa_import(unsigned int bits)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	CK_ULONG before = fixture_count_objects(), sig_len = 512;
	unsigned char sig[512];
	CK_OBJECT_HANDLE key;

	CU_ASSERT_EQUAL_FATAL(import_private(pkey, CKK_RSA, &key), CKR_OK);
	CU_ASSERT_EQUAL(fixture_count_objects(), before + 1);
	check_unwrapped_attributes(key);
	CU_ASSERT_EQUAL(
	    sign_in_token(key, CKM_SHA256_RSA_PKCS, message, sizeof(message), sig, &sig_len), 0);
	CU_ASSERT_EQUAL(verify_openssl(pkey, EVP_sha256(), message, sizeof(message), sig, sig_len),
	                0);
	fx.fl->C_DestroyObject(fx.session, key);
	EVP_PKEY_free(pkey);
}

static void test_mech_import_rsa_2048(void)
{
	check_rsa_import(2048);
}

static void test_mech_import_rsa_3072(void)
{
	check_rsa_import(3072);
}

/* CKM_ECDSA gives r || s; OpenSSL verifies DER. */
static int ecdsa_raw_verify(EVP_PKEY *pkey, const unsigned char *sig, CK_ULONG sig_len)
{
	unsigned char digest[32], *der = NULL;
	ECDSA_SIG *esig = ECDSA_SIG_new();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
	int der_len, ok;

	SHA256(message, sizeof(message), digest);
	ECDSA_SIG_set0(esig, BN_bin2bn(sig, (int)sig_len / 2, NULL),
	               BN_bin2bn(sig + sig_len / 2, (int)sig_len / 2, NULL));
	der_len = i2d_ECDSA_SIG(esig, &der);
	ok = der_len > 0 && EVP_PKEY_verify_init(ctx) == 1 &&
	     EVP_PKEY_verify(ctx, der, (size_t)der_len, digest, sizeof(digest)) == 1;
	OPENSSL_free(der);
	ECDSA_SIG_free(esig);
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

static void check_ec_import(const char *curve)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	CK_ULONG before = fixture_count_objects(), sig_len = 200;
	unsigned char digest[32], sig[200];
	CK_OBJECT_HANDLE key;

	CU_ASSERT_EQUAL_FATAL(import_private(pkey, CKK_EC, &key), CKR_OK);
	CU_ASSERT_EQUAL(fixture_count_objects(), before + 1);
	check_unwrapped_attributes(key);
	SHA256(message, sizeof(message), digest);
	CU_ASSERT_EQUAL_FATAL(sign_in_token(key, CKM_ECDSA, digest, 32, sig, &sig_len), 0);
	CU_ASSERT_EQUAL(ecdsa_raw_verify(pkey, sig, sig_len), 0);
	fx.fl->C_DestroyObject(fx.session, key);
	EVP_PKEY_free(pkey);
}

static void test_mech_import_ec_p256(void)
{
	check_ec_import("P-256");
}

static void test_mech_import_ec_p384(void)
{
	check_ec_import("P-384");
}

static void test_mech_import_ec_p521(void)
{
	check_ec_import("P-521");
}

static void test_mech_import_ec_secp256k1(void)
{
	check_ec_import("secp256k1");
}

/*
 * SoftHSM 2.6.1 cannot unwrap Ed25519 keys (CKR_FUNCTION_FAILED); a backend
 * that can gets the full check. Either way no object may be left over.
 */
static void test_mech_import_ed25519(void)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	CK_ULONG before = fixture_count_objects(), sig_len = 64;
	unsigned char sig[64];
	CK_OBJECT_HANDLE key;
	CK_RV rv = import_private(pkey, CKK_EC_EDWARDS, &key);

	if (rv != CKR_OK) {
		fprintf(stderr, "(backend cannot unwrap Ed25519: 0x%lx) ", (unsigned long)rv);
		CU_ASSERT_EQUAL(rv, CKR_FUNCTION_FAILED);
		CU_ASSERT_EQUAL(key, CK_INVALID_HANDLE);
		CU_ASSERT_EQUAL(fixture_count_objects(), before);
		EVP_PKEY_free(pkey);
		return;
	}
	CU_ASSERT_EQUAL(fixture_count_objects(), before + 1);
	check_unwrapped_attributes(key);
	CU_ASSERT_EQUAL_FATAL(
	    sign_in_token(key, CKM_EDDSA, message, sizeof(message), sig, &sig_len), 0);
	CU_ASSERT_EQUAL(verify_openssl(pkey, NULL, message, sizeof(message), sig, sig_len), 0);
	fx.fl->C_DestroyObject(fx.session, key);
	EVP_PKEY_free(pkey);
}

static const EVP_CIPHER *aes_ecb(size_t len)
{
	if (len == 16)
		return EVP_aes_128_ecb();
	if (len == 24)
		return EVP_aes_192_ecb();
	return EVP_aes_256_ecb();
}

/* Encrypts one block with key in the token and with the original bytes in OpenSSL. */
static void check_aes_key(CK_OBJECT_HANDLE key, const unsigned char *value, size_t len)
{
	static const unsigned char block[16] = "0123456789abcdef";
	unsigned char token_out[16], openssl_out[32];
	CK_ULONG token_len = sizeof(token_out);
	CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;

	CU_ASSERT_EQUAL_FATAL(fx.fl->C_EncryptInit(fx.session, &ecb, key), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(
	    fx.fl->C_Encrypt(fx.session, (CK_BYTE_PTR)block, 16, token_out, &token_len), CKR_OK);
	EVP_EncryptInit_ex(ctx, aes_ecb(len), NULL, value, NULL);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	EVP_EncryptUpdate(ctx, openssl_out, &n, block, 16);
	EVP_CIPHER_CTX_free(ctx);
	CU_ASSERT_EQUAL(token_len, 16);
	CU_ASSERT_EQUAL(memcmp(token_out, openssl_out, 16), 0);
}

static void check_aes_import(size_t len)
{
	CK_KEY_TYPE aes = CKK_AES;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &class_secret, sizeof(class_secret)},
	    {CKA_KEY_TYPE, &aes, sizeof(aes)},
	    {CKA_TOKEN, &no, sizeof(no)},
	    {CKA_ENCRYPT, &yes, sizeof(yes)},
	    {CKA_DECRYPT, &yes, sizeof(yes)},
	};
	unsigned char value[32];
	CK_ULONG before = fixture_count_objects();
	CK_OBJECT_HANDLE key;

	for (size_t i = 0; i < len; i++)
		value[i] = (unsigned char)(0xa0 + i);
	CU_ASSERT_EQUAL_FATAL(import_key(BYOK_OAEP_SHA1, value, len, tmpl, 5, &key), CKR_OK);
	CU_ASSERT_EQUAL(fixture_count_objects(), before + 1);
	check_unwrapped_attributes(key);
	check_aes_key(key, value, len);
	fx.fl->C_DestroyObject(fx.session, key);
}

static void test_mech_import_aes(void)
{
	check_aes_import(16);
	check_aes_import(24);
	check_aes_import(32);
}

#ifndef BYOK_THROUGH_MODULE
/* SoftHSM's own list, to see what the mech layer adds. */
static void check_backend_list(CK_ULONG listed)
{
	CK_MECHANISM_TYPE list[256];
	CK_ULONG n = 256;

	CU_ASSERT_EQUAL_FATAL(fx.fl->C_GetMechanismList(fx.slot, list, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++) {
		CU_ASSERT_NOT_EQUAL(list[i], CKM_RSA_AES_KEY_WRAP);
		CU_ASSERT_NOT_EQUAL(list[i], CKM_AES_KEY_WRAP_KWP);
	}
	CU_ASSERT_EQUAL(listed, n + 2);
}
#endif

static void test_mech_list_offers_rsa_aes(void)
{
	CK_MECHANISM_TYPE list[256], small[1];
	CK_ULONG count = 0, n = 256, one = 1;
	CK_MECHANISM_INFO info;
	int have_rsa_aes = 0, have_kwp = 0;

	CU_ASSERT_EQUAL(do_mechanism_list(NULL, &count), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(do_mechanism_list(list, &n), CKR_OK);
	CU_ASSERT_EQUAL(n, count);
	for (CK_ULONG i = 0; i < n; i++) {
		have_rsa_aes += list[i] == CKM_RSA_AES_KEY_WRAP;
		have_kwp += list[i] == CKM_AES_KEY_WRAP_KWP;
	}
	CU_ASSERT_EQUAL(have_rsa_aes, 1);
	CU_ASSERT_EQUAL(have_kwp, 1);
#ifndef BYOK_THROUGH_MODULE
	check_backend_list(n);
#endif
	CU_ASSERT_EQUAL(do_mechanism_list(small, &one), CKR_BUFFER_TOO_SMALL);
	CU_ASSERT_EQUAL(one, count);

	CU_ASSERT_EQUAL(do_mechanism_info(CKM_RSA_AES_KEY_WRAP, &info), CKR_OK);
	CU_ASSERT_EQUAL(info.flags & ~CKF_HW, CKF_UNWRAP);
	CU_ASSERT_EQUAL(do_mechanism_info(CKM_AES_KEY_WRAP_KWP, &info), CKR_OK);
	CU_ASSERT_EQUAL(info.flags & ~CKF_HW, CKF_UNWRAP);
	CU_ASSERT_EQUAL(do_mechanism_info(CKM_VENDOR_DEFINED, &info), CKR_MECHANISM_INVALID);
}

/* CKM_AES_KEY_WRAP_KWP, which SoftHSM lacks, reaches it as CKM_AES_KEY_WRAP_PAD. */
static void test_mech_kwp_id_mapping(void)
{
	static const unsigned char kek_value[16] = "KWP mapping key!";
	static const unsigned char target[24] = "an AES-192 key to unwrap";
	CK_KEY_TYPE aes = CKK_AES;
	CK_ATTRIBUTE kek_tmpl[] = {
	    {CKA_CLASS, &class_secret, sizeof(class_secret)},
	    {CKA_KEY_TYPE, &aes, sizeof(aes)},
	    {CKA_TOKEN, &no, sizeof(no)},
	    {CKA_UNWRAP, &yes, sizeof(yes)},
	    {CKA_VALUE, (void *)kek_value, sizeof(kek_value)},
	};
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &class_secret, sizeof(class_secret)},
	    {CKA_KEY_TYPE, &aes, sizeof(aes)},
	    {CKA_TOKEN, &no, sizeof(no)},
	    {CKA_ENCRYPT, &yes, sizeof(yes)},
	};
	unsigned char wrapped[BYOK_KWP_WRAPPED_LEN(24)];
	size_t wrapped_len = 0;
	CK_OBJECT_HANDLE aes_kek, key;

	CU_ASSERT_EQUAL_FATAL(fx.fl->C_CreateObject(fx.session, kek_tmpl, 5, &aes_kek), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(byok_kwp_wrap(kek_value, 16, target, 24, wrapped, &wrapped_len), 0);
	for (CK_MECHANISM_TYPE id = CKM_AES_KEY_WRAP_PAD; id <= CKM_AES_KEY_WRAP_KWP; id++) {
		CK_MECHANISM mech = {id, NULL, 0};

		CU_ASSERT_EQUAL_FATAL(
		    do_unwrap(&mech, aes_kek, wrapped, wrapped_len, tmpl, 4, &key), CKR_OK);
		check_aes_key(key, target, 24);
		fx.fl->C_DestroyObject(fx.session, key);
	}
	fx.fl->C_DestroyObject(fx.session, aes_kek);
}

/* Bad input: the expected CK_RV, and no object left behind. */
static void check_bad_blob(unsigned char *blob, size_t len, CK_RV expected)
{
	CK_KEY_TYPE aes = CKK_AES;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &class_secret, sizeof(class_secret)},
	    {CKA_KEY_TYPE, &aes, sizeof(aes)},
	    {CKA_TOKEN, &no, sizeof(no)},
	};
	CK_ULONG before = fixture_count_objects();
	CK_OBJECT_HANDLE key;
	CK_RV rv = unwrap_blob(kek, CKM_SHA_1, 256, blob, len, tmpl, 3, &key);

	if (expected == CKR_OK)
		CU_ASSERT_NOT_EQUAL(rv, CKR_OK)
	else
		CU_ASSERT_EQUAL(rv, expected);
	CU_ASSERT_EQUAL(key, CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL(fixture_count_objects(), before);
}

static void test_mech_bad_blobs(void)
{
	unsigned char target[32] = {1, 2, 3}, *blob = NULL;
	size_t len = 0;
	char err[256];

	CU_ASSERT_EQUAL_FATAL(
	    byok_rsa_aes_wrap(kek_pub, BYOK_OAEP_SHA1, target, 32, &blob, &len, err, 256), 0);

	/* Tampered RSA part, then tampered wrap part: any failure code will do. */
	blob[10] ^= 0x40;
	check_bad_blob(blob, len, CKR_OK);
	blob[10] ^= 0x40;
	blob[len - 3] ^= 0x01;
	check_bad_blob(blob, len, CKR_OK);
	blob[len - 3] ^= 0x01;

	check_bad_blob(blob, len - 8, CKR_OK);
	check_bad_blob(blob, len - 1, CKR_WRAPPED_KEY_LEN_RANGE);
	check_bad_blob(blob, 256, CKR_WRAPPED_KEY_LEN_RANGE);
	check_bad_blob(blob, 100, CKR_WRAPPED_KEY_LEN_RANGE);
	free(blob);
}

static void test_mech_oaep_sha256_rejected(void)
{
	unsigned char target[32] = {9}, *blob = NULL;
	CK_KEY_TYPE aes = CKK_AES;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &class_secret, sizeof(class_secret)},
	    {CKA_KEY_TYPE, &aes, sizeof(aes)},
	    {CKA_TOKEN, &no, sizeof(no)},
	};
	CK_ULONG before = fixture_count_objects();
	CK_OBJECT_HANDLE key;
	size_t len = 0;
	char err[256];

	CU_ASSERT_EQUAL_FATAL(
	    byok_rsa_aes_wrap(kek_pub, BYOK_OAEP_SHA256, target, 32, &blob, &len, err, 256), 0);
	trace_reset();
	CU_ASSERT_EQUAL(unwrap_blob(kek, CKM_SHA256, 256, blob, len, tmpl, 3, &key),
	                CKR_MECHANISM_PARAM_INVALID);
	CU_ASSERT_PTR_NOT_NULL(strstr(trace_read(), "SHA-256"));
	CU_ASSERT_PTR_NOT_NULL(strstr(trace_read(), "SHA-1 only"));
	CU_ASSERT_EQUAL(fixture_count_objects(), before);
	free(blob);
}

static void test_mech_bad_params(void)
{
	unsigned char blob[512] = {0};
	CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_RSA_AES_KEY_WRAP_PARAMS params = {256, &oaep};
	CK_MECHANISM mech = {CKM_RSA_AES_KEY_WRAP, &params, sizeof(params) - 1};
	CK_OBJECT_HANDLE key;

	CU_ASSERT_EQUAL(do_unwrap(&mech, kek, blob, 300, NULL, 0, &key),
	                CKR_MECHANISM_PARAM_INVALID);
	mech.ulParameterLen = sizeof(params);
	params.ulAESKeyBits = 200;
	CU_ASSERT_EQUAL(do_unwrap(&mech, kek, blob, 300, NULL, 0, &key),
	                CKR_MECHANISM_PARAM_INVALID);
	params.ulAESKeyBits = 256;
	params.pOAEPParams = NULL;
	CU_ASSERT_EQUAL(do_unwrap(&mech, kek, blob, 300, NULL, 0, &key),
	                CKR_MECHANISM_PARAM_INVALID);
	params.pOAEPParams = &oaep;
	oaep.hashAlg = CKM_MD5;
	CU_ASSERT_EQUAL(do_unwrap(&mech, kek, blob, 300, NULL, 0, &key),
	                CKR_MECHANISM_PARAM_INVALID);
}

static void test_mech_kek_not_import_only(void)
{
	EVP_PKEY *pub = NULL;
	CK_OBJECT_HANDLE bad_kek = fixture_rsa_kek(2048, 1, &pub);
	char handle[32];
	unsigned char target[32] = {5}, *blob = NULL;
	CK_KEY_TYPE aes = CKK_AES;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &class_secret, sizeof(class_secret)},
	    {CKA_KEY_TYPE, &aes, sizeof(aes)},
	    {CKA_TOKEN, &no, sizeof(no)},
	};
	CK_ULONG before = fixture_count_objects();
	CK_OBJECT_HANDLE key;
	size_t len = 0;
	char err[256];

	CU_ASSERT_NOT_EQUAL_FATAL(bad_kek, CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(
	    byok_rsa_aes_wrap(pub, BYOK_OAEP_SHA1, target, 32, &blob, &len, err, 256), 0);
	trace_reset();
	CU_ASSERT_EQUAL(unwrap_blob(bad_kek, CKM_SHA_1, 256, blob, len, tmpl, 3, &key),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	/* Through the module, the policy layer may refuse the KEK first, in its own words. */
	snprintf(handle, sizeof(handle), " %lu ", (unsigned long)bad_kek);
	CU_ASSERT_PTR_NOT_NULL(strstr(trace_read(), handle));
#ifndef BYOK_THROUGH_MODULE
	CU_ASSERT_PTR_NOT_NULL(strstr(trace_read(), "import-only"));
#endif
	CU_ASSERT_EQUAL(fixture_count_objects(), before);
	fx.fl->C_DestroyObject(fx.session, bad_kek);
	EVP_PKEY_free(pub);
	free(blob);
}

/* A blob wrapped for one KEK, unwrapped under another. */
static void test_mech_other_kek(void)
{
	EVP_PKEY *other_pub = NULL;
	CK_OBJECT_HANDLE other = fixture_rsa_kek(2048, 0, &other_pub);
	unsigned char target[32] = {4}, *blob = NULL;
	CK_KEY_TYPE aes = CKK_AES;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &class_secret, sizeof(class_secret)},
	    {CKA_KEY_TYPE, &aes, sizeof(aes)},
	    {CKA_TOKEN, &no, sizeof(no)},
	};
	CK_ULONG before = fixture_count_objects();
	CK_OBJECT_HANDLE key;
	size_t len = 0;
	char err[256];

	CU_ASSERT_NOT_EQUAL_FATAL(other, CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(
	    byok_rsa_aes_wrap(other_pub, BYOK_OAEP_SHA1, target, 32, &blob, &len, err, 256), 0);
	CU_ASSERT_NOT_EQUAL(unwrap_blob(kek, CKM_SHA_1, 256, blob, len, tmpl, 3, &key), CKR_OK);
	CU_ASSERT_EQUAL(key, CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL(fixture_count_objects(), before);
	CU_ASSERT_EQUAL(unwrap_blob(other, CKM_SHA_1, 256, blob, len, tmpl, 3, &key), CKR_OK);
	CU_ASSERT_EQUAL(fixture_count_objects(), before + 1);
	fx.fl->C_DestroyObject(fx.session, key);
	fx.fl->C_DestroyObject(fx.session, other);
	EVP_PKEY_free(other_pub);
	free(blob);
}

static void test_mech_rsa_too_small(void)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	CK_ULONG before = fixture_count_objects();
	CK_OBJECT_HANDLE key;

	CU_ASSERT_EQUAL(import_private(pkey, CKK_RSA, &key), CKR_KEY_SIZE_RANGE);
	CU_ASSERT_EQUAL(key, CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL(fixture_count_objects(), before);
	EVP_PKEY_free(pkey);
}

static void test_mech_ec_curve_rejected(void)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp224r1");
	CK_ULONG before = fixture_count_objects();
	CK_OBJECT_HANDLE key;

	CU_ASSERT_EQUAL(import_private(pkey, CKK_EC, &key), CKR_CURVE_NOT_SUPPORTED);
	CU_ASSERT_EQUAL(fixture_count_objects(), before);
	EVP_PKEY_free(pkey);
}

/* An RSA key in the blob, an EC key in the template. */
static void test_mech_type_mismatch(void)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	CK_ULONG before = fixture_count_objects();
	CK_OBJECT_HANDLE key;

	CU_ASSERT_NOT_EQUAL(import_private(pkey, CKK_EC, &key), CKR_OK);
	CU_ASSERT_EQUAL(key, CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL(fixture_count_objects(), before);
	CU_ASSERT_NOT_EQUAL(import_private(pkey, CKK_EC_EDWARDS, &key), CKR_OK);
	CU_ASSERT_EQUAL(fixture_count_objects(), before);
	EVP_PKEY_free(pkey);
}

static void test_mech_extractable_rejected(void)
{
	unsigned char target[16] = {3};
	CK_KEY_TYPE aes = CKK_AES;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &class_secret, sizeof(class_secret)},
	    {CKA_KEY_TYPE, &aes, sizeof(aes)},
	    {CKA_TOKEN, &no, sizeof(no)},
	    {CKA_EXTRACTABLE, &yes, sizeof(yes)},
	};
	CK_ULONG before = fixture_count_objects();
	CK_OBJECT_HANDLE key;

	CU_ASSERT_EQUAL(import_key(BYOK_OAEP_SHA1, target, 16, tmpl, 4, &key),
	                CKR_TEMPLATE_INCONSISTENT);
	tmpl[3] = (CK_ATTRIBUTE){CKA_SENSITIVE, &no, sizeof(no)};
	CU_ASSERT_EQUAL(import_key(BYOK_OAEP_SHA1, target, 16, tmpl, 4, &key),
	                CKR_TEMPLATE_INCONSISTENT);
	CU_ASSERT_EQUAL(fixture_count_objects(), before);
}

#ifndef BYOK_THROUGH_MODULE
/*
 * A backend that has CKM_RSA_AES_KEY_WRAP itself: it reports the mechanism
 * and records the call, and does the unwrap by the composition over
 * SoftHSM. The mech layer must pass the call on, with the template made
 * sensitive and non-extractable, and still check the imported key.
 */
static int native_calls;
static int native_template_tight;
static struct hsmux_backend direct; /* the SoftHSM backend that does the work */

static CK_RV native_mechanism_info(struct hsmux_backend *be, CK_SLOT_ID slot,
                                   CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	if (type != CKM_RSA_AES_KEY_WRAP)
		return direct.ops->get_mechanism_info(&direct, slot, type, info);
	*info = (CK_MECHANISM_INFO){2048, 4096, CKF_UNWRAP};
	return CKR_OK;
}

static CK_RV native_unwrap_key(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                               CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped,
                               CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                               CK_OBJECT_HANDLE_PTR key)
{
	int sensitive = 0, extractable = 1;

	if (mech->mechanism == CKM_RSA_AES_KEY_WRAP) {
		native_calls++;
		for (CK_ULONG i = 0; i < count; i++) {
			if (tmpl[i].type == CKA_SENSITIVE)
				sensitive = *(CK_BBOOL *)tmpl[i].pValue == CK_TRUE;
			if (tmpl[i].type == CKA_EXTRACTABLE)
				extractable = *(CK_BBOOL *)tmpl[i].pValue == CK_TRUE;
		}
		native_template_tight = sensitive && !extractable;
	}
	return hsmux_mech_unwrap_key(&direct, s, mech, unwrapping_key, wrapped, wrapped_len, tmpl,
	                             count, key);
}

static void test_mech_native_pass_through(void)
{
	struct hsmux_backend_ops ops = *fx.be.ops;
	struct hsmux_backend native = fx.be;
	EVP_PKEY *good = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	CK_MECHANISM_TYPE list[256];
	CK_ULONG n = 256, before = fixture_count_objects(), rsa_aes = 0;
	CK_OBJECT_HANDLE key;

	direct = fx.be;
	ops.get_mechanism_info = native_mechanism_info;
	ops.unwrap_key = native_unwrap_key;
	native.ops = &ops;

	/* The backend's own mechanism is not listed twice. */
	CU_ASSERT_EQUAL(hsmux_mech_get_mechanism_list(&native, fx.slot, list, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++)
		rsa_aes += list[i] == CKM_RSA_AES_KEY_WRAP;
	CU_ASSERT_EQUAL(rsa_aes, 1);

	/* import_private() goes through fx.be, so point it at the native backend. */
	fx.be = native;
	CU_ASSERT_EQUAL(import_private(good, CKK_RSA, &key), CKR_OK);
	CU_ASSERT_EQUAL(native_calls, 1);
	CU_ASSERT_TRUE(native_template_tight);
	CU_ASSERT_EQUAL(fixture_count_objects(), before + 1);
	fx.fl->C_DestroyObject(fx.session, key);

	CU_ASSERT_EQUAL(import_private(small, CKK_RSA, &key), CKR_KEY_SIZE_RANGE);
	CU_ASSERT_EQUAL(native_calls, 2);
	CU_ASSERT_EQUAL(fixture_count_objects(), before);
	fx.be = direct;

	EVP_PKEY_free(good);
	EVP_PKEY_free(small);
}
#endif

static int suite_init(void)
{
#ifdef BYOK_THROUGH_MODULE
	if (fixture_init(module_path, 1) != 0)
		return -1;
#else
	if (fixture_init(HSMUX_SOFTHSM_MODULE, 0) != 0)
		return -1;
#endif
	kek = fixture_rsa_kek(2048, 0, &kek_pub);
	return kek == CK_INVALID_HANDLE || !kek_pub ? -1 : 0;
}

static int suite_cleanup(void)
{
	EVP_PKEY_free(kek_pub);
	fixture_cleanup();
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
	    {"test_mech_list_offers_rsa_aes", test_mech_list_offers_rsa_aes},
	    {"test_mech_kwp_id_mapping", test_mech_kwp_id_mapping},
	    {"test_mech_import_rsa_2048", test_mech_import_rsa_2048},
	    {"test_mech_import_rsa_3072", test_mech_import_rsa_3072},
	    {"test_mech_import_ec_p256", test_mech_import_ec_p256},
	    {"test_mech_import_ec_p384", test_mech_import_ec_p384},
	    {"test_mech_import_ec_p521", test_mech_import_ec_p521},
	    {"test_mech_import_ec_secp256k1", test_mech_import_ec_secp256k1},
	    {"test_mech_import_ed25519", test_mech_import_ed25519},
	    {"test_mech_import_aes", test_mech_import_aes},
	    {"test_mech_bad_blobs", test_mech_bad_blobs},
	    {"test_mech_oaep_sha256_rejected", test_mech_oaep_sha256_rejected},
	    {"test_mech_bad_params", test_mech_bad_params},
	    {"test_mech_kek_not_import_only", test_mech_kek_not_import_only},
	    {"test_mech_other_kek", test_mech_other_kek},
	    {"test_mech_rsa_too_small", test_mech_rsa_too_small},
	    {"test_mech_ec_curve_rejected", test_mech_ec_curve_rejected},
	    {"test_mech_type_mismatch", test_mech_type_mismatch},
	    {"test_mech_extractable_rejected", test_mech_extractable_rejected},
#ifndef BYOK_THROUGH_MODULE
	    {"test_mech_native_pass_through", test_mech_native_pass_through},
#endif
	};
	CU_pSuite suite;
	unsigned int failures;

#ifdef BYOK_THROUGH_MODULE
	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH/libhsmux.so\n", argv[0]);
		return 2;
	}
	module_path = argv[1];
#endif
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite(BYOK_SUITE_NAME, suite_init, suite_cleanup);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		CU_add_test(suite, tests[i].name, tests[i].fn);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
	           CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
