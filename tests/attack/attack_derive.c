/*
 * Attacks through other functions: derive mechanisms that copy key bytes,
 * C_DigestKey, C_GetOperationState, and the PKCS#1 v1.5 unwrap padding
 * oracle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>

#include "tests/attack/attack.h"

static CK_BBOOL ck_true = CK_TRUE;
static CK_BBOOL ck_false = CK_FALSE;

/* Derives a non-sensitive, extractable key from base with mech and compares its value. */
static void derive_and_read(struct attack_ctx *ctx, struct attack_result *res, CK_MECHANISM *mech,
                            CK_OBJECT_HANDLE base, CK_ULONG value_len, const CK_BYTE *expected,
                            const char *how)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_TOKEN, &ck_false, sizeof(CK_BBOOL)},
	    {CKA_SENSITIVE, &ck_false, sizeof(CK_BBOOL)},
	    {CKA_EXTRACTABLE, &ck_true, sizeof(CK_BBOOL)},
	    {CKA_VALUE_LEN, &value_len, sizeof(value_len)},
	};
	CK_OBJECT_HANDLE derived;
	CK_BYTE value[128];
	CK_ULONG len = sizeof(value);
	CK_RV rv;

	rv = ctx->fl->C_DeriveKey(ctx->session, mech, base, t, sizeof(t) / sizeof(t[0]), &derived);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_DeriveKey", rv);
		return;
	}
	rv = attack_get_attr(ctx, derived, CKA_VALUE, value, &len);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_GetAttributeValue(derived CKA_VALUE)", rv);
		return;
	}
	attack_compare(res, how, value, len, expected, value_len);
	OPENSSL_cleanse(value, sizeof(value));
}

/* Makes a sensitive base key with DERIVE, or sets N/A when mech is missing. */
static bool derive_base(struct attack_ctx *ctx, struct attack_result *res, CK_MECHANISM_TYPE mech,
                        CK_BYTE known[32], CK_OBJECT_HANDLE *base)
{
	CK_RV rv;

	if (!attack_need_mech(ctx, res, mech))
		return false;
	rv = attack_make_target(ctx, KEY_EXTRACTABLE | KEY_DERIVE, known, base);
	if (rv != CKR_OK)
		return attack_blocked(res, "C_CreateObject(target)", rv);
	return true;
}

void attack_derive_concat_base_key(struct attack_ctx *ctx, struct attack_result *res)
{
	CK_OBJECT_HANDLE base, other;
	CK_BYTE known[32], other_value[32], expected[64];
	CK_MECHANISM mech = {CKM_CONCATENATE_BASE_AND_KEY, &other, sizeof(other)};
	CK_RV rv;

	if (!derive_base(ctx, res, mech.mechanism, known, &base))
		return;
	attack_random(other_value, sizeof(other_value));
	rv = attack_create_aes(ctx, other_value, sizeof(other_value), KEY_EXTRACTABLE, &other);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(second key)", rv);
		return;
	}
	memcpy(expected, known, 32);
	memcpy(expected + 32, other_value, 32);
	derive_and_read(ctx, res, &mech, base, 64, expected, "CONCATENATE_BASE_AND_KEY");
}

static void derive_with_data(struct attack_ctx *ctx, struct attack_result *res,
                             CK_MECHANISM_TYPE type, const char *how)
{
	CK_OBJECT_HANDLE base;
	CK_BYTE known[32], data[32] = {0}, expected[64];
	CK_KEY_DERIVATION_STRING_DATA param = {data, sizeof(data)};
	CK_MECHANISM mech = {type, &param, sizeof(param)};
	CK_ULONG len = 64;

	if (!derive_base(ctx, res, type, known, &base))
		return;
	if (type == CKM_CONCATENATE_BASE_AND_DATA) {
		memcpy(expected, known, 32);
		memcpy(expected + 32, data, 32);
	} else if (type == CKM_CONCATENATE_DATA_AND_BASE) {
		memcpy(expected, data, 32);
		memcpy(expected + 32, known, 32);
	} else {
		/* XOR with zeros is the base itself. */
		memcpy(expected, known, 32);
		len = 32;
	}
	derive_and_read(ctx, res, &mech, base, len, expected, how);
}

void attack_derive_concat_base_data(struct attack_ctx *ctx, struct attack_result *res)
{
	derive_with_data(ctx, res, CKM_CONCATENATE_BASE_AND_DATA, "CONCATENATE_BASE_AND_DATA");
}

