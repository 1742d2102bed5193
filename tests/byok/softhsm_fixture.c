#include "softhsm_fixture.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>

struct fixture fx;

#define FL(be) (((struct fixture *)(be)->priv)->fl)

static CK_RV fwd_get_mechanism_list(struct hsmux_backend *be, CK_SLOT_ID slot,
                                    CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	return FL(be)->C_GetMechanismList(slot, list, count);
}

static CK_RV fwd_get_mechanism_info(struct hsmux_backend *be, CK_SLOT_ID slot,
                                    CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	return FL(be)->C_GetMechanismInfo(slot, type, info);
}

static CK_RV fwd_get_session_info(struct hsmux_backend *be, CK_SESSION_HANDLE s,
                                  CK_SESSION_INFO_PTR info)
{
	return FL(be)->C_GetSessionInfo(s, info);
}

static CK_RV fwd_destroy_object(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj)
{
	return FL(be)->C_DestroyObject(s, obj);
}

static CK_RV fwd_get_attribute_value(struct hsmux_backend *be, CK_SESSION_HANDLE s,
                                     CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count)
{
	return FL(be)->C_GetAttributeValue(s, obj, tmpl, count);
}

static CK_RV fwd_unwrap_key(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                            CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped,
                            CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                            CK_OBJECT_HANDLE_PTR key)
{
	return FL(be)->C_UnwrapKey(s, mech, unwrapping_key, wrapped, wrapped_len, tmpl, count, key);
}

static const struct hsmux_backend_ops forward_ops = {
    .type = "softhsm-direct",
    .get_mechanism_list = fwd_get_mechanism_list,
    .get_mechanism_info = fwd_get_mechanism_info,
    .get_session_info = fwd_get_session_info,
    .destroy_object = fwd_destroy_object,
    .get_attribute_value = fwd_get_attribute_value,
    .unwrap_key = fwd_unwrap_key,
};

static char trace_path[96];

const char *fixture_trace_path(void)
{
	return trace_path;
}

static int write_config(int hsmux)
{
	char path[128], tokens[96];
	FILE *fp;

	snprintf(fx.dir, sizeof(fx.dir), "/tmp/test_byok_mech.XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	snprintf(tokens, sizeof(tokens), "%s/tokens", fx.dir);
	snprintf(path, sizeof(path), "%s/%s", fx.dir, hsmux ? "hsmux.conf" : "softhsm2.conf");
	snprintf(trace_path, sizeof(trace_path), "%s/trace.log", fx.dir);
	if (mkdir(tokens, 0700) != 0)
		return -1;
	fp = fopen(path, "w");
	if (!fp)
		return -1;
	if (hsmux)
		fprintf(fp, "[backend:soft]\ntype = softhsm\nstore = %s\n", tokens);
	else
		fprintf(fp, "directories.tokendir = %s\nobjectstore.backend = file\n", tokens);
	fclose(fp);
	if (!hsmux)
		return setenv("SOFTHSM2_CONF", path, 1);
	setenv("XDG_DATA_HOME", fx.dir, 1);
	setenv("HSMUX_DEBUG", "mech,policy", 1);
	setenv("HSMUX_DEBUG_FILE", trace_path, 1);
	return setenv("HSMUX_CONF", path, 1);
}

static int init_token(void)
{
	CK_UTF8CHAR label[32];
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;

	memset(label, ' ', sizeof(label));
	memcpy(label, "byok-test", 9);
	if (fx.fl->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK || n == 0)
		return -1;
	if (fx.fl->C_InitToken(slots[0], (CK_UTF8CHAR_PTR) "so-pin", 6, label) != CKR_OK)
		return -1;

	/* SoftHSM moves an initialized token to a new slot ID. */
	n = 8;
	if (fx.fl->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK || n == 0)
		return -1;
	fx.slot = slots[0];
	if (fx.fl->C_OpenSession(fx.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
	                         &fx.session) != CKR_OK ||
	    fx.fl->C_Login(fx.session, CKU_SO, (CK_UTF8CHAR_PTR) "so-pin", 6) != CKR_OK ||
	    fx.fl->C_InitPIN(fx.session, (CK_UTF8CHAR_PTR) "1234", 4) != CKR_OK ||
	    fx.fl->C_Logout(fx.session) != CKR_OK ||
	    fx.fl->C_Login(fx.session, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4) != CKR_OK)
		return -1;
	return 0;
}

int fixture_init(const char *module, int hsmux)
{
	CK_C_GetFunctionList get_list;

	if (write_config(hsmux) != 0) {
		perror("test fixture: config");
		return -1;
	}
	fx.dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (!fx.dl) {
		fprintf(stderr, "test fixture: %s\n", dlerror());
		return -1;
	}
	get_list = (CK_C_GetFunctionList)dlsym(fx.dl, "C_GetFunctionList");
	if (!get_list || get_list(&fx.fl) != CKR_OK || fx.fl->C_Initialize(NULL) != CKR_OK) {
		fprintf(stderr, "test fixture: %s does not initialize\n", module);
		return -1;
	}
	if (init_token() != 0) {
		fprintf(stderr, "test fixture: cannot initialize the token of %s\n", module);
		return -1;
	}
	fx.be.ops = &forward_ops;
	fx.be.name = "softhsm-direct";
	fx.be.priv = &fx;
	return 0;
}

void fixture_cleanup(void)
{
	char cmd[128];

	if (fx.fl)
		fx.fl->C_Finalize(NULL);
	if (fx.dl)
		dlclose(fx.dl);
	/* BYOK_KEEP=1 keeps the store and the trace for a look after a failure. */
	if (getenv("BYOK_KEEP"))
		fprintf(stderr, "test fixture: kept %s\n", fx.dir);
	else if (fx.dir[0] && strncmp(fx.dir, "/tmp/test_byok_mech.", 20) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "test fixture: cannot remove %s\n", fx.dir);
	}
}

