/*
 * CKM_RSA_PKCS over any data up to k - 11 bytes, through libhsmux.so, with an
 * RSA-2048 key whose CKA_DECRYPT is FALSE. OpenSSL checks each signature on
 * its own: EVP_PKEY_verify_recover with PKCS#1 v1.5 padding and no digest
 * must return exactly the signed data, and so must `openssl pkeyutl
 * -verifyrecover`; `openssl pkeyutl -verify` (and `openssl dgst` for a
 * SHA-224 DigestInfo) must accept it.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "tpm_conf_rawsign.h"
#include "tpm_conf_verify.h"
#include "tpm_p11.h"
#include "tpm_test_util.h"

#define RSA_K 256 /* bytes in an RSA-2048 modulus */

static const char *tmp_dir;
static const CK_SLOT_ID *the_slot;
static const CK_BYTE message[] = "Finished message of a TLS 1.1 handshake";

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmp_dir, name);
}

/* Generates a session key pair that may sign but not decrypt. */
static void make_sign_only_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = 2048;
	CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_ATTRIBUTE pub_tmpl[] = {
	    {CKA_LABEL, "rawsign", 7},
	    {CKA_VERIFY, &yes, sizeof(yes)},
	    {CKA_MODULUS_BITS, &bits, sizeof(bits)},
	};
	CK_ATTRIBUTE priv_tmpl[] = {
	    {CKA_LABEL, "rawsign", 7},
	    {CKA_SIGN, &yes, sizeof(yes)},
	    {CKA_DECRYPT, &no, sizeof(no)},
	    {CKA_UNWRAP, &no, sizeof(no)},
	};

	CU_ASSERT_EQUAL_FATAL(
	    p11->C_GenerateKeyPair(s, &mech, pub_tmpl, 3, priv_tmpl, 4, pub, priv), CKR_OK);
}

static EVP_PKEY *public_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub)
{
	CK_BYTE modulus[512];
	CK_ATTRIBUTE a = {CKA_MODULUS, modulus, sizeof(modulus)};

	if (p11->C_GetAttributeValue(s, pub, &a, 1) != CKR_OK)
		return NULL;
	return tpm_test_rsa_key(modulus, a.ulValueLen);
}

/* Signs in with CKM_RSA_PKCS; the signature is RSA_K bytes. */
static CK_RV sign_raw(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, const CK_BYTE *in,
                      CK_ULONG in_len, CK_BYTE *sig)
{
	CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
	CK_ULONG sig_len = RSA_K;
	CK_RV rv = p11->C_SignInit(s, &mech, priv);

	if (rv == CKR_OK)
		rv = p11->C_Sign(s, (CK_BYTE *)in, in_len, sig, &sig_len);
	if (rv == CKR_OK && sig_len != RSA_K)
		rv = CKR_GENERAL_ERROR;
	return rv;
}

/*
 * openssl pkeyutl must recover in from sig, and `-verify` (which takes up to
 * 64 bytes, the longest hash) must accept sig over in and reject other data.
 */
static void check_with_openssl_cli(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, const CK_BYTE *in,
                                   CK_ULONG in_len, const CK_BYTE *sig)
{
	char pem[256], in_path[256], sig_path[256], out_path[256];

	path_of(pem, sizeof(pem), "raw-pub.pem");
	path_of(in_path, sizeof(in_path), "raw-in.bin");
	path_of(sig_path, sizeof(sig_path), "raw-sig.bin");
	path_of(out_path, sizeof(out_path), "raw-out.bin");
	CU_ASSERT_FATAL(tpm_p11_write_pem(s, pub, pem));
	CU_ASSERT_FATAL(tpm_p11_write_file(in_path, in, in_len));
	CU_ASSERT_FATAL(tpm_p11_write_file(sig_path, sig, RSA_K));
	CU_ASSERT(tpm_p11_run("openssl pkeyutl -verifyrecover -pubin -inkey %s -in %s -out %s && "
	                      "cmp -s %s %s",
	                      pem, sig_path, out_path, out_path, in_path));
	if (in_len > 64)
		return;
	CU_ASSERT(tpm_p11_run("openssl pkeyutl -verify -pubin -inkey %s -in %s -sigfile %s "
	                      ">/dev/null",
	                      pem, in_path, sig_path));
	CU_ASSERT_FATAL(tpm_p11_write_file(in_path, "other", 5));
	CU_ASSERT(tpm_p11_fails("openssl pkeyutl -verify -pubin -inkey %s -in %s -sigfile %s "
	                        ">/dev/null 2>&1",
	                        pem, in_path, sig_path));
}

