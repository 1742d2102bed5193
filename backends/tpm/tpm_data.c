/* Private data objects: the sealed CKA_VALUE (see tpm_data.h for the format). */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "backends/tpm/tpm_data.h"

#define DATA_KEY_LEN 32
#define FILE_MAX     sizeof(((struct tpm_object *)0)->file)
#define AAD_MAX      (1 + 8 + FILE_MAX)

bool tpm_data_is_sealed(const struct tpm_object *obj)
{
	return tpm_attrs_find(&obj->attrs, TPM_CKA_SEALED_VALUE) != NULL;
}

static bool wants_seal(const struct tpm_object *obj)
{
	return tpm_attrs_ulong(&obj->attrs, CKA_CLASS, CK_UNAVAILABLE_INFORMATION) == CKO_DATA &&
	       tpm_attrs_bool(&obj->attrs, CKA_PRIVATE, false) &&
	       tpm_attrs_bool(&obj->attrs, CKA_TOKEN, false);
}

/*
 * HKDF-SHA256 of the token secret. An SO login unseals the secret too, but
 * private objects are the user's (PKCS#11 gives the SO public objects only),
 * so only a user login gets the key.
 */
static CK_RV derive_key(const struct tpm_token *tok, uint8_t key[DATA_KEY_LEN])
{
	OSSL_PARAM params[5];
	EVP_KDF_CTX *ctx;
	EVP_KDF *kdf;
	int ok;

	if (tok->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	EVP_KDF_free(kdf);
	if (!ctx)
		return CKR_FUNCTION_FAILED;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)tok->secret,
	                                              TPM_SECRET_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)tok->serial,
	                                              TPM_SERIAL_LEN);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, TPM_DATA_HKDF_INFO,
	                                              strlen(TPM_DATA_HKDF_INFO));
	params[4] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(ctx, key, DATA_KEY_LEN, params);
	/* The context contains a copy of the secret, and freeing it wipes the copy. */
	EVP_KDF_CTX_free(ctx);
	if (ok != 1) {
		OPENSSL_cleanse(key, DATA_KEY_LEN);
		return CKR_FUNCTION_FAILED;
	}
	return CKR_OK;
}

/* The AAD: version, CKA_VALUE as 8 bytes big-endian, then the key file name. */
static size_t make_aad(uint8_t aad[AAD_MAX], const char *file)
{
	size_t len = strnlen(file, FILE_MAX);
	uint64_t type = CKA_VALUE;

	aad[0] = TPM_DATA_VERSION;
	for (int i = 0; i < 8; i++)
		aad[1 + i] = (uint8_t)(type >> (56 - 8 * i));
	memcpy(aad + 9, file, len);
	return 9 + len;
}

/* The plaintext length of a sealed value; CKR_DEVICE_ERROR when it cannot be one. */
static CK_RV plain_len(const CK_ATTRIBUTE *sealed, size_t *len)
{
	if (!sealed || sealed->ulValueLen < TPM_DATA_OVERHEAD ||
	    ((const uint8_t *)sealed->pValue)[0] != TPM_DATA_VERSION)
		return CKR_DEVICE_ERROR;
	*len = sealed->ulValueLen - TPM_DATA_OVERHEAD;
	return CKR_OK;
}

static bool gcm_encrypt(EVP_CIPHER_CTX *ctx, const uint8_t *key, const uint8_t *aad, size_t aad_len,
                        const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t *ct = out + 1 + TPM_DATA_NONCE_LEN;
	int n = 0;

	return EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, out + 1) == 1 &&
	       EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1 &&
	       (len == 0 || EVP_EncryptUpdate(ctx, ct, &n, in, (int)len) == 1) &&
	       EVP_EncryptFinal_ex(ctx, ct + len, &n) == 1 &&
	       EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TPM_DATA_TAG_LEN, ct + len) == 1;
}

