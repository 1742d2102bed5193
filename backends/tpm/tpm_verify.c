/*
 * Verification and RSA encryption with public key objects, in the TPM.
 *
 * A public key object has no TPM blob of its own (it may come from
 * C_CreateObject), so its public area is built from its PKCS#11 attributes
 * and loaded with TPM2_LoadExternal into the null hierarchy. The handle is
 * kept in obj->loaded: it shares the key cache, its slot budget and its
 * eviction with the private keys, and logout, a changed key file and
 * C_DestroyObject flush it as they flush those.
 */
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>

#include "backends/tpm/tpm_aes.h"
#include "backends/tpm/tpm_crypto.h"
#include "backends/tpm/tpm_hmac.h"
#include "backends/tpm/tpm_keygen.h"
#include "backends/tpm/tpm_mech.h"
#include "backends/tpm/tpm_object_ops.h"
#include "backends/tpm/tpm_rsa_raw.h"
#include "backends/tpm/tpm_token.h"
#include "backends/tpm/tpm_verify.h"

static const struct {
	CK_MECHANISM_TYPE type;
	TPMI_ALG_SIG_SCHEME scheme;
} verify_mechs[] = {
    {CKM_RSA_PKCS, TPM2_ALG_RSASSA},
    {CKM_SHA1_RSA_PKCS, TPM2_ALG_RSASSA},
    {CKM_SHA256_RSA_PKCS, TPM2_ALG_RSASSA},
    {CKM_SHA384_RSA_PKCS, TPM2_ALG_RSASSA},
    {CKM_SHA512_RSA_PKCS, TPM2_ALG_RSASSA},
    {CKM_RSA_PKCS_PSS, TPM2_ALG_RSAPSS},
    {CKM_SHA1_RSA_PKCS_PSS, TPM2_ALG_RSAPSS},
    {CKM_SHA256_RSA_PKCS_PSS, TPM2_ALG_RSAPSS},
    {CKM_SHA384_RSA_PKCS_PSS, TPM2_ALG_RSAPSS},
    {CKM_SHA512_RSA_PKCS_PSS, TPM2_ALG_RSAPSS},
    {CKM_ECDSA, TPM2_ALG_ECDSA},
    {CKM_ECDSA_SHA1, TPM2_ALG_ECDSA},
    {CKM_ECDSA_SHA256, TPM2_ALG_ECDSA},
    {CKM_ECDSA_SHA384, TPM2_ALG_ECDSA},
    {CKM_ECDSA_SHA512, TPM2_ALG_ECDSA},
};

static TPMI_ALG_SIG_SCHEME scheme_of(CK_MECHANISM_TYPE type)
{
	for (size_t i = 0; i < ARRAY_LEN(verify_mechs); i++) {
		if (verify_mechs[i].type == type)
			return verify_mechs[i].scheme;
	}
	return TPM2_ALG_NULL;
}

/* Locks the token and finds the session, or returns CKR_SESSION_HANDLE_INVALID unlocked. */
static CK_RV lock_session(struct hsmux_backend *be, CK_SESSION_HANDLE s, struct tpm_token **tok,
                          struct tpm_session **sess)
{
	*tok = be->priv;
	pthread_mutex_lock(&(*tok)->lock);
	*sess = tpm_session_find_locked(*tok, s);
	if (!*sess) {
		pthread_mutex_unlock(&(*tok)->lock);
		return CKR_SESSION_HANDLE_INVALID;
	}
	return CKR_OK;
}

/* Finds the object as a public key of the given type with the role attribute set. */
static CK_RV get_public_key(struct tpm_token *tok, CK_OBJECT_HANDLE h, CK_KEY_TYPE type,
                            CK_ATTRIBUTE_TYPE role, struct tpm_object **out)
{
	struct tpm_object *obj = tpm_object_get_locked(tok, h);

	if (!obj)
		return CKR_KEY_HANDLE_INVALID;
	if (tpm_attrs_ulong(&obj->attrs, CKA_CLASS, ~0UL) != CKO_PUBLIC_KEY ||
	    tpm_attrs_ulong(&obj->attrs, CKA_KEY_TYPE, ~0UL) != type)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (!tpm_attrs_bool(&obj->attrs, role, false))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	*out = obj;
	return CKR_OK;
}

