/*
 * Attacks on attributes: flips of SENSITIVE, EXTRACTABLE, WRAP_WITH_TRUSTED
 * and usage attributes through C_SetAttributeValue and C_CopyObject, and
 * direct reads of secret components.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "tests/attack/attack.h"

static CK_BBOOL ck_false = CK_FALSE;

enum flip_route { FLIP_SET, FLIP_COPY };

/* Applies one boolean change by Set or by Copy; *out is the object that carries it. */
static bool flip(struct attack_ctx *ctx, struct attack_result *res, enum flip_route route,
                 CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, CK_BBOOL value,
                 CK_OBJECT_HANDLE *out)
{
	CK_RV rv;

	*out = obj;
	if (route == FLIP_SET)
		rv = attack_set_bool(ctx, obj, type, value);
	else
		rv = attack_copy_bool(ctx, obj, type, value, out);
	if (rv != CKR_OK)
		return attack_blocked(
		    res, route == FLIP_SET ? "C_SetAttributeValue" : "C_CopyObject", rv);
	return true;
}

static void read_value_and_compare(struct attack_ctx *ctx, struct attack_result *res,
                                   CK_OBJECT_HANDLE key, const CK_BYTE *known, const char *how)
{
	CK_BYTE value[64];
	CK_ULONG len = sizeof(value);
	CK_RV rv = attack_get_attr(ctx, key, CKA_VALUE, value, &len);

	if (rv != CKR_OK) {
		attack_blocked(res, "C_GetAttributeValue(CKA_VALUE)", rv);
		return;
	}
	attack_compare(res, how, value, len, known, 32);
	OPENSSL_cleanse(value, sizeof(value));
}

static void flip_sensitive(struct attack_ctx *ctx, struct attack_result *res, enum flip_route route)
{
	CK_OBJECT_HANDLE target, flipped;
	CK_BYTE known[32];
	CK_RV rv = attack_make_target(ctx, 0, known, &target);

	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(target)", rv);
		return;
	}
	if (!flip(ctx, res, route, target, CKA_SENSITIVE, CK_FALSE, &flipped))
		return;
	read_value_and_compare(ctx, res, flipped, known, "SENSITIVE set to FALSE, read CKA_VALUE");
}

void attack_flip_sensitive_set(struct attack_ctx *ctx, struct attack_result *res)
{
	flip_sensitive(ctx, res, FLIP_SET);
}

void attack_flip_sensitive_copy(struct attack_ctx *ctx, struct attack_result *res)
{
	flip_sensitive(ctx, res, FLIP_COPY);
}

/* Makes the target, flips one attribute, and recovers it under a known wrapping key. */
static void flip_then_wrap(struct attack_ctx *ctx, struct attack_result *res, enum flip_route route,
                           unsigned int target_flags, CK_ATTRIBUTE_TYPE type, CK_BBOOL value)
{
	CK_OBJECT_HANDLE target, flipped;
	CK_BYTE known[32];
	CK_RV rv = attack_make_target(ctx, target_flags, known, &target);

	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(target)", rv);
		return;
	}
	if (!flip(ctx, res, route, target, type, value, &flipped))
		return;
	attack_recover_by_known_wrap(ctx, flipped, known, res);
}

void attack_flip_extractable_set(struct attack_ctx *ctx, struct attack_result *res)
{
	flip_then_wrap(ctx, res, FLIP_SET, 0, CKA_EXTRACTABLE, CK_TRUE);
}

void attack_flip_extractable_copy(struct attack_ctx *ctx, struct attack_result *res)
{
	flip_then_wrap(ctx, res, FLIP_COPY, 0, CKA_EXTRACTABLE, CK_TRUE);
}

void attack_flip_wwt_set(struct attack_ctx *ctx, struct attack_result *res)
{
	flip_then_wrap(ctx, res, FLIP_SET, KEY_EXTRACTABLE | KEY_WRAP_WITH_TRUSTED,
	               CKA_WRAP_WITH_TRUSTED, CK_FALSE);
}

void attack_flip_wwt_copy(struct attack_ctx *ctx, struct attack_result *res)
{
	flip_then_wrap(ctx, res, FLIP_COPY, KEY_EXTRACTABLE | KEY_WRAP_WITH_TRUSTED,
	               CKA_WRAP_WITH_TRUSTED, CK_FALSE);
}

