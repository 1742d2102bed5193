/* Object search and attributes, and the session wrappers of the crypto ops. */
#include <stdlib.h>
#include <string.h>

#include "backends/tpm/tpm_aes.h"
#include "backends/tpm/tpm_create.h"
#include "backends/tpm/tpm_crypto.h"
#include "backends/tpm/tpm_data.h"
#include "backends/tpm/tpm_hmac.h"
#include "backends/tpm/tpm_keygen.h"
#include "backends/tpm/tpm_object_ops.h"
#include "backends/tpm/tpm_token.h"
#include "backends/tpm/tpm_unwrap.h"

/* Locks the token and finds the session, or returns CKR_SESSION_HANDLE_INVALID unlocked. */
static CK_RV lock_session(struct hsmux_backend *be, CK_SESSION_HANDLE s, struct tpm_token **tok,
                          struct tpm_session **sess)
{
	*tok = be->priv;
	pthread_mutex_lock(&(*tok)->lock);
	*sess = tpm_session_find_locked(*tok, s);
	if (!*sess) {
		pthread_mutex_unlock(&(*tok)->lock);
		return CKR_SESSION_HANDLE_INVALID;
	}
	return CKR_OK;
}

static void unlock_token(struct tpm_token *tok)
{
	pthread_mutex_unlock(&tok->lock);
}

static bool is_token_object(const struct tpm_object *obj)
{
	return obj->file[0] != '\0';
}

CK_RV tpm_create_object(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR tmpl,
                        CK_ULONG count, CK_OBJECT_HANDLE_PTR obj)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	/* A generic secret key's value becomes a TPM object's sensitive data. */
	if (tpm_hmac_template(tmpl, count))
		rv = tpm_hmac_create_locked(tok, sess, tmpl, count, obj);
	else
		rv = tpm_create_object_locked(tok, sess, tmpl, count, obj);
	unlock_token(tok);
	return rv;
}

CK_RV tpm_destroy_object(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	struct tpm_object *obj;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	obj = tpm_object_get_locked(tok, h);
	if (!obj)
		rv = CKR_OBJECT_HANDLE_INVALID;
	else if (is_token_object(obj) && !(sess->flags & CKF_RW_SESSION))
		rv = CKR_SESSION_READ_ONLY;
	else if (!tpm_attrs_bool(&obj->attrs, CKA_DESTROYABLE, true))
		rv = CKR_ACTION_PROHIBITED;
	else
		rv = tpm_store_destroy_locked(tok, obj);
	unlock_token(tok);
	return rv;
}

CK_RV tpm_get_object_size(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                          CK_ULONG_PTR size)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	if (tpm_object_get_locked(tok, h))
		*size = CK_UNAVAILABLE_INFORMATION;
	else
		rv = CKR_OBJECT_HANDLE_INVALID;
	unlock_token(tok);
	return rv;
}

/* Fills one template entry per the C_GetAttributeValue rules; returns its own error. */
static CK_RV get_one(const struct tpm_token *tok, const struct tpm_object *obj, CK_ATTRIBUTE *t)
{
	const CK_ATTRIBUTE *a =
	    tpm_attr_hidden(t->type) ? NULL : tpm_attrs_find(&obj->attrs, t->type);

	if (t->type == CKA_VALUE && tpm_data_is_sealed(obj))
		return tpm_data_get_value_locked(tok, obj, t);
	if (!a) {
		t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
		return CKR_ATTRIBUTE_TYPE_INVALID;
	}
	if (!t->pValue) {
		t->ulValueLen = a->ulValueLen;
		return CKR_OK;
	}
	if (t->ulValueLen < a->ulValueLen) {
		t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (a->ulValueLen)
		memcpy(t->pValue, a->pValue, a->ulValueLen);
	t->ulValueLen = a->ulValueLen;
	return CKR_OK;
}

/* The errors after which C_GetAttributeValue still fills the other entries. */
static bool per_attribute_error(CK_RV rv)
{
	return rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_BUFFER_TOO_SMALL ||
	       rv == CKR_ATTRIBUTE_SENSITIVE;
}

CK_RV tpm_get_attribute_value(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                              CK_ATTRIBUTE_PTR tmpl, CK_ULONG count)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	struct tpm_object *obj;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	obj = tpm_object_get_locked(tok, h);
	if (!obj) {
		unlock_token(tok);
		return CKR_OBJECT_HANDLE_INVALID;
	}
	/*
	 * Every entry is processed. The call returns the last error, unless a
	 * sealed value failed to open: that error wins over per-entry ones.
	 */
	for (CK_ULONG i = 0; i < count; i++) {
		CK_RV one = get_one(tok, obj, &tmpl[i]);

		if (one != CKR_OK && (rv == CKR_OK || per_attribute_error(rv)))
			rv = one;
	}
	unlock_token(tok);
	return rv;
}

