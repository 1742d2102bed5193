/*
 * Conformance of the tpm backend through libhsmux.so, on an in-process
 * libtpms TPM. It covers slots and sessions, login and its error codes, key
 * generation and search. The openssl command line verifies signatures
 * against the exported public keys, C_Verify verifies them too, and the TPM
 * decrypts openssl's OAEP ciphertext. Digests and random numbers are
 * checked too; tpm_conf_verify.c has C_Verify and C_Encrypt with public keys,
 * tpm_conf_rawsign.c CKM_RSA_PKCS signing of data that is no DigestInfo.
 *
 * Usage: test_tpm_conformance MODULE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "tpm_conf_aes.h"
#include "tpm_conf_hmac.h"
#include "tpm_conf_rawsign.h"
#include "tpm_conf_verify.h"
#include "tpm_p11.h"
#include "tpm_test_util.h"

static char dir[] = "/tmp/hsmux-tpm-conf-XXXXXX";
static CK_SLOT_ID slot;
static const CK_BYTE data[] = "message signed by the TPM";

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void test_tpm_conformance_slot_and_token(void)
{
	CK_SLOT_INFO sinfo;
	CK_TOKEN_INFO tinfo;
	CK_MECHANISM_INFO minfo;
	CK_MECHANISM_TYPE mechs[64];
	CK_ULONG n = 64;
	bool has_pss = false, has_oaep = false, has_ecdsa = false;

	CU_ASSERT_FATAL(tpm_p11_slot(&slot));
	CU_ASSERT_EQUAL(p11->C_GetSlotInfo(slot, &sinfo), CKR_OK);
	CU_ASSERT(sinfo.flags & CKF_TOKEN_PRESENT);
	/* The router prefixes the backend's description with "hsmux NAME: ". */
	CU_ASSERT_EQUAL(memcmp(sinfo.slotDescription, "hsmux tpm: TPM 2.0 (libtpms)", 28), 0);
	CU_ASSERT_FATAL(tpm_p11_token(slot, "conformance"));
	CU_ASSERT_EQUAL(p11->C_GetTokenInfo(slot, &tinfo), CKR_OK);
	CU_ASSERT_EQUAL(memcmp(tinfo.label, "conformance ", 12), 0);
	CU_ASSERT(tinfo.flags & CKF_TOKEN_INITIALIZED);
	CU_ASSERT(tinfo.flags & CKF_USER_PIN_INITIALIZED);
	CU_ASSERT(tinfo.flags & CKF_LOGIN_REQUIRED);
	CU_ASSERT(tinfo.flags & CKF_RNG);

	CU_ASSERT_EQUAL(p11->C_GetMechanismList(slot, mechs, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++) {
		has_pss |= mechs[i] == CKM_SHA256_RSA_PKCS_PSS;
		has_oaep |= mechs[i] == CKM_RSA_PKCS_OAEP;
		has_ecdsa |= mechs[i] == CKM_ECDSA_SHA384;
		/* Nothing the TPM lacks is advertised: no AES key wrap, no EdDSA. */
		CU_ASSERT_NOT_EQUAL(mechs[i], CKM_AES_KEY_WRAP_PAD);
		CU_ASSERT_NOT_EQUAL(mechs[i], CKM_EC_EDWARDS_KEY_PAIR_GEN);
	}
	CU_ASSERT(has_pss && has_oaep && has_ecdsa);
	CU_ASSERT_EQUAL(p11->C_GetMechanismInfo(slot, CKM_RSA_PKCS_KEY_PAIR_GEN, &minfo), CKR_OK);
	CU_ASSERT_EQUAL(minfo.ulMinKeySize, 2048);
	CU_ASSERT_EQUAL(minfo.ulMaxKeySize, 3072);
	CU_ASSERT_EQUAL(p11->C_GetMechanismInfo(slot, CKM_EDDSA, &minfo), CKR_MECHANISM_INVALID);
}

static void test_tpm_conformance_sessions(void)
{
	CK_SESSION_HANDLE ro, rw;
	CK_SESSION_INFO info;
	CK_UTF8CHAR wrong[] = "wrong-pin";

	CU_ASSERT_EQUAL(p11->C_OpenSession(slot, 0, NULL, NULL, &ro),
	                CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	CU_ASSERT_EQUAL_FATAL(p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro),
	                      CKR_OK);
	CU_ASSERT_EQUAL(p11->C_GetSessionInfo(ro, &info), CKR_OK);
	CU_ASSERT_EQUAL(info.state, CKS_RO_PUBLIC_SESSION);
	CU_ASSERT_EQUAL(
	    p11->C_Login(ro, CKU_SO, (CK_UTF8CHAR *)TPM_P11_SO_PIN, strlen(TPM_P11_SO_PIN)),
	    CKR_SESSION_READ_ONLY_EXISTS);
	CU_ASSERT_EQUAL(p11->C_Login(ro, CKU_USER, wrong, sizeof(wrong) - 1), CKR_PIN_INCORRECT);
	CU_ASSERT_EQUAL(
	    p11->C_Login(ro, CKU_USER, (CK_UTF8CHAR *)TPM_P11_USER_PIN, strlen(TPM_P11_USER_PIN)),
	    CKR_OK);
	CU_ASSERT_EQUAL(p11->C_GetSessionInfo(ro, &info), CKR_OK);
	CU_ASSERT_EQUAL(info.state, CKS_RO_USER_FUNCTIONS);

	/* Login state is shared by the application's sessions. */
	CU_ASSERT_EQUAL_FATAL(
	    p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &rw), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_GetSessionInfo(rw, &info), CKR_OK);
	CU_ASSERT_EQUAL(info.state, CKS_RW_USER_FUNCTIONS);
	CU_ASSERT_EQUAL(p11->C_Logout(rw), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_GetSessionInfo(ro, &info), CKR_OK);
	CU_ASSERT_EQUAL(info.state, CKS_RO_PUBLIC_SESSION);
	CU_ASSERT_EQUAL(p11->C_Logout(rw), CKR_USER_NOT_LOGGED_IN);
	CU_ASSERT_EQUAL(p11->C_CloseSession(ro), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_CloseSession(rw), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_CloseSession(rw), CKR_SESSION_HANDLE_INVALID);
}