/* Converts a big-endian CKA_PUBLIC_EXPONENT to the TPM's exponent field (0 means 65537). */
static bool rsa_exponent(const CK_ATTRIBUTE *a, UINT32 *out)
{
	const CK_BYTE *b = a->pValue;
	uint64_t v = 0;

	for (CK_ULONG i = 0; i < a->ulValueLen; i++) {
		v = (v << 8) | b[i];
		if (v > UINT32_MAX)
			return false;
	}
	*out = v == 65537 ? 0 : (UINT32)v;
	return v > 2 && (v & 1);
}

static CK_RV rsa_public(const struct tpm_token *tok, const struct tpm_object *obj, TPMT_PUBLIC *pub)
{
	const CK_ATTRIBUTE *mod = tpm_attrs_find(&obj->attrs, CKA_MODULUS);
	const CK_ATTRIBUTE *exp = tpm_attrs_find(&obj->attrs, CKA_PUBLIC_EXPONENT);
	const CK_BYTE *n;
	CK_ULONG len;

	if (!mod || !exp || !mod->pValue || !exp->pValue)
		return CKR_KEY_TYPE_INCONSISTENT;
	n = mod->pValue;
	len = mod->ulValueLen;
	while (len > 0 && n[0] == 0) {
		n++;
		len--;
	}
	/* The sizes that C_GetMechanismInfo advertises: 2048, and 3072 where the TPM has it. */
	if (len != 256 && !(len == 384 && tok->has_rsa3072))
		return CKR_KEY_SIZE_RANGE;
	if (!rsa_exponent(exp, &pub->parameters.rsaDetail.exponent))
		return CKR_KEY_SIZE_RANGE;
	pub->type = TPM2_ALG_RSA;
	pub->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	pub->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	pub->parameters.rsaDetail.keyBits = (TPMI_RSA_KEY_BITS)(len * 8);
	pub->unique.rsa.size = (UINT16)len;
	memcpy(pub->unique.rsa.buffer, n, len);
	return CKR_OK;
}

/* Reads the curve of CKA_EC_PARAMS (a named-curve OID) and its field size in bytes. */
static CK_RV ec_curve(const CK_ATTRIBUTE *params, TPMI_ECC_CURVE *curve, size_t *field)
{
	const unsigned char *p = params->pValue;
	ASN1_OBJECT *oid = d2i_ASN1_OBJECT(NULL, &p, (long)params->ulValueLen);
	int nid = oid ? OBJ_obj2nid(oid) : NID_undef;

	ASN1_OBJECT_free(oid);
	if (nid == NID_X9_62_prime256v1) {
		*curve = TPM2_ECC_NIST_P256;
		*field = 32;
	} else if (nid == NID_secp384r1) {
		*curve = TPM2_ECC_NIST_P384;
		*field = 48;
	} else {
		return CKR_CURVE_NOT_SUPPORTED;
	}
	return CKR_OK;
}