/* TLS 1.0/1.1's MD5 || SHA-1 and 100 random bytes, each checked three ways. */
static void test_tpm_conformance_raw_sign(void)
{
	CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
	CK_SESSION_HANDLE s = tpm_p11_login(*the_slot);
	CK_OBJECT_HANDLE pub, priv;
	CK_BYTE tls[36], rnd[100], sig[RSA_K], sig2[RSA_K];
	unsigned int len = 0;
	EVP_PKEY *key;

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	make_sign_only_key(s, &pub, &priv);
	key = public_key(s, pub);
	CU_ASSERT_PTR_NOT_NULL_FATAL(key);

	CU_ASSERT_FATAL(EVP_Digest(message, sizeof(message) - 1, tls, &len, EVP_md5(), NULL));
	CU_ASSERT_FATAL(EVP_Digest(message, sizeof(message) - 1, tls + 16, &len, EVP_sha1(), NULL));
	CU_ASSERT_EQUAL_FATAL(sign_raw(s, priv, tls, sizeof(tls), sig), CKR_OK);
	CU_ASSERT(tpm_test_rsa_recovers(key, sig, RSA_K, tls, sizeof(tls)));
	check_with_openssl_cli(s, pub, tls, sizeof(tls), sig);
	tpm_conf_verify_check(s, pub, &mech, tls, sizeof(tls), sig, RSA_K, false);
	/* PKCS#1 v1.5 is deterministic: the same input gives the same signature. */
	CU_ASSERT_EQUAL(sign_raw(s, priv, tls, sizeof(tls), sig2), CKR_OK);
	CU_ASSERT_EQUAL(memcmp(sig, sig2, RSA_K), 0);

	CU_ASSERT_FATAL(RAND_bytes(rnd, sizeof(rnd)) == 1);
	CU_ASSERT_EQUAL_FATAL(sign_raw(s, priv, rnd, sizeof(rnd), sig), CKR_OK);
	CU_ASSERT(tpm_test_rsa_recovers(key, sig, RSA_K, rnd, sizeof(rnd)));
	CU_ASSERT_FALSE(tpm_test_rsa_recovers(key, sig, RSA_K, tls, sizeof(tls)));
	check_with_openssl_cli(s, pub, rnd, sizeof(rnd), sig);
	tpm_conf_verify_check(s, pub, &mech, rnd, sizeof(rnd), sig, RSA_K, false);

	EVP_PKEY_free(key);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

/* Writes the DER DigestInfo of message under md; returns its length. */
static CK_ULONG digest_info(const EVP_MD *md, CK_BYTE *out)
{
	static const CK_BYTE sha256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	                                 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
	static const CK_BYTE sha224[] = {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	                                 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c};
	unsigned int len = 0;

	/* The two prefixes share their length; RFC 8017, section 9.2, note 1 lists them. */
	memcpy(out, md == EVP_sha224() ? sha224 : sha256, sizeof(sha256));
	EVP_Digest(message, sizeof(message) - 1, out + sizeof(sha256), &len, md, NULL);
	return sizeof(sha256) + len;
}

/*
 * A SHA-256 DigestInfo still goes through TPM2_Sign; a SHA-224 one (a hash
 * the TPM lacks) is signed raw, and openssl dgst -sha224 accepts it.
 */
static void test_tpm_conformance_raw_sign_digest_info(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(*the_slot);
	CK_OBJECT_HANDLE pub, priv;
	CK_BYTE in[64], sig[RSA_K];
	CK_ULONG in_len;
	char pem[256], data_path[256], sig_path[256];
	EVP_PKEY *key;

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	make_sign_only_key(s, &pub, &priv);
	key = public_key(s, pub);
	CU_ASSERT_PTR_NOT_NULL_FATAL(key);
	in_len = digest_info(EVP_sha256(), in);
	CU_ASSERT_EQUAL(sign_raw(s, priv, in, in_len, sig), CKR_OK);
	CU_ASSERT(
	    tpm_test_verify(key, EVP_sha256(), false, message, sizeof(message) - 1, sig, RSA_K));

	in_len = digest_info(EVP_sha224(), in);
	CU_ASSERT_EQUAL(sign_raw(s, priv, in, in_len, sig), CKR_OK);
	CU_ASSERT(tpm_test_rsa_recovers(key, sig, RSA_K, in, in_len));
	path_of(pem, sizeof(pem), "raw-pub.pem");
	path_of(data_path, sizeof(data_path), "raw-msg.bin");
	path_of(sig_path, sizeof(sig_path), "raw-sig.bin");
	CU_ASSERT_FATAL(tpm_p11_write_pem(s, pub, pem));
	CU_ASSERT_FATAL(tpm_p11_write_file(data_path, message, sizeof(message) - 1));
	CU_ASSERT_FATAL(tpm_p11_write_file(sig_path, sig, RSA_K));
	CU_ASSERT(tpm_p11_run("openssl dgst -sha224 -verify %s -signature %s %s >/dev/null", pem,
	                      sig_path, data_path));
	EVP_PKEY_free(key);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

/* k - 11 bytes sign, k - 10 do not; length queries, short buffers and multi-part. */
static void test_tpm_conformance_raw_sign_limits(void)
{
	CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
	CK_SESSION_HANDLE s = tpm_p11_login(*the_slot);
	CK_OBJECT_HANDLE pub, priv;
	CK_BYTE in[RSA_K], sig[RSA_K];
	CK_ULONG sig_len;
	EVP_PKEY *key;

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	make_sign_only_key(s, &pub, &priv);
	key = public_key(s, pub);
	CU_ASSERT_PTR_NOT_NULL_FATAL(key);
	CU_ASSERT_FATAL(RAND_bytes(in, sizeof(in)) == 1);

	CU_ASSERT_EQUAL(sign_raw(s, priv, in, RSA_K - 11, sig), CKR_OK);
	CU_ASSERT(tpm_test_rsa_recovers(key, sig, RSA_K, in, RSA_K - 11));
	CU_ASSERT_EQUAL(sign_raw(s, priv, in, 1, sig), CKR_OK);
	CU_ASSERT(tpm_test_rsa_recovers(key, sig, RSA_K, in, 1));
	CU_ASSERT_EQUAL(sign_raw(s, priv, in, RSA_K - 10, sig), CKR_DATA_LEN_RANGE);
	/* That error ended the operation. */
	sig_len = sizeof(sig);
	CU_ASSERT_EQUAL(p11->C_Sign(s, in, 36, sig, &sig_len), CKR_OPERATION_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(p11->C_VerifyInit(s, &mech, pub), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_Verify(s, in, RSA_K - 10, sig, RSA_K), CKR_DATA_LEN_RANGE);

	/* A length query and a short buffer keep the operation. */
	CU_ASSERT_EQUAL_FATAL(p11->C_SignInit(s, &mech, priv), CKR_OK);
	sig_len = 0;
	CU_ASSERT_EQUAL(p11->C_Sign(s, in, 36, NULL, &sig_len), CKR_OK);
	CU_ASSERT_EQUAL(sig_len, RSA_K);
	sig_len = 10;
	CU_ASSERT_EQUAL(p11->C_Sign(s, in, 36, sig, &sig_len), CKR_BUFFER_TOO_SMALL);
	CU_ASSERT_EQUAL(sig_len, RSA_K);
	CU_ASSERT_EQUAL(p11->C_Sign(s, in, 36, sig, &sig_len), CKR_OK);
	CU_ASSERT(tpm_test_rsa_recovers(key, sig, RSA_K, in, 36));

	/* CKM_RSA_PKCS is single-part only: C_SignUpdate is refused and ends the operation. */
	CU_ASSERT_EQUAL_FATAL(p11->C_SignInit(s, &mech, priv), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_SignUpdate(s, in, 36), CKR_FUNCTION_NOT_SUPPORTED);
	sig_len = sizeof(sig);
	CU_ASSERT_EQUAL(p11->C_SignFinal(s, sig, &sig_len), CKR_OPERATION_NOT_INITIALIZED);
	EVP_PKEY_free(key);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

/* The TPM key may decrypt (for raw signing), the PKCS#11 key may not. */
static void test_tpm_conformance_raw_sign_no_decrypt(void)
{
	CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM pkcs = {CKM_RSA_PKCS, NULL, 0};
	CK_MECHANISM oaep_mech = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE set_decrypt = {CKA_DECRYPT, &yes, sizeof(yes)};
	CK_SESSION_HANDLE s = tpm_p11_login(*the_slot);
	CK_OBJECT_HANDLE pub, priv, copy = CK_INVALID_HANDLE;
	CK_BBOOL decrypt = CK_TRUE;
	CK_ATTRIBUTE get_decrypt = {CKA_DECRYPT, &decrypt, sizeof(decrypt)};

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	make_sign_only_key(s, &pub, &priv);
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, priv, &get_decrypt, 1), CKR_OK);
	CU_ASSERT_EQUAL(decrypt, CK_FALSE);
	CU_ASSERT_EQUAL(p11->C_DecryptInit(s, &pkcs, priv), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(p11->C_DecryptInit(s, &oaep_mech, priv), CKR_KEY_FUNCTION_NOT_PERMITTED);
	/* Nor can a client turn CKA_DECRYPT on, in place or in a copy. */
	CU_ASSERT_NOT_EQUAL(p11->C_SetAttributeValue(s, priv, &set_decrypt, 1), CKR_OK);
	CU_ASSERT_NOT_EQUAL(p11->C_CopyObject(s, priv, &set_decrypt, 1, &copy), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_DecryptInit(s, &pkcs, priv), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

void tpm_conf_rawsign_add_tests(CU_pSuite suite, const char *dir, const CK_SLOT_ID *slot)
{
	tmp_dir = dir;
	the_slot = slot;
	CU_add_test(suite, "test_tpm_conformance_raw_sign", test_tpm_conformance_raw_sign);
	CU_add_test(suite, "test_tpm_conformance_raw_sign_digest_info",
	            test_tpm_conformance_raw_sign_digest_info);
	CU_add_test(suite, "test_tpm_conformance_raw_sign_limits",
	            test_tpm_conformance_raw_sign_limits);
	CU_add_test(suite, "test_tpm_conformance_raw_sign_no_decrypt",
	            test_tpm_conformance_raw_sign_no_decrypt);
}
