/*
 * Fuzzes the policy's template and attribute parsing: the input becomes a
 * call (which C_* function, which policy settings) and one or two
 * templates, nested templates included, run over the mock backend of the
 * policy tests. Besides ASan, the target checks the rules themselves. It
 * aborts when a call that succeeded left a private or secret key readable
 * or with both a wrap and an encrypt role. It also aborts when a read
 * returned a secret component of a protected key.
 *
 * Input: byte 0 picks the call, byte 1 the settings, the rest are
 * attributes. Each attribute is a type byte (an index into a table of
 * types, its top bit asking for a NULL value with a length), a length
 * byte and the value; a nested template's value holds attributes in turn.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "module/policy/policy.h"
#include "tests/policy/mock_backend.h"
#include "tests/policy/policy_fixture.h"

#define MAX_ATTRS  24
#define MAX_NESTED 8

static const CK_ATTRIBUTE_TYPE types[] = {
    CKA_CLASS,
    CKA_KEY_TYPE,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_SENSITIVE,
    CKA_EXTRACTABLE,
    CKA_WRAP_WITH_TRUSTED,
    CKA_TRUSTED,
    CKA_LOCAL,
    CKA_ALWAYS_SENSITIVE,
    CKA_NEVER_EXTRACTABLE,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_DERIVE,
    CKA_VALUE,
    CKA_VALUE_LEN,
    CKA_MODULUS,
    CKA_MODULUS_BITS,
    CKA_PRIME_1,
    CKA_PRIVATE_EXPONENT,
    CKA_WRAP_TEMPLATE,
    CKA_UNWRAP_TEMPLATE,
    CKA_DERIVE_TEMPLATE,
    CKA_LABEL,
    CKA_ALLOWED_MECHANISMS,
    CKA_KEY_GEN_MECHANISM,
    CKA_EC_PARAMS,
    0x80001234UL,
};

struct decoder {
	uint8_t *p;
	size_t left;
	CK_ATTRIBUTE nested[MAX_ATTRS][MAX_NESTED];
	size_t n_nested;
};

static bool take(struct decoder *d, uint8_t *byte)
{
	if (!d->left)
		return false;
	*byte = *d->p++;
	d->left--;
	return true;
}

static bool is_nested(CK_ATTRIBUTE_TYPE type)
{
	return type == CKA_WRAP_TEMPLATE || type == CKA_UNWRAP_TEMPLATE ||
	       type == CKA_DERIVE_TEMPLATE;
}

static CK_ULONG decode(struct decoder *d, CK_ATTRIBUTE *out, CK_ULONG max, bool inner);

/* Decodes one attribute; a nested template borrows its value bytes. */
static bool decode_one(struct decoder *d, CK_ATTRIBUTE *a, bool inner)
{
	uint8_t sel, len;

	if (!take(d, &sel) || !take(d, &len))
		return false;
	a->type = types[(sel & 0x7f) % (sizeof(types) / sizeof(types[0]))];
	if (len > d->left)
		len = (uint8_t)d->left;
	if (sel & 0x80) {
		/* No value: an empty one, or a length that the NULL pointer does not hold. */
		a->pValue = NULL;
		a->ulValueLen = len == 1 ? CK_UNAVAILABLE_INFORMATION : len;
		return true;
	}
	if (is_nested(a->type) && !inner && d->n_nested < MAX_ATTRS) {
		struct decoder sub = {.p = d->p, .left = len};
		CK_ATTRIBUTE *slot = d->nested[d->n_nested++];
		CK_ULONG n = decode(&sub, slot, MAX_NESTED, true);

		a->pValue = slot;
		a->ulValueLen = n * sizeof(CK_ATTRIBUTE) + (len & 1 ? 0 : len % 3);
		d->p += len;
		d->left -= len;
		return true;
	}
	a->pValue = d->p;
	a->ulValueLen = len;
	d->p += len;
	d->left -= len;
	return true;
}

static CK_ULONG decode(struct decoder *d, CK_ATTRIBUTE *out, CK_ULONG max, bool inner)
{
	CK_ULONG n = 0;

	while (n < max && decode_one(d, &out[n], inner))
		n++;
	return n;
}

static void check_key(CK_OBJECT_HANDLE key)
{
	CK_OBJECT_CLASS cls = mock_class(key);
	bool wraps = mock_bool(key, CKA_WRAP) || mock_bool(key, CKA_UNWRAP);
	bool crypts = mock_bool(key, CKA_ENCRYPT) || mock_bool(key, CKA_DECRYPT);

	if (!mock_exists(key))
		return;
	if ((cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY) && !mock_bool(key, CKA_SENSITIVE))
		abort();
	if ((cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_PUBLIC_KEY) && wraps &&
	    crypts)
		abort();
}

