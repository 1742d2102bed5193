/*
 * Verification and RSA encryption with public keys of the tpm token, through
 * libhsmux.so. C_Verify checks the TPM's own signatures. It also checks
 * signatures that plain openssl makes with its own keys, after their
 * exported public keys are created in the token. The TPM decrypts what
 * C_Encrypt returns, and openssl decrypts it for an openssl key.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tpm_conf_verify.h"
#include "tpm_p11.h"

static const char *tmp_dir;
static const CK_SLOT_ID *the_slot;
static const CK_BYTE data[] = "message verified through hsmux";

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmp_dir, name);
}

static size_t read_file(const char *path, CK_BYTE *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static CK_RV verify_once(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, CK_MECHANISM *mech,
                         const CK_BYTE *in, CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len)
{
	CK_RV rv = p11->C_VerifyInit(s, mech, pub);

	return rv == CKR_OK ? p11->C_Verify(s, (CK_BYTE *)in, in_len, (CK_BYTE *)sig, sig_len) : rv;
}

static void verify_multipart(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, CK_MECHANISM *mech,
                             const CK_BYTE *in, CK_ULONG in_len, const CK_BYTE *sig,
                             CK_ULONG sig_len)
{
	CK_BYTE bad[512];

	CU_ASSERT_EQUAL_FATAL(p11->C_VerifyInit(s, mech, pub), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_VerifyUpdate(s, (CK_BYTE *)in, in_len / 2), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_VerifyUpdate(s, (CK_BYTE *)in + in_len / 2, in_len - in_len / 2),
	                CKR_OK);
	CU_ASSERT_EQUAL(p11->C_VerifyFinal(s, (CK_BYTE *)sig, sig_len), CKR_OK);

	memcpy(bad, sig, sig_len);
	bad[sig_len / 3] ^= 0x10;
	CU_ASSERT_EQUAL_FATAL(p11->C_VerifyInit(s, mech, pub), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_VerifyUpdate(s, (CK_BYTE *)in, in_len), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_VerifyFinal(s, bad, sig_len), CKR_SIGNATURE_INVALID);
}

void tpm_conf_verify_check(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, CK_MECHANISM *mech,
                           const CK_BYTE *in, CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len,
                           bool multipart)
{
	const CK_ULONG flips[] = {0, sig_len / 2, sig_len - 1};
	CK_BYTE bad[512], other[256];

	CU_ASSERT_FATAL(sig_len <= sizeof(bad) && in_len > 0 && in_len <= sizeof(other));
	CU_ASSERT_EQUAL(verify_once(s, pub, mech, in, in_len, sig, sig_len), CKR_OK);
	/* C_Verify ends the operation, whatever its result. */
	CU_ASSERT_EQUAL(p11->C_Verify(s, (CK_BYTE *)in, in_len, (CK_BYTE *)sig, sig_len),
	                CKR_OPERATION_NOT_INITIALIZED);

	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		memcpy(bad, sig, sig_len);
		bad[flips[i]] ^= i == 0 ? 0x80 : 0x01;
		if (verify_once(s, pub, mech, in, in_len, bad, sig_len) != CKR_SIGNATURE_INVALID) {
			fprintf(stderr, "mechanism 0x%lx: a flip of byte %lu is not rejected\n",
			        mech->mechanism, flips[i]);
			CU_FAIL("a flipped signature byte is not CKR_SIGNATURE_INVALID");
		}
	}
	memcpy(other, in, in_len);
	other[in_len - 1] ^= 0x01;
	CU_ASSERT_EQUAL(verify_once(s, pub, mech, other, in_len, sig, sig_len),
	                CKR_SIGNATURE_INVALID);
	CU_ASSERT_EQUAL(verify_once(s, pub, mech, in, in_len, sig, sig_len - 1),
	                CKR_SIGNATURE_LEN_RANGE);
	memcpy(bad, sig, sig_len);
	bad[sig_len] = 0;
	CU_ASSERT_EQUAL(verify_once(s, pub, mech, in, in_len, bad, sig_len + 1),
	                CKR_SIGNATURE_LEN_RANGE);
	if (multipart)
		verify_multipart(s, pub, mech, in, in_len, sig, sig_len);
}

