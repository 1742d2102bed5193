/*
 * TPM2_Import of a private key that arrives in plaintext (after
 * CKM_RSA_AES_KEY_WRAP's unwrap). The sensitive area goes in under an inner
 * wrapper (TPM 2.0 Part 1, "Inner Duplication Wrapper"): AES-128 CFB with a
 * fresh key, over an integrity digest and the marshaled TPM2B_SENSITIVE.
 * The wrapper key is the command's first parameter, so an encrypted session
 * (device and swtpm TPMs) hides it, and with it the key. There is no outer
 * wrapper, which the TPM allows only for keys with fixedTPM and fixedParent
 * clear. Their authPolicy is empty, so no policy session can authorize
 * TPM2_Duplicate, and they cannot leave the TPM either.
 */
#include <string.h>
#include <sys/mman.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "backends/tpm/tpm_import.h"
#include "backends/tpm/tpm_keygen.h"

/* The secret inputs of TPM2_Import, kept together so that one mlock covers them. */
struct import_secret {
	TPM2B_SENSITIVE sensitive;
	BYTE inner[2 + SHA256_DIGEST_LENGTH + sizeof(TPM2B_SENSITIVE)]; /* before encryption */
	TPM2B_PRIVATE duplicate;
	TPM2B_DATA wrapper_key;
};

static bool template_bool(const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_ATTRIBUTE_TYPE type,
                          bool def)
{
	for (CK_ULONG i = 0; i < count; i++) {
		if (tmpl[i].type == type && tmpl[i].ulValueLen == sizeof(CK_BBOOL))
			return *(CK_BBOOL *)tmpl[i].pValue != CK_FALSE;
	}
	return def;
}

static EVP_PKEY *parse_pkcs8(const CK_BYTE *der, CK_ULONG len)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
	EVP_PKEY *pkey = NULL;

	if (p8 && p == der + len)
		pkey = EVP_PKCS82PKEY(p8);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return pkey;
}

/* Writes the big number param of pkey to out, left-padded to len bytes. */
static bool get_bn(const EVP_PKEY *pkey, const char *name, BYTE *out, size_t len)
{
	BIGNUM *bn = NULL;
	bool ok;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
		return false;
	ok = BN_bn2binpad(bn, out, (int)len) == (int)len;
	BN_clear_free(bn);
	return ok;
}

static CK_RV rsa_areas(const struct tpm_token *tok, const EVP_PKEY *pkey, TPMT_PUBLIC *pub,
                       TPMT_SENSITIVE *sens)
{
	int bits = EVP_PKEY_get_bits(pkey);
	BIGNUM *e = NULL;
	bool e_ok;

	if (bits != 2048 && !(bits == 3072 && tok->has_rsa3072))
		return CKR_KEY_SIZE_RANGE;
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
		return CKR_WRAPPED_KEY_INVALID;
	/* NOTE: keys with another public exponent are rejected, as key generation makes none. */
	e_ok = BN_is_word(e, 65537);
	BN_free(e);
	if (!e_ok)
		return CKR_WRAPPED_KEY_INVALID;

	pub->type = TPM2_ALG_RSA;
	pub->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	pub->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	pub->parameters.rsaDetail.keyBits = (TPMI_RSA_KEY_BITS)bits;
	pub->unique.rsa.size = (UINT16)(bits / 8);
	sens->sensitiveType = TPM2_ALG_RSA;
	sens->sensitive.rsa.size = (UINT16)(bits / 16);
	/* The TPM keeps one prime and derives the rest from the modulus. */
	if (!get_bn(pkey, OSSL_PKEY_PARAM_RSA_N, pub->unique.rsa.buffer, bits / 8) ||
	    !get_bn(pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, sens->sensitive.rsa.buffer, bits / 16))
		return CKR_WRAPPED_KEY_INVALID;
	return CKR_OK;
}

