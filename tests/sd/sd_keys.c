/* Test keys on a token: made there, their public halves exported, and used after a restore. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "sd_keys.h"

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

CK_MECHANISM_TYPE keys_aes_mech = CKM_AES_CBC_PAD;

static const char *aes_plaintext(void)
{
	return keys_aes_mech == CKM_AES_CBC_PAD ? KEYS_PLAINTEXT : KEYS_AES_PLAINTEXT;
}

static bool gen_pair(struct mod *m, CK_MECHANISM_TYPE type, CK_ATTRIBUTE *pub_extra,
                     CK_ULONG n_pub_extra, CK_ATTRIBUTE_TYPE use, const char *label)
{
	CK_MECHANISM mech = {type, NULL, 0};
	CK_ATTRIBUTE pub[8] = {{CKA_TOKEN, &yes, 1}, {CKA_LABEL, (void *)label, strlen(label)}};
	CK_ATTRIBUTE priv[] = {
	    {CKA_TOKEN, &yes, 1},     {CKA_PRIVATE, &yes, 1},
	    {CKA_SENSITIVE, &yes, 1}, {CKA_EXTRACTABLE, &no, 1},
	    {use, &yes, 1},           {CKA_LABEL, (void *)label, strlen(label)},
	};
	CK_OBJECT_HANDLE h1, h2;

	memcpy(pub + 2, pub_extra, n_pub_extra * sizeof(*pub));
	return m->fl->C_GenerateKeyPair(m->s, &mech, pub, 2 + n_pub_extra, priv, 6, &h1, &h2) ==
	       CKR_OK;
}

bool keys_make(struct mod *m)
{
	CK_ULONG bits = 2048, aes_len = 32;
	CK_BYTE e[] = {1, 0, 1};
	/* DER OID of prime256v1 */
	CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	CK_ATTRIBUTE rsa_sign[] = {{CKA_MODULUS_BITS, &bits, sizeof(bits)},
	                           {CKA_PUBLIC_EXPONENT, e, 3},
	                           {CKA_VERIFY, &yes, 1}};
	CK_ATTRIBUTE rsa_dec[] = {{CKA_MODULUS_BITS, &bits, sizeof(bits)},
	                          {CKA_PUBLIC_EXPONENT, e, 3},
	                          {CKA_ENCRYPT, &yes, 1}};
	CK_ATTRIBUTE ec[] = {{CKA_EC_PARAMS, p256, sizeof(p256)}, {CKA_VERIFY, &yes, 1}};
	CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES;
	CK_MECHANISM aes_gen = {CKM_AES_KEY_GEN, NULL, 0};
	CK_ATTRIBUTE aes_tmpl[] = {{CKA_CLASS, &secret, sizeof(secret)},
	                           {CKA_KEY_TYPE, &aes, sizeof(aes)},
	                           {CKA_TOKEN, &yes, 1},
	                           {CKA_PRIVATE, &yes, 1},
	                           {CKA_SENSITIVE, &yes, 1},
	                           {CKA_EXTRACTABLE, &no, 1},
	                           {CKA_ENCRYPT, &yes, 1},
	                           {CKA_DECRYPT, &yes, 1},
	                           {CKA_VALUE_LEN, &aes_len, sizeof(aes_len)},
	                           {CKA_LABEL, "aes", 3}};
	CK_OBJECT_HANDLE k;

	return gen_pair(m, CKM_RSA_PKCS_KEY_PAIR_GEN, rsa_sign, 3, CKA_SIGN, "rsa-sign") &&
	       gen_pair(m, CKM_RSA_PKCS_KEY_PAIR_GEN, rsa_dec, 3, CKA_DECRYPT, "rsa-dec") &&
	       gen_pair(m, CKM_EC_KEY_PAIR_GEN, ec, 2, CKA_SIGN, "ec") &&
	       m->fl->C_GenerateKey(m->s, &aes_gen, aes_tmpl, 10, &k) == CKR_OK;
}

