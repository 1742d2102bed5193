/*
 * CKM_SHA256_HMAC with a generic secret key: a TPM HMAC sequence
 * (TPM2_HMAC_Start, TPM2_SequenceUpdate, TPM2_SequenceComplete), so that
 * messages of any length are signed or verified and the key never leaves
 * the TPM. Verification computes the MAC in the TPM as signing does and
 * compares it in constant time. The sequence starts at the first data and
 * lives in sess->sequence, which tpm_op_end_locked() flushes.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "backends/tpm/tpm_crypto.h"
#include "backends/tpm/tpm_hmac.h"
#include "backends/tpm/tpm_mech.h"

#define HMAC_LEN 32

bool tpm_hmac_active(const struct tpm_session *sess, enum tpm_op op)
{
	return sess->op == op && sess->mech == CKM_SHA256_HMAC;
}

/* Starts op (TPM_OP_SIGN or TPM_OP_VERIFY), which needs CKA_SIGN or CKA_VERIFY on the key. */
static CK_RV hmac_init(struct tpm_token *tok, struct tpm_session *sess, const CK_MECHANISM *mech,
                       CK_OBJECT_HANDLE key, enum tpm_op op)
{
	struct tpm_object *obj;

	if (sess->op != TPM_OP_NONE)
		return CKR_OPERATION_ACTIVE;
	if (mech->mechanism != CKM_SHA256_HMAC || !tok->has_sha256)
		return CKR_MECHANISM_INVALID;
	if (mech->ulParameterLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	obj = tpm_object_get_locked(tok, key);
	if (!obj)
		return CKR_KEY_HANDLE_INVALID;
	if (tpm_attrs_ulong(&obj->attrs, CKA_CLASS, ~0UL) != CKO_SECRET_KEY ||
	    tpm_attrs_ulong(&obj->attrs, CKA_KEY_TYPE, ~0UL) != CKK_GENERIC_SECRET)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (!tpm_attrs_bool(&obj->attrs, op == TPM_OP_SIGN ? CKA_SIGN : CKA_VERIFY, false))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (tok->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	sess->op = op;
	sess->mech = CKM_SHA256_HMAC;
	sess->key = key;
	sess->hash = TPM2_ALG_SHA256;
	sess->sequence = ESYS_TR_NONE;
	return CKR_OK;
}

CK_RV tpm_hmac_sign_init_locked(struct tpm_token *tok, struct tpm_session *sess,
                                const CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	return hmac_init(tok, sess, mech, key, TPM_OP_SIGN);
}

CK_RV tpm_hmac_verify_init_locked(struct tpm_token *tok, struct tpm_session *sess,
                                  const CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	return hmac_init(tok, sess, mech, key, TPM_OP_VERIFY);
}

static CK_RV start_sequence(struct tpm_token *tok, struct tpm_session *sess)
{
	struct tpm_object *obj = tpm_object_get_locked(tok, sess->key);
	TPM2B_AUTH auth = {0};
	TSS2_RC rc;
	CK_RV rv;

	if (!obj)
		return CKR_KEY_HANDLE_INVALID;
	rv = tpm_object_load_locked(tok, obj);
	if (rv != CKR_OK)
		return rv;
	for (;;) {
		rc = Esys_HMAC_Start(tok->dev.esys, obj->loaded, tok->dev.session, ESYS_TR_NONE,
		                     ESYS_TR_NONE, &auth, TPM2_ALG_SHA256, &sess->sequence);
		/* Eviction may flush the key itself; it is loaded again on the next try. */
		if (tpm_rc_base(rc) != TPM2_RC_OBJECT_MEMORY || !tpm_object_evict_one_locked(tok))
			break;
		rv = tpm_object_load_locked(tok, obj);
		if (rv != CKR_OK)
			return rv;
	}
	if (rc != TSS2_RC_SUCCESS) {
		sess->sequence = ESYS_TR_NONE;
		return tpm_rc_to_ckr(rc);
	}
	return CKR_OK;
}

/* Feeds data into the sequence, starting it on first use. Ends the operation on failure. */
static CK_RV feed(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                  CK_ULONG in_len)
{
	TPM2B_MAX_BUFFER chunk;
	TSS2_RC rc;
	CK_RV rv = CKR_OK;

	if (sess->sequence == ESYS_TR_NONE)
		rv = start_sequence(tok, sess);
	while (rv == CKR_OK && in_len > 0) {
		chunk.size =
		    (UINT16)(in_len < sizeof(chunk.buffer) ? in_len : sizeof(chunk.buffer));
		memcpy(chunk.buffer, in, chunk.size);
		rc = Esys_SequenceUpdate(tok->dev.esys, sess->sequence, tok->dev.session,
		                         ESYS_TR_NONE, ESYS_TR_NONE, &chunk);
		rv = tpm_rc_to_ckr(rc);
		in += chunk.size;
		in_len -= chunk.size;
	}
	OPENSSL_cleanse(&chunk, sizeof(chunk));
	if (rv != CKR_OK)
		tpm_op_end_locked(tok, sess);
	return rv;
}

CK_RV tpm_hmac_sign_update_locked(struct tpm_token *tok, struct tpm_session *sess,
                                  const CK_BYTE *in, CK_ULONG in_len)
{
	if (!tpm_hmac_active(sess, TPM_OP_SIGN))
		return CKR_OPERATION_NOT_INITIALIZED;
	return feed(tok, sess, in, in_len);
}

/* Handles a length query or a short buffer; true when the caller returns *rv now. */
static bool answer_length(CK_BYTE *sig, CK_ULONG *sig_len, CK_RV *rv)
{
	if (sig && *sig_len >= HMAC_LEN)
		return false;
	*rv = sig ? CKR_BUFFER_TOO_SMALL : CKR_OK;
	*sig_len = HMAC_LEN;
	return true;
}

/* Completes the sequence into mac and ends the operation, success or not. */
static CK_RV complete(struct tpm_token *tok, struct tpm_session *sess, CK_BYTE mac[HMAC_LEN])
{
	TPM2B_MAX_BUFFER empty = {0};
	TPM2B_DIGEST *result = NULL;
	TSS2_RC rc;
	CK_RV rv;

	rv = sess->sequence == ESYS_TR_NONE ? start_sequence(tok, sess) : CKR_OK;
	if (rv != CKR_OK) {
		tpm_op_end_locked(tok, sess);
		return rv;
	}
	rc = Esys_SequenceComplete(tok->dev.esys, sess->sequence, tok->dev.session, ESYS_TR_NONE,
	                           ESYS_TR_NONE, &empty, ESYS_TR_RH_NULL, &result, NULL);
	/* SequenceComplete flushes the sequence object, success or not. */
	sess->sequence = ESYS_TR_NONE;
	tpm_op_end_locked(tok, sess);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_to_ckr(rc);
	rv = result->size == HMAC_LEN ? CKR_OK : CKR_DEVICE_ERROR;
	if (rv == CKR_OK)
		memcpy(mac, result->buffer, HMAC_LEN);
	OPENSSL_cleanse(result, sizeof(*result));
	Esys_Free(result);
	return rv;
}

CK_RV tpm_hmac_sign_final_locked(struct tpm_token *tok, struct tpm_session *sess, CK_BYTE *sig,
                                 CK_ULONG *sig_len)
{
	CK_RV rv;

	if (!tpm_hmac_active(sess, TPM_OP_SIGN))
		return CKR_OPERATION_NOT_INITIALIZED;
	if (answer_length(sig, sig_len, &rv))
		return rv;
	rv = complete(tok, sess, sig);
	if (rv == CKR_OK)
		*sig_len = HMAC_LEN;
	return rv;
}

CK_RV tpm_hmac_sign_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                           CK_ULONG in_len, CK_BYTE *sig, CK_ULONG *sig_len)
{
	CK_RV rv;

	if (!tpm_hmac_active(sess, TPM_OP_SIGN))
		return CKR_OPERATION_NOT_INITIALIZED;
	if (answer_length(sig, sig_len, &rv))
		return rv;
	rv = feed(tok, sess, in, in_len);
	if (rv != CKR_OK)
		return rv;
	return tpm_hmac_sign_final_locked(tok, sess, sig, sig_len);
}

CK_RV tpm_hmac_verify_update_locked(struct tpm_token *tok, struct tpm_session *sess,
                                    const CK_BYTE *in, CK_ULONG in_len)
{
	if (!tpm_hmac_active(sess, TPM_OP_VERIFY))
		return CKR_OPERATION_NOT_INITIALIZED;
	return feed(tok, sess, in, in_len);
}

CK_RV tpm_hmac_verify_final_locked(struct tpm_token *tok, struct tpm_session *sess,
                                   const CK_BYTE *sig, CK_ULONG sig_len)
{
	CK_BYTE mac[HMAC_LEN];
	CK_RV rv;

	if (!tpm_hmac_active(sess, TPM_OP_VERIFY))
		return CKR_OPERATION_NOT_INITIALIZED;
	/* A MAC of another length cannot match, and the spec has a code of its own for it. */
	if (sig_len != HMAC_LEN) {
		tpm_op_end_locked(tok, sess);
		return CKR_SIGNATURE_LEN_RANGE;
	}
	rv = complete(tok, sess, mac);
	if (rv == CKR_OK && CRYPTO_memcmp(mac, sig, HMAC_LEN) != 0)
		rv = CKR_SIGNATURE_INVALID;
	OPENSSL_cleanse(mac, sizeof(mac));
	return rv;
}

CK_RV tpm_hmac_verify_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                             CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len)
{
	CK_RV rv;

	if (!tpm_hmac_active(sess, TPM_OP_VERIFY))
		return CKR_OPERATION_NOT_INITIALIZED;
	if (sig_len != HMAC_LEN) {
		tpm_op_end_locked(tok, sess);
		return CKR_SIGNATURE_LEN_RANGE;
	}
	rv = feed(tok, sess, in, in_len);
	if (rv != CKR_OK)
		return rv;
	return tpm_hmac_verify_final_locked(tok, sess, sig, sig_len);
}
