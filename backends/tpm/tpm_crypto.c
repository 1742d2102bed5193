/*
 * Signing and decryption with TPM keys, TPM hash sequences and the TPM's
 * random number generator.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "backends/tpm/tpm_aes.h"
#include "backends/tpm/tpm_crypto.h"
#include "backends/tpm/tpm_mech.h"
#include "backends/tpm/tpm_rsa_raw.h"

/* DigestInfo prefixes for EMSA-PKCS1-v1_5 (RFC 8017, section 9.2, note 1). */
struct digest_info {
	TPMI_ALG_HASH hash;
	CK_BYTE prefix[19];
	size_t prefix_len;
};

static const struct digest_info digest_infos[] = {
    {TPM2_ALG_SHA1,
     {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
     15},
    {TPM2_ALG_SHA256,
     {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
      0x05, 0x00, 0x04, 0x20},
     19},
    {TPM2_ALG_SHA384,
     {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
      0x05, 0x00, 0x04, 0x30},
     19},
    {TPM2_ALG_SHA512,
     {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
      0x05, 0x00, 0x04, 0x40},
     19},
};

void tpm_op_end_locked(struct tpm_token *tok, struct tpm_session *sess)
{
	if (sess->md) {
		EVP_MD_CTX_free(sess->md);
		sess->md = NULL;
	}
	if (sess->sequence != ESYS_TR_NONE) {
		Esys_FlushContext(tok->dev.esys, sess->sequence);
		sess->sequence = ESYS_TR_NONE;
	}
	sess->op = TPM_OP_NONE;
	sess->key = CK_INVALID_HANDLE;
	sess->hash = TPM2_ALG_NULL;
	memset(&sess->label, 0, sizeof(sess->label));
	OPENSSL_cleanse(sess->part, sizeof(sess->part));
	sess->part_len = 0;
	sess->multipart = false;
}

static bool is_ec_mech(CK_MECHANISM_TYPE m)
{
	return m == CKM_ECDSA || m == CKM_ECDSA_SHA1 || m == CKM_ECDSA_SHA256 ||
	       m == CKM_ECDSA_SHA384 || m == CKM_ECDSA_SHA512;
}

static bool is_pss_mech(CK_MECHANISM_TYPE m)
{
	return m == CKM_RSA_PKCS_PSS || m == CKM_SHA1_RSA_PKCS_PSS ||
	       m == CKM_SHA256_RSA_PKCS_PSS || m == CKM_SHA384_RSA_PKCS_PSS ||
	       m == CKM_SHA512_RSA_PKCS_PSS;
}

/* The object as a private key of the given type with the role attribute set. */
static CK_RV get_private_key(struct tpm_token *tok, CK_OBJECT_HANDLE h, CK_KEY_TYPE type,
                             CK_ATTRIBUTE_TYPE role, struct tpm_object **out)
{
	struct tpm_object *obj = tpm_object_get_locked(tok, h);

	if (!obj)
		return CKR_KEY_HANDLE_INVALID;
	if (tpm_attrs_ulong(&obj->attrs, CKA_CLASS, ~0UL) != CKO_PRIVATE_KEY ||
	    tpm_attrs_ulong(&obj->attrs, CKA_KEY_TYPE, ~0UL) != type)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (!tpm_attrs_bool(&obj->attrs, role, false))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	*out = obj;
	return CKR_OK;
}

/*
 * libtpms 0.9 (CryptRsaSign) makes the PSS salt as long as the digest when
 * digest + hash + 2 bytes fit the modulus, which holds for RSA 2048 and 3072
 * with every hash here. So only sLen = digest length is accepted, and the
 * conformance test verifies that with OpenSSL.
 * NOTE: a hardware TPM may pick another salt length; only libtpms is tested.
 */
CK_RV tpm_check_pss_params(const struct tpm_token *tok, const CK_MECHANISM *mech,
                           TPMI_ALG_HASH *hash)
{
	const CK_RSA_PKCS_PSS_PARAMS *p = mech->pParameter;
	TPMI_ALG_HASH h, own = tpm_mech_hash_of_ckm(mech->mechanism);

	if (!p || mech->ulParameterLen != sizeof(*p))
		return CKR_MECHANISM_PARAM_INVALID;
	h = tpm_mech_hash_of_ckm(p->hashAlg);
	if (!tpm_mech_hash_supported(tok, h) || tpm_mech_hash_of_mgf(p->mgf) != h ||
	    p->sLen != tpm_mech_hash_size(h) || (own != TPM2_ALG_NULL && own != h))
		return CKR_MECHANISM_PARAM_INVALID;
	*hash = h;
	return CKR_OK;
}

CK_RV tpm_sign_init_locked(struct tpm_token *tok, struct tpm_session *sess,
                           const CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	struct tpm_object *obj;
	CK_MECHANISM_INFO info;
	TPMI_ALG_HASH hash = tpm_mech_hash_of_ckm(mech->mechanism);
	CK_RV rv;

	if (sess->op != TPM_OP_NONE)
		return CKR_OPERATION_ACTIVE;
	if (tpm_mech_info(tok, mech->mechanism, &info) != CKR_OK || !(info.flags & CKF_SIGN))
		return CKR_MECHANISM_INVALID;
	rv = get_private_key(tok, key, is_ec_mech(mech->mechanism) ? CKK_EC : CKK_RSA, CKA_SIGN,
	                     &obj);
	if (rv != CKR_OK)
		return rv;
	if (tok->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	if (is_pss_mech(mech->mechanism)) {
		rv = tpm_check_pss_params(tok, mech, &hash);
		if (rv != CKR_OK)
			return rv;
	} else if (mech->ulParameterLen != 0) {
		return CKR_MECHANISM_PARAM_INVALID;
	}

	return tpm_session_start_op(sess, TPM_OP_SIGN, mech, key, hash);
}

CK_RV tpm_session_start_op(struct tpm_session *sess, enum tpm_op op, const CK_MECHANISM *mech,
                           CK_OBJECT_HANDLE key, TPMI_ALG_HASH hash)
{
	if (tpm_mech_hash_of_ckm(mech->mechanism) != TPM2_ALG_NULL) {
		sess->md = EVP_MD_CTX_new();
		if (!sess->md || EVP_DigestInit_ex(sess->md, tpm_mech_evp_md(hash), NULL) != 1) {
			EVP_MD_CTX_free(sess->md);
			sess->md = NULL;
			return CKR_HOST_MEMORY;
		}
	}
	sess->op = op;
	sess->mech = mech->mechanism;
	sess->key = key;
	sess->hash = hash;
	return CKR_OK;
}

static size_t signature_size(const struct tpm_object *obj)
{
	const CK_ATTRIBUTE *mod = tpm_attrs_find(&obj->attrs, CKA_MODULUS);
	const CK_ATTRIBUTE *params = tpm_attrs_find(&obj->attrs, CKA_EC_PARAMS);

	if (mod)
		return mod->ulValueLen;
	/* The P-384 OID is the shorter of the two curves' encodings. */
	return params && params->ulValueLen == 7 ? 96 : 64;
}

TPMI_ALG_HASH tpm_hash_of_length(const struct tpm_token *tok, CK_ULONG len)
{
	static const TPMI_ALG_HASH hashes[] = {TPM2_ALG_SHA1, TPM2_ALG_SHA256, TPM2_ALG_SHA384,
	                                       TPM2_ALG_SHA512};

	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		if (tpm_mech_hash_size(hashes[i]) == len && tpm_mech_hash_supported(tok, hashes[i]))
			return hashes[i];
	}
	return TPM2_ALG_NULL;
}

CK_RV tpm_parse_digest_info(const struct tpm_token *tok, const CK_BYTE *in, CK_ULONG len,
                            TPMI_ALG_HASH *hash, TPM2B_DIGEST *digest)
{
	for (size_t i = 0; i < sizeof(digest_infos) / sizeof(digest_infos[0]); i++) {
		const struct digest_info *d = &digest_infos[i];
		size_t hlen = tpm_mech_hash_size(d->hash);

		if (len != d->prefix_len + hlen || memcmp(in, d->prefix, d->prefix_len) != 0)
			continue;
		if (!tpm_mech_hash_supported(tok, d->hash))
			return CKR_DATA_INVALID;
		*hash = d->hash;
		digest->size = (UINT16)hlen;
		memcpy(digest->buffer, in + d->prefix_len, hlen);
		return CKR_OK;
	}
	/* Callers sign and verify other data with the raw RSA operation instead. */
	return CKR_DATA_INVALID;
}

static void copy_padded(CK_BYTE *out, size_t field, const TPM2B_ECC_PARAMETER *v)
{
	memset(out, 0, field);
	memcpy(out + field - v->size, v->buffer, v->size);
}

/* Signs a digest with the key of obj in the TPM, writing the PKCS#11 signature. */
static CK_RV tpm_sign_digest(struct tpm_token *tok, struct tpm_object *obj, TPMI_ALG_SIG_SCHEME s,
                             TPMI_ALG_HASH hash, const TPM2B_DIGEST *digest, CK_BYTE *sig,
                             CK_ULONG *sig_len)
{
	TPMT_SIG_SCHEME scheme = {.scheme = s, .details.any.hashAlg = hash};
	TPMT_TK_HASHCHECK ticket = {.tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL};
	TPMT_SIGNATURE *out = NULL;
	size_t field = signature_size(obj) / 2;
	TSS2_RC rc;
	CK_RV rv;

	rv = tpm_object_load_locked(tok, obj);
	if (rv != CKR_OK)
		return rv;
	rc = Esys_Sign(tok->dev.esys, obj->loaded, tok->dev.session, ESYS_TR_NONE, ESYS_TR_NONE,
	               digest, &scheme, &ticket, &out);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_to_ckr(rc);

	if (s == TPM2_ALG_ECDSA) {
		if (out->signature.ecdsa.signatureR.size > field ||
		    out->signature.ecdsa.signatureS.size > field) {
			rv = CKR_DEVICE_ERROR;
		} else {
			copy_padded(sig, field, &out->signature.ecdsa.signatureR);
			copy_padded(sig + field, field, &out->signature.ecdsa.signatureS);
			*sig_len = 2 * field;
		}
	} else {
		const TPM2B_PUBLIC_KEY_RSA *r = &out->signature.rsassa.sig;

		if (r->size != 2 * field) {
			rv = CKR_DEVICE_ERROR;
		} else {
			memcpy(sig, r->buffer, r->size);
			*sig_len = r->size;
		}
	}
	Esys_Free(out);
	return rv;
}

/* Signs the digest, DigestInfo or data that the session's mechanism takes as input. */
static CK_RV sign_prepared(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                           CK_ULONG in_len, CK_BYTE *sig, CK_ULONG *sig_len)
{
	struct tpm_object *obj = tpm_object_get_locked(tok, sess->key);
	TPM2B_DIGEST digest = {0};
	TPMI_ALG_HASH hash = sess->hash;
	TPMI_ALG_SIG_SCHEME scheme;
	CK_RV rv;

	if (!obj)
		return CKR_KEY_HANDLE_INVALID;
	if (is_ec_mech(sess->mech)) {
		scheme = TPM2_ALG_ECDSA;
		if (hash == TPM2_ALG_NULL)
			hash = tpm_hash_of_length(tok, in_len);
	} else if (is_pss_mech(sess->mech)) {
		scheme = TPM2_ALG_RSAPSS;
	} else {
		scheme = TPM2_ALG_RSASSA;
		if (sess->mech == CKM_RSA_PKCS) {
			/*
			 * A DigestInfo of a hash that the TPM supports goes through
			 * TPM2_Sign; any other data gets padded here (tpm_rsa_raw.c).
			 */
			rv = tpm_parse_digest_info(tok, in, in_len, &hash, &digest);
			if (rv == CKR_DATA_INVALID)
				return tpm_rsa_raw_sign_locked(tok, obj, in, in_len, sig, sig_len);
			if (rv != CKR_OK)
				return rv;
			return tpm_sign_digest(tok, obj, scheme, hash, &digest, sig, sig_len);
		}
	}
	if (hash == TPM2_ALG_NULL || in_len != tpm_mech_hash_size(hash))
		return CKR_DATA_LEN_RANGE;
	digest.size = (UINT16)in_len;
	memcpy(digest.buffer, in, in_len);
	return tpm_sign_digest(tok, obj, scheme, hash, &digest, sig, sig_len);
}

/* Handles a length query or a short buffer. Returns CKR_OK when signing may go on. */
static CK_RV check_sig_buffer(struct tpm_token *tok, struct tpm_session *sess, CK_BYTE *sig,
                              CK_ULONG *sig_len, bool *done)
{
	struct tpm_object *obj = tpm_object_get_locked(tok, sess->key);
	size_t need;

	*done = false;
	if (!obj)
		return CKR_KEY_HANDLE_INVALID;
	need = signature_size(obj);
	if (!sig) {
		*sig_len = need;
		*done = true;
		return CKR_OK;
	}
	if (*sig_len < need) {
		*sig_len = need;
		return CKR_BUFFER_TOO_SMALL;
	}
	return CKR_OK;
}

CK_RV tpm_sign_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                      CK_ULONG in_len, CK_BYTE *sig, CK_ULONG *sig_len)
{
	CK_BYTE md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	bool done;
	CK_RV rv;

	if (sess->op != TPM_OP_SIGN)
		return CKR_OPERATION_NOT_INITIALIZED;
	rv = check_sig_buffer(tok, sess, sig, sig_len, &done);
	if (rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && done))
		return rv;
	if (rv == CKR_OK && sess->md) {
		if (EVP_DigestUpdate(sess->md, in, in_len) != 1 ||
		    EVP_DigestFinal_ex(sess->md, md, &md_len) != 1)
			rv = CKR_FUNCTION_FAILED;
		else
			rv = sign_prepared(tok, sess, md, md_len, sig, sig_len);
	} else if (rv == CKR_OK) {
		rv = sign_prepared(tok, sess, in, in_len, sig, sig_len);
	}
	tpm_op_end_locked(tok, sess);
	return rv;
}

