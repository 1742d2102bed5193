/*
 * C_GenerateKeyPair: RSA and EC keys created by TPM2_Create under the
 * primary storage key. The TPM returns the public part and the private
 * part wrapped under the primary key; only those two blobs reach the disk.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <tss2/tss2_mu.h>

#include "backends/tpm/tpm_keygen.h"

/* DER encodings of the named-curve OIDs that CKA_EC_PARAMS carries. */
static const CK_BYTE oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const CK_BYTE oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

/* The key pair that a template requests, after checking it. */
struct keygen_request {
	CK_KEY_TYPE key_type;
	CK_ULONG bits;        /* RSA */
	TPMI_ECC_CURVE curve; /* EC */
	bool sign, decrypt;   /* the TPM key's sign and decrypt attributes */
	bool decrypt_role;    /* CKA_DECRYPT of the private key */
	bool pub_token, priv_token;
};

/* Attributes that a key pair template may set and that are stored as given. */
static bool copied_attribute(CK_ATTRIBUTE_TYPE type)
{
	switch (type) {
	case CKA_LABEL:
	case CKA_ID:
	case CKA_SUBJECT:
	case CKA_START_DATE:
	case CKA_END_DATE:
	case CKA_TOKEN:
	case CKA_PRIVATE:
	case CKA_MODIFIABLE:
	case CKA_DESTROYABLE:
	case CKA_SIGN:
	case CKA_DECRYPT:
	case CKA_VERIFY:
	case CKA_ENCRYPT:
	case CKA_WRAP:
	case CKA_UNWRAP:
	/*
	 * pkcs11-tool sets CKA_DERIVE on every EC key pair. The value is kept,
	 * but no derive mechanism is offered, so it permits nothing yet.
	 */
	case CKA_DERIVE:
		return true;
	default:
		return false;
	}
}

/* Attributes whose value the TPM fixes: a template may only ask for that value. */
static CK_RV check_fixed_bool(const CK_ATTRIBUTE *a, CK_BBOOL fixed)
{
	CK_BBOOL v;
	CK_RV rv = tpm_template_bool(a, &v);

	if (rv != CKR_OK)
		return rv;
	return v == fixed ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
}

static CK_RV check_one(const CK_ATTRIBUTE *a, CK_OBJECT_CLASS cls, struct keygen_request *req)
{
	CK_ULONG ul;
	CK_BBOOL b;
	CK_RV rv;

	switch (a->type) {
	case CKA_CLASS:
		rv = tpm_template_ulong(a, &ul);
		return rv != CKR_OK ? rv : (ul == cls ? CKR_OK : CKR_TEMPLATE_INCONSISTENT);
	case CKA_KEY_TYPE:
		rv = tpm_template_ulong(a, &ul);
		return rv != CKR_OK ? rv
		                    : (ul == req->key_type ? CKR_OK : CKR_TEMPLATE_INCONSISTENT);
	case CKA_SENSITIVE:
	case CKA_ALWAYS_SENSITIVE:
	case CKA_NEVER_EXTRACTABLE:
		return check_fixed_bool(a, CK_TRUE);
	case CKA_EXTRACTABLE:
	case CKA_SIGN_RECOVER:
	case CKA_VERIFY_RECOVER:
	case CKA_ALWAYS_AUTHENTICATE:
	case CKA_WRAP_WITH_TRUSTED:
	case CKA_TRUSTED:
	case CKA_COPYABLE:
		return check_fixed_bool(a, CK_FALSE);
	case CKA_MODULUS_BITS:
		if (cls != CKO_PUBLIC_KEY || req->key_type != CKK_RSA)
			return CKR_ATTRIBUTE_TYPE_INVALID;
		rv = tpm_template_ulong(a, &req->bits);
		return rv;
	case CKA_PUBLIC_EXPONENT:
		/* The TPM makes keys with e = 65537 only (exponent 0 in TPMS_RSA_PARMS). */
		if (req->key_type != CKK_RSA)
			return CKR_ATTRIBUTE_TYPE_INVALID;
		if ((a->ulValueLen == 3 && memcmp(a->pValue, "\x01\x00\x01", 3) == 0) ||
		    (a->ulValueLen == 4 && memcmp(a->pValue, "\x00\x01\x00\x01", 4) == 0))
			return CKR_OK;
		return CKR_ATTRIBUTE_VALUE_INVALID;
	case CKA_EC_PARAMS:
		if (cls != CKO_PUBLIC_KEY || req->key_type != CKK_EC)
			return CKR_ATTRIBUTE_TYPE_INVALID;
		if (a->ulValueLen == sizeof(oid_p256) &&
		    !memcmp(a->pValue, oid_p256, a->ulValueLen))
			req->curve = TPM2_ECC_NIST_P256;
		else if (a->ulValueLen == sizeof(oid_p384) &&
		         !memcmp(a->pValue, oid_p384, a->ulValueLen))
			req->curve = TPM2_ECC_NIST_P384;
		else
			return CKR_CURVE_NOT_SUPPORTED;
		return CKR_OK;
	default:
		if (!copied_attribute(a->type))
			return CKR_ATTRIBUTE_TYPE_INVALID;
		if (a->type != CKA_LABEL && a->type != CKA_ID && a->type != CKA_SUBJECT &&
		    a->type != CKA_START_DATE && a->type != CKA_END_DATE)
			return tpm_template_bool(a, &b);
		return CKR_OK;
	}
}

