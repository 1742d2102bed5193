/*
 * C_UnwrapKey with CKM_RSA_PKCS_OAEP into an AES key in the TPM.
 *
 * A TPM cannot decrypt into a new object, so the unwrapped key passes
 * through hsmux's memory: TPM2_RSA_Decrypt returns it, and TPM2_Create
 * takes it as the new key's sensitive data. hsmux keeps that window to the
 * two calls: the copy it owns is locked against swapping (mlock) and wiped
 * right after TPM2_Create. ESYS returns the decrypted value in a buffer of
 * its own, which is wiped and freed as soon as it is copied.
 */
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

#include "backends/tpm/tpm_aes.h"
#include "backends/tpm/tpm_crypto.h"
#include "backends/tpm/tpm_mech.h"
#include "backends/tpm/tpm_unwrap.h"

struct unwrapped {
	CK_BYTE value[32];
	CK_ULONG len;
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
	rc = Esys_RSA_Decrypt(tok->dev.esys, obj->loaded, ESYS_TR_PASSWORD, ESYS_TR_NONE,
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

static CK_RV check_request(struct tpm_token *tok, struct tpm_session *sess,
                           const CK_MECHANISM *mech, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                           CK_ULONG *len)
{
	CK_MECHANISM_INFO info;
	bool has_class = false, has_type = false;

	if (mech->mechanism != CKM_RSA_PKCS_OAEP ||
	    tpm_mech_info(tok, mech->mechanism, &info) != CKR_OK)
		return CKR_MECHANISM_INVALID;
	for (CK_ULONG i = 0; i < count; i++) {
		has_class |= tmpl[i].type == CKA_CLASS;
		has_type |= tmpl[i].type == CKA_KEY_TYPE;
	}
	if (!has_class || !has_type)
		return CKR_TEMPLATE_INCOMPLETE;
	return tpm_aes_check_template(tok, sess, tmpl, count, len);
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
	if (rv == CKR_OK)
		rv = tpm_oaep_params(tok, mech, &hash, &label);
	if (rv == CKR_OK)
		rv = get_unwrapping_key(tok, unwrapping_key, &obj);
	if (rv != CKR_OK)
		return rv;
	if (tok->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;

	locked = mlock(&key, sizeof(key)) == 0;
	rv = oaep_decrypt(tok, obj, hash, &label, wrapped, wrapped_len, &key);
	if (rv == CKR_OK)
		rv = check_length(tok, key.len, requested);
	if (rv == CKR_OK)
		rv = tpm_aes_key_new_locked(tok, sess, tmpl, count, key.len, key.value, h);
	OPENSSL_cleanse(&key, sizeof(key));
	if (locked)
		munlock(&key, sizeof(key));
	return rv;
}
