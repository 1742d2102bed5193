/*
 * Unit tests of the policy's creation rules and config, over the mock
 * backend: templates tightened or rejected, separate roles, read-only and
 * SO-only attributes, template form, and the new key read back.
 */
#include <string.h>

#include <CUnit/Basic.h>

#include "tests/policy/policy_fixture.h"

static const char *const strict[] = {"policy = strict", NULL};
static const char *const strict_reject[] = {"policy = strict", "weak-template = reject", NULL};
static const char *const trusted_wrap[] = {"extractable = trusted-wrap", NULL};
static const char *const trusted_wrap_reject[] = {"extractable = trusted-wrap",
                                                  "weak-template = reject", NULL};
static const char *const compat[] = {"policy = compat", NULL};

static CK_MECHANISM aes_gen = {CKM_AES_KEY_GEN, NULL, 0};
static CK_MECHANISM rsa_gen = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};

static void test_config_defaults(void)
{
	struct hsmux_session_ref s = fixture_start(NULL);
	CK_OBJECT_HANDLE key;

	/* The default is strict and tightens: an empty template gives a protected key. */
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, NULL, 0, &key), CKR_OK);
	CU_ASSERT_TRUE(mock_bool(key, CKA_SENSITIVE));
	CU_ASSERT_FALSE(mock_bool(key, CKA_EXTRACTABLE));
	fixture_stop();
}

static void test_config_bad_values(void)
{
	static const char *const bad_profile[] = {"policy = lax", NULL};
	static const char *const yes_strict[] = {"extractable = yes", NULL};
	static const char *const bad_weak[] = {"weak-template = maybe", NULL};
	static const char *const bad_bits[] = {"rsa-min-bits = 512", NULL};
	static const char *const bad_mech[] = {"mechanisms-deny = CKM_NO_SUCH_THING", NULL};

	CU_ASSERT_PTR_NULL(policy_from_lines(bad_profile));
	CU_ASSERT_PTR_NOT_NULL(strstr(policy_fixture_error, "test.conf:2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(policy_fixture_error, "strict or compat"));
	CU_ASSERT_PTR_NULL(policy_from_lines(yes_strict));
	CU_ASSERT_PTR_NOT_NULL(strstr(policy_fixture_error, "policy = compat"));
	CU_ASSERT_PTR_NULL(policy_from_lines(bad_weak));
	CU_ASSERT_PTR_NOT_NULL(strstr(policy_fixture_error, "tighten or reject"));
	CU_ASSERT_PTR_NULL(policy_from_lines(bad_bits));
	CU_ASSERT_PTR_NOT_NULL(strstr(policy_fixture_error, "1024 to 16384"));
	CU_ASSERT_PTR_NULL(policy_from_lines(bad_mech));
	CU_ASSERT_PTR_NOT_NULL(strstr(policy_fixture_error, "CKM_NO_SUCH_THING"));
}

static void test_config_keys_listed(void)
{
	static const char *const want[] = {"policy",       "extractable",      "weak-template",
	                                   "rsa-min-bits", "mechanisms-allow", "mechanisms-deny"};
	size_t n = 0;

	while (hsmux_policy_config_keys[n])
		n++;
	CU_ASSERT_EQUAL(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n && i < sizeof(want) / sizeof(want[0]); i++)
		CU_ASSERT_STRING_EQUAL(hsmux_policy_config_keys[i], want[i]);
}

static void test_generate_tightens_weak(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_ATTRIBUTE t[] = {BOOL_ATTR(CKA_SENSITIVE, no), BOOL_ATTR(CKA_EXTRACTABLE, yes)};
	CK_OBJECT_HANDLE key;

	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, t, 2, &key), CKR_OK);
	CU_ASSERT_TRUE(mock_bool(key, CKA_SENSITIVE));
	CU_ASSERT_FALSE(mock_bool(key, CKA_EXTRACTABLE));
	/* The client's template is borrowed, never written. */
	CU_ASSERT_EQUAL(*(CK_BBOOL *)t[0].pValue, CK_FALSE);
	fixture_stop();
}