void attack_derive_concat_data_base(struct attack_ctx *ctx, struct attack_result *res)
{
	derive_with_data(ctx, res, CKM_CONCATENATE_DATA_AND_BASE, "CONCATENATE_DATA_AND_BASE");
}

void attack_derive_xor_base_data(struct attack_ctx *ctx, struct attack_result *res)
{
	derive_with_data(ctx, res, CKM_XOR_BASE_AND_DATA, "XOR_BASE_AND_DATA with zeros");
}

void attack_derive_extract_key(struct attack_ctx *ctx, struct attack_result *res)
{
	CK_OBJECT_HANDLE base;
	CK_BYTE known[32];
	CK_ULONG bit = 0; /* CK_EXTRACT_PARAMS: the first bit to take */
	CK_MECHANISM mech = {CKM_EXTRACT_KEY_FROM_KEY, &bit, sizeof(bit)};

	if (!derive_base(ctx, res, mech.mechanism, known, &base))
		return;
	derive_and_read(ctx, res, &mech, base, 16, known, "EXTRACT_KEY_FROM_KEY at bit 0");
}

void attack_digest_key(struct attack_ctx *ctx, struct attack_result *res)
{
	CK_MECHANISM sha256 = {CKM_SHA256, NULL, 0};
	CK_OBJECT_HANDLE target;
	CK_BYTE known[32], digest[32], expected[32];
	CK_ULONG digest_len = sizeof(digest);
	CK_RV rv;

	if (!attack_need_mech(ctx, res, CKM_SHA256))
		return;
	rv = attack_make_target(ctx, 0, known, &target);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(target)", rv);
		return;
	}
	rv = ctx->fl->C_DigestInit(ctx->session, &sha256);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_DigestInit", rv);
		return;
	}
	rv = ctx->fl->C_DigestKey(ctx->session, target);
	if (rv != CKR_OK) {
		/* End the digest so the session is free for the next attack. */
		ctx->fl->C_DigestFinal(ctx->session, digest, &digest_len);
		attack_blocked(res, "C_DigestKey", rv);
		return;
	}
	rv = ctx->fl->C_DigestFinal(ctx->session, digest, &digest_len);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_DigestFinal", rv);
		return;
	}
	attack_sha256(known, sizeof(known), expected);
	attack_compare(res, "SHA-256 of the key equals the digest of the known value", digest,
	               digest_len, expected, sizeof(expected));
}

/* Success is the key's bytes inside the saved state of an active AES encryption. */
void attack_operation_state(struct attack_ctx *ctx, struct attack_result *res)
{
	CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
	CK_OBJECT_HANDLE target;
	CK_BYTE known[32], block[16] = {0}, out[16];
	CK_BYTE *state = NULL;
	CK_ULONG state_len = 0, out_len = sizeof(out);
	CK_RV rv;

	if (!attack_need_mech(ctx, res, CKM_AES_ECB))
		return;
	rv = attack_make_target(ctx, 0, known, &target);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(target)", rv);
		return;
	}
	rv = ctx->fl->C_EncryptInit(ctx->session, &ecb, target);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_EncryptInit", rv);
		return;
	}
	rv = ctx->fl->C_GetOperationState(ctx->session, NULL, &state_len);
	if (rv == CKR_OK && state_len > 0 && (state = malloc(state_len)))
		rv = ctx->fl->C_GetOperationState(ctx->session, state, &state_len);
	ctx->fl->C_Encrypt(ctx->session, block, sizeof(block), out, &out_len);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_GetOperationState", rv);
	} else if (state && memmem(state, state_len, known, sizeof(known))) {
		attack_succeeded(res, "the saved operation state holds the key bytes");
	} else {
		attack_blocked(res, "C_GetOperationState (no key bytes in the state)", rv);
	}
	if (state)
		OPENSSL_cleanse(state, state_len);
	free(state);
}

/*
 * Encrypts a PKCS#1 v1.5 type 2 block with raw RSA in OpenSSL:
 * 00 02 PS 00 payload, or with no 00 separator when conforming is false.
 */
