/*
 * The policy through libhsmux.so over a real SoftHSM token: the rules
 * hold, and the calls that an honest client makes still work. Each suite
 * starts the module with its own policy lines over the same store.
 *
 * usage: test_policy_softhsm LIBHSMUX
 */
#include <dlfcn.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "hsmux/pkcs11.h"

#define SO_PIN   "policy-so"
#define USER_PIN "policy-user"

static const char *module_path;
static char store_dir[] = "/tmp/hsmux-policy-softhsm.XXXXXX";
static char conf_path[512];
static void *dl;
static CK_FUNCTION_LIST_PTR fl;
static CK_SESSION_HANDLE session;

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS class_secret = CKO_SECRET_KEY;
static CK_KEY_TYPE type_aes = CKK_AES;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int write_conf(const char *lines)
{
	FILE *f = fopen(conf_path, "w");

	if (!f)
		return -1;
	fprintf(f, "[backend:soft]\ntype = softhsm\nstore = %s/store\n%s", store_dir, lines);
	return fclose(f);
}

static void blank_pad(CK_UTF8CHAR *field, size_t len, const char *text)
{
	memset(field, ' ', len);
	memcpy(field, text, strlen(text));
}

/* Finds the suite's token, initializing it on the first start. */
static CK_RV open_token(CK_SLOT_ID *slot)
{
	CK_SLOT_ID slots[16];
	CK_ULONG n = 16;
	CK_TOKEN_INFO info;
	CK_UTF8CHAR label[32];
	CK_RV rv = fl->C_GetSlotList(CK_TRUE, slots, &n);

	if (rv != CKR_OK || n == 0)
		return rv != CKR_OK ? rv : CKR_TOKEN_NOT_PRESENT;
	for (CK_ULONG i = 0; i < n; i++) {
		if (fl->C_GetTokenInfo(slots[i], &info) != CKR_OK)
			continue;
		*slot = slots[i];
		if (info.flags & CKF_USER_PIN_INITIALIZED)
			return CKR_OK;
	}
	blank_pad(label, sizeof(label), "policy");
	rv = fl->C_InitToken(*slot, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), label);
	if (rv == CKR_OK)
		rv = fl->C_OpenSession(*slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
		                       &session);
	if (rv == CKR_OK)
		rv = fl->C_Login(session, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN));
	if (rv == CKR_OK)
		rv = fl->C_InitPIN(session, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN));
	if (rv == CKR_OK)
		rv = fl->C_CloseSession(session);
	return rv;
}

/* Starts the module with the given policy lines and logs in as the user. */
static int start(const char *lines)
{
	CK_C_GetFunctionList get_list;
	CK_SLOT_ID slot;

	if (write_conf(lines) != 0)
		return -1;
	setenv("HSMUX_CONF", conf_path, 1);
	dl = dlopen(module_path, RTLD_NOW | RTLD_LOCAL);
	get_list = dl ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
	if (!get_list || get_list(&fl) != CKR_OK || fl->C_Initialize(NULL) != CKR_OK)
		return -1;
	if (open_token(&slot) != CKR_OK)
		return -1;
	if (fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session) !=
	    CKR_OK)
		return -1;
	return fl->C_Login(session, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)) == CKR_OK
	           ? 0
	           : -1;
}

static int stop(void)
{
	fl->C_CloseSession(session);
	fl->C_Finalize(NULL);
	dlclose(dl);
	return 0;
}

static int start_strict(void)
{
	return start("policy = strict\n");
}

static int start_compat(void)
{
	return start("policy = compat\n");
}

static int start_reject(void)
{
	return start("policy = strict\nweak-template = reject\n");
}

static CK_OBJECT_HANDLE gen_aes(CK_ATTRIBUTE *extra, CK_ULONG n_extra)
{
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_ULONG len = 32;
	CK_ATTRIBUTE t[12] = {
	    {CKA_TOKEN, &no, sizeof(no)},
	    {CKA_VALUE_LEN, &len, sizeof(len)},
	};
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;

	if (n_extra)
		memcpy(t + 2, extra, n_extra * sizeof(*extra));
	CU_ASSERT_EQUAL(fl->C_GenerateKey(session, &mech, t, 2 + n_extra, &key), CKR_OK);
	return key;
}

static CK_BBOOL get_bool(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL v = 0xff;
	CK_ATTRIBUTE a = {type, &v, sizeof(v)};

	CU_ASSERT_EQUAL(fl->C_GetAttributeValue(session, obj, &a, 1), CKR_OK);
	return v;
}

/* Encrypts one zero block with AES-ECB under key. */
static CK_RV ecb_block(CK_OBJECT_HANDLE key, CK_BYTE out[16])
{
	CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
	CK_BYTE in[16] = {0};
	CK_ULONG len = 16;
	CK_RV rv = fl->C_EncryptInit(session, &ecb, key);

	return rv == CKR_OK ? fl->C_Encrypt(session, in, 16, out, &len) : rv;
}

