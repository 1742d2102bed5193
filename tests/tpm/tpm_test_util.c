/* Test helpers: OpenSSL builds keys from exported attributes and checks signatures. */
#include "tpm_test_util.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

void tpm_test_remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	struct stat st;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			tpm_test_remove_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static EVP_PKEY *key_from_params(const char *type, OSSL_PARAM *params)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *key = NULL;

	if (ctx && EVP_PKEY_fromdata_init(ctx) == 1)
		EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

EVP_PKEY *tpm_test_rsa_key(const CK_BYTE *modulus, size_t len)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *n = BN_bin2bn(modulus, (int)len, NULL), *e = BN_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY *key = NULL;

	if (bld && n && e && BN_set_word(e, 65537) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
		params = OSSL_PARAM_BLD_to_param(bld);
	if (params)
		key = key_from_params("RSA", params);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return key;
}

EVP_PKEY *tpm_test_ec_key(const CK_BYTE *ec_point, size_t len, bool p384)
{
	OSSL_PARAM params[3];
	char curve[16];

	if (len < 3 || ec_point[0] != 0x04 || ec_point[1] != len - 2)
		return NULL;
	snprintf(curve, sizeof(curve), "%s", p384 ? "P-384" : "P-256");
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, curve, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	                                              (void *)(ec_point + 2), len - 2);
	params[2] = OSSL_PARAM_construct_end();
	return key_from_params("EC", params);
}

/* Converts r||s to the DER form that OpenSSL verifies. */
static int ecdsa_to_der(const CK_BYTE *sig, size_t len, unsigned char **der)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)(len / 2), NULL);
	BIGNUM *ss = BN_bin2bn(sig + len / 2, (int)(len / 2), NULL);
	int n = -1;

	if (s && r && ss && ECDSA_SIG_set0(s, r, ss) == 1) {
		r = ss = NULL;
		n = i2d_ECDSA_SIG(s, der);
	}
	BN_free(r);
	BN_free(ss);
	ECDSA_SIG_free(s);
	return n;
}

bool tpm_test_verify(EVP_PKEY *key, const EVP_MD *md, bool pss, const CK_BYTE *data,
                     size_t data_len, const CK_BYTE *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *der = NULL;
	bool ok = false;
	int der_len;

	if (!ctx || EVP_DigestVerifyInit(ctx, &pctx, md, NULL, key) != 1)
		goto out;
	if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto out;
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
		der_len = ecdsa_to_der(sig, sig_len, &der);
		ok =
		    der_len > 0 && EVP_DigestVerify(ctx, der, (size_t)der_len, data, data_len) == 1;
	} else {
		ok = EVP_DigestVerify(ctx, sig, sig_len, data, data_len) == 1;
	}
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(ctx);
	return ok;
}

bool tpm_test_rsa_recovers(EVP_PKEY *key, const CK_BYTE *sig, size_t sig_len, const CK_BYTE *want,
                           size_t want_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	unsigned char out[512];
	size_t out_len = sizeof(out);
	bool ok;

	ok = ctx && EVP_PKEY_verify_recover_init(ctx) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
	     EVP_PKEY_verify_recover(ctx, out, &out_len, sig, sig_len) == 1 &&
	     out_len == want_len && memcmp(out, want, want_len) == 0;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}