static bool settable_attribute(const struct tpm_object *obj, CK_ATTRIBUTE_TYPE type)
{
	/* The spec lets the value, application and object ID of a data object change. */
	bool data = tpm_attrs_ulong(&obj->attrs, CKA_CLASS, CK_UNAVAILABLE_INFORMATION) == CKO_DATA;

	if (data && (type == CKA_VALUE || type == CKA_APPLICATION || type == CKA_OBJECT_ID))
		return true;
	return type == CKA_LABEL || type == CKA_ID || type == CKA_SUBJECT ||
	       type == CKA_START_DATE || type == CKA_END_DATE;
}

static CK_RV check_set(const struct tpm_session *sess, const struct tpm_object *obj,
                       const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	if (is_token_object(obj) && !(sess->flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;
	if (!tpm_attrs_bool(&obj->attrs, CKA_MODIFIABLE, true))
		return CKR_ACTION_PROHIBITED;
	for (CK_ULONG i = 0; i < count; i++) {
		if (tpm_attr_hidden(tmpl[i].type))
			return CKR_ATTRIBUTE_TYPE_INVALID;
		if (!settable_attribute(obj, tmpl[i].type))
			return tpm_attrs_find(&obj->attrs, tmpl[i].type)
			           ? CKR_ATTRIBUTE_READ_ONLY
			           : CKR_ATTRIBUTE_TYPE_INVALID;
		/* A longer value would make the whole file unreadable. */
		if (tmpl[i].ulValueLen > TPM_ATTR_VALUE_MAX ||
		    (tmpl[i].ulValueLen && !tmpl[i].pValue))
			return CKR_ATTRIBUTE_VALUE_INVALID;
	}
	return CKR_OK;
}

static CK_RV set_attrs_locked(struct tpm_token *tok, struct tpm_session *sess,
                              struct tpm_object *obj, const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	struct tpm_attrs backup = {0};
	CK_RV rv = check_set(sess, obj, tmpl, count);

	if (rv != CKR_OK)
		return rv;
	/* Keep the old values, so a failed write leaves the object as it was. */
	for (size_t i = 0; i < obj->attrs.n && rv == CKR_OK; i++)
		rv = tpm_attrs_set(&backup, obj->attrs.v[i].type, obj->attrs.v[i].pValue,
		                   obj->attrs.v[i].ulValueLen);
	for (CK_ULONG i = 0; i < count && rv == CKR_OK; i++)
		rv = tpm_attrs_set(&obj->attrs, tmpl[i].type, tmpl[i].pValue, tmpl[i].ulValueLen);
	/* A new CKA_VALUE of a private token data object is sealed with a fresh nonce. */
	if (rv == CKR_OK)
		rv = tpm_data_settle_locked(tok, obj, obj->file);
	if (rv == CKR_OK)
		rv = tpm_store_update_locked(tok, obj);
	if (rv != CKR_OK) {
		struct tpm_attrs failed = obj->attrs;

		obj->attrs = backup;
		backup = failed;
	}
	tpm_attrs_cleanup(&backup);
	return rv;
}

CK_RV tpm_set_attribute_value(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                              CK_ATTRIBUTE_PTR tmpl, CK_ULONG count)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	struct tpm_object *obj;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	obj = tpm_object_get_locked(tok, h);
	rv = obj ? set_attrs_locked(tok, sess, obj, tmpl, count) : CKR_OBJECT_HANDLE_INVALID;
	unlock_token(tok);
	return rv;
}

static CK_RV collect_matches(struct tpm_token *tok, struct tpm_session *sess,
                             const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	sess->found = calloc(tok->n_objects ? tok->n_objects : 1, sizeof(*sess->found));
	if (!sess->found)
		return CKR_HOST_MEMORY;
	sess->n_found = 0;
	sess->found_pos = 0;
	for (size_t i = 0; i < tok->n_objects; i++) {
		const struct tpm_object *obj = tok->objects[i];

		if (tpm_object_visible(tok, obj) && tpm_data_match_locked(tok, obj, tmpl, count))
			sess->found[sess->n_found++] = obj->handle;
	}
	return CKR_OK;
}

CK_RV tpm_find_objects_init(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR tmpl,
                            CK_ULONG count)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	if (sess->finding) {
		rv = CKR_OPERATION_ACTIVE;
	} else {
		rv = tpm_store_refresh_locked(tok);
		if (rv == CKR_OK)
			rv = collect_matches(tok, sess, tmpl, count);
		sess->finding = rv == CKR_OK;
	}
	unlock_token(tok);
	return rv;
}

