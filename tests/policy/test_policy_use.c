/*
 * Unit tests of the policy's rules on existing keys, over the mock backend:
 * sticky attributes, filtered reads, wrap, unwrap and derive, C_DigestKey,
 * the operation state, the *Init checks and the attribute cache.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "hsmux/admin.h"
#include "module/trace.h"

#include "tests/policy/policy_fixture.h"

static const char *const strict[] = {"policy = strict", NULL};
static const char *const compat[] = {"policy = compat", NULL};

static CK_MECHANISM aes_gen = {CKM_AES_KEY_GEN, NULL, 0};
static CK_MECHANISM rsa_gen = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
static CK_MECHANISM kw = {CKM_AES_KEY_WRAP, NULL, 0};

static CK_RV set_bool(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj,
                      CK_ATTRIBUTE_TYPE type, CK_BBOOL value)
{
	CK_ATTRIBUTE a = {type, &value, sizeof(value)};

	return hsmux_policy_set_attribute_value(s, obj, &a, 1);
}

static CK_RV copy_bool(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj,
                       CK_ATTRIBUTE_TYPE type, CK_BBOOL value, CK_OBJECT_HANDLE *copy)
{
	CK_ATTRIBUTE a = {type, &value, sizeof(value)};

	return hsmux_policy_copy_object(s, obj, &a, 1, copy);
}

/* A key made through the policy: sensitive, not extractable, with the asked usages. */
static CK_OBJECT_HANDLE new_key(const struct hsmux_session_ref *s, CK_ULONG bytes,
                                CK_ATTRIBUTE_TYPE usage)
{
	CK_ATTRIBUTE t[] = {ULONG_ATTR(CKA_VALUE_LEN, bytes), BOOL_ATTR(usage, yes)};
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;

	CU_ASSERT_EQUAL(hsmux_policy_generate_key(s, &aes_gen, t, 2, &key), CKR_OK);
	return key;
}

static void test_sticky_set(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_OBJECT_HANDLE key = new_key(&s, 32, CKA_ENCRYPT);
	CK_OBJECT_HANDLE wwt = fixture_legacy_aes(32, CKA_WRAP_WITH_TRUSTED, 1, CKA_EXTRACTABLE, 1,
	                                          CKA_SENSITIVE, 1, LEGACY_END);
	CK_OBJECT_HANDLE loose = fixture_legacy_aes(32, CKA_SENSITIVE, 0, CKA_EXTRACTABLE, 1,
	                                            CKA_WRAP_WITH_TRUSTED, 0, LEGACY_END);
	char label[] = "renamed";
	CK_ATTRIBUTE relabel = {CKA_LABEL, label, 7};
	CK_ATTRIBUTE weak_inner[] = {BOOL_ATTR(CKA_SENSITIVE, no)};
	CK_ATTRIBUTE weak_unwrap = {CKA_UNWRAP_TEMPLATE, weak_inner, sizeof(weak_inner)};

	CU_ASSERT_EQUAL(set_bool(&s, key, CKA_SENSITIVE, CK_FALSE), CKR_ATTRIBUTE_READ_ONLY);
	CU_ASSERT_EQUAL(set_bool(&s, key, CKA_EXTRACTABLE, CK_TRUE), CKR_ATTRIBUTE_READ_ONLY);
	CU_ASSERT_EQUAL(set_bool(&s, wwt, CKA_WRAP_WITH_TRUSTED, CK_FALSE),
	                CKR_ATTRIBUTE_READ_ONLY);
	CU_ASSERT_EQUAL(set_bool(&s, key, CKA_WRAP, CK_TRUE), CKR_ATTRIBUTE_READ_ONLY);
	CU_ASSERT_EQUAL(set_bool(&s, key, CKA_DECRYPT, CK_TRUE), CKR_OK); /* still on */
	CU_ASSERT_EQUAL(set_bool(&s, key, CKA_TRUSTED, CK_TRUE), CKR_ATTRIBUTE_READ_ONLY);
	CU_ASSERT_EQUAL(mock_calls.set_attribute_value, 1);

	/* The allowed directions pass. */
	CU_ASSERT_EQUAL(set_bool(&s, loose, CKA_SENSITIVE, CK_TRUE), CKR_OK);
	CU_ASSERT_EQUAL(set_bool(&s, loose, CKA_EXTRACTABLE, CK_FALSE), CKR_OK);
	CU_ASSERT_EQUAL(set_bool(&s, loose, CKA_WRAP_WITH_TRUSTED, CK_TRUE), CKR_OK);
	CU_ASSERT_EQUAL(set_bool(&s, key, CKA_ENCRYPT, CK_FALSE), CKR_OK);
	CU_ASSERT_EQUAL(hsmux_policy_set_attribute_value(&s, key, &relabel, 1), CKR_OK);
	CU_ASSERT_TRUE(mock_bool(loose, CKA_SENSITIVE));
	CU_ASSERT_FALSE(mock_bool(key, CKA_ENCRYPT));

	/* A later unwrap under this key must not be allowed a readable key. */
	CU_ASSERT_EQUAL(hsmux_policy_set_attribute_value(&s, key, &weak_unwrap, 1),
	                CKR_TEMPLATE_INCONSISTENT);

	/* Once off, a usage stays off: the cache saw the change. */
	CU_ASSERT_EQUAL(set_bool(&s, key, CKA_ENCRYPT, CK_TRUE), CKR_ATTRIBUTE_READ_ONLY);
	mock_config.so = true;
	CU_ASSERT_EQUAL(set_bool(&s, key, CKA_TRUSTED, CK_TRUE), CKR_OK);
	fixture_stop();
}

