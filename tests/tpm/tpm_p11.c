/* The tpm tests' PKCS#11 harness over libhsmux.so. */
#include "tpm_p11.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

CK_FUNCTION_LIST_PTR p11;

bool tpm_p11_load(const char *module)
{
	CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
	void *lib = dlopen(module, RTLD_NOW | RTLD_LOCAL);

	if (!lib) {
		fprintf(stderr, "cannot load %s: %s\n", module, dlerror());
		return false;
	}
	*(void **)&get_list = dlsym(lib, "C_GetFunctionList");
	return get_list && get_list(&p11) == CKR_OK;
}

bool tpm_p11_config(const char *dir, const char *extra)
{
	const char *tcti = getenv("HSMUX_TEST_TPM_TCTI");
	char path[4096], tmp[4200];
	FILE *f;

	/* Written aside and renamed, because processes that start together share it. */
	snprintf(path, sizeof(path), "%s/hsmux.conf", dir);
	snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
	f = fopen(tmp, "w");
	if (!f)
		return false;
	if (tcti)
		fprintf(f, "[backend:tpm]\ntype = tpm\ntcti = %s\nstore = %s/store\n%s", tcti, dir,
		        extra ? extra : "");
	else
		fprintf(f, "[backend:tpm]\ntype = tpm\ntcti = libtpms:%s/tpm\n%s", dir,
		        extra ? extra : "");
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		return false;
	return setenv("HSMUX_CONF", path, 1) == 0;
}

bool tpm_p11_slot(CK_SLOT_ID *slot)
{
	CK_ULONG n = 1;

	return p11->C_GetSlotList(CK_TRUE, slot, &n) == CKR_OK && n == 1;
}

bool tpm_p11_token(CK_SLOT_ID slot, const char *label)
{
	CK_UTF8CHAR padded[32];
	CK_TOKEN_INFO info;
	CK_SESSION_HANDLE s;
	bool ok;

	if (p11->C_GetTokenInfo(slot, &info) != CKR_OK)
		return false;
	if (info.flags & CKF_USER_PIN_INITIALIZED)
		return true;
	memset(padded, ' ', sizeof(padded));
	memcpy(padded, label, strlen(label));
	if (p11->C_InitToken(slot, (CK_UTF8CHAR *)TPM_P11_SO_PIN, strlen(TPM_P11_SO_PIN), padded) !=
	    CKR_OK)
		return false;
	if (p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK)
		return false;
	ok = p11->C_Login(s, CKU_SO, (CK_UTF8CHAR *)TPM_P11_SO_PIN, strlen(TPM_P11_SO_PIN)) ==
	         CKR_OK &&
	     p11->C_InitPIN(s, (CK_UTF8CHAR *)TPM_P11_USER_PIN, strlen(TPM_P11_USER_PIN)) == CKR_OK;
	p11->C_CloseSession(s);
	return ok;
}

CK_SESSION_HANDLE tpm_p11_login(CK_SLOT_ID slot)
{
	CK_SESSION_HANDLE s;

	if (p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK)
		return CK_INVALID_HANDLE;
	if (p11->C_Login(s, CKU_USER, (CK_UTF8CHAR *)TPM_P11_USER_PIN, strlen(TPM_P11_USER_PIN)) !=
	    CKR_OK) {
		p11->C_CloseSession(s);
		return CK_INVALID_HANDLE;
	}
	return s;
}

CK_RV tpm_p11_keygen(CK_SESSION_HANDLE s, bool rsa, CK_ULONG bits, const char *label,
                     const char *id, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	static const CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	static const CK_BYTE p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
	CK_BBOOL yes = CK_TRUE;
	CK_MECHANISM mech = {rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_ATTRIBUTE size =
	    rsa ? (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)}
	        : (bits == 384 ? (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)p384, sizeof(p384)}
	                       : (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)p256, sizeof(p256)});
	CK_ATTRIBUTE pub_tmpl[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	    {CKA_ID, (void *)id, strlen(id)},
	    {CKA_VERIFY, &yes, sizeof(yes)},
	    size,
	};
	CK_ATTRIBUTE priv_tmpl[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	    {CKA_ID, (void *)id, strlen(id)},
	    {CKA_SIGN, &yes, sizeof(yes)},
	    {CKA_DECRYPT, &yes, rsa ? sizeof(yes) : 0},
	};

	return p11->C_GenerateKeyPair(s, &mech, pub_tmpl, 5, priv_tmpl, rsa ? 6 : 5, pub, priv);
}

