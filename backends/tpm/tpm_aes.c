/*
 * AES keys live in the TPM as TPM2_ALG_SYMCIPHER objects with no fixed
 * mode, so one key serves CBC and CFB-128. TPM2_EncryptDecrypt2 takes at
 * most one TPM2B_MAX_BUFFER per command, so longer input goes in chunks
 * with the IV carried over.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "backends/tpm/tpm_aes.h"
#include "backends/tpm/tpm_crypto.h"
#include "backends/tpm/tpm_keygen.h"
#include "backends/tpm/tpm_mech.h"

#define AES_BLOCK 16

/* Attributes a CKM_AES_KEY_GEN template may set, stored as given. */
static const CK_ATTRIBUTE_TYPE copied[] = {
    CKA_LABEL,       CKA_ID,      CKA_TOKEN,   CKA_PRIVATE,    CKA_MODIFIABLE,
    CKA_DESTROYABLE, CKA_ENCRYPT, CKA_DECRYPT, CKA_START_DATE, CKA_END_DATE,
};

/* Boolean attributes with a value that the TPM fixes. */
static const struct tpm_attr_default fixed[] = {
    {CKA_SENSITIVE, CK_TRUE},
    {CKA_ALWAYS_SENSITIVE, CK_TRUE},
    {CKA_EXTRACTABLE, CK_FALSE},
    {CKA_NEVER_EXTRACTABLE, CK_TRUE},
    {CKA_SIGN, CK_FALSE},
    {CKA_VERIFY, CK_FALSE},
    {CKA_WRAP, CK_FALSE},
    {CKA_UNWRAP, CK_FALSE},
    {CKA_DERIVE, CK_FALSE},
    {CKA_TRUSTED, CK_FALSE},
    {CKA_WRAP_WITH_TRUSTED, CK_FALSE},
    {CKA_COPYABLE, CK_FALSE},
    {CKA_LOCAL, CK_TRUE},
};

bool tpm_aes_mechanism(CK_MECHANISM_TYPE type)
{
	return type == CKM_AES_CBC || type == CKM_AES_CFB128;
}

static bool is_copied(CK_ATTRIBUTE_TYPE type)
{
	for (size_t i = 0; i < ARRAY_LEN(copied); i++) {
		if (copied[i] == type)
			return true;
	}
	return false;
}

static CK_RV check_attr(const struct tpm_token *tok, const CK_ATTRIBUTE *a, CK_ULONG *len)
{
	CK_ULONG v;
	CK_BBOOL b;

	switch (a->type) {
	case CKA_CLASS:
		return tpm_template_ulong(a, &v) != CKR_OK || v != CKO_SECRET_KEY
		           ? CKR_TEMPLATE_INCONSISTENT
		           : CKR_OK;
	case CKA_KEY_TYPE:
		return tpm_template_ulong(a, &v) != CKR_OK || v != CKK_AES
		           ? CKR_TEMPLATE_INCONSISTENT
		           : CKR_OK;
	case CKA_VALUE_LEN:
		if (tpm_template_ulong(a, len) != CKR_OK)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		if ((*len == 16 && tok->has_aes128) || (*len == 32 && tok->has_aes256))
			return CKR_OK;
		return CKR_KEY_SIZE_RANGE;
	default:
		break;
	}
	for (size_t i = 0; i < ARRAY_LEN(fixed); i++) {
		if (fixed[i].type != a->type)
			continue;
		if (tpm_template_bool(a, &b) != CKR_OK || b != fixed[i].value)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		return CKR_OK;
	}
	if (!is_copied(a->type))
		return CKR_ATTRIBUTE_TYPE_INVALID;
	if (a->type == CKA_LABEL || a->type == CKA_ID || a->type == CKA_START_DATE ||
	    a->type == CKA_END_DATE)
		return a->ulValueLen > TPM_ATTR_VALUE_MAX ? CKR_ATTRIBUTE_VALUE_INVALID : CKR_OK;
	return tpm_template_bool(a, &b);
}

static CK_RV create_key(struct tpm_token *tok, CK_ULONG len, TPM2B_PUBLIC **pub,
                        TPM2B_PRIVATE **priv)
{
	TPM2B_SENSITIVE_CREATE sensitive = {0};
	TPM2B_PUBLIC tmpl = {
	    .publicArea =
	        {
	            .type = TPM2_ALG_SYMCIPHER,
	            .nameAlg = TPM2_ALG_SHA256,
	            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	                                TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
	                                TPMA_OBJECT_NODA | TPMA_OBJECT_DECRYPT |
	                                TPMA_OBJECT_SIGN_ENCRYPT,
	        },
	};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION pcrs = {0};
	TSS2_RC rc;

	tmpl.publicArea.parameters.symDetail.sym.algorithm = TPM2_ALG_AES;
	tmpl.publicArea.parameters.symDetail.sym.keyBits.aes = (TPMI_AES_KEY_BITS)(len * 8);
	tmpl.publicArea.parameters.symDetail.sym.mode.aes = TPM2_ALG_NULL;
	sensitive.sensitive.userAuth.size = TPM_SECRET_LEN;
	memcpy(sensitive.sensitive.userAuth.buffer, tok->secret, TPM_SECRET_LEN);
	rc = Esys_Create(tok->dev.esys, tok->dev.primary, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	                 ESYS_TR_NONE, &sensitive, &tmpl, &outside, &pcrs, priv, pub, NULL, NULL,
	                 NULL);
	OPENSSL_cleanse(&sensitive, sizeof(sensitive));
	return tpm_rc_to_ckr(rc);
}