static void test_tpm_conformance_keygen_and_find(void)
{
	CK_SESSION_HANDLE s, ro;
	CK_OBJECT_HANDLE pub, priv, h;
	CK_KEY_TYPE kt = CKK_EC;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE by_type[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}};
	CK_ATTRIBUTE by_id[] = {{CKA_ID, "r2", 2}};
	CK_OBJECT_HANDLE found[16];
	CK_ULONG n = 0;

	CU_ASSERT_EQUAL_FATAL(p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro),
	                      CKR_OK);
	s = tpm_p11_login(slot);
	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL(tpm_p11_keygen(ro, true, 2048, "ro", "ro", &pub, &priv),
	                CKR_SESSION_READ_ONLY);
	CU_ASSERT_EQUAL(p11->C_CloseSession(ro), CKR_OK);

	CU_ASSERT_EQUAL(tpm_p11_keygen(s, true, 2048, "rsa2048", "r2", &pub, &priv), CKR_OK);
	CU_ASSERT_EQUAL(tpm_p11_keygen(s, true, 3072, "rsa3072", "r3", &pub, &priv), CKR_OK);
	CU_ASSERT_EQUAL(tpm_p11_keygen(s, false, 256, "ec256", "e2", &pub, &priv), CKR_OK);
	CU_ASSERT_EQUAL(tpm_p11_keygen(s, false, 384, "ec384", "e3", &pub, &priv), CKR_OK);
	CU_ASSERT_EQUAL(tpm_p11_keygen(s, true, 4096, "rsa4096", "r4", &pub, &priv),
	                CKR_KEY_SIZE_RANGE);

	CU_ASSERT_EQUAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "rsa2048", &h), 1);
	CU_ASSERT_EQUAL(tpm_p11_find(s, CKO_PUBLIC_KEY, "ec384", &h), 1);
	CU_ASSERT_EQUAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "rsa4096", &h), 0);
	CU_ASSERT_EQUAL(p11->C_FindObjectsInit(s, by_type, 2), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_FindObjects(s, found, 16, &n), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_FindObjectsFinal(s), CKR_OK);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(p11->C_FindObjectsInit(s, by_id, 1), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_FindObjects(s, found, 16, &n), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_FindObjectsFinal(s), CKR_OK);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(p11->C_FindObjectsFinal(s), CKR_OPERATION_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

static void test_tpm_conformance_attributes(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(slot);
	CK_OBJECT_HANDLE priv;
	CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, local = CK_FALSE;
	CK_BYTE exponent[512];
	CK_ATTRIBUTE flags[] = {
	    {CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
	    {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
	    {CKA_LOCAL, &local, sizeof(local)},
	};
	CK_ATTRIBUTE secret = {CKA_PRIVATE_EXPONENT, exponent, sizeof(exponent)};
	CK_ATTRIBUTE relabel = {CKA_LABEL, "renamed", 7};
	CK_ATTRIBUTE back = {CKA_LABEL, "rsa2048", 7};
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE make_extractable = {CKA_SENSITIVE, &no, sizeof(no)};

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "rsa2048", &priv), 1);
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, priv, flags, 3), CKR_OK);
	CU_ASSERT_EQUAL(sensitive, CK_TRUE);
	CU_ASSERT_EQUAL(extractable, CK_FALSE);
	CU_ASSERT_EQUAL(local, CK_TRUE);
	/* The private exponent never leaves the TPM, so the backend has none to give. */
	CU_ASSERT_NOT_EQUAL(p11->C_GetAttributeValue(s, priv, &secret, 1), CKR_OK);
	CU_ASSERT_EQUAL(secret.ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CU_ASSERT_NOT_EQUAL(p11->C_SetAttributeValue(s, priv, &make_extractable, 1), CKR_OK);

	CU_ASSERT_EQUAL(p11->C_SetAttributeValue(s, priv, &relabel, 1), CKR_OK);
	CU_ASSERT_EQUAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "renamed", NULL), 1);
	CU_ASSERT_EQUAL(p11->C_SetAttributeValue(s, priv, &back, 1), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

/* Converts an r||s signature to DER, as openssl expects it. */
static size_t ecdsa_der(const CK_BYTE *sig, CK_ULONG len, unsigned char *out)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)(len / 2), NULL);
	BIGNUM *s = BN_bin2bn(sig + len / 2, (int)(len / 2), NULL);
	unsigned char *p = out;
	int n = 0;

	if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1)
		n = i2d_ECDSA_SIG(es, &p);
	else {
		BN_free(r);
		BN_free(s);
	}
	ECDSA_SIG_free(es);
	return n > 0 ? (size_t)n : 0;
}

struct sign_case {
	const char *label;
	CK_MECHANISM_TYPE mech;
	const char *dgst;    /* openssl dgst option */
	const char *sigopts; /* extra openssl dgst options */
	bool prehash;        /* the mechanism takes a digest, not the data */
	bool digest_info;    /* CKM_RSA_PKCS: the input is a DigestInfo */
};

static void run_sign_case(CK_SESSION_HANDLE s, const struct sign_case *c)
{
	static const CK_BYTE sha256_prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
	                                        0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
	                                        0x01, 0x05, 0x00, 0x04, 0x20};
	CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
	CK_MECHANISM mech = {c->mech, NULL, 0};
	CK_OBJECT_HANDLE pub, priv;
	CK_BYTE in[128], sig[512];
	unsigned char der[160];
	CK_ULONG in_len = sizeof(data) - 1, sig_len = 0;
	unsigned int md_len = 0;
	char pem[256], sig_path[256], data_path[256];
	bool ec = strncmp(c->label, "ec", 2) == 0;

	if (c->mech == CKM_SHA256_RSA_PKCS_PSS || c->mech == CKM_RSA_PKCS_PSS) {
		mech.pParameter = &pss;
		mech.ulParameterLen = sizeof(pss);
	}
	memcpy(in, data, in_len);
	if (c->prehash || c->digest_info) {
		size_t off = c->digest_info ? sizeof(sha256_prefix) : 0;

		memcpy(in, sha256_prefix, off);
		EVP_Digest(data, sizeof(data) - 1, in + off, &md_len,
		           strcmp(c->dgst, "-sha384") ? EVP_sha256() : EVP_sha384(), NULL);
		in_len = off + md_len;
	}

	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PRIVATE_KEY, c->label, &priv), 1);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PUBLIC_KEY, c->label, &pub), 1);
	CU_ASSERT_EQUAL_FATAL(p11->C_SignInit(s, &mech, priv), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_Sign(s, in, in_len, NULL, &sig_len), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_Sign(s, in, in_len, sig, &sig_len), CKR_OK);

	path_of(pem, sizeof(pem), "pub.pem");
	path_of(sig_path, sizeof(sig_path), "sig.bin");
	path_of(data_path, sizeof(data_path), "data.bin");
	CU_ASSERT_FATAL(tpm_p11_write_pem(s, pub, pem));
	CU_ASSERT_FATAL(tpm_p11_write_file(data_path, data, sizeof(data) - 1));
	if (ec) {
		CU_ASSERT_FATAL(tpm_p11_write_file(sig_path, der, ecdsa_der(sig, sig_len, der)));
	} else {
		CU_ASSERT_FATAL(tpm_p11_write_file(sig_path, sig, sig_len));
	}
	CU_ASSERT(tpm_p11_run("openssl dgst %s %s -verify %s -signature %s %s >/dev/null", c->dgst,
	                      c->sigopts, pem, sig_path, data_path));
	tpm_conf_verify_check(s, pub, &mech, in, in_len, sig, sig_len,
	                      !c->prehash && !c->digest_info);

	/* openssl must reject a signature over other data, or the check proves nothing. */
	CU_ASSERT_FATAL(tpm_p11_write_file(data_path, "other", 5));
	CU_ASSERT(tpm_p11_fails("openssl dgst %s %s -verify %s -signature %s %s >/dev/null 2>&1",
	                        c->dgst, c->sigopts, pem, sig_path, data_path));
}

