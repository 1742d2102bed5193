/* C_GetAttributeValue filtering, and the sticky attributes of C_SetAttributeValue and copies. */
#include <stdlib.h>
#include <string.h>

#include "module/policy/policy_internal.h"
#include "module/trace.h"

/* Secret components: the value of a secret key, and the private parts of a private key. */
static bool is_secret_component(CK_ATTRIBUTE_TYPE type)
{
	switch (type) {
	case CKA_VALUE:
	case CKA_PRIVATE_EXPONENT:
	case CKA_PRIME_1:
	case CKA_PRIME_2:
	case CKA_EXPONENT_1:
	case CKA_EXPONENT_2:
	case CKA_COEFFICIENT:
		return true;
	default:
		return false;
	}
}

/* Attributes that define what a key is; no Set or Copy may change them. */
static bool is_identity_attr(CK_ATTRIBUTE_TYPE type)
{
	switch (type) {
	case CKA_CLASS:
	case CKA_KEY_TYPE:
	case CKA_VALUE_LEN:
	case CKA_MODULUS:
	case CKA_MODULUS_BITS:
	case CKA_PUBLIC_EXPONENT:
	case CKA_EC_PARAMS:
	case CKA_EC_POINT:
	case CKA_LOCAL:
	case CKA_ALWAYS_SENSITIVE:
	case CKA_NEVER_EXTRACTABLE:
	case CKA_KEY_GEN_MECHANISM:
		return true;
	default:
		return is_secret_component(type);
	}
}

CK_RV policy_check_sticky(const struct hsmux_session_ref *s, const char *fn,
                          const struct key_info *k, const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	/* Data objects and certificates keep their CKA_VALUE modifiable, as the spec allows. */
	bool key = class_has_secret(k->cls) || k->cls == CKO_PUBLIC_KEY ||
	           k->cls == CK_UNAVAILABLE_INFORMATION;

	for (CK_ULONG i = 0; i < count; i++) {
		CK_ATTRIBUTE_TYPE type = tmpl[i].type;
		unsigned int flag = key_flag_of(type);
		bool now = k->flags & flag, unknown = !(k->known & flag);
		CK_BBOOL v;

		if (key && is_identity_attr(type))
			return policy_reject(CKR_ATTRIBUTE_READ_ONLY, fn,
			                     "attribute 0x%lx cannot change", (unsigned long)type);
		if (!flag || type == CKA_TOKEN)
			continue;
		v = *(const CK_BBOOL *)tmpl[i].pValue;
		if (type == CKA_SENSITIVE && !v && (now || unknown))
			return policy_reject(CKR_ATTRIBUTE_READ_ONLY, fn,
			                     "SENSITIVE only goes "
			                     "from FALSE to TRUE");
		if (type == CKA_EXTRACTABLE && v && !now)
			return policy_reject(CKR_ATTRIBUTE_READ_ONLY, fn,
			                     "EXTRACTABLE only goes "
			                     "from TRUE to FALSE");
		if (type == CKA_WRAP_WITH_TRUSTED && !v && (now || unknown))
			return policy_reject(CKR_ATTRIBUTE_READ_ONLY, fn,
			                     "WRAP_WITH_TRUSTED only "
			                     "goes from FALSE to TRUE");
		if ((flag & KEY_USAGES) && v && !now)
			return policy_reject(CKR_ATTRIBUTE_READ_ONLY, fn,
			                     "usage attribute 0x%lx "
			                     "cannot be switched on after creation",
			                     (unsigned long)type);
		if (type == CKA_TRUSTED && v && !now && !session_is_so(s))
			return policy_reject(CKR_ATTRIBUTE_READ_ONLY, fn,
			                     "only the SO sets CKA_TRUSTED");
	}
	return CKR_OK;
}

CK_RV policy_check_label(const char *fn, const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	for (CK_ULONG i = 0; i < count; i++)
		if (tmpl[i].type == CKA_LABEL && tmpl[i].pValue &&
		    policy_label_is_sd(tmpl[i].pValue, tmpl[i].ulValueLen))
			return policy_reject(CKR_ATTRIBUTE_VALUE_INVALID, fn,
			                     "the label '%.*s' is kept for the security domain",
			                     (int)tmpl[i].ulValueLen, (const char *)tmpl[i].pValue);
	return CKR_OK;
}