CK_ULONG tpm_p11_find(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label,
                      CK_OBJECT_HANDLE *h)
{
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	};
	CK_OBJECT_HANDLE found[16];
	CK_ULONG n = 0;

	if (p11->C_FindObjectsInit(s, tmpl, 2) != CKR_OK)
		return 0;
	p11->C_FindObjects(s, found, 16, &n);
	p11->C_FindObjectsFinal(s);
	if (n > 0 && h)
		*h = found[0];
	return n;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM *params)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *key = NULL;

	if (ctx && EVP_PKEY_fromdata_init(ctx) == 1)
		EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static EVP_PKEY *rsa_pkey(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	CK_BYTE n[512], e[8];
	CK_ATTRIBUTE a[] = {{CKA_MODULUS, n, sizeof(n)}, {CKA_PUBLIC_EXPONENT, e, sizeof(e)}};
	OSSL_PARAM_BLD *bld;
	OSSL_PARAM *params = NULL;
	BIGNUM *bn_n, *bn_e;
	EVP_PKEY *key = NULL;

	if (p11->C_GetAttributeValue(s, h, a, 2) != CKR_OK)
		return NULL;
	bld = OSSL_PARAM_BLD_new();
	bn_n = BN_bin2bn(n, (int)a[0].ulValueLen, NULL);
	bn_e = BN_bin2bn(e, (int)a[1].ulValueLen, NULL);
	if (bld && bn_n && bn_e && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		params = OSSL_PARAM_BLD_to_param(bld);
	if (params)
		key = pkey_from_params("RSA", params);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	return key;
}

static EVP_PKEY *ec_pkey(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	CK_BYTE point[160], oid[16];
	CK_ATTRIBUTE a[] = {{CKA_EC_POINT, point, sizeof(point)},
	                    {CKA_EC_PARAMS, oid, sizeof(oid)}};
	OSSL_PARAM params[3];
	char curve[8];

	if (p11->C_GetAttributeValue(s, h, a, 2) != CKR_OK || a[0].ulValueLen < 3)
		return NULL;
	snprintf(curve, sizeof(curve), "%s", a[1].ulValueLen == 7 ? "P-384" : "P-256");
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, curve, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point + 2,
	                                              a[0].ulValueLen - 2);
	params[2] = OSSL_PARAM_construct_end();
	return pkey_from_params("EC", params);
}

bool tpm_p11_write_pem(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const char *path)
{
	CK_KEY_TYPE type = 0;
	CK_ATTRIBUTE a = {CKA_KEY_TYPE, &type, sizeof(type)};
	EVP_PKEY *key;
	FILE *f;
	bool ok;

	if (p11->C_GetAttributeValue(s, h, &a, 1) != CKR_OK)
		return false;
	key = type == CKK_RSA ? rsa_pkey(s, h) : ec_pkey(s, h);
	f = fopen(path, "w");
	ok = key && f && PEM_write_PUBKEY(f, key) == 1;
	if (f)
		fclose(f);
	EVP_PKEY_free(key);
	return ok;
}

bool tpm_p11_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	bool ok;

	if (!f)
		return false;
	ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

static bool run_command(const char *fmt, va_list ap, char *cmd, size_t len)
{
	int status;

	vsnprintf(cmd, len, fmt, ap);
	status = system(cmd);
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool tpm_p11_run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = run_command(fmt, ap, cmd, sizeof(cmd));
	va_end(ap);
	if (!ok)
		fprintf(stderr, "command failed: %s\n", cmd);
	return ok;
}

bool tpm_p11_fails(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = run_command(fmt, ap, cmd, sizeof(cmd));
	va_end(ap);
	if (ok)
		fprintf(stderr, "command succeeded but should have failed: %s\n", cmd);
	return !ok;
}