static void test_tpm_conformance_sign_verify(void)
{
	static const char pss[] = "-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest";
	static const struct sign_case cases[] = {
	    {"rsa2048", CKM_SHA256_RSA_PKCS, "-sha256", "", false, false},
	    {"rsa2048", CKM_RSA_PKCS, "-sha256", "", false, true},
	    {"rsa2048", CKM_SHA256_RSA_PKCS_PSS, "-sha256", pss, false, false},
	    {"rsa3072", CKM_RSA_PKCS_PSS, "-sha256", pss, true, false},
	    {"rsa3072", CKM_SHA384_RSA_PKCS, "-sha384", "", false, false},
	    {"ec256", CKM_ECDSA_SHA256, "-sha256", "", false, false},
	    {"ec256", CKM_ECDSA, "-sha256", "", true, false},
	    {"ec384", CKM_ECDSA_SHA384, "-sha384", "", false, false},
	    {"ec384", CKM_ECDSA, "-sha384", "", true, false},
	};
	CK_SESSION_HANDLE s = tpm_p11_login(slot);

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_sign_case(s, &cases[i]);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

static void test_tpm_conformance_sign_errors(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(slot);
	CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0}, pkcs = {CKM_SHA256_RSA_PKCS, NULL, 0};
	CK_MECHANISM aes = {CKM_AES_CBC, NULL, 0};
	CK_OBJECT_HANDLE rsa, ec, pub;
	CK_BYTE sig[512], odd[33] = {0};
	CK_ULONG len = sizeof(sig);

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "rsa2048", &rsa), 1);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "ec256", &ec), 1);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PUBLIC_KEY, "ec256", &pub), 1);
	CU_ASSERT_EQUAL(p11->C_Sign(s, odd, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(p11->C_SignInit(s, &aes, rsa), CKR_MECHANISM_INVALID);
	CU_ASSERT_EQUAL(p11->C_SignInit(s, &ecdsa, rsa), CKR_KEY_TYPE_INCONSISTENT);
	CU_ASSERT_EQUAL(p11->C_SignInit(s, &pkcs, ec), CKR_KEY_TYPE_INCONSISTENT);
	CU_ASSERT_EQUAL(p11->C_SignInit(s, &ecdsa, 0xdeadUL), CKR_KEY_HANDLE_INVALID);

	/* A raw ECDSA input must be a digest of a size the TPM hashes with. */
	CU_ASSERT_EQUAL_FATAL(p11->C_SignInit(s, &ecdsa, ec), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_Sign(s, odd, 33, sig, &len), CKR_DATA_LEN_RANGE);
	CU_ASSERT_EQUAL(p11->C_Sign(s, odd, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED);

	/* A short buffer keeps the operation, so the caller can retry. */
	CU_ASSERT_EQUAL_FATAL(p11->C_SignInit(s, &ecdsa, ec), CKR_OK);
	len = 10;
	CU_ASSERT_EQUAL(p11->C_Sign(s, odd, 32, sig, &len), CKR_BUFFER_TOO_SMALL);
	CU_ASSERT_EQUAL(len, 64);
	CU_ASSERT_EQUAL(p11->C_Sign(s, odd, 32, sig, &len), CKR_OK);

	CU_ASSERT_EQUAL(p11->C_Logout(s), CKR_OK);
	CU_ASSERT_NOT_EQUAL(p11->C_SignInit(s, &ecdsa, ec), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

static void oaep_case(CK_SESSION_HANDLE s, CK_MECHANISM_TYPE hash, CK_RSA_PKCS_MGF_TYPE mgf,
                      const char *md)
{
	CK_RSA_PKCS_OAEP_PARAMS oaep = {hash, mgf, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
	CK_OBJECT_HANDLE pub, priv;
	char pem[256], in[256], out[256];
	CK_BYTE secret[32], ct[512], pt[512];
	CK_ULONG pt_len = sizeof(pt);
	uint8_t *ct_file = NULL;
	FILE *f;
	size_t ct_len;

	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (CK_BYTE)(i * 7 + 1);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PUBLIC_KEY, "rsa2048", &pub), 1);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "rsa2048", &priv), 1);
	path_of(pem, sizeof(pem), "pub.pem");
	path_of(in, sizeof(in), "secret.bin");
	path_of(out, sizeof(out), "ct.bin");
	CU_ASSERT_FATAL(tpm_p11_write_pem(s, pub, pem));
	CU_ASSERT_FATAL(tpm_p11_write_file(in, secret, sizeof(secret)));
	CU_ASSERT_FATAL(tpm_p11_run("openssl pkeyutl -encrypt -pubin -inkey %s -in %s -out %s "
	                            "-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:%s "
	                            "-pkeyopt rsa_mgf1_md:%s",
	                            pem, in, out, md, md));
	f = fopen(out, "rb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	ct_len = fread(ct, 1, sizeof(ct), f);
	fclose(f);
	(void)ct_file;

	CU_ASSERT_EQUAL_FATAL(p11->C_DecryptInit(s, &mech, priv), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_Decrypt(s, ct, ct_len, pt, &pt_len), CKR_OK);
	CU_ASSERT_EQUAL(pt_len, sizeof(secret));
	CU_ASSERT_EQUAL(memcmp(pt, secret, sizeof(secret)), 0);
}

/* CKM_RSA_PKCS decryption (the TPM's RSAES) of openssl's PKCS#1 v1.5 ciphertext. */
static void pkcs1_decrypt_case(CK_SESSION_HANDLE s)
{
	CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
	CK_OBJECT_HANDLE pub, priv;
	char pem[256], in[256], out[256];
	CK_BYTE ct[512], pt[512];
	CK_ULONG pt_len = sizeof(pt);
	FILE *f;
	size_t ct_len;

	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PUBLIC_KEY, "rsa3072", &pub), 1);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "rsa3072", &priv), 1);
	path_of(pem, sizeof(pem), "pub3072.pem");
	path_of(in, sizeof(in), "pkcs1.bin");
	path_of(out, sizeof(out), "pkcs1.ct");
	CU_ASSERT_FATAL(tpm_p11_write_pem(s, pub, pem));
	CU_ASSERT_FATAL(tpm_p11_write_file(in, "pkcs1 secret", 12));
	CU_ASSERT_FATAL(tpm_p11_run("openssl pkeyutl -encrypt -pubin -inkey %s -in %s -out %s "
	                            "-pkeyopt rsa_padding_mode:pkcs1",
	                            pem, in, out));
	f = fopen(out, "rb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	ct_len = fread(ct, 1, sizeof(ct), f);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(p11->C_DecryptInit(s, &mech, priv), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_Decrypt(s, ct, ct_len, pt, &pt_len), CKR_OK);
	CU_ASSERT_EQUAL(pt_len, 12);
	CU_ASSERT_EQUAL(memcmp(pt, "pkcs1 secret", 12), 0);
}

static void test_tpm_conformance_decrypt(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(slot);
	CK_RSA_PKCS_OAEP_PARAMS mixed = {CKM_SHA256, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM bad = {CKM_RSA_PKCS_OAEP, &mixed, sizeof(mixed)};
	CK_OBJECT_HANDLE priv, ec;
	CK_BYTE ct[100] = {0}, pt[512];
	CK_ULONG pt_len = sizeof(pt);
	CK_RSA_PKCS_OAEP_PARAMS ok = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM good = {CKM_RSA_PKCS_OAEP, &ok, sizeof(ok)};

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	oaep_case(s, CKM_SHA256, CKG_MGF1_SHA256, "sha256");
	oaep_case(s, CKM_SHA_1, CKG_MGF1_SHA1, "sha1");

	pkcs1_decrypt_case(s);

	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "rsa2048", &priv), 1);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "ec256", &ec), 1);
	/* The TPM's OAEP uses one hash for the label and MGF1. */
	CU_ASSERT_EQUAL(p11->C_DecryptInit(s, &bad, priv), CKR_MECHANISM_PARAM_INVALID);
	CU_ASSERT_EQUAL(p11->C_DecryptInit(s, &good, ec), CKR_KEY_TYPE_INCONSISTENT);
	CU_ASSERT_EQUAL_FATAL(p11->C_DecryptInit(s, &good, priv), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_Decrypt(s, ct, sizeof(ct), pt, &pt_len),
	                CKR_ENCRYPTED_DATA_LEN_RANGE);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

