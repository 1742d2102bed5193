#include "byok_pubkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

/* Room for an ECDSA signature (r || s) on P-521 and for its uncompressed point. */
#define EC_MAX_SIG   132
#define EC_MAX_POINT 133

EVP_PKEY *byok_public_load(const char *path, char *err, size_t err_len)
{
	OSSL_DECODER_CTX *dctx;
	EVP_PKEY *pkey = NULL;
	BIO *bio = BIO_new_file(path, "rb");

	if (!bio) {
		snprintf(err, err_len, "cannot open '%s'", path);
		return NULL;
	}
	dctx =
	    OSSL_DECODER_CTX_new_for_pkey(&pkey, NULL, NULL, NULL, EVP_PKEY_PUBLIC_KEY, NULL, NULL);
	if (!dctx || OSSL_DECODER_from_bio(dctx, bio) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
		snprintf(err, err_len, "'%s' is not a public key in PEM or DER", path);
	}
	OSSL_DECODER_CTX_free(dctx);
	BIO_free(bio);
	ERR_clear_error();
	return pkey;
}

static int token_sign(struct byok_token *t, CK_OBJECT_HANDLE priv, CK_MECHANISM_TYPE type,
                      const unsigned char *in, size_t in_len, unsigned char *sig, CK_ULONG *sig_len)
{
	CK_MECHANISM mech = {type, NULL, 0};
	CK_RV rv = t->cli->fl->C_SignInit(t->session, &mech, priv);

	if (rv == CKR_OK)
		rv = t->cli->fl->C_Sign(t->session, (CK_BYTE_PTR)in, in_len, sig, sig_len);
	if (rv != CKR_OK)
		cli_error("the imported key on token '%s' cannot sign: %s", t->label,
		          cli_rv_name(rv));
	return rv == CKR_OK ? 0 : -1;
}

/* Verifies a raw ECDSA signature (r || s) over digest. */
static bool ecdsa_verify(EVP_PKEY *pub, const unsigned char *digest, size_t digest_len,
                         const unsigned char *sig, CK_ULONG sig_len)
{
	ECDSA_SIG *esig = ECDSA_SIG_new();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
	unsigned char *der = NULL;
	int der_len = 0;
	bool ok = false;

	if (esig && ECDSA_SIG_set0(esig, BN_bin2bn(sig, (int)sig_len / 2, NULL),
	                           BN_bin2bn(sig + sig_len / 2, (int)sig_len / 2, NULL)) == 1)
		der_len = i2d_ECDSA_SIG(esig, &der);
	if (der_len > 0 && ctx && EVP_PKEY_verify_init(ctx) == 1)
		ok = EVP_PKEY_verify(ctx, der, (size_t)der_len, digest, digest_len) == 1;
	OPENSSL_free(der);
	ECDSA_SIG_free(esig);
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

static EVP_PKEY *ec_public_from_point(int nid, const unsigned char *point, size_t len)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	OSSL_PARAM *params = NULL;
	EVP_PKEY *pkey = NULL;

	if (bld &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(nid), 0) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, len))
		params = OSSL_PARAM_BLD_to_param(bld);
	if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	ERR_clear_error();
	return pkey;
}

/*
 * One candidate public key of an ECDSA signature (r, s) over e, for the
 * point R with x = r and the given y parity: Q = r^-1 (s R - e G).
 */
static EVP_PKEY *ec_candidate(const EC_GROUP *group, int nid, const BIGNUM *r, const BIGNUM *s,
                              const BIGNUM *e, int y_bit, BN_CTX *bn)
{
	const BIGNUM *order = EC_GROUP_get0_order(group);
	EC_POINT *big_r = EC_POINT_new(group), *q = EC_POINT_new(group);
	BIGNUM *r_inv = BN_new(), *u1 = BN_new(), *u2 = BN_new();
	unsigned char point[EC_MAX_POINT];
	EVP_PKEY *pkey = NULL;
	size_t len = 0;

	if (!big_r || !q || !r_inv || !u1 || !u2 ||
	    EC_POINT_set_compressed_coordinates(group, big_r, r, y_bit, bn) != 1 ||
	    !BN_mod_inverse(r_inv, r, order, bn) || !BN_mod_mul(u1, e, r_inv, order, bn) ||
	    !BN_mod_sub(u1, order, u1, order, bn) || !BN_mod_mul(u2, s, r_inv, order, bn) ||
	    EC_POINT_mul(group, q, u1, big_r, u2, bn) != 1)
		goto out;
	len = EC_POINT_point2oct(group, q, POINT_CONVERSION_UNCOMPRESSED, point, sizeof(point), bn);
	if (len > 0)
		pkey = ec_public_from_point(nid, point, len);
out:
	EC_POINT_free(big_r);
	EC_POINT_free(q);
	BN_free(r_inv);
	BN_free(u1);
	BN_free(u2);
	ERR_clear_error();
	return pkey;
}

