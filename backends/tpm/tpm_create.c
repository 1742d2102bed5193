/*
 * C_CreateObject for data objects, X.509 certificates and public keys.
 * They are stored as attributes, and the TPM takes no part, except that a
 * private token data object's CKA_VALUE is sealed under a key derived from
 * the token secret (tpm_data.c).
 */
#include <string.h>

#include "backends/tpm/tpm_create.h"
#include "backends/tpm/tpm_data.h"
#include "backends/tpm/tpm_keygen.h"

/* Which attributes a template may set for a class; NULL-free lists end with ~0. */
static const CK_ATTRIBUTE_TYPE common_attrs[] = {
    CKA_CLASS, CKA_TOKEN,    CKA_PRIVATE,     CKA_MODIFIABLE,
    CKA_LABEL, CKA_COPYABLE, CKA_DESTROYABLE, ~0UL,
};

static const CK_ATTRIBUTE_TYPE data_attrs[] = {CKA_APPLICATION, CKA_OBJECT_ID, CKA_VALUE, ~0UL};

static const CK_ATTRIBUTE_TYPE cert_attrs[] = {
    CKA_CERTIFICATE_TYPE,
    CKA_TRUSTED,
    CKA_CERTIFICATE_CATEGORY,
    CKA_CHECK_VALUE,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_SUBJECT,
    CKA_ID,
    CKA_ISSUER,
    CKA_SERIAL_NUMBER,
    CKA_VALUE,
    CKA_URL,
    CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
    CKA_HASH_OF_ISSUER_PUBLIC_KEY,
    CKA_JAVA_MIDP_SECURITY_DOMAIN,
    CKA_NAME_HASH_ALGORITHM,
    ~0UL,
};

static const CK_ATTRIBUTE_TYPE public_attrs[] = {
    CKA_KEY_TYPE,        CKA_ID,      CKA_START_DATE,      CKA_END_DATE,       CKA_DERIVE,
    CKA_SUBJECT,         CKA_ENCRYPT, CKA_VERIFY,          CKA_VERIFY_RECOVER, CKA_WRAP,
    CKA_TRUSTED,         CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS,      CKA_EC_POINT,
    CKA_PUBLIC_KEY_INFO, ~0UL,
};

/*
 * Boolean attributes that must be CK_FALSE here: trust needs the SO, and
 * only a data object may be made copyable (tpm_copy.c).
 */
static const CK_ATTRIBUTE_TYPE false_only[] = {CKA_TRUSTED, CKA_COPYABLE, ~0UL};

static bool listed(const CK_ATTRIBUTE_TYPE *list, CK_ATTRIBUTE_TYPE type)
{
	for (; *list != ~0UL; list++) {
		if (*list == type)
			return true;
	}
	return false;
}

static const CK_ATTRIBUTE *template_find(const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                                         CK_ATTRIBUTE_TYPE type)
{
	for (CK_ULONG i = 0; i < count; i++) {
		if (tmpl[i].type == type)
			return &tmpl[i];
	}
	return NULL;
}

static CK_RV check_attribute(CK_OBJECT_CLASS cls, const CK_ATTRIBUTE_TYPE *class_attrs,
                             const CK_ATTRIBUTE *a)
{
	CK_BBOOL b;
	CK_RV rv;

	if (!listed(common_attrs, a->type) && !listed(class_attrs, a->type))
		return CKR_ATTRIBUTE_TYPE_INVALID;
	if (a->ulValueLen > TPM_ATTR_VALUE_MAX || (a->ulValueLen && !a->pValue))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (cls == CKO_DATA && a->type == CKA_COPYABLE)
		return tpm_template_bool(a, &b);
	if (!listed(false_only, a->type))
		return CKR_OK;
	rv = tpm_template_bool(a, &b);
	if (rv != CKR_OK)
		return rv;
	return b ? CKR_ATTRIBUTE_VALUE_INVALID : CKR_OK;
}