static void test_tpm_conformance_digest_random(void)
{
	/* SHA-384("abc") from FIPS 180-2, appendix D.1. */
	static const CK_BYTE sha384_abc[] = {
	    0xcb, 0x00, 0x75, 0x3f, 0x45, 0xa3, 0x5e, 0x8b, 0xb5, 0xa0, 0x3d, 0x69,
	    0x9a, 0xc6, 0x50, 0x07, 0x27, 0x2c, 0x32, 0xab, 0x0e, 0xde, 0xd1, 0x63,
	    0x1a, 0x8b, 0x60, 0x5a, 0x43, 0xff, 0x5b, 0xed, 0x80, 0x86, 0x07, 0x2b,
	    0xa1, 0xe7, 0xcc, 0x23, 0x58, 0xba, 0xec, 0xa1, 0x34, 0xc8, 0x25, 0xa7};
	CK_MECHANISM m = {CKM_SHA384, NULL, 0};
	CK_SESSION_HANDLE s;
	CK_BYTE out[64], r1[64], r2[64];
	CK_ULONG len = sizeof(out);

	CU_ASSERT_EQUAL_FATAL(p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(p11->C_DigestInit(s, &m), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_Digest(s, (CK_BYTE *)"abc", 3, out, &len), CKR_OK);
	CU_ASSERT_EQUAL(len, 48);
	CU_ASSERT_EQUAL(memcmp(out, sha384_abc, 48), 0);
	CU_ASSERT_EQUAL(p11->C_GenerateRandom(s, r1, sizeof(r1)), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_GenerateRandom(s, r2, sizeof(r2)), CKR_OK);
	CU_ASSERT_NOT_EQUAL(memcmp(r1, r2, sizeof(r1)), 0);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

/* How the sweep below checks one signing mechanism. */
struct sweep_entry {
	CK_MECHANISM_TYPE mech;
	bool ec;
	const char *md; /* OpenSSL digest name */
	bool pss;
	bool prehash;     /* the mechanism takes the digest */
	bool digest_info; /* the mechanism takes a DigestInfo (CKM_RSA_PKCS) */
};

static const struct sweep_entry sweep[] = {
    {CKM_RSA_PKCS, false, "SHA256", false, false, true},
    {CKM_SHA1_RSA_PKCS, false, "SHA1", false, false, false},
    {CKM_SHA256_RSA_PKCS, false, "SHA256", false, false, false},
    {CKM_SHA384_RSA_PKCS, false, "SHA384", false, false, false},
    {CKM_SHA512_RSA_PKCS, false, "SHA512", false, false, false},
    {CKM_RSA_PKCS_PSS, false, "SHA384", true, true, false},
    {CKM_SHA1_RSA_PKCS_PSS, false, "SHA1", true, false, false},
    {CKM_SHA256_RSA_PKCS_PSS, false, "SHA256", true, false, false},
    {CKM_SHA384_RSA_PKCS_PSS, false, "SHA384", true, false, false},
    {CKM_SHA512_RSA_PKCS_PSS, false, "SHA512", true, false, false},
    {CKM_ECDSA, true, "SHA256", false, true, false},
    {CKM_ECDSA_SHA1, true, "SHA1", false, false, false},
    {CKM_ECDSA_SHA256, true, "SHA256", false, false, false},
    {CKM_ECDSA_SHA384, true, "SHA384", false, false, false},
    {CKM_ECDSA_SHA512, true, "SHA512", false, false, false},
};

static CK_MECHANISM_TYPE hash_ckm(const char *md)
{
	if (!strcmp(md, "SHA1"))
		return CKM_SHA_1;
	if (!strcmp(md, "SHA256"))
		return CKM_SHA256;
	return strcmp(md, "SHA384") ? CKM_SHA512 : CKM_SHA384;
}

static CK_RSA_PKCS_MGF_TYPE hash_mgf(const char *md)
{
	if (!strcmp(md, "SHA1"))
		return CKG_MGF1_SHA1;
	if (!strcmp(md, "SHA256"))
		return CKG_MGF1_SHA256;
	return strcmp(md, "SHA384") ? CKG_MGF1_SHA512 : CKG_MGF1_SHA384;
}

/* Builds the mechanism's input: the data, its digest, or its DigestInfo. */
static CK_ULONG sweep_input(const struct sweep_entry *e, const EVP_MD *md, CK_BYTE *in)
{
	unsigned char *der = NULL;
	unsigned int len = 0;
	X509_SIG *sig;
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *digest;
	int n;

	if (!e->prehash && !e->digest_info) {
		memcpy(in, data, sizeof(data) - 1);
		return sizeof(data) - 1;
	}
	EVP_Digest(data, sizeof(data) - 1, in, &len, md, NULL);
	if (!e->digest_info)
		return len;

	/* The DigestInfo comes from OpenSSL's own ASN.1 encoder, not from a table of ours. */
	sig = X509_SIG_new();
	X509_SIG_getm(sig, &alg, &digest);
	X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, NULL);
	ASN1_OCTET_STRING_set(digest, in, (int)len);
	n = i2d_X509_SIG(sig, &der);
	memcpy(in, der, (size_t)n);
	OPENSSL_free(der);
	X509_SIG_free(sig);
	return (CK_ULONG)n;
}

static void sweep_one(CK_SESSION_HANDLE s, const struct sweep_entry *e)
{
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_MECHANISM mech = {e->mech, NULL, 0};
	CK_OBJECT_HANDLE pub, priv;
	CK_BYTE in[128], sig[512], attr[600];
	CK_ULONG in_len, sig_len = sizeof(sig), attr_len;
	CK_ATTRIBUTE a = {e->ec ? CKA_EC_POINT : CKA_MODULUS, attr, sizeof(attr)};
	const EVP_MD *md = EVP_get_digestbyname(e->md);
	EVP_PKEY *key;

	if (e->pss) {
		pss = (CK_RSA_PKCS_PSS_PARAMS){hash_ckm(e->md), hash_mgf(e->md),
		                               (CK_ULONG)EVP_MD_get_size(md)};
		mech.pParameter = &pss;
		mech.ulParameterLen = sizeof(pss);
	}
	in_len = sweep_input(e, md, in);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PRIVATE_KEY, e->ec ? "ec384" : "rsa3072", &priv),
	                      1);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PUBLIC_KEY, e->ec ? "ec384" : "rsa3072", &pub),
	                      1);
	CU_ASSERT_EQUAL_FATAL(p11->C_SignInit(s, &mech, priv), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(p11->C_Sign(s, in, in_len, sig, &sig_len), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(p11->C_GetAttributeValue(s, pub, &a, 1), CKR_OK);
	attr_len = a.ulValueLen;
	key = e->ec ? tpm_test_ec_key(attr, attr_len, true) : tpm_test_rsa_key(attr, attr_len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(key);
	if (!tpm_test_verify(key, md, e->pss, data, sizeof(data) - 1, sig, sig_len)) {
		fprintf(stderr, "mechanism 0x%lx: OpenSSL rejects the signature\n", e->mech);
		CU_FAIL("signature does not verify");
	}
	EVP_PKEY_free(key);
	tpm_conf_verify_check(s, pub, &mech, in, in_len, sig, sig_len,
	                      !e->prehash && !e->digest_info);
}

static void digest_one(CK_SESSION_HANDLE s, CK_MECHANISM_TYPE type)
{
	static const struct {
		CK_MECHANISM_TYPE mech;
		const char *md;
	} digests[] = {
	    {CKM_SHA_1, "SHA1"},
	    {CKM_SHA256, "SHA256"},
	    {CKM_SHA384, "SHA384"},
	    {CKM_SHA512, "SHA512"},
	};
	CK_MECHANISM mech = {type, NULL, 0};
	CK_BYTE out[64], ref[64];
	CK_ULONG len = sizeof(out);
	unsigned int ref_len = 0;

	for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++) {
		if (digests[i].mech != type)
			continue;
		EVP_Digest(data, sizeof(data) - 1, ref, &ref_len,
		           EVP_get_digestbyname(digests[i].md), NULL);
		CU_ASSERT_EQUAL_FATAL(p11->C_DigestInit(s, &mech), CKR_OK);
		CU_ASSERT_EQUAL(p11->C_Digest(s, (CK_BYTE *)data, sizeof(data) - 1, out, &len),
		                CKR_OK);
		CU_ASSERT_EQUAL(len, ref_len);
		CU_ASSERT_EQUAL(memcmp(out, ref, ref_len), 0);
		return;
	}
	fprintf(stderr, "digest mechanism 0x%lx is advertised but not tested\n", type);
	CU_FAIL("untested digest mechanism");
}

/*
 * Every advertised mechanism is exercised here, and OpenSSL checks the
 * result. A mechanism added to the list without a case fails the test.
 */
static void test_tpm_conformance_mechanism_sweep(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(slot);
	CK_MECHANISM_TYPE mechs[64];
	CK_MECHANISM_INFO info;
	CK_ULONG n = 64;

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(p11->C_GetMechanismList(slot, mechs, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++) {
		bool covered = false;

		CU_ASSERT_EQUAL_FATAL(p11->C_GetMechanismInfo(slot, mechs[i], &info), CKR_OK);
		/* sweep_one() signs in the TPM and verifies through C_Verify. */
		if (info.flags & (CKF_SIGN | CKF_VERIFY)) {
			for (size_t j = 0; j < sizeof(sweep) / sizeof(sweep[0]); j++) {
				if (sweep[j].mech == mechs[i]) {
					sweep_one(s, &sweep[j]);
					covered = true;
				}
			}
		}
		if (info.flags & CKF_DIGEST) {
			digest_one(s, mechs[i]);
			covered = true;
		}
		/* Key generation, decryption and AES have their own tests above. */
		covered |= mechs[i] == CKM_RSA_PKCS_KEY_PAIR_GEN ||
		           mechs[i] == CKM_EC_KEY_PAIR_GEN || mechs[i] == CKM_RSA_PKCS_OAEP ||
		           mechs[i] == CKM_AES_KEY_GEN || mechs[i] == CKM_AES_CBC ||
		           mechs[i] == CKM_AES_CFB128 || mechs[i] == CKM_RSA_AES_KEY_WRAP ||
		           tpm_conf_hmac_covers(mechs[i]);
		/* RSA encryption with a public key has a case of its own; AES is above. */
		if ((info.flags & CKF_ENCRYPT) && mechs[i] != CKM_AES_CBC &&
		    mechs[i] != CKM_AES_CFB128 && !tpm_conf_encrypt_one(s, mechs[i])) {
			fprintf(stderr, "mechanism 0x%lx encrypts but has no case\n", mechs[i]);
			covered = false;
		}
		if (!covered)
			fprintf(stderr, "mechanism 0x%lx is advertised but not tested\n", mechs[i]);
		CU_ASSERT(covered);
	}
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

/*
 * A private token data object through the module: its value reads back
 * after a login, and without one the object is not found (test_tpm_data
 * shows that the stored value is encrypted).
 */
static void check_private_data(CK_SESSION_HANDLE s)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE;
	CK_BYTE secret[48], buf[64];
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},      {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &yes, sizeof(yes)},    {CKA_LABEL, "private note", 12},
	    {CKA_VALUE, secret, sizeof(secret)},
	};
	CK_ATTRIBUTE value = {CKA_VALUE, NULL, 0};
	CK_SESSION_HANDLE plain;
	CK_OBJECT_HANDLE h;

	CU_ASSERT_EQUAL_FATAL(p11->C_GenerateRandom(s, secret, sizeof(secret)), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(p11->C_CreateObject(s, tmpl, 5, &h), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_DATA, "private note", &h), 1);
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, h, &value, 1), CKR_OK);
	CU_ASSERT_EQUAL(value.ulValueLen, sizeof(secret));
	value.pValue = buf;
	value.ulValueLen = sizeof(buf);
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, h, &value, 1), CKR_OK);
	CU_ASSERT(value.ulValueLen == sizeof(secret) && !memcmp(buf, secret, sizeof(secret)));

	CU_ASSERT_EQUAL_FATAL(p11->C_Logout(s), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &plain),
	                      CKR_OK);
	CU_ASSERT_EQUAL(tpm_p11_find(plain, CKO_DATA, "private note", NULL), 0);
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(plain, h, &value, 1), CKR_OBJECT_HANDLE_INVALID);
	CU_ASSERT_EQUAL(p11->C_CloseSession(plain), CKR_OK);
	CU_ASSERT_EQUAL(
	    p11->C_Login(s, CKU_USER, (CK_UTF8CHAR *)TPM_P11_USER_PIN, strlen(TPM_P11_USER_PIN)),
	    CKR_OK);
	CU_ASSERT_EQUAL(p11->C_DestroyObject(s, h), CKR_OK);
}