/* Builds the mechanism's input: the data, its digest, or its DigestInfo (OpenSSL's encoder). */
static CK_ULONG make_input(const EVP_MD *md, bool prehash, bool digest_info, CK_BYTE *in)
{
	unsigned char *der = NULL;
	unsigned int len = 0;
	X509_SIG *sig;
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *digest;
	int n;

	if (!prehash && !digest_info) {
		memcpy(in, data, sizeof(data) - 1);
		return sizeof(data) - 1;
	}
	EVP_Digest(data, sizeof(data) - 1, in, &len, md, NULL);
	if (!digest_info)
		return len;
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

static CK_OBJECT_HANDLE create_rsa_public(CK_SESSION_HANDLE s, EVP_PKEY *key, CK_BBOOL encrypt)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE type = CKK_RSA;
	CK_BBOOL yes = CK_TRUE;
	CK_BYTE n_buf[512], e_buf[8];
	BIGNUM *n = NULL, *e = NULL;
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	int n_len, e_len;

	CU_ASSERT_FATAL(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
	                EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) == 1);
	n_len = BN_bn2bin(n, n_buf);
	e_len = BN_bn2bin(e, e_buf);
	BN_free(n);
	BN_free(e);
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_LABEL, "openssl-rsa", 11},
	    {CKA_MODULUS, n_buf, (CK_ULONG)n_len},
	    {CKA_PUBLIC_EXPONENT, e_buf, (CK_ULONG)e_len},
	    {CKA_VERIFY, &yes, sizeof(yes)},
	    {CKA_ENCRYPT, &encrypt, sizeof(encrypt)},
	};
	CU_ASSERT_EQUAL(p11->C_CreateObject(s, tmpl, 7, &h), CKR_OK);
	return h;
}

static CK_OBJECT_HANDLE create_ec_public(CK_SESSION_HANDLE s, EVP_PKEY *key)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE type = CKK_EC;
	CK_BBOOL yes = CK_TRUE;
	unsigned char params[16], *pp = params, point[160], *pt = point, raw[140];
	char group[64];
	size_t raw_len = 0;
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	int params_len, point_len;

	CU_ASSERT_FATAL(EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
	                                               sizeof(group), NULL) == 1);
	CU_ASSERT_FATAL(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
	                                                raw, sizeof(raw), &raw_len) == 1);
	params_len = i2d_ASN1_OBJECT(OBJ_nid2obj(OBJ_txt2nid(group)), &pp);
	ASN1_OCTET_STRING_set(os, raw, (int)raw_len);
	point_len = i2d_ASN1_OCTET_STRING(os, &pt);
	ASN1_OCTET_STRING_free(os);
	CU_ASSERT_FATAL(params_len > 0 && point_len > 0);
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_LABEL, "openssl-ec", 10},
	    {CKA_EC_PARAMS, params, (CK_ULONG)params_len},
	    {CKA_EC_POINT, point, (CK_ULONG)point_len},
	    {CKA_VERIFY, &yes, sizeof(yes)},
	};
	CU_ASSERT_EQUAL(p11->C_CreateObject(s, tmpl, 6, &h), CKR_OK);
	return h;
}

/*
 * Makes a key with openssl genpkey, exports its public key with openssl
 * pkey -pubout, and creates that public key in the token.
 */