/* Checks the class-specific rules and returns the allowed attribute list. */
static CK_RV check_class(CK_OBJECT_CLASS cls, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                         const CK_ATTRIBUTE_TYPE **allowed)
{
	const CK_ATTRIBUTE *a;
	CK_ULONG v;

	switch (cls) {
	case CKO_DATA:
		*allowed = data_attrs;
		return CKR_OK;
	case CKO_CERTIFICATE:
		*allowed = cert_attrs;
		a = template_find(tmpl, count, CKA_CERTIFICATE_TYPE);
		if (!a || !template_find(tmpl, count, CKA_VALUE) ||
		    !template_find(tmpl, count, CKA_SUBJECT))
			return CKR_TEMPLATE_INCOMPLETE;
		if (tpm_template_ulong(a, &v) != CKR_OK || v != CKC_X_509)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		return CKR_OK;
	case CKO_PUBLIC_KEY:
		*allowed = public_attrs;
		a = template_find(tmpl, count, CKA_KEY_TYPE);
		if (!a || tpm_template_ulong(a, &v) != CKR_OK)
			return CKR_TEMPLATE_INCOMPLETE;
		if (v == CKK_RSA && template_find(tmpl, count, CKA_MODULUS) &&
		    template_find(tmpl, count, CKA_PUBLIC_EXPONENT))
			return CKR_OK;
		if (v == CKK_EC && template_find(tmpl, count, CKA_EC_PARAMS) &&
		    template_find(tmpl, count, CKA_EC_POINT))
			return CKR_OK;
		return (v == CKK_RSA || v == CKK_EC) ? CKR_TEMPLATE_INCOMPLETE
		                                     : CKR_ATTRIBUTE_VALUE_INVALID;
	default:
		/*
		 * Private and secret keys enter the TPM only through C_UnwrapKey, so
		 * their material never crosses the PKCS#11 interface in plaintext.
		 */
		return CKR_ATTRIBUTE_VALUE_INVALID;
	}
}

static CK_RV check_template(const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_CLASS *cls)
{
	const CK_ATTRIBUTE *a = template_find(tmpl, count, CKA_CLASS);
	const CK_ATTRIBUTE_TYPE *allowed = NULL;
	CK_RV rv;

	if (!a)
		return CKR_TEMPLATE_INCOMPLETE;
	rv = tpm_template_ulong(a, cls);
	if (rv == CKR_OK)
		rv = check_class(*cls, tmpl, count, &allowed);
	for (CK_ULONG i = 0; i < count && rv == CKR_OK; i++)
		rv = check_attribute(*cls, allowed, &tmpl[i]);
	return rv;
}

static bool template_bool(const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_ATTRIBUTE_TYPE type)
{
	const CK_ATTRIBUTE *a = template_find(tmpl, count, type);
	CK_BBOOL b = CK_FALSE;

	return a && tpm_template_bool(a, &b) == CKR_OK && b;
}

static const struct tpm_attr_default object_defaults[] = {
    {CKA_TOKEN, CK_FALSE},    {CKA_PRIVATE, CK_FALSE},    {CKA_MODIFIABLE, CK_TRUE},
    {CKA_COPYABLE, CK_FALSE}, {CKA_DESTROYABLE, CK_TRUE},
};

static const struct tpm_attr_default public_defaults[] = {
    {CKA_LOCAL, CK_FALSE},   {CKA_DERIVE, CK_FALSE},         {CKA_ENCRYPT, CK_FALSE},
    {CKA_VERIFY, CK_FALSE},  {CKA_VERIFY_RECOVER, CK_FALSE}, {CKA_WRAP, CK_FALSE},
    {CKA_TRUSTED, CK_FALSE},
};

static CK_RV add_defaults(struct tpm_attrs *a, const struct tpm_attr_default *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!tpm_attrs_find(a, d[i].type)) {
			CK_RV rv = tpm_attrs_set_bool(a, d[i].type, d[i].value);

			if (rv != CKR_OK)
				return rv;
		}
	}
	return CKR_OK;
}