static void test_tpm_conformance_create_objects(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(slot), ro;
	CK_OBJECT_CLASS cert_cls = CKO_CERTIFICATE, data_cls = CKO_DATA, pub_cls = CKO_PUBLIC_KEY;
	CK_OBJECT_CLASS priv_cls = CKO_PRIVATE_KEY;
	CK_CERTIFICATE_TYPE x509 = CKC_X_509;
	CK_KEY_TYPE rsa = CKK_RSA;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_BYTE der[4096], value[4096], modulus[512], e[] = {1, 0, 1};
	char cert_path[256], key_path[256];
	CK_ATTRIBUTE mod_attr = {CKA_MODULUS, modulus, sizeof(modulus)};
	CK_OBJECT_HANDLE h, pub, found[4];
	CK_ULONG n = 0;
	size_t der_len;
	FILE *f;

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	path_of(cert_path, sizeof(cert_path), "cert.der");
	path_of(key_path, sizeof(key_path), "cert.key");
	CU_ASSERT_FATAL(tpm_p11_run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	                            "-nodes -keyout %s -outform DER -out %s -subj /CN=tpm -days 1 "
	                            "2>/dev/null",
	                            key_path, cert_path));
	f = fopen(cert_path, "rb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	der_len = fread(der, 1, sizeof(der), f);
	fclose(f);

	CK_ATTRIBUTE cert[] = {
	    {CKA_CLASS, &cert_cls, sizeof(cert_cls)},
	    {CKA_CERTIFICATE_TYPE, &x509, sizeof(x509)},
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_LABEL, "cert", 4},
	    {CKA_ID, "c1", 2},
	    {CKA_SUBJECT, "subject", 7},
	    {CKA_VALUE, der, der_len},
	};
	CK_ATTRIBUTE by_id[] = {{CKA_CLASS, &cert_cls, sizeof(cert_cls)}, {CKA_ID, "c1", 2}};
	CK_ATTRIBUTE read_value = {CKA_VALUE, value, sizeof(value)};

	CU_ASSERT_EQUAL(p11->C_CreateObject(s, cert, 6, &h), CKR_TEMPLATE_INCOMPLETE);
	CU_ASSERT_EQUAL_FATAL(p11->C_CreateObject(s, cert, 7, &h), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_FindObjectsInit(s, by_id, 2), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_FindObjects(s, found, 4, &n), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_FindObjectsFinal(s), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, found[0], &read_value, 1), CKR_OK);
	CU_ASSERT_EQUAL(read_value.ulValueLen, der_len);
	CU_ASSERT_EQUAL(memcmp(value, der, der_len), 0);

	/* A public key object from the numbers of a TPM key. */
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PUBLIC_KEY, "rsa2048", &pub), 1);
	CU_ASSERT_EQUAL_FATAL(p11->C_GetAttributeValue(s, pub, &mod_attr, 1), CKR_OK);
	CK_ATTRIBUTE pubkey[] = {
	    {CKA_CLASS, &pub_cls, sizeof(pub_cls)},
	    {CKA_KEY_TYPE, &rsa, sizeof(rsa)},
	    {CKA_LABEL, "imported", 8},
	    {CKA_MODULUS, modulus, mod_attr.ulValueLen},
	    {CKA_PUBLIC_EXPONENT, e, sizeof(e)},
	};
	CK_ULONG bits = 0;
	CK_ATTRIBUTE bits_attr = {CKA_MODULUS_BITS, &bits, sizeof(bits)};

	CU_ASSERT_EQUAL_FATAL(p11->C_CreateObject(s, pubkey, 5, &h), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, h, &bits_attr, 1), CKR_OK);
	CU_ASSERT_EQUAL(bits, 2048);
	CU_ASSERT_EQUAL(p11->C_CreateObject(s, pubkey, 4, &h), CKR_TEMPLATE_INCOMPLETE);

	/* A session data object, and the templates that must fail. */
	CK_ATTRIBUTE data_obj[] = {
	    {CKA_CLASS, &data_cls, sizeof(data_cls)},
	    {CKA_LABEL, "note", 4},
	    {CKA_VALUE, "hello", 5},
	    {CKA_PRIVATE, &no, sizeof(no)},
	};
	CK_ATTRIBUTE private_data[] = {
	    {CKA_CLASS, &data_cls, sizeof(data_cls)},
	    {CKA_PRIVATE, &yes, sizeof(yes)},
	};
	CK_ATTRIBUTE token_data[] = {
	    {CKA_CLASS, &data_cls, sizeof(data_cls)},
	    {CKA_TOKEN, &yes, sizeof(yes)},
	};
	CK_ATTRIBUTE private_key[] = {{CKA_CLASS, &priv_cls, sizeof(priv_cls)}};
	CK_ATTRIBUTE unknown[] = {
	    {CKA_CLASS, &data_cls, sizeof(data_cls)},
	    {CKA_MODULUS, "x", 1},
	};

	CU_ASSERT_EQUAL(p11->C_CreateObject(s, data_obj, 4, &h), CKR_OK);
	CU_ASSERT_EQUAL(tpm_p11_find(s, CKO_DATA, "note", NULL), 1);
	CU_ASSERT_EQUAL(p11->C_CreateObject(s, private_data, 2, &h), CKR_OK);
	check_private_data(s);
	CU_ASSERT_EQUAL(p11->C_CreateObject(s, private_key, 1, &h), CKR_ATTRIBUTE_VALUE_INVALID);
	CU_ASSERT_EQUAL(p11->C_CreateObject(s, unknown, 2, &h), CKR_ATTRIBUTE_TYPE_INVALID);
	CU_ASSERT_EQUAL_FATAL(p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro),
	                      CKR_OK);
	CU_ASSERT_EQUAL(p11->C_CreateObject(ro, token_data, 2, &h), CKR_SESSION_READ_ONLY);
	CU_ASSERT_EQUAL(p11->C_CloseSession(ro), CKR_OK);

	/* Session objects end with their session. */
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
	s = tpm_p11_login(slot);
	CU_ASSERT_EQUAL(tpm_p11_find(s, CKO_DATA, "note", NULL), 0);
	CU_ASSERT_EQUAL(tpm_p11_find(s, CKO_CERTIFICATE, "cert", NULL), 1);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

