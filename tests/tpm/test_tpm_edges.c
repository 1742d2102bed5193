/*
 * Edge cases of the functions behind private data objects (tpm_data.c) and
 * raw RSA signing (tpm_rsa_raw.c), called directly on a token built in
 * memory: no TPM takes part. The type-1 block must equal OpenSSL's
 * RSA_padding_add_PKCS1_type_1() for every length that fits, and fail with
 * CKR_DATA_LEN_RANGE for the rest. Reading the sealed value returns what
 * the spec sets for every buffer length, NULL buffers, empty values, each
 * login, and a damaged or short sealed attribute.
 */
/* RSA_padding_add_PKCS1_type_1(), deprecated in OpenSSL 3, gives the expected blocks. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "backends/tpm/tpm_data.h"
#include "backends/tpm/tpm_rsa_raw.h"
#include "backends/tpm/tpm_token.h"

static void test_tpm_edges_pad_known_answer(void)
{
	const size_t sizes[] = {11, 12, 64, 256, 384, 512};
	CK_BYTE in[512], em[512], want[512];

	CU_ASSERT_FATAL(RAND_bytes(in, sizeof(in)) == 1);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t k = sizes[i];
		const size_t lens[] = {0, 1, k / 2, k - 11};

		for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			int ok = RSA_padding_add_PKCS1_type_1(want, (int)k, in, (int)lens[j]);

			memset(em, 0x5a, sizeof(em));
			/* OpenSSL rejects more than k - 11 bytes too (1 byte for k = 11). */
			if (lens[j] > k - 11) {
				CU_ASSERT_NOT_EQUAL(ok, 1);
				CU_ASSERT_EQUAL(tpm_rsa_pad_type1(in, lens[j], em, k),
				                CKR_DATA_LEN_RANGE);
				continue;
			}
			CU_ASSERT_EQUAL_FATAL(ok, 1);
			CU_ASSERT_EQUAL(tpm_rsa_pad_type1(in, lens[j], em, k), CKR_OK);
			CU_ASSERT_EQUAL(memcmp(em, want, k), 0);
			/* Nothing is written past the k bytes of the block. */
			CU_ASSERT(k == sizeof(em) || em[k] == 0x5a);
		}
		CU_ASSERT_EQUAL(tpm_rsa_pad_type1(in, k - 10, em, k), CKR_DATA_LEN_RANGE);
		CU_ASSERT_EQUAL(tpm_rsa_pad_type1(in, ~0UL, em, k), CKR_DATA_LEN_RANGE);
	}
	CU_ASSERT_EQUAL(tpm_rsa_pad_type1(NULL, 0, em, 256), CKR_OK);
	CU_ASSERT_EQUAL(tpm_rsa_pad_type1(NULL, 0, em, 10), CKR_DATA_LEN_RANGE);
	CU_ASSERT_EQUAL(tpm_rsa_pad_type1(NULL, 0, em, 0), CKR_DATA_LEN_RANGE);
}

/* Makes a token in memory with a user login, which is all that tpm_data.c reads of a token. */
static struct tpm_token *token_new(void)
{
	struct tpm_token *tok = calloc(1, sizeof(*tok));

	CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
	CU_ASSERT_FATAL(RAND_bytes(tok->secret, sizeof(tok->secret)) == 1);
	CU_ASSERT_FATAL(RAND_bytes(tok->serial, sizeof(tok->serial)) == 1);
	tok->login = CKU_USER;
	return tok;
}

/* Makes a sealed private token data object with value (NULL for an empty one). */
static struct tpm_object *sealed_new(struct tpm_token *tok, const CK_BYTE *value, CK_ULONG len)
{
	struct tpm_object *obj = tpm_object_new();

