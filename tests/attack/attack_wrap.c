/*
 * Attacks that get a key out through C_WrapKey: wrap/decrypt with one key,
 * roles set at different times, planted and conjured wrapping keys, weaker
 * wrapping keys and re-import under a weaker template.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "tests/attack/attack.h"

static CK_BBOOL ck_true = CK_TRUE;
static CK_BBOOL ck_false = CK_FALSE;

static CK_RSA_PKCS_OAEP_PARAMS oaep_sha1 = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};

static CK_RV decrypt_once(struct attack_ctx *ctx, CK_MECHANISM *mech, CK_OBJECT_HANDLE key,
                          CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv = ctx->fl->C_DecryptInit(ctx->session, mech, key);

	if (rv != CKR_OK)
		return rv;
	return ctx->fl->C_Decrypt(ctx->session, in, in_len, out, out_len);
}

static CK_RV encrypt_once(struct attack_ctx *ctx, CK_MECHANISM *mech, CK_OBJECT_HANDLE key,
                          CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv = ctx->fl->C_EncryptInit(ctx->session, mech, key);

	if (rv != CKR_OK)
		return rv;
	return ctx->fl->C_Encrypt(ctx->session, in, in_len, out, out_len);
}

/*
 * Inverts RFC 3394 key wrap with single-block AES-ECB decryptions on the
 * token, which is all the attack needs from a key that may decrypt.
 */
static CK_RV kw_invert_with_ecb(struct attack_ctx *ctx, CK_OBJECT_HANDLE key, const CK_BYTE *blob,
                                CK_ULONG blob_len, CK_BYTE *out, CK_ULONG *out_len)
{
	static const CK_BYTE iv[8] = {0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6};
	CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
	CK_ULONG n = blob_len / 8 - 1;
	CK_BYTE a[8], block[16], plain[16];

	if (blob_len % 8 || n < 2 || n * 8 > *out_len)
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	memcpy(a, blob, 8);
	memcpy(out, blob + 8, n * 8);
	for (int j = 5; j >= 0; j--) {
		for (CK_ULONG i = n; i >= 1; i--) {
			CK_ULONG t = n * (CK_ULONG)j + i, plain_len = sizeof(plain);
			CK_RV rv;

			memcpy(block, a, 8);
			for (int b = 0; b < 8; b++)
				block[7 - b] ^= (CK_BYTE)(t >> (8 * b));
			memcpy(block + 8, out + (i - 1) * 8, 8);
			rv = decrypt_once(ctx, &ecb, key, block, 16, plain, &plain_len);
			if (rv != CKR_OK)
				return rv;
			memcpy(a, plain, 8);
			memcpy(out + (i - 1) * 8, plain + 8, 8);
		}
	}
	if (CRYPTO_memcmp(a, iv, 8) != 0)
		return CKR_ENCRYPTED_DATA_INVALID;
	*out_len = n * 8;
	return CKR_OK;
}

/* Builds an RFC 3394 key wrap blob with single-block AES-ECB encryptions on the token. */
static CK_RV kw_build_with_ecb(struct attack_ctx *ctx, CK_OBJECT_HANDLE key, const CK_BYTE *plain,
                               CK_ULONG plain_len, CK_BYTE *blob)
{
	CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
	CK_ULONG n = plain_len / 8;
	CK_BYTE block[16], cipher[16];

	memset(blob, 0xa6, 8);
	memcpy(blob + 8, plain, plain_len);
	for (int j = 0; j <= 5; j++) {
		for (CK_ULONG i = 1; i <= n; i++) {
			CK_ULONG t = n * (CK_ULONG)j + i, cipher_len = sizeof(cipher);
			CK_RV rv;

			memcpy(block, blob, 8);
			memcpy(block + 8, blob + i * 8, 8);
			rv = encrypt_once(ctx, &ecb, key, block, 16, cipher, &cipher_len);
			if (rv != CKR_OK)
				return rv;
			memcpy(blob, cipher, 8);
			for (int b = 0; b < 8; b++)
				blob[7 - b] ^= (CK_BYTE)(t >> (8 * b));
			memcpy(blob + i * 8, cipher + 8, 8);
		}
	}
	return CKR_OK;
}

/*
 * Wraps target under wrapper and gets the plaintext back with decrypter:
 * AES-CBC where the module wraps with it, else AES key wrap inverted by
 * AES-ECB decryption.
 */