static EVP_PKEY *rsa_public(struct mod *m, CK_OBJECT_HANDLE h)
{
	unsigned char n[512], e[8];
	CK_ATTRIBUTE a[] = {{CKA_MODULUS, n, sizeof(n)}, {CKA_PUBLIC_EXPONENT, e, sizeof(e)}};
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM *p = NULL;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *k = NULL;

	if (m->fl->C_GetAttributeValue(m->s, h, a, 2) == CKR_OK) {
		bn = BN_bin2bn(n, (int)a[0].ulValueLen, NULL);
		be = BN_bin2bn(e, (int)a[1].ulValueLen, NULL);
		OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn);
		OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be);
		p = OSSL_PARAM_BLD_to_param(b);
		if (EVP_PKEY_fromdata_init(c) == 1)
			EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, p);
	}
	OSSL_PARAM_free(p);
	OSSL_PARAM_BLD_free(b);
	EVP_PKEY_CTX_free(c);
	BN_free(bn);
	BN_free(be);
	return k;
}

static EVP_PKEY *ec_public(struct mod *m, CK_OBJECT_HANDLE h)
{
	unsigned char point[128];
	CK_ATTRIBUTE a[] = {{CKA_EC_POINT, point, sizeof(point)}};
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;

	/* CKA_EC_POINT is a DER OCTET STRING: 0x04, length, then the uncompressed point. */
	if (m->fl->C_GetAttributeValue(m->s, h, a, 1) == CKR_OK && a[0].ulValueLen == 67) {
		params[0] =
		    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
		params[1] =
		    OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point + 2, 65);
		params[2] = OSSL_PARAM_construct_end();
		if (EVP_PKEY_fromdata_init(c) == 1)
			EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, params);
	}
	EVP_PKEY_CTX_free(c);
	return k;
}

static bool save_pem(EVP_PKEY *k, const char *dir, const char *name)
{
	char path[4096];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ok = f && k && PEM_write_PUBKEY(f, k) == 1;
	if (f)
		fclose(f);
	EVP_PKEY_free(k);
	return ok;
}

/* The known ciphertexts: RSA-OAEP by OpenSSL with the public key, AES-CBC by the token. */
static bool save_ciphertexts(struct mod *m, const char *dir)
{
	char path[4096];
	unsigned char iv[16] = {0}, out[512];
	CK_ULONG out_len = sizeof(out);
	CK_MECHANISM cbc = {keys_aes_mech, iv, sizeof(iv)};
	EVP_PKEY *k;
	EVP_PKEY_CTX *c;
	size_t n = sizeof(out);
	bool ok;

	snprintf(path, sizeof(path), "%s/rsa-dec.pem", dir);
	k = fx_read_pubkey(path);
	c = k ? EVP_PKEY_CTX_new(k, NULL) : NULL;
	ok = c && EVP_PKEY_encrypt_init(c) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
	     EVP_PKEY_encrypt(c, out, &n, (const unsigned char *)KEYS_PLAINTEXT,
	                      strlen(KEYS_PLAINTEXT)) == 1;
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(k);
	snprintf(path, sizeof(path), "%s/rsa.ct", dir);
	ok = ok && fx_write(path, out, n);

	ok = ok && m->fl->C_EncryptInit(m->s, &cbc, fx_find(m, CKO_SECRET_KEY, "aes")) == CKR_OK &&
	     m->fl->C_Encrypt(m->s, (CK_BYTE_PTR)aes_plaintext(), strlen(aes_plaintext()), out,
	                      &out_len) == CKR_OK;
	snprintf(path, sizeof(path), "%s/aes.ct", dir);
	return ok && fx_write(path, out, out_len);
}

bool keys_export(struct mod *m, const char *dir)
{
	return save_pem(rsa_public(m, fx_find(m, CKO_PUBLIC_KEY, "rsa-sign")), dir,
	                "rsa-sign.pem") &&
	       save_pem(rsa_public(m, fx_find(m, CKO_PUBLIC_KEY, "rsa-dec")), dir, "rsa-dec.pem") &&
	       save_pem(ec_public(m, fx_find(m, CKO_PUBLIC_KEY, "ec")), dir, "ec.pem") &&
	       save_ciphertexts(m, dir);
}

static bool verify(const char *dir, const char *pem, const unsigned char *sig, size_t sig_len)
{
	char path[4096];
	EVP_PKEY *k;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, pem);
	k = fx_read_pubkey(path);
	ok = k && md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
	     EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)KEYS_PLAINTEXT,
	                      strlen(KEYS_PLAINTEXT)) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	return ok;
}

