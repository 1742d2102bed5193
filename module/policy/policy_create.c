/*
 * The calls that make keys: the template rules run before the backend sees
 * the call, and the new key is read back, because the policy does not
 * trust a backend to have honoured the template.
 */
#include <string.h>

#include "module/mech/mech.h"
#include "module/policy/policy_internal.h"
#include "module/trace.h"

/* The reason a new key breaks the rules, or NULL when it does not. */
static const char *key_violation(const struct hsmux_backend_policy *pol, const struct key_info *k)
{
	bool extractable = k->flags & KEY_EXTRACTABLE;

	if (k->sd)
		return "it carries a security-domain label";
	if ((k->flags & KEY_WRAP_ROLES) && (k->flags & KEY_CRYPT_ROLES))
		return "it holds a wrap role and an encrypt role";
	if (!key_info_is_key_with_secret(k))
		return NULL;
	if ((k->known & KEY_SENSITIVE) && !(k->flags & KEY_SENSITIVE))
		return "it is not sensitive";
	if (extractable && pol->extractable == HSMUX_EXTRACTABLE_NO)
		return "it is extractable";
	if (extractable && pol->extractable == HSMUX_EXTRACTABLE_TRUSTED_WRAP &&
	    !(k->flags & KEY_WRAP_WITH_TRUSTED))
		return "it is extractable without WRAP_WITH_TRUSTED";
	return NULL;
}

/* Reads a new key back; one that breaks the rules is destroyed. */
static CK_RV verify_new_key(const struct hsmux_session_ref *s, const char *fn, CK_OBJECT_HANDLE obj)
{
	struct key_info info;
	const char *violation;
	CK_RV rv;

	key_info_forget(s->be, session_bslot(s), obj);
	rv = key_info_get(s, obj, &info);
	violation =
	    rv == CKR_OK ? key_violation(policy_of(s->be), &info) : "its attributes are unreadable";
	if (!violation)
		return CKR_OK;
	if (s->be->ops->destroy_object)
		s->be->ops->destroy_object(s->be, s->bsess, obj);
	key_info_forget(s->be, session_bslot(s), obj);
	return policy_reject(CKR_FUNCTION_FAILED, fn,
	                     "the backend made key %lu, but %s; "
	                     "it was destroyed",
	                     (unsigned long)obj, violation);
}

static CK_RV check_mech(const struct hsmux_session_ref *s, const char *fn, const CK_MECHANISM *mech)
{
	if (policy_mechanism_allowed(policy_of(s->be), mech->mechanism))
		return CKR_OK;
	return policy_reject(CKR_MECHANISM_INVALID, fn, "mechanism %s (0x%lx) is denied",
	                     hsmux_mech_name(mech->mechanism), (unsigned long)mech->mechanism);
}

static CK_RV init_template(struct policy_template *t, const char *fn, const CK_ATTRIBUTE *tmpl,
                           CK_ULONG count)
{
	CK_RV rv = policy_template_init(t, tmpl, count);

	if (rv != CKR_OK && rv != CKR_HOST_MEMORY)
		return policy_reject(rv, fn, "malformed template");
	/* A client-made object under a security-domain label would pass for the token's own. */
	if (rv == CKR_OK)
		rv = policy_check_label(fn, t->attrs, t->count);
	if (rv != CKR_OK)
		policy_template_cleanup(t);
	return rv;
}

/* The rules of one key's template. */
static CK_RV apply_key_rules(const struct policy_create_ctx *c, struct policy_template *t)
{
	CK_RV rv = policy_tighten_protection(c, t);

	return rv == CKR_OK ? policy_separate_roles(c, t, NULL) : rv;
}

CK_RV hsmux_policy_generate_key(const struct hsmux_session_ref *s, CK_MECHANISM_PTR mech,
                                CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
	struct policy_create_ctx c = {
	    policy_of(s->be), CREATE_GENERATE, "C_GenerateKey", CKO_SECRET_KEY, s, NULL};
	struct policy_template t;
	CK_RV rv;

	if (!s->be->ops->generate_key)
		return CKR_FUNCTION_NOT_SUPPORTED;
	rv = check_mech(s, c.fn, mech);
	if (rv != CKR_OK)
		return rv;
	rv = init_template(&t, c.fn, tmpl, count);
	if (rv != CKR_OK)
		return rv;
	rv = apply_key_rules(&c, &t);
	if (rv == CKR_OK)
		rv = s->be->ops->generate_key(s->be, s->bsess, mech, t.attrs, t.count, key);
	if (rv == CKR_OK)
		rv = verify_new_key(s, c.fn, *key);
	policy_template_cleanup(&t);
	key_info_bump_generation();
	return rv;
}

