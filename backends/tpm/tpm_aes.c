/*
 * AES encryption and decryption in the TPM. Keys have no fixed mode (see
 * tpm_aes_key.c), so one key serves CBC and CFB-128. TPM2_EncryptDecrypt2
 * takes at most one TPM2B_MAX_BUFFER per command, so longer input goes in
 * chunks with the IV carried over. Multi-part operations pass whole blocks
 * to the TPM and hold the rest (under one block) in the session: libtpms
 * zero-pads the IV after a partial CFB block, so a stream cannot go on
 * from there.
 */
#include <stdlib.h>
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
	sess->part_len = 0;
	sess->multipart = false;
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
	/* C_Encrypt and C_Decrypt cannot finish a multi-part operation. */
	if (sess->multipart)
		return CKR_OPERATION_ACTIVE;
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

/*
 * Returns the AES key of the multi-part operation op. Otherwise sets *rv,
 * ends an RSA operation, and returns NULL.
 */
static struct tpm_object *multipart_object(struct tpm_token *tok, struct tpm_session *sess,
                                           enum tpm_op op, CK_RV *rv)
{
	struct tpm_object *obj;

	*rv = CKR_OPERATION_NOT_INITIALIZED;
	if (sess->op != op)
		return NULL;
	/* RSA encryption and decryption take one part only. */
	*rv = CKR_FUNCTION_NOT_SUPPORTED;
	obj = tpm_aes_mechanism(sess->mech) ? tpm_object_get_locked(tok, sess->key) : NULL;
	if (obj)
		return obj;
	if (tpm_aes_mechanism(sess->mech))
		*rv = CKR_KEY_HANDLE_INVALID;
	tpm_op_end_locked(tok, sess);
	return NULL;
}

/*
 * Encrypts or decrypts the session's partial block and the first
 * whole - part_len bytes of in into out, and keeps the rest of in in the
 * session. All of in is read before out is written, so in and out may be
 * the same buffer.
 */
static CK_RV update_blocks(struct tpm_token *tok, struct tpm_session *sess, struct tpm_object *obj,
                           const CK_BYTE *in, CK_ULONG in_len, CK_ULONG whole, CK_BYTE *out)
{
	CK_ULONG from_in = whole - sess->part_len;
	CK_BYTE *buf = malloc(whole);
	CK_RV rv;

	if (!buf)
		return CKR_HOST_MEMORY;
	memcpy(buf, sess->part, sess->part_len);
	memcpy(buf + sess->part_len, in, from_in);
	sess->part_len = in_len - from_in;
	memcpy(sess->part, in + from_in, sess->part_len);
	rv = run_cipher(tok, sess, obj, buf, whole, out);
	OPENSSL_cleanse(buf, whole);
	free(buf);
	return rv;
}

CK_RV tpm_aes_update_locked(struct tpm_token *tok, struct tpm_session *sess, enum tpm_op op,
                            const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv;
	struct tpm_object *obj = multipart_object(tok, sess, op, &rv);
	CK_ULONG whole;

	if (!obj)
		return rv;
	if (in_len > (CK_ULONG)-1 - AES_BLOCK) {
		tpm_op_end_locked(tok, sess);
		return op == TPM_OP_DECRYPT ? CKR_ENCRYPTED_DATA_LEN_RANGE : CKR_DATA_LEN_RANGE;
	}
	whole = (sess->part_len + in_len) / AES_BLOCK * AES_BLOCK;
	/* A length query or a short buffer takes no input. */
	if (!out || *out_len < whole) {
		*out_len = whole;
		return out ? CKR_BUFFER_TOO_SMALL : CKR_OK;
	}
	sess->multipart = true;
	if (whole == 0) {
		if (in_len > 0)
			memcpy(sess->part + sess->part_len, in, in_len);
		sess->part_len += in_len;
		*out_len = 0;
		return CKR_OK;
	}
	rv = update_blocks(tok, sess, obj, in, in_len, whole, out);
	if (rv != CKR_OK) {
		OPENSSL_cleanse(out, whole);
		tpm_op_end_locked(tok, sess);
		return rv;
	}
	*out_len = whole;
	return CKR_OK;
}

CK_RV tpm_aes_final_locked(struct tpm_token *tok, struct tpm_session *sess, enum tpm_op op,
                           CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv;
	struct tpm_object *obj = multipart_object(tok, sess, op, &rv);
	CK_ULONG n;

	if (!obj)
		return rv;
	/* CBC has no padding here, so a partial block is a length error. */
	if (sess->mech == CKM_AES_CBC && sess->part_len != 0) {
		tpm_op_end_locked(tok, sess);
		return op == TPM_OP_DECRYPT ? CKR_ENCRYPTED_DATA_LEN_RANGE : CKR_DATA_LEN_RANGE;
	}
	/* CFB-128 ends with the session's partial block, which the TPM takes as the last one. */
	n = sess->part_len;
	if (!out || *out_len < n) {
		*out_len = n;
		return out ? CKR_BUFFER_TOO_SMALL : CKR_OK;
	}
	rv = n > 0 ? run_cipher(tok, sess, obj, sess->part, n, out) : CKR_OK;
	if (rv == CKR_OK)
		*out_len = n;
	else
		OPENSSL_cleanse(out, n);
	tpm_op_end_locked(tok, sess);
	return rv;
}