/* Converts the token's raw r || s ECDSA signature to DER for OpenSSL. */
static size_t ecdsa_der(const unsigned char *raw, unsigned char *der)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	unsigned char *p = der;
	int n;

	ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL));
	n = i2d_ECDSA_SIG(sig, &p);
	ECDSA_SIG_free(sig);
	return n > 0 ? (size_t)n : 0;
}

static bool check_sign(struct mod *m, const char *dir)
{
	CK_MECHANISM rsa = {CKM_SHA256_RSA_PKCS, NULL, 0}, ecdsa = {CKM_ECDSA, NULL, 0};
	unsigned char sig[512], digest[32], der[80];
	CK_ULONG len = sizeof(sig);
	bool ok;

	ok = m->fl->C_SignInit(m->s, &rsa, fx_find(m, CKO_PRIVATE_KEY, "rsa-sign")) == CKR_OK &&
	     m->fl->C_Sign(m->s, (CK_BYTE_PTR)KEYS_PLAINTEXT, strlen(KEYS_PLAINTEXT), sig, &len) ==
	         CKR_OK &&
	     verify(dir, "rsa-sign.pem", sig, len);
	if (!ok)
		return false;
	EVP_Digest(KEYS_PLAINTEXT, strlen(KEYS_PLAINTEXT), digest, NULL, EVP_sha256(), NULL);
	len = sizeof(sig);
	return m->fl->C_SignInit(m->s, &ecdsa, fx_find(m, CKO_PRIVATE_KEY, "ec")) == CKR_OK &&
	       m->fl->C_Sign(m->s, digest, 32, sig, &len) == CKR_OK && len == 64 &&
	       verify(dir, "ec.pem", der, ecdsa_der(sig, der));
}

static bool check_decrypt(struct mod *m, const char *dir)
{
	CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM rsa = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
	unsigned char iv[16] = {0}, out[512], *ct;
	CK_MECHANISM cbc = {keys_aes_mech, iv, sizeof(iv)};
	CK_ULONG out_len = sizeof(out);
	char path[4096];
	size_t ct_len = 0;
	bool ok;

	snprintf(path, sizeof(path), "%s/rsa.ct", dir);
	ct = fx_read(path, &ct_len);
	ok = ct &&
	     m->fl->C_DecryptInit(m->s, &rsa, fx_find(m, CKO_PRIVATE_KEY, "rsa-dec")) == CKR_OK &&
	     m->fl->C_Decrypt(m->s, ct, ct_len, out, &out_len) == CKR_OK &&
	     out_len == strlen(KEYS_PLAINTEXT) && memcmp(out, KEYS_PLAINTEXT, out_len) == 0;
	free(ct);
	if (!ok)
		return false;
	snprintf(path, sizeof(path), "%s/aes.ct", dir);
	ct = fx_read(path, &ct_len);
	out_len = sizeof(out);
	ok = ct && m->fl->C_DecryptInit(m->s, &cbc, fx_find(m, CKO_SECRET_KEY, "aes")) == CKR_OK &&
	     m->fl->C_Decrypt(m->s, ct, ct_len, out, &out_len) == CKR_OK &&
	     out_len == strlen(aes_plaintext()) && memcmp(out, aes_plaintext(), out_len) == 0;
	free(ct);
	return ok;
}

static bool non_extractable(struct mod *m, CK_OBJECT_CLASS cls, const char *label)
{
	CK_BBOOL extractable = CK_TRUE, sensitive = CK_FALSE;
	CK_ATTRIBUTE a[] = {{CKA_EXTRACTABLE, &extractable, 1}, {CKA_SENSITIVE, &sensitive, 1}};

	return m->fl->C_GetAttributeValue(m->s, fx_find(m, cls, label), a, 2) == CKR_OK &&
	       extractable == CK_FALSE && sensitive == CK_TRUE;
}

bool keys_check(struct mod *m, const char *dir)
{
	if (!check_sign(m, dir)) {
		fprintf(stderr, "restored keys: signature check failed\n");
		return false;
	}
	if (!check_decrypt(m, dir)) {
		fprintf(stderr, "restored keys: decryption check failed\n");
		return false;
	}
	return non_extractable(m, CKO_PRIVATE_KEY, "rsa-sign") &&
	       non_extractable(m, CKO_PRIVATE_KEY, "rsa-dec") &&
	       non_extractable(m, CKO_PRIVATE_KEY, "ec") &&
	       non_extractable(m, CKO_SECRET_KEY, "aes");
}