static CK_RV check_rsa_generation(const struct hsmux_backend_policy *pol, const char *fn,
                                  const struct policy_template *pub)
{
	CK_ULONG bits;

	if (!policy_template_ulong(pub, CKA_MODULUS_BITS, &bits) || bits >= pol->min_rsa_bits)
		return CKR_OK;
	return policy_reject(CKR_KEY_SIZE_RANGE, fn,
	                     "RSA key of %lu bits asked for; the "
	                     "minimum is %lu",
	                     (unsigned long)bits, (unsigned long)pol->min_rsa_bits);
}

static CK_RV apply_pair_rules(struct policy_create_ctx *c, struct policy_template *pub,
                              struct policy_template *priv)
{
	CK_RV rv;

	c->default_class = CKO_PUBLIC_KEY;
	rv = policy_tighten_protection(c, pub);
	if (rv != CKR_OK)
		return rv;
	c->default_class = CKO_PRIVATE_KEY;
	rv = policy_tighten_protection(c, priv);
	if (rv != CKR_OK)
		return rv;
	return policy_separate_roles(c, pub, priv);
}

CK_RV hsmux_policy_generate_key_pair(const struct hsmux_session_ref *s, CK_MECHANISM_PTR mech,
                                     CK_ATTRIBUTE_PTR pub_tmpl, CK_ULONG pub_count,
                                     CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG priv_count,
                                     CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv)
{
	struct policy_create_ctx c = {
	    policy_of(s->be), CREATE_GENERATE_PAIR, "C_GenerateKeyPair", CKO_PUBLIC_KEY, s, NULL};
	struct policy_template pt = {0}, st = {0};
	CK_RV rv;

	if (!s->be->ops->generate_key_pair)
		return CKR_FUNCTION_NOT_SUPPORTED;
	rv = check_mech(s, c.fn, mech);
	if (rv == CKR_OK)
		rv = init_template(&pt, c.fn, pub_tmpl, pub_count);
	if (rv == CKR_OK)
		rv = init_template(&st, c.fn, priv_tmpl, priv_count);
	if (rv == CKR_OK)
		rv = check_rsa_generation(c.pol, c.fn, &pt);
	if (rv == CKR_OK)
		rv = apply_pair_rules(&c, &pt, &st);
	if (rv == CKR_OK)
		rv = s->be->ops->generate_key_pair(s->be, s->bsess, mech, pt.attrs, pt.count,
		                                   st.attrs, st.count, pub, priv);
	if (rv == CKR_OK) {
		rv = verify_new_key(s, c.fn, *priv);
		if (rv == CKR_OK)
			rv = verify_new_key(s, c.fn, *pub);
		if (rv != CKR_OK && s->be->ops->destroy_object) {
			/* Never leave half a pair behind. */
			s->be->ops->destroy_object(s->be, s->bsess, *pub);
			s->be->ops->destroy_object(s->be, s->bsess, *priv);
			key_info_forget(s->be, session_bslot(s), *pub);
			key_info_forget(s->be, session_bslot(s), *priv);
		}
	}
	policy_template_cleanup(&pt);
	policy_template_cleanup(&st);
	key_info_bump_generation();
	return rv;
}

/* Rejects an imported RSA key whose modulus is under the minimum. */
static CK_RV check_rsa_import(const struct hsmux_backend_policy *pol, const char *fn,
                              const struct policy_template *t)
{
	const CK_ATTRIBUTE *modulus = policy_template_find(t, CKA_MODULUS);
	CK_ULONG key_type;

	if (!modulus || !policy_template_ulong(t, CKA_KEY_TYPE, &key_type) || key_type != CKK_RSA)
		return CKR_OK;
	if (modulus->ulValueLen * 8 >= pol->min_rsa_bits)
		return CKR_OK;
	return policy_reject(CKR_ATTRIBUTE_VALUE_INVALID, fn,
	                     "RSA modulus of %lu bits; the "
	                     "minimum is %lu",
	                     (unsigned long)modulus->ulValueLen * 8,
	                     (unsigned long)pol->min_rsa_bits);
}