static void wrap_then_decrypt(struct attack_ctx *ctx, bool use_cbc, CK_OBJECT_HANDLE wrapper,
                              CK_OBJECT_HANDLE decrypter, CK_OBJECT_HANDLE target,
                              const CK_BYTE known[32], struct attack_result *res)
{
	CK_BYTE iv[16] = {0};
	CK_MECHANISM cbc = {CKM_AES_CBC, iv, sizeof(iv)};
	CK_MECHANISM kw = {CKM_AES_KEY_WRAP, NULL, 0};
	CK_BYTE blob[64], out[64];
	CK_ULONG blob_len = sizeof(blob), out_len = sizeof(out);
	CK_RV rv;

	rv = ctx->fl->C_WrapKey(ctx->session, use_cbc ? &cbc : &kw, wrapper, target, blob,
	                        &blob_len);
	if (rv != CKR_OK) {
		attack_blocked(res, use_cbc ? "C_WrapKey(AES-CBC)" : "C_WrapKey(AES-KW)", rv);
		return;
	}
	if (use_cbc)
		rv = decrypt_once(ctx, &cbc, decrypter, blob, blob_len, out, &out_len);
	else
		rv = kw_invert_with_ecb(ctx, decrypter, blob, blob_len, out, &out_len);
	if (rv != CKR_OK) {
		attack_blocked(res, use_cbc ? "C_Decrypt(AES-CBC)" : "C_Decrypt(AES-ECB)", rv);
		return;
	}
	attack_compare(res,
	               use_cbc ? "wrapped with AES-CBC, decrypted the blob"
	                       : "wrapped with AES-KW, inverted it with AES-ECB decrypt",
	               out, out_len, known, 32);
	OPENSSL_cleanse(out, sizeof(out));
}

/* Picks AES-CBC when the module offers it, else AES-KW and AES-ECB; false sets N/A. */
static bool pick_aes_route(struct attack_ctx *ctx, struct attack_result *res, bool *use_cbc)
{
	*use_cbc = attack_has_mech(ctx, CKM_AES_CBC);
	if (*use_cbc)
		return true;
	return attack_need_mech(ctx, res, CKM_AES_KEY_WRAP) &&
	       attack_need_mech(ctx, res, CKM_AES_ECB);
}

static void aes_role_attack(struct attack_ctx *ctx, struct attack_result *res, bool use_cbc,
                            unsigned int wrapper_flags, int later)
{
	CK_OBJECT_HANDLE target, wrapper, decrypter;
	CK_BYTE known[32];
	CK_RV rv;

	rv = attack_make_target(ctx, KEY_EXTRACTABLE, known, &target);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(target)", rv);
		return;
	}
	rv = attack_gen_aes(ctx, 32, KEY_SENSITIVE | wrapper_flags, &wrapper);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_GenerateKey(wrapping key)", rv);
		return;
	}
	decrypter = wrapper;
	if (later == 1)
		rv = attack_set_bool(ctx, wrapper, CKA_DECRYPT, CK_TRUE);
	else if (later == 2)
		rv = attack_copy_bool(ctx, wrapper, CKA_DECRYPT, CK_TRUE, &decrypter);
	if (rv != CKR_OK) {
		attack_blocked(res,
		               later == 1 ? "C_SetAttributeValue(DECRYPT=TRUE)"
		                          : "C_CopyObject(DECRYPT=TRUE)",
		               rv);
		return;
	}
	wrap_then_decrypt(ctx, use_cbc, wrapper, decrypter, target, known, res);
}

void attack_wrap_decrypt_cbc(struct attack_ctx *ctx, struct attack_result *res)
{
	if (!attack_need_mech(ctx, res, CKM_AES_CBC))
		return;
	aes_role_attack(ctx, res, true, KEY_WRAP | KEY_DECRYPT, 0);
}

void attack_wrap_decrypt_kw_ecb(struct attack_ctx *ctx, struct attack_result *res)
{
	if (!attack_need_mech(ctx, res, CKM_AES_KEY_WRAP) ||
	    !attack_need_mech(ctx, res, CKM_AES_ECB))
		return;
	aes_role_attack(ctx, res, false, KEY_WRAP | KEY_DECRYPT, 0);
}

void attack_roles_set_later(struct attack_ctx *ctx, struct attack_result *res)
{
	bool use_cbc;

	if (pick_aes_route(ctx, res, &use_cbc))
		aes_role_attack(ctx, res, use_cbc, KEY_WRAP, 1);
}

void attack_roles_copy_later(struct attack_ctx *ctx, struct attack_result *res)
{
	bool use_cbc;

	if (pick_aes_route(ctx, res, &use_cbc))
		aes_role_attack(ctx, res, use_cbc, KEY_WRAP, 2);
}