static CK_RV ec_areas(const struct tpm_token *tok, const EVP_PKEY *pkey, TPMT_PUBLIC *pub,
                      TPMT_SENSITIVE *sens)
{
	char group[32] = "";
	size_t field;

	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
	                                   NULL) != 1)
		return CKR_WRAPPED_KEY_INVALID;
	if (strcmp(group, "prime256v1") == 0 && tok->has_p256) {
		pub->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
		field = 32;
	} else if (strcmp(group, "secp384r1") == 0 && tok->has_p384) {
		pub->parameters.eccDetail.curveID = TPM2_ECC_NIST_P384;
		field = 48;
	} else {
		return CKR_CURVE_NOT_SUPPORTED;
	}

	pub->type = TPM2_ALG_ECC;
	pub->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	pub->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	pub->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	pub->unique.ecc.x.size = pub->unique.ecc.y.size = (UINT16)field;
	sens->sensitiveType = TPM2_ALG_ECC;
	sens->sensitive.ecc.size = (UINT16)field;
	if (!get_bn(pkey, OSSL_PKEY_PARAM_EC_PUB_X, pub->unique.ecc.x.buffer, field) ||
	    !get_bn(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, pub->unique.ecc.y.buffer, field) ||
	    !get_bn(pkey, OSSL_PKEY_PARAM_PRIV_KEY, sens->sensitive.ecc.buffer, field))
		return CKR_WRAPPED_KEY_INVALID;
	return CKR_OK;
}

/* Fills the public and sensitive areas from pkey and the template's roles. */
static CK_RV make_areas(const struct tpm_token *tok, const EVP_PKEY *pkey, const CK_ATTRIBUTE *tmpl,
                        CK_ULONG count, TPM2B_PUBLIC *pub, TPMT_SENSITIVE *sens)
{
	bool rsa = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA;
	TPMA_OBJECT attrs = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA;
	CK_RV rv;

	memset(pub, 0, sizeof(*pub));
	rv = rsa ? rsa_areas(tok, pkey, &pub->publicArea, sens)
	         : ec_areas(tok, pkey, &pub->publicArea, sens);
	if (rv != CKR_OK)
		return rv;
	if (template_bool(tmpl, count, CKA_SIGN, true))
		attrs |= TPMA_OBJECT_SIGN_ENCRYPT;
	/*
	 * An RSA signing key gets the TPM's decrypt attribute too, for
	 * CKM_RSA_PKCS signing of data that is no DigestInfo; CKA_DECRYPT
	 * keeps the template's value (tpm_rsa_raw.c explains why that is safe).
	 */
	if (rsa &&
	    (template_bool(tmpl, count, CKA_DECRYPT, false) ||
	     template_bool(tmpl, count, CKA_UNWRAP, false) || (attrs & TPMA_OBJECT_SIGN_ENCRYPT)))
		attrs |= TPMA_OBJECT_DECRYPT;
	if (!(attrs & (TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_DECRYPT)))
		return CKR_TEMPLATE_INCONSISTENT;
	pub->publicArea.nameAlg = TPM2_ALG_SHA256;
	pub->publicArea.objectAttributes = attrs;

	sens->authValue.size = TPM_SECRET_LEN;
	memcpy(sens->authValue.buffer, tok->secret, TPM_SECRET_LEN);
	sens->seedValue.size = 32;
	return RAND_bytes(sens->seedValue.buffer, 32) == 1 ? CKR_OK : CKR_FUNCTION_FAILED;
}

/* The object's Name: its name algorithm and the digest of its marshaled public area. */
static bool object_name(const TPM2B_PUBLIC *pub, BYTE name[2 + SHA256_DIGEST_LENGTH])
{
	BYTE area[sizeof(TPMT_PUBLIC)];
	size_t off = 0;

	if (Tss2_MU_TPMT_PUBLIC_Marshal(&pub->publicArea, area, sizeof(area), &off) !=
	    TSS2_RC_SUCCESS)
		return false;
	name[0] = (BYTE)(TPM2_ALG_SHA256 >> 8);
	name[1] = (BYTE)TPM2_ALG_SHA256;
	SHA256(area, off, name + 2);
	return true;
}

/*
 * Builds the inner wrapper: duplicate = AES-128-CFB(wrapper_key, IV 0,
 * size || SHA-256(sensitive || Name) || sensitive), with sensitive the
 * marshaled TPM2B_SENSITIVE.
 */