static CK_OBJECT_HANDLE openssl_key(CK_SESSION_HANDLE s, const char *name, const char *genopts,
                                    CK_BBOOL encrypt)
{
	char key_path[256], pub_path[256], file[64];
	CK_OBJECT_HANDLE h;
	EVP_PKEY *pub;
	FILE *f;

	snprintf(file, sizeof(file), "%s.key", name);
	path_of(key_path, sizeof(key_path), file);
	snprintf(file, sizeof(file), "%s.pub", name);
	path_of(pub_path, sizeof(pub_path), file);
	CU_ASSERT_FATAL(tpm_p11_run("openssl genpkey %s -out %s 2>/dev/null", genopts, key_path));
	CU_ASSERT_FATAL(tpm_p11_run("openssl pkey -in %s -pubout -out %s", key_path, pub_path));
	f = fopen(pub_path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	pub = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA)
		h = create_rsa_public(s, pub, encrypt);
	else
		h = create_ec_public(s, pub);
	EVP_PKEY_free(pub);
	return h;
}

/* Converts openssl's DER ECDSA signature to PKCS#11's r || s. */
static CK_ULONG ecdsa_raw(const CK_BYTE *der, size_t der_len, size_t field, CK_BYTE *out)
{
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	const BIGNUM *r, *s;
	CK_ULONG len = 0;

	if (!es)
		return 0;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, out, (int)field) > 0 && BN_bn2binpad(s, out + field, (int)field) > 0)
		len = (CK_ULONG)(2 * field);
	ECDSA_SIG_free(es);
	return len;
}

struct ossl_case {
	const char *key; /* "rsa", "ec256" or "ec384" */
	CK_MECHANISM_TYPE mech;
	const char *md; /* OpenSSL digest name */
	bool pss, prehash, digest_info;
};

static void ossl_sign_case(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, const struct ossl_case *c)
{
	const EVP_MD *md = EVP_get_digestbyname(c->md);
	CK_RSA_PKCS_PSS_PARAMS pss = {0};
	CK_MECHANISM mech = {c->mech, NULL, 0};
	char key_path[256], data_path[256], sig_path[256], file[64];
	CK_BYTE in[256], der[600], sig[512];
	CK_ULONG in_len, sig_len;
	size_t der_len, field = strcmp(c->key, "ec384") ? 32 : 48;

	snprintf(file, sizeof(file), "%s.key", c->key);
	path_of(key_path, sizeof(key_path), file);
	path_of(data_path, sizeof(data_path), "ossl-data.bin");
	path_of(sig_path, sizeof(sig_path), "ossl-sig.bin");
	CU_ASSERT_FATAL(tpm_p11_write_file(data_path, data, sizeof(data) - 1));
	CU_ASSERT_FATAL(tpm_p11_run("openssl dgst -%s -sign %s %s -out %s %s", c->md, key_path,
	                            c->pss ? "-sigopt rsa_padding_mode:pss "
	                                     "-sigopt rsa_pss_saltlen:digest"
	                                   : "",
	                            sig_path, data_path));
	der_len = read_file(sig_path, der, sizeof(der));
	if (strncmp(c->key, "ec", 2) == 0) {
		sig_len = ecdsa_raw(der, der_len, field, sig);
	} else {
		memcpy(sig, der, der_len);
		sig_len = (CK_ULONG)der_len;
	}
	CU_ASSERT_FATAL(sig_len > 0);
	if (c->pss) {
		pss.hashAlg = EVP_MD_get_type(md) == NID_sha256 ? CKM_SHA256 : CKM_SHA384;
		pss.mgf = pss.hashAlg == CKM_SHA256 ? CKG_MGF1_SHA256 : CKG_MGF1_SHA384;
		pss.sLen = (CK_ULONG)EVP_MD_get_size(md);
		mech.pParameter = &pss;
		mech.ulParameterLen = sizeof(pss);
	}
	in_len = make_input(md, c->prehash, c->digest_info, in);
	tpm_conf_verify_check(s, pub, &mech, in, in_len, sig, sig_len,
	                      !c->prehash && !c->digest_info);
}

