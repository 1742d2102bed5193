/*
 * AES encryption and decryption in the TPM. Keys have no fixed mode (see
 * tpm_aes_key.c), so one key serves CBC and CFB-128. TPM2_EncryptDecrypt2
 * takes at most one TPM2B_MAX_BUFFER per command, so longer input goes in
 * chunks with the IV carried over.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "backends/tpm/tpm_aes.h"
#include "backends/tpm/tpm_crypto.h"
#include "backends/tpm/tpm_mech.h"

#define AES_BLOCK 16

bool tpm_aes_mechanism(CK_MECHANISM_TYPE type)
{
	return type == CKM_AES_CBC || type == CKM_AES_CFB128;
}

CK_RV tpm_aes_init_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_MECHANISM *mech,
                          CK_OBJECT_HANDLE key, bool decrypt)
{
	struct tpm_object *obj = tpm_object_get_locked(tok, key);
	CK_MECHANISM_INFO info;

	if (sess->op != TPM_OP_NONE)
		return CKR_OPERATION_ACTIVE;
	if (tpm_mech_info(tok, mech->mechanism, &info) != CKR_OK ||
	    !tpm_aes_mechanism(mech->mechanism))
		return CKR_MECHANISM_INVALID;
	if (!obj)
		return CKR_KEY_HANDLE_INVALID;
	if (tpm_attrs_ulong(&obj->attrs, CKA_KEY_TYPE, ~0UL) != CKK_AES)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (!tpm_attrs_bool(&obj->attrs, decrypt ? CKA_DECRYPT : CKA_ENCRYPT, false))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (!mech->pParameter || mech->ulParameterLen != AES_BLOCK)
		return CKR_MECHANISM_PARAM_INVALID;
	if (tok->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;

	memcpy(sess->iv.buffer, mech->pParameter, AES_BLOCK);
	sess->iv.size = AES_BLOCK;
	sess->op = decrypt ? TPM_OP_DECRYPT : TPM_OP_ENCRYPT;
	sess->mech = mech->mechanism;
	sess->key = key;
	return CKR_OK;
}

/* Runs TPM2_EncryptDecrypt2 over in, chunk by chunk, carrying the IV. */
static CK_RV run_cipher(struct tpm_token *tok, struct tpm_session *sess, struct tpm_object *obj,
                        const CK_BYTE *in, CK_ULONG len, CK_BYTE *out)
{
	TPMI_ALG_CIPHER_MODE mode = sess->mech == CKM_AES_CBC ? TPM2_ALG_CBC : TPM2_ALG_CFB;
	TPMI_YES_NO decrypt = sess->op == TPM_OP_DECRYPT ? TPM2_YES : TPM2_NO;
	TPM2B_MAX_BUFFER chunk;
	CK_RV rv = tpm_object_load_locked(tok, obj);

	while (rv == CKR_OK && len > 0) {
		TPM2B_MAX_BUFFER *result = NULL;
		TPM2B_IV *iv = NULL;
		UINT16 n = (UINT16)(len < sizeof(chunk.buffer) ? len : sizeof(chunk.buffer));
		TSS2_RC rc;

		/* The buffer holds whole blocks, so the IV chains from chunk to chunk. */
		chunk.size = n;
		memcpy(chunk.buffer, in, n);
		rc = Esys_EncryptDecrypt2(tok->dev.esys, obj->loaded, tok->dev.session,
		                          ESYS_TR_NONE, ESYS_TR_NONE, &chunk, decrypt, mode,
		                          &sess->iv, &result, &iv);
		OPENSSL_cleanse(&chunk, sizeof(chunk));
		if (rc != TSS2_RC_SUCCESS)
			return tpm_rc_to_ckr(rc);
		if (result->size != n) {
			rv = CKR_DEVICE_ERROR;
		} else {
			memcpy(out, result->buffer, n);
			sess->iv = *iv;
			out += n;
			in += n;
			len -= n;
		}
		OPENSSL_cleanse(result, sizeof(*result));
		Esys_Free(result);
		Esys_Free(iv);
	}
	return rv;
}

CK_RV tpm_aes_crypt_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                           CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	struct tpm_object *obj = tpm_object_get_locked(tok, sess->key);
	CK_RV rv;

	if (!obj) {
		tpm_op_end_locked(tok, sess);
		return CKR_KEY_HANDLE_INVALID;
	}
	if (sess->mech == CKM_AES_CBC && in_len % AES_BLOCK != 0) {
		tpm_op_end_locked(tok, sess);
		return sess->op == TPM_OP_DECRYPT ? CKR_ENCRYPTED_DATA_LEN_RANGE
		                                  : CKR_DATA_LEN_RANGE;
	}
	if (!out) {
		*out_len = in_len;
		return CKR_OK;
	}
	if (*out_len < in_len) {
		*out_len = in_len;
		return CKR_BUFFER_TOO_SMALL;
	}
	rv = run_cipher(tok, sess, obj, in, in_len, out);
	if (rv == CKR_OK)
		*out_len = in_len;
	else
		OPENSSL_cleanse(out, in_len);
	tpm_op_end_locked(tok, sess);
	return rv;
}