static void check_read(CK_OBJECT_HANDLE key, const CK_ATTRIBUTE *t, CK_ULONG n, CK_RV rv)
{
	CK_OBJECT_CLASS cls = mock_class(key);
	bool secret_class = cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY;

	if (!secret_class || !mock_bool(key, CKA_SENSITIVE) || rv == CKR_ARGUMENTS_BAD)
		return;
	for (CK_ULONG i = 0; i < n; i++)
		if ((t[i].type == CKA_VALUE || t[i].type == CKA_PRIME_1 ||
		     t[i].type == CKA_PRIVATE_EXPONENT) &&
		    t[i].ulValueLen != CK_UNAVAILABLE_INFORMATION)
			abort();
}

static const char *const *settings_of(uint8_t bits)
{
	static const char *const variants[8][4] = {
	    {"policy = strict", NULL},
	    {"policy = strict", "weak-template = reject", NULL},
	    {"extractable = trusted-wrap", NULL},
	    {"extractable = trusted-wrap", "weak-template = reject", NULL},
	    {"policy = compat", NULL},
	    {"policy = compat", "weak-template = reject", NULL},
	    {"policy = compat", "extractable = trusted-wrap", NULL},
	    {"policy = compat", "extractable = no", NULL},
	};

	return variants[bits & 7];
}

/* Makes an existing key for the calls that act on one: sensitive, or an old readable one. */
static CK_OBJECT_HANDLE existing_key(uint8_t bits)
{
	static const CK_BYTE value[32] = {7};
	CK_BBOOL sensitive = (bits & 0x10) != 0, usage = (bits & 0x20) != 0;
	CK_ULONG len = sizeof(value);
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &class_secret, sizeof(class_secret)},
	    {CKA_KEY_TYPE, &type_aes, sizeof(type_aes)},
	    {CKA_VALUE, (CK_VOID_PTR)value, sizeof(value)},
	    {CKA_VALUE_LEN, &len, sizeof(len)},
	    {CKA_SENSITIVE, &sensitive, 1},
	    {CKA_EXTRACTABLE, &usage, 1},
	    {CKA_WRAP, &usage, 1},
	    {CKA_UNWRAP, &usage, 1},
	    {CKA_DERIVE, &yes, 1},
	    {CKA_LOCAL, &yes, 1},
	};

	return mock_add(t, sizeof(t) / sizeof(t[0]));
}

static void run_call(const struct hsmux_session_ref *s, uint8_t op, uint8_t bits, CK_ATTRIBUTE *a,
                     CK_ULONG na, CK_ATTRIBUTE *b, CK_ULONG nb)
{
	CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0}, pair = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_MECHANISM kw = {CKM_AES_KEY_WRAP, NULL, 0};
	CK_MECHANISM derive = {CKM_AES_ECB_ENCRYPT_DATA, NULL, 0};
	CK_OBJECT_HANDLE base = existing_key(bits), key = CK_INVALID_HANDLE, key2;
	CK_BYTE blob[40] = {0};
	CK_RV rv;

	switch (op % 8) {
	case 0:
		rv = hsmux_policy_generate_key(s, &gen, a, na, &key);
		break;
	case 1:
		rv = hsmux_policy_generate_key_pair(s, &pair, a, na, b, nb, &key2, &key);
		if (rv == CKR_OK)
			check_key(key2);
		break;
	case 2:
		rv = hsmux_policy_create_object(s, a, na, &key);
		break;
	case 3:
		rv = hsmux_policy_copy_object(s, base, a, na, &key);
		break;
	case 4:
		rv = hsmux_policy_set_attribute_value(s, base, a, na);
		/* SENSITIVE never goes back to FALSE. */
		if ((bits & 0x10) && !mock_bool(base, CKA_SENSITIVE))
			abort();
		return;
	case 5:
		rv = hsmux_policy_get_attribute_value(s, base, a, na);
		check_read(base, a, na, rv);
		return;
	case 6:
		rv = hsmux_policy_unwrap_key(s, &kw, base, blob, sizeof(blob), a, na, &key);
		break;
	default:
		rv = hsmux_policy_derive_key(s, &derive, base, a, na, &key);
		break;
	}
	if (rv == CKR_OK && key != base)
		check_key(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The decoder is large (its nested arrays), so it is static, not on the stack. */
	static struct decoder d;
	CK_ATTRIBUTE a[MAX_ATTRS], b[MAX_ATTRS];
	CK_ULONG na, nb = 0;
	struct hsmux_session_ref s;
	uint8_t op, bits;

	/* C_GetAttributeValue writes into the values, so they live in a copy of the input. */
	static uint8_t copy[4096];

	if (size < 2 || size > sizeof(copy))
		return 0;
	memcpy(copy, data, size);
	op = copy[0];
	bits = copy[1];
	memset(&d, 0, sizeof(d));
	d.p = copy + 2;
	d.left = size - 2;
	s = fixture_start(settings_of(bits));
	mock_config.so = (bits & 0x08) != 0;
	na = decode(&d, a, MAX_ATTRS / 2, false);
	if (op % 8 == 1)
		nb = decode(&d, b, MAX_ATTRS / 2, false);
	run_call(&s, op, bits, a, na, b, nb);
	fixture_stop();
	return 0;
}
