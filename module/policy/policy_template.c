/* Templates: their form, and the creation rules that tighten or reject them. */
#include <stdlib.h>
#include <string.h>

#include "module/policy/policy_internal.h"
#include "module/trace.h"

static CK_BBOOL bool_true = CK_TRUE;
static CK_BBOOL bool_false = CK_FALSE;

static bool is_bool_attr(CK_ATTRIBUTE_TYPE type)
{
	switch (type) {
	case CKA_TOKEN:
	case CKA_PRIVATE:
	case CKA_MODIFIABLE:
	case CKA_COPYABLE:
	case CKA_DESTROYABLE:
	case CKA_SENSITIVE:
	case CKA_EXTRACTABLE:
	case CKA_WRAP_WITH_TRUSTED:
	case CKA_TRUSTED:
	case CKA_LOCAL:
	case CKA_ALWAYS_SENSITIVE:
	case CKA_NEVER_EXTRACTABLE:
	case CKA_ALWAYS_AUTHENTICATE:
	case CKA_ENCRYPT:
	case CKA_DECRYPT:
	case CKA_WRAP:
	case CKA_UNWRAP:
	case CKA_SIGN:
	case CKA_SIGN_RECOVER:
	case CKA_VERIFY:
	case CKA_VERIFY_RECOVER:
	case CKA_DERIVE:
		return true;
	default:
		return false;
	}
}

static bool is_ulong_attr(CK_ATTRIBUTE_TYPE type)
{
	switch (type) {
	case CKA_CLASS:
	case CKA_KEY_TYPE:
	case CKA_VALUE_LEN:
	case CKA_MODULUS_BITS:
	case CKA_CERTIFICATE_TYPE:
	case CKA_KEY_GEN_MECHANISM:
		return true;
	default:
		return false;
	}
}

static bool is_template_attr(CK_ATTRIBUTE_TYPE type)
{
	return type == CKA_WRAP_TEMPLATE || type == CKA_UNWRAP_TEMPLATE ||
	       type == CKA_DERIVE_TEMPLATE;
}

/* Nested templates go one level deep: a wrap template inside a wrap template is rejected. */
#define TEMPLATE_MAX_DEPTH 1

static CK_RV check_attr_form(const CK_ATTRIBUTE *a, int depth)
{
	if (a->ulValueLen == CK_UNAVAILABLE_INFORMATION || (!a->pValue && a->ulValueLen))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (is_bool_attr(a->type)) {
		/* Only 0 and 1: a backend might read another value differently from the policy. */
		if (a->ulValueLen != sizeof(CK_BBOOL) || *(const CK_BBOOL *)a->pValue > CK_TRUE)
			return CKR_ATTRIBUTE_VALUE_INVALID;
	} else if (is_ulong_attr(a->type)) {
		if (a->ulValueLen != sizeof(CK_ULONG))
			return CKR_ATTRIBUTE_VALUE_INVALID;
	} else if (is_template_attr(a->type)) {
		if (depth >= TEMPLATE_MAX_DEPTH || a->ulValueLen % sizeof(CK_ATTRIBUTE))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		return policy_check_template_form(a->pValue, a->ulValueLen / sizeof(CK_ATTRIBUTE),
		                                  depth + 1);
	} else if (a->type == CKA_ALLOWED_MECHANISMS) {
		if (a->ulValueLen % sizeof(CK_MECHANISM_TYPE))
			return CKR_ATTRIBUTE_VALUE_INVALID;
	}
	return CKR_OK;
}

CK_RV policy_check_template_form(const CK_ATTRIBUTE *tmpl, CK_ULONG count, int depth)
{
	CK_RV rv;

	if (count && !tmpl)
		return CKR_ARGUMENTS_BAD;
	if (count > POLICY_TEMPLATE_MAX)
		return CKR_TEMPLATE_INCONSISTENT;
	for (CK_ULONG i = 0; i < count; i++) {
		rv = check_attr_form(&tmpl[i], depth);
		if (rv != CKR_OK)
			return rv;
		/* A duplicate could make the backend use a value the policy never read. */
		for (CK_ULONG j = 0; j < i; j++)
			if (tmpl[j].type == tmpl[i].type)
				return CKR_TEMPLATE_INCONSISTENT;
	}
	return CKR_OK;
}

CK_RV policy_template_init(struct policy_template *t, const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	CK_RV rv = policy_check_template_form(tmpl, count, 0);

	memset(t, 0, sizeof(*t));
	if (rv != CKR_OK)
		return rv;
	/* Room for every attribute the rules may add. */
	t->capacity = count + 16;
	t->attrs = calloc(t->capacity, sizeof(*t->attrs));
	if (!t->attrs)
		return CKR_HOST_MEMORY;
	if (count)
		memcpy(t->attrs, tmpl, count * sizeof(*tmpl));
	t->count = count;
	return CKR_OK;
}