static CK_RV build_attrs(struct tpm_object *obj, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                         CK_ULONG len, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv)
{
	static const struct tpm_attr_default defaults[] = {
	    {CKA_TOKEN, CK_FALSE},      {CKA_PRIVATE, CK_TRUE}, {CKA_MODIFIABLE, CK_TRUE},
	    {CKA_DESTROYABLE, CK_TRUE}, {CKA_ENCRYPT, CK_TRUE}, {CKA_DECRYPT, CK_TRUE},
	};
	static const CK_ATTRIBUTE_TYPE empty[] = {CKA_LABEL, CKA_ID, CKA_START_DATE, CKA_END_DATE};
	struct tpm_attrs *a = &obj->attrs;
	CK_RV rv = CKR_OK;

	for (CK_ULONG i = 0; i < count && rv == CKR_OK; i++) {
		if (is_copied(tmpl[i].type))
			rv = tpm_attrs_set(a, tmpl[i].type, tmpl[i].pValue, tmpl[i].ulValueLen);
	}
	for (size_t i = 0; i < ARRAY_LEN(defaults) && rv == CKR_OK; i++) {
		if (!tpm_attrs_find(a, defaults[i].type))
			rv = tpm_attrs_set_bool(a, defaults[i].type, defaults[i].value);
	}
	for (size_t i = 0; i < ARRAY_LEN(fixed) && rv == CKR_OK; i++)
		rv = tpm_attrs_set_bool(a, fixed[i].type, fixed[i].value);
	for (size_t i = 0; i < ARRAY_LEN(empty) && rv == CKR_OK; i++) {
		if (!tpm_attrs_find(a, empty[i]))
			rv = tpm_attrs_set(a, empty[i], NULL, 0);
	}
	if (rv == CKR_OK)
		rv = tpm_attrs_set_ulong(a, CKA_CLASS, CKO_SECRET_KEY);
	if (rv == CKR_OK)
		rv = tpm_attrs_set_ulong(a, CKA_KEY_TYPE, CKK_AES);
	if (rv == CKR_OK)
		rv = tpm_attrs_set_ulong(a, CKA_VALUE_LEN, len);
	if (rv == CKR_OK)
		rv = tpm_attrs_set_ulong(a, CKA_KEY_GEN_MECHANISM, CKM_AES_KEY_GEN);
	if (rv == CKR_OK)
		rv = tpm_keygen_blob_attrs(a, pub, priv);
	return rv;
}

static CK_RV check_template(const struct tpm_token *tok, const struct tpm_session *sess,
                            const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_ULONG *len)
{
	for (CK_ULONG i = 0; i < count; i++) {
		CK_RV rv = check_attr(tok, &tmpl[i], len);

		if (rv != CKR_OK)
			return rv;
		if (tmpl[i].type == CKA_TOKEN && *(CK_BBOOL *)tmpl[i].pValue &&
		    !(sess->flags & CKF_RW_SESSION))
			return CKR_SESSION_READ_ONLY;
	}
	return *len ? CKR_OK : CKR_TEMPLATE_INCOMPLETE;
}

