/* The in-memory backend of the policy tests; see mock_backend.h. */
#include <string.h>

#include "module/policy/policy.h"
#include "tests/policy/mock_backend.h"

#define MOCK_MAX_OBJECTS 64
#define MOCK_MAX_ATTRS   48
#define MOCK_MAX_VALUE   512

struct mock_attr {
	CK_ATTRIBUTE_TYPE type;
	CK_BYTE value[MOCK_MAX_VALUE];
	CK_ULONG len;
};

struct mock_object {
	bool used;
	struct mock_attr attrs[MOCK_MAX_ATTRS];
	size_t n;
};

static struct mock_object objects[MOCK_MAX_OBJECTS];
static struct mock_attr find_criteria[4];
static CK_ULONG n_find_criteria;
static bool find_active;
static CK_ATTRIBUTE_TYPE last_get[64];
static CK_ULONG n_last_get;

struct mock_calls mock_calls;
struct mock_config mock_config;

static struct mock_object *object_of(CK_OBJECT_HANDLE h)
{
	if (h == 0 || h > MOCK_MAX_OBJECTS || !objects[h - 1].used)
		return NULL;
	return &objects[h - 1];
}

static struct mock_attr *attr_of(struct mock_object *o, CK_ATTRIBUTE_TYPE type)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->attrs[i].type == type)
			return &o->attrs[i];
	return NULL;
}

static void put(struct mock_object *o, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
	struct mock_attr *a = attr_of(o, type);

	if (!a && o->n < MOCK_MAX_ATTRS) {
		a = &o->attrs[o->n++];
		a->type = type;
	}
	if (!a || len > MOCK_MAX_VALUE)
		return;
	if (len)
		memcpy(a->value, value, len);
	a->len = len;
}

static void put_bool(struct mock_object *o, CK_ATTRIBUTE_TYPE type, CK_BBOOL v)
{
	put(o, type, &v, sizeof(v));
}

static void put_ulong(struct mock_object *o, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
	put(o, type, &v, sizeof(v));
}

static void apply(struct mock_object *o, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++) {
		if (mock_config.ignore_sensitive && t[i].type == CKA_SENSITIVE)
			continue;
		put(o, t[i].type, t[i].pValue, t[i].ulValueLen);
	}
}

static CK_OBJECT_HANDLE new_object(void)
{
	for (size_t i = 0; i < MOCK_MAX_OBJECTS; i++) {
		if (!objects[i].used) {
			memset(&objects[i], 0, sizeof(objects[i]));
			objects[i].used = true;
			return i + 1;
		}
	}
	return CK_INVALID_HANDLE;
}

/* The worst defaults: every usage of the class, not sensitive, extractable. */
static void key_defaults(struct mock_object *o, bool local)
{
	static const CK_ATTRIBUTE_TYPE secret_usages[] = {
	    CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP, CKA_SIGN, CKA_VERIFY, CKA_DERIVE, 0};
	static const CK_ATTRIBUTE_TYPE public_usages[] = {CKA_ENCRYPT, CKA_WRAP, CKA_VERIFY, 0};
	static const CK_ATTRIBUTE_TYPE no_usages[] = {0};
	static const CK_ATTRIBUTE_TYPE private_usages[] = {CKA_DECRYPT, CKA_UNWRAP, CKA_SIGN,
	                                                   CKA_DERIVE, 0};
	struct mock_attr *cls = attr_of(o, CKA_CLASS);
	const CK_ATTRIBUTE_TYPE *usages = secret_usages;
	CK_ULONG c = CKO_SECRET_KEY;

	if (cls)
		memcpy(&c, cls->value, sizeof(c));
	if (c == CKO_PUBLIC_KEY)
		usages = public_usages;
	else if (c == CKO_PRIVATE_KEY)
		usages = private_usages;
	else if (c != CKO_SECRET_KEY)
		usages = no_usages;
	for (size_t i = 0; usages[i]; i++)
		put_bool(o, usages[i], CK_TRUE);
	put_bool(o, CKA_LOCAL, local);
	put_bool(o, CKA_TOKEN, CK_FALSE);
	if (c != CKO_PRIVATE_KEY)
		put_bool(o, CKA_TRUSTED, CK_FALSE);
	if (c == CKO_PUBLIC_KEY)
		return;
	put_bool(o, CKA_SENSITIVE, CK_FALSE);
	put_bool(o, CKA_EXTRACTABLE, CK_TRUE);
	put_bool(o, CKA_WRAP_WITH_TRUSTED, CK_FALSE);
}

