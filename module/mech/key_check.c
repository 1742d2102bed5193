/* The type and size check of keys that enter through CKM_RSA_AES_KEY_WRAP. */
#include <string.h>

#include "module/mech/mech.h"
#include "module/mech/mech_internal.h"
#include "module/trace.h"

/* DER of the curves that an import accepts, as CKA_EC_PARAMS contains them. */
static const unsigned char oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0xce, 0x3d, 0x03, 0x01, 0x07};
static const unsigned char oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const unsigned char oid_p521[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
static const unsigned char oid_secp256k1[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a};
static const unsigned char oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
/* PKCS#11 3.0 also names Edwards curves by a PrintableString. */
static const unsigned char name_ed25519[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
                                             'd',  's',  '2', '5', '5', '1', '9'};

struct der_value {
	const unsigned char *der;
	size_t len;
};

static const struct der_value ec_curves[] = {
    {oid_p256, sizeof(oid_p256)},
    {oid_p384, sizeof(oid_p384)},
    {oid_p521, sizeof(oid_p521)},
    {oid_secp256k1, sizeof(oid_secp256k1)},
};

static const struct der_value ed_curves[] = {
    {oid_ed25519, sizeof(oid_ed25519)},
    {name_ed25519, sizeof(name_ed25519)},
};

static bool params_match(const unsigned char *params, CK_ULONG len, const struct der_value *allowed,
                         size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (allowed[i].len == len && memcmp(allowed[i].der, params, len) == 0)
			return true;
	return false;
}

static CK_RV check_curve(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
                         const struct der_value *allowed, size_t n)
{
	unsigned char params[64];
	CK_ATTRIBUTE attr = {CKA_EC_PARAMS, params, sizeof(params)};
	CK_RV rv = be->ops->get_attribute_value(be, s, key, &attr, 1);

	if (rv == CKR_BUFFER_TOO_SMALL ||
	    (rv == CKR_OK && !params_match(params, attr.ulValueLen, allowed, n))) {
		hsmux_trace(HSMUX_TRACE_MECH,
		            "import: key %lu is on a curve that hsmux does not import "
		            "(P-256, P-384, P-521, secp256k1 and Ed25519 are accepted)",
		            (unsigned long)key);
		return CKR_CURVE_NOT_SUPPORTED;
	}
	return rv;
}

/* Counts the bits of a big-endian unsigned integer. */
static CK_ULONG integer_bits(const unsigned char *value, CK_ULONG len)
{
	CK_ULONG i = 0;
	unsigned int top;

	while (i < len && value[i] == 0)
		i++;
	if (i == len)
		return 0;
	top = value[i];
	CK_ULONG bits = (len - i - 1) * 8;
	while (top) {
		bits++;
		top >>= 1;
	}
	return bits;
}

static CK_RV check_rsa(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key)
{
	unsigned char modulus[HSMUX_MECH_RSA_MAX_BITS / 8 + 1];
	CK_ATTRIBUTE attr = {CKA_MODULUS, modulus, sizeof(modulus)};
	CK_ULONG bits = 0;
	CK_RV rv = be->ops->get_attribute_value(be, s, key, &attr, 1);

	if (rv == CKR_OK)
		bits = integer_bits(modulus, attr.ulValueLen);
	else if (rv == CKR_BUFFER_TOO_SMALL)
		bits = HSMUX_MECH_RSA_MAX_BITS + 1;
	else
		return rv;
	if (bits < HSMUX_MECH_RSA_MIN_BITS || bits > HSMUX_MECH_RSA_MAX_BITS) {
		hsmux_trace(HSMUX_TRACE_MECH,
		            "import: RSA key %lu has %lu bits; hsmux imports %d to %d bits",
		            (unsigned long)key, (unsigned long)bits, HSMUX_MECH_RSA_MIN_BITS,
		            HSMUX_MECH_RSA_MAX_BITS);
		return CKR_KEY_SIZE_RANGE;
	}
	return CKR_OK;
}

static CK_RV check_aes(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
                       CK_ULONG kwp_len)
{
	CK_ULONG len = 0;
	CK_RV rv = mech_get_ulong(be, s, key, CKA_VALUE_LEN, &len);

	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID)
		return rv;

	/*
	 * SoftHSM 2.6.1 reports CKA_VALUE_LEN 0 for unwrapped keys. RFC 5649
	 * output is the key length rounded up to 8, plus 8, so for AES keys
	 * 24, 32 and 40 bytes mean 16, 24 and 32 bytes.
	 * NOTE: lengths 9 to 31 that are not multiples of 8 pass this check.
	 */
	if ((rv != CKR_OK || len == 0) && kwp_len >= 24 && kwp_len <= 40)
		return CKR_OK;
	if (len != 16 && len != 24 && len != 32) {
		hsmux_trace(HSMUX_TRACE_MECH,
		            "import: AES key %lu has %lu bytes; expected 16, 24 or 32",
		            (unsigned long)key, (unsigned long)len);
		return CKR_KEY_SIZE_RANGE;
	}
	return CKR_OK;
}

CK_RV mech_check_imported_key(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
                              CK_ULONG kwp_len)
{
	CK_ULONG cls = 0, type = 0;
	CK_RV rv;

	rv = mech_get_ulong(be, s, key, CKA_CLASS, &cls);
	if (rv == CKR_OK)
		rv = mech_get_ulong(be, s, key, CKA_KEY_TYPE, &type);
	if (rv != CKR_OK)
		return rv;

	if (cls == CKO_PRIVATE_KEY && type == CKK_RSA)
		return check_rsa(be, s, key);
	if (cls == CKO_PRIVATE_KEY && type == CKK_EC)
		return check_curve(be, s, key, ec_curves, sizeof(ec_curves) / sizeof(ec_curves[0]));
	if (cls == CKO_PRIVATE_KEY && type == CKK_EC_EDWARDS)
		return check_curve(be, s, key, ed_curves, sizeof(ed_curves) / sizeof(ed_curves[0]));
	if (cls == CKO_SECRET_KEY && type == CKK_AES)
		return check_aes(be, s, key, kwp_len);

	hsmux_trace(HSMUX_TRACE_MECH,
	            "import: key %lu has class %lu and key type %lu; hsmux imports RSA, EC and "
	            "Ed25519 private keys and AES secret keys",
	            (unsigned long)key, (unsigned long)cls, (unsigned long)type);
	return CKR_TEMPLATE_INCONSISTENT;
}