CK_RV tpm_sign_update_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                             CK_ULONG in_len)
{
	if (sess->op != TPM_OP_SIGN)
		return CKR_OPERATION_NOT_INITIALIZED;
	/* Only hash-and-sign mechanisms are multi-part. */
	if (!sess->md) {
		tpm_op_end_locked(tok, sess);
		return CKR_FUNCTION_NOT_SUPPORTED;
	}
	if (EVP_DigestUpdate(sess->md, in, in_len) != 1) {
		tpm_op_end_locked(tok, sess);
		return CKR_FUNCTION_FAILED;
	}
	return CKR_OK;
}

CK_RV tpm_sign_final_locked(struct tpm_token *tok, struct tpm_session *sess, CK_BYTE *sig,
                            CK_ULONG *sig_len)
{
	CK_BYTE md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	bool done;
	CK_RV rv;

	if (sess->op != TPM_OP_SIGN)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (!sess->md) {
		tpm_op_end_locked(tok, sess);
		return CKR_FUNCTION_NOT_SUPPORTED;
	}
	rv = check_sig_buffer(tok, sess, sig, sig_len, &done);
	if (rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && done))
		return rv;
	if (rv == CKR_OK && EVP_DigestFinal_ex(sess->md, md, &md_len) != 1)
		rv = CKR_FUNCTION_FAILED;
	if (rv == CKR_OK)
		rv = sign_prepared(tok, sess, md, md_len, sig, sig_len);
	tpm_op_end_locked(tok, sess);
	return rv;
}