CK_RV tpm_aes_generate_locked(struct tpm_token *tok, struct tpm_session *sess,
                              const CK_MECHANISM *mech, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                              CK_OBJECT_HANDLE *h)
{
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_PRIVATE *priv = NULL;
	struct tpm_object *obj = NULL;
	CK_ULONG len = 0;
	CK_RV rv;

	if (mech->mechanism != CKM_AES_KEY_GEN || !(tok->has_aes128 || tok->has_aes256))
		return CKR_MECHANISM_INVALID;
	if (mech->ulParameterLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	rv = check_template(tok, sess, tmpl, count, &len);
	if (rv != CKR_OK)
		return rv;
	if (tok->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;

	rv = create_key(tok, len, &pub, &priv);
	if (rv != CKR_OK)
		return rv;
	obj = tpm_object_new();
	rv = obj ? build_attrs(obj, tmpl, count, len, pub, priv) : CKR_HOST_MEMORY;
	if (rv == CKR_OK && tpm_attrs_bool(&obj->attrs, CKA_TOKEN, false))
		rv = tpm_store_add_locked(tok, &obj, 1);
	else if (obj)
		obj->session = sess->handle;
	if (rv == CKR_OK)
		rv = tpm_object_register_locked(tok, obj);
	if (rv == CKR_OK) {
		*h = obj->handle;
		obj = NULL;
	}
	tpm_object_free(tok, obj);
	Esys_Free(pub);
	Esys_Free(priv);
	return rv;
}

CK_RV tpm_aes_init_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_MECHANISM *mech,
                          CK_OBJECT_HANDLE key, bool decrypt)
{
	struct tpm_object *obj = tpm_object_get_locked(tok, key);
	CK_MECHANISM_INFO info;

	if (sess->op != TPM_OP_NONE)
		return CKR_OPERATION_ACTIVE;
	if (tpm_mech_info(tok, mech->mechanism, &info) != CKR_OK ||
	    !tpm_aes_mechanism(mech->mechanism))
		return CKR_MECHANISM_INVALID;
	if (!obj)
		return CKR_KEY_HANDLE_INVALID;
	if (tpm_attrs_ulong(&obj->attrs, CKA_KEY_TYPE, ~0UL) != CKK_AES)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (!tpm_attrs_bool(&obj->attrs, decrypt ? CKA_DECRYPT : CKA_ENCRYPT, false))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (!mech->pParameter || mech->ulParameterLen != AES_BLOCK)
		return CKR_MECHANISM_PARAM_INVALID;
	if (tok->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;

	memcpy(sess->iv.buffer, mech->pParameter, AES_BLOCK);
	sess->iv.size = AES_BLOCK;
	sess->op = decrypt ? TPM_OP_DECRYPT : TPM_OP_ENCRYPT;
	sess->mech = mech->mechanism;
	sess->key = key;
	return CKR_OK;
}

/* Runs TPM2_EncryptDecrypt2 over in, chunk by chunk, carrying the IV. */
static CK_RV run_cipher(struct tpm_token *tok, struct tpm_session *sess, struct tpm_object *obj,
                        const CK_BYTE *in, CK_ULONG len, CK_BYTE *out)
{
	TPMI_ALG_CIPHER_MODE mode = sess->mech == CKM_AES_CBC ? TPM2_ALG_CBC : TPM2_ALG_CFB;
	TPMI_YES_NO decrypt = sess->op == TPM_OP_DECRYPT ? TPM2_YES : TPM2_NO;
	TPM2B_MAX_BUFFER chunk;
	CK_RV rv = tpm_object_load_locked(tok, obj);

	while (rv == CKR_OK && len > 0) {
		TPM2B_MAX_BUFFER *result = NULL;
		TPM2B_IV *iv = NULL;
		UINT16 n = (UINT16)(len < sizeof(chunk.buffer) ? len : sizeof(chunk.buffer));
		TSS2_RC rc;

		/* The buffer holds whole blocks, so the IV chains from chunk to chunk. */
		chunk.size = n;
		memcpy(chunk.buffer, in, n);
		rc = Esys_EncryptDecrypt2(tok->dev.esys, obj->loaded, ESYS_TR_PASSWORD,
		                          ESYS_TR_NONE, ESYS_TR_NONE, &chunk, decrypt, mode,
		                          &sess->iv, &result, &iv);
		OPENSSL_cleanse(&chunk, sizeof(chunk));
		if (rc != TSS2_RC_SUCCESS)
			return tpm_rc_to_ckr(rc);
		if (result->size != n) {
			rv = CKR_DEVICE_ERROR;
		} else {
			memcpy(out, result->buffer, n);
			sess->iv = *iv;
			out += n;
			in += n;
			len -= n;
		}
		OPENSSL_cleanse(result, sizeof(*result));
		Esys_Free(result);
		Esys_Free(iv);
	}
	return rv;
}

CK_RV tpm_aes_crypt_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                           CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	struct tpm_object *obj = tpm_object_get_locked(tok, sess->key);
	CK_RV rv;

	if (!obj) {
		tpm_op_end_locked(tok, sess);
		return CKR_KEY_HANDLE_INVALID;
	}
	if (sess->mech == CKM_AES_CBC && in_len % AES_BLOCK != 0) {
		tpm_op_end_locked(tok, sess);
		return sess->op == TPM_OP_DECRYPT ? CKR_ENCRYPTED_DATA_LEN_RANGE
		                                  : CKR_DATA_LEN_RANGE;
	}
	if (!out) {
		*out_len = in_len;
		return CKR_OK;
	}
	if (*out_len < in_len) {
		*out_len = in_len;
		return CKR_BUFFER_TOO_SMALL;
	}
	rv = run_cipher(tok, sess, obj, in, in_len, out);
	if (rv == CKR_OK)
		*out_len = in_len;
	else
		OPENSSL_cleanse(out, in_len);
	tpm_op_end_locked(tok, sess);
	return rv;
}