CK_RV hsmux_policy_create_object(const struct hsmux_session_ref *s, CK_ATTRIBUTE_PTR tmpl,
                                 CK_ULONG count, CK_OBJECT_HANDLE_PTR obj)
{
	struct policy_create_ctx c = {
	    policy_of(s->be), CREATE_OBJECT, "C_CreateObject", CK_UNAVAILABLE_INFORMATION, s, NULL};
	struct policy_template t;
	CK_RV rv;

	if (!s->be->ops->create_object)
		return CKR_FUNCTION_NOT_SUPPORTED;
	rv = init_template(&t, c.fn, tmpl, count);
	if (rv != CKR_OK)
		return rv;
	/* Without a class the policy cannot tell a key from data; the spec requires one. */
	if (!policy_template_find(&t, CKA_CLASS))
		rv = policy_reject(CKR_TEMPLATE_INCOMPLETE, c.fn, "the template has no CKA_CLASS");
	if (rv == CKR_OK)
		rv = check_rsa_import(c.pol, c.fn, &t);
	if (rv == CKR_OK)
		rv = apply_key_rules(&c, &t);
	if (rv == CKR_OK)
		rv = s->be->ops->create_object(s->be, s->bsess, t.attrs, t.count, obj);
	if (rv == CKR_OK)
		rv = verify_new_key(s, c.fn, *obj);
	policy_template_cleanup(&t);
	key_info_bump_generation();
	return rv;
}

CK_RV hsmux_policy_copy_object(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj,
                               CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR new_obj)
{
	struct policy_create_ctx c = {policy_of(s->be),           CREATE_COPY, "C_CopyObject",
	                              CK_UNAVAILABLE_INFORMATION, s,           NULL};
	struct policy_template t;
	struct key_info source;
	CK_RV rv;

	if (!s->be->ops->copy_object)
		return CKR_FUNCTION_NOT_SUPPORTED;
	rv = init_template(&t, c.fn, tmpl, count);
	if (rv != CKR_OK)
		return rv;
	rv = key_info_get(s, obj, &source);
	c.source = &source;
	if (rv == CKR_OK && source.sd)
		rv = policy_reject(CKR_ACTION_PROHIBITED, c.fn,
		                   "object %lu is the security domain's", (unsigned long)obj);
	if (rv == CKR_OK)
		rv = policy_check_sticky(s, c.fn, &source, tmpl, count);
	if (rv == CKR_OK)
		rv = apply_key_rules(&c, &t);
	if (rv == CKR_OK)
		rv = s->be->ops->copy_object(s->be, s->bsess, obj, t.attrs, t.count, new_obj);
	if (rv == CKR_OK)
		rv = verify_new_key(s, c.fn, *new_obj);
	key_info_forget(s->be, session_bslot(s), obj);
	policy_template_cleanup(&t);
	key_info_bump_generation();
	return rv;
}

CK_RV hsmux_policy_destroy_object(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj)
{
	struct key_info info;
	CK_RV rv;

	if (!s->be->ops->destroy_object)
		return CKR_FUNCTION_NOT_SUPPORTED;
	/* An object whose attributes cannot be read gets the backend's own answer. */
	if (key_info_get(s, obj, &info) == CKR_OK && info.sd)
		return policy_reject(CKR_ACTION_PROHIBITED, "C_DestroyObject",
		                     "object %lu is the security domain's", (unsigned long)obj);
	rv = s->be->ops->destroy_object(s->be, s->bsess, obj);
	key_info_forget(s->be, session_bslot(s), obj);
	return rv;
}

/*
 * Maps the codes by which a backend reports a failure to decrypt or unpad
 * the wrapped bytes to one code, so that the return code is no padding
 * oracle. Codes that depend only on the input length (WRAPPED_KEY_LEN_RANGE)
 * or on an authenticated plaintext (the key type and size checks after
 * unwrap) pass through.
 */
static CK_RV unwrap_result(CK_RV rv)
{
	switch (rv) {
	case CKR_ENCRYPTED_DATA_INVALID:
	case CKR_ENCRYPTED_DATA_LEN_RANGE:
	case CKR_DATA_INVALID:
	case CKR_DATA_LEN_RANGE:
	case CKR_GENERAL_ERROR:
		hsmux_trace(HSMUX_TRACE_POLICY,
		            "C_UnwrapKey: backend returned %s, given as "
		            "CKR_WRAPPED_KEY_INVALID",
		            hsmux_rv_name(rv));
		return CKR_WRAPPED_KEY_INVALID;
	default:
		return rv;
	}
}

