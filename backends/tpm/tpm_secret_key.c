/*
 * Secret keys in the TPM, whatever their kind: the object is created under
 * the primary key with the token secret as its auth value, and its
 * attributes are the template's plus the ones the kind fixes.
 */
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

#include "backends/tpm/tpm_secret_key.h"

/* Attributes that record where a key came from: true for a key the TPM generated. */
static const CK_ATTRIBUTE_TYPE origin[] = {CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_LOCAL};

static bool is_copied(const struct tpm_secret_kind *kind, CK_ATTRIBUTE_TYPE type)
{
	for (size_t i = 0; i < kind->n_copied; i++) {
		if (kind->copied[i] == type)
			return true;
	}
	return false;
}

static CK_RV check_class_and_type(const struct tpm_secret_kind *kind, const CK_ATTRIBUTE *a)
{
	CK_ULONG v;
	CK_ULONG want = a->type == CKA_CLASS ? CKO_SECRET_KEY : kind->key_type;

	if (tpm_template_ulong(a, &v) != CKR_OK)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	return v == want ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
}

/* Checks an attribute that the key's origin or the TPM fixes. *known is false for others. */
static CK_RV check_fixed(const struct tpm_secret_kind *kind, const CK_ATTRIBUTE *a, bool *known)
{
	CK_BBOOL b;

	*known = true;
	for (size_t i = 0; i < ARRAY_LEN(origin); i++) {
		if (origin[i] == a->type)
			return CKR_ATTRIBUTE_READ_ONLY;
	}
	for (size_t i = 0; i < kind->n_fixed; i++) {
		if (kind->fixed[i].type != a->type)
			continue;
		if (tpm_template_bool(a, &b) != CKR_OK || b != kind->fixed[i].value)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		return CKR_OK;
	}
	*known = false;
	return CKR_OK;
}