CK_OBJECT_HANDLE mock_add(const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	CK_OBJECT_HANDLE h = new_object();

	if (h)
		apply(&objects[h - 1], tmpl, count);
	return h;
}

bool mock_has(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
	struct mock_object *o = object_of(obj);

	return o && attr_of(o, type);
}

bool mock_bool(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
	struct mock_object *o = object_of(obj);
	struct mock_attr *a = o ? attr_of(o, type) : NULL;

	return a && a->len == 1 && a->value[0];
}

bool mock_exists(CK_OBJECT_HANDLE obj)
{
	return object_of(obj) != NULL;
}

CK_OBJECT_CLASS mock_class(CK_OBJECT_HANDLE obj)
{
	struct mock_object *o = object_of(obj);
	struct mock_attr *a = o ? attr_of(o, CKA_CLASS) : NULL;
	CK_OBJECT_CLASS cls = CK_UNAVAILABLE_INFORMATION;

	if (a && a->len == sizeof(cls))
		memcpy(&cls, a->value, sizeof(cls));
	return cls;
}

bool mock_last_get_asked(CK_ATTRIBUTE_TYPE type)
{
	for (CK_ULONG i = 0; i < n_last_get; i++)
		if (last_get[i] == type)
			return true;
	return false;
}

static CK_RV mock_get_attribute_value(struct hsmux_backend *be, CK_SESSION_HANDLE s,
                                      CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	struct mock_object *o = object_of(obj);
	CK_RV rv = CKR_OK;

	mock_calls.get_attribute_value++;
	if (!o)
		return CKR_OBJECT_HANDLE_INVALID;
	n_last_get = 0;
	for (CK_ULONG i = 0; i < n; i++) {
		struct mock_attr *a = attr_of(o, t[i].type);

		if (n_last_get < 64)
			last_get[n_last_get++] = t[i].type;
		if (!a) {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_ATTRIBUTE_TYPE_INVALID;
		} else if (!t[i].pValue) {
			t[i].ulValueLen = a->len;
		} else if (t[i].ulValueLen < a->len) {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			rv = CKR_BUFFER_TOO_SMALL;
		} else {
			memcpy(t[i].pValue, a->value, a->len);
			t[i].ulValueLen = a->len;
		}
	}
	return rv;
}

static CK_RV mock_set_attribute_value(struct hsmux_backend *be, CK_SESSION_HANDLE s,
                                      CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	struct mock_object *o = object_of(obj);

	mock_calls.set_attribute_value++;
	if (!o)
		return CKR_OBJECT_HANDLE_INVALID;
	apply(o, t, n);
	return CKR_OK;
}

static CK_RV mock_create_object(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t,
                                CK_ULONG n, CK_OBJECT_HANDLE_PTR obj)
{
	CK_OBJECT_HANDLE h = new_object();
	struct mock_attr *value;

	mock_calls.create_object++;
	if (!h)
		return CKR_DEVICE_MEMORY;
	apply(&objects[h - 1], t, n);
	key_defaults(&objects[h - 1], false);
	apply(&objects[h - 1], t, n);
	value = attr_of(&objects[h - 1], CKA_VALUE);
	if (value)
		put_ulong(&objects[h - 1], CKA_VALUE_LEN, value->len);
	*obj = h;
	return CKR_OK;
}

static CK_RV mock_copy_object(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                              CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR new_obj)
{
	struct mock_object *o = object_of(obj);
	CK_OBJECT_HANDLE h;

	mock_calls.copy_object++;
	if (!o)
		return CKR_OBJECT_HANDLE_INVALID;
	/* Like SoftHSM 2.6.1: no SENSITIVE or EXTRACTABLE in a copy template, even unchanged. */
	for (CK_ULONG i = 0; i < n; i++)
		if (t[i].type == CKA_SENSITIVE || t[i].type == CKA_EXTRACTABLE)
			return CKR_ATTRIBUTE_READ_ONLY;
	h = new_object();
	if (!h)
		return CKR_DEVICE_MEMORY;
	objects[h - 1] = *o;
	apply(&objects[h - 1], t, n);
	*new_obj = h;
	return CKR_OK;
}