static CK_RV add_empty(struct tpm_attrs *a, const CK_ATTRIBUTE_TYPE *types)
{
	for (; *types != ~0UL; types++) {
		if (!tpm_attrs_find(a, *types)) {
			CK_RV rv = tpm_attrs_set(a, *types, NULL, 0);

			if (rv != CKR_OK)
				return rv;
		}
	}
	return CKR_OK;
}

static CK_RV class_defaults(struct tpm_attrs *a, CK_OBJECT_CLASS cls)
{
	static const CK_ATTRIBUTE_TYPE data_empty[] = {CKA_LABEL, CKA_APPLICATION, CKA_OBJECT_ID,
	                                               CKA_VALUE, ~0UL};
	static const CK_ATTRIBUTE_TYPE cert_empty[] = {
	    CKA_LABEL, CKA_ID, CKA_ISSUER, CKA_SERIAL_NUMBER, CKA_START_DATE, CKA_END_DATE, ~0UL};
	static const CK_ATTRIBUTE_TYPE public_empty[] = {CKA_LABEL,      CKA_ID,       CKA_SUBJECT,
	                                                 CKA_START_DATE, CKA_END_DATE, ~0UL};
	const CK_ATTRIBUTE *mod;
	CK_RV rv = add_defaults(a, object_defaults, ARRAY_LEN(object_defaults));

	if (rv != CKR_OK)
		return rv;
	if (cls == CKO_DATA)
		return add_empty(a, data_empty);
	if (cls == CKO_CERTIFICATE) {
		rv = add_empty(a, cert_empty);
		if (rv == CKR_OK && !tpm_attrs_find(a, CKA_TRUSTED))
			rv = tpm_attrs_set_bool(a, CKA_TRUSTED, CK_FALSE);
		if (rv == CKR_OK && !tpm_attrs_find(a, CKA_CERTIFICATE_CATEGORY))
			rv = tpm_attrs_set_ulong(a, CKA_CERTIFICATE_CATEGORY, 0);
		return rv;
	}
	rv = add_empty(a, public_empty);
	if (rv == CKR_OK)
		rv = add_defaults(a, public_defaults, ARRAY_LEN(public_defaults));
	if (rv == CKR_OK)
		rv = tpm_attrs_set_ulong(a, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
	/* Look the modulus up only now: every tpm_attrs_set() may move the array. */
	mod = tpm_attrs_find(a, CKA_MODULUS);
	if (rv == CKR_OK && mod)
		rv = tpm_attrs_set_ulong(a, CKA_MODULUS_BITS, mod->ulValueLen * 8);
	return rv;
}

static CK_RV check_session(const struct tpm_token *tok, const struct tpm_session *sess,
                           const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	bool private = template_bool(tmpl, count, CKA_PRIVATE);

	if (template_bool(tmpl, count, CKA_TOKEN) && !(sess->flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;
	/*
	 * CKA_PRIVATE hides an object from sessions without a login. Only the
	 * value of a data object is a secret: tpm_data_settle_locked() seals it.
	 */
	if (private && tok->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	return CKR_OK;
}

CK_RV tpm_create_object_locked(struct tpm_token *tok, struct tpm_session *sess,
                               const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *h)
{
	struct tpm_object *obj;
	CK_OBJECT_CLASS cls;
	CK_RV rv;

	rv = check_template(tmpl, count, &cls);
	if (rv == CKR_OK)
		rv = check_session(tok, sess, tmpl, count);
	if (rv != CKR_OK)
		return rv;
	obj = tpm_object_new();
	if (!obj)
		return CKR_HOST_MEMORY;

	for (CK_ULONG i = 0; i < count && rv == CKR_OK; i++)
		rv = tpm_attrs_set(&obj->attrs, tmpl[i].type, tmpl[i].pValue, tmpl[i].ulValueLen);
	if (rv == CKR_OK)
		rv = class_defaults(&obj->attrs, cls);
	if (rv == CKR_OK)
		rv = tpm_data_settle_locked(tok, obj, "");
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