static CK_RV ec_public(const struct tpm_token *tok, const struct tpm_object *obj, TPMT_PUBLIC *pub)
{
	const CK_ATTRIBUTE *params = tpm_attrs_find(&obj->attrs, CKA_EC_PARAMS);
	const CK_ATTRIBUTE *point = tpm_attrs_find(&obj->attrs, CKA_EC_POINT);
	const unsigned char *p;
	ASN1_OCTET_STRING *os;
	size_t field = 0;
	CK_RV rv;

	if (!params || !point || !params->pValue || !point->pValue)
		return CKR_KEY_TYPE_INCONSISTENT;
	rv = ec_curve(params, &pub->parameters.eccDetail.curveID, &field);
	if (rv != CKR_OK)
		return rv;
	if (field == 32 ? !tok->has_p256 : !tok->has_p384)
		return CKR_CURVE_NOT_SUPPORTED;
	/* CKA_EC_POINT is a DER OCTET STRING holding the uncompressed point. */
	p = point->pValue;
	os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)point->ulValueLen);
	if (!os || (size_t)ASN1_STRING_length(os) != 1 + 2 * field ||
	    ASN1_STRING_get0_data(os)[0] != 0x04) {
		ASN1_OCTET_STRING_free(os);
		return CKR_KEY_TYPE_INCONSISTENT;
	}
	pub->type = TPM2_ALG_ECC;
	pub->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	pub->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	pub->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	pub->unique.ecc.x.size = (UINT16)field;
	pub->unique.ecc.y.size = (UINT16)field;
	memcpy(pub->unique.ecc.x.buffer, ASN1_STRING_get0_data(os) + 1, field);
	memcpy(pub->unique.ecc.y.buffer, ASN1_STRING_get0_data(os) + 1 + field, field);
	ASN1_OCTET_STRING_free(os);
	return CKR_OK;
}

/*
 * Builds the public area of obj: unrestricted, with both the sign and decrypt
 * attributes, because TPM2_VerifySignature and TPM2_RSA_Encrypt check them.
 */
static CK_RV build_public(const struct tpm_token *tok, const struct tpm_object *obj,
                          TPM2B_PUBLIC *pub)
{
	memset(pub, 0, sizeof(*pub));
	pub->publicArea.nameAlg = tok->has_sha256 ? TPM2_ALG_SHA256 : TPM2_ALG_SHA1;
	pub->publicArea.objectAttributes =
	    TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_USERWITHAUTH;
	if (tpm_attrs_ulong(&obj->attrs, CKA_KEY_TYPE, ~0UL) == CKK_RSA)
		return rsa_public(tok, obj, &pub->publicArea);
	return ec_public(tok, obj, &pub->publicArea);
}

/* The length of a signature (RSA: also of a ciphertext) made with this public area. */
static size_t output_size(const TPM2B_PUBLIC *pub)
{
	if (pub->publicArea.type == TPM2_ALG_RSA)
		return pub->publicArea.unique.rsa.size;
	return 2u * pub->publicArea.unique.ecc.x.size;
}

static size_t count_loaded(const struct tpm_token *tok)
{
	size_t n = 0;

	for (size_t i = 0; i < tok->n_objects; i++)
		n += tok->objects[i]->loaded != ESYS_TR_NONE;
	return n;
}

/* Loads pub, the public area of obj, into the null hierarchy unless it is cached. */
static CK_RV load_public(struct tpm_token *tok, struct tpm_object *obj, const TPM2B_PUBLIC *pub)
{
	TSS2_RC rc;

	obj->last_use = ++tok->use_clock;
	if (obj->loaded != ESYS_TR_NONE)
		return CKR_OK;
	while (count_loaded(tok) >= tok->cache_max && tpm_object_evict_one_locked(tok))
		;
	for (;;) {
		rc = Esys_LoadExternal(tok->dev.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
		                       NULL, pub, ESYS_TR_RH_NULL, &obj->loaded);
		if (tpm_rc_base(rc) != TPM2_RC_OBJECT_MEMORY || !tpm_object_evict_one_locked(tok))
			break;
	}
	if (rc != TSS2_RC_SUCCESS) {
		obj->loaded = ESYS_TR_NONE;
		return tpm_rc_base(rc) == TPM2_RC_KEY_SIZE ? CKR_KEY_SIZE_RANGE : tpm_rc_to_ckr(rc);
	}
	return CKR_OK;
}