static CK_RV check_template(const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_CLASS cls,
                            struct keygen_request *req)
{
	for (CK_ULONG i = 0; i < count; i++) {
		CK_RV rv = check_one(&tmpl[i], cls, req);

		if (rv != CKR_OK)
			return rv;
	}
	return CKR_OK;
}

static bool template_bool(const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_ATTRIBUTE_TYPE type,
                          bool def)
{
	for (CK_ULONG i = 0; i < count; i++) {
		if (tmpl[i].type == type && tmpl[i].ulValueLen == sizeof(CK_BBOOL))
			return *(CK_BBOOL *)tmpl[i].pValue != CK_FALSE;
	}
	return def;
}

static CK_RV parse_request(const struct tpm_token *tok, CK_MECHANISM_TYPE mech,
                           const CK_ATTRIBUTE *pub, CK_ULONG n_pub, const CK_ATTRIBUTE *priv,
                           CK_ULONG n_priv, struct keygen_request *req)
{
	CK_RV rv;

	memset(req, 0, sizeof(*req));
	req->key_type = mech == CKM_RSA_PKCS_KEY_PAIR_GEN ? CKK_RSA : CKK_EC;
	rv = check_template(pub, n_pub, CKO_PUBLIC_KEY, req);
	if (rv == CKR_OK)
		rv = check_template(priv, n_priv, CKO_PRIVATE_KEY, req);
	if (rv != CKR_OK)
		return rv;

	if (req->key_type == CKK_RSA) {
		if (req->bits == 0)
			return CKR_TEMPLATE_INCOMPLETE;
		if (req->bits != 2048 && !(req->bits == 3072 && tok->has_rsa3072))
			return CKR_KEY_SIZE_RANGE;
	} else {
		if (req->curve == 0)
			return CKR_TEMPLATE_INCOMPLETE;
		if ((req->curve == TPM2_ECC_NIST_P256 && !tok->has_p256) ||
		    (req->curve == TPM2_ECC_NIST_P384 && !tok->has_p384))
			return CKR_CURVE_NOT_SUPPORTED;
	}
	req->sign = template_bool(priv, n_priv, CKA_SIGN, true);
	/*
	 * C_UnwrapKey with OAEP is an RSA decryption in the TPM too, and so is
	 * CKM_RSA_PKCS signing of data that is no DigestInfo (TPM2_RSA_Decrypt
	 * with the NULL scheme). So every RSA key with CKA_SIGN gets the TPM's
	 * decrypt attribute; CKA_DECRYPT keeps the template's value.
	 * tpm_rsa_raw.c explains why no client can decrypt with the key.
	 */
	req->decrypt_role =
	    req->key_type == CKK_RSA && template_bool(priv, n_priv, CKA_DECRYPT, true);
	req->decrypt = req->key_type == CKK_RSA && (req->decrypt_role || req->sign ||
	                                            template_bool(priv, n_priv, CKA_UNWRAP, false));
	if (req->key_type == CKK_EC && template_bool(priv, n_priv, CKA_DECRYPT, false))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (!req->sign && !req->decrypt)
		return CKR_TEMPLATE_INCONSISTENT;
	req->pub_token = template_bool(pub, n_pub, CKA_TOKEN, false);
	req->priv_token = template_bool(priv, n_priv, CKA_TOKEN, false);
	return CKR_OK;
}

