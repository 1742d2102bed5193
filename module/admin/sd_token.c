/* Security-domain operations inside the token, through the session's backend. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "hsmux/admin.h"
#include "module/admin/sd_token.h"
#include "module/entry.h"
#include "module/policy/policy.h"

#define SD_KEY_ID        "hsmux-sd"
#define SD_EXCHANGE_ID   "hsmux-sd-exchange"
#define SD_EXCHANGE_BITS 3072

CK_RV sd_fail(CK_RV rv, char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return rv;
}

CK_RV sd_tok_open(CK_SESSION_HANDLE session, struct sd_tok *t, char *err, size_t err_len)
{
	struct hsmux_session_ref ref;
	struct hsmux_slot_ref slot;
	CK_SESSION_INFO info;
	CK_TOKEN_INFO ti;
	CK_RV rv;

	/*
	 * Admin calls are long (a backup, a restore) and come from the CLI,
	 * which does not fork meanwhile. So they leave the fork gate at once
	 * rather than hold fork() back for their length.
	 */
	rv = hsmux_session_get(session, &ref);
	hsmux_session_put(&ref);
	if (rv == CKR_OK) {
		rv = hsmux_slot_get(ref.vslot, &slot);
		hsmux_slot_put(&slot);
	}
	if (rv != CKR_OK)
		return sd_fail(rv, err, err_len, "the session is not valid (%s)",
		               hsmux_rv_name(rv));
	t->be = ref.be;
	t->bsess = ref.bsess;
	t->vslot = ref.vslot;
	t->bslot = slot.bslot;

	rv = BACKEND_CALL(ref, get_session_info, &info);
	if (rv == CKR_OK && info.state == CKS_RW_PUBLIC_SESSION)
		rv = CKR_USER_NOT_LOGGED_IN;
	else if (rv == CKR_OK && info.state != CKS_RW_USER_FUNCTIONS)
		rv = info.state == CKS_RW_SO_FUNCTIONS ? CKR_USER_NOT_LOGGED_IN
		                                       : CKR_SESSION_READ_ONLY;
	if (rv != CKR_OK)
		return sd_fail(rv, err, err_len,
		               "the token needs a read-write session logged in "
		               "as the user (%s)",
		               hsmux_rv_name(rv));
	rv = BACKEND_SLOT_CALL(slot, get_token_info, &ti);
	if (rv != CKR_OK)
		return sd_fail(rv, err, err_len, "C_GetTokenInfo failed (%s)", hsmux_rv_name(rv));
	sd_token_id_from_info(ti.label, ti.manufacturerID, ti.model, ti.serialNumber, &t->id);
	return CKR_OK;
}

#define SESS(t) ((struct hsmux_session_ref){.be = (t)->be, .bsess = (t)->bsess})

CK_RV sd_tok_find(struct sd_tok *t, CK_OBJECT_CLASS cls, const char *label, CK_OBJECT_HANDLE *obj,
                  int *found, char *err, size_t err_len)
{
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	};
	CK_OBJECT_HANDLE objs[2];
	CK_ULONG n = 0;
	CK_RV rv;

	rv = BACKEND_CALL(SESS(t), find_objects_init, tmpl, 3);
	if (rv != CKR_OK)
		return sd_fail(rv, err, err_len, "C_FindObjectsInit failed (%s)",
		               hsmux_rv_name(rv));
	rv = BACKEND_CALL(SESS(t), find_objects, objs, 2, &n);
	BACKEND_CALL(SESS(t), find_objects_final);
	if (rv != CKR_OK)
		return sd_fail(rv, err, err_len, "C_FindObjects failed (%s)", hsmux_rv_name(rv));
	if (n > 1)
		return sd_fail(CKR_GENERAL_ERROR, err, err_len,
		               "token '%s' holds more than one "
		               "object labelled '%s'; delete the extra one",
		               t->id.label, label);
	*found = (int)n;
	*obj = n ? objs[0] : CK_INVALID_HANDLE;
	return CKR_OK;
}

CK_RV sd_tok_prf(struct sd_tok *t, CK_OBJECT_HANDLE key, const char *label,
                 const unsigned char *data, size_t len, unsigned char out[SD_MAC_LEN])
{
	CK_MECHANISM mech = {CKM_SHA256_HMAC, NULL, 0};
	CK_ULONG out_len = SD_MAC_LEN;
	unsigned char *msg;
	size_t msg_len;
	CK_RV rv;

	msg = sd_prf_message(label, data, len, &msg_len);
	if (!msg)
		return CKR_HOST_MEMORY;
	rv = BACKEND_CALL(SESS(t), sign_init, &mech, key);
	if (rv == CKR_OK)
		rv = BACKEND_CALL(SESS(t), sign, msg, msg_len, out, &out_len);
	if (rv == CKR_OK && out_len != SD_MAC_LEN)
		rv = CKR_GENERAL_ERROR;
	free(msg);
	return rv;
}