CK_RV tpm_secret_check_attr(const struct tpm_secret_kind *kind, const struct tpm_session *sess,
                            const CK_ATTRIBUTE *a)
{
	CK_BBOOL b;
	bool known;
	CK_RV rv;

	if (a->type == CKA_CLASS || a->type == CKA_KEY_TYPE)
		return check_class_and_type(kind, a);
	rv = check_fixed(kind, a, &known);
	if (known || rv != CKR_OK)
		return rv;
	if (!is_copied(kind, a->type))
		return CKR_ATTRIBUTE_TYPE_INVALID;
	if (a->type == CKA_LABEL || a->type == CKA_ID || a->type == CKA_START_DATE ||
	    a->type == CKA_END_DATE)
		return a->ulValueLen > TPM_ATTR_VALUE_MAX ? CKR_ATTRIBUTE_VALUE_INVALID : CKR_OK;
	rv = tpm_template_bool(a, &b);
	if (rv == CKR_OK && a->type == CKA_TOKEN && b && !(sess->flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;
	return rv;
}

/*
 * Creates the object: from the TPM's random numbers when value is NULL,
 * else from value. sensitive is the caller's, so that an imported value
 * stays in memory that the caller has locked. It is wiped here.
 */
static CK_RV create_key(struct tpm_token *tok, TPM2B_PUBLIC *pub_tmpl, CK_ULONG len,
                        const CK_BYTE *value, TPM2B_SENSITIVE_CREATE *sensitive, TPM2B_PUBLIC **pub,
                        TPM2B_PRIVATE **priv)
{
	TSS2_RC rc;

	if (!value)
		pub_tmpl->publicArea.objectAttributes |= TPMA_OBJECT_SENSITIVEDATAORIGIN;
	memset(sensitive, 0, sizeof(*sensitive));
	sensitive->sensitive.userAuth.size = TPM_SECRET_LEN;
	memcpy(sensitive->sensitive.userAuth.buffer, tok->secret, TPM_SECRET_LEN);
	if (value) {
		sensitive->sensitive.data.size = (UINT16)len;
		memcpy(sensitive->sensitive.data.buffer, value, len);
	}
	rc = tpm_create_locked(tok, sensitive, pub_tmpl, priv, pub);
	OPENSSL_cleanse(sensitive, sizeof(*sensitive));
	return tpm_rc_to_ckr(rc);
}

static CK_RV set_defaults(const struct tpm_secret_kind *kind, struct tpm_attrs *a, bool generated)
{
	static const CK_ATTRIBUTE_TYPE empty[] = {CKA_LABEL, CKA_ID, CKA_START_DATE, CKA_END_DATE};
	CK_RV rv = CKR_OK;

	for (size_t i = 0; i < kind->n_defaults && rv == CKR_OK; i++) {
		if (!tpm_attrs_find(a, kind->defaults[i].type))
			rv = tpm_attrs_set_bool(a, kind->defaults[i].type, kind->defaults[i].value);
	}
	for (size_t i = 0; i < kind->n_fixed && rv == CKR_OK; i++)
		rv = tpm_attrs_set_bool(a, kind->fixed[i].type, kind->fixed[i].value);
	for (size_t i = 0; i < ARRAY_LEN(origin) && rv == CKR_OK; i++)
		rv = tpm_attrs_set_bool(a, origin[i], generated);
	for (size_t i = 0; i < ARRAY_LEN(empty) && rv == CKR_OK; i++) {
		if (!tpm_attrs_find(a, empty[i]))
			rv = tpm_attrs_set(a, empty[i], NULL, 0);
	}
	return rv;
}

static CK_RV build_attrs(const struct tpm_secret_kind *kind, struct tpm_object *obj,
                         const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_ULONG len, bool generated,
                         const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv)
{
	struct tpm_attrs *a = &obj->attrs;
	CK_RV rv = CKR_OK;

	for (CK_ULONG i = 0; i < count && rv == CKR_OK; i++) {
		if (is_copied(kind, tmpl[i].type))
			rv = tpm_attrs_set(a, tmpl[i].type, tmpl[i].pValue, tmpl[i].ulValueLen);
	}
	if (rv == CKR_OK)
		rv = set_defaults(kind, a, generated);
	if (rv == CKR_OK)
		rv = tpm_attrs_set_ulong(a, CKA_CLASS, CKO_SECRET_KEY);
	if (rv == CKR_OK)
		rv = tpm_attrs_set_ulong(a, CKA_KEY_TYPE, kind->key_type);
	if (rv == CKR_OK)
		rv = tpm_attrs_set_ulong(a, CKA_VALUE_LEN, len);
	if (rv == CKR_OK)
		rv = tpm_attrs_set_ulong(a, CKA_KEY_GEN_MECHANISM,
		                         generated ? kind->gen_mech : CK_UNAVAILABLE_INFORMATION);
	if (rv == CKR_OK)
		rv = tpm_keygen_blob_attrs(a, pub, priv);
	return rv;
}

CK_RV tpm_secret_key_new_locked(struct tpm_token *tok, struct tpm_session *sess,
                                const struct tpm_secret_kind *kind, TPM2B_PUBLIC *pub_tmpl,
                                const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_ULONG len,
                                const CK_BYTE *value, CK_OBJECT_HANDLE *h)
{
	TPM2B_SENSITIVE_CREATE sensitive = {0};
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_PRIVATE *priv = NULL;
	struct tpm_object *obj = NULL;
	bool locked = mlock(&sensitive, sizeof(sensitive)) == 0;
	CK_RV rv;

	rv = create_key(tok, pub_tmpl, len, value, &sensitive, &pub, &priv);
	if (locked)
		munlock(&sensitive, sizeof(sensitive));
	if (rv != CKR_OK)
		return rv;

	obj = tpm_object_new();
	rv = obj ? build_attrs(kind, obj, tmpl, count, len, value == NULL, pub, priv)
	         : CKR_HOST_MEMORY;
	if (rv == CKR_OK && tpm_attrs_bool(&obj->attrs, CKA_TOKEN, false))
		rv = tpm_store_add_locked(tok, &obj, 1);
	else if (obj)
		obj->session = sess->handle;
	if (rv == CKR_OK)
		rv = tpm_object_register_locked(tok, obj);
	if (rv == CKR_OK) {
		*h = obj->handle;
		obj = NULL;
	}
	tpm_object_free(tok, obj);
	Esys_Free(pub);
	Esys_Free(priv);
	return rv;
}