CK_RV hsmux_policy_set_attribute_value(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj,
                                       CK_ATTRIBUTE_PTR tmpl, CK_ULONG count)
{
	struct key_info info;
	CK_RV rv;

	if (!s->be->ops->set_attribute_value)
		return CKR_FUNCTION_NOT_SUPPORTED;
	rv = policy_check_template_form(tmpl, count, 0);
	if (rv != CKR_OK)
		return policy_reject(rv, "C_SetAttributeValue", "malformed template");
	rv = key_info_get(s, obj, &info);
	if (rv != CKR_OK)
		return rv;
	if (info.sd)
		return policy_reject(CKR_ACTION_PROHIBITED, "C_SetAttributeValue",
		                     "object %lu is the security domain's", (unsigned long)obj);
	rv = policy_check_label("C_SetAttributeValue", tmpl, count);
	if (rv == CKR_OK)
		rv = policy_check_sticky(s, "C_SetAttributeValue", &info, tmpl, count);
	if (rv == CKR_OK)
		rv = policy_check_nested(policy_of(s->be), "C_SetAttributeValue", tmpl, count);
	if (rv != CKR_OK)
		return rv;
	rv = s->be->ops->set_attribute_value(s->be, s->bsess, obj, tmpl, count);
	key_info_forget(s->be, session_bslot(s), obj);
	key_info_bump_generation();
	return rv;
}

/* Whether obj's secret components must stay hidden; an unknown class counts as a key. */
static bool hides_secrets(const struct key_info *k)
{
	if (k->cls != CK_UNAVAILABLE_INFORMATION && !key_info_is_key_with_secret(k))
		return false;
	return key_info_protected(k);
}

/* Asks the backend for the attributes that are not secret, and marks the secret ones. */
static CK_RV get_filtered(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj,
                          CK_ATTRIBUTE_PTR tmpl, CK_ULONG count)
{
	CK_ATTRIBUTE *rest = calloc(count, sizeof(*rest));
	CK_ULONG *index = calloc(count, sizeof(*index));
	CK_ULONG n = 0;
	CK_RV rv = CKR_OK;

	if (!rest || !index) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	for (CK_ULONG i = 0; i < count; i++) {
		if (is_secret_component(tmpl[i].type)) {
			tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			continue;
		}
		index[n] = i;
		rest[n++] = tmpl[i];
	}
	if (n)
		rv = s->be->ops->get_attribute_value(s->be, s->bsess, obj, rest, n);
	for (CK_ULONG j = 0; j < n; j++)
		tmpl[index[j]].ulValueLen = rest[j].ulValueLen;
	if (rv == CKR_OK || rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_BUFFER_TOO_SMALL)
		rv = policy_reject(CKR_ATTRIBUTE_SENSITIVE, "C_GetAttributeValue",
		                   "secret components of key %lu withheld", (unsigned long)obj);
out:
	free(rest);
	free(index);
	return rv;
}

CK_RV hsmux_policy_get_attribute_value(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj,
                                       CK_ATTRIBUTE_PTR tmpl, CK_ULONG count)
{
	bool asks_secret = false;
	struct key_info info;
	CK_RV rv;

	if (!s->be->ops->get_attribute_value)
		return CKR_FUNCTION_NOT_SUPPORTED;
	for (CK_ULONG i = 0; i < count && !asks_secret; i++)
		asks_secret = is_secret_component(tmpl[i].type);
	/* Reading public attributes needs no look-up. */
	if (!asks_secret)
		return s->be->ops->get_attribute_value(s->be, s->bsess, obj, tmpl, count);
	rv = key_info_get(s, obj, &info);
	if (rv != CKR_OK)
		return rv;
	if (!hides_secrets(&info))
		return s->be->ops->get_attribute_value(s->be, s->bsess, obj, tmpl, count);
	return get_filtered(s, obj, tmpl, count);
}