static void fill_template(const struct keygen_request *req, TPM2B_PUBLIC *t)
{
	TPMA_OBJECT attrs = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	                    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
	                    TPMA_OBJECT_NODA;

	memset(t, 0, sizeof(*t));
	if (req->sign)
		attrs |= TPMA_OBJECT_SIGN_ENCRYPT;
	if (req->decrypt)
		attrs |= TPMA_OBJECT_DECRYPT;
	t->publicArea.nameAlg = TPM2_ALG_SHA256;
	t->publicArea.objectAttributes = attrs;
	if (req->key_type == CKK_RSA) {
		t->publicArea.type = TPM2_ALG_RSA;
		t->publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
		t->publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		t->publicArea.parameters.rsaDetail.keyBits = (TPMI_RSA_KEY_BITS)req->bits;
		t->publicArea.parameters.rsaDetail.exponent = 0;
	} else {
		t->publicArea.type = TPM2_ALG_ECC;
		t->publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
		t->publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		t->publicArea.parameters.eccDetail.curveID = req->curve;
		t->publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	}
}

static CK_RV create_key(struct tpm_token *tok, const struct keygen_request *req, TPM2B_PUBLIC **pub,
                        TPM2B_PRIVATE **priv)
{
	TPM2B_SENSITIVE_CREATE sensitive = {0};
	TPM2B_PUBLIC tmpl;
	TSS2_RC rc;

	fill_template(req, &tmpl);
	sensitive.sensitive.userAuth.size = TPM_SECRET_LEN;
	memcpy(sensitive.sensitive.userAuth.buffer, tok->secret, TPM_SECRET_LEN);
	rc = tpm_create_locked(tok, &sensitive, &tmpl, priv, pub);
	OPENSSL_cleanse(&sensitive, sizeof(sensitive));
	return tpm_rc_to_ckr(rc);
}

/* Copies the attributes a template sets as given (label, id, roles, ...). */
static CK_RV copy_template(struct tpm_attrs *a, const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	for (CK_ULONG i = 0; i < count; i++) {
		CK_RV rv;

		if (!copied_attribute(tmpl[i].type))
			continue;
		rv = tpm_attrs_set(a, tmpl[i].type, tmpl[i].pValue, tmpl[i].ulValueLen);
		if (rv != CKR_OK)
			return rv;
	}
	return CKR_OK;
}

static CK_RV set_defaults(struct tpm_attrs *a, const struct tpm_attr_default *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		CK_RV rv = CKR_OK;

		if (!tpm_attrs_find(a, d[i].type))
			rv = tpm_attrs_set_bool(a, d[i].type, d[i].value);
		if (rv != CKR_OK)
			return rv;
	}
	return CKR_OK;
}

static const struct tpm_attr_default private_defaults[] = {
    {CKA_TOKEN, CK_FALSE},
    {CKA_PRIVATE, CK_TRUE},
    {CKA_MODIFIABLE, CK_TRUE},
    {CKA_DESTROYABLE, CK_TRUE},
    {CKA_COPYABLE, CK_FALSE},
    {CKA_LOCAL, CK_TRUE},
    {CKA_SENSITIVE, CK_TRUE},
    {CKA_ALWAYS_SENSITIVE, CK_TRUE},
    {CKA_EXTRACTABLE, CK_FALSE},
    {CKA_NEVER_EXTRACTABLE, CK_TRUE},
    {CKA_SIGN_RECOVER, CK_FALSE},
    {CKA_UNWRAP, CK_FALSE},
    {CKA_DERIVE, CK_FALSE},
    {CKA_WRAP_WITH_TRUSTED, CK_FALSE},
    {CKA_ALWAYS_AUTHENTICATE, CK_FALSE},
};