static void test_tpm_conformance_verify_openssl(void)
{
	static const struct ossl_case cases[] = {
	    {"rsa", CKM_SHA256_RSA_PKCS, "sha256", false, false, false},
	    {"rsa", CKM_RSA_PKCS, "sha256", false, false, true},
	    {"rsa", CKM_SHA384_RSA_PKCS_PSS, "sha384", true, false, false},
	    {"rsa", CKM_RSA_PKCS_PSS, "sha256", true, true, false},
	    {"ec256", CKM_ECDSA_SHA256, "sha256", false, false, false},
	    {"ec256", CKM_ECDSA, "sha256", false, true, false},
	    {"ec384", CKM_ECDSA_SHA384, "sha384", false, false, false},
	    {"ec384", CKM_ECDSA, "sha384", false, true, false},
	};
	CK_SESSION_HANDLE s = tpm_p11_login(*the_slot);
	CK_OBJECT_HANDLE rsa, ec256, ec384, tpm_rsa;
	CK_MECHANISM sha256 = {CKM_SHA256_RSA_PKCS, NULL, 0};
	CK_BYTE sig[256];
	char path[256];

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	rsa = openssl_key(s, "rsa", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048", CK_FALSE);
	ec256 = openssl_key(s, "ec256", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256", CK_FALSE);
	ec384 = openssl_key(s, "ec384", "-algorithm EC -pkeyopt ec_paramgen_curve:P-384", CK_FALSE);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CK_OBJECT_HANDLE pub = ec384;

		if (!strcmp(cases[i].key, "rsa"))
			pub = rsa;
		else if (!strcmp(cases[i].key, "ec256"))
			pub = ec256;
		ossl_sign_case(s, pub, &cases[i]);
	}

	/* openssl's signature does not verify with another key of the same size. */
	path_of(path, sizeof(path), "ossl-sig.bin");
	CU_ASSERT_FATAL(
	    tpm_p11_run("openssl dgst -sha256 -sign %s/rsa.key -out %s %s/ossl-data.bin", tmp_dir,
	                path, tmp_dir));
	CU_ASSERT_EQUAL_FATAL(read_file(path, sig, sizeof(sig)), 256);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PUBLIC_KEY, "rsa2048", &tpm_rsa), 1);
	CU_ASSERT_EQUAL(verify_once(s, rsa, &sha256, data, sizeof(data) - 1, sig, 256), CKR_OK);
	CU_ASSERT_EQUAL(verify_once(s, tpm_rsa, &sha256, data, sizeof(data) - 1, sig, 256),
	                CKR_SIGNATURE_INVALID);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

/* Encrypts with pub and decrypts with priv in the TPM. Two ciphertexts must differ. */
static void encrypt_roundtrip(CK_SESSION_HANDLE s, const char *label, CK_MECHANISM *mech)
{
	static const CK_BYTE msg[] = "secret encrypted by the TPM";
	CK_OBJECT_HANDLE pub, priv;
	CK_BYTE ct[512], ct2[512], pt[512];
	CK_ULONG ct_len = 0, ct2_len = sizeof(ct2), pt_len = sizeof(pt), short_len = 16;

	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PUBLIC_KEY, label, &pub), 1);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PRIVATE_KEY, label, &priv), 1);
	CU_ASSERT_EQUAL_FATAL(p11->C_EncryptInit(s, mech, pub), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_Encrypt(s, (CK_BYTE *)msg, sizeof(msg), NULL, &ct_len), CKR_OK);
	CU_ASSERT_EQUAL(ct_len, strcmp(label, "rsa3072") ? 256 : 384);
	/* A short buffer keeps the operation, so the caller can retry. */
	CU_ASSERT_EQUAL(p11->C_Encrypt(s, (CK_BYTE *)msg, sizeof(msg), ct, &short_len),
	                CKR_BUFFER_TOO_SMALL);
	CU_ASSERT_EQUAL(short_len, ct_len);
	CU_ASSERT_EQUAL(p11->C_Encrypt(s, (CK_BYTE *)msg, sizeof(msg), ct, &ct_len), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(p11->C_EncryptInit(s, mech, pub), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_Encrypt(s, (CK_BYTE *)msg, sizeof(msg), ct2, &ct2_len), CKR_OK);
	CU_ASSERT_EQUAL(ct2_len, ct_len);
	CU_ASSERT_NOT_EQUAL(memcmp(ct, ct2, ct_len), 0);

	CU_ASSERT_EQUAL_FATAL(p11->C_DecryptInit(s, mech, priv), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_Decrypt(s, ct, ct_len, pt, &pt_len), CKR_OK);
	CU_ASSERT_EQUAL(pt_len, sizeof(msg));
	CU_ASSERT_EQUAL(memcmp(pt, msg, sizeof(msg)), 0);
}