static CK_RV verify_init_locked(struct tpm_token *tok, struct tpm_session *sess,
                                const CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	TPMI_ALG_SIG_SCHEME scheme = scheme_of(mech->mechanism);
	TPMI_ALG_HASH hash = tpm_mech_hash_of_ckm(mech->mechanism);
	CK_MECHANISM_INFO info;
	struct tpm_object *obj;
	TPM2B_PUBLIC pub;
	CK_RV rv;

	if (sess->op != TPM_OP_NONE)
		return CKR_OPERATION_ACTIVE;
	if (scheme == TPM2_ALG_NULL || tpm_mech_info(tok, mech->mechanism, &info) != CKR_OK ||
	    !(info.flags & CKF_VERIFY))
		return CKR_MECHANISM_INVALID;
	rv =
	    get_public_key(tok, key, scheme == TPM2_ALG_ECDSA ? CKK_EC : CKK_RSA, CKA_VERIFY, &obj);
	/* A key of a size or curve that the TPM lacks fails here, not at C_Verify. */
	if (rv == CKR_OK)
		rv = build_public(tok, obj, &pub);
	if (rv != CKR_OK)
		return rv;
	/*
	 * NOTE: TPM2_VerifySignature (libtpms 0.9) finds the PSS salt length in
	 * the signature, so it also accepts salts of another length than sLen.
	 */
	if (scheme == TPM2_ALG_RSAPSS)
		rv = tpm_check_pss_params(tok, mech, &hash);
	else if (mech->ulParameterLen != 0)
		rv = CKR_MECHANISM_PARAM_INVALID;
	if (rv != CKR_OK)
		return rv;

	return tpm_session_start_op(sess, TPM_OP_VERIFY, mech, key, hash);
}

/* Checks the input of the mechanism and returns the digest that the TPM verifies. */
static CK_RV verify_digest(struct tpm_token *tok, const struct tpm_session *sess, const CK_BYTE *in,
                           CK_ULONG in_len, TPMI_ALG_HASH *hash, TPM2B_DIGEST *digest)
{
	*hash = sess->hash;
	if (sess->mech == CKM_RSA_PKCS)
		return tpm_parse_digest_info(tok, in, in_len, hash, digest);
	if (*hash == TPM2_ALG_NULL)
		*hash = tpm_hash_of_length(tok, in_len);
	if (*hash == TPM2_ALG_NULL || in_len != tpm_mech_hash_size(*hash))
		return CKR_DATA_LEN_RANGE;
	digest->size = (UINT16)in_len;
	memcpy(digest->buffer, in, in_len);
	return CKR_OK;
}

/* Converts a PKCS#11 signature (RSA bytes, or ECDSA r || s) to a TPM signature. */
static void fill_signature(TPMI_ALG_SIG_SCHEME scheme, TPMI_ALG_HASH hash, const CK_BYTE *sig,
                           CK_ULONG sig_len, TPMT_SIGNATURE *out)
{
	memset(out, 0, sizeof(*out));
	out->sigAlg = scheme;
	if (scheme == TPM2_ALG_ECDSA) {
		UINT16 half = (UINT16)(sig_len / 2);

		out->signature.ecdsa.hash = hash;
		out->signature.ecdsa.signatureR.size = half;
		memcpy(out->signature.ecdsa.signatureR.buffer, sig, half);
		out->signature.ecdsa.signatureS.size = half;
		memcpy(out->signature.ecdsa.signatureS.buffer, sig + half, half);
	} else {
		/* rsassa and rsapss share one layout. */
		out->signature.rsassa.hash = hash;
		out->signature.rsassa.sig.size = (UINT16)sig_len;
		memcpy(out->signature.rsassa.sig.buffer, sig, sig_len);
	}
}

/*
 * CKM_RSA_PKCS over data that is no DigestInfo of a hash the TPM has:
 * sig^e mod n, which TPM2_RSA_Encrypt computes with the NULL scheme, must be
 * the type-1 block of in (RFC 8017, section 8.2.2, with in for the DigestInfo).
 */