static CK_RV aes_crypt(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE type,
                       bool decrypt, const CK_BYTE *iv, const CK_BYTE *in, CK_ULONG len,
                       CK_BYTE *out)
{
	CK_MECHANISM mech = {type, (void *)iv, 16};
	CK_ULONG out_len = len;
	CK_RV rv;

	rv = decrypt ? p11->C_DecryptInit(s, &mech, key) : p11->C_EncryptInit(s, &mech, key);
	if (rv != CKR_OK)
		return rv;
	rv = decrypt ? p11->C_Decrypt(s, (CK_BYTE *)in, len, out, &out_len)
	             : p11->C_Encrypt(s, (CK_BYTE *)in, len, out, &out_len);
	return rv == CKR_OK && out_len != len ? CKR_GENERAL_ERROR : rv;
}

static CK_RV aes_keygen(CK_SESSION_HANDLE s, CK_ULONG len, bool token, CK_OBJECT_HANDLE *key)
{
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_BBOOL tok = token ? CK_TRUE : CK_FALSE, yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_VALUE_LEN, &len, sizeof(len)},
	    {CKA_TOKEN, &tok, sizeof(tok)},
	    {CKA_LABEL, "aes", 3},
	    {CKA_SENSITIVE, &yes, sizeof(yes)},
	};

	return p11->C_GenerateKey(s, &mech, tmpl, 4, key);
}

/*
 * The AES key never leaves the TPM, so no outside known answer exists.
 * Instead the test checks the relations that define the modes: CBC of one
 * zero block is E(IV), CFB-128 of a block P is P xor E(IV), CBC chains
 * across the TPM's 1024-byte chunks, and decryption inverts encryption.
 */
static void aes_modes(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key)
{
	CK_BYTE iv[16], zero[16] = {0}, e_iv[16], block[16], cfb[16];
	CK_BYTE plain[3000], cipher[3000], back[3000], part[3000];

	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (CK_BYTE)(i * 11 + 3);
	for (size_t i = 0; i < sizeof(iv); i++)
		iv[i] = (CK_BYTE)(0xa0 + i);
	memcpy(block, plain, 16);

	CU_ASSERT_EQUAL_FATAL(aes_crypt(s, key, CKM_AES_CBC, false, iv, zero, 16, e_iv), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(aes_crypt(s, key, CKM_AES_CFB128, false, iv, block, 16, cfb), CKR_OK);
	for (size_t i = 0; i < 16; i++)
		CU_ASSERT_EQUAL(cfb[i], (CK_BYTE)(block[i] ^ e_iv[i]));

	CU_ASSERT_EQUAL_FATAL(aes_crypt(s, key, CKM_AES_CBC, false, iv, plain, 2048, cipher),
	                      CKR_OK);
	CU_ASSERT_EQUAL_FATAL(aes_crypt(s, key, CKM_AES_CBC, false, iv, plain, 1024, part), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(
	    aes_crypt(s, key, CKM_AES_CBC, false, part + 1008, plain + 1024, 1024, part + 1024),
	    CKR_OK);
	CU_ASSERT_EQUAL(memcmp(cipher, part, 2048), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(cipher, plain, 2048), 0);
	CU_ASSERT_EQUAL(aes_crypt(s, key, CKM_AES_CBC, true, iv, cipher, 2048, back), CKR_OK);
	CU_ASSERT_EQUAL(memcmp(back, plain, 2048), 0);

	/* CFB takes any length; 3000 bytes end in a partial block. */
	CU_ASSERT_EQUAL(aes_crypt(s, key, CKM_AES_CFB128, false, iv, plain, 3000, cipher), CKR_OK);
	CU_ASSERT_EQUAL(memcmp(cipher, cfb, 16), 0);
	CU_ASSERT_EQUAL(aes_crypt(s, key, CKM_AES_CFB128, true, iv, cipher, 3000, back), CKR_OK);
	CU_ASSERT_EQUAL(memcmp(back, plain, 3000), 0);

	/* CBC takes whole blocks only: the TPM does no padding. */
	CU_ASSERT_EQUAL(aes_crypt(s, key, CKM_AES_CBC, false, iv, plain, 17, cipher),
	                CKR_DATA_LEN_RANGE);
}

static void test_tpm_conformance_aes(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(slot);
	CK_OBJECT_HANDLE k128, k256, bad;
	CK_ULONG len = 0;
	CK_BBOOL extractable = CK_TRUE;
	CK_ATTRIBUTE value_len = {CKA_VALUE_LEN, &len, sizeof(len)};
	CK_ATTRIBUTE ext = {CKA_EXTRACTABLE, &extractable, sizeof(extractable)};
	CK_BYTE value[32];
	CK_ATTRIBUTE secret = {CKA_VALUE, value, sizeof(value)};
	CK_BYTE iv[8] = {0};
	CK_MECHANISM short_iv = {CKM_AES_CBC, iv, sizeof(iv)};

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(aes_keygen(s, 16, false, &k128), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(aes_keygen(s, 32, true, &k256), CKR_OK);
	CU_ASSERT_EQUAL(aes_keygen(s, 24, false, &bad), CKR_KEY_SIZE_RANGE);
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, k256, &value_len, 1), CKR_OK);
	CU_ASSERT_EQUAL(len, 32);
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, k256, &ext, 1), CKR_OK);
	CU_ASSERT_EQUAL(extractable, CK_FALSE);
	CU_ASSERT_NOT_EQUAL(p11->C_GetAttributeValue(s, k256, &secret, 1), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_EncryptInit(s, &short_iv, k128), CKR_MECHANISM_PARAM_INVALID);
	aes_modes(s, k128);
	aes_modes(s, k256);
	CU_ASSERT_EQUAL(p11->C_DestroyObject(s, k256), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

/* An RSA-2048 token key pair whose private key may unwrap but not decrypt. */
static CK_RV unwrapper_keygen(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = 2048;
	CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_ATTRIBUTE pub_tmpl[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_LABEL, "unwrapper", 9},
	    {CKA_MODULUS_BITS, &bits, sizeof(bits)},
	    {CKA_WRAP, &yes, sizeof(yes)},
	};
	CK_ATTRIBUTE priv_tmpl[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},  {CKA_LABEL, "unwrapper", 9},
	    {CKA_UNWRAP, &yes, sizeof(yes)}, {CKA_DECRYPT, &no, sizeof(no)},
	    {CKA_SIGN, &no, sizeof(no)},
	};

	return p11->C_GenerateKeyPair(s, &mech, pub_tmpl, 4, priv_tmpl, 5, pub, priv);
}

/* Encrypts key with openssl pkeyutl (OAEP with md) to the public key object pub. */
static size_t openssl_oaep_wrap(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, const char *md,
                                const CK_BYTE *key, size_t key_len, CK_BYTE *out, size_t out_len)
{
	char pem[256], in[256], ct[256];
	FILE *f;
	size_t n;

	path_of(pem, sizeof(pem), "unwrapper.pem");
	path_of(in, sizeof(in), "aes.key");
	path_of(ct, sizeof(ct), "aes.wrapped");
	if (!tpm_p11_write_pem(s, pub, pem) || !tpm_p11_write_file(in, key, key_len) ||
	    !tpm_p11_run("openssl pkeyutl -encrypt -pubin -inkey %s -in %s -out %s "
	                 "-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:%s "
	                 "-pkeyopt rsa_mgf1_md:%s",
	                 pem, in, ct, md, md))
		return 0;
	f = fopen(ct, "rb");
	if (!f)
		return 0;
	n = fread(out, 1, out_len, f);
	fclose(f);
	return n;
}

