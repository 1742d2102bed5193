/*
 * The security-domain key and the exchange key through libhsmux.so over
 * SoftHSM: the admin interface makes and uses them, and no client call
 * can use, copy, change, destroy, wrap or derive from them, nor make an
 * object under their labels. A client's own HMAC key still signs.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "tests/sd/sd_fixture.h"

static char dir[] = "/tmp/hsmux-policy-sd.XXXXXX";
static struct mod m;
static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* One token with a security domain, activated through the admin interface. */
static int start(void)
{
	if (!fx_open(&m, fx_config(dir, "store")) || !fx_init_token(&m, "SD"))
		return -1;
	fx_make_custodians(dir);
	return fx_activate(&m, dir, 1, "sd.json") == CKR_OK ? 0 : -1;
}

static int stop(void)
{
	fx_close(&m);
	return 0;
}

static CK_OBJECT_HANDLE sd_key(void)
{
	CK_OBJECT_HANDLE key = fx_find(&m, CKO_SECRET_KEY, HSMUX_SD_KEY_LABEL);

	CU_ASSERT_NOT_EQUAL_FATAL(key, CK_INVALID_HANDLE);
	return key;
}

/* The attack: an HMAC with the SD key is how the backup key is computed. */
static void test_policy_sd_hmac_refused(void)
{
	CK_OBJECT_HANDLE key = sd_key();
	CK_ULONG mac_len = 32;
	CK_MECHANISM hmacs[] = {
	    {CKM_SHA256_HMAC, NULL, 0},
	    {CKM_SHA256_HMAC_GENERAL, &mac_len, sizeof(mac_len)},
	    {CKM_SHA512_HMAC, NULL, 0},
	    {CKM_SHA_1_HMAC, NULL, 0},
	};
	CK_BYTE data[] = "hsmux backup", mac[64];
	CK_ULONG len = sizeof(mac);

	for (size_t i = 0; i < sizeof(hmacs) / sizeof(hmacs[0]); i++) {
		CU_ASSERT_EQUAL(m.fl->C_SignInit(m.s, &hmacs[i], key),
		                CKR_KEY_FUNCTION_NOT_PERMITTED);
		CU_ASSERT_EQUAL(m.fl->C_VerifyInit(m.s, &hmacs[i], key),
		                CKR_KEY_FUNCTION_NOT_PERMITTED);
	}
	/* No operation was started in the backend. */
	CU_ASSERT_EQUAL(m.fl->C_Sign(m.s, data, sizeof(data) - 1, mac, &len),
	                CKR_OPERATION_NOT_INITIALIZED);
}

