/*
 * CKM_RSA_PKCS signing of any data up to k - 11 bytes (k: the modulus
 * length in bytes), as PKCS#11 defines it. TLS 1.0 and 1.1 sign a 36-byte
 * MD5 || SHA-1 value this way, and Java's NONEwithRSA signs the caller's
 * bytes. TPM2_Sign takes only a digest of a hash that the TPM supports, so
 * for other data the module builds the type-1 block itself and the TPM
 * computes block^d mod n with TPM2_RSA_Decrypt and the TPM2_ALG_NULL scheme.
 * NOTE: only libtpms is tested. A TPM that rejects the NULL scheme makes
 * such a signature fail with the TPM's error.
 *
 * Why RSA signing keys have the TPM attribute decrypt. TPM2_RSA_Decrypt
 * needs TPMA_OBJECT_DECRYPT, so tpm_keygen.c and tpm_import.c give it to
 * every RSA key with CKA_SIGN, also when CKA_DECRYPT is FALSE. The TPM
 * attribute is wider than CKA_DECRYPT, but a client gains nothing from it:
 * - the key's auth value is the token secret, which only this backend
 *   holds, and only after a login, so no one else can use the key in the
 *   TPM;
 * - the backend checks the PKCS#11 role before every use: CKA_DECRYPT in
 *   C_DecryptInit, CKA_UNWRAP in C_UnwrapKey, CKA_SIGN in C_SignInit.
 *   Neither C_SetAttributeValue nor C_CopyObject can change those roles;
 * - the raw operation runs only here, on a block that this file padded
 *   as a signature block. Its result is therefore a CKM_RSA_PKCS
 *   signature of the client's data, not the decryption of a ciphertext
 *   that the client chose.
 */
#include <string.h>

#include <tss2/tss2_mu.h>

#include "backends/tpm/tpm_rsa_raw.h"

CK_RV tpm_rsa_pad_type1(const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *em, size_t k)
{
	if (k < 11 || in_len > k - 11)
		return CKR_DATA_LEN_RANGE;
	em[0] = 0x00;
	em[1] = 0x01;
	memset(em + 2, 0xff, k - 3 - in_len);
	em[k - in_len - 1] = 0x00;
	if (in_len > 0)
		memcpy(em + k - in_len, in, in_len);
	return CKR_OK;
}

/* Reads the TPM public area of obj from its stored blob. */
static CK_RV stored_public(const struct tpm_object *obj, TPM2B_PUBLIC *pub)
{
	const CK_ATTRIBUTE *a = tpm_attrs_find(&obj->attrs, TPM_CKA_TPM_PUBLIC);
	size_t off = 0;

	memset(pub, 0, sizeof(*pub));
	if (!a || !a->pValue)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(a->pValue, a->ulValueLen, &off, pub) != TSS2_RC_SUCCESS)
		return CKR_DEVICE_ERROR;
	if (pub->publicArea.type != TPM2_ALG_RSA)
		return CKR_KEY_TYPE_INCONSISTENT;
	return CKR_OK;
}

/* Returns whether the TPM accepts TPM2_RSA_Decrypt with the NULL scheme for this key. */
static bool raw_capable(const TPM2B_PUBLIC *pub)
{
	TPMA_OBJECT attrs = pub->publicArea.objectAttributes;

	return (attrs & TPMA_OBJECT_DECRYPT) && !(attrs & TPMA_OBJECT_RESTRICTED) &&
	       pub->publicArea.parameters.rsaDetail.scheme.scheme == TPM2_ALG_NULL;
}

/* Computes block^d mod n in the TPM and writes the k-byte result to sig. */
static CK_RV raw_private_op(struct tpm_token *tok, struct tpm_object *obj,
                            const TPM2B_PUBLIC_KEY_RSA *block, CK_BYTE *sig, CK_ULONG *sig_len)
{
	TPMT_RSA_DECRYPT scheme = {.scheme = TPM2_ALG_NULL};
	TPM2B_DATA label = {0};
	TPM2B_PUBLIC_KEY_RSA *out = NULL;
	size_t k = block->size;
	TSS2_RC rc;
	CK_RV rv;

	rv = tpm_object_load_locked(tok, obj);
	if (rv != CKR_OK)
		return rv;
	rc = Esys_RSA_Decrypt(tok->dev.esys, obj->loaded, tok->dev.session, ESYS_TR_NONE,
	                      ESYS_TR_NONE, block, &scheme, &label, &out);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_to_ckr(rc);
	/* The result is below n, and a TPM may drop its leading zero bytes. */
	if (out->size > k) {
		rv = CKR_DEVICE_ERROR;
	} else {
		memset(sig, 0, k - out->size);
		memcpy(sig + k - out->size, out->buffer, out->size);
		*sig_len = k;
	}
	Esys_Free(out);
	return rv;
}

CK_RV tpm_rsa_raw_sign_locked(struct tpm_token *tok, struct tpm_object *obj, const CK_BYTE *in,
                              CK_ULONG in_len, CK_BYTE *sig, CK_ULONG *sig_len)
{
	TPM2B_PUBLIC pub;
	TPM2B_PUBLIC_KEY_RSA block;
	size_t k;
	CK_RV rv;

	rv = stored_public(obj, &pub);
	if (rv != CKR_OK)
		return rv;
	k = pub.publicArea.parameters.rsaDetail.keyBits / 8u;
	if (k == 0 || k > sizeof(block.buffer) || *sig_len < k)
		return CKR_DEVICE_ERROR;
	rv = tpm_rsa_pad_type1(in, in_len, block.buffer, k);
	if (rv != CKR_OK)
		return rv;
	/* A key made before RSA signing keys got the decrypt attribute signs DigestInfos only. */
	if (!raw_capable(&pub))
		return CKR_DATA_INVALID;
	block.size = (UINT16)k;
	return raw_private_op(tok, obj, &block, sig, sig_len);
}