/* Encrypts with the unwrapped key in the TPM and with OpenSSL, and compares. */
static void compare_with_openssl(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const CK_BYTE *key,
                                 size_t key_len, bool cfb)
{
	const EVP_CIPHER *cipher = key_len == 16 ? (cfb ? EVP_aes_128_cfb128() : EVP_aes_128_cbc())
	                                         : (cfb ? EVP_aes_256_cfb128() : EVP_aes_256_cbc());
	CK_BYTE iv[16], plain[100], tpm_out[100], ref[116];
	CK_ULONG len = cfb ? 100 : 96;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, m = 0;

	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (CK_BYTE)(i * 5 + 1);
	for (size_t i = 0; i < sizeof(iv); i++)
		iv[i] = (CK_BYTE)(i + 1);
	CU_ASSERT_EQUAL_FATAL(
	    aes_crypt(s, h, cfb ? CKM_AES_CFB128 : CKM_AES_CBC, false, iv, plain, len, tpm_out),
	    CKR_OK);
	CU_ASSERT_FATAL(ctx && EVP_EncryptInit_ex(ctx, cipher, NULL, key, iv) == 1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	CU_ASSERT(EVP_EncryptUpdate(ctx, ref, &n, plain, (int)len) == 1);
	CU_ASSERT(EVP_EncryptFinal_ex(ctx, ref + n, &m) == 1);
	EVP_CIPHER_CTX_free(ctx);
	CU_ASSERT_EQUAL(n + m, (int)len);
	CU_ASSERT_EQUAL(memcmp(tpm_out, ref, len), 0);
}

static CK_RV unwrap_aes(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE unwrapper, CK_MECHANISM_TYPE hash,
                        CK_RSA_PKCS_MGF_TYPE mgf, const CK_BYTE *wrapped, CK_ULONG wrapped_len,
                        CK_ULONG value_len, CK_OBJECT_HANDLE *h)
{
	CK_RSA_PKCS_OAEP_PARAMS oaep = {hash, mgf, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},   {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_ENCRYPT, &yes, sizeof(yes)}, {CKA_DECRYPT, &yes, sizeof(yes)},
	    {CKA_LABEL, "imported", 8},       {CKA_VALUE_LEN, &value_len, sizeof(value_len)},
	};

	return p11->C_UnwrapKey(s, &mech, unwrapper, (CK_BYTE *)wrapped, wrapped_len, tmpl,
	                        value_len ? 6 : 5, h);
}

/*
 * C_UnwrapKey with OAEP (SHA-256 and SHA-1) puts openssl's AES key into the
 * TPM. Since the test knows that key, OpenSSL's AES gives known answers for
 * the TPM's CBC and CFB-128.
 */
static void test_tpm_conformance_oaep_unwrap(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(slot);
	CK_OBJECT_HANDLE pub, priv, h, decrypter;
	CK_BYTE key256[32], key128[16], wrapped[512];
	CK_BBOOL flag = CK_TRUE;
	CK_ATTRIBUTE local = {CKA_LOCAL, &flag, sizeof(flag)};
	size_t n;

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(unwrapper_keygen(s, &pub, &priv), CKR_OK);
	for (size_t i = 0; i < sizeof(key256); i++)
		key256[i] = (CK_BYTE)(i * 9 + 4);
	for (size_t i = 0; i < sizeof(key128); i++)
		key128[i] = (CK_BYTE)(0xf0 - i);

	n = openssl_oaep_wrap(s, pub, "sha256", key256, sizeof(key256), wrapped, sizeof(wrapped));
	CU_ASSERT_EQUAL_FATAL(n, 256);
	CU_ASSERT_EQUAL(unwrap_aes(s, priv, CKM_SHA256, CKG_MGF1_SHA256, wrapped, n, 16, &h),
	                CKR_TEMPLATE_INCONSISTENT);
	CU_ASSERT_EQUAL_FATAL(unwrap_aes(s, priv, CKM_SHA256, CKG_MGF1_SHA256, wrapped, n, 0, &h),
	                      CKR_OK);
	compare_with_openssl(s, h, key256, sizeof(key256), false);
	compare_with_openssl(s, h, key256, sizeof(key256), true);
	tpm_conf_aes_multipart(s, h, key256, sizeof(key256));
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, h, &local, 1), CKR_OK);
	CU_ASSERT_EQUAL(flag, CK_FALSE);

	n = openssl_oaep_wrap(s, pub, "sha1", key128, sizeof(key128), wrapped, sizeof(wrapped));
	CU_ASSERT_EQUAL_FATAL(n, 256);
	CU_ASSERT_EQUAL_FATAL(unwrap_aes(s, priv, CKM_SHA_1, CKG_MGF1_SHA1, wrapped, n, 16, &h),
	                      CKR_OK);
	compare_with_openssl(s, h, key128, sizeof(key128), false);
	tpm_conf_aes_multipart(s, h, key128, sizeof(key128));

	/* A damaged blob, and a key without CKA_UNWRAP, unwrap nothing. */
	wrapped[7] ^= 1;
	CU_ASSERT_EQUAL(unwrap_aes(s, priv, CKM_SHA_1, CKG_MGF1_SHA1, wrapped, n, 0, &h),
	                CKR_WRAPPED_KEY_INVALID);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "rsa2048", &decrypter), 1);
	CU_ASSERT_EQUAL(unwrap_aes(s, decrypter, CKM_SHA_1, CKG_MGF1_SHA1, wrapped, n, 0, &h),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

/* Builds a CKM_RSA_AES_KEY_WRAP blob with the openssl command line: OAEP(ephemeral) || KWP(target).
 */
static size_t openssl_rsa_aes_wrap(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub,
                                   const CK_BYTE *ephemeral, const CK_BYTE *target,
                                   size_t target_len, CK_BYTE *out, size_t out_len)
{
	char target_path[256], kwp_path[256], hex[65];
	size_t n;
	FILE *f;

	n = openssl_oaep_wrap(s, pub, "sha256", ephemeral, 32, out, out_len);
	if (n != 256)
		return 0;
	for (size_t i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", ephemeral[i]);
	path_of(target_path, sizeof(target_path), "target.key");
	path_of(kwp_path, sizeof(kwp_path), "target.kwp");
	/* A65959A6 is the RFC 5649 alternative initial value. */
	if (!tpm_p11_write_file(target_path, target, target_len) ||
	    !tpm_p11_run("openssl enc -id-aes256-wrap-pad -K %s -iv A65959A6 -in %s -out %s", hex,
	                 target_path, kwp_path))
		return 0;
	f = fopen(kwp_path, "rb");
	if (!f)
		return 0;
	n += fread(out + n, 1, out_len - n, f);
	fclose(f);
	return n;
}

/* BYOK: an AES target key arrives under CKM_RSA_AES_KEY_WRAP and encrypts as OpenSSL does. */
static void test_tpm_conformance_rsa_aes_unwrap(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(slot);
	CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_RSA_AES_KEY_WRAP_PARAMS params = {256, &oaep};
	CK_MECHANISM mech = {CKM_RSA_AES_KEY_WRAP, &params, sizeof(params)};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_ENCRYPT, &yes, sizeof(yes)},
	    {CKA_LABEL, "byok", 4},
	};
	CK_BYTE ephemeral[32], target[16], blob[512];
	CK_OBJECT_HANDLE pub, priv, h;
	size_t n;

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PUBLIC_KEY, "unwrapper", &pub), 1);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "unwrapper", &priv), 1);
	for (size_t i = 0; i < sizeof(ephemeral); i++)
		ephemeral[i] = (CK_BYTE)(i * 3 + 7);
	for (size_t i = 0; i < sizeof(target); i++)
		target[i] = (CK_BYTE)(0x5a ^ (i * 17));
	n = openssl_rsa_aes_wrap(s, pub, ephemeral, target, sizeof(target), blob, sizeof(blob));
	CU_ASSERT_EQUAL_FATAL(n, 256 + 24);

	CU_ASSERT_EQUAL_FATAL(p11->C_UnwrapKey(s, &mech, priv, blob, n, tmpl, 4, &h), CKR_OK);
	compare_with_openssl(s, h, target, sizeof(target), false);
	compare_with_openssl(s, h, target, sizeof(target), true);

	/* A damaged key wrap fails RFC 5649's integrity check. */
	blob[n - 3] ^= 1;
	CU_ASSERT_EQUAL(p11->C_UnwrapKey(s, &mech, priv, blob, n, tmpl, 4, &h),
	                CKR_WRAPPED_KEY_INVALID);
	params.ulAESKeyBits = 100;
	CU_ASSERT_NOT_EQUAL(p11->C_UnwrapKey(s, &mech, priv, blob, n, tmpl, 4, &h), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

/*
 * An imported RSA key with CKA_SIGN only: CKM_RSA_PKCS signs 36 bytes that
 * are no DigestInfo, openssl pkeyutl verifies them, and decryption stays refused.
 */
static void byok_raw_sign(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const char *pem_path)
{
	CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
	char in_path[256], sig_path[256];
	CK_BYTE in[36], sig[512];
	CK_ULONG sig_len = sizeof(sig);

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (CK_BYTE)(i * 13 + 5);
	path_of(in_path, sizeof(in_path), "byok.raw");
	path_of(sig_path, sizeof(sig_path), "byok.raw.sig");
	CU_ASSERT_EQUAL_FATAL(p11->C_SignInit(s, &mech, h), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(p11->C_Sign(s, in, sizeof(in), sig, &sig_len), CKR_OK);
	CU_ASSERT_EQUAL(sig_len, 256);
	CU_ASSERT_FATAL(tpm_p11_write_file(in_path, in, sizeof(in)));
	CU_ASSERT_FATAL(tpm_p11_write_file(sig_path, sig, sig_len));
	CU_ASSERT(tpm_p11_run("openssl pkeyutl -verify -pubin -inkey %s -in %s -sigfile %s "
	                      ">/dev/null",
	                      pem_path, in_path, sig_path));
	CU_ASSERT_EQUAL(p11->C_DecryptInit(s, &mech, h), CKR_KEY_FUNCTION_NOT_PERMITTED);
}

/*
 * BYOK of a private key: openssl makes an RSA or EC key, the test wraps its
 * PKCS#8 form with CKM_RSA_AES_KEY_WRAP, the TPM imports it, signs, and
 * openssl verifies with the public key of its own key file.
 */
static void byok_private_case(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv,
                              const char *genpkey_args, CK_KEY_TYPE type)
{
	CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_RSA_AES_KEY_WRAP_PARAMS params = {256, &oaep};
	CK_MECHANISM mech = {CKM_RSA_AES_KEY_WRAP, &params, sizeof(params)};
	CK_MECHANISM sign_mech = {type == CKK_RSA ? CKM_SHA256_RSA_PKCS : CKM_ECDSA_SHA256, NULL,
	                          0};
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_BBOOL yes = CK_TRUE, local = CK_TRUE, extractable = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},  {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_SIGN, &yes, sizeof(yes)},   {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_LABEL, "imported-key", 12},
	};
	CK_ATTRIBUTE flags[] = {
	    {CKA_LOCAL, &local, sizeof(local)},
	    {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
	};
	char key_path[256], der_path[256], pem_path[256], sig_path[256], data_path[256];
	CK_BYTE ephemeral[32], der[4096], blob[4096], sig[512], der_sig[160];
	CK_ULONG sig_len = sizeof(sig);
	CK_OBJECT_HANDLE h;
	size_t der_len, n;
	FILE *f;

	path_of(key_path, sizeof(key_path), "byok.pem");
	path_of(der_path, sizeof(der_path), "byok.p8");
	path_of(pem_path, sizeof(pem_path), "byok.pub.pem");
	path_of(sig_path, sizeof(sig_path), "byok.sig");
	path_of(data_path, sizeof(data_path), "byok.data");
	CU_ASSERT_FATAL(tpm_p11_run("openssl genpkey %s -out %s 2>/dev/null && "
	                            "openssl pkcs8 -topk8 -nocrypt -in %s -outform DER -out %s && "
	                            "openssl pkey -in %s -pubout -out %s",
	                            genpkey_args, key_path, key_path, der_path, key_path,
	                            pem_path));
	f = fopen(der_path, "rb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	der_len = fread(der, 1, sizeof(der), f);
	fclose(f);
	for (size_t i = 0; i < sizeof(ephemeral); i++)
		ephemeral[i] = (CK_BYTE)(i * 29 + 11);
	n = openssl_rsa_aes_wrap(s, pub, ephemeral, der, der_len, blob, sizeof(blob));
	CU_ASSERT_FATAL(n > 256);

	CU_ASSERT_EQUAL_FATAL(p11->C_UnwrapKey(s, &mech, priv, blob, n, tmpl, 5, &h), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, h, flags, 2), CKR_OK);
	CU_ASSERT_EQUAL(local, CK_FALSE);
	CU_ASSERT_EQUAL(extractable, CK_FALSE);
	CU_ASSERT_EQUAL_FATAL(p11->C_SignInit(s, &sign_mech, h), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(p11->C_Sign(s, (CK_BYTE *)data, sizeof(data) - 1, sig, &sig_len),
	                      CKR_OK);
	if (type == CKK_EC) {
		sig_len = ecdsa_der(sig, sig_len, der_sig);
		memcpy(sig, der_sig, sig_len);
	}
	CU_ASSERT_FATAL(tpm_p11_write_file(sig_path, sig, sig_len));
	CU_ASSERT_FATAL(tpm_p11_write_file(data_path, data, sizeof(data) - 1));
	CU_ASSERT(tpm_p11_run("openssl dgst -sha256 -verify %s -signature %s %s >/dev/null",
	                      pem_path, sig_path, data_path));
	if (type == CKK_RSA)
		byok_raw_sign(s, h, pem_path);
	CU_ASSERT_EQUAL(p11->C_DestroyObject(s, h), CKR_OK);
}

static void test_tpm_conformance_byok_private(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(slot);
	CK_OBJECT_HANDLE pub, priv;

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PUBLIC_KEY, "unwrapper", &pub), 1);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "unwrapper", &priv), 1);
	byok_private_case(s, pub, priv, "-algorithm RSA -pkeyopt rsa_keygen_bits:2048", CKK_RSA);
	byok_private_case(s, pub, priv, "-algorithm EC -pkeyopt ec_paramgen_curve:P-256", CKK_EC);
	byok_private_case(s, pub, priv, "-algorithm EC -pkeyopt ec_paramgen_curve:P-384", CKK_EC);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