/*
 * The TPM hashes the OAEP label with a terminating zero byte and rejects a
 * label whose last byte is not zero, so only such labels (or none) work.
 */
CK_RV tpm_oaep_params(const struct tpm_token *tok, const CK_MECHANISM *mech, TPMI_ALG_HASH *hash,
                      TPM2B_DATA *label)
{
	const CK_RSA_PKCS_OAEP_PARAMS *p = mech->pParameter;
	TPMI_ALG_HASH h;

	if (!p || mech->ulParameterLen != sizeof(*p))
		return CKR_MECHANISM_PARAM_INVALID;
	h = tpm_mech_hash_of_ckm(p->hashAlg);
	if (!tpm_mech_hash_supported(tok, h) || tpm_mech_hash_of_mgf(p->mgf) != h)
		return CKR_MECHANISM_PARAM_INVALID;
	if (p->source != 0 && p->source != CKZ_DATA_SPECIFIED)
		return CKR_MECHANISM_PARAM_INVALID;
	memset(label, 0, sizeof(*label));
	if (p->ulSourceDataLen > 0) {
		const CK_BYTE *source = p->pSourceData;

		if (!source || p->ulSourceDataLen > sizeof(label->buffer) ||
		    source[p->ulSourceDataLen - 1] != 0)
			return CKR_MECHANISM_PARAM_INVALID;
		memcpy(label->buffer, source, p->ulSourceDataLen);
		label->size = (UINT16)p->ulSourceDataLen;
	}
	*hash = h;
	return CKR_OK;
}