void policy_template_cleanup(struct policy_template *t)
{
	free(t->attrs);
	memset(t, 0, sizeof(*t));
}

CK_ATTRIBUTE *policy_template_find(const struct policy_template *t, CK_ATTRIBUTE_TYPE type)
{
	for (CK_ULONG i = 0; i < t->count; i++)
		if (t->attrs[i].type == type)
			return &t->attrs[i];
	return NULL;
}

bool policy_template_bool(const struct policy_template *t, CK_ATTRIBUTE_TYPE type, CK_BBOOL *value)
{
	const CK_ATTRIBUTE *a = policy_template_find(t, type);

	if (!a)
		return false;
	*value = *(const CK_BBOOL *)a->pValue;
	return true;
}

bool policy_template_ulong(const struct policy_template *t, CK_ATTRIBUTE_TYPE type, CK_ULONG *value)
{
	const CK_ATTRIBUTE *a = policy_template_find(t, type);

	if (!a || a->ulValueLen != sizeof(CK_ULONG))
		return false;
	memcpy(value, a->pValue, sizeof(*value));
	return true;
}

CK_RV policy_template_set_bool(struct policy_template *t, CK_ATTRIBUTE_TYPE type, CK_BBOOL value)
{
	CK_ATTRIBUTE *a = policy_template_find(t, type);

	if (!a) {
		if (t->count == t->capacity)
			return CKR_HOST_MEMORY;
		a = &t->attrs[t->count++];
		a->type = type;
	}
	a->pValue = value ? &bool_true : &bool_false;
	a->ulValueLen = sizeof(CK_BBOOL);
	return CKR_OK;
}

static CK_OBJECT_CLASS template_class(const struct policy_create_ctx *c,
                                      const struct policy_template *t, CK_OBJECT_CLASS fallback)
{
	CK_ULONG cls;

	if (c->kind == CREATE_COPY && c->source)
		return c->source->cls;
	return policy_template_ulong(t, CKA_CLASS, &cls) ? cls : fallback;
}

/*
 * Handles a template value weaker than the policy: rejected under
 * weak-template = reject, else replaced by the safe value.
 */
static CK_RV weak_value(const struct policy_create_ctx *c, struct policy_template *t,
                        CK_ATTRIBUTE_TYPE type, CK_BBOOL safe, const char *what)
{
	if (c->pol->reject_weak)
		return policy_reject(CKR_TEMPLATE_INCONSISTENT, c->fn, "the template asks for %s",
		                     what);
	hsmux_trace(HSMUX_TRACE_POLICY, "%s: template tightened: %s replaced", c->fn, what);
	return policy_template_set_bool(t, type, safe);
}

/* Sets an absent attribute to value; a present one stays as the client gave it. */
static CK_RV fill_absent(struct policy_template *t, CK_ATTRIBUTE_TYPE type, CK_BBOOL value)
{
	if (policy_template_find(t, type))
		return CKR_OK;
	return policy_template_set_bool(t, type, value);
}

/* Checks attributes that a client may never set, or only the SO may set. */
static CK_RV check_restricted(const struct policy_create_ctx *c, const struct policy_template *t)
{
	static const CK_ATTRIBUTE_TYPE read_only[] = {CKA_LOCAL, CKA_ALWAYS_SENSITIVE,
	                                              CKA_NEVER_EXTRACTABLE, CKA_KEY_GEN_MECHANISM};
	CK_BBOOL trusted;

	for (size_t i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++)
		if (policy_template_find(t, read_only[i]))
			return policy_reject(CKR_ATTRIBUTE_READ_ONLY, c->fn,
			                     "attribute 0x%lx is set by the token",
			                     (unsigned long)read_only[i]);
	if (policy_template_bool(t, CKA_TRUSTED, &trusted) && trusted &&
	    !(c->s && session_is_so(c->s)))
		return policy_reject(CKR_ATTRIBUTE_READ_ONLY, c->fn,
		                     "only the SO sets CKA_TRUSTED");
	return CKR_OK;
}

CK_RV policy_check_nested(const struct hsmux_backend_policy *pol, const char *fn,
                          const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	for (CK_ULONG i = 0; i < count; i++) {
		const CK_ATTRIBUTE *inner = tmpl[i].pValue;
		CK_ULONG n = tmpl[i].ulValueLen / sizeof(CK_ATTRIBUTE);

		if (!is_template_attr(tmpl[i].type))
			continue;
		for (CK_ULONG j = 0; j < n; j++) {
			bool sensitive = inner[j].type == CKA_SENSITIVE;
			bool extractable = inner[j].type == CKA_EXTRACTABLE;
			CK_BBOOL v;

			/* The form check made both of these one readable byte. */
			if (!sensitive && !extractable)
				continue;
			v = *(const CK_BBOOL *)inner[j].pValue;
			if ((sensitive && !v) ||
			    (extractable && v && pol->extractable == HSMUX_EXTRACTABLE_NO))
				return policy_reject(CKR_TEMPLATE_INCONSISTENT, fn,
				                     "a nested template asks for a weak key");
		}
	}
	return CKR_OK;
}