static CK_RV inner_wrap(const TPM2B_PUBLIC *pub, struct import_secret *secret)
{
	static const BYTE zero_iv[16];
	BYTE name[2 + SHA256_DIGEST_LENGTH];
	BYTE *sens = secret->inner + 2 + SHA256_DIGEST_LENGTH;
	size_t sens_len = 0, inner_len;
	EVP_CIPHER_CTX *ctx;
	EVP_MD_CTX *md;
	int n = 0, m = 0;
	bool ok;

	if (Tss2_MU_TPM2B_SENSITIVE_Marshal(&secret->sensitive, sens, sizeof(TPM2B_SENSITIVE),
	                                    &sens_len) != TSS2_RC_SUCCESS ||
	    !object_name(pub, name))
		return CKR_GENERAL_ERROR;
	secret->inner[0] = 0;
	secret->inner[1] = SHA256_DIGEST_LENGTH;
	md = EVP_MD_CTX_new();
	ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md, sens, sens_len) == 1 &&
	     EVP_DigestUpdate(md, name, sizeof(name)) == 1 &&
	     EVP_DigestFinal_ex(md, secret->inner + 2, NULL) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		return CKR_FUNCTION_FAILED;
	inner_len = 2 + SHA256_DIGEST_LENGTH + sens_len;
	if (inner_len > sizeof(secret->duplicate.buffer))
		return CKR_GENERAL_ERROR;

	secret->wrapper_key.size = 16;
	if (RAND_bytes(secret->wrapper_key.buffer, 16) != 1)
		return CKR_FUNCTION_FAILED;
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx &&
	     EVP_EncryptInit_ex(ctx, EVP_aes_128_cfb128(), NULL, secret->wrapper_key.buffer,
	                        zero_iv) == 1 &&
	     EVP_EncryptUpdate(ctx, secret->duplicate.buffer, &n, secret->inner, (int)inner_len) ==
	         1 &&
	     EVP_EncryptFinal_ex(ctx, secret->duplicate.buffer + n, &m) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		return CKR_FUNCTION_FAILED;
	secret->duplicate.size = (UINT16)(n + m);
	return CKR_OK;
}

static CK_RV run_import(struct tpm_token *tok, const TPM2B_PUBLIC *pub,
                        struct import_secret *secret, TPM2B_PRIVATE **out)
{
	TPM2B_ENCRYPTED_SECRET no_seed = {0};
	TPMT_SYM_DEF_OBJECT inner = {
	    .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB};
	TSS2_RC rc;
	CK_RV rv;

	rv = inner_wrap(pub, secret);
	if (rv != CKR_OK)
		return rv;
	for (;;) {
		rc = Esys_Import(tok->dev.esys, tok->dev.primary, tok->dev.session, ESYS_TR_NONE,
		                 ESYS_TR_NONE, &secret->wrapper_key, pub, &secret->duplicate,
		                 &no_seed, &inner, out);
		if (tpm_rc_base(rc) != TPM2_RC_OBJECT_MEMORY || !tpm_object_evict_one_locked(tok))
			break;
	}
	return rc == TSS2_RC_SUCCESS ? CKR_OK : tpm_rc_to_ckr(rc);
}

static CK_RV register_key(struct tpm_token *tok, struct tpm_session *sess, const CK_ATTRIBUTE *tmpl,
                          CK_ULONG count, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv,
                          CK_OBJECT_HANDLE *h)
{
	struct tpm_object *obj = tpm_object_new();
	CK_RV rv;

	if (!obj)
		return CKR_HOST_MEMORY;
	rv = tpm_keygen_import_attrs(&obj->attrs, tmpl, count, pub, priv);
	if (rv == CKR_OK && tpm_attrs_bool(&obj->attrs, CKA_TOKEN, false))
		rv = tpm_store_add_locked(tok, &obj, 1);
	else
		obj->session = sess->handle;
	if (rv == CKR_OK)
		rv = tpm_object_register_locked(tok, obj);
	if (rv != CKR_OK) {
		tpm_object_free(tok, obj);
		return rv;
	}
	*h = obj->handle;
	return CKR_OK;
}

CK_RV tpm_import_private_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *der,
                                CK_ULONG der_len, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                                CK_OBJECT_HANDLE *h)
{
	struct import_secret secret = {0};
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE *priv = NULL;
	EVP_PKEY *pkey = parse_pkcs8(der, der_len);
	CK_KEY_TYPE type;
	bool locked = mlock(&secret, sizeof(secret)) == 0;
	CK_RV rv = CKR_WRAPPED_KEY_INVALID;

	if (!pkey)
		goto out;
	type = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA ? CKK_RSA : CKK_EC;
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA && EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
		goto out;
	rv = tpm_keygen_check_import_template(tmpl, count, type);
	if (rv == CKR_OK)
		rv = make_areas(tok, pkey, tmpl, count, &pub, &secret.sensitive.sensitiveArea);
	EVP_PKEY_free(pkey);
	pkey = NULL;
	if (rv == CKR_OK)
		rv = run_import(tok, &pub, &secret, &priv);
	if (rv == CKR_OK)
		rv = register_key(tok, sess, tmpl, count, &pub, priv, h);
out:
	EVP_PKEY_free(pkey);
	OPENSSL_cleanse(&secret, sizeof(secret));
	if (locked)
		munlock(&secret, sizeof(secret));
	Esys_Free(priv);
	return rv;
}