/*
 * Conjures a key of known value with no WRAP role, switches WRAP on later,
 * and wraps the target under it.
 */
static void usage_on_later(struct attack_ctx *ctx, struct attack_result *res, enum flip_route route)
{
	CK_MECHANISM kw = {CKM_AES_KEY_WRAP, NULL, 0};
	CK_OBJECT_HANDLE target, key, flipped;
	CK_BYTE known[32], kek[32], blob[64], out[64];
	CK_ULONG blob_len = sizeof(blob);
	size_t out_len = sizeof(out);
	CK_RV rv;

	if (!attack_need_mech(ctx, res, CKM_AES_KEY_WRAP))
		return;
	rv = attack_make_target(ctx, KEY_EXTRACTABLE, known, &target);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(target)", rv);
		return;
	}
	attack_random(kek, sizeof(kek));
	rv = attack_create_aes(ctx, kek, sizeof(kek), KEY_SIGN, &key);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(key without WRAP)", rv);
		return;
	}
	if (!flip(ctx, res, route, key, CKA_WRAP, CK_TRUE, &flipped))
		return;
	rv = ctx->fl->C_WrapKey(ctx->session, &kw, flipped, target, blob, &blob_len);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_WrapKey(WRAP switched on later)", rv);
		return;
	}
	if (!attack_aes_kw_unwrap(kek, sizeof(kek), blob, blob_len, out, &out_len)) {
		attack_blocked(res, "local AES-KW unwrap", CKR_OK);
		return;
	}
	attack_compare(res, "WRAP switched on later, wrapped under the known key", out, out_len,
	               known, 32);
}

void attack_usage_on_later_set(struct attack_ctx *ctx, struct attack_result *res)
{
	usage_on_later(ctx, res, FLIP_SET);
}

void attack_usage_on_later_copy(struct attack_ctx *ctx, struct attack_result *res)
{
	usage_on_later(ctx, res, FLIP_COPY);
}

void attack_read_value(struct attack_ctx *ctx, struct attack_result *res)
{
	CK_OBJECT_HANDLE target;
	CK_BYTE known[32];
	CK_RV rv = attack_make_target(ctx, KEY_EXTRACTABLE, known, &target);

	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(target)", rv);
		return;
	}
	read_value_and_compare(ctx, res, target, known, "read CKA_VALUE of a sensitive key");
}

/* The spec treats a non-extractable key's value as sensitive even with SENSITIVE=FALSE. */
void attack_read_value_nonextractable(struct attack_ctx *ctx, struct attack_result *res)
{
	CK_OBJECT_HANDLE key;
	CK_BYTE known[32];
	CK_RV rv;

	attack_random(known, sizeof(known));
	rv = attack_create_aes(ctx, known, sizeof(known), KEY_ENCRYPT, &key);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(SENSITIVE=FALSE, EXTRACTABLE=FALSE)", rv);
		return;
	}
	read_value_and_compare(ctx, res, key, known, "read CKA_VALUE of a non-extractable key");
}

static BIGNUM *read_bn(struct attack_ctx *ctx, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                       CK_RV *rv)
{
	CK_BYTE buf[1024];
	CK_ULONG len = sizeof(buf);
	BIGNUM *bn;

	*rv = attack_get_attr(ctx, obj, type, buf, &len);
	if (*rv != CKR_OK)
		return NULL;
	bn = BN_bin2bn(buf, (int)len, NULL);
	OPENSSL_cleanse(buf, sizeof(buf));
	return bn;
}