/* Seals len bytes of value, bound to file, into obj's TPM_CKA_SEALED_VALUE. */
static CK_RV seal_value(const struct tpm_token *tok, struct tpm_object *obj, const char *file,
                        const uint8_t *value, size_t len)
{
	uint8_t key[DATA_KEY_LEN], aad[AAD_MAX], *out;
	size_t aad_len = make_aad(aad, file);
	EVP_CIPHER_CTX *ctx = NULL;
	CK_RV rv;

	if (len > TPM_DATA_VALUE_MAX)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	out = malloc(len + TPM_DATA_OVERHEAD);
	if (!out)
		return CKR_HOST_MEMORY;
	out[0] = TPM_DATA_VERSION;
	rv = derive_key(tok, key);
	if (rv != CKR_OK)
		goto out;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || RAND_bytes(out + 1, TPM_DATA_NONCE_LEN) != 1 ||
	    !gcm_encrypt(ctx, key, aad, aad_len, value, len, out))
		rv = CKR_FUNCTION_FAILED;
	else
		rv = tpm_attrs_set(&obj->attrs, TPM_CKA_SEALED_VALUE, out, len + TPM_DATA_OVERHEAD);
	OPENSSL_cleanse(key, sizeof(key));
out:
	/* The context's key schedule is wiped by EVP_CIPHER_CTX_free(). */
	EVP_CIPHER_CTX_free(ctx);
	free(out);
	return rv;
}

static CK_RV gcm_decrypt(EVP_CIPHER_CTX *ctx, const uint8_t *key, const uint8_t *aad,
                         size_t aad_len, const uint8_t *in, size_t len, uint8_t *out)
{
	const uint8_t *ct = in + 1 + TPM_DATA_NONCE_LEN;
	uint8_t last[TPM_DATA_TAG_LEN];
	int n = 0;

	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, in + 1) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1 ||
	    (len > 0 && EVP_DecryptUpdate(ctx, out, &n, ct, (int)len) != 1) ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TPM_DATA_TAG_LEN, (void *)(ct + len)) !=
	        1)
		return CKR_FUNCTION_FAILED;
	/* A wrong tag: the file was damaged, tampered with, or moved to another object. */
	return EVP_DecryptFinal_ex(ctx, last, &n) == 1 ? CKR_OK : CKR_DEVICE_ERROR;
}

/*
 * Opens sealed, bound to file, into out, which has room for its plaintext
 * length. On failure out contains no byte of the unauthenticated plaintext.
 */
static CK_RV open_value(const struct tpm_token *tok, const CK_ATTRIBUTE *sealed, const char *file,
                        uint8_t *out)
{
	uint8_t key[DATA_KEY_LEN], aad[AAD_MAX];
	size_t aad_len = make_aad(aad, file), len = 0;
	EVP_CIPHER_CTX *ctx;
	CK_RV rv = plain_len(sealed, &len);

	if (rv == CKR_OK)
		rv = derive_key(tok, key);
	if (rv != CKR_OK)
		return rv;
	ctx = EVP_CIPHER_CTX_new();
	rv = ctx ? gcm_decrypt(ctx, key, aad, aad_len, sealed->pValue, len, out)
	         : CKR_FUNCTION_FAILED;
	OPENSSL_cleanse(key, sizeof(key));
	EVP_CIPHER_CTX_free(ctx);
	if (rv != CKR_OK && len > 0)
		OPENSSL_cleanse(out, len);
	return rv;
}

/* Opens obj's sealed value (bound to from_file) into a new buffer for the caller to wipe. */
static CK_RV open_to_buffer(const struct tpm_token *tok, const struct tpm_object *obj,
                            const char *from_file, uint8_t **buf, size_t *len)
{
	const CK_ATTRIBUTE *sealed = tpm_attrs_find(&obj->attrs, TPM_CKA_SEALED_VALUE);
	CK_RV rv = plain_len(sealed, len);

	if (rv != CKR_OK)
		return rv;
	*buf = malloc(*len ? *len : 1);
	if (!*buf)
		return CKR_HOST_MEMORY;
	rv = open_value(tok, sealed, from_file, *buf);
	if (rv != CKR_OK) {
		free(*buf);
		*buf = NULL;
	}
	return rv;
}

/* Seals obj's value again, now bound to obj->file (a copy of a sealed object). */
static CK_RV reseal(const struct tpm_token *tok, struct tpm_object *obj, const char *from_file)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	CK_RV rv = open_to_buffer(tok, obj, from_file, &buf, &len);

	if (rv != CKR_OK)
		return rv;
	rv = seal_value(tok, obj, obj->file, buf, len);
	OPENSSL_clear_free(buf, len);
	return rv;
}

