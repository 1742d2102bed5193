/* Verdicts, key builders and local crypto shared by every attack. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "tests/attack/attack.h"

static CK_BBOOL ck_true = CK_TRUE;
static CK_BBOOL ck_false = CK_FALSE;

struct flag_attr {
	unsigned int flag;
	CK_ATTRIBUTE_TYPE type;
};

static const struct flag_attr secret_flags[] = {
    {KEY_ENCRYPT, CKA_ENCRYPT},
    {KEY_DECRYPT, CKA_DECRYPT},
    {KEY_WRAP, CKA_WRAP},
    {KEY_UNWRAP, CKA_UNWRAP},
    {KEY_SIGN, CKA_SIGN},
    {KEY_VERIFY, CKA_VERIFY},
    {KEY_DERIVE, CKA_DERIVE},
    {KEY_SENSITIVE, CKA_SENSITIVE},
    {KEY_EXTRACTABLE, CKA_EXTRACTABLE},
    {KEY_WRAP_WITH_TRUSTED, CKA_WRAP_WITH_TRUSTED},
};

const char *attack_rv_name(CK_RV rv)
{
	static const struct {
		CK_RV rv;
		const char *name;
	} names[] = {
#define RV_NAME(x) {x, #x}
	    RV_NAME(CKR_OK),
	    RV_NAME(CKR_GENERAL_ERROR),
	    RV_NAME(CKR_FUNCTION_FAILED),
	    RV_NAME(CKR_ARGUMENTS_BAD),
	    RV_NAME(CKR_ATTRIBUTE_READ_ONLY),
	    RV_NAME(CKR_ATTRIBUTE_SENSITIVE),
	    RV_NAME(CKR_ATTRIBUTE_TYPE_INVALID),
	    RV_NAME(CKR_ATTRIBUTE_VALUE_INVALID),
	    RV_NAME(CKR_DATA_INVALID),
	    RV_NAME(CKR_ENCRYPTED_DATA_INVALID),
	    RV_NAME(CKR_FUNCTION_NOT_SUPPORTED),
	    RV_NAME(CKR_KEY_SIZE_RANGE),
	    RV_NAME(CKR_KEY_TYPE_INCONSISTENT),
	    RV_NAME(CKR_KEY_FUNCTION_NOT_PERMITTED),
	    RV_NAME(CKR_KEY_HANDLE_INVALID),
	    RV_NAME(CKR_KEY_INDIGESTIBLE),
	    RV_NAME(CKR_SAVED_STATE_INVALID),
	    RV_NAME(CKR_UNWRAPPING_KEY_SIZE_RANGE),
	    RV_NAME(CKR_KEY_NOT_WRAPPABLE),
	    RV_NAME(CKR_KEY_UNEXTRACTABLE),
	    RV_NAME(CKR_MECHANISM_INVALID),
	    RV_NAME(CKR_MECHANISM_PARAM_INVALID),
	    RV_NAME(CKR_OPERATION_ACTIVE),
	    RV_NAME(CKR_TEMPLATE_INCOMPLETE),
	    RV_NAME(CKR_TEMPLATE_INCONSISTENT),
	    RV_NAME(CKR_UNWRAPPING_KEY_HANDLE_INVALID),
	    RV_NAME(CKR_WRAPPED_KEY_INVALID),
	    RV_NAME(CKR_WRAPPING_KEY_HANDLE_INVALID),
	    RV_NAME(CKR_WRAPPING_KEY_SIZE_RANGE),
	    RV_NAME(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
	    RV_NAME(CKR_STATE_UNSAVEABLE),
	    RV_NAME(CKR_USER_NOT_LOGGED_IN),
#undef RV_NAME
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].rv == rv)
			return names[i].name;
	return "an unlisted CK_RV";
}

bool attack_blocked(struct attack_result *res, const char *step, CK_RV rv)
{
	if (rv == CKR_FUNCTION_NOT_SUPPORTED) {
		res->verdict = ATTACK_NA;
		res->rv = rv;
		snprintf(res->detail, sizeof(res->detail), "module lacks %s", step);
		return false;
	}
	res->verdict = ATTACK_BLOCKED;
	res->rv = rv;
	snprintf(res->detail, sizeof(res->detail), "%s returned %s (0x%lx)", step,
	         attack_rv_name(rv), (unsigned long)rv);
	return false;
}

bool attack_na(struct attack_result *res, CK_MECHANISM_TYPE mech)
{
	res->verdict = ATTACK_NA;
	res->rv = CKR_MECHANISM_INVALID;
	snprintf(res->detail, sizeof(res->detail), "module lacks mechanism 0x%lx",
	         (unsigned long)mech);
	return false;
}

void attack_succeeded(struct attack_result *res, const char *how)
{
	res->verdict = ATTACK_SUCCEEDED;
	res->rv = CKR_OK;
	snprintf(res->detail, sizeof(res->detail), "%s", how);
}

void attack_compare(struct attack_result *res, const char *how, const CK_BYTE *got,
                    CK_ULONG got_len, const CK_BYTE *known, CK_ULONG known_len)
{
	if (got_len != known_len || CRYPTO_memcmp(got, known, known_len) != 0) {
		res->verdict = ATTACK_BLOCKED;
		res->rv = CKR_OK;
		snprintf(res->detail, sizeof(res->detail),
		         "%s: recovered %lu bytes that differ from the key", how,
		         (unsigned long)got_len);
		return;
	}
	attack_succeeded(res, how);
}

bool attack_has_mech(const struct attack_ctx *ctx, CK_MECHANISM_TYPE mech)
{
	for (CK_ULONG i = 0; i < ctx->n_mechs; i++)
		if (ctx->mechs[i] == mech)
			return true;
	return false;
}

bool attack_need_mech(const struct attack_ctx *ctx, struct attack_result *res,
                      CK_MECHANISM_TYPE mech)
{
	if (attack_has_mech(ctx, mech))
		return true;
	return attack_na(res, mech);
}

static CK_ULONG add_flags(CK_ATTRIBUTE *t, CK_ULONG n, unsigned int flags, unsigned int mask)
{
	for (size_t i = 0; i < sizeof(secret_flags) / sizeof(secret_flags[0]); i++) {
		if (!(secret_flags[i].flag & mask))
			continue;
		t[n].type = secret_flags[i].type;
		t[n].pValue = (flags & secret_flags[i].flag) ? &ck_true : &ck_false;
		t[n].ulValueLen = sizeof(CK_BBOOL);
		n++;
	}
	return n;
}

CK_RV attack_gen_aes(struct attack_ctx *ctx, CK_ULONG bytes, unsigned int flags,
                     CK_OBJECT_HANDLE *key)
{
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_ATTRIBUTE t[16] = {
	    {CKA_TOKEN, &ck_false, sizeof(ck_false)},
	    {CKA_VALUE_LEN, &bytes, sizeof(bytes)},
	};
	CK_ULONG n = add_flags(t, 2, flags, ~0u);

	return ctx->fl->C_GenerateKey(ctx->session, &mech, t, n, key);
}

CK_RV attack_create_aes(struct attack_ctx *ctx, const CK_BYTE *value, CK_ULONG len,
                        unsigned int flags, CK_OBJECT_HANDLE *key)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ATTRIBUTE t[16] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &kt, sizeof(kt)},
	    {CKA_TOKEN, &ck_false, sizeof(ck_false)},
	    {CKA_VALUE, (CK_VOID_PTR)value, len},
	};
	CK_ULONG n = add_flags(t, 4, flags, ~0u);

	return ctx->fl->C_CreateObject(ctx->session, t, n, key);
}

CK_RV attack_gen_rsa(struct attack_ctx *ctx, CK_ULONG bits, unsigned int pub_flags,
                     unsigned int priv_flags, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_BYTE e[] = {0x01, 0x00, 0x01};
	CK_ATTRIBUTE pt[12] = {
	    {CKA_TOKEN, &ck_false, sizeof(ck_false)},
	    {CKA_MODULUS_BITS, &bits, sizeof(bits)},
	    {CKA_PUBLIC_EXPONENT, e, sizeof(e)},
	};
	CK_ATTRIBUTE st[12] = {
	    {CKA_TOKEN, &ck_false, sizeof(ck_false)},
	    {CKA_PRIVATE, &ck_true, sizeof(ck_true)},
	};
	unsigned int pub_mask = KEY_ENCRYPT | KEY_WRAP | KEY_VERIFY;
	unsigned int priv_mask =
	    KEY_DECRYPT | KEY_UNWRAP | KEY_SIGN | KEY_DERIVE | KEY_SENSITIVE | KEY_EXTRACTABLE;
	CK_ULONG pn = add_flags(pt, 3, pub_flags, pub_mask);
	CK_ULONG sn = add_flags(st, 2, priv_flags, priv_mask);

	return ctx->fl->C_GenerateKeyPair(ctx->session, &mech, pt, pn, st, sn, pub, priv);
}

CK_RV attack_set_bool(struct attack_ctx *ctx, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                      CK_BBOOL value)
{
	CK_ATTRIBUTE a = {type, &value, sizeof(value)};

	return ctx->fl->C_SetAttributeValue(ctx->session, obj, &a, 1);
}

CK_RV attack_copy_bool(struct attack_ctx *ctx, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                       CK_BBOOL value, CK_OBJECT_HANDLE *copy)
{
	CK_ATTRIBUTE a = {type, &value, sizeof(value)};

	return ctx->fl->C_CopyObject(ctx->session, obj, &a, 1, copy);
}

CK_RV attack_get_attr(struct attack_ctx *ctx, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                      CK_BYTE *buf, CK_ULONG *len)
{
	CK_ATTRIBUTE a = {type, buf, *len};
	CK_RV rv = ctx->fl->C_GetAttributeValue(ctx->session, obj, &a, 1);

	*len = a.ulValueLen;
	return rv;
}

CK_RV attack_make_target(struct attack_ctx *ctx, unsigned int extra_flags, CK_BYTE value[32],
                         CK_OBJECT_HANDLE *key)
{
	unsigned int flags = KEY_SENSITIVE | KEY_ENCRYPT | extra_flags;
	CK_RV rv;

	attack_random(value, 32);
	rv = attack_create_aes(ctx, value, 32, flags, key);
	if (rv == CKR_TEMPLATE_INCONSISTENT || rv == CKR_ATTRIBUTE_VALUE_INVALID)
		rv = attack_create_aes(ctx, value, 32, KEY_SENSITIVE | KEY_ENCRYPT, key);
	return rv;
}

void attack_recover_by_known_wrap(struct attack_ctx *ctx, CK_OBJECT_HANDLE target,
                                  const CK_BYTE known[32], struct attack_result *res)
{
	CK_MECHANISM kw = {CKM_AES_KEY_WRAP, NULL, 0};
	CK_BYTE kek[32], blob[64], out[64];
	CK_ULONG blob_len = sizeof(blob);
	size_t out_len = sizeof(out);
	CK_OBJECT_HANDLE wrapper;
	CK_RV rv;

	if (!attack_need_mech(ctx, res, CKM_AES_KEY_WRAP))
		return;
	attack_random(kek, sizeof(kek));
	rv = attack_create_aes(ctx, kek, sizeof(kek), KEY_WRAP, &wrapper);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_CreateObject(known wrapping key)", rv);
		return;
	}
	rv = ctx->fl->C_WrapKey(ctx->session, &kw, wrapper, target, blob, &blob_len);
	if (rv != CKR_OK) {
		attack_blocked(res, "C_WrapKey(AES-KW, known key)", rv);
		return;
	}
	if (!attack_aes_kw_unwrap(kek, sizeof(kek), blob, blob_len, out, &out_len)) {
		attack_blocked(res, "local AES-KW unwrap", CKR_OK);
		return;
	}
	attack_compare(res, "wrapped under a known key, unwrapped locally", out, out_len, known,
	               32);
	OPENSSL_cleanse(out, sizeof(out));
}

static const EVP_CIPHER *aes_wrap_cipher(size_t kek_len)
{
	switch (kek_len) {
	case 16:
		return EVP_aes_128_wrap();
	case 24:
		return EVP_aes_192_wrap();
	case 32:
		return EVP_aes_256_wrap();
	default:
		return NULL;
	}
}

static bool aes_kw(int enc, const CK_BYTE *kek, size_t kek_len, const CK_BYTE *in, size_t in_len,
                   CK_BYTE *out, size_t *out_len)
{
	const EVP_CIPHER *cipher = aes_wrap_cipher(kek_len);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len = 0, fin = 0;
	bool ok = false;

	if (!cipher || !c || *out_len < in_len + 8)
		goto out;
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex(c, cipher, NULL, kek, NULL, enc) != 1)
		goto out;
	if (EVP_CipherUpdate(c, out, &len, in, (int)in_len) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + len, &fin) != 1)
		goto out;
	*out_len = (size_t)(len + fin);
	ok = true;
out:
	EVP_CIPHER_CTX_free(c);
	return ok;
}

bool attack_aes_kw_unwrap(const CK_BYTE *kek, size_t kek_len, const CK_BYTE *in, size_t in_len,
                          CK_BYTE *out, size_t *out_len)
{
	return aes_kw(0, kek, kek_len, in, in_len, out, out_len);
}

bool attack_aes_kw_wrap(const CK_BYTE *kek, size_t kek_len, const CK_BYTE *in, size_t in_len,
                        CK_BYTE *out, size_t *out_len)
{
	return aes_kw(1, kek, kek_len, in, in_len, out, out_len);
}

bool attack_aes_ecb_encrypt(const CK_BYTE *key, size_t key_len, const CK_BYTE in[16],
                            CK_BYTE out[16])
{
	const EVP_CIPHER *cipher = key_len == 16 ? EVP_aes_128_ecb() : EVP_aes_256_ecb();
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len = 0;
	bool ok = false;

	if (!c || EVP_EncryptInit_ex(c, cipher, NULL, key, NULL) != 1)
		goto out;
	EVP_CIPHER_CTX_set_padding(c, 0);
	ok = EVP_EncryptUpdate(c, out, &len, in, 16) == 1 && len == 16;
out:
	EVP_CIPHER_CTX_free(c);
	return ok;
}

bool attack_sha256(const CK_BYTE *in, size_t len, CK_BYTE out[32])
{
	unsigned int out_len = 0;

	return EVP_Digest(in, len, out, &out_len, EVP_sha256(), NULL) == 1 && out_len == 32;
}

void attack_random(CK_BYTE *buf, size_t len)
{
	if (RAND_bytes(buf, (int)len) != 1) {
		fprintf(stderr, "attack: RAND_bytes failed\n");
		abort();
	}
}