CK_ULONG fixture_count_objects(void)
{
	CK_OBJECT_HANDLE objs[64];
	CK_ULONG n = 0, total = 0;

	if (fx.fl->C_FindObjectsInit(fx.session, NULL, 0) != CKR_OK)
		return (CK_ULONG)-1;
	do {
		if (fx.fl->C_FindObjects(fx.session, objs, 64, &n) != CKR_OK)
			break;
		total += n;
	} while (n == 64);
	fx.fl->C_FindObjectsFinal(fx.session);
	return total;
}

unsigned char *fixture_get_attr(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, CK_ULONG *len)
{
	CK_ATTRIBUTE attr = {type, NULL, 0};
	unsigned char *buf;

	if (fx.fl->C_GetAttributeValue(fx.session, obj, &attr, 1) != CKR_OK)
		return NULL;
	buf = malloc(attr.ulValueLen + 1);
	attr.pValue = buf;
	if (!buf || fx.fl->C_GetAttributeValue(fx.session, obj, &attr, 1) != CKR_OK) {
		free(buf);
		return NULL;
	}
	*len = attr.ulValueLen;
	return buf;
}

int fixture_get_bool(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL value = CK_FALSE;
	CK_ATTRIBUTE attr = {type, &value, sizeof(value)};

	if (fx.fl->C_GetAttributeValue(fx.session, obj, &attr, 1) != CKR_OK)
		return -1;
	return value ? 1 : 0;
}

static EVP_PKEY *rsa_public_from(const unsigned char *n, CK_ULONG n_len, const unsigned char *e,
                                 CK_ULONG e_len)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL), *bn_e = BN_bin2bn(e, (int)e_len, NULL);
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *pkey = NULL;

	if (bld && bn_n && bn_e && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		params = OSSL_PARAM_BLD_to_param(bld);
	if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1)
		EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	return pkey;
}

CK_OBJECT_HANDLE fixture_rsa_kek(CK_ULONG bits, int also_decrypt, EVP_PKEY **pub_key)
{
	static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_BBOOL decrypt = also_decrypt ? CK_TRUE : CK_FALSE;
	CK_MECHANISM gen = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_ATTRIBUTE pub_tmpl[] = {
	    {CKA_MODULUS_BITS, &bits, sizeof(bits)},
	    {CKA_TOKEN, &no, sizeof(no)},
	    {CKA_ENCRYPT, &no, sizeof(no)},
	    {CKA_WRAP, &no, sizeof(no)},
	};
	CK_ATTRIBUTE priv_tmpl[] = {
	    {CKA_TOKEN, &no, sizeof(no)},        {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)},  {CKA_EXTRACTABLE, &no, sizeof(no)},
	    {CKA_UNWRAP, &yes, sizeof(yes)},     {CKA_DECRYPT, &decrypt, sizeof(decrypt)},
	    {CKA_SIGN, &no, sizeof(no)},         {CKA_DERIVE, &no, sizeof(no)},
	    {CKA_SIGN_RECOVER, &no, sizeof(no)},
	};
	CK_OBJECT_HANDLE pub = 0, priv = 0;
	unsigned char *n, *e;
	CK_ULONG n_len = 0, e_len = 0;

	if (fx.fl->C_GenerateKeyPair(fx.session, &gen, pub_tmpl, 4, priv_tmpl, 9, &pub, &priv) !=
	    CKR_OK)
		return CK_INVALID_HANDLE;
	n = fixture_get_attr(pub, CKA_MODULUS, &n_len);
	e = fixture_get_attr(pub, CKA_PUBLIC_EXPONENT, &e_len);
	*pub_key = n && e ? rsa_public_from(n, n_len, e, e_len) : NULL;
	free(n);
	free(e);
	fx.fl->C_DestroyObject(fx.session, pub);
	return priv;
}
