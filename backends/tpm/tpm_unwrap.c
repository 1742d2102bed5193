/*
 * C_UnwrapKey into an AES key in the TPM, with CKM_RSA_PKCS_OAEP or with
 * CKM_RSA_AES_KEY_WRAP (BYOK: OAEP for an ephemeral AES key, then AES key
 * wrap with padding, RFC 5649, for the target key). A generic secret (HMAC)
 * key comes through CKM_RSA_PKCS_OAEP only.
 *
 * A TPM cannot decrypt into a new object, so the unwrapped key passes
 * through hsmux's memory: TPM2_RSA_Decrypt returns it, and TPM2_Create
 * takes it as the new key's sensitive data. hsmux keeps that window to the
 * two calls: the copy it owns is locked against swapping (mlock) and wiped
 * right after TPM2_Create. ESYS returns the decrypted value in a buffer of
 * its own, which is wiped and freed as soon as it is copied. TPMs have no
 * AES key wrap, so for CKM_RSA_AES_KEY_WRAP OpenSSL unwraps the target with
 * the ephemeral key in the same locked memory.
 */
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "backends/tpm/tpm_aes.h"
#include "backends/tpm/tpm_crypto.h"
#include "backends/tpm/tpm_hmac.h"
#include "backends/tpm/tpm_import.h"
#include "backends/tpm/tpm_mech.h"
#include "backends/tpm/tpm_unwrap.h"

struct unwrapped {
	CK_BYTE value[32]; /* the key that OAEP decrypts */
	CK_ULONG len;
	/* CKM_RSA_AES_KEY_WRAP: the target, an AES key or a PKCS#8 RSA-3072 or EC key. */
	CK_BYTE target[3072];
	int target_len;
};

static CK_RV get_unwrapping_key(struct tpm_token *tok, CK_OBJECT_HANDLE h, struct tpm_object **out)
{
	struct tpm_object *obj = tpm_object_get_locked(tok, h);

	if (!obj)
		return CKR_UNWRAPPING_KEY_HANDLE_INVALID;
	if (tpm_attrs_ulong(&obj->attrs, CKA_CLASS, ~0UL) != CKO_PRIVATE_KEY ||
	    tpm_attrs_ulong(&obj->attrs, CKA_KEY_TYPE, ~0UL) != CKK_RSA)
		return CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
	if (!tpm_attrs_bool(&obj->attrs, CKA_UNWRAP, false))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	*out = obj;
	return CKR_OK;
}

/* Runs TPM2_RSA_Decrypt and copies the result into out, which the caller has locked. */
static CK_RV oaep_decrypt(struct tpm_token *tok, struct tpm_object *obj, TPMI_ALG_HASH hash,
                          const TPM2B_DATA *label, const CK_BYTE *wrapped, CK_ULONG wrapped_len,
                          struct unwrapped *out)
{
	const CK_ATTRIBUTE *modulus = tpm_attrs_find(&obj->attrs, CKA_MODULUS);
	TPMT_RSA_DECRYPT scheme = {.scheme = TPM2_ALG_OAEP, .details.oaep.hashAlg = hash};
	TPM2B_PUBLIC_KEY_RSA cipher = {.size = (UINT16)wrapped_len};
	TPM2B_PUBLIC_KEY_RSA *msg = NULL;
	TSS2_RC rc;
	CK_RV rv;

	if (!modulus || wrapped_len != modulus->ulValueLen)
		return CKR_WRAPPED_KEY_LEN_RANGE;
	memcpy(cipher.buffer, wrapped, wrapped_len);
	rv = tpm_object_load_locked(tok, obj);
	if (rv != CKR_OK)
		return rv;
	rc = Esys_RSA_Decrypt(tok->dev.esys, obj->loaded, tok->dev.session, ESYS_TR_NONE,
	                      ESYS_TR_NONE, &cipher, &scheme, label, &msg);
	/* libtpms 0.9 returns TPM2_RC_FAILURE for a padding error (see tpm_crypto.c). */
	if (tpm_rc_base(rc) == TPM2_RC_VALUE || rc == TPM2_RC_FAILURE)
		return CKR_WRAPPED_KEY_INVALID;
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_to_ckr(rc);

	if (msg->size <= sizeof(out->value)) {
		memcpy(out->value, msg->buffer, msg->size);
		out->len = msg->size;
	} else {
		rv = CKR_WRAPPED_KEY_INVALID;
	}
	OPENSSL_cleanse(msg, sizeof(*msg));
	Esys_Free(msg);
	return rv;
}