/* Reads each CRT part; success is a prime that divides the public modulus. */
void attack_read_rsa_private(struct attack_ctx *ctx, struct attack_result *res)
{
	static const CK_ATTRIBUTE_TYPE parts[] = {CKA_PRIME_1, CKA_PRIME_2};
	static const CK_ATTRIBUTE_TYPE others[] = {CKA_PRIVATE_EXPONENT, CKA_EXPONENT_1,
	                                           CKA_EXPONENT_2, CKA_COEFFICIENT};
	CK_OBJECT_HANDLE pub, priv;
	BIGNUM *n = NULL, *p = NULL, *rem = BN_new();
	BN_CTX *bn_ctx = BN_CTX_new();
	CK_RV rv;

	if (!attack_need_mech(ctx, res, CKM_RSA_PKCS_KEY_PAIR_GEN))
		goto out;
	rv = attack_gen_rsa(ctx, 2048, KEY_VERIFY, KEY_SENSITIVE | KEY_SIGN, &pub, &priv);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_GenerateKeyPair", rv);
		goto out;
	}
	n = read_bn(ctx, pub, CKA_MODULUS, &rv);
	if (!n) {
		attack_blocked(res, "C_GetAttributeValue(CKA_MODULUS)", rv);
		goto out;
	}
	attack_blocked(res, "C_GetAttributeValue(CKA_PRIME_1)", CKR_ATTRIBUTE_SENSITIVE);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		p = read_bn(ctx, priv, parts[i], &rv);
		if (!p) {
			attack_blocked(res, "C_GetAttributeValue(CRT prime)", rv);
			continue;
		}
		if (!BN_is_one(p) && BN_mod(rem, n, p, bn_ctx) && BN_is_zero(rem)) {
			attack_succeeded(res, "read a CRT prime that divides the modulus");
			goto out;
		}
		BN_clear_free(p);
		p = NULL;
	}
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		BIGNUM *v = read_bn(ctx, priv, others[i], &rv);

		/* Any of these alone breaks the key; a non-zero value counts. */
		if (v && !BN_is_zero(v)) {
			attack_succeeded(res, "read the private exponent or a CRT exponent");
			BN_clear_free(v);
			goto out;
		}
		BN_clear_free(v);
	}
out:
	BN_free(n);
	BN_clear_free(p);
	BN_free(rem);
	BN_CTX_free(bn_ctx);
}

/* Success is a private value d whose d*G is the public point. */
void attack_read_ec_private(struct attack_ctx *ctx, struct attack_result *res)
{
	static const CK_BYTE p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
	                                   0xce, 0x3d, 0x03, 0x01, 0x07};
	static CK_BBOOL ck_true = CK_TRUE;
	CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_ATTRIBUTE pt[] = {
	    {CKA_TOKEN, &ck_false, sizeof(CK_BBOOL)},
	    {CKA_EC_PARAMS, (CK_VOID_PTR)p256_oid, sizeof(p256_oid)},
	    {CKA_VERIFY, &ck_true, sizeof(CK_BBOOL)},
	};
	CK_ATTRIBUTE st[] = {
	    {CKA_TOKEN, &ck_false, sizeof(CK_BBOOL)},
	    {CKA_SIGN, &ck_true, sizeof(CK_BBOOL)},
	    {CKA_SENSITIVE, &ck_true, sizeof(CK_BBOOL)},
	};
	CK_OBJECT_HANDLE pub, priv;
	CK_BYTE point[128];
	CK_ULONG point_len = sizeof(point);
	EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	EC_POINT *q = group ? EC_POINT_new(group) : NULL;
	BIGNUM *d = NULL;
	CK_BYTE derived[65];
	CK_RV rv;

	if (!attack_need_mech(ctx, res, CKM_EC_KEY_PAIR_GEN))
		goto out;
	rv = ctx->fl->C_GenerateKeyPair(ctx->session, &mech, pt, 3, st, 3, &pub, &priv);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_GenerateKeyPair(P-256)", rv);
		goto out;
	}
	d = read_bn(ctx, priv, CKA_VALUE, &rv);
	if (!d) {
		attack_blocked(res, "C_GetAttributeValue(EC CKA_VALUE)", rv);
		goto out;
	}
	rv = attack_get_attr(ctx, pub, CKA_EC_POINT, point, &point_len);
	/* CKA_EC_POINT is a DER OCTET STRING: 04 41 then the 65-byte point. */
	if (rv != CKR_OK || point_len != 67 || !q || !EC_POINT_mul(group, q, d, NULL, NULL, NULL) ||
	    EC_POINT_point2oct(group, q, POINT_CONVERSION_UNCOMPRESSED, derived, sizeof(derived),
	                       NULL) != sizeof(derived)) {
		attack_blocked(res, "C_GetAttributeValue(CKA_EC_POINT)", rv);
		goto out;
	}
	attack_compare(res, "read the EC private value, d*G matches the public point", derived,
	               sizeof(derived), point + 2, 65);
out:
	BN_clear_free(d);
	EC_POINT_free(q);
	EC_GROUP_free(group);
}