static void test_sticky_copy(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_OBJECT_HANDLE key = new_key(&s, 32, CKA_WRAP);
	CK_OBJECT_HANDLE both = fixture_legacy_aes(32, CKA_WRAP, 1, CKA_DECRYPT, 1, CKA_SENSITIVE,
	                                           1, CKA_EXTRACTABLE, 0, LEGACY_END);
	CK_BYTE value[32] = {9};
	CK_ATTRIBUTE new_value = {CKA_VALUE, value, sizeof(value)};
	CK_OBJECT_HANDLE copy;

	CU_ASSERT_EQUAL(copy_bool(&s, key, CKA_SENSITIVE, CK_FALSE, &copy),
	                CKR_ATTRIBUTE_READ_ONLY);
	CU_ASSERT_EQUAL(copy_bool(&s, key, CKA_EXTRACTABLE, CK_TRUE, &copy),
	                CKR_ATTRIBUTE_READ_ONLY);
	CU_ASSERT_EQUAL(copy_bool(&s, key, CKA_DECRYPT, CK_TRUE, &copy), CKR_ATTRIBUTE_READ_ONLY);
	CU_ASSERT_EQUAL(hsmux_policy_copy_object(&s, key, &new_value, 1, &copy),
	                CKR_ATTRIBUTE_READ_ONLY);
	CU_ASSERT_EQUAL(mock_calls.copy_object, 0);

	/* A plain copy keeps the wrap role. */
	CU_ASSERT_EQUAL(hsmux_policy_copy_object(&s, key, NULL, 0, &copy), CKR_OK);
	CU_ASSERT_TRUE(mock_bool(copy, CKA_WRAP));
	CU_ASSERT_FALSE(mock_bool(copy, CKA_DECRYPT));

	/* A copy of a legacy key with both roles loses the wrap roles. */
	CU_ASSERT_EQUAL(hsmux_policy_copy_object(&s, both, NULL, 0, &copy), CKR_OK);
	CU_ASSERT_FALSE(mock_bool(copy, CKA_WRAP));
	CU_ASSERT_TRUE(mock_bool(copy, CKA_DECRYPT));
	fixture_stop();
}

static void test_get_attribute_filtered(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_OBJECT_HANDLE key = new_key(&s, 32, CKA_ENCRYPT);
	CK_BYTE value[64];
	CK_ULONG cls = 0, len = 0;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_VALUE, value, sizeof(value)},
	    {CKA_VALUE_LEN, &len, sizeof(len)},
	};

	CU_ASSERT_EQUAL(hsmux_policy_get_attribute_value(&s, key, t, 3), CKR_ATTRIBUTE_SENSITIVE);
	CU_ASSERT_EQUAL(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CU_ASSERT_EQUAL(cls, CKO_SECRET_KEY);
	CU_ASSERT_EQUAL(t[0].ulValueLen, sizeof(CK_ULONG));
	CU_ASSERT_EQUAL(len, 32);
	/* The backend was never asked for the value. */
	CU_ASSERT_FALSE(mock_last_get_asked(CKA_VALUE));
	CU_ASSERT_TRUE(mock_last_get_asked(CKA_CLASS));
	fixture_stop();
}

static void test_get_attribute_rsa_parts(void)
{
	static const CK_ATTRIBUTE_TYPE parts[] = {CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
	                                          CKA_PRIME_2,          CKA_EXPONENT_1,
	                                          CKA_EXPONENT_2,       CKA_COEFFICIENT};
	struct hsmux_session_ref s = fixture_start(strict);
	CK_ULONG bits = 2048;
	CK_ATTRIBUTE pub[] = {ULONG_ATTR(CKA_MODULUS_BITS, bits)};
	CK_OBJECT_HANDLE pk, sk;
	CK_BYTE modulus[512], buf[512];

	CU_ASSERT_EQUAL_FATAL(
	    hsmux_policy_generate_key_pair(&s, &rsa_gen, pub, 1, NULL, 0, &pk, &sk), CKR_OK);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		CK_ATTRIBUTE t[] = {{CKA_MODULUS, modulus, sizeof(modulus)},
		                    {parts[i], buf, sizeof(buf)}};

		CU_ASSERT_EQUAL(hsmux_policy_get_attribute_value(&s, sk, t, 2),
		                CKR_ATTRIBUTE_SENSITIVE);
		CU_ASSERT_EQUAL(t[0].ulValueLen, 256);
		CU_ASSERT_EQUAL(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	}
	fixture_stop();
}