CK_RV tpm_find_objects(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR objs,
                       CK_ULONG max, CK_ULONG_PTR count)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	if (!sess->finding) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
	} else {
		*count = 0;
		while (*count < max && sess->found_pos < sess->n_found)
			objs[(*count)++] = sess->found[sess->found_pos++];
	}
	unlock_token(tok);
	return rv;
}

CK_RV tpm_find_objects_final(struct hsmux_backend *be, CK_SESSION_HANDLE s)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	if (!sess->finding)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	free(sess->found);
	sess->found = NULL;
	sess->n_found = sess->found_pos = 0;
	sess->finding = false;
	unlock_token(tok);
	return rv;
}

CK_RV tpm_encrypt_init(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                       CK_OBJECT_HANDLE key)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	/* The TPM encrypts with AES keys only; RSA encryption is a public-key operation. */
	rv = tpm_aes_mechanism(mech->mechanism) ? tpm_aes_init_locked(tok, sess, mech, key, false)
	                                        : CKR_MECHANISM_INVALID;
	unlock_token(tok);
	return rv;
}

CK_RV tpm_encrypt(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len,
                  CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	rv = sess->op == TPM_OP_ENCRYPT ? tpm_aes_crypt_locked(tok, sess, in, in_len, out, out_len)
	                                : CKR_OPERATION_NOT_INITIALIZED;
	unlock_token(tok);
	return rv;
}

/* A multi-part AES step of op under the token lock. */
static CK_RV aes_update(struct hsmux_backend *be, CK_SESSION_HANDLE s, enum tpm_op op,
                        CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	rv = tpm_aes_update_locked(tok, sess, op, in, in_len, out, out_len);
	unlock_token(tok);
	return rv;
}

/* The last multi-part AES step of op under the token lock. */
static CK_RV aes_final(struct hsmux_backend *be, CK_SESSION_HANDLE s, enum tpm_op op,
                       CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	rv = tpm_aes_final_locked(tok, sess, op, out, out_len);
	unlock_token(tok);
	return rv;
}

CK_RV tpm_encrypt_update(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
                         CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	return aes_update(be, s, TPM_OP_ENCRYPT, in, in_len, out, out_len);
}

CK_RV tpm_encrypt_final(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR out,
                        CK_ULONG_PTR out_len)
{
	return aes_final(be, s, TPM_OP_ENCRYPT, out, out_len);
}

CK_RV tpm_decrypt_update(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
                         CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	return aes_update(be, s, TPM_OP_DECRYPT, in, in_len, out, out_len);
}

CK_RV tpm_decrypt_final(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR out,
                        CK_ULONG_PTR out_len)
{
	return aes_final(be, s, TPM_OP_DECRYPT, out, out_len);
}

CK_RV tpm_generate_key(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                       CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	if (mech->mechanism == CKM_GENERIC_SECRET_KEY_GEN)
		rv = tpm_hmac_generate_locked(tok, sess, mech, tmpl, count, key);
	else
		rv = tpm_aes_generate_locked(tok, sess, mech, tmpl, count, key);
	unlock_token(tok);
	return rv;
}

CK_RV tpm_decrypt_init(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                       CK_OBJECT_HANDLE key)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	rv = tpm_decrypt_init_locked(tok, sess, mech, key);
	unlock_token(tok);
	return rv;
}