/* The unwrapped length must be a key size the TPM has, and match CKA_VALUE_LEN if set. */
static CK_RV check_length(const struct tpm_token *tok, CK_ULONG got, CK_ULONG requested)
{
	if (!tpm_aes_key_size_supported(tok, got))
		return CKR_WRAPPED_KEY_INVALID;
	if (requested != 0 && requested != got)
		return CKR_TEMPLATE_INCONSISTENT;
	return CKR_OK;
}

/* The CKA_CLASS of a template, or CK_UNAVAILABLE_INFORMATION. */
static CK_OBJECT_CLASS template_class(const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	CK_ULONG cls;

	for (CK_ULONG i = 0; i < count; i++) {
		if (tmpl[i].type == CKA_CLASS && tpm_template_ulong(&tmpl[i], &cls) == CKR_OK)
			return cls;
	}
	return CK_UNAVAILABLE_INFORMATION;
}

static CK_RV check_request(struct tpm_token *tok, struct tpm_session *sess,
                           const CK_MECHANISM *mech, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                           CK_ULONG *len)
{
	CK_MECHANISM_INFO info;
	bool has_class = false, has_type = false;

	if ((mech->mechanism != CKM_RSA_PKCS_OAEP && mech->mechanism != CKM_RSA_AES_KEY_WRAP) ||
	    tpm_mech_info(tok, mech->mechanism, &info) != CKR_OK || !(info.flags & CKF_UNWRAP))
		return CKR_MECHANISM_INVALID;
	for (CK_ULONG i = 0; i < count; i++) {
		has_class |= tmpl[i].type == CKA_CLASS;
		has_type |= tmpl[i].type == CKA_KEY_TYPE;
	}
	if (!has_class || !has_type)
		return CKR_TEMPLATE_INCOMPLETE;
	/* Private keys come only through CKM_RSA_AES_KEY_WRAP; tpm_import.c checks them. */
	if (template_class(tmpl, count) == CKO_PRIVATE_KEY)
		return mech->mechanism == CKM_RSA_AES_KEY_WRAP ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
	if (tpm_hmac_template(tmpl, count)) {
		const CK_ATTRIBUTE *value;

		if (mech->mechanism != CKM_RSA_PKCS_OAEP || !tok->has_sha256)
			return CKR_TEMPLATE_INCONSISTENT;
		return tpm_hmac_check_template(sess, tmpl, count, false, len, &value);
	}
	return tpm_aes_check_template(tok, sess, tmpl, count, len);
}

/* The OAEP part of a CKM_RSA_AES_KEY_WRAP mechanism, and the ephemeral key's length. */
static CK_RV rsa_aes_params(const struct tpm_token *tok, const CK_MECHANISM *mech,
                            TPMI_ALG_HASH *hash, TPM2B_DATA *label, CK_ULONG *aes_len)
{
	const CK_RSA_AES_KEY_WRAP_PARAMS *p = mech->pParameter;
	CK_MECHANISM oaep;

	if (!p || mech->ulParameterLen != sizeof(*p) || !p->pOAEPParams)
		return CKR_MECHANISM_PARAM_INVALID;
	if (p->ulAESKeyBits != 128 && p->ulAESKeyBits != 192 && p->ulAESKeyBits != 256)
		return CKR_MECHANISM_PARAM_INVALID;
	*aes_len = p->ulAESKeyBits / 8;
	oaep = (CK_MECHANISM){CKM_RSA_PKCS_OAEP, p->pOAEPParams, sizeof(*p->pOAEPParams)};
	return tpm_oaep_params(tok, &oaep, hash, label);
}

static const EVP_CIPHER *kwp_cipher(CK_ULONG aes_len)
{
	switch (aes_len) {
	case 16:
		return EVP_aes_128_wrap_pad();
	case 24:
		return EVP_aes_192_wrap_pad();
	default:
		return EVP_aes_256_wrap_pad();
	}
}

/* Unwraps the target key with the ephemeral key (RFC 5649) into key->target. */
static CK_RV kwp_unwrap(struct unwrapped *key, const CK_BYTE *in, CK_ULONG in_len)
{
	EVP_CIPHER_CTX *ctx;
	int n = 0, m = 0;
	CK_RV rv = CKR_WRAPPED_KEY_INVALID;

	/* RFC 5649 output is 8 bytes longer than the key, padded to 8 bytes. */
	if (in_len < 16 || in_len > sizeof(key->target) || in_len % 8 != 0)
		return CKR_WRAPPED_KEY_LEN_RANGE;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return CKR_HOST_MEMORY;
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_DecryptInit_ex(ctx, kwp_cipher(key->len), NULL, key->value, NULL) == 1 &&
	    EVP_DecryptUpdate(ctx, key->target, &n, in, (int)in_len) == 1 &&
	    EVP_DecryptFinal_ex(ctx, key->target + n, &m) == 1) {
		key->target_len = n + m;
		rv = CKR_OK;
	}
	EVP_CIPHER_CTX_free(ctx);
	return rv;
}