static void test_get_attribute_legacy(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_OBJECT_HANDLE open =
	    fixture_legacy_aes(16, CKA_SENSITIVE, 0, CKA_EXTRACTABLE, 1, LEGACY_END);
	CK_OBJECT_HANDLE kept =
	    fixture_legacy_aes(16, CKA_SENSITIVE, 0, CKA_EXTRACTABLE, 0, LEGACY_END);
	CK_BYTE value[16];
	CK_ATTRIBUTE t = {CKA_VALUE, value, sizeof(value)};

	/* Neither sensitive nor kept inside: the spec lets its value be read. */
	CU_ASSERT_EQUAL(hsmux_policy_get_attribute_value(&s, open, &t, 1), CKR_OK);
	CU_ASSERT_EQUAL(t.ulValueLen, 16);
	CU_ASSERT_EQUAL(value[0], 0x17);
	/* Non-extractable counts as sensitive even with SENSITIVE=FALSE. */
	t.ulValueLen = sizeof(value);
	CU_ASSERT_EQUAL(hsmux_policy_get_attribute_value(&s, kept, &t, 1), CKR_ATTRIBUTE_SENSITIVE);
	CU_ASSERT_EQUAL(t.ulValueLen, CK_UNAVAILABLE_INFORMATION);
	fixture_stop();
}