	CU_ASSERT_PTR_NOT_NULL_FATAL(obj);
	CU_ASSERT_EQUAL(tpm_attrs_set_ulong(&obj->attrs, CKA_CLASS, CKO_DATA), CKR_OK);
	CU_ASSERT_EQUAL(tpm_attrs_set_bool(&obj->attrs, CKA_TOKEN, CK_TRUE), CKR_OK);
	CU_ASSERT_EQUAL(tpm_attrs_set_bool(&obj->attrs, CKA_PRIVATE, CK_TRUE), CKR_OK);
	CU_ASSERT_EQUAL(tpm_attrs_set(&obj->attrs, CKA_VALUE, value, len), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(tpm_data_settle_locked(tok, obj, ""), CKR_OK);
	CU_ASSERT_TRUE(tpm_data_is_sealed(obj));
	CU_ASSERT_PTR_NULL(tpm_attrs_find(&obj->attrs, CKA_VALUE));
	CU_ASSERT_NOT_EQUAL(obj->file[0], '\0');
	return obj;
}

static void test_tpm_edges_empty_value(void)
{
	struct tpm_token *tok = token_new();
	struct tpm_object *obj = sealed_new(tok, NULL, 0);
	CK_BYTE buf[4] = {0x5a};
	CK_ATTRIBUTE t = {CKA_VALUE, NULL, 77};
	CK_ATTRIBUTE empty = {CKA_VALUE, NULL, 0}, one = {CKA_VALUE, buf, 1};

	CU_ASSERT_EQUAL(tpm_data_get_value_locked(tok, obj, &t), CKR_OK);
	CU_ASSERT_EQUAL(t.ulValueLen, 0);
	t.pValue = buf;
	t.ulValueLen = 0;
	CU_ASSERT_EQUAL(tpm_data_get_value_locked(tok, obj, &t), CKR_OK);
	CU_ASSERT_EQUAL(t.ulValueLen, 0);
	CU_ASSERT_EQUAL(buf[0], 0x5a);
	CU_ASSERT_TRUE(tpm_data_match_locked(tok, obj, &empty, 1));
	CU_ASSERT_FALSE(tpm_data_match_locked(tok, obj, &one, 1));
	tpm_object_free(tok, obj);
	free(tok);
}

static void check_buffer_lengths(struct tpm_token *tok, struct tpm_object *obj,
                                 const CK_BYTE *value, CK_ULONG len)
{
	CK_BYTE buf[128];
	const CK_ULONG tries[] = {0, 1, len - 1, len, len + 1, sizeof(buf)};

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		CK_ATTRIBUTE t = {CKA_VALUE, buf, tries[i]};
		CK_RV want = tries[i] < len ? CKR_BUFFER_TOO_SMALL : CKR_OK;

		memset(buf, 0x5a, sizeof(buf));
		CU_ASSERT_EQUAL(tpm_data_get_value_locked(tok, obj, &t), want);
		CU_ASSERT_EQUAL(t.ulValueLen, want == CKR_OK ? len : CK_UNAVAILABLE_INFORMATION);
		CU_ASSERT(want == CKR_OK ? memcmp(buf, value, len) == 0 : buf[0] == 0x5a);
		CU_ASSERT_EQUAL(buf[want == CKR_OK ? len : 0], 0x5a);
	}
}

/* Without a user login: no size, no byte, no match. */
static void check_logins(struct tpm_token *tok, struct tpm_object *obj, const CK_BYTE *value,
                         CK_ULONG len)
{
	const CK_USER_TYPE others[] = {TPM_NO_LOGIN, CKU_SO};
	CK_BYTE buf[128] = {0}, zero[128] = {0};
	CK_ATTRIBUTE right = {CKA_VALUE, (void *)value, len};

	for (size_t i = 0; i < 2; i++) {
		CK_ATTRIBUTE size = {CKA_VALUE, NULL, 0}, t = {CKA_VALUE, buf, sizeof(buf)};

		tok->login = others[i];
		CU_ASSERT_EQUAL(tpm_data_get_value_locked(tok, obj, &size),
		                CKR_ATTRIBUTE_SENSITIVE);
		CU_ASSERT_EQUAL(size.ulValueLen, CK_UNAVAILABLE_INFORMATION);
		CU_ASSERT_EQUAL(tpm_data_get_value_locked(tok, obj, &t), CKR_ATTRIBUTE_SENSITIVE);
		CU_ASSERT_EQUAL(memcmp(buf, zero, sizeof(buf)), 0);
		CU_ASSERT_FALSE(tpm_data_match_locked(tok, obj, &right, 1));
	}
	tok->login = CKU_USER;
	CU_ASSERT_TRUE(tpm_data_match_locked(tok, obj, &right, 1));
}

static void check_templates(struct tpm_token *tok, struct tpm_object *obj, CK_ULONG len)
{
	CK_ATTRIBUTE null_value = {CKA_VALUE, NULL, len};
	CK_ATTRIBUTE hidden = {TPM_CKA_SEALED_VALUE, NULL, 0};

	CU_ASSERT_TRUE(tpm_data_match_locked(tok, obj, NULL, 0));
	CU_ASSERT_FALSE(tpm_data_match_locked(tok, obj, &null_value, 1));
	CU_ASSERT_FALSE(tpm_data_match_locked(tok, obj, &hidden, 1));
}

/* A short sealed attribute or one of another version is an error, never a value. */
static void check_damage(struct tpm_token *tok, struct tpm_object *obj)
{
	const CK_ATTRIBUTE *sealed = tpm_attrs_find(&obj->attrs, TPM_CKA_SEALED_VALUE);
	CK_BYTE copy[200], buf[128];
	CK_ULONG n = sealed->ulValueLen;
	CK_ATTRIBUTE t = {CKA_VALUE, buf, sizeof(buf)};

	CU_ASSERT_FATAL(n <= sizeof(copy));
	memcpy(copy, sealed->pValue, n);
	copy[0] = TPM_DATA_VERSION + 1;
	CU_ASSERT_EQUAL(tpm_attrs_set(&obj->attrs, TPM_CKA_SEALED_VALUE, copy, n), CKR_OK);
	CU_ASSERT_EQUAL(tpm_data_get_value_locked(tok, obj, &t), CKR_DEVICE_ERROR);
	CU_ASSERT_EQUAL(t.ulValueLen, CK_UNAVAILABLE_INFORMATION);
	copy[0] = TPM_DATA_VERSION;
	t.ulValueLen = sizeof(buf);
	CU_ASSERT_EQUAL(
	    tpm_attrs_set(&obj->attrs, TPM_CKA_SEALED_VALUE, copy, TPM_DATA_OVERHEAD - 1), CKR_OK);
	CU_ASSERT_EQUAL(tpm_data_get_value_locked(tok, obj, &t), CKR_DEVICE_ERROR);
	t.ulValueLen = sizeof(buf);
	CU_ASSERT_EQUAL(tpm_attrs_set(&obj->attrs, TPM_CKA_SEALED_VALUE, NULL, 0), CKR_OK);
	CU_ASSERT_EQUAL(tpm_data_get_value_locked(tok, obj, &t), CKR_DEVICE_ERROR);
}