static void test_softhsm_default_key(void)
{
	CK_OBJECT_HANDLE key = gen_aes(NULL, 0);
	CK_BYTE out[16];

	CU_ASSERT_EQUAL(get_bool(key, CKA_SENSITIVE), CK_TRUE);
	CU_ASSERT_EQUAL(get_bool(key, CKA_EXTRACTABLE), CK_FALSE);
	CU_ASSERT_EQUAL(get_bool(key, CKA_WRAP), CK_FALSE);
	CU_ASSERT_EQUAL(get_bool(key, CKA_UNWRAP), CK_FALSE);
	CU_ASSERT_EQUAL(get_bool(key, CKA_ENCRYPT), CK_TRUE);
	CU_ASSERT_EQUAL(ecb_block(key, out), CKR_OK);
}

static void test_softhsm_copy_and_label(void)
{
	CK_OBJECT_HANDLE key = gen_aes(NULL, 0), copy = CK_INVALID_HANDLE;
	char label[] = "copied";
	CK_ATTRIBUTE t = {CKA_LABEL, label, 6};
	CK_BYTE a[16], b[16];

	CU_ASSERT_EQUAL(fl->C_CopyObject(session, key, NULL, 0, &copy), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_CopyObject(session, key, &t, 1, &copy), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_SetAttributeValue(session, key, &t, 1), CKR_OK);
	CU_ASSERT_EQUAL(get_bool(copy, CKA_SENSITIVE), CK_TRUE);
	CU_ASSERT_EQUAL(ecb_block(key, a), CKR_OK);
	CU_ASSERT_EQUAL(ecb_block(copy, b), CKR_OK);
	CU_ASSERT_EQUAL(memcmp(a, b, 16), 0);
}

static void test_softhsm_mixed_read(void)
{
	CK_OBJECT_HANDLE key = gen_aes(NULL, 0);
	char label[32];
	CK_BYTE value[32];
	CK_ULONG len = 0;
	CK_ATTRIBUTE t[] = {
	    {CKA_LABEL, label, sizeof(label)},
	    {CKA_VALUE, value, sizeof(value)},
	    {CKA_VALUE_LEN, &len, sizeof(len)},
	};

	CU_ASSERT_EQUAL(fl->C_GetAttributeValue(session, key, t, 3), CKR_ATTRIBUTE_SENSITIVE);
	CU_ASSERT_EQUAL(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CU_ASSERT_EQUAL(t[0].ulValueLen, 0);
	CU_ASSERT_EQUAL(len, 32);
}

static void test_softhsm_sign(void)
{
	CK_MECHANISM gen = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_MECHANISM sha = {CKM_SHA256_RSA_PKCS, NULL, 0};
	CK_ULONG bits = 2048;
	CK_BYTE e[] = {1, 0, 1}, data[] = "data", sig[256];
	CK_ULONG sig_len = sizeof(sig);
	CK_ATTRIBUTE pub[] = {{CKA_TOKEN, &no, 1},
	                      {CKA_MODULUS_BITS, &bits, sizeof(bits)},
	                      {CKA_PUBLIC_EXPONENT, e, 3},
	                      {CKA_VERIFY, &yes, 1}};
	CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &no, 1}, {CKA_SIGN, &yes, 1}};
	CK_OBJECT_HANDLE pk, sk;

	CU_ASSERT_EQUAL_FATAL(fl->C_GenerateKeyPair(session, &gen, pub, 4, priv, 2, &pk, &sk),
	                      CKR_OK);
	CU_ASSERT_EQUAL(fl->C_SignInit(session, &sha, sk), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_Sign(session, data, 4, sig, &sig_len), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_VerifyInit(session, &sha, pk), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_Verify(session, data, 4, sig, sig_len), CKR_OK);
	bits = 1024;
	CU_ASSERT_EQUAL(fl->C_GenerateKeyPair(session, &gen, pub, 4, priv, 2, &pk, &sk),
	                CKR_KEY_SIZE_RANGE);
}

static void test_softhsm_mechanisms(void)
{
	CK_SESSION_INFO info;
	CK_MECHANISM_TYPE list[256];
	CK_MECHANISM_INFO mi;
	CK_ULONG n = 0, m;

	CU_ASSERT_EQUAL_FATAL(fl->C_GetSessionInfo(session, &info), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_GetMechanismList(info.slotID, NULL, &n), CKR_OK);
	m = n;
	CU_ASSERT_EQUAL(fl->C_GetMechanismList(info.slotID, list, &m), CKR_OK);
	CU_ASSERT_EQUAL(m, n);
	for (CK_ULONG i = 0; i < m; i++) {
		CU_ASSERT_NOT_EQUAL(list[i], CKM_MD5);
		CU_ASSERT_NOT_EQUAL(list[i], CKM_DES3_CBC);
		CU_ASSERT_NOT_EQUAL(list[i], CKM_DES_KEY_GEN);
	}
	CU_ASSERT_EQUAL(fl->C_GetMechanismInfo(info.slotID, CKM_MD5, &mi), CKR_MECHANISM_INVALID);
	CU_ASSERT_EQUAL(fl->C_GetMechanismInfo(info.slotID, CKM_AES_KEY_WRAP, &mi), CKR_OK);
}