CK_RV hsmux_policy_unwrap_key(const struct hsmux_session_ref *s, CK_MECHANISM_PTR mech,
                              CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped,
                              CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                              CK_OBJECT_HANDLE_PTR key)
{
	struct hsmux_backend_policy pol = *policy_of(s->be);
	struct policy_create_ctx c = {&pol, CREATE_UNWRAP, "C_UnwrapKey", CKO_SECRET_KEY, s, NULL};
	struct policy_template t;
	CK_RV rv;

	if (!s->be->ops->unwrap_key)
		return CKR_FUNCTION_NOT_SUPPORTED;
	rv = policy_check_unwrapping_key(s, mech, unwrapping_key);
	if (rv != CKR_OK)
		return rv;
	/*
	 * The template is checked in full before the backend decrypts anything.
	 * A weak value is rejected even under weak-template = tighten: asking an
	 * import for a weaker key is the re-import attack, not a default template.
	 */
	pol.reject_weak = true;
	rv = init_template(&t, c.fn, tmpl, count);
	if (rv != CKR_OK)
		return rv;
	rv = apply_key_rules(&c, &t);
	if (rv == CKR_OK) {
		rv = hsmux_mech_unwrap_key(s->be, s->bsess, mech, unwrapping_key, wrapped,
		                           wrapped_len, t.attrs, t.count, key);
		rv = unwrap_result(rv);
	}
	if (rv == CKR_OK)
		rv = verify_new_key(s, c.fn, *key);
	policy_template_cleanup(&t);
	key_info_bump_generation();
	return rv;
}

/* Rejects the derive mechanisms that copy key bytes, on a protected base or second key. */
static CK_RV check_derive_source(const struct hsmux_session_ref *s, const CK_MECHANISM *mech,
                                 CK_OBJECT_HANDLE base, const struct key_info *b)
{
	const char *fn = "C_DeriveKey";
	CK_OBJECT_HANDLE other;
	struct key_info o;

	if (!mech_copies_key_bytes(mech->mechanism))
		return CKR_OK;
	if (key_info_protected(b))
		return policy_reject(CKR_KEY_FUNCTION_NOT_PERMITTED, fn,
		                     "%s copies bytes of sensitive key %lu",
		                     hsmux_mech_name(mech->mechanism), (unsigned long)base);
	if (mech->mechanism != CKM_CONCATENATE_BASE_AND_KEY)
		return CKR_OK;
	if (!mech->pParameter || mech->ulParameterLen != sizeof(other))
		return CKR_MECHANISM_PARAM_INVALID;
	memcpy(&other, mech->pParameter, sizeof(other));
	if (key_info_get(s, other, &o) != CKR_OK || key_info_protected(&o))
		return policy_reject(CKR_KEY_FUNCTION_NOT_PERMITTED, fn,
		                     "CONCATENATE_BASE_AND_KEY copies bytes of sensitive key %lu",
		                     (unsigned long)other);
	return CKR_OK;
}

CK_RV hsmux_policy_derive_key(const struct hsmux_session_ref *s, CK_MECHANISM_PTR mech,
                              CK_OBJECT_HANDLE base_key, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                              CK_OBJECT_HANDLE_PTR key)
{
	struct policy_create_ctx c = {
	    policy_of(s->be), CREATE_DERIVE, "C_DeriveKey", CKO_SECRET_KEY, s, NULL};
	struct policy_template t;
	struct key_info base;
	CK_RV rv;

	if (!s->be->ops->derive_key)
		return CKR_FUNCTION_NOT_SUPPORTED;
	rv = check_mech(s, c.fn, mech);
	if (rv != CKR_OK)
		return rv;
	rv = key_info_get(s, base_key, &base);
	if (rv != CKR_OK)
		return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv;
	if (base.sd)
		return policy_reject(CKR_KEY_FUNCTION_NOT_PERMITTED, c.fn,
		                     "base key %lu is the security domain's",
		                     (unsigned long)base_key);
	rv = check_derive_source(s, mech, base_key, &base);
	if (rv != CKR_OK)
		return rv;
	c.source = &base;
	rv = init_template(&t, c.fn, tmpl, count);
	if (rv != CKR_OK)
		return rv;
	rv = apply_key_rules(&c, &t);
	if (rv == CKR_OK)
		rv = s->be->ops->derive_key(s->be, s->bsess, mech, base_key, t.attrs, t.count, key);
	/* Some derive mechanisms return their keys through the parameters, not key. */
	if (rv == CKR_OK && key)
		rv = verify_new_key(s, c.fn, *key);
	policy_template_cleanup(&t);
	key_info_bump_generation();
	return rv;
}