CK_RV tpm_decrypt_init_locked(struct tpm_token *tok, struct tpm_session *sess,
                              const CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	struct tpm_object *obj;
	CK_MECHANISM_INFO info;
	CK_RV rv;

	if (tpm_aes_mechanism(mech->mechanism))
		return tpm_aes_init_locked(tok, sess, mech, key, true);
	if (sess->op != TPM_OP_NONE)
		return CKR_OPERATION_ACTIVE;
	if (tpm_mech_info(tok, mech->mechanism, &info) != CKR_OK || !(info.flags & CKF_DECRYPT))
		return CKR_MECHANISM_INVALID;
	rv = get_private_key(tok, key, CKK_RSA, CKA_DECRYPT, &obj);
	if (rv != CKR_OK)
		return rv;
	if (tok->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	memset(&sess->label, 0, sizeof(sess->label));
	if (mech->mechanism == CKM_RSA_PKCS_OAEP) {
		rv = tpm_oaep_params(tok, mech, &sess->hash, &sess->label);
		if (rv != CKR_OK)
			return rv;
	} else if (mech->ulParameterLen != 0) {
		return CKR_MECHANISM_PARAM_INVALID;
	}
	sess->op = TPM_OP_DECRYPT;
	sess->mech = mech->mechanism;
	sess->key = key;
	return CKR_OK;
}

static CK_RV rsa_decrypt(struct tpm_token *tok, struct tpm_session *sess, struct tpm_object *obj,
                         const CK_BYTE *in, CK_ULONG in_len, TPM2B_PUBLIC_KEY_RSA **msg)
{
	TPMT_RSA_DECRYPT scheme = {0};
	TPM2B_PUBLIC_KEY_RSA cipher = {.size = (UINT16)in_len};
	TSS2_RC rc;
	CK_RV rv;

	if (in_len != signature_size(obj))
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	memcpy(cipher.buffer, in, in_len);
	if (sess->mech == CKM_RSA_PKCS_OAEP) {
		scheme.scheme = TPM2_ALG_OAEP;
		scheme.details.oaep.hashAlg = sess->hash;
	} else {
		scheme.scheme = TPM2_ALG_RSAES;
	}
	rv = tpm_object_load_locked(tok, obj);
	if (rv != CKR_OK)
		return rv;
	rc = Esys_RSA_Decrypt(tok->dev.esys, obj->loaded, tok->dev.session, ESYS_TR_NONE,
	                      ESYS_TR_NONE, &cipher, &scheme, &sess->label, msg);
	/*
	 * A padding error is TPM2_RC_VALUE in the spec; libtpms 0.9 returns
	 * TPM2_RC_FAILURE and keeps working (the unit test decrypts after it).
	 */
	if (tpm_rc_base(rc) == TPM2_RC_VALUE || rc == TPM2_RC_FAILURE)
		return CKR_ENCRYPTED_DATA_INVALID;
	return tpm_rc_to_ckr(rc);
}

CK_RV tpm_decrypt_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                         CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	struct tpm_object *obj = tpm_object_get_locked(tok, sess->key);
	TPM2B_PUBLIC_KEY_RSA *msg = NULL;
	CK_RV rv;

	if (sess->op != TPM_OP_DECRYPT)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (tpm_aes_mechanism(sess->mech))
		return tpm_aes_crypt_locked(tok, sess, in, in_len, out, out_len);
	if (!obj) {
		tpm_op_end_locked(tok, sess);
		return CKR_KEY_HANDLE_INVALID;
	}
	/* The plaintext is never longer than the modulus, so that bounds a length query. */
	if (!out) {
		*out_len = signature_size(obj);
		return CKR_OK;
	}
	rv = rsa_decrypt(tok, sess, obj, in, in_len, &msg);
	if (rv == CKR_OK && *out_len < msg->size) {
		*out_len = msg->size;
		rv = CKR_BUFFER_TOO_SMALL;
	} else if (rv == CKR_OK) {
		memcpy(out, msg->buffer, msg->size);
		*out_len = msg->size;
	}
	if (msg) {
		OPENSSL_cleanse(msg, sizeof(*msg));
		Esys_Free(msg);
	}
	if (rv != CKR_BUFFER_TOO_SMALL)
		tpm_op_end_locked(tok, sess);
	return rv;
}