/* Turns obj's sealed value into a plaintext CKA_VALUE (a session or public copy). */
static CK_RV unseal(const struct tpm_token *tok, struct tpm_object *obj, const char *from_file)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	CK_RV rv = open_to_buffer(tok, obj, from_file, &buf, &len);

	if (rv != CKR_OK)
		return rv;
	rv = tpm_attrs_set(&obj->attrs, CKA_VALUE, buf, len);
	OPENSSL_clear_free(buf, len);
	if (rv == CKR_OK)
		tpm_attrs_remove(&obj->attrs, TPM_CKA_SEALED_VALUE);
	return rv;
}

CK_RV tpm_data_settle_locked(struct tpm_token *tok, struct tpm_object *obj, const char *from_file)
{
	const CK_ATTRIBUTE *plain = tpm_attrs_find(&obj->attrs, CKA_VALUE);
	/*
	 * No call changes the class, CKA_TOKEN or CKA_PRIVATE of an object, so
	 * a sealed object that no longer wants its seal has a tampered key file.
	 * It stays sealed, because only a copy may open a sealed value.
	 */
	bool own_seal =
	    tpm_data_is_sealed(obj) && obj->file[0] && strcmp(from_file, obj->file) == 0;
	CK_RV rv;

	if (!wants_seal(obj) && !own_seal)
		return tpm_data_is_sealed(obj) ? unseal(tok, obj, from_file) : CKR_OK;
	if (!obj->file[0]) {
		rv = tpm_store_name_new(&obj, 1);
		if (rv != CKR_OK)
			return rv;
	}
	if (plain) {
		rv = seal_value(tok, obj, obj->file, plain->pValue, plain->ulValueLen);
		if (rv == CKR_OK)
			tpm_attrs_remove(&obj->attrs, CKA_VALUE);
		return rv;
	}
	if (!tpm_data_is_sealed(obj))
		return seal_value(tok, obj, obj->file, NULL, 0);
	if (strcmp(from_file, obj->file) == 0)
		return CKR_OK;
	return reseal(tok, obj, from_file);
}

CK_RV tpm_data_get_value_locked(const struct tpm_token *tok, const struct tpm_object *obj,
                                CK_ATTRIBUTE *t)
{
	const CK_ATTRIBUTE *sealed = tpm_attrs_find(&obj->attrs, TPM_CKA_SEALED_VALUE);
	size_t len = 0;
	CK_RV rv = plain_len(sealed, &len);

	/*
	 * Only a key file whose CKA_PRIVATE was cleared shows a sealed value to
	 * a session without a user login (no login, or the SO's).
	 */
	if (rv == CKR_OK && tok->login != CKU_USER)
		rv = CKR_ATTRIBUTE_SENSITIVE;
	if (rv == CKR_OK && !t->pValue) {
		t->ulValueLen = len;
		return CKR_OK;
	}
	if (rv == CKR_OK && t->ulValueLen < len)
		rv = CKR_BUFFER_TOO_SMALL;
	if (rv == CKR_OK)
		rv = open_value(tok, sealed, obj->file, t->pValue);
	t->ulValueLen = rv == CKR_OK ? len : CK_UNAVAILABLE_INFORMATION;
	return rv;
}

static bool value_equals(const struct tpm_token *tok, const struct tpm_object *obj,
                         const CK_ATTRIBUTE *want)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	bool same;

	if (open_to_buffer(tok, obj, obj->file, &buf, &len) != CKR_OK)
		return false;
	same = len == want->ulValueLen &&
	       (len == 0 || (want->pValue && CRYPTO_memcmp(buf, want->pValue, len) == 0));
	OPENSSL_clear_free(buf, len);
	return same;
}

bool tpm_data_match_locked(const struct tpm_token *tok, const struct tpm_object *obj,
                           const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	if (!tpm_data_is_sealed(obj))
		return tpm_attrs_match(&obj->attrs, tmpl, count);
	for (CK_ULONG i = 0; i < count; i++) {
		bool match = tmpl[i].type == CKA_VALUE ? value_equals(tok, obj, &tmpl[i])
		                                       : tpm_attrs_match(&obj->attrs, &tmpl[i], 1);

		if (!match)
			return false;
	}
	return true;
}