static void oaep_role_attack(struct attack_ctx *ctx, struct attack_result *res, bool later)
{
	CK_MECHANISM oaep = {CKM_RSA_PKCS_OAEP, &oaep_sha1, sizeof(oaep_sha1)};
	unsigned int priv_flags = KEY_SENSITIVE | (later ? KEY_SIGN : KEY_DECRYPT);
	CK_OBJECT_HANDLE target, pub, priv;
	CK_BYTE known[32], blob[512], out[512];
	CK_ULONG blob_len = sizeof(blob), out_len = sizeof(out);
	CK_RV rv;

	if (!attack_need_mech(ctx, res, CKM_RSA_PKCS_OAEP) ||
	    !attack_need_mech(ctx, res, CKM_RSA_PKCS_KEY_PAIR_GEN))
		return;
	rv = attack_make_target(ctx, KEY_EXTRACTABLE, known, &target);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(target)", rv);
		return;
	}
	rv = attack_gen_rsa(ctx, 2048, KEY_WRAP, priv_flags, &pub, &priv);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_GenerateKeyPair(WRAP, DECRYPT)", rv);
		return;
	}
	if (later) {
		rv = attack_set_bool(ctx, priv, CKA_DECRYPT, CK_TRUE);
		if (rv != CKR_OK) {
			attack_blocked(res, "C_SetAttributeValue(private DECRYPT=TRUE)", rv);
			return;
		}
	}
	rv = ctx->fl->C_WrapKey(ctx->session, &oaep, pub, target, blob, &blob_len);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_WrapKey(RSA-OAEP)", rv);
		return;
	}
	rv = decrypt_once(ctx, &oaep, priv, blob, blob_len, out, &out_len);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_Decrypt(RSA-OAEP)", rv);
		return;
	}
	attack_compare(res, "wrapped with the public key, decrypted with the private key", out,
	               out_len, known, 32);
	OPENSSL_cleanse(out, sizeof(out));
}

void attack_wrap_decrypt_oaep(struct attack_ctx *ctx, struct attack_result *res)
{
	oaep_role_attack(ctx, res, false);
}

void attack_roles_oaep_set_later(struct attack_ctx *ctx, struct attack_result *res)
{
	oaep_role_attack(ctx, res, true);
}

/*
 * Plants a wrapping key of known value: the attacker builds its AES key wrap
 * blob with ENCRYPT on a key that may also unwrap, unwraps it as a new
 * wrapping key, and wraps the target under it.
 */
void attack_plant_encrypt_unwrap(struct attack_ctx *ctx, struct attack_result *res)
{
	CK_MECHANISM kw = {CKM_AES_KEY_WRAP, NULL, 0};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE planted_tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_TOKEN, &ck_false, sizeof(CK_BBOOL)},
	    {CKA_WRAP, &ck_true, sizeof(CK_BBOOL)},
	    {CKA_ENCRYPT, &ck_false, sizeof(CK_BBOOL)},
	};
	CK_OBJECT_HANDLE target, key, planted;
	CK_BYTE known[32], plant[32], blob[40], wrapped[64], out[64];
	CK_ULONG wrapped_len = sizeof(wrapped);
	size_t out_len = sizeof(out);
	CK_RV rv;

	if (!attack_need_mech(ctx, res, CKM_AES_KEY_WRAP) ||
	    !attack_need_mech(ctx, res, CKM_AES_ECB))
		return;
	rv = attack_make_target(ctx, KEY_EXTRACTABLE, known, &target);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(target)", rv);
		return;
	}
	rv = attack_gen_aes(ctx, 32, KEY_SENSITIVE | KEY_ENCRYPT | KEY_UNWRAP, &key);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_GenerateKey(ENCRYPT, UNWRAP)", rv);
		return;
	}
	attack_random(plant, sizeof(plant));
	rv = kw_build_with_ecb(ctx, key, plant, sizeof(plant), blob);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_Encrypt(AES-ECB)", rv);
		return;
	}
	rv = ctx->fl->C_UnwrapKey(ctx->session, &kw, key, blob, sizeof(blob), planted_tmpl,
	                          sizeof(planted_tmpl) / sizeof(planted_tmpl[0]), &planted);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_UnwrapKey(planted WRAP key)", rv);
		return;
	}
	rv = ctx->fl->C_WrapKey(ctx->session, &kw, planted, target, wrapped, &wrapped_len);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_WrapKey(planted key)", rv);
		return;
	}
	if (!attack_aes_kw_unwrap(plant, sizeof(plant), wrapped, wrapped_len, out, &out_len)) {
		attack_blocked(res, "local AES-KW unwrap", CKR_OK);
		return;
	}
	attack_compare(res, "planted a known wrapping key, wrapped the target under it", out,
	               out_len, known, 32);
}

void attack_conjure_create_object(struct attack_ctx *ctx, struct attack_result *res)
{
	CK_OBJECT_HANDLE target;
	CK_BYTE known[32];
	CK_RV rv = attack_make_target(ctx, KEY_EXTRACTABLE, known, &target);

	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(target)", rv);
		return;
	}
	attack_recover_by_known_wrap(ctx, target, known, res);
}