static CK_RV mock_destroy_object(struct hsmux_backend *be, CK_SESSION_HANDLE s,
                                 CK_OBJECT_HANDLE obj)
{
	struct mock_object *o = object_of(obj);

	mock_calls.destroy_object++;
	if (!o)
		return CKR_OBJECT_HANDLE_INVALID;
	o->used = false;
	return CKR_OK;
}

static CK_RV make_key(CK_OBJECT_CLASS cls, CK_KEY_TYPE type, bool local, CK_ATTRIBUTE_PTR t,
                      CK_ULONG n, CK_OBJECT_HANDLE_PTR key)
{
	CK_OBJECT_HANDLE h = new_object();
	static const CK_BYTE value[32] = {0x42};
	struct mock_object *o;

	if (!h)
		return CKR_DEVICE_MEMORY;
	o = &objects[h - 1];
	put_ulong(o, CKA_CLASS, cls);
	put_ulong(o, CKA_KEY_TYPE, type);
	key_defaults(o, local);
	apply(o, t, n);
	if (cls == CKO_SECRET_KEY && !attr_of(o, CKA_VALUE_LEN))
		put_ulong(o, CKA_VALUE_LEN, 32);
	if (cls == CKO_SECRET_KEY)
		put(o, CKA_VALUE, value, sizeof(value));
	*key = h;
	return CKR_OK;
}

static CK_RV mock_generate_key(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                               CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR key)
{
	mock_calls.generate_key++;
	return make_key(CKO_SECRET_KEY, CKK_AES, true, t, n, key);
}

/* An RSA pair whose modulus has the asked number of bits; the bytes are not a real key. */
static CK_RV mock_generate_key_pair(struct hsmux_backend *be, CK_SESSION_HANDLE s,
                                    CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pt, CK_ULONG pn,
                                    CK_ATTRIBUTE_PTR st, CK_ULONG sn, CK_OBJECT_HANDLE_PTR pub,
                                    CK_OBJECT_HANDLE_PTR priv)
{
	CK_BYTE modulus[MOCK_MAX_VALUE], secret[8] = {0x5e};
	CK_ULONG bits = 2048;
	CK_RV rv;

	mock_calls.generate_key_pair++;
	for (CK_ULONG i = 0; i < pn; i++)
		if (pt[i].type == CKA_MODULUS_BITS)
			memcpy(&bits, pt[i].pValue, sizeof(bits));
	memset(modulus, 0xc3, sizeof(modulus));
	modulus[0] = (CK_BYTE)mock_calls.generate_key_pair; /* each pair its own modulus */
	rv = make_key(CKO_PUBLIC_KEY, CKK_RSA, true, pt, pn, pub);
	if (rv == CKR_OK)
		rv = make_key(CKO_PRIVATE_KEY, CKK_RSA, true, st, sn, priv);
	if (rv != CKR_OK)
		return rv;
	put(&objects[*pub - 1], CKA_MODULUS, modulus, bits / 8);
	put(&objects[*priv - 1], CKA_MODULUS, modulus, bits / 8);
	put(&objects[*priv - 1], CKA_PRIVATE_EXPONENT, secret, sizeof(secret));
	put(&objects[*priv - 1], CKA_PRIME_1, secret, sizeof(secret));
	put(&objects[*priv - 1], CKA_COEFFICIENT, secret, sizeof(secret));
	return CKR_OK;
}

static CK_RV mock_wrap_key(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                           CK_OBJECT_HANDLE wk, CK_OBJECT_HANDLE key, CK_BYTE_PTR out,
                           CK_ULONG_PTR out_len)
{
	mock_calls.wrap_key++;
	if (out && *out_len >= 40)
		memset(out, 0xab, 40);
	*out_len = 40;
	return CKR_OK;
}

static CK_RV mock_unwrap_key(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                             CK_OBJECT_HANDLE uk, CK_BYTE_PTR in, CK_ULONG in_len,
                             CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR key)
{
	mock_calls.unwrap_key++;
	if (mock_config.unwrap_rv != CKR_OK)
		return mock_config.unwrap_rv;
	return make_key(CKO_SECRET_KEY, CKK_AES, false, t, n, key);
}

static CK_RV mock_derive_key(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                             CK_OBJECT_HANDLE base, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                             CK_OBJECT_HANDLE_PTR key)
{
	mock_calls.derive_key++;
	return make_key(CKO_SECRET_KEY, CKK_GENERIC_SECRET, false, t, n, key);
}