/* Whether the new key may be CKA_EXTRACTABLE=TRUE at all. */
static bool extractable_allowed(const struct policy_create_ctx *c)
{
	if (c->pol->extractable == HSMUX_EXTRACTABLE_NO)
		return false;
	/* A key derived from, or copied from, a non-extractable key stays non-extractable. */
	if (c->source && key_info_is_key_with_secret(c->source) &&
	    (c->source->known & KEY_EXTRACTABLE) && !(c->source->flags & KEY_EXTRACTABLE))
		return false;
	return true;
}

/* Whether a copy's source already has flag set to value, as the backend reported it. */
static bool source_has(const struct policy_create_ctx *c, unsigned int flag, bool value)
{
	if (c->kind != CREATE_COPY || !c->source || !(c->source->known & flag))
		return false;
	return ((c->source->flags & flag) != 0) == value;
}

/*
 * Fills an absent CKA_EXTRACTABLE with FALSE. A copy whose source already
 * has an allowed value gets nothing added, because a backend may refuse the
 * attribute in a copy template even with the same value (SoftHSM 2.6.1
 * returns CKR_ATTRIBUTE_READ_ONLY).
 */
static CK_RV fill_extractable(const struct policy_create_ctx *c, struct policy_template *t)
{
	bool keep = source_has(c, KEY_EXTRACTABLE, false) ||
	            (c->kind == CREATE_COPY && extractable_allowed(c) &&
	             (c->pol->extractable == HSMUX_EXTRACTABLE_YES ||
	              (c->source->flags & KEY_WRAP_WITH_TRUSTED)));

	return keep ? CKR_OK : fill_absent(t, CKA_EXTRACTABLE, CK_FALSE);
}

static CK_RV tighten_extractable(const struct policy_create_ctx *c, struct policy_template *t)
{
	CK_BBOOL extractable, wwt;
	CK_RV rv;

	if (!policy_template_bool(t, CKA_EXTRACTABLE, &extractable))
		return fill_extractable(c, t);
	if (!extractable)
		return CKR_OK;
	if (!extractable_allowed(c))
		return weak_value(c, t, CKA_EXTRACTABLE, CK_FALSE, "EXTRACTABLE=TRUE");
	if (c->pol->extractable != HSMUX_EXTRACTABLE_TRUSTED_WRAP)
		return CKR_OK;
	if (!policy_template_bool(t, CKA_WRAP_WITH_TRUSTED, &wwt))
		return policy_template_set_bool(t, CKA_WRAP_WITH_TRUSTED, CK_TRUE);
	if (wwt)
		return CKR_OK;
	rv = weak_value(c, t, CKA_WRAP_WITH_TRUSTED, CK_TRUE,
	                "an extractable key without WRAP_WITH_TRUSTED");
	return rv;
}

CK_RV policy_tighten_protection(const struct policy_create_ctx *c, struct policy_template *t)
{
	CK_OBJECT_CLASS cls = template_class(c, t, c->default_class);
	CK_ULONG key_type;
	CK_BBOOL sensitive;
	CK_RV rv;

	rv = check_restricted(c, t);
	if (rv == CKR_OK)
		rv = policy_check_nested(c->pol, c->fn, t->attrs, t->count);
	if (rv != CKR_OK)
		return rv;
	if (policy_template_ulong(t, CKA_KEY_TYPE, &key_type) && key_type_denied(key_type) &&
	    c->kind != CREATE_COPY)
		return policy_reject(CKR_ATTRIBUTE_VALUE_INVALID, c->fn,
		                     "key type 0x%lx (DES) is denied", (unsigned long)key_type);
	if (!class_has_secret(cls))
		return CKR_OK;

	if (!policy_template_bool(t, CKA_SENSITIVE, &sensitive)) {
		if (!source_has(c, KEY_SENSITIVE, true))
			rv = policy_template_set_bool(t, CKA_SENSITIVE, CK_TRUE);
	} else if (!sensitive) {
		rv = weak_value(c, t, CKA_SENSITIVE, CK_TRUE, "SENSITIVE=FALSE");
	}
	if (rv != CKR_OK)
		return rv;
	return tighten_extractable(c, t);
}

/* The usage attributes a class has among ENCRYPT, DECRYPT, WRAP and UNWRAP. */
static unsigned int role_attrs_of(CK_OBJECT_CLASS cls)
{
	switch (cls) {
	case CKO_SECRET_KEY:
		return KEY_WRAP_ROLES | KEY_CRYPT_ROLES;
	case CKO_PUBLIC_KEY:
		return KEY_WRAP | KEY_ENCRYPT;
	case CKO_PRIVATE_KEY:
		return KEY_UNWRAP | KEY_DECRYPT;
	default:
		return 0;
	}
}