static void test_policy_sd_object_calls_refused(void)
{
	CK_OBJECT_HANDLE key = sd_key(), copy = CK_INVALID_HANDLE, derived = CK_INVALID_HANDLE;
	char label[] = "mine now";
	CK_ATTRIBUTE rename = {CKA_LABEL, label, sizeof(label) - 1};
	CK_ATTRIBUTE token = {CKA_TOKEN, &no, sizeof(no)};
	CK_MECHANISM derive = {CKM_SHA256_KEY_DERIVATION, NULL, 0};
	CK_MECHANISM digest = {CKM_SHA256, NULL, 0};
	CK_BYTE hash[32];
	CK_ULONG hash_len = sizeof(hash);

	CU_ASSERT_EQUAL(m.fl->C_CopyObject(m.s, key, &token, 1, &copy), CKR_ACTION_PROHIBITED);
	CU_ASSERT_EQUAL(copy, CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL(m.fl->C_SetAttributeValue(m.s, key, &rename, 1), CKR_ACTION_PROHIBITED);
	CU_ASSERT_EQUAL(m.fl->C_DestroyObject(m.s, key), CKR_ACTION_PROHIBITED);
	CU_ASSERT_EQUAL(m.fl->C_DeriveKey(m.s, &derive, key, &token, 1, &derived),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(derived, CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(m.fl->C_DigestInit(m.s, &digest), CKR_OK);
	CU_ASSERT_EQUAL(m.fl->C_DigestKey(m.s, key), CKR_KEY_INDIGESTIBLE);
	/* End the digest, since SoftHSM searches nothing while an operation is active. */
	CU_ASSERT_EQUAL(m.fl->C_DigestFinal(m.s, hash, &hash_len), CKR_OK);
	/* The key is still there, under its label. */
	CU_ASSERT_EQUAL(fx_find(&m, CKO_SECRET_KEY, HSMUX_SD_KEY_LABEL), key);
}

static CK_OBJECT_HANDLE gen_wrapping_aes(void)
{
	CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
	CK_ULONG len = 32;
	CK_ATTRIBUTE t[] = {
	    {CKA_TOKEN, &no, sizeof(no)},
	    {CKA_VALUE_LEN, &len, sizeof(len)},
	    {CKA_WRAP, &yes, sizeof(yes)},
	    {CKA_UNWRAP, &yes, sizeof(yes)},
	};
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;

	CU_ASSERT_EQUAL(m.fl->C_GenerateKey(m.s, &gen, t, 4, &key), CKR_OK);
	return key;
}

static void test_policy_sd_wrap_refused(void)
{
	CK_OBJECT_HANDLE key = sd_key(), kek = gen_wrapping_aes();
	CK_MECHANISM kw = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_BYTE blob[128];
	CK_ULONG len = sizeof(blob);

	CU_ASSERT_EQUAL(m.fl->C_WrapKey(m.s, &kw, kek, key, blob, &len), CKR_KEY_NOT_WRAPPABLE);
}

/* A client cannot plant a key of its own under the security domain's labels. */
static void test_policy_sd_labels_reserved(void)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_BYTE value[32] = {0x5a};
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_TOKEN, &no, sizeof(no)},
	    {CKA_SIGN, &yes, sizeof(yes)},
	    {CKA_VALUE, value, sizeof(value)},
	    {CKA_LABEL, (void *)HSMUX_SD_KEY_LABEL, sizeof(HSMUX_SD_KEY_LABEL) - 1},
	};
	CK_ATTRIBUTE relabel = {CKA_LABEL, (void *)HSMUX_SD_EXCHANGE_LABEL,
	                        sizeof(HSMUX_SD_EXCHANGE_LABEL) - 1};
	CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;

	CU_ASSERT_EQUAL(m.fl->C_CreateObject(m.s, t, 6, &obj), CKR_ATTRIBUTE_VALUE_INVALID);
	CU_ASSERT_EQUAL(obj, CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(m.fl->C_CreateObject(m.s, t, 5, &obj), CKR_OK);
	CU_ASSERT_EQUAL(m.fl->C_SetAttributeValue(m.s, obj, &relabel, 1),
	                CKR_ATTRIBUTE_VALUE_INVALID);
}

/*
 * RFC 4231, test case 6 (SoftHSM takes no HMAC-SHA-256 key under 32 bytes):
 * HMAC-SHA-256 under 131 bytes of 0xaa, as `openssl dgst -mac HMAC` gives it.
 */
static void test_policy_sd_own_hmac_key_signs(void)
{
	static const CK_BYTE expected[32] = {
	    0x60, 0xe4, 0x31, 0x59, 0x1e, 0xe0, 0xb6, 0x7f, 0x0d, 0x8a, 0x26,
	    0xaa, 0xcb, 0xf5, 0xb7, 0x7f, 0x8e, 0x0b, 0xc6, 0x21, 0x37, 0x28,
	    0xc5, 0x14, 0x05, 0x46, 0x04, 0x0f, 0x0e, 0xe3, 0x7f, 0x54,
	};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_BYTE value[131], data[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	CK_BYTE mac[32];
	CK_ULONG len = sizeof(mac);
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},    {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_TOKEN, &no, sizeof(no)},      {CKA_SIGN, &yes, sizeof(yes)},
	    {CKA_VALUE, value, sizeof(value)},
	};
	CK_MECHANISM hmac = {CKM_SHA256_HMAC, NULL, 0};
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;

	memset(value, 0xaa, sizeof(value));
	CU_ASSERT_EQUAL_FATAL(m.fl->C_CreateObject(m.s, t, 5, &key), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(m.fl->C_SignInit(m.s, &hmac, key), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(m.fl->C_Sign(m.s, data, sizeof(data) - 1, mac, &len), CKR_OK);
	CU_ASSERT_EQUAL(len, 32);
	CU_ASSERT_EQUAL(memcmp(mac, expected, 32), 0);
	/* The second time comes from the session's record of passes and still signs the same. */
	CU_ASSERT_EQUAL_FATAL(m.fl->C_SignInit(m.s, &hmac, key), CKR_OK);
	len = sizeof(mac);
	CU_ASSERT_EQUAL_FATAL(m.fl->C_Sign(m.s, data, sizeof(data) - 1, mac, &len), CKR_OK);
	CU_ASSERT_EQUAL(memcmp(mac, expected, 32), 0);
	/* The SD key is still refused right after a pass with the same mechanism. */
	CU_ASSERT_EQUAL(m.fl->C_SignInit(m.s, &hmac, sd_key()), CKR_KEY_FUNCTION_NOT_PERMITTED);
}

/* The admin interface, which calls the backend itself, still uses the key. */
static void test_policy_sd_admin_unaffected(void)
{
	char fp[65] = "", err[512] = "";

	CU_ASSERT_EQUAL(m.admin->sd_fingerprint(m.s, fp, err, sizeof(err)), CKR_OK);
	CU_ASSERT_EQUAL(strlen(fp), 64);
	CU_ASSERT_EQUAL(strspn(fp, "0123456789abcdef"), 64);
}

/* A second token, waiting for a security domain: its exchange key pair. */
static void test_policy_sd_exchange_key_refused(void)
{
	CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
	                    {CKA_KEY_TYPE, &type, sizeof(type)},
	                    {CKA_TOKEN, &no, sizeof(no)},
	                    {CKA_SIGN, &yes, sizeof(yes)}};
	CK_BYTE blob[384] = {0}, out[512];
	CK_ULONG len = sizeof(out);
	CK_OBJECT_HANDLE pub, priv, aes, key = CK_INVALID_HANDLE;
	char path[PATH_MAX], err[512] = "";

	CU_ASSERT_FATAL(fx_init_token(&m, "RECOVERY"));
	snprintf(path, sizeof(path), "%s/exchange.pem", dir);
	CU_ASSERT_EQUAL_FATAL(m.admin->sd_init_recovery(m.s, path, err, sizeof(err)), CKR_OK);
	pub = fx_find(&m, CKO_PUBLIC_KEY, HSMUX_SD_EXCHANGE_LABEL);
	priv = fx_find(&m, CKO_PRIVATE_KEY, HSMUX_SD_EXCHANGE_LABEL);
	CU_ASSERT_NOT_EQUAL_FATAL(pub, CK_INVALID_HANDLE);
	CU_ASSERT_NOT_EQUAL_FATAL(priv, CK_INVALID_HANDLE);

	CU_ASSERT_EQUAL(m.fl->C_UnwrapKey(m.s, &mech, priv, blob, sizeof(blob), t, 4, &key),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(key, CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL(m.fl->C_DecryptInit(m.s, &mech, priv), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(m.fl->C_EncryptInit(m.s, &mech, pub), CKR_KEY_FUNCTION_NOT_PERMITTED);
	aes = gen_wrapping_aes();
	CU_ASSERT_EQUAL(m.fl->C_WrapKey(m.s, &mech, pub, aes, out, &len),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(m.fl->C_DestroyObject(m.s, priv), CKR_ACTION_PROHIBITED);
	CU_ASSERT_EQUAL(m.fl->C_DestroyObject(m.s, pub), CKR_ACTION_PROHIBITED);
	CU_ASSERT_EQUAL(fx_find(&m, CKO_PRIVATE_KEY, HSMUX_SD_EXCHANGE_LABEL), priv);
}

int main(void)
{
	CU_pSuite suite;
	unsigned int failures;

	if (!mkdtemp(dir))
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("policy_sd", start, stop);
	CU_add_test(suite, "test_policy_sd_hmac_refused", test_policy_sd_hmac_refused);
	CU_add_test(suite, "test_policy_sd_object_calls_refused",
	            test_policy_sd_object_calls_refused);
	CU_add_test(suite, "test_policy_sd_wrap_refused", test_policy_sd_wrap_refused);
	CU_add_test(suite, "test_policy_sd_labels_reserved", test_policy_sd_labels_reserved);
	CU_add_test(suite, "test_policy_sd_own_hmac_key_signs", test_policy_sd_own_hmac_key_signs);
	CU_add_test(suite, "test_policy_sd_admin_unaffected", test_policy_sd_admin_unaffected);
	CU_add_test(suite, "test_policy_sd_exchange_key_refused",
	            test_policy_sd_exchange_key_refused);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failures ? 1 : 0;
}