static CK_RV verify_raw(struct tpm_token *tok, struct tpm_object *obj, const TPM2B_PUBLIC *pub,
                        const CK_BYTE *in, CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len)
{
	TPMT_RSA_DECRYPT scheme = {.scheme = TPM2_ALG_NULL};
	TPM2B_PUBLIC_KEY_RSA msg = {.size = (UINT16)sig_len};
	TPM2B_PUBLIC_KEY_RSA *out = NULL;
	TPM2B_DATA label = {0};
	CK_BYTE em[sizeof(msg.buffer)], got[sizeof(msg.buffer)];
	TSS2_RC rc;
	CK_RV rv;

	rv = tpm_rsa_pad_type1(in, in_len, em, sig_len);
	if (rv != CKR_OK)
		return rv;
	/* A signature that is not below n is invalid (RFC 8017, section 5.2.2). */
	if (memcmp(sig, pub->publicArea.unique.rsa.buffer, sig_len) >= 0)
		return CKR_SIGNATURE_INVALID;
	rv = load_public(tok, obj, pub);
	if (rv != CKR_OK)
		return rv;
	memcpy(msg.buffer, sig, sig_len);
	rc = Esys_RSA_Encrypt(tok->dev.esys, obj->loaded, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	                      &msg, &scheme, &label, &out);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_to_ckr(rc);
	/* The result is below n, and a TPM may drop its leading zero bytes. */
	if (out->size > sig_len) {
		rv = CKR_DEVICE_ERROR;
	} else {
		memset(got, 0, sig_len - out->size);
		memcpy(got + sig_len - out->size, out->buffer, out->size);
		rv = memcmp(got, em, sig_len) == 0 ? CKR_OK : CKR_SIGNATURE_INVALID;
	}
	Esys_Free(out);
	return rv;
}

/* Verifies sig over in, the digest, DigestInfo or data that the session's mechanism takes. */
static CK_RV verify_prepared(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                             CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len)
{
	struct tpm_object *obj = tpm_object_get_locked(tok, sess->key);
	TPMI_ALG_SIG_SCHEME scheme = scheme_of(sess->mech);
	TPM2B_DIGEST digest = {0};
	TPMT_SIGNATURE signature;
	TPM2B_PUBLIC pub;
	TPMI_ALG_HASH hash;
	TSS2_RC rc;
	CK_RV rv;

	if (!obj)
		return CKR_KEY_HANDLE_INVALID;
	rv = build_public(tok, obj, &pub);
	if (rv != CKR_OK)
		return rv;
	if (sig_len != output_size(&pub))
		return CKR_SIGNATURE_LEN_RANGE;
	rv = verify_digest(tok, sess, in, in_len, &hash, &digest);
	if (rv == CKR_DATA_INVALID && sess->mech == CKM_RSA_PKCS)
		return verify_raw(tok, obj, &pub, in, in_len, sig, sig_len);
	if (rv == CKR_OK)
		rv = load_public(tok, obj, &pub);
	if (rv != CKR_OK)
		return rv;
	fill_signature(scheme, hash, sig, sig_len, &signature);
	rc = Esys_VerifySignature(tok->dev.esys, obj->loaded, ESYS_TR_NONE, ESYS_TR_NONE,
	                          ESYS_TR_NONE, &digest, &signature, NULL);
	/* libtpms returns TPM2_RC_SIGNATURE also for r, s or an RSA signature out of range. */
	if (tpm_rc_base(rc) == TPM2_RC_SIGNATURE)
		return CKR_SIGNATURE_INVALID;
	return tpm_rc_to_ckr(rc);
}

static CK_RV verify_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                           CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len)
{
	CK_BYTE md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	CK_RV rv;

	if (sess->op != TPM_OP_VERIFY)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (!sess->md)
		rv = verify_prepared(tok, sess, in, in_len, sig, sig_len);
	else if (EVP_DigestUpdate(sess->md, in, in_len) != 1 ||
	         EVP_DigestFinal_ex(sess->md, md, &md_len) != 1)
		rv = CKR_FUNCTION_FAILED;
	else
		rv = verify_prepared(tok, sess, md, md_len, sig, sig_len);
	tpm_op_end_locked(tok, sess);
	return rv;
}