static void test_generate_rejects_weak(void)
{
	struct hsmux_session_ref s = fixture_start(strict_reject);
	CK_ATTRIBUTE sensitive_off[] = {BOOL_ATTR(CKA_SENSITIVE, no)};
	CK_ATTRIBUTE extractable_on[] = {BOOL_ATTR(CKA_EXTRACTABLE, yes)};
	CK_OBJECT_HANDLE key;

	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, sensitive_off, 1, &key),
	                CKR_TEMPLATE_INCONSISTENT);
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, extractable_on, 1, &key),
	                CKR_TEMPLATE_INCONSISTENT);
	CU_ASSERT_EQUAL(mock_calls.generate_key, 0);
	/* Absent attributes are filled, not rejected. */
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, NULL, 0, &key), CKR_OK);
	CU_ASSERT_TRUE(mock_bool(key, CKA_SENSITIVE));
	fixture_stop();
}

static void test_generate_separates_roles(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_ATTRIBUTE both[] = {BOOL_ATTR(CKA_WRAP, yes), BOOL_ATTR(CKA_DECRYPT, yes)};
	CK_ATTRIBUTE wrap_only[] = {BOOL_ATTR(CKA_WRAP, yes)};
	CK_OBJECT_HANDLE key;

	/* Tightened: the wrap roles go, the encrypt roles stay. */
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, both, 2, &key), CKR_OK);
	CU_ASSERT_FALSE(mock_bool(key, CKA_WRAP));
	CU_ASSERT_FALSE(mock_bool(key, CKA_UNWRAP));
	CU_ASSERT_TRUE(mock_bool(key, CKA_DECRYPT));

	/* Asking for WRAP alone turns the backend's default ENCRYPT and DECRYPT off. */
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, wrap_only, 1, &key), CKR_OK);
	CU_ASSERT_TRUE(mock_bool(key, CKA_WRAP));
	CU_ASSERT_FALSE(mock_bool(key, CKA_ENCRYPT));
	CU_ASSERT_FALSE(mock_bool(key, CKA_DECRYPT));

	/* Asking for nothing keeps the encrypt defaults and turns wrapping off. */
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, NULL, 0, &key), CKR_OK);
	CU_ASSERT_TRUE(mock_bool(key, CKA_ENCRYPT));
	CU_ASSERT_FALSE(mock_bool(key, CKA_WRAP));
	CU_ASSERT_FALSE(mock_bool(key, CKA_UNWRAP));
	fixture_stop();

	s = fixture_start(strict_reject);
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, both, 2, &key),
	                CKR_TEMPLATE_INCONSISTENT);
	CU_ASSERT_EQUAL(mock_calls.generate_key, 0);
	fixture_stop();
}

static void test_pair_separates_roles(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_ULONG bits = 2048;
	CK_ATTRIBUTE pub[] = {ULONG_ATTR(CKA_MODULUS_BITS, bits), BOOL_ATTR(CKA_WRAP, yes)};
	CK_ATTRIBUTE priv[] = {BOOL_ATTR(CKA_DECRYPT, yes)};
	CK_OBJECT_HANDLE pk, sk;

	CU_ASSERT_EQUAL(hsmux_policy_generate_key_pair(&s, &rsa_gen, pub, 2, priv, 1, &pk, &sk),
	                CKR_OK);
	CU_ASSERT_FALSE(mock_bool(pk, CKA_WRAP));
	CU_ASSERT_FALSE(mock_bool(sk, CKA_UNWRAP));
	CU_ASSERT_TRUE(mock_bool(sk, CKA_DECRYPT));
	CU_ASSERT_TRUE(mock_bool(sk, CKA_SENSITIVE));
	CU_ASSERT_FALSE(mock_bool(sk, CKA_EXTRACTABLE));
	fixture_stop();

	s = fixture_start(strict_reject);
	CU_ASSERT_EQUAL(hsmux_policy_generate_key_pair(&s, &rsa_gen, pub, 2, priv, 1, &pk, &sk),
	                CKR_TEMPLATE_INCONSISTENT);
	CU_ASSERT_EQUAL(mock_calls.generate_key_pair, 0);
	fixture_stop();
}