/*
 * A weaker-key wrap hands out the target under less protection than it has.
 * Recovering the bytes would take a brute force of the wrapping key, which a
 * test cannot run, so a wrap that the module performs counts as success.
 */
void attack_weak_wrap_aes128(struct attack_ctx *ctx, struct attack_result *res)
{
	CK_MECHANISM kw = {CKM_AES_KEY_WRAP, NULL, 0};
	CK_OBJECT_HANDLE target, wrapper;
	CK_BYTE known[32], blob[64];
	CK_ULONG blob_len = sizeof(blob);
	CK_RV rv;

	if (!attack_need_mech(ctx, res, CKM_AES_KEY_WRAP))
		return;
	rv = attack_make_target(ctx, KEY_EXTRACTABLE, known, &target);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(target)", rv);
		return;
	}
	rv = attack_gen_aes(ctx, 16, KEY_SENSITIVE | KEY_WRAP, &wrapper);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_GenerateKey(AES-128 WRAP)", rv);
		return;
	}
	rv = ctx->fl->C_WrapKey(ctx->session, &kw, wrapper, target, blob, &blob_len);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_WrapKey(AES-128 over AES-256)", rv);
		return;
	}
	attack_succeeded(res, "AES-256 key wrapped under AES-128 (brute force not run)");
}

void attack_weak_wrap_rsa1024(struct attack_ctx *ctx, struct attack_result *res)
{
	CK_MECHANISM oaep = {CKM_RSA_PKCS_OAEP, &oaep_sha1, sizeof(oaep_sha1)};
	CK_OBJECT_HANDLE target, pub, priv;
	CK_BYTE known[32], blob[256];
	CK_ULONG blob_len = sizeof(blob);
	CK_RV rv;

	if (!attack_need_mech(ctx, res, CKM_RSA_PKCS_OAEP) ||
	    !attack_need_mech(ctx, res, CKM_RSA_PKCS_KEY_PAIR_GEN))
		return;
	rv = attack_make_target(ctx, KEY_EXTRACTABLE, known, &target);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(target)", rv);
		return;
	}
	rv = attack_gen_rsa(ctx, 1024, KEY_WRAP, KEY_SENSITIVE | KEY_UNWRAP, &pub, &priv);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_GenerateKeyPair(RSA-1024)", rv);
		return;
	}
	rv = ctx->fl->C_WrapKey(ctx->session, &oaep, pub, target, blob, &blob_len);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_WrapKey(RSA-1024 over AES-256)", rv);
		return;
	}
	attack_succeeded(res, "AES-256 key wrapped under RSA-1024 (factoring not run)");
}

void attack_reimport_nonsensitive(struct attack_ctx *ctx, struct attack_result *res)
{
	CK_MECHANISM kw = {CKM_AES_KEY_WRAP, NULL, 0};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE weak_tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_TOKEN, &ck_false, sizeof(CK_BBOOL)},
	    {CKA_SENSITIVE, &ck_false, sizeof(CK_BBOOL)},
	    {CKA_EXTRACTABLE, &ck_true, sizeof(CK_BBOOL)},
	};
	CK_OBJECT_HANDLE target, wrapper, copy;
	CK_BYTE known[32], blob[64], value[64];
	CK_ULONG blob_len = sizeof(blob), value_len = sizeof(value);
	CK_RV rv;

	if (!attack_need_mech(ctx, res, CKM_AES_KEY_WRAP))
		return;
	rv = attack_make_target(ctx, KEY_EXTRACTABLE, known, &target);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(target)", rv);
		return;
	}
	rv = attack_gen_aes(ctx, 32, KEY_SENSITIVE | KEY_WRAP | KEY_UNWRAP, &wrapper);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_GenerateKey(WRAP, UNWRAP)", rv);
		return;
	}
	rv = ctx->fl->C_WrapKey(ctx->session, &kw, wrapper, target, blob, &blob_len);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_WrapKey(AES-KW)", rv);
		return;
	}
	rv = ctx->fl->C_UnwrapKey(ctx->session, &kw, wrapper, blob, blob_len, weak_tmpl,
	                          sizeof(weak_tmpl) / sizeof(weak_tmpl[0]), &copy);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_UnwrapKey(SENSITIVE=FALSE)", rv);
		return;
	}
	rv = attack_get_attr(ctx, copy, CKA_VALUE, value, &value_len);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_GetAttributeValue(re-imported VALUE)", rv);
		return;
	}
	attack_compare(res, "re-imported as non-sensitive, read CKA_VALUE", value, value_len, known,
	               32);
}