static const struct tpm_attr_default public_defaults[] = {
    {CKA_TOKEN, CK_FALSE},          {CKA_PRIVATE, CK_FALSE},  {CKA_MODIFIABLE, CK_TRUE},
    {CKA_DESTROYABLE, CK_TRUE},     {CKA_COPYABLE, CK_FALSE}, {CKA_LOCAL, CK_TRUE},
    {CKA_VERIFY_RECOVER, CK_FALSE}, {CKA_WRAP, CK_FALSE},     {CKA_DERIVE, CK_FALSE},
    {CKA_TRUSTED, CK_FALSE},
};

static CK_RV set_empty(struct tpm_attrs *a, CK_ATTRIBUTE_TYPE type)
{
	return tpm_attrs_find(a, type) ? CKR_OK : tpm_attrs_set(a, type, NULL, 0);
}

static CK_RV common_attrs(struct tpm_attrs *a, CK_OBJECT_CLASS cls, CK_KEY_TYPE key_type,
                          CK_MECHANISM_TYPE mech)
{
	CK_RV rv = tpm_attrs_set_ulong(a, CKA_CLASS, cls);

	if (rv == CKR_OK)
		rv = tpm_attrs_set_ulong(a, CKA_KEY_TYPE, key_type);
	if (rv == CKR_OK)
		rv = tpm_attrs_set_ulong(a, CKA_KEY_GEN_MECHANISM, mech);
	if (rv == CKR_OK)
		rv = set_empty(a, CKA_LABEL);
	if (rv == CKR_OK)
		rv = set_empty(a, CKA_ID);
	if (rv == CKR_OK)
		rv = set_empty(a, CKA_START_DATE);
	if (rv == CKR_OK)
		rv = set_empty(a, CKA_END_DATE);
	if (rv == CKR_OK && cls == CKO_PRIVATE_KEY)
		rv = set_empty(a, CKA_SUBJECT);
	if (rv == CKR_OK && cls == CKO_PUBLIC_KEY)
		rv = set_empty(a, CKA_SUBJECT);
	return rv;
}

/* The public numbers from the TPM's TPMT_PUBLIC, on both objects of the pair. */
static CK_RV public_numbers(struct tpm_attrs *a, CK_OBJECT_CLASS cls, const TPMT_PUBLIC *p)
{
	static const CK_BYTE e65537[] = {0x01, 0x00, 0x01};
	CK_RV rv;

	if (p->type == TPM2_ALG_RSA) {
		rv = tpm_attrs_set(a, CKA_MODULUS, p->unique.rsa.buffer, p->unique.rsa.size);
		if (rv == CKR_OK)
			rv = tpm_attrs_set(a, CKA_PUBLIC_EXPONENT, e65537, sizeof(e65537));
		if (rv == CKR_OK && cls == CKO_PUBLIC_KEY)
			rv = tpm_attrs_set_ulong(a, CKA_MODULUS_BITS,
			                         p->parameters.rsaDetail.keyBits);
		return rv;
	}
	return tpm_keygen_ec_attrs(a, cls, p);
}

CK_RV tpm_keygen_ec_attrs(struct tpm_attrs *a, CK_OBJECT_CLASS cls, const TPMT_PUBLIC *p)
{
	const TPMS_ECC_POINT *pt = &p->unique.ecc;
	bool p256 = p->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256;
	size_t field = p256 ? 32 : 48;
	CK_BYTE point[2 + 1 + 2 * 48];
	CK_RV rv;

	if (pt->x.size != field || pt->y.size != field)
		return CKR_DEVICE_ERROR;
	rv = p256 ? tpm_attrs_set(a, CKA_EC_PARAMS, oid_p256, sizeof(oid_p256))
	          : tpm_attrs_set(a, CKA_EC_PARAMS, oid_p384, sizeof(oid_p384));
	if (rv != CKR_OK || cls != CKO_PUBLIC_KEY)
		return rv;

	/* CKA_EC_POINT is the DER OCTET STRING around the uncompressed point. */
	point[0] = 0x04;
	point[1] = (CK_BYTE)(1 + 2 * field);
	point[2] = 0x04;
	memcpy(point + 3, pt->x.buffer, field);
	memcpy(point + 3 + field, pt->y.buffer, field);
	return tpm_attrs_set(a, CKA_EC_POINT, point, 3 + 2 * field);
}