/* compat: an extractable key goes out under AES key wrap and comes back with the same value. */
static void test_softhsm_compat_round_trip(void)
{
	CK_MECHANISM kw = {CKM_AES_KEY_WRAP, NULL, 0};
	CK_ATTRIBUTE wrap_roles[] = {{CKA_WRAP, &yes, 1}, {CKA_UNWRAP, &yes, 1}};
	CK_ATTRIBUTE ext[] = {{CKA_EXTRACTABLE, &yes, 1}, {CKA_ENCRYPT, &yes, 1}};
	CK_ATTRIBUTE back[] = {{CKA_CLASS, &class_secret, sizeof(class_secret)},
	                       {CKA_KEY_TYPE, &type_aes, sizeof(type_aes)},
	                       {CKA_TOKEN, &no, 1},
	                       {CKA_ENCRYPT, &yes, 1}};
	CK_OBJECT_HANDLE w = gen_aes(wrap_roles, 2), t = gen_aes(ext, 2), u = CK_INVALID_HANDLE;
	CK_BYTE blob[64], a[16], b[16];
	CK_ULONG len = sizeof(blob);

	CU_ASSERT_EQUAL(get_bool(t, CKA_EXTRACTABLE), CK_TRUE);
	CU_ASSERT_EQUAL(get_bool(t, CKA_SENSITIVE), CK_TRUE);
	CU_ASSERT_EQUAL_FATAL(fl->C_WrapKey(session, &kw, w, t, blob, &len), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(fl->C_UnwrapKey(session, &kw, w, blob, len, back, 4, &u), CKR_OK);
	CU_ASSERT_EQUAL(get_bool(u, CKA_SENSITIVE), CK_TRUE);
	CU_ASSERT_EQUAL(get_bool(u, CKA_EXTRACTABLE), CK_FALSE);
	CU_ASSERT_EQUAL(ecb_block(t, a), CKR_OK);
	CU_ASSERT_EQUAL(ecb_block(u, b), CKR_OK);
	CU_ASSERT_EQUAL(memcmp(a, b, 16), 0);
	/* A tampered blob gives the one unwrap failure code. */
	blob[5] ^= 1;
	CU_ASSERT_EQUAL(fl->C_UnwrapKey(session, &kw, w, blob, len, back, 4, &u),
	                CKR_WRAPPED_KEY_INVALID);
}

static void test_softhsm_reject_weak(void)
{
	CK_ATTRIBUTE weak[] = {{CKA_SENSITIVE, &no, 1}};
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_ULONG len = 32;
	CK_ATTRIBUTE t[] = {{CKA_TOKEN, &no, 1}, {CKA_VALUE_LEN, &len, sizeof(len)}, weak[0]};
	CK_OBJECT_HANDLE key;

	CU_ASSERT_EQUAL(fl->C_GenerateKey(session, &mech, t, 3, &key), CKR_TEMPLATE_INCONSISTENT);
	CU_ASSERT_EQUAL(fl->C_GenerateKey(session, &mech, t, 2, &key), CKR_OK);
}

int main(int argc, char **argv)
{
	CU_pSuite strict, compat, reject;
	unsigned int failures;

	if (argc != 2) {
		fprintf(stderr, "usage: test_policy_softhsm LIBHSMUX\n");
		return 2;
	}
	module_path = argv[1];
	if (!mkdtemp(store_dir))
		return 1;
	snprintf(conf_path, sizeof(conf_path), "%s/hsmux.conf", store_dir);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	strict = CU_add_suite("policy_softhsm_strict", start_strict, stop);
	CU_add_test(strict, "test_policy_softhsm_default_key", test_softhsm_default_key);
	CU_add_test(strict, "test_policy_softhsm_copy_and_label", test_softhsm_copy_and_label);
	CU_add_test(strict, "test_policy_softhsm_mixed_read", test_softhsm_mixed_read);
	CU_add_test(strict, "test_policy_softhsm_sign", test_softhsm_sign);
	CU_add_test(strict, "test_policy_softhsm_mechanisms", test_softhsm_mechanisms);
	compat = CU_add_suite("policy_softhsm_compat", start_compat, stop);
	CU_add_test(compat, "test_policy_softhsm_compat_round_trip",
	            test_softhsm_compat_round_trip);
	reject = CU_add_suite("policy_softhsm_reject", start_reject, stop);
	CU_add_test(reject, "test_policy_softhsm_reject_weak", test_softhsm_reject_weak);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	nftw(store_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failures ? 1 : 0;
}