CK_RV tpm_verify_init(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                      CK_OBJECT_HANDLE key)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	if (mech->mechanism == CKM_SHA256_HMAC)
		rv = tpm_hmac_verify_init_locked(tok, sess, mech, key);
	else
		rv = verify_init_locked(tok, sess, mech, key);
	pthread_mutex_unlock(&tok->lock);
	return rv;
}

CK_RV tpm_verify(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len,
                 CK_BYTE_PTR sig, CK_ULONG sig_len)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	if (tpm_hmac_active(sess, TPM_OP_VERIFY))
		rv = tpm_hmac_verify_locked(tok, sess, in, in_len, sig, sig_len);
	else
		rv = verify_locked(tok, sess, in, in_len, sig, sig_len);
	pthread_mutex_unlock(&tok->lock);
	return rv;
}

CK_RV tpm_verify_update(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
                        CK_ULONG in_len)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	if (tpm_hmac_active(sess, TPM_OP_VERIFY)) {
		rv = tpm_hmac_verify_update_locked(tok, sess, in, in_len);
	} else if (sess->op != TPM_OP_VERIFY) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
	} else if (!sess->md) {
		/* Only hash-and-verify mechanisms are multi-part. */
		tpm_op_end_locked(tok, sess);
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	} else if (EVP_DigestUpdate(sess->md, in, in_len) != 1) {
		tpm_op_end_locked(tok, sess);
		rv = CKR_FUNCTION_FAILED;
	}
	pthread_mutex_unlock(&tok->lock);
	return rv;
}

CK_RV tpm_verify_final(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR sig,
                       CK_ULONG sig_len)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_BYTE md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	/* With no operation, the HMAC path returns CKR_OPERATION_NOT_INITIALIZED. */
	if (tpm_hmac_active(sess, TPM_OP_VERIFY) || sess->op != TPM_OP_VERIFY) {
		rv = tpm_hmac_verify_final_locked(tok, sess, sig, sig_len);
		pthread_mutex_unlock(&tok->lock);
		return rv;
	}
	if (!sess->md)
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	else if (EVP_DigestFinal_ex(sess->md, md, &md_len) != 1)
		rv = CKR_FUNCTION_FAILED;
	else
		rv = verify_prepared(tok, sess, md, md_len, sig, sig_len);
	tpm_op_end_locked(tok, sess);
	pthread_mutex_unlock(&tok->lock);
	return rv;
}

static CK_RV encrypt_init_locked(struct tpm_token *tok, struct tpm_session *sess,
                                 const CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	CK_MECHANISM_INFO info;
	struct tpm_object *obj;
	TPM2B_PUBLIC pub;
	CK_RV rv;

	if (sess->op != TPM_OP_NONE)
		return CKR_OPERATION_ACTIVE;
	if (tpm_mech_info(tok, mech->mechanism, &info) != CKR_OK || !(info.flags & CKF_ENCRYPT))
		return CKR_MECHANISM_INVALID;
	rv = get_public_key(tok, key, CKK_RSA, CKA_ENCRYPT, &obj);
	if (rv == CKR_OK)
		rv = build_public(tok, obj, &pub);
	if (rv != CKR_OK)
		return rv;
	memset(&sess->label, 0, sizeof(sess->label));
	if (mech->mechanism == CKM_RSA_PKCS_OAEP)
		rv = tpm_oaep_params(tok, mech, &sess->hash, &sess->label);
	else if (mech->ulParameterLen != 0)
		rv = CKR_MECHANISM_PARAM_INVALID;
	if (rv != CKR_OK)
		return rv;
	sess->op = TPM_OP_ENCRYPT;
	sess->mech = mech->mechanism;
	sess->key = key;
	return CKR_OK;
}