static bool rsa_encrypt_block(const BIGNUM *n, const BIGNUM *e, const CK_BYTE *payload,
                              size_t payload_len, bool conforming, CK_BYTE *out, size_t k)
{
	CK_BYTE block[512];
	BIGNUM *m = NULL, *c = BN_new();
	BN_CTX *bn_ctx = BN_CTX_new();
	bool ok = false;

	if (k > sizeof(block) || payload_len + 11 > k || !c || !bn_ctx)
		goto out;
	attack_random(block, k);
	block[0] = 0x00;
	block[1] = 0x02;
	for (size_t i = 2; i < k; i++)
		if (block[i] == 0)
			block[i] = 0x5a;
	if (conforming) {
		block[k - payload_len - 1] = 0x00;
		memcpy(block + k - payload_len, payload, payload_len);
	}
	m = BN_bin2bn(block, (int)k, NULL);
	ok = m && BN_mod_exp(c, m, e, n, bn_ctx) && BN_bn2binpad(c, out, (int)k) == (int)k;
out:
	BN_free(m);
	BN_free(c);
	BN_CTX_free(bn_ctx);
	return ok;
}

static CK_RV unwrap_v15(struct attack_ctx *ctx, CK_OBJECT_HANDLE priv, CK_BYTE *blob, CK_ULONG len)
{
	CK_MECHANISM v15 = {CKM_RSA_PKCS, NULL, 0};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_TOKEN, &ck_false, sizeof(CK_BBOOL)},
	    {CKA_SENSITIVE, &ck_true, sizeof(CK_BBOOL)},
	};
	CK_OBJECT_HANDLE key;

	return ctx->fl->C_UnwrapKey(ctx->session, &v15, priv, blob, len, t, 4, &key);
}

static BIGNUM *read_public_bn(struct attack_ctx *ctx, CK_OBJECT_HANDLE pub, CK_ATTRIBUTE_TYPE type)
{
	CK_BYTE buf[512];
	CK_ULONG len = sizeof(buf);

	if (attack_get_attr(ctx, pub, type, buf, &len) != CKR_OK)
		return NULL;
	return BN_bin2bn(buf, (int)len, NULL);
}

/*
 * Bleichenbacher's attack needs an unwrap whose return code distinguishes a
 * conforming padding from a broken one. Turning the oracle into key bytes
 * takes many thousands of queries (an estimate that depends on the oracle),
 * so the suite shows the oracle itself: a conforming block with a wrong key
 * length and a block without the 00 separator must get the same code.
 */
void attack_pkcs1_unwrap_oracle(struct attack_ctx *ctx, struct attack_result *res)
{
	CK_OBJECT_HANDLE pub, priv;
	CK_BYTE payload[5], blob_short[256], blob_bad[256];
	BIGNUM *n = NULL, *e = NULL;
	CK_RV rv, rv_short, rv_bad;

	if (!attack_need_mech(ctx, res, CKM_RSA_PKCS) ||
	    !attack_need_mech(ctx, res, CKM_RSA_PKCS_KEY_PAIR_GEN))
		return;
	rv = attack_gen_rsa(ctx, 2048, KEY_WRAP, KEY_SENSITIVE | KEY_UNWRAP, &pub, &priv);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_GenerateKeyPair(UNWRAP)", rv);
		return;
	}
	n = read_public_bn(ctx, pub, CKA_MODULUS);
	e = read_public_bn(ctx, pub, CKA_PUBLIC_EXPONENT);
	attack_random(payload, sizeof(payload));
	if (!n || !e || !rsa_encrypt_block(n, e, payload, 5, true, blob_short, 256) ||
	    !rsa_encrypt_block(n, e, payload, 5, false, blob_bad, 256)) {
		attack_blocked(res, "reading the public key", CKR_GENERAL_ERROR);
		goto out;
	}
	rv_short = unwrap_v15(ctx, priv, blob_short, 256);
	rv_bad = unwrap_v15(ctx, priv, blob_bad, 256);
	if (rv_short != rv_bad) {
		res->verdict = ATTACK_SUCCEEDED;
		res->rv = rv_bad;
		snprintf(res->detail, sizeof(res->detail),
		         "padding oracle: conforming block gives %s, broken padding %s "
		         "(key recovery not run)",
		         attack_rv_name(rv_short), attack_rv_name(rv_bad));
	} else {
		attack_blocked(res, "C_UnwrapKey(RSA-PKCS) for both blocks", rv_bad);
	}
out:
	BN_free(n);
	BN_free(e);
}