static void test_wrap_rules(void)
{
	struct hsmux_session_ref s = fixture_start(compat);
	CK_BYTE iv[16] = {0}, blob[64];
	CK_MECHANISM cbc = {CKM_AES_CBC, iv, sizeof(iv)};
	CK_ULONG len = sizeof(blob);
	CK_ATTRIBUTE ext[] = {BOOL_ATTR(CKA_EXTRACTABLE, yes)};
	CK_OBJECT_HANDLE w256 = new_key(&s, 32, CKA_WRAP), w128 = new_key(&s, 16, CKA_WRAP);
	CK_OBJECT_HANDLE target, fixed = new_key(&s, 32, CKA_ENCRYPT);

	CU_ASSERT_EQUAL_FATAL(hsmux_policy_generate_key(&s, &aes_gen, ext, 1, &target), CKR_OK);
	CU_ASSERT_EQUAL(hsmux_policy_wrap_key(&s, &cbc, w256, target, blob, &len),
	                CKR_MECHANISM_INVALID);
	CU_ASSERT_EQUAL(hsmux_policy_wrap_key(&s, &kw, w256, fixed, blob, &len),
	                CKR_KEY_UNEXTRACTABLE);
	CU_ASSERT_EQUAL(hsmux_policy_wrap_key(&s, &kw, w128, target, blob, &len),
	                CKR_WRAPPING_KEY_SIZE_RANGE);
	CU_ASSERT_EQUAL(hsmux_policy_wrap_key(&s, &kw, fixed, target, blob, &len),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(mock_calls.wrap_key, 0);
	CU_ASSERT_EQUAL(hsmux_policy_wrap_key(&s, &kw, w256, target, blob, &len), CKR_OK);
	CU_ASSERT_EQUAL(mock_calls.wrap_key, 1);
	fixture_stop();
}

static void test_wrap_trust(void)
{
	struct hsmux_session_ref s = fixture_start(compat);
	CK_BYTE blob[64], value[32] = {3};
	CK_ULONG len = sizeof(blob);
	CK_ATTRIBUTE wwt[] = {BOOL_ATTR(CKA_EXTRACTABLE, yes),
	                      BOOL_ATTR(CKA_WRAP_WITH_TRUSTED, yes)};
	CK_ATTRIBUTE ext[] = {BOOL_ATTR(CKA_EXTRACTABLE, yes)};
	CK_ATTRIBUTE imported[] = {
	    ULONG_ATTR(CKA_CLASS, class_secret),
	    ULONG_ATTR(CKA_KEY_TYPE, type_aes),
	    {CKA_VALUE, value, sizeof(value)},
	    BOOL_ATTR(CKA_WRAP, yes),
	};
	CK_OBJECT_HANDLE w = new_key(&s, 32, CKA_WRAP), guarded, target, known;

	CU_ASSERT_EQUAL_FATAL(hsmux_policy_generate_key(&s, &aes_gen, wwt, 2, &guarded), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(hsmux_policy_generate_key(&s, &aes_gen, ext, 1, &target), CKR_OK);
	CU_ASSERT_EQUAL(hsmux_policy_wrap_key(&s, &kw, w, guarded, blob, &len),
	                CKR_KEY_NOT_WRAPPABLE);

	/* A key whose value the client gave wraps nothing until the SO trusts it. */
	CU_ASSERT_EQUAL_FATAL(hsmux_policy_create_object(&s, imported, 4, &known), CKR_OK);
	CU_ASSERT_EQUAL(hsmux_policy_wrap_key(&s, &kw, known, target, blob, &len),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	mock_config.so = true;
	CU_ASSERT_EQUAL(set_bool(&s, known, CKA_TRUSTED, CK_TRUE), CKR_OK);
	CU_ASSERT_EQUAL(hsmux_policy_wrap_key(&s, &kw, known, target, blob, &len), CKR_OK);
	CU_ASSERT_EQUAL(hsmux_policy_wrap_key(&s, &kw, known, guarded, blob, &len), CKR_OK);
	fixture_stop();
}

static void test_unwrap_rules(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_MECHANISM v15 = {CKM_RSA_PKCS, NULL, 0}, ecb = {CKM_AES_ECB, NULL, 0};
	CK_BYTE blob[40] = {0};
	CK_ATTRIBUTE weak[] = {ULONG_ATTR(CKA_CLASS, class_secret), BOOL_ATTR(CKA_SENSITIVE, no)};
	CK_ATTRIBUTE plain[] = {ULONG_ATTR(CKA_CLASS, class_secret),
	                        ULONG_ATTR(CKA_KEY_TYPE, type_aes)};
	CK_OBJECT_HANDLE u = new_key(&s, 32, CKA_UNWRAP), e = new_key(&s, 32, CKA_ENCRYPT), key;

	CU_ASSERT_EQUAL(hsmux_policy_unwrap_key(&s, &v15, u, blob, 40, plain, 2, &key),
	                CKR_MECHANISM_INVALID);
	CU_ASSERT_EQUAL(hsmux_policy_unwrap_key(&s, &ecb, u, blob, 40, plain, 2, &key),
	                CKR_MECHANISM_INVALID);
	CU_ASSERT_EQUAL(hsmux_policy_unwrap_key(&s, &kw, e, blob, 40, plain, 2, &key),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	/* Rejected before any decryption, even though this policy tightens elsewhere. */
	CU_ASSERT_EQUAL(hsmux_policy_unwrap_key(&s, &kw, u, blob, 40, weak, 2, &key),
	                CKR_TEMPLATE_INCONSISTENT);
	CU_ASSERT_EQUAL(mock_calls.unwrap_key, 0);

	CU_ASSERT_EQUAL(hsmux_policy_unwrap_key(&s, &kw, u, blob, 40, plain, 2, &key), CKR_OK);
	CU_ASSERT_TRUE(mock_bool(key, CKA_SENSITIVE));
	CU_ASSERT_FALSE(mock_bool(key, CKA_EXTRACTABLE));
	CU_ASSERT_FALSE(mock_bool(key, CKA_WRAP));
	fixture_stop();
}

static void test_unwrap_one_failure_code(void)
{
	static const CK_RV decrypt_failures[] = {
	    CKR_ENCRYPTED_DATA_INVALID, CKR_ENCRYPTED_DATA_LEN_RANGE,
	    CKR_DATA_INVALID,           CKR_DATA_LEN_RANGE,
	    CKR_GENERAL_ERROR,          CKR_WRAPPED_KEY_INVALID};
	struct hsmux_session_ref s = fixture_start(strict);
	CK_BYTE blob[40] = {0};
	CK_ATTRIBUTE plain[] = {ULONG_ATTR(CKA_CLASS, class_secret)};
	CK_OBJECT_HANDLE u = new_key(&s, 32, CKA_UNWRAP), key;

	for (size_t i = 0; i < sizeof(decrypt_failures) / sizeof(decrypt_failures[0]); i++) {
		mock_config.unwrap_rv = decrypt_failures[i];
		CU_ASSERT_EQUAL(hsmux_policy_unwrap_key(&s, &kw, u, blob, 40, plain, 1, &key),
		                CKR_WRAPPED_KEY_INVALID);
	}
	/* Codes about the request, not the wrapped bytes, pass through. */
	mock_config.unwrap_rv = CKR_SESSION_HANDLE_INVALID;
	CU_ASSERT_EQUAL(hsmux_policy_unwrap_key(&s, &kw, u, blob, 40, plain, 1, &key),
	                CKR_SESSION_HANDLE_INVALID);
	fixture_stop();
}

static void test_derive_rules(void)
{
	struct hsmux_session_ref s = fixture_start(compat);
	CK_BYTE data[16] = {0};
	CK_KEY_DERIVATION_STRING_DATA param = {data, sizeof(data)};
	CK_MECHANISM concat = {CKM_CONCATENATE_BASE_AND_DATA, &param, sizeof(param)};
	CK_MECHANISM xor = {CKM_XOR_BASE_AND_DATA, &param, sizeof(param)};
	CK_MECHANISM ecb_data = {CKM_AES_ECB_ENCRYPT_DATA, &param, sizeof(param)};
	CK_ATTRIBUTE loose[] = {BOOL_ATTR(CKA_SENSITIVE, no), BOOL_ATTR(CKA_EXTRACTABLE, yes)};
	CK_OBJECT_HANDLE base = new_key(&s, 32, CKA_DERIVE), open, key;

	CU_ASSERT_EQUAL(hsmux_policy_derive_key(&s, &concat, base, NULL, 0, &key),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(hsmux_policy_derive_key(&s, &xor, base, NULL, 0, &key),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(mock_calls.derive_key, 0);

	/* Other derives work, and the new key inherits the base's protection. */
	CU_ASSERT_EQUAL(hsmux_policy_derive_key(&s, &ecb_data, base, loose, 2, &key), CKR_OK);
	CU_ASSERT_TRUE(mock_bool(key, CKA_SENSITIVE));
	CU_ASSERT_FALSE(mock_bool(key, CKA_EXTRACTABLE));

	/* A key that was never secret may be concatenated. */
	open =
	    fixture_legacy_aes(16, CKA_SENSITIVE, 0, CKA_EXTRACTABLE, 1, CKA_DERIVE, 1, LEGACY_END);
	CU_ASSERT_EQUAL(hsmux_policy_derive_key(&s, &concat, open, NULL, 0, &key), CKR_OK);
	CU_ASSERT_TRUE(mock_bool(key, CKA_SENSITIVE));
	fixture_stop();
}

static void test_digest_key_and_state(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_OBJECT_HANDLE key = new_key(&s, 32, CKA_ENCRYPT);
	CK_OBJECT_HANDLE open =
	    fixture_legacy_aes(16, CKA_SENSITIVE, 0, CKA_EXTRACTABLE, 1, LEGACY_END);
	CK_BYTE state[64];
	CK_ULONG len = sizeof(state);

	CU_ASSERT_EQUAL(hsmux_policy_check_digest_key(&s, key), CKR_KEY_INDIGESTIBLE);
	CU_ASSERT_EQUAL(hsmux_policy_check_digest_key(&s, open), CKR_OK);

	mock_config.operation_state_rv = CKR_OK;
	CU_ASSERT_EQUAL(hsmux_policy_get_operation_state(&s, state, &len), CKR_STATE_UNSAVEABLE);
	mock_config.operation_state_rv = CKR_OPERATION_NOT_INITIALIZED;
	CU_ASSERT_EQUAL(hsmux_policy_get_operation_state(&s, state, &len),
	                CKR_OPERATION_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(hsmux_policy_set_operation_state(&s), CKR_SAVED_STATE_INVALID);
	fixture_stop();
}

static void test_key_use_checks(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0}, des = {CKM_DES3_CBC, NULL, 0};
	CK_MECHANISM raw = {CKM_RSA_X_509, NULL, 0}, pss = {CKM_SHA256_RSA_PKCS_PSS, NULL, 0};
	CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0};
	CK_OBJECT_HANDLE both = fixture_legacy_aes(32, CKA_WRAP, 1, CKA_ENCRYPT, 1, CKA_DECRYPT, 1,
	                                           CKA_SENSITIVE, 1, LEGACY_END);
	CK_OBJECT_HANDLE enc = new_key(&s, 32, CKA_ENCRYPT), pk, sk;
	CK_ULONG bits = 2048;
	CK_ATTRIBUTE pub[] = {ULONG_ATTR(CKA_MODULUS_BITS, bits)};
	CK_ATTRIBUTE priv[] = {BOOL_ATTR(CKA_DECRYPT, yes), BOOL_ATTR(CKA_SIGN, yes)};

	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_ENCRYPT, &ecb, both),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_DECRYPT, &ecb, both),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_ENCRYPT, &ecb, enc), CKR_OK);
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_ENCRYPT, &des, enc),
	                CKR_MECHANISM_INVALID);

	CU_ASSERT_EQUAL_FATAL(
	    hsmux_policy_generate_key_pair(&s, &rsa_gen, pub, 1, priv, 2, &pk, &sk), CKR_OK);
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_SIGN, &raw, sk),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_DECRYPT, &raw, sk),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_SIGN, &pss, sk), CKR_OK);
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_VERIFY, &raw, pk), CKR_OK);
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_SIGN, &ecdsa, sk), CKR_OK);
	fixture_stop();
}