/* Runs TPM2_RSA_Encrypt. With a device or swtpm, the session encrypts the message. */
static CK_RV rsa_encrypt(struct tpm_token *tok, struct tpm_session *sess, struct tpm_object *obj,
                         const TPM2B_PUBLIC *pub, const CK_BYTE *in, CK_ULONG in_len,
                         TPM2B_PUBLIC_KEY_RSA **cipher)
{
	ESYS_TR enc = tok->dev.session == ESYS_TR_PASSWORD ? ESYS_TR_NONE : tok->dev.session;
	TPMT_RSA_DECRYPT scheme = {.scheme = TPM2_ALG_RSAES};
	TPM2B_PUBLIC_KEY_RSA msg = {.size = (UINT16)in_len};
	size_t k = output_size(pub), overhead = 11;
	TSS2_RC rc;
	CK_RV rv;

	if (sess->mech == CKM_RSA_PKCS_OAEP) {
		scheme.scheme = TPM2_ALG_OAEP;
		scheme.details.oaep.hashAlg = sess->hash;
		overhead = 2 * tpm_mech_hash_size(sess->hash) + 2;
	}
	if (overhead > k || in_len > k - overhead)
		return CKR_DATA_LEN_RANGE;
	rv = load_public(tok, obj, pub);
	if (rv != CKR_OK)
		return rv;
	if (in_len > 0)
		memcpy(msg.buffer, in, in_len);
	rc = Esys_RSA_Encrypt(tok->dev.esys, obj->loaded, enc, ESYS_TR_NONE, ESYS_TR_NONE, &msg,
	                      &scheme, &sess->label, cipher);
	OPENSSL_cleanse(&msg, sizeof(msg));
	if (rc == TSS2_RC_SUCCESS && (*cipher)->size != k)
		return CKR_DEVICE_ERROR;
	return tpm_rc_to_ckr(rc);
}

static CK_RV encrypt_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                            CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	struct tpm_object *obj = tpm_object_get_locked(tok, sess->key);
	TPM2B_PUBLIC_KEY_RSA *cipher = NULL;
	TPM2B_PUBLIC pub;
	CK_RV rv;

	rv = obj ? build_public(tok, obj, &pub) : CKR_KEY_HANDLE_INVALID;
	if (rv == CKR_OK && (!out || *out_len < output_size(&pub))) {
		/* A length query or a short buffer keeps the operation. */
		*out_len = output_size(&pub);
		return out ? CKR_BUFFER_TOO_SMALL : CKR_OK;
	}
	if (rv == CKR_OK)
		rv = rsa_encrypt(tok, sess, obj, &pub, in, in_len, &cipher);
	if (rv == CKR_OK) {
		memcpy(out, cipher->buffer, cipher->size);
		*out_len = cipher->size;
	}
	Esys_Free(cipher);
	tpm_op_end_locked(tok, sess);
	return rv;
}

CK_RV tpm_pub_encrypt_init(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                           CK_OBJECT_HANDLE key)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv;

	if (tpm_aes_mechanism(mech->mechanism))
		return tpm_encrypt_init(be, s, mech, key);
	rv = lock_session(be, s, &tok, &sess);
	if (rv != CKR_OK)
		return rv;
	rv = encrypt_init_locked(tok, sess, mech, key);
	pthread_mutex_unlock(&tok->lock);
	return rv;
}

CK_RV tpm_pub_encrypt(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
                      CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	struct tpm_token *tok;
	struct tpm_session *sess;
	CK_RV rv = lock_session(be, s, &tok, &sess);

	if (rv != CKR_OK)
		return rv;
	if (sess->op != TPM_OP_ENCRYPT || tpm_aes_mechanism(sess->mech)) {
		/* An AES operation, or none: tpm_encrypt() handles both. */
		pthread_mutex_unlock(&tok->lock);
		return tpm_encrypt(be, s, in, in_len, out, out_len);
	}
	rv = encrypt_locked(tok, sess, in, in_len, out, out_len);
	pthread_mutex_unlock(&tok->lock);
	return rv;
}