bool tpm_conf_encrypt_one(CK_SESSION_HANDLE s, CK_MECHANISM_TYPE type)
{
	CK_RSA_PKCS_OAEP_PARAMS sha256 = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_RSA_PKCS_OAEP_PARAMS sha1 = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM oaep256 = {CKM_RSA_PKCS_OAEP, &sha256, sizeof(sha256)};
	CK_MECHANISM oaep1 = {CKM_RSA_PKCS_OAEP, &sha1, sizeof(sha1)};
	CK_MECHANISM pkcs1 = {CKM_RSA_PKCS, NULL, 0};

	if (type == CKM_RSA_PKCS_OAEP) {
		encrypt_roundtrip(s, "rsa2048", &oaep256);
		encrypt_roundtrip(s, "rsa3072", &oaep1);
		return true;
	}
	if (type == CKM_RSA_PKCS) {
		encrypt_roundtrip(s, "rsa2048", &pkcs1);
		encrypt_roundtrip(s, "rsa3072", &pkcs1);
		return true;
	}
	return false;
}

/* Encrypts in the TPM with an openssl key's public half, and openssl decrypts. */
static void openssl_decrypts(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, CK_MECHANISM *mech,
                             const char *pkeyopts)
{
	static const CK_BYTE msg[] = "for openssl's eyes";
	char ct_path[256], pt_path[256];
	CK_BYTE ct[256], pt[256];
	CK_ULONG ct_len = sizeof(ct);

	path_of(ct_path, sizeof(ct_path), "enc.ct");
	path_of(pt_path, sizeof(pt_path), "enc.pt");
	CU_ASSERT_EQUAL_FATAL(p11->C_EncryptInit(s, mech, pub), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(p11->C_Encrypt(s, (CK_BYTE *)msg, sizeof(msg) - 1, ct, &ct_len),
	                      CKR_OK);
	CU_ASSERT_FATAL(tpm_p11_write_file(ct_path, ct, ct_len));
	CU_ASSERT_FATAL(tpm_p11_run("openssl pkeyutl -decrypt -inkey %s/enc.key -in %s -out %s %s",
	                            tmp_dir, ct_path, pt_path, pkeyopts));
	CU_ASSERT_EQUAL(read_file(pt_path, pt, sizeof(pt)), sizeof(msg) - 1);
	CU_ASSERT_EQUAL(memcmp(pt, msg, sizeof(msg) - 1), 0);
}

static void test_tpm_conformance_encrypt(void)
{
	CK_RSA_PKCS_OAEP_PARAMS sha256 = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM oaep = {CKM_RSA_PKCS_OAEP, &sha256, sizeof(sha256)};
	CK_MECHANISM pkcs1 = {CKM_RSA_PKCS, NULL, 0};
	CK_SESSION_HANDLE s = tpm_p11_login(*the_slot);
	CK_OBJECT_HANDLE pub;

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT(tpm_conf_encrypt_one(s, CKM_RSA_PKCS_OAEP));
	CU_ASSERT(tpm_conf_encrypt_one(s, CKM_RSA_PKCS));
	pub = openssl_key(s, "enc", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048", CK_TRUE);
	openssl_decrypts(s, pub, &oaep,
	                 "-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 "
	                 "-pkeyopt rsa_mgf1_md:sha256");
	openssl_decrypts(s, pub, &pkcs1, "-pkeyopt rsa_padding_mode:pkcs1");
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

static void encrypt_errors(CK_SESSION_HANDLE s)
{
	CK_RSA_PKCS_OAEP_PARAMS sha256 = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_RSA_PKCS_OAEP_PARAMS mixed = {CKM_SHA256, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM oaep = {CKM_RSA_PKCS_OAEP, &sha256, sizeof(sha256)};
	CK_MECHANISM bad = {CKM_RSA_PKCS_OAEP, &mixed, sizeof(mixed)};
	CK_OBJECT_HANDLE pub, priv, ec, no_encrypt;
	CK_BYTE big[256] = {0}, ct[256];
	CK_ULONG ct_len = sizeof(ct);

	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PUBLIC_KEY, "rsa2048", &pub), 1);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "rsa2048", &priv), 1);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PUBLIC_KEY, "ec256", &ec), 1);
	no_encrypt =
	    openssl_key(s, "noenc", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048", CK_FALSE);
	CU_ASSERT_EQUAL(p11->C_EncryptInit(s, &oaep, priv), CKR_KEY_TYPE_INCONSISTENT);
	CU_ASSERT_EQUAL(p11->C_EncryptInit(s, &oaep, ec), CKR_KEY_TYPE_INCONSISTENT);
	CU_ASSERT_EQUAL(p11->C_EncryptInit(s, &oaep, no_encrypt), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(p11->C_EncryptInit(s, &bad, pub), CKR_MECHANISM_PARAM_INVALID);
	CU_ASSERT_EQUAL(p11->C_Encrypt(s, big, 10, ct, &ct_len), CKR_OPERATION_NOT_INITIALIZED);
	/* OAEP with SHA-256 takes at most 256 - 2 * 32 - 2 = 190 bytes of a 2048-bit key. */
	CU_ASSERT_EQUAL_FATAL(p11->C_EncryptInit(s, &oaep, pub), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_EncryptInit(s, &oaep, pub), CKR_OPERATION_ACTIVE);
	CU_ASSERT_EQUAL(p11->C_Encrypt(s, big, 191, ct, &ct_len), CKR_DATA_LEN_RANGE);
	CU_ASSERT_EQUAL_FATAL(p11->C_EncryptInit(s, &oaep, pub), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_Encrypt(s, big, 190, ct, &ct_len), CKR_OK);
}

/* Checks that public keys of a size or curve that the TPM lacks fail at the *Init call. */
static void unsupported_keys(CK_SESSION_HANDLE s)
{
	CK_RSA_PKCS_OAEP_PARAMS sha256 = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM oaep = {CKM_RSA_PKCS_OAEP, &sha256, sizeof(sha256)};
	CK_MECHANISM pkcs = {CKM_SHA256_RSA_PKCS, NULL, 0}, ecdsa = {CKM_ECDSA, NULL, 0};
	CK_OBJECT_HANDLE rsa4096, p521;

	rsa4096 =
	    openssl_key(s, "rsa4096", "-algorithm RSA -pkeyopt rsa_keygen_bits:4096", CK_TRUE);
	p521 = openssl_key(s, "p521", "-algorithm EC -pkeyopt ec_paramgen_curve:P-521", CK_FALSE);
	CU_ASSERT_EQUAL(p11->C_VerifyInit(s, &pkcs, rsa4096), CKR_KEY_SIZE_RANGE);
	CU_ASSERT_EQUAL(p11->C_EncryptInit(s, &oaep, rsa4096), CKR_KEY_SIZE_RANGE);
	CU_ASSERT_EQUAL(p11->C_VerifyInit(s, &ecdsa, p521), CKR_CURVE_NOT_SUPPORTED);
}

static void test_tpm_conformance_verify_errors(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(*the_slot);
	CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0}, pkcs = {CKM_SHA256_RSA_PKCS, NULL, 0};
	CK_MECHANISM aes = {CKM_AES_CBC, NULL, 0};
	CK_OBJECT_HANDLE rsa_pub, ec_pub, ec_priv;
	CK_BYTE digest[32] = {1}, sig[64], odd[33] = {0};
	CK_ULONG sig_len = sizeof(sig);
	CK_MECHANISM_INFO info;

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL(p11->C_GetMechanismInfo(*the_slot, CKM_ECDSA, &info), CKR_OK);
	CU_ASSERT((info.flags & (CKF_SIGN | CKF_VERIFY)) == (CKF_SIGN | CKF_VERIFY));
	CU_ASSERT_FALSE(info.flags & CKF_ENCRYPT);
	CU_ASSERT_EQUAL(p11->C_GetMechanismInfo(*the_slot, CKM_RSA_PKCS_OAEP, &info), CKR_OK);
	CU_ASSERT(info.flags & CKF_ENCRYPT);
	CU_ASSERT_FALSE(info.flags & (CKF_WRAP | CKF_VERIFY));
	CU_ASSERT_EQUAL(p11->C_GetMechanismInfo(*the_slot, CKM_AES_KEY_GEN, &info), CKR_OK);
	CU_ASSERT_FALSE(info.flags & CKF_VERIFY);

	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PUBLIC_KEY, "rsa2048", &rsa_pub), 1);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PUBLIC_KEY, "ec256", &ec_pub), 1);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_PRIVATE_KEY, "ec256", &ec_priv), 1);
	CU_ASSERT_EQUAL(p11->C_Verify(s, digest, 32, sig, 64), CKR_OPERATION_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(p11->C_VerifyInit(s, &aes, ec_pub), CKR_MECHANISM_INVALID);
	CU_ASSERT_EQUAL(p11->C_VerifyInit(s, &ecdsa, rsa_pub), CKR_KEY_TYPE_INCONSISTENT);
	CU_ASSERT_EQUAL(p11->C_VerifyInit(s, &pkcs, ec_pub), CKR_KEY_TYPE_INCONSISTENT);
	CU_ASSERT_EQUAL(p11->C_VerifyInit(s, &ecdsa, ec_priv), CKR_KEY_TYPE_INCONSISTENT);
	CU_ASSERT_EQUAL(p11->C_VerifyInit(s, &ecdsa, 0xdeadUL), CKR_KEY_HANDLE_INVALID);
	CU_ASSERT_EQUAL_FATAL(p11->C_VerifyInit(s, &ecdsa, ec_pub), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_VerifyInit(s, &ecdsa, ec_pub), CKR_OPERATION_ACTIVE);
	/* A raw ECDSA input must be a digest of a size the TPM hashes with. */
	CU_ASSERT_EQUAL(p11->C_Verify(s, odd, 33, sig, 64), CKR_DATA_LEN_RANGE);
	encrypt_errors(s);

	unsupported_keys(s);

	/* Verification needs no login: the public key is public. */
	CU_ASSERT_EQUAL_FATAL(p11->C_SignInit(s, &ecdsa, ec_priv), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(p11->C_Sign(s, digest, 32, sig, &sig_len), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_Logout(s), CKR_OK);
	CU_ASSERT_EQUAL(verify_once(s, ec_pub, &ecdsa, digest, 32, sig, sig_len), CKR_OK);
	sig[5] ^= 1;
	CU_ASSERT_EQUAL(verify_once(s, ec_pub, &ecdsa, digest, 32, sig, sig_len),
	                CKR_SIGNATURE_INVALID);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

void tpm_conf_verify_add_tests(CU_pSuite suite, const char *dir, const CK_SLOT_ID *slot)
{
	tmp_dir = dir;
	the_slot = slot;
	CU_add_test(suite, "test_tpm_conformance_verify_openssl",
	            test_tpm_conformance_verify_openssl);
	CU_add_test(suite, "test_tpm_conformance_encrypt", test_tpm_conformance_encrypt);
	CU_add_test(suite, "test_tpm_conformance_verify_errors",
	            test_tpm_conformance_verify_errors);
}