static void test_tpm_edges_sealed_value(void)
{
	struct tpm_token *tok = token_new();
	CK_BYTE value[100];
	struct tpm_object *obj;

	CU_ASSERT_FATAL(RAND_bytes(value, sizeof(value)) == 1);
	obj = sealed_new(tok, value, sizeof(value));
	check_buffer_lengths(tok, obj, value, sizeof(value));
	check_logins(tok, obj, value, sizeof(value));
	check_templates(tok, obj, sizeof(value));
	check_damage(tok, obj);
	tpm_object_free(tok, obj);
	free(tok);
}

/* Checks that sealing needs a user login and leaves other and session objects plain. */
static void test_tpm_edges_settle(void)
{
	struct tpm_token *tok = token_new();
	struct tpm_object *obj = tpm_object_new();
	const CK_USER_TYPE others[] = {TPM_NO_LOGIN, CKU_SO};

	CU_ASSERT_PTR_NOT_NULL_FATAL(obj);
	CU_ASSERT_EQUAL(tpm_attrs_set_ulong(&obj->attrs, CKA_CLASS, CKO_DATA), CKR_OK);
	CU_ASSERT_EQUAL(tpm_attrs_set_bool(&obj->attrs, CKA_PRIVATE, CK_TRUE), CKR_OK);
	CU_ASSERT_EQUAL(tpm_attrs_set(&obj->attrs, CKA_VALUE, "abc", 3), CKR_OK);
	/* A session object keeps its plaintext value. */
	CU_ASSERT_EQUAL(tpm_data_settle_locked(tok, obj, ""), CKR_OK);
	CU_ASSERT_FALSE(tpm_data_is_sealed(obj));
	CU_ASSERT_EQUAL(obj->file[0], '\0');
	CU_ASSERT_EQUAL(tpm_attrs_set_bool(&obj->attrs, CKA_TOKEN, CK_TRUE), CKR_OK);
	for (size_t i = 0; i < 2; i++) {
		tok->login = others[i];
		CU_ASSERT_EQUAL(tpm_data_settle_locked(tok, obj, ""), CKR_USER_NOT_LOGGED_IN);
		CU_ASSERT_FALSE(tpm_data_is_sealed(obj));
	}
	tok->login = CKU_USER;
	CU_ASSERT_EQUAL(tpm_data_settle_locked(tok, obj, ""), CKR_OK);
	CU_ASSERT_TRUE(tpm_data_is_sealed(obj));
	tpm_object_free(tok, obj);

	/* A private token certificate is never sealed. */
	obj = tpm_object_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(obj);
	CU_ASSERT_EQUAL(tpm_attrs_set_ulong(&obj->attrs, CKA_CLASS, CKO_CERTIFICATE), CKR_OK);
	CU_ASSERT_EQUAL(tpm_attrs_set_bool(&obj->attrs, CKA_TOKEN, CK_TRUE), CKR_OK);
	CU_ASSERT_EQUAL(tpm_attrs_set_bool(&obj->attrs, CKA_PRIVATE, CK_TRUE), CKR_OK);
	CU_ASSERT_EQUAL(tpm_attrs_set(&obj->attrs, CKA_VALUE, "der", 3), CKR_OK);
	CU_ASSERT_EQUAL(tpm_data_settle_locked(tok, obj, ""), CKR_OK);
	CU_ASSERT_FALSE(tpm_data_is_sealed(obj));
	CU_ASSERT_PTR_NOT_NULL(tpm_attrs_find(&obj->attrs, CKA_VALUE));
	tpm_object_free(tok, obj);
	free(tok);
}

int main(void)
{
	CU_pSuite suite;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("tpm_edges", NULL, NULL);
	CU_add_test(suite, "test_tpm_edges_pad_known_answer", test_tpm_edges_pad_known_answer);
	CU_add_test(suite, "test_tpm_edges_empty_value", test_tpm_edges_empty_value);
	CU_add_test(suite, "test_tpm_edges_sealed_value", test_tpm_edges_sealed_value);
	CU_add_test(suite, "test_tpm_edges_settle", test_tpm_edges_settle);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures ? 1 : 0;
}