static void test_pair_rsa_minimum(void)
{
	static const char *const min3072[] = {"rsa-min-bits = 3072", NULL};
	struct hsmux_session_ref s = fixture_start(strict);
	CK_ULONG bits = 1024;
	CK_ATTRIBUTE pub[] = {ULONG_ATTR(CKA_MODULUS_BITS, bits)};
	CK_OBJECT_HANDLE pk, sk;

	CU_ASSERT_EQUAL(hsmux_policy_generate_key_pair(&s, &rsa_gen, pub, 1, NULL, 0, &pk, &sk),
	                CKR_KEY_SIZE_RANGE);
	bits = 2048;
	CU_ASSERT_EQUAL(hsmux_policy_generate_key_pair(&s, &rsa_gen, pub, 1, NULL, 0, &pk, &sk),
	                CKR_OK);
	fixture_stop();

	s = fixture_start(min3072);
	CU_ASSERT_EQUAL(hsmux_policy_generate_key_pair(&s, &rsa_gen, pub, 1, NULL, 0, &pk, &sk),
	                CKR_KEY_SIZE_RANGE);
	fixture_stop();
}

static void test_trusted_wrap_extractable(void)
{
	struct hsmux_session_ref s = fixture_start(trusted_wrap);
	CK_ATTRIBUTE ask[] = {BOOL_ATTR(CKA_EXTRACTABLE, yes)};
	CK_ATTRIBUTE ask_no_wwt[] = {BOOL_ATTR(CKA_EXTRACTABLE, yes),
	                             BOOL_ATTR(CKA_WRAP_WITH_TRUSTED, no)};
	CK_OBJECT_HANDLE key;

	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, ask, 1, &key), CKR_OK);
	CU_ASSERT_TRUE(mock_bool(key, CKA_EXTRACTABLE));
	CU_ASSERT_TRUE(mock_bool(key, CKA_WRAP_WITH_TRUSTED));
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, ask_no_wwt, 2, &key), CKR_OK);
	CU_ASSERT_TRUE(mock_bool(key, CKA_WRAP_WITH_TRUSTED));
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, NULL, 0, &key), CKR_OK);
	CU_ASSERT_FALSE(mock_bool(key, CKA_EXTRACTABLE));
	fixture_stop();

	s = fixture_start(trusted_wrap_reject);
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, ask_no_wwt, 2, &key),
	                CKR_TEMPLATE_INCONSISTENT);
	fixture_stop();
}

static void test_compat_extractable(void)
{
	struct hsmux_session_ref s = fixture_start(compat);
	CK_ATTRIBUTE ask[] = {BOOL_ATTR(CKA_EXTRACTABLE, yes), BOOL_ATTR(CKA_SENSITIVE, no)};
	CK_OBJECT_HANDLE key;

	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, ask, 2, &key), CKR_OK);
	CU_ASSERT_TRUE(mock_bool(key, CKA_EXTRACTABLE));
	/* compat lets keys be exported under a wrap, never read. */
	CU_ASSERT_TRUE(mock_bool(key, CKA_SENSITIVE));
	fixture_stop();
}

static void test_create_restricted_attributes(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_BYTE value[32] = {1};
	CK_ATTRIBUTE local[] = {
	    ULONG_ATTR(CKA_CLASS, class_secret),
	    ULONG_ATTR(CKA_KEY_TYPE, type_aes),
	    {CKA_VALUE, value, sizeof(value)},
	    BOOL_ATTR(CKA_LOCAL, yes),
	};
	CK_ATTRIBUTE trusted[] = {
	    ULONG_ATTR(CKA_CLASS, class_secret),
	    ULONG_ATTR(CKA_KEY_TYPE, type_aes),
	    {CKA_VALUE, value, sizeof(value)},
	    BOOL_ATTR(CKA_TRUSTED, yes),
	};
	CK_OBJECT_HANDLE key;

	CU_ASSERT_EQUAL(hsmux_policy_create_object(&s, local, 4, &key), CKR_ATTRIBUTE_READ_ONLY);
	CU_ASSERT_EQUAL(hsmux_policy_create_object(&s, trusted, 4, &key), CKR_ATTRIBUTE_READ_ONLY);
	CU_ASSERT_EQUAL(mock_calls.create_object, 0);
	mock_config.so = true;
	CU_ASSERT_EQUAL(hsmux_policy_create_object(&s, trusted, 4, &key), CKR_OK);
	CU_ASSERT_TRUE(mock_bool(key, CKA_TRUSTED));
	CU_ASSERT_TRUE(mock_bool(key, CKA_SENSITIVE));
	fixture_stop();
}