static CK_RV rsa_aes_unwrap(struct tpm_token *tok, struct tpm_object *obj, const CK_MECHANISM *mech,
                            const CK_BYTE *wrapped, CK_ULONG wrapped_len, struct unwrapped *key)
{
	const CK_ATTRIBUTE *modulus = tpm_attrs_find(&obj->attrs, CKA_MODULUS);
	CK_ULONG aes_len, mod_len = modulus ? modulus->ulValueLen : 0;
	TPMI_ALG_HASH hash;
	TPM2B_DATA label;
	CK_RV rv;

	rv = rsa_aes_params(tok, mech, &hash, &label, &aes_len);
	if (rv != CKR_OK)
		return rv;
	if (mod_len == 0 || wrapped_len <= mod_len)
		return CKR_WRAPPED_KEY_LEN_RANGE;
	rv = oaep_decrypt(tok, obj, hash, &label, wrapped, mod_len, key);
	if (rv == CKR_OK && key->len != aes_len)
		rv = CKR_WRAPPED_KEY_INVALID;
	if (rv == CKR_OK)
		rv = kwp_unwrap(key, wrapped + mod_len, wrapped_len - mod_len);
	return rv;
}

CK_RV tpm_unwrap_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_MECHANISM *mech,
                        CK_OBJECT_HANDLE unwrapping_key, const CK_BYTE *wrapped,
                        CK_ULONG wrapped_len, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                        CK_OBJECT_HANDLE *h)
{
	struct unwrapped key = {0};
	struct tpm_object *obj;
	TPMI_ALG_HASH hash;
	TPM2B_DATA label;
	CK_ULONG requested = 0;
	bool locked;
	CK_RV rv;

	rv = check_request(tok, sess, mech, tmpl, count, &requested);
	if (rv == CKR_OK && mech->mechanism == CKM_RSA_PKCS_OAEP)
		rv = tpm_oaep_params(tok, mech, &hash, &label);
	if (rv == CKR_OK)
		rv = get_unwrapping_key(tok, unwrapping_key, &obj);
	if (rv != CKR_OK)
		return rv;
	if (tok->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;

	locked = mlock(&key, sizeof(key)) == 0;
	if (mech->mechanism == CKM_RSA_AES_KEY_WRAP &&
	    template_class(tmpl, count) == CKO_PRIVATE_KEY) {
		rv = rsa_aes_unwrap(tok, obj, mech, wrapped, wrapped_len, &key);
		if (rv == CKR_OK)
			rv = tpm_import_private_locked(tok, sess, key.target,
			                               (CK_ULONG)key.target_len, tmpl, count, h);
	} else if (mech->mechanism == CKM_RSA_AES_KEY_WRAP) {
		rv = rsa_aes_unwrap(tok, obj, mech, wrapped, wrapped_len, &key);
		if (rv == CKR_OK)
			rv = check_length(tok, (CK_ULONG)key.target_len, requested);
		if (rv == CKR_OK)
			rv = tpm_aes_key_new_locked(tok, sess, tmpl, count,
			                            (CK_ULONG)key.target_len, key.target, h);
	} else if (tpm_hmac_template(tmpl, count)) {
		rv = oaep_decrypt(tok, obj, hash, &label, wrapped, wrapped_len, &key);
		if (rv == CKR_OK && key.len == 0)
			rv = CKR_WRAPPED_KEY_INVALID;
		if (rv == CKR_OK && requested != 0 && requested != key.len)
			rv = CKR_TEMPLATE_INCONSISTENT;
		if (rv == CKR_OK)
			rv = tpm_hmac_key_new_locked(tok, sess, tmpl, count, key.len, key.value, h);
	} else {
		rv = oaep_decrypt(tok, obj, hash, &label, wrapped, wrapped_len, &key);
		if (rv == CKR_OK)
			rv = check_length(tok, key.len, requested);
		if (rv == CKR_OK)
			rv = tpm_aes_key_new_locked(tok, sess, tmpl, count, key.len, key.value, h);
	}
	OPENSSL_cleanse(&key, sizeof(key));
	if (locked)
		munlock(&key, sizeof(key));
	return rv;
}