/*
 * Recovers the public key of an EC private key from two signatures over
 * random digests: each signature allows two public keys, and only the
 * right one verifies both.
 */
static EVP_PKEY *ec_recover(struct byok_token *t, CK_OBJECT_HANDLE priv, int nid)
{
	unsigned char digest[2][32], sig[2][EC_MAX_SIG];
	CK_ULONG sig_len[2] = {EC_MAX_SIG, EC_MAX_SIG};
	EC_GROUP *group = EC_GROUP_new_by_curve_name(nid);
	BN_CTX *bn = BN_CTX_new();
	BIGNUM *r = NULL, *s = NULL, *e = NULL;
	EVP_PKEY *found = NULL;

	if (!group || !bn || RAND_bytes(&digest[0][0], sizeof(digest)) != 1)
		goto out;
	for (int i = 0; i < 2; i++)
		if (token_sign(t, priv, CKM_ECDSA, digest[i], 32, sig[i], &sig_len[i]) != 0)
			goto out;
	r = BN_bin2bn(sig[0], (int)sig_len[0] / 2, NULL);
	s = BN_bin2bn(sig[0] + sig_len[0] / 2, (int)sig_len[0] / 2, NULL);
	e = BN_bin2bn(digest[0], 32, NULL);

	for (int y_bit = 0; y_bit < 2 && r && s && e && !found; y_bit++) {
		EVP_PKEY *q = ec_candidate(group, nid, r, s, e, y_bit, bn);

		if (q && ecdsa_verify(q, digest[0], 32, sig[0], sig_len[0]) &&
		    ecdsa_verify(q, digest[1], 32, sig[1], sig_len[1]))
			found = q;
		else
			EVP_PKEY_free(q);
	}
out:
	BN_free(r);
	BN_free(s);
	BN_free(e);
	BN_CTX_free(bn);
	EC_GROUP_free(group);
	return found;
}

/* Checks that the token's key signs under pub: the user's public key belongs to it. */
static int prove_pair(struct byok_token *t, CK_OBJECT_HANDLE priv, CK_KEY_TYPE type, EVP_PKEY *pub)
{
	unsigned char challenge[32], sig[EC_MAX_SIG];
	CK_ULONG sig_len = sizeof(sig);
	EVP_MD_CTX *ctx;
	bool ok = false;

	if (RAND_bytes(challenge, sizeof(challenge)) != 1)
		return -1;
	if (type == CKK_EC) {
		if (token_sign(t, priv, CKM_ECDSA, challenge, 32, sig, &sig_len) != 0)
			return -1;
		return ecdsa_verify(pub, challenge, 32, sig, sig_len) ? 0 : -1;
	}
	if (token_sign(t, priv, CKM_EDDSA, challenge, 32, sig, &sig_len) != 0)
		return -1;
	ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1)
		ok = EVP_DigestVerify(ctx, sig, sig_len, challenge, sizeof(challenge)) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : -1;
}

/* The NID of the curve that a CKA_EC_PARAMS value names, or NID_undef. */
static int curve_nid(const unsigned char *params, CK_ULONG len)
{
	const unsigned char *p = params;
	ASN1_OBJECT *obj = d2i_ASN1_OBJECT(NULL, &p, (long)len);
	int nid = obj ? OBJ_obj2nid(obj) : NID_undef;

	ASN1_OBJECT_free(obj);
	ERR_clear_error();
	return nid;
}

/* Wraps a point in a DER OCTET STRING, the form of CKA_EC_POINT. */
static size_t der_octet_string(const unsigned char *in, size_t len, unsigned char *out)
{
	size_t n = 0;

	out[n++] = 0x04;
	if (len >= 128)
		out[n++] = 0x81;
	out[n++] = (unsigned char)len;
	memcpy(out + n, in, len);
	return n + len;
}

static int create_object(struct byok_token *t, CK_KEY_TYPE type, CK_ATTRIBUTE *key_attrs,
                         CK_ULONG key_count, const char *label, const unsigned char *id,
                         size_t id_len, CK_OBJECT_HANDLE *obj)
{
	static CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[12] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &no, sizeof(no)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	    {CKA_ID, (void *)id, id_len},
	    {CKA_VERIFY, &yes, sizeof(yes)},
	    {CKA_ENCRYPT, &no, sizeof(no)},
	    {CKA_WRAP, &no, sizeof(no)},
	};
	CK_ULONG n = 9;
	CK_RV rv;

	for (CK_ULONG i = 0; i < key_count; i++)
		tmpl[n++] = key_attrs[i];
	rv = t->cli->fl->C_CreateObject(t->session, tmpl, n, obj);
	if (rv != CKR_OK)
		cli_error("creating the public key object '%s' on token '%s' failed: %s", label,
		          t->label, cli_rv_name(rv));
	return rv == CKR_OK ? 0 : 1;
}