static void test_create_denied_key_type(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_BYTE value[24] = {1};
	CK_ATTRIBUTE des3[] = {
	    ULONG_ATTR(CKA_CLASS, class_secret),
	    ULONG_ATTR(CKA_KEY_TYPE, type_des3),
	    {CKA_VALUE, value, sizeof(value)},
	};
	CK_BYTE modulus[128] = {0xc1};
	CK_ATTRIBUTE rsa1024[] = {
	    ULONG_ATTR(CKA_CLASS, class_public),
	    ULONG_ATTR(CKA_KEY_TYPE, type_rsa),
	    {CKA_MODULUS, modulus, sizeof(modulus)},
	};
	CK_OBJECT_HANDLE key;

	CU_ASSERT_EQUAL(hsmux_policy_create_object(&s, des3, 3, &key), CKR_ATTRIBUTE_VALUE_INVALID);
	CU_ASSERT_EQUAL(hsmux_policy_create_object(&s, rsa1024, 3, &key),
	                CKR_ATTRIBUTE_VALUE_INVALID);
	CU_ASSERT_EQUAL(mock_calls.create_object, 0);
	fixture_stop();
}

static void test_create_otp_key(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_OBJECT_CLASS class_otp = CKO_OTP_KEY;
	CK_BYTE value[20] = {4};
	CK_ATTRIBUTE otp[] = {ULONG_ATTR(CKA_CLASS, class_otp), {CKA_VALUE, value, sizeof(value)}};
	CK_OBJECT_HANDLE key;

	CU_ASSERT_EQUAL(hsmux_policy_create_object(&s, otp, 2, &key), CKR_OK);
	CU_ASSERT_TRUE(mock_bool(key, CKA_SENSITIVE));
	CU_ASSERT_FALSE(mock_bool(key, CKA_EXTRACTABLE));
	fixture_stop();
}

static void test_template_form(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_BBOOL two = 2;
	CK_ULONG wide = 1;
	CK_ATTRIBUTE dup[] = {BOOL_ATTR(CKA_SENSITIVE, yes), BOOL_ATTR(CKA_SENSITIVE, no)};
	CK_ATTRIBUTE bad_bool[] = {BOOL_ATTR(CKA_SENSITIVE, two)};
	CK_ATTRIBUTE wide_bool[] = {{CKA_SENSITIVE, &wide, sizeof(wide)}};
	CK_ATTRIBUTE null_value[] = {{CKA_LABEL, NULL, 5}};
	CK_ATTRIBUTE bad_nested[] = {{CKA_UNWRAP_TEMPLATE, &wide, 3}};
	CK_ATTRIBUTE weak_inner[] = {BOOL_ATTR(CKA_SENSITIVE, no)};
	CK_ATTRIBUTE weak_nested[] = {{CKA_UNWRAP_TEMPLATE, weak_inner, sizeof(weak_inner)}};
	CK_ATTRIBUTE empty_inner[] = {{CKA_LABEL, NULL, 0}};
	CK_ATTRIBUTE empty_nested[] = {{CKA_WRAP_TEMPLATE, empty_inner, sizeof(empty_inner)}};
	CK_ATTRIBUTE no_class[] = {BOOL_ATTR(CKA_SENSITIVE, yes)};
	CK_OBJECT_HANDLE key;

	/* A backend could read the second SENSITIVE where the policy read the first. */
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, dup, 2, &key),
	                CKR_TEMPLATE_INCONSISTENT);
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, bad_bool, 1, &key),
	                CKR_ATTRIBUTE_VALUE_INVALID);
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, wide_bool, 1, &key),
	                CKR_ATTRIBUTE_VALUE_INVALID);
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, null_value, 1, &key),
	                CKR_ATTRIBUTE_VALUE_INVALID);
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, bad_nested, 1, &key),
	                CKR_ATTRIBUTE_VALUE_INVALID);
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, weak_nested, 1, &key),
	                CKR_TEMPLATE_INCONSISTENT);
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, empty_nested, 1, &key), CKR_OK);
	CU_ASSERT_EQUAL(hsmux_policy_create_object(&s, no_class, 1, &key), CKR_TEMPLATE_INCOMPLETE);
	CU_ASSERT_EQUAL(mock_calls.generate_key, 1);
	CU_ASSERT_EQUAL(mock_calls.create_object, 0);
	fixture_stop();
}