static CK_RV start_sequence(struct tpm_token *tok, struct tpm_session *sess)
{
	TPM2B_AUTH auth = {0};
	TSS2_RC rc;

	for (;;) {
		rc = Esys_HashSequenceStart(tok->dev.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
		                            &auth, sess->hash, &sess->sequence);
		if (tpm_rc_base(rc) != TPM2_RC_OBJECT_MEMORY || !tpm_object_evict_one_locked(tok))
			break;
	}
	if (rc != TSS2_RC_SUCCESS) {
		sess->sequence = ESYS_TR_NONE;
		return tpm_rc_to_ckr(rc);
	}
	return CKR_OK;
}

CK_RV tpm_digest_init_locked(struct tpm_token *tok, struct tpm_session *sess,
                             const CK_MECHANISM *mech)
{
	CK_MECHANISM_INFO info;
	CK_RV rv;

	if (sess->op != TPM_OP_NONE)
		return CKR_OPERATION_ACTIVE;
	if (tpm_mech_info(tok, mech->mechanism, &info) != CKR_OK || !(info.flags & CKF_DIGEST))
		return CKR_MECHANISM_INVALID;
	if (mech->ulParameterLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	sess->hash = tpm_mech_hash_of_ckm(mech->mechanism);
	rv = start_sequence(tok, sess);
	if (rv != CKR_OK)
		return rv;
	sess->op = TPM_OP_DIGEST;
	sess->mech = mech->mechanism;
	return CKR_OK;
}

CK_RV tpm_digest_update_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                               CK_ULONG in_len)
{
	TPM2B_MAX_BUFFER chunk;
	TSS2_RC rc;

	if (sess->op != TPM_OP_DIGEST)
		return CKR_OPERATION_NOT_INITIALIZED;
	while (in_len > 0) {
		chunk.size =
		    (UINT16)(in_len < sizeof(chunk.buffer) ? in_len : sizeof(chunk.buffer));
		memcpy(chunk.buffer, in, chunk.size);
		rc = Esys_SequenceUpdate(tok->dev.esys, sess->sequence, tok->dev.session,
		                         ESYS_TR_NONE, ESYS_TR_NONE, &chunk);
		if (rc != TSS2_RC_SUCCESS) {
			tpm_op_end_locked(tok, sess);
			return tpm_rc_to_ckr(rc);
		}
		in += chunk.size;
		in_len -= chunk.size;
	}
	return CKR_OK;
}