CK_RV tpm_keygen_blob_attrs(struct tpm_attrs *a, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC) > sizeof(TPM2B_PRIVATE) ? sizeof(TPM2B_PUBLIC)
	                                                         : sizeof(TPM2B_PRIVATE)];
	size_t off = 0;
	CK_RV rv;

	if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return CKR_GENERAL_ERROR;
	rv = tpm_attrs_set(a, TPM_CKA_TPM_PUBLIC, buf, off);
	off = 0;
	if (rv == CKR_OK &&
	    Tss2_MU_TPM2B_PRIVATE_Marshal(priv, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		rv = CKR_GENERAL_ERROR;
	if (rv == CKR_OK)
		rv = tpm_attrs_set(a, TPM_CKA_TPM_PRIVATE, buf, off);
	return rv;
}

static CK_RV build_objects(const struct keygen_request *req, CK_MECHANISM_TYPE mech,
                           const CK_ATTRIBUTE *pub_tmpl, CK_ULONG n_pub,
                           const CK_ATTRIBUTE *priv_tmpl, CK_ULONG n_priv, const TPM2B_PUBLIC *pub,
                           const TPM2B_PRIVATE *priv, struct tpm_object *po, struct tpm_object *ko)
{
	CK_RV rv;

	rv = copy_template(&po->attrs, pub_tmpl, n_pub);
	if (rv == CKR_OK)
		rv = copy_template(&ko->attrs, priv_tmpl, n_priv);
	if (rv == CKR_OK)
		rv = common_attrs(&po->attrs, CKO_PUBLIC_KEY, req->key_type, mech);
	if (rv == CKR_OK)
		rv = common_attrs(&ko->attrs, CKO_PRIVATE_KEY, req->key_type, mech);
	if (rv == CKR_OK)
		rv = tpm_attrs_set_bool(&ko->attrs, CKA_SIGN, req->sign);
	if (rv == CKR_OK)
		rv = tpm_attrs_set_bool(&ko->attrs, CKA_DECRYPT, req->decrypt_role);
	if (rv == CKR_OK && !tpm_attrs_find(&po->attrs, CKA_VERIFY))
		rv = tpm_attrs_set_bool(&po->attrs, CKA_VERIFY, req->sign);
	if (rv == CKR_OK && !tpm_attrs_find(&po->attrs, CKA_ENCRYPT))
		rv = tpm_attrs_set_bool(&po->attrs, CKA_ENCRYPT, req->decrypt_role);
	if (rv == CKR_OK)
		rv = set_defaults(&po->attrs, public_defaults, ARRAY_LEN(public_defaults));
	if (rv == CKR_OK)
		rv = set_defaults(&ko->attrs, private_defaults, ARRAY_LEN(private_defaults));
	if (rv == CKR_OK)
		rv = public_numbers(&po->attrs, CKO_PUBLIC_KEY, &pub->publicArea);
	if (rv == CKR_OK)
		rv = public_numbers(&ko->attrs, CKO_PRIVATE_KEY, &pub->publicArea);
	if (rv == CKR_OK)
		rv = tpm_keygen_blob_attrs(&ko->attrs, pub, priv);
	return rv;
}

/*
 * Saves the pair: token objects go to one key file together (so a crash
 * leaves both or neither), session objects stay in memory.
 */
static CK_RV save_pair(struct tpm_token *tok, CK_SESSION_HANDLE s, struct tpm_object *po,
                       struct tpm_object *ko, bool pub_token, bool priv_token)
{
	struct tpm_object *file_objs[2];
	size_t n = 0;
	CK_RV rv;

	if (priv_token)
		file_objs[n++] = ko;
	if (pub_token)
		file_objs[n++] = po;
	if (!priv_token)
		ko->session = s;
	if (!pub_token)
		po->session = s;
	if (n > 0) {
		rv = tpm_store_add_locked(tok, file_objs, n);
		if (rv != CKR_OK)
			return rv;
	}
	rv = tpm_object_register_locked(tok, ko);
	if (rv != CKR_OK)
		return rv;
	rv = tpm_object_register_locked(tok, po);
	if (rv != CKR_OK)
		tpm_object_unregister_locked(tok, ko);
	return rv;
}

CK_RV tpm_keygen_pair_locked(struct tpm_token *tok, CK_SESSION_HANDLE s, CK_MECHANISM_TYPE mech,
                             const CK_ATTRIBUTE *pub_tmpl, CK_ULONG n_pub,
                             const CK_ATTRIBUTE *priv_tmpl, CK_ULONG n_priv,
                             CK_OBJECT_HANDLE *pub_h, CK_OBJECT_HANDLE *priv_h)
{
	struct keygen_request req;
	TPM2B_PUBLIC *pub = NULL;
	TPM2B_PRIVATE *priv = NULL;
	struct tpm_object *po = NULL, *ko = NULL;
	CK_RV rv;

	if (mech != CKM_RSA_PKCS_KEY_PAIR_GEN && mech != CKM_EC_KEY_PAIR_GEN)
		return CKR_MECHANISM_INVALID;
	if (tok->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	rv = parse_request(tok, mech, pub_tmpl, n_pub, priv_tmpl, n_priv, &req);
	if (rv != CKR_OK)
		return rv;

	rv = create_key(tok, &req, &pub, &priv);
	if (rv != CKR_OK)
		return rv;
	po = tpm_object_new();
	ko = tpm_object_new();
	if (!po || !ko) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	rv = build_objects(&req, mech, pub_tmpl, n_pub, priv_tmpl, n_priv, pub, priv, po, ko);
	if (rv == CKR_OK)
		rv = save_pair(tok, s, po, ko, req.pub_token, req.priv_token);
	if (rv == CKR_OK) {
		*pub_h = po->handle;
		*priv_h = ko->handle;
		po = ko = NULL;
	}
out:
	tpm_object_free(tok, po);
	tpm_object_free(tok, ko);
	Esys_Free(pub);
	Esys_Free(priv);
	return rv;
}

CK_RV tpm_keygen_check_import_template(const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                                       CK_KEY_TYPE key_type)
{
	struct keygen_request req = {.key_type = key_type};

	for (CK_ULONG i = 0; i < count; i++) {
		/* An imported key was outside the TPM once, so these stay false. */
		if (tmpl[i].type == CKA_ALWAYS_SENSITIVE || tmpl[i].type == CKA_NEVER_EXTRACTABLE ||
		    tmpl[i].type == CKA_LOCAL)
			return CKR_ATTRIBUTE_READ_ONLY;
	}
	return check_template(tmpl, count, CKO_PRIVATE_KEY, &req);
}

CK_RV tpm_keygen_import_attrs(struct tpm_attrs *a, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                              const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv)
{
	const TPMT_PUBLIC *p = &pub->publicArea;
	CK_KEY_TYPE type = p->type == TPM2_ALG_RSA ? CKK_RSA : CKK_EC;
	CK_RV rv;

	rv = copy_template(a, tmpl, count);
	if (rv == CKR_OK)
		rv = common_attrs(a, CKO_PRIVATE_KEY, type, CK_UNAVAILABLE_INFORMATION);
	if (rv == CKR_OK)
		rv = tpm_attrs_set_bool(a, CKA_SIGN,
		                        (p->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) != 0);
	if (rv == CKR_OK && !tpm_attrs_find(a, CKA_DECRYPT))
		rv = tpm_attrs_set_bool(a, CKA_DECRYPT, false);
	if (rv == CKR_OK)
		rv = tpm_attrs_set_bool(a, CKA_LOCAL, false);
	if (rv == CKR_OK)
		rv = tpm_attrs_set_bool(a, CKA_ALWAYS_SENSITIVE, false);
	if (rv == CKR_OK)
		rv = tpm_attrs_set_bool(a, CKA_NEVER_EXTRACTABLE, false);
	if (rv == CKR_OK)
		rv = set_defaults(a, private_defaults, ARRAY_LEN(private_defaults));
	if (rv == CKR_OK)
		rv = public_numbers(a, CKO_PRIVATE_KEY, p);
	if (rv == CKR_OK)
		rv = tpm_keygen_blob_attrs(a, pub, priv);
	return rv;
}