static void test_new_key_read_back(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;

	/* A backend that drops CKA_SENSITIVE makes a readable key: hsmux destroys it. */
	mock_config.ignore_sensitive = true;
	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &aes_gen, NULL, 0, &key),
	                CKR_FUNCTION_FAILED);
	CU_ASSERT_NOT_EQUAL(key, CK_INVALID_HANDLE);
	CU_ASSERT_FALSE(mock_exists(key));
	CU_ASSERT_EQUAL(mock_calls.destroy_object, 1);
	fixture_stop();
}

static void test_mechanism_denied(void)
{
	static const char *const allow_des3[] = {"mechanisms-allow = CKM_DES3_CBC, 0x131", NULL};
	static const char *const deny_gcm[] = {"mechanisms-deny = CKM_AES_GCM", NULL};
	struct hsmux_session_ref s = fixture_start(strict);
	CK_MECHANISM des3_gen = {CKM_DES3_KEY_GEN, NULL, 0};
	CK_OBJECT_HANDLE key;

	CU_ASSERT_EQUAL(hsmux_policy_generate_key(&s, &des3_gen, NULL, 0, &key),
	                CKR_MECHANISM_INVALID);
	CU_ASSERT_FALSE(hsmux_policy_mechanism_allowed(&fixture_be, CKM_DES_ECB));
	CU_ASSERT_FALSE(hsmux_policy_mechanism_allowed(&fixture_be, CKM_MD5));
	CU_ASSERT_FALSE(hsmux_policy_mechanism_allowed(&fixture_be, CKM_MD5_RSA_PKCS));
	CU_ASSERT_FALSE(hsmux_policy_mechanism_allowed(&fixture_be, CKM_MD5_HMAC));
	CU_ASSERT_TRUE(hsmux_policy_mechanism_allowed(&fixture_be, CKM_AES_GCM));
	CU_ASSERT_TRUE(hsmux_policy_mechanism_allowed(&fixture_be, CKM_SHA256_RSA_PKCS));
	fixture_stop();

	s = fixture_start(allow_des3);
	CU_ASSERT_TRUE(hsmux_policy_mechanism_allowed(&fixture_be, CKM_DES3_CBC));
	CU_ASSERT_TRUE(hsmux_policy_mechanism_allowed(&fixture_be, CKM_DES3_KEY_GEN));
	CU_ASSERT_FALSE(hsmux_policy_mechanism_allowed(&fixture_be, CKM_DES_CBC));
	fixture_stop();

	s = fixture_start(deny_gcm);
	CU_ASSERT_FALSE(hsmux_policy_mechanism_allowed(&fixture_be, CKM_AES_GCM));
	fixture_stop();
}

int main(void)
{
	CU_pSuite suite;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("policy_create", NULL, NULL);
	CU_add_test(suite, "test_policy_config_defaults", test_config_defaults);
	CU_add_test(suite, "test_policy_config_bad_values", test_config_bad_values);
	CU_add_test(suite, "test_policy_config_keys_listed", test_config_keys_listed);
	CU_add_test(suite, "test_policy_generate_tightens_weak", test_generate_tightens_weak);
	CU_add_test(suite, "test_policy_generate_rejects_weak", test_generate_rejects_weak);
	CU_add_test(suite, "test_policy_generate_separates_roles", test_generate_separates_roles);
	CU_add_test(suite, "test_policy_pair_separates_roles", test_pair_separates_roles);
	CU_add_test(suite, "test_policy_pair_rsa_minimum", test_pair_rsa_minimum);
	CU_add_test(suite, "test_policy_trusted_wrap_extractable", test_trusted_wrap_extractable);
	CU_add_test(suite, "test_policy_compat_extractable", test_compat_extractable);
	CU_add_test(suite, "test_policy_create_restricted_attributes",
	            test_create_restricted_attributes);
	CU_add_test(suite, "test_policy_create_denied_key_type", test_create_denied_key_type);
	CU_add_test(suite, "test_policy_create_otp_key", test_create_otp_key);
	CU_add_test(suite, "test_policy_template_form", test_template_form);
	CU_add_test(suite, "test_policy_new_key_read_back", test_new_key_read_back);
	CU_add_test(suite, "test_policy_mechanism_denied", test_mechanism_denied);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures ? 1 : 0;
}