CK_RV tpm_decrypt(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len,
                  CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	rv = tpm_decrypt_locked(tok, sess, in, in_len, out, out_len);
	unlock_token(tok);
	return rv;
}

CK_RV tpm_digest_init(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	rv = tpm_digest_init_locked(tok, sess, mech);
	unlock_token(tok);
	return rv;
}

CK_RV tpm_digest(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len,
                 CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	rv = tpm_digest_locked(tok, sess, in, in_len, out, out_len);
	unlock_token(tok);
	return rv;
}

CK_RV tpm_digest_update(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
                        CK_ULONG in_len)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	rv = tpm_digest_update_locked(tok, sess, in, in_len);
	unlock_token(tok);
	return rv;
}

CK_RV tpm_digest_final(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR out,
                       CK_ULONG_PTR out_len)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	rv = tpm_digest_final_locked(tok, sess, out, out_len);
	unlock_token(tok);
	return rv;
}

CK_RV tpm_sign_init(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                    CK_OBJECT_HANDLE key)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	if (mech->mechanism == CKM_SHA256_HMAC)
		rv = tpm_hmac_sign_init_locked(tok, sess, mech, key);
	else
		rv = tpm_sign_init_locked(tok, sess, mech, key);
	unlock_token(tok);
	return rv;
}

CK_RV tpm_sign(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len,
               CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	if (tpm_hmac_active(sess, TPM_OP_SIGN))
		rv = tpm_hmac_sign_locked(tok, sess, in, in_len, sig, sig_len);
	else
		rv = tpm_sign_locked(tok, sess, in, in_len, sig, sig_len);
	unlock_token(tok);
	return rv;
}

CK_RV tpm_sign_update(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
                      CK_ULONG in_len)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	if (tpm_hmac_active(sess, TPM_OP_SIGN))
		rv = tpm_hmac_sign_update_locked(tok, sess, in, in_len);
	else
		rv = tpm_sign_update_locked(tok, sess, in, in_len);
	unlock_token(tok);
	return rv;
}

CK_RV tpm_sign_final(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR sig,
                     CK_ULONG_PTR sig_len)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	if (tpm_hmac_active(sess, TPM_OP_SIGN))
		rv = tpm_hmac_sign_final_locked(tok, sess, sig, sig_len);
	else
		rv = tpm_sign_final_locked(tok, sess, sig, sig_len);
	unlock_token(tok);
	return rv;
}

static bool template_wants_token(const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	for (CK_ULONG i = 0; i < count; i++) {
		if (tmpl[i].type == CKA_TOKEN && tmpl[i].ulValueLen == sizeof(CK_BBOOL) &&
		    tmpl[i].pValue && *(CK_BBOOL *)tmpl[i].pValue)
			return true;
	}
	return false;
}

CK_RV tpm_generate_key_pair(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                            CK_ATTRIBUTE_PTR pub_tmpl, CK_ULONG pub_count,
                            CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG priv_count,
                            CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	if (!(sess->flags & CKF_RW_SESSION) && (template_wants_token(pub_tmpl, pub_count) ||
	                                        template_wants_token(priv_tmpl, priv_count)))
		rv = CKR_SESSION_READ_ONLY;
	else if (mech->ulParameterLen != 0)
		rv = CKR_MECHANISM_PARAM_INVALID;
	else
		rv = tpm_keygen_pair_locked(tok, s, mech->mechanism, pub_tmpl, pub_count, priv_tmpl,
		                            priv_count, pub, priv);
	unlock_token(tok);
	return rv;
}

CK_RV tpm_seed_random(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR seed,
                      CK_ULONG seed_len)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	rv = tpm_seed_random_locked(tok, seed, seed_len);
	unlock_token(tok);
	return rv;
}

CK_RV tpm_generate_random(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR out,
                          CK_ULONG out_len)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	rv = tpm_random_locked(tok, out, out_len);
	unlock_token(tok);
	return rv;
}

CK_RV tpm_unwrap_key(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                     CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped, CK_ULONG wrapped_len,
                     CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	rv = tpm_unwrap_locked(tok, sess, mech, unwrapping_key, wrapped, wrapped_len, tmpl, count,
	                       key);
	unlock_token(tok);
	return rv;
}