static void test_legacy_rsa_pair(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_MECHANISM oaep = {CKM_RSA_PKCS_OAEP, NULL, 0}, pss = {CKM_SHA256_RSA_PKCS_PSS, NULL, 0};
	CK_BYTE modulus[256], small[128];
	CK_ATTRIBUTE pub[] = {
	    ULONG_ATTR(CKA_CLASS, class_public),
	    ULONG_ATTR(CKA_KEY_TYPE, type_rsa),
	    {CKA_MODULUS, modulus, sizeof(modulus)},
	    BOOL_ATTR(CKA_WRAP, yes),
	    BOOL_ATTR(CKA_LOCAL, yes),
	};
	CK_ATTRIBUTE priv[] = {
	    ULONG_ATTR(CKA_CLASS, class_private),    ULONG_ATTR(CKA_KEY_TYPE, type_rsa),
	    {CKA_MODULUS, modulus, sizeof(modulus)}, BOOL_ATTR(CKA_DECRYPT, yes),
	    BOOL_ATTR(CKA_SENSITIVE, yes),
	};
	CK_ATTRIBUTE weak[] = {
	    ULONG_ATTR(CKA_CLASS, class_private),
	    ULONG_ATTR(CKA_KEY_TYPE, type_rsa),
	    {CKA_MODULUS, small, sizeof(small)},
	    BOOL_ATTR(CKA_SIGN, yes),
	};
	CK_OBJECT_HANDLE pk, sk, sk1024;
	char reason[256];

	memset(modulus, 0xd7, sizeof(modulus));
	memset(small, 0xd8, sizeof(small));
	pk = mock_add(pub, N_ATTRS(pub));
	sk = mock_add(priv, N_ATTRS(priv));
	sk1024 = mock_add(weak, N_ATTRS(weak));

	/* Neither half alone mixes roles; the pair as a whole does. */
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_DECRYPT, &oaep, sk),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_FALSE(hsmux_policy_key_status(&s, sk, reason, sizeof(reason)));
	CU_ASSERT_PTR_NOT_NULL(strstr(reason, "wrap role"));
	CU_ASSERT_FALSE(hsmux_policy_key_status(&s, pk, reason, sizeof(reason)));

	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_SIGN, &pss, sk1024),
	                CKR_KEY_SIZE_RANGE);
	CU_ASSERT_FALSE(hsmux_policy_key_status(&s, sk1024, reason, sizeof(reason)));
	CU_ASSERT_PTR_NOT_NULL(strstr(reason, "minimum size"));
	fixture_stop();
}

