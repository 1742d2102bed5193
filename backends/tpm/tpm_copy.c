/*
 * C_CopyObject. A copy of a key shares the key's TPM blobs: it is the same
 * TPM key under another PKCS#11 object, and like the original it can be
 * loaded only under this token's primary key with the token secret. The
 * copy may become a token object, and may give up CKA_MODIFIABLE,
 * CKA_DESTROYABLE and CKA_COPYABLE, never gain them.
 */
#include "backends/tpm/tpm_copy.h"
#include "backends/tpm/tpm_data.h"

/* Attributes a copy may set to any value. */
static bool free_attribute(CK_ATTRIBUTE_TYPE type)
{
	return type == CKA_TOKEN || type == CKA_PRIVATE || type == CKA_LABEL || type == CKA_ID ||
	       type == CKA_START_DATE || type == CKA_END_DATE;
}

/* Attributes a copy may only turn from true to false. */
static bool one_way_attribute(CK_ATTRIBUTE_TYPE type)
{
	return type == CKA_MODIFIABLE || type == CKA_DESTROYABLE || type == CKA_COPYABLE;
}

static CK_RV check_one(const struct tpm_token *tok, const struct tpm_object *obj,
                       const CK_ATTRIBUTE *a)
{
	CK_BBOOL b;

	if (tpm_attr_hidden(a->type))
		return CKR_ATTRIBUTE_TYPE_INVALID;
	if (free_attribute(a->type)) {
		if (a->type == CKA_TOKEN || a->type == CKA_PRIVATE)
			return tpm_template_bool(a, &b);
		return a->ulValueLen > TPM_ATTR_VALUE_MAX ? CKR_ATTRIBUTE_VALUE_INVALID : CKR_OK;
	}
	if (one_way_attribute(a->type)) {
		if (tpm_template_bool(a, &b) != CKR_OK)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		return b && !tpm_attrs_bool(&obj->attrs, a->type, true) ? CKR_ATTRIBUTE_READ_ONLY
		                                                        : CKR_OK;
	}
	/* Anything else may be named only with the value the object already has. */
	return tpm_data_match_locked(tok, obj, a, 1) ? CKR_OK : CKR_ATTRIBUTE_READ_ONLY;
}

static CK_RV check_copy(const struct tpm_token *tok, const struct tpm_session *sess,
                        const struct tpm_object *obj, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                        bool *token)
{
	bool private = tpm_attrs_bool(&obj->attrs, CKA_PRIVATE, true);
	CK_RV rv;

	if (!tpm_attrs_bool(&obj->attrs, CKA_COPYABLE, true))
		return CKR_ACTION_PROHIBITED;
	*token = obj->file[0] != '\0';
	for (CK_ULONG i = 0; i < count; i++) {
		rv = check_one(tok, obj, &tmpl[i]);
		if (rv != CKR_OK)
			return rv;
		if (tmpl[i].type == CKA_TOKEN)
			*token = *(CK_BBOOL *)tmpl[i].pValue != CK_FALSE;
		if (tmpl[i].type == CKA_PRIVATE)
		private = *(CK_BBOOL *)tmpl[i].pValue != CK_FALSE;
	}
	if (*token && !(sess->flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;
	if (private && tok->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	return CKR_OK;
}

static CK_RV fill_copy(struct tpm_object *copy, const struct tpm_object *obj,
                       const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	CK_RV rv = CKR_OK;

	for (size_t i = 0; i < obj->attrs.n && rv == CKR_OK; i++)
		rv = tpm_attrs_set(&copy->attrs, obj->attrs.v[i].type, obj->attrs.v[i].pValue,
		                   obj->attrs.v[i].ulValueLen);
	for (CK_ULONG i = 0; i < count && rv == CKR_OK; i++)
		rv = tpm_attrs_set(&copy->attrs, tmpl[i].type, tmpl[i].pValue, tmpl[i].ulValueLen);
	return rv;
}

CK_RV tpm_copy_object_locked(struct tpm_token *tok, struct tpm_session *sess, CK_OBJECT_HANDLE h,
                             const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *new_h)
{
	struct tpm_object *obj = tpm_object_get_locked(tok, h), *copy;
	bool token = false;
	CK_RV rv;

	if (!obj)
		return CKR_OBJECT_HANDLE_INVALID;
	rv = check_copy(tok, sess, obj, tmpl, count, &token);
	if (rv != CKR_OK)
		return rv;
	copy = tpm_object_new();
	if (!copy)
		return CKR_HOST_MEMORY;
	rv = fill_copy(copy, obj, tmpl, count);
	if (rv == CKR_OK)
		rv = tpm_attrs_set_bool(&copy->attrs, CKA_TOKEN, token ? CK_TRUE : CK_FALSE);
	/* A sealed value is bound to its file: the copy's is sealed again, or opened. */
	if (rv == CKR_OK)
		rv = tpm_data_settle_locked(tok, copy, obj->file);
	if (rv == CKR_OK && token)
		rv = tpm_store_add_locked(tok, &copy, 1);
	else if (rv == CKR_OK)
		copy->session = sess->handle;
	if (rv == CKR_OK)
		rv = tpm_object_register_locked(tok, copy);
	if (rv != CKR_OK) {
		tpm_object_free(tok, copy);
		return rv;
	}
	*new_h = copy->handle;
	return CKR_OK;
}

CK_RV tpm_copy_object(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                      CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR new_obj)
{
	struct tpm_token *tok = be->priv;
	struct tpm_session *sess;
	CK_RV rv;

	pthread_mutex_lock(&tok->lock);
	sess = tpm_session_find_locked(tok, s);
	rv = sess ? tpm_copy_object_locked(tok, sess, obj, tmpl, count, new_obj)
	          : CKR_SESSION_HANDLE_INVALID;
	pthread_mutex_unlock(&tok->lock);
	return rv;
}