static const struct {
	unsigned int flag;
	CK_ATTRIBUTE_TYPE type;
} role_attrs[] = {
    {KEY_ENCRYPT, CKA_ENCRYPT},
    {KEY_DECRYPT, CKA_DECRYPT},
    {KEY_WRAP, CKA_WRAP},
    {KEY_UNWRAP, CKA_UNWRAP},
};

/* The roles a template requests explicitly (TRUE values). */
static unsigned int requested_roles(const struct policy_template *t, unsigned int applicable)
{
	unsigned int asked = 0;
	CK_BBOOL v;

	for (size_t i = 0; i < 4; i++) {
		if (!(applicable & role_attrs[i].flag))
			continue;
		if (policy_template_bool(t, role_attrs[i].type, &v) && v)
			asked |= role_attrs[i].flag;
	}
	return asked;
}

/* The roles a copy inherits: the source's, for attributes the template leaves out. */
static unsigned int inherited_roles(const struct policy_create_ctx *c,
                                    const struct policy_template *t, unsigned int applicable)
{
	unsigned int inherited = 0;

	if (c->kind != CREATE_COPY || !c->source)
		return 0;
	for (size_t i = 0; i < 4; i++)
		if ((applicable & role_attrs[i].flag) &&
		    !policy_template_find(t, role_attrs[i].type))
			inherited |= c->source->flags & role_attrs[i].flag;
	return inherited;
}

/* Sets the attributes of roles to value: all of them, or only the absent ones. */
static CK_RV set_roles(struct policy_template *t, unsigned int roles, CK_BBOOL value,
                       bool only_absent)
{
	CK_RV rv = CKR_OK;

	for (size_t i = 0; i < 4 && rv == CKR_OK; i++) {
		if (!(roles & role_attrs[i].flag))
			continue;
		if (only_absent)
			rv = fill_absent(t, role_attrs[i].type, value);
		else
			rv = policy_template_set_bool(t, role_attrs[i].type, value);
	}
	return rv;
}

/*
 * Picks the role group that the new key or pair must not have: the one the
 * template did not ask for, else the wrap roles unless only they were
 * inherited.
 */
static unsigned int roles_to_turn_off(unsigned int asked, unsigned int inherited)
{
	if (asked & KEY_WRAP_ROLES)
		return KEY_CRYPT_ROLES;
	if (asked & KEY_CRYPT_ROLES)
		return KEY_WRAP_ROLES;
	if ((inherited & KEY_WRAP_ROLES) && !(inherited & KEY_CRYPT_ROLES))
		return KEY_CRYPT_ROLES;
	return KEY_WRAP_ROLES;
}

CK_RV policy_separate_roles(const struct policy_create_ctx *c, struct policy_template *a,
                            struct policy_template *b)
{
	CK_OBJECT_CLASS a_class = b ? CKO_PUBLIC_KEY : c->default_class;
	unsigned int a_roles = role_attrs_of(template_class(c, a, a_class));
	unsigned int b_roles = b ? role_attrs_of(template_class(c, b, CKO_PRIVATE_KEY)) : 0;
	unsigned int asked = requested_roles(a, a_roles) | (b ? requested_roles(b, b_roles) : 0);
	unsigned int inherited = inherited_roles(c, a, a_roles);
	unsigned int off;
	CK_RV rv;

	if ((asked & KEY_WRAP_ROLES) && (asked & KEY_CRYPT_ROLES)) {
		if (c->pol->reject_weak)
			return policy_reject(CKR_TEMPLATE_INCONSISTENT, c->fn,
			                     "a key or key pair asks for WRAP or UNWRAP together "
			                     "with ENCRYPT or DECRYPT");
		hsmux_trace(HSMUX_TRACE_POLICY,
		            "%s: template tightened: WRAP and UNWRAP "
		            "dropped from a key that also encrypts or decrypts",
		            c->fn);
		asked &= ~KEY_WRAP_ROLES;
		rv = set_roles(a, a_roles & KEY_WRAP_ROLES, CK_FALSE, false);
		if (rv == CKR_OK && b)
			rv = set_roles(b, b_roles & KEY_WRAP_ROLES, CK_FALSE, false);
		if (rv != CKR_OK)
			return rv;
	}

	/* The other group is set FALSE where absent, so that no token default adds it. */
	off = roles_to_turn_off(asked, inherited);
	rv = set_roles(a, a_roles & off, CK_FALSE, true);
	if (rv == CKR_OK && b)
		rv = set_roles(b, b_roles & off, CK_FALSE, true);
	return rv;
}