CK_RV tpm_digest_final_locked(struct tpm_token *tok, struct tpm_session *sess, CK_BYTE *out,
                              CK_ULONG *out_len)
{
	TPM2B_MAX_BUFFER empty = {0};
	TPM2B_DIGEST *result = NULL;
	size_t need = tpm_mech_hash_size(sess->hash);
	TSS2_RC rc;

	if (sess->op != TPM_OP_DIGEST)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (!out || *out_len < need) {
		CK_RV rv = out ? CKR_BUFFER_TOO_SMALL : CKR_OK;

		*out_len = need;
		return rv;
	}
	rc = Esys_SequenceComplete(tok->dev.esys, sess->sequence, tok->dev.session, ESYS_TR_NONE,
	                           ESYS_TR_NONE, &empty, ESYS_TR_RH_NULL, &result, NULL);
	/* SequenceComplete flushes the sequence object, success or not. */
	sess->sequence = ESYS_TR_NONE;
	tpm_op_end_locked(tok, sess);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_to_ckr(rc);
	memcpy(out, result->buffer, result->size);
	*out_len = result->size;
	Esys_Free(result);
	return CKR_OK;
}

CK_RV tpm_digest_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                        CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	size_t need = tpm_mech_hash_size(sess->hash);
	CK_RV rv;

	if (sess->op != TPM_OP_DIGEST)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (!out || *out_len < need) {
		rv = out ? CKR_BUFFER_TOO_SMALL : CKR_OK;
		*out_len = need;
		return rv;
	}
	rv = tpm_digest_update_locked(tok, sess, in, in_len);
	if (rv != CKR_OK)
		return rv;
	return tpm_digest_final_locked(tok, sess, out, out_len);
}