CK_RV sd_tok_fingerprint(struct sd_tok *t, CK_OBJECT_HANDLE key, char out[SD_FP_HEX_LEN])
{
	unsigned char fp[SD_MAC_LEN];
	CK_RV rv = sd_tok_prf(t, key, SD_LABEL_FINGERPRINT, NULL, 0, fp);

	if (rv == CKR_OK)
		sd_hex_encode(fp, sizeof(fp), out);
	return rv;
}

/* The attributes every security-domain key has: it can only compute HMACs, inside the token. */
#define SD_KEY_TEMPLATE(cls, type, yes, no, token)                                                 \
	{CKA_CLASS, &(cls), sizeof(cls)}, {CKA_KEY_TYPE, &(type), sizeof(type)},                   \
	    {CKA_TOKEN, &(token), sizeof(token)}, {CKA_PRIVATE, &(yes), sizeof(yes)},              \
	    {CKA_SENSITIVE, &(yes), sizeof(yes)}, {CKA_EXTRACTABLE, &(no), sizeof(no)},            \
	    {CKA_SIGN, &(yes), sizeof(yes)}, {CKA_VERIFY, &(no), sizeof(no)},                      \
	    {CKA_ENCRYPT, &(no), sizeof(no)}, {CKA_DECRYPT, &(no), sizeof(no)},                    \
	    {CKA_WRAP, &(no), sizeof(no)}, {CKA_UNWRAP, &(no), sizeof(no)},                        \
	    {CKA_DERIVE, &(no), sizeof(no)},                                                       \
	    {CKA_LABEL, (void *)HSMUX_SD_KEY_LABEL, sizeof(HSMUX_SD_KEY_LABEL) - 1},               \
	{                                                                                          \
		CKA_ID, (void *)SD_KEY_ID, sizeof(SD_KEY_ID) - 1                                   \
	}

/*
 * The stored key cannot be renamed or deleted through PKCS#11, so a client
 * cannot hide it from the module or drop the token's security domain.
 * C_InitToken still clears the whole token. It stays copyable because
 * SoftHSM 2.6.1 cannot clear CKA_COPYABLE in C_CopyObject, the path of an
 * uploaded key, and a copy is as sensitive and unextractable as the key.
 */
/* SoftHSM 2.6.1 applies attributes in order and rejects any after CKA_MODIFIABLE is false. */
#define SD_KEY_LOCKED(no)                                                                          \
	{CKA_DESTROYABLE, &(no), sizeof(no)},                                                      \
	{                                                                                          \
		CKA_MODIFIABLE, &(no), sizeof(no)                                                  \
	}


/*
 * The admin code makes and destroys objects around the policy, so it drops
 * each object it touches from the policy's attribute cache: a backend may
 * reuse a handle that the cache still describes.
 */
static CK_RV forget_made(struct sd_tok *t, CK_RV rv, CK_OBJECT_HANDLE obj)
{
	if (rv == CKR_OK)
		hsmux_policy_forget_object(t->be, t->bslot, obj);
	return rv;
}

CK_RV sd_tok_create_key(struct sd_tok *t, const struct sd_secret *key, bool token,
                        CK_OBJECT_HANDLE *obj)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE, tok = token ? CK_TRUE : CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_VALUE, key->data, key->len},
	    SD_KEY_TEMPLATE(cls, type, yes, no, tok),
	    SD_KEY_LOCKED(no),
	};
	CK_ULONG count = sizeof(tmpl) / sizeof(tmpl[0]);

	/* A trial session object stays destroyable. */
	return forget_made(t, BACKEND_CALL(SESS(t), create_object, tmpl, token ? count : count - 2,
					   obj),
			   *obj);
}