static void test_cache_reads_once(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
	CK_OBJECT_HANDLE key = new_key(&s, 32, CKA_ENCRYPT);
	unsigned int reads;

	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_ENCRYPT, &ecb, key), CKR_OK);
	reads = mock_calls.get_attribute_value;
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_ENCRYPT, &ecb, key),
		                CKR_OK);
	CU_ASSERT_EQUAL(mock_calls.get_attribute_value, reads);

	/* Set drops the entry, so the next check reads the new value. */
	CU_ASSERT_EQUAL(set_bool(&s, key, CKA_ENCRYPT, CK_FALSE), CKR_OK);
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_ENCRYPT, &ecb, key), CKR_OK);
	CU_ASSERT_EQUAL(mock_calls.get_attribute_value, reads + 1);
	CU_ASSERT_EQUAL(set_bool(&s, key, CKA_ENCRYPT, CK_TRUE), CKR_ATTRIBUTE_READ_ONLY);

	/* Destroy drops it too: the handle no longer resolves. */
	CU_ASSERT_EQUAL(hsmux_policy_destroy_object(&s, key), CKR_OK);
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_ENCRYPT, &ecb, key),
	                CKR_KEY_HANDLE_INVALID);
	fixture_stop();
}

static void test_cache_session_objects(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
	CK_OBJECT_HANDLE key = new_key(&s, 32, CKA_ENCRYPT);
	unsigned int reads;

	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_ENCRYPT, &ecb, key), CKR_OK);
	reads = mock_calls.get_attribute_value;
	hsmux_policy_forget_session_objects(&fixture_be, 0);
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_ENCRYPT, &ecb, key), CKR_OK);
	CU_ASSERT_EQUAL(mock_calls.get_attribute_value, reads + 1);
	fixture_stop();
}

/* A token object's entry outlives the end of the sessions, but not C_InitToken's forget. */
static void test_cache_token_objects(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
	CK_OBJECT_HANDLE key = fixture_legacy_aes(32, CKA_TOKEN, 1, CKA_ENCRYPT, 1, CKA_WRAP, 0,
	                                          CKA_UNWRAP, 0, CKA_SENSITIVE, 1, LEGACY_END);
	unsigned int reads;

	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_ENCRYPT, &ecb, key), CKR_OK);
	reads = mock_calls.get_attribute_value;
	hsmux_policy_forget_session_objects(&fixture_be, 0);
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_ENCRYPT, &ecb, key), CKR_OK);
	CU_ASSERT_EQUAL(mock_calls.get_attribute_value, reads);
	hsmux_policy_forget_slot(&fixture_be, 0);
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_ENCRYPT, &ecb, key), CKR_OK);
	CU_ASSERT_EQUAL(mock_calls.get_attribute_value, reads + 1);
	fixture_stop();
}

static void test_rejections_traced(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	char path[] = "/tmp/hsmux-policy-trace.XXXXXX", text[4096] = "";
	CK_BYTE iv[16] = {0}, blob[64];
	CK_MECHANISM cbc = {CKM_AES_CBC, iv, sizeof(iv)};
	CK_ULONG len = sizeof(blob);
	CK_OBJECT_HANDLE key = new_key(&s, 32, CKA_ENCRYPT);
	int fd = mkstemp(path);
	FILE *f;
	size_t n;

	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	setenv("HSMUX_DEBUG", "policy", 1);
	setenv("HSMUX_DEBUG_FILE", path, 1);
	hsmux_trace_init();
	CU_ASSERT_EQUAL(hsmux_policy_wrap_key(&s, &cbc, key, key, blob, &len),
	                CKR_MECHANISM_INVALID);
	CU_ASSERT_EQUAL(set_bool(&s, key, CKA_SENSITIVE, CK_FALSE), CKR_ATTRIBUTE_READ_ONLY);
	hsmux_trace_cleanup();
	hsmux_trace_mask = 0;
	unsetenv("HSMUX_DEBUG");
	unsetenv("HSMUX_DEBUG_FILE");

	f = fopen(path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	unlink(path);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "C_WrapKey rejected"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "CKR_MECHANISM_INVALID"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "C_SetAttributeValue rejected"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "CKR_ATTRIBUTE_READ_ONLY"));
	fixture_stop();
}