static CK_RV mock_get_session_info(struct hsmux_backend *be, CK_SESSION_HANDLE s,
                                   CK_SESSION_INFO_PTR info)
{
	memset(info, 0, sizeof(*info));
	info->state = mock_config.so ? CKS_RW_SO_FUNCTIONS : CKS_RW_USER_FUNCTIONS;
	info->flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
	return CKR_OK;
}

static CK_RV mock_get_operation_state(struct hsmux_backend *be, CK_SESSION_HANDLE s,
                                      CK_BYTE_PTR state, CK_ULONG_PTR len)
{
	*len = 64;
	return mock_config.operation_state_rv;
}

static CK_RV mock_open_session(struct hsmux_backend *be, CK_SLOT_ID slot, CK_FLAGS flags,
                               CK_SESSION_HANDLE_PTR s)
{
	*s = 2;
	return CKR_OK;
}

static CK_RV mock_close_session(struct hsmux_backend *be, CK_SESSION_HANDLE s)
{
	return CKR_OK;
}

static CK_RV mock_find_objects_init(struct hsmux_backend *be, CK_SESSION_HANDLE s,
                                    CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	if (find_active)
		return CKR_OPERATION_ACTIVE;
	n_find_criteria = 0;
	for (CK_ULONG i = 0; i < n && i < 4 && t[i].ulValueLen <= MOCK_MAX_VALUE; i++) {
		find_criteria[i].type = t[i].type;
		memcpy(find_criteria[i].value, t[i].pValue, t[i].ulValueLen);
		find_criteria[i].len = t[i].ulValueLen;
		n_find_criteria++;
	}
	find_active = true;
	return CKR_OK;
}

static bool matches(struct mock_object *o)
{
	for (CK_ULONG i = 0; i < n_find_criteria; i++) {
		struct mock_attr *a = attr_of(o, find_criteria[i].type);

		if (!a || a->len != find_criteria[i].len ||
		    memcmp(a->value, find_criteria[i].value, a->len) != 0)
			return false;
	}
	return true;
}

static CK_RV mock_find_objects(struct hsmux_backend *be, CK_SESSION_HANDLE s,
                               CK_OBJECT_HANDLE_PTR found, CK_ULONG max, CK_ULONG_PTR count)
{
	*count = 0;
	for (size_t i = 0; i < MOCK_MAX_OBJECTS && *count < max; i++)
		if (objects[i].used && matches(&objects[i]))
			found[(*count)++] = i + 1;
	return CKR_OK;
}

static CK_RV mock_find_objects_final(struct hsmux_backend *be, CK_SESSION_HANDLE s)
{
	find_active = false;
	return CKR_OK;
}

const struct hsmux_backend_ops mock_backend_ops = {
    .type = "mock",
    .get_attribute_value = mock_get_attribute_value,
    .set_attribute_value = mock_set_attribute_value,
    .create_object = mock_create_object,
    .copy_object = mock_copy_object,
    .destroy_object = mock_destroy_object,
    .generate_key = mock_generate_key,
    .generate_key_pair = mock_generate_key_pair,
    .wrap_key = mock_wrap_key,
    .unwrap_key = mock_unwrap_key,
    .derive_key = mock_derive_key,
    .get_session_info = mock_get_session_info,
    .get_operation_state = mock_get_operation_state,
    .open_session = mock_open_session,
    .close_session = mock_close_session,
    .find_objects_init = mock_find_objects_init,
    .find_objects = mock_find_objects,
    .find_objects_final = mock_find_objects_final,
};

struct hsmux_session_ref mock_reset(struct hsmux_backend *be, struct hsmux_backend_policy *policy)
{
	/* Handles start again at 1, so nothing cached may survive. */
	hsmux_policy_forget_all();
	memset(objects, 0, sizeof(objects));
	memset(&mock_calls, 0, sizeof(mock_calls));
	memset(&mock_config, 0, sizeof(mock_config));
	find_active = false;
	n_last_get = 0;
	memset(be, 0, sizeof(*be));
	be->ops = &mock_backend_ops;
	be->name = "mock";
	be->policy = policy;
	return (struct hsmux_session_ref){.be = be, .bsess = 1, .vslot = 0};
}