CK_RV tpm_random_locked(struct tpm_token *tok, CK_BYTE *out, CK_ULONG len)
{
	while (len > 0) {
		TPM2B_DIGEST *r = NULL;
		UINT16 want = (UINT16)(len < 32 ? len : 32);
		TSS2_RC rc;

		rc = Esys_GetRandom(tok->dev.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, want,
		                    &r);
		if (rc != TSS2_RC_SUCCESS)
			return tpm_rc_to_ckr(rc);
		if (r->size == 0 || r->size > want) {
			Esys_Free(r);
			return CKR_DEVICE_ERROR;
		}
		memcpy(out, r->buffer, r->size);
		out += r->size;
		len -= r->size;
		OPENSSL_cleanse(r, sizeof(*r));
		Esys_Free(r);
	}
	return CKR_OK;
}

CK_RV tpm_seed_random_locked(struct tpm_token *tok, const CK_BYTE *seed, CK_ULONG len)
{
	TPM2B_SENSITIVE_DATA data;

	while (len > 0) {
		UINT16 chunk = (UINT16)(len < sizeof(data.buffer) ? len : sizeof(data.buffer));
		TSS2_RC rc;

		data.size = chunk;
		memcpy(data.buffer, seed, chunk);
		rc =
		    Esys_StirRandom(tok->dev.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &data);
		OPENSSL_cleanse(&data, sizeof(data));
		if (rc != TSS2_RC_SUCCESS)
			return tpm_rc_to_ckr(rc);
		seed += chunk;
		len -= chunk;
	}
	return CKR_OK;
}