struct reader_arg {
	const struct hsmux_session_ref *s;
	CK_OBJECT_HANDLE keys[4];
	int failures;
};

static void *check_keys_repeatedly(void *p)
{
	struct reader_arg *arg = p;
	CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};

	for (int i = 0; i < 2000; i++)
		if (hsmux_policy_check_key_use(arg->s, HSMUX_USE_ENCRYPT, &ecb, arg->keys[i % 4]) !=
		    CKR_OK)
			arg->failures++;
	return NULL;
}

/* Readers fill the cache while another thread empties it; every check still holds. */
static void test_cache_threads(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	struct reader_arg args[3];
	pthread_t threads[3];

	for (int t = 0; t < 3; t++) {
		args[t] = (struct reader_arg){.s = &s};
		for (int k = 0; k < 4; k++)
			args[t].keys[k] = t == 0 ? new_key(&s, 32, CKA_ENCRYPT) : args[0].keys[k];
	}
	for (int t = 0; t < 3; t++)
		CU_ASSERT_EQUAL_FATAL(
		    pthread_create(&threads[t], NULL, check_keys_repeatedly, &args[t]), 0);
	for (int i = 0; i < 500; i++)
		hsmux_policy_forget_all();
	for (int t = 0; t < 3; t++) {
		pthread_join(threads[t], NULL);
		CU_ASSERT_EQUAL(args[t].failures, 0);
	}
	fixture_stop();
}

/* The verdict memo answers as the rules do, for standard, vendor and very large types. */
static void test_mechanism_memo(void)
{
	static const char *const lines[] = {
	    "mechanisms-allow = CKM_MD5",
	    "mechanisms-deny = 0x80001234, 0xff00000000000001, CKM_SHA384",
	    NULL,
	};
	struct hsmux_session_ref s = fixture_start(lines);
	const CK_MECHANISM_TYPE denied[] = {CKM_DES3_CBC, CKM_MD5_HMAC, CKM_SHA384, 0x80001234,
	                                    0xff00000000000001};
	const CK_MECHANISM_TYPE allowed[] = {CKM_MD5, CKM_SHA256, CKM_AES_GCM, 0x80001235,
	                                     0xff00000000000002};

	/* Twice each, and after every other type, so that both memo hits and evictions count. */
	for (int round = 0; round < 2; round++) {
		for (CK_MECHANISM_TYPE m = 0; m < 0x1200; m++)
			hsmux_policy_mechanism_allowed(s.be, m);
		for (size_t i = 0; i < 5; i++) {
			CU_ASSERT_FALSE(hsmux_policy_mechanism_allowed(s.be, denied[i]));
			CU_ASSERT_FALSE(hsmux_policy_mechanism_allowed(s.be, denied[i]));
			CU_ASSERT_TRUE(hsmux_policy_mechanism_allowed(s.be, allowed[i]));
			CU_ASSERT_TRUE(hsmux_policy_mechanism_allowed(s.be, allowed[i]));
		}
	}
	/* A backend without a policy of its own gets the strict default, memo and all. */
	s.be->policy = NULL;
	CU_ASSERT_FALSE(hsmux_policy_mechanism_allowed(s.be, CKM_MD5));
	CU_ASSERT_FALSE(hsmux_policy_mechanism_allowed(s.be, CKM_MD5));
	CU_ASSERT_TRUE(hsmux_policy_mechanism_allowed(s.be, CKM_SHA384));
	s.be->policy = fixture_policy;
	fixture_stop();
}

/*
 * A pass that a session records holds only until the cache forgets: a key
 * changed around hsmux (here straight through the backend) is checked again
 * once the router reports that the slot's objects may have changed.
 */