static void test_tpm_conformance_destroy(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(slot);
	CK_OBJECT_HANDLE pub, priv;

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_keygen(s, false, 256, "doomed", "d", &pub, &priv), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_DestroyObject(s, pub), CKR_OK);
	CU_ASSERT_EQUAL(tpm_p11_find(s, CKO_PUBLIC_KEY, "doomed", NULL), 0);
	CU_ASSERT_EQUAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "doomed", NULL), 1);
	CU_ASSERT_EQUAL(p11->C_DestroyObject(s, priv), CKR_OK);
	CU_ASSERT_EQUAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "doomed", NULL), 0);
	CU_ASSERT_EQUAL(p11->C_DestroyObject(s, priv), CKR_OBJECT_HANDLE_INVALID);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

int main(int argc, char **argv)
{
	CU_pSuite suite;
	unsigned int failures;

	if (argc != 2 || !mkdtemp(dir) || !tpm_p11_load(argv[1]) || !tpm_p11_config(dir, NULL))
		return 1;
	if (p11->C_Initialize(NULL) != CKR_OK) {
		fprintf(stderr, "C_Initialize failed on %s\n", argv[1]);
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("tpm_conformance", NULL, NULL);
	CU_add_test(suite, "test_tpm_conformance_slot_and_token",
	            test_tpm_conformance_slot_and_token);
	CU_add_test(suite, "test_tpm_conformance_sessions", test_tpm_conformance_sessions);
	CU_add_test(suite, "test_tpm_conformance_keygen_and_find",
	            test_tpm_conformance_keygen_and_find);
	CU_add_test(suite, "test_tpm_conformance_attributes", test_tpm_conformance_attributes);
	CU_add_test(suite, "test_tpm_conformance_sign_verify", test_tpm_conformance_sign_verify);
	CU_add_test(suite, "test_tpm_conformance_sign_errors", test_tpm_conformance_sign_errors);
	CU_add_test(suite, "test_tpm_conformance_decrypt", test_tpm_conformance_decrypt);
	CU_add_test(suite, "test_tpm_conformance_digest_random",
	            test_tpm_conformance_digest_random);
	CU_add_test(suite, "test_tpm_conformance_aes", test_tpm_conformance_aes);
	CU_add_test(suite, "test_tpm_conformance_oaep_unwrap", test_tpm_conformance_oaep_unwrap);
	CU_add_test(suite, "test_tpm_conformance_rsa_aes_unwrap",
	            test_tpm_conformance_rsa_aes_unwrap);
	CU_add_test(suite, "test_tpm_conformance_byok_private", test_tpm_conformance_byok_private);
	tpm_conf_verify_add_tests(suite, dir, &slot);
	tpm_conf_rawsign_add_tests(suite, dir, &slot);
	tpm_conf_hmac_add_tests(suite, &slot);
	CU_add_test(suite, "test_tpm_conformance_mechanism_sweep",
	            test_tpm_conformance_mechanism_sweep);
	CU_add_test(suite, "test_tpm_conformance_create_objects",
	            test_tpm_conformance_create_objects);
	CU_add_test(suite, "test_tpm_conformance_destroy", test_tpm_conformance_destroy);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	p11->C_Finalize(NULL);
	tpm_test_remove_tree(dir);
	return failures ? 1 : 0;
}