static int create_rsa(struct byok_token *t, CK_OBJECT_HANDLE priv, EVP_PKEY *pub, const char *label,
                      const unsigned char *id, size_t id_len, CK_OBJECT_HANDLE *obj)
{
	CK_ULONG n_len = 0, e_len = 0;
	unsigned char *n = byok_get_attr(t, priv, CKA_MODULUS, &n_len, NULL);
	unsigned char *e = byok_get_attr(t, priv, CKA_PUBLIC_EXPONENT, &e_len, NULL);
	EVP_PKEY *from_token = n && e ? byok_rsa_public(n, n_len, e, e_len) : NULL;
	int ret = 1;

	if (!from_token) {
		cli_error("token '%s' does not show the modulus of the imported RSA key", t->label);
		goto out;
	}
	if (pub && EVP_PKEY_eq(pub, from_token) != 1) {
		cli_error("the public key given with --pub is not the imported key's");
		goto out;
	}
	CK_ATTRIBUTE attrs[] = {
	    {CKA_MODULUS, n, n_len},
	    {CKA_PUBLIC_EXPONENT, e, e_len},
	};
	ret = create_object(t, CKK_RSA, attrs, 2, label, id, id_len, obj);
out:
	EVP_PKEY_free(from_token);
	free(n);
	free(e);
	return ret;
}

/* The EC or Ed25519 public key in the user's file, checked against the token's key. */
static EVP_PKEY *checked_public(struct byok_token *t, CK_OBJECT_HANDLE priv, CK_KEY_TYPE type,
                                EVP_PKEY *pub, int nid)
{
	char group[64] = "";

	if (type == CKK_EC_EDWARDS && !EVP_PKEY_is_a(pub, "ED25519")) {
		cli_error("the key given with --pub is not an Ed25519 public key");
		return NULL;
	}
	if (type == CKK_EC) {
		EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                               sizeof(group), NULL);
		if (!EVP_PKEY_is_a(pub, "EC") || OBJ_sn2nid(group) != nid) {
			cli_error("the key given with --pub is not on the imported key's curve");
			return NULL;
		}
	}
	if (prove_pair(t, priv, type, pub) != 0) {
		cli_error("the public key given with --pub does not verify a signature of the "
		          "imported key; give the public key of the wrapped private key");
		return NULL;
	}
	EVP_PKEY_up_ref(pub);
	return pub;
}

static int create_ec(struct byok_token *t, CK_OBJECT_HANDLE priv, CK_KEY_TYPE type, EVP_PKEY *pub,
                     const char *label, const unsigned char *id, size_t id_len,
                     CK_OBJECT_HANDLE *obj)
{
	unsigned char raw[EC_MAX_POINT], point[EC_MAX_POINT + 3];
	CK_ULONG params_len = 0;
	unsigned char *params = byok_get_attr(t, priv, CKA_EC_PARAMS, &params_len, NULL);
	int nid = params ? curve_nid(params, params_len) : NID_undef;
	EVP_PKEY *key = NULL;
	size_t raw_len = 0;
	int ret = 1;

	if (!params) {
		cli_error("token '%s' does not show the curve of the imported key", t->label);
		return 1;
	}
	if (pub)
		key = checked_public(t, priv, type, pub, nid);
	else if (type == CKK_EC)
		key = ec_recover(t, priv, nid);
	else
		cli_error("an Ed25519 import needs its public key: add --pub FILE (written by "
		          "`hsmux byok wrap --pub-out`, or `openssl pkey -pubout`)");
	if (!key)
		goto out;
	if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, raw, sizeof(raw),
	                                    &raw_len) != 1) {
		cli_error("cannot encode the public key of '%s'", label);
		goto out;
	}
	CK_ATTRIBUTE attrs[] = {
	    {CKA_EC_PARAMS, params, params_len},
	    {CKA_EC_POINT, point, der_octet_string(raw, raw_len, point)},
	};
	ret = create_object(t, type, attrs, 2, label, id, id_len, obj);
out:
	EVP_PKEY_free(key);
	free(params);
	return ret;
}

int byok_public_object_create(struct byok_token *t, CK_OBJECT_HANDLE priv, CK_KEY_TYPE type,
                              EVP_PKEY *pub, const char *label, const unsigned char *id,
                              size_t id_len, CK_OBJECT_HANDLE *obj)
{
	if (type == CKK_RSA)
		return create_rsa(t, priv, pub, label, id, id_len, obj);
	return create_ec(t, priv, type, pub, label, id, id_len, obj);
}