CK_RV sd_tok_unwrap_key(struct sd_tok *t, CK_OBJECT_HANDLE exchange, const unsigned char *wrapped,
                        size_t len, CK_OBJECT_HANDLE *obj)
{
	CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	/* No CKA_VALUE_LEN: SoftHSM 2.6.1 takes the length from the unwrapped data only. */
	CK_ATTRIBUTE tmpl[] = {SD_KEY_TEMPLATE(cls, type, yes, no, no)};
	CK_RV rv;

	rv = BACKEND_CALL(SESS(t), unwrap_key, &mech, exchange, (CK_BYTE_PTR)wrapped, len, tmpl,
			  sizeof(tmpl) / sizeof(tmpl[0]), obj);
	return forget_made(t, rv, *obj);
}

CK_RV sd_tok_store_copy(struct sd_tok *t, CK_OBJECT_HANDLE trial, CK_OBJECT_HANDLE *obj)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &yes, sizeof(yes)}, SD_KEY_LOCKED(no)};

	return forget_made(t,
			   BACKEND_CALL(SESS(t), copy_object, trial, tmpl,
					sizeof(tmpl) / sizeof(tmpl[0]), obj),
			   *obj);
}

/* RSA-3072 where the token can make it, else RSA-2048 (many TPMs stop there). */
static CK_ULONG exchange_bits(struct sd_tok *t)
{
	struct hsmux_slot_ref slot = {.be = t->be, .bslot = t->bslot};
	CK_MECHANISM_INFO info;

	if (BACKEND_SLOT_CALL(slot, get_mechanism_info, CKM_RSA_PKCS_KEY_PAIR_GEN, &info) ==
	        CKR_OK &&
	    info.ulMaxKeySize < SD_EXCHANGE_BITS)
		return SD_RSA_BITS_MIN;
	return SD_EXCHANGE_BITS;
}

CK_RV sd_tok_generate_exchange(struct sd_tok *t, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = exchange_bits(t);
	CK_BYTE exponent[] = {0x01, 0x00, 0x01};
	CK_ATTRIBUTE pub_tmpl[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_WRAP, &yes, sizeof(yes)},
	    {CKA_ENCRYPT, &no, sizeof(no)},
	    {CKA_VERIFY, &no, sizeof(no)},
	    {CKA_MODULUS_BITS, &bits, sizeof(bits)},
	    {CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)},
	    {CKA_LABEL, (void *)HSMUX_SD_EXCHANGE_LABEL, sizeof(HSMUX_SD_EXCHANGE_LABEL) - 1},
	    {CKA_ID, (void *)SD_EXCHANGE_ID, sizeof(SD_EXCHANGE_ID) - 1},
	};
	CK_ATTRIBUTE priv_tmpl[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)},
	    {CKA_EXTRACTABLE, &no, sizeof(no)},
	    {CKA_UNWRAP, &yes, sizeof(yes)},
	    {CKA_DECRYPT, &no, sizeof(no)},
	    {CKA_SIGN, &no, sizeof(no)},
	    {CKA_LABEL, (void *)HSMUX_SD_EXCHANGE_LABEL, sizeof(HSMUX_SD_EXCHANGE_LABEL) - 1},
	    {CKA_ID, (void *)SD_EXCHANGE_ID, sizeof(SD_EXCHANGE_ID) - 1},
	};

	CK_RV rv = BACKEND_CALL(SESS(t), generate_key_pair, &mech, pub_tmpl, 8, priv_tmpl, 9, pub,
				priv);

	forget_made(t, rv, *pub);
	return forget_made(t, rv, *priv);
}

CK_RV sd_tok_public_key(struct sd_tok *t, CK_OBJECT_HANDLE pub, EVP_PKEY **key)
{
	unsigned char n[1024], e[16];
	CK_ATTRIBUTE tmpl[] = {{CKA_MODULUS, n, sizeof(n)}, {CKA_PUBLIC_EXPONENT, e, sizeof(e)}};
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	CK_RV rv;

	rv = BACKEND_CALL(SESS(t), get_attribute_value, pub, tmpl, 2);
	if (rv != CKR_OK)
		return rv;
	rv = CKR_HOST_MEMORY;
	bn_n = BN_bin2bn(n, (int)tmpl[0].ulValueLen, NULL);
	bn_e = BN_bin2bn(e, (int)tmpl[1].ulValueLen, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	*key = NULL;
	if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, key, EVP_PKEY_PUBLIC_KEY, params) == 1)
		rv = CKR_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	return rv;
}

CK_RV sd_tok_destroy(struct sd_tok *t, CK_OBJECT_HANDLE obj)
{
	CK_RV rv = BACKEND_CALL(SESS(t), destroy_object, obj);

	hsmux_policy_forget_object(t->be, t->bslot, obj);
	return rv;
}