static void test_key_use_memo_forgotten(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0}, hmac = {CKM_SHA256_HMAC, NULL, 0};
	CK_OBJECT_HANDLE key = fixture_legacy_aes(32, CKA_ENCRYPT, 1, CKA_WRAP, 0, CKA_UNWRAP, 0,
	                                          CKA_SENSITIVE, 1, LEGACY_END);
	CK_ATTRIBUTE wrap = BOOL_ATTR(CKA_WRAP, yes);
	CK_ATTRIBUTE label = {CKA_LABEL, (void *)HSMUX_SD_KEY_LABEL,
	                      sizeof(HSMUX_SD_KEY_LABEL) - 1};

	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_ENCRYPT, &ecb, key), CKR_OK);
	CU_ASSERT_EQUAL(s.be->ops->set_attribute_value(s.be, s.bsess, key, &wrap, 1), CKR_OK);
	hsmux_policy_forget_slot(s.be, 0);
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_ENCRYPT, &ecb, key),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);

	/* The same for a label the admin interface gives: HMAC then finds the SD key. */
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_SIGN, &hmac, key), CKR_OK);
	CU_ASSERT_EQUAL(s.be->ops->set_attribute_value(s.be, s.bsess, key, &label, 1), CKR_OK);
	hsmux_policy_forget_object(s.be, 0, key);
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_SIGN, &hmac, key),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(hsmux_policy_check_key_use(&s, HSMUX_USE_VERIFY, &hmac, key),
	                CKR_KEY_FUNCTION_NOT_PERMITTED);
	fixture_stop();
}

struct mixed_arg {
	const struct hsmux_session_ref *s;
	CK_OBJECT_HANDLE good, mixed;
	int wrong;
};

/* Alternates a key that may encrypt with one that mixes roles, and checks both results. */
static void *check_mixed_repeatedly(void *p)
{
	struct mixed_arg *arg = p;
	CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};

	for (int i = 0; i < 4000; i++) {
		CK_OBJECT_HANDLE key = i % 2 ? arg->mixed : arg->good;
		CK_RV want = i % 2 ? CKR_KEY_FUNCTION_NOT_PERMITTED : CKR_OK;

		if (hsmux_policy_check_key_use(arg->s, HSMUX_USE_ENCRYPT, &ecb, key) != want)
			arg->wrong++;
	}
	return NULL;
}

/* Lock-free readers never see one key's entry for another's while writers churn the cache. */
static void test_cache_threads_mixed(void)
{
	struct hsmux_session_ref s = fixture_start(strict);
	struct mixed_arg args[2];
	pthread_t threads[2];
	CK_OBJECT_HANDLE good = new_key(&s, 32, CKA_ENCRYPT);
	CK_OBJECT_HANDLE mixed =
	    fixture_legacy_aes(32, CKA_WRAP, 1, CKA_ENCRYPT, 1, CKA_SENSITIVE, 1, LEGACY_END);

	for (int t = 0; t < 2; t++) {
		args[t] = (struct mixed_arg){.s = &s, .good = good, .mixed = mixed};
		CU_ASSERT_EQUAL_FATAL(
		    pthread_create(&threads[t], NULL, check_mixed_repeatedly, &args[t]), 0);
	}
	for (int i = 0; i < 1000; i++) {
		hsmux_policy_forget_object(s.be, 0, i % 2 ? mixed : good);
		if (i % 100 == 0)
			hsmux_policy_forget_all();
	}
	for (int t = 0; t < 2; t++) {
		pthread_join(threads[t], NULL);
		CU_ASSERT_EQUAL(args[t].wrong, 0);
	}
	fixture_stop();
}

int main(void)
{
	CU_pSuite suite;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("policy_use", NULL, NULL);
	CU_add_test(suite, "test_policy_sticky_set", test_sticky_set);
	CU_add_test(suite, "test_policy_sticky_copy", test_sticky_copy);
	CU_add_test(suite, "test_policy_get_attribute_filtered", test_get_attribute_filtered);
	CU_add_test(suite, "test_policy_get_attribute_rsa_parts", test_get_attribute_rsa_parts);
	CU_add_test(suite, "test_policy_get_attribute_legacy", test_get_attribute_legacy);
	CU_add_test(suite, "test_policy_wrap_rules", test_wrap_rules);
	CU_add_test(suite, "test_policy_wrap_trust", test_wrap_trust);
	CU_add_test(suite, "test_policy_unwrap_rules", test_unwrap_rules);
	CU_add_test(suite, "test_policy_unwrap_one_failure_code", test_unwrap_one_failure_code);
	CU_add_test(suite, "test_policy_derive_rules", test_derive_rules);
	CU_add_test(suite, "test_policy_digest_key_and_state", test_digest_key_and_state);
	CU_add_test(suite, "test_policy_key_use_checks", test_key_use_checks);
	CU_add_test(suite, "test_policy_legacy_rsa_pair", test_legacy_rsa_pair);
	CU_add_test(suite, "test_policy_cache_reads_once", test_cache_reads_once);
	CU_add_test(suite, "test_policy_cache_session_objects", test_cache_session_objects);
	CU_add_test(suite, "test_policy_cache_token_objects", test_cache_token_objects);
	CU_add_test(suite, "test_policy_rejections_traced", test_rejections_traced);
	CU_add_test(suite, "test_policy_cache_threads", test_cache_threads);
	CU_add_test(suite, "test_policy_mechanism_memo", test_mechanism_memo);
	CU_add_test(suite, "test_policy_key_use_memo_forgotten", test_key_use_memo_forgotten);
	CU_add_test(suite, "test_policy_cache_threads_mixed", test_cache_threads_mixed);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures ? 1 : 0;
}
