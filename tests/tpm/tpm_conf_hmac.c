/*
 * Generic secret keys in the TPM through libhsmux.so: HMAC-SHA256 test
 * vectors from RFC 4231 with a key made by C_CreateObject; a generated key,
 * whose value never leaves the TPM, checked through a copy of it;
 * C_CopyObject's rules; and C_Verify against RFC 4231 and OpenSSL's HMAC.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tpm_conf_hmac.h"
#include "tpm_p11.h"
#include "tpm_test_util.h"

static const CK_SLOT_ID *hmac_slot;
static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
static CK_KEY_TYPE generic = CKK_GENERIC_SECRET;

/* RFC 4231, test case 2. */
static const char tc2_data[] = "what do ya want for nothing?";
static const CK_BYTE tc2_mac[32] = {
    0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
    0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};

static CK_RV create_key(CK_SESSION_HANDLE s, const void *value, CK_ULONG len, CK_BBOOL token,
                        CK_OBJECT_HANDLE *h)
{
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &secret, sizeof(secret)},
	    {CKA_KEY_TYPE, &generic, sizeof(generic)},
	    {CKA_TOKEN, &token, sizeof(token)},
	    {CKA_SIGN, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)},
	    {CKA_EXTRACTABLE, &no, sizeof(no)},
	    {CKA_LABEL, "hmac", 4},
	    {CKA_VALUE, (void *)value, len},
	};

	return p11->C_CreateObject(s, t, sizeof(t) / sizeof(t[0]), h);
}

static CK_RV hmac(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const char *data, CK_BYTE out[32])
{
	CK_MECHANISM mech = {CKM_SHA256_HMAC, NULL, 0};
	CK_ULONG len = 32;
	CK_RV rv = p11->C_SignInit(s, &mech, key);

	if (rv == CKR_OK)
		rv = p11->C_Sign(s, (CK_BYTE_PTR)data, strlen(data), out, &len);
	return rv == CKR_OK && len != 32 ? CKR_GENERAL_ERROR : rv;
}

static void test_tpm_conformance_hmac_known_answers(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(*hmac_slot);
	CK_MECHANISM mech = {CKM_SHA256_HMAC, NULL, 0};
	CK_BYTE key6[131], mac[32], value[64];
	CK_ATTRIBUTE read_value = {CKA_VALUE, value, sizeof(value)};
	CK_OBJECT_HANDLE k2, k6;
	CK_ULONG len = 0;

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	memset(key6, 0xaa, sizeof(key6));
	CU_ASSERT_EQUAL_FATAL(create_key(s, "Jefe", 4, CK_FALSE, &k2), CKR_OK);
	CU_ASSERT_EQUAL(hmac(s, k2, tc2_data, mac), CKR_OK);
	CU_ASSERT_EQUAL(memcmp(mac, tc2_mac, 32), 0);
	/* libtpms takes HMAC keys up to the hash's block size, 64 bytes for SHA-256. */
	CU_ASSERT_EQUAL(create_key(s, key6, sizeof(key6), CK_FALSE, &k6),
	                CKR_ATTRIBUTE_VALUE_INVALID);
	CU_ASSERT_EQUAL(create_key(s, key6, 65, CK_FALSE, &k6), CKR_ATTRIBUTE_VALUE_INVALID);
	CU_ASSERT_EQUAL(create_key(s, key6, 64, CK_FALSE, &k6), CKR_OK);
	/* Multi-part: the same MAC as in one part. */
	CU_ASSERT_EQUAL(p11->C_SignInit(s, &mech, k2), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_SignUpdate(s, (CK_BYTE_PTR)tc2_data, 10), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_SignUpdate(s, (CK_BYTE_PTR)tc2_data + 10, strlen(tc2_data) - 10),
	                CKR_OK);
	len = sizeof(mac);
	CU_ASSERT_EQUAL(p11->C_SignFinal(s, mac, &len), CKR_OK);
	CU_ASSERT_EQUAL(len, 32);
	CU_ASSERT_EQUAL(memcmp(mac, tc2_mac, 32), 0);
	CU_ASSERT_NOT_EQUAL(p11->C_GetAttributeValue(s, k2, &read_value, 1), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

static void test_tpm_conformance_hmac_generate_and_copy(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(*hmac_slot);
	CK_MECHANISM gen = {CKM_GENERIC_SECRET_KEY_GEN, NULL, 0};
	CK_ULONG len32 = 32, len16 = 16, got = 0;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &secret, sizeof(secret)},   {CKA_KEY_TYPE, &generic, sizeof(generic)},
	    {CKA_TOKEN, &no, sizeof(no)},           {CKA_SIGN, &yes, sizeof(yes)},
	    {CKA_VALUE_LEN, &len32, sizeof(len32)},
	};
	CK_ATTRIBUTE locked[] = {{CKA_DESTROYABLE, &no, 1}};
	CK_ATTRIBUTE regain[] = {{CKA_DESTROYABLE, &yes, 1}};
	CK_ATTRIBUTE get_len = {CKA_VALUE_LEN, &got, sizeof(got)};
	CK_BYTE a[32], b[32];
	CK_OBJECT_HANDLE k, copy, copy2, bad;

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(p11->C_GenerateKey(s, &gen, t, 5, &k), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, k, &get_len, 1), CKR_OK);
	CU_ASSERT_EQUAL(got, 32);
	t[4].pValue = &len16;
	CU_ASSERT_EQUAL(p11->C_GenerateKey(s, &gen, t, 5, &bad), CKR_KEY_SIZE_RANGE);

	/* A copy is the same key: the same MAC, from an object that cannot be destroyed. */
	CU_ASSERT_EQUAL_FATAL(p11->C_CopyObject(s, k, locked, 1, &copy), CKR_OK);
	CU_ASSERT_EQUAL(hmac(s, k, tc2_data, a), CKR_OK);
	CU_ASSERT_EQUAL(hmac(s, copy, tc2_data, b), CKR_OK);
	CU_ASSERT_EQUAL(memcmp(a, b, 32), 0);
	CU_ASSERT_EQUAL(p11->C_DestroyObject(s, copy), CKR_ACTION_PROHIBITED);
	CU_ASSERT_EQUAL(p11->C_CopyObject(s, copy, regain, 1, &copy2), CKR_ATTRIBUTE_READ_ONLY);
	CU_ASSERT_EQUAL(p11->C_DestroyObject(s, k), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

static CK_RV create_mac_key(CK_SESSION_HANDLE s, const void *value, CK_ULONG len, CK_BBOOL verify,
                            CK_OBJECT_HANDLE *h)
{
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &secret, sizeof(secret)},  {CKA_KEY_TYPE, &generic, sizeof(generic)},
	    {CKA_TOKEN, &no, sizeof(no)},          {CKA_SIGN, &yes, sizeof(yes)},
	    {CKA_VERIFY, &verify, sizeof(verify)}, {CKA_VALUE, (void *)value, len},
	};

	return p11->C_CreateObject(s, t, sizeof(t) / sizeof(t[0]), h);
}

static CK_RV verify(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const void *data, CK_ULONG len,
                    const CK_BYTE *mac, CK_ULONG mac_len)
{
	CK_MECHANISM mech = {CKM_SHA256_HMAC, NULL, 0};
	CK_RV rv = p11->C_VerifyInit(s, &mech, key);

	if (rv == CKR_OK)
		rv = p11->C_Verify(s, (CK_BYTE_PTR)data, len, (CK_BYTE_PTR)mac, mac_len);
	return rv;
}

/* C_Verify with RFC 4231's MAC: the right one passes, a changed byte or length fails. */
static void verify_rfc4231(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE k)
{
	CK_ULONG len = strlen(tc2_data);
	CK_BYTE mac[33];

	memcpy(mac, tc2_mac, 32);
	mac[32] = 0;
	CU_ASSERT_EQUAL(verify(s, k, tc2_data, len, mac, 32), CKR_OK);
	CU_ASSERT_EQUAL(verify(s, k, tc2_data, len - 1, mac, 32), CKR_SIGNATURE_INVALID);
	CU_ASSERT_EQUAL(verify(s, k, tc2_data, len, mac, 31), CKR_SIGNATURE_LEN_RANGE);
	CU_ASSERT_EQUAL(verify(s, k, tc2_data, len, mac, 33), CKR_SIGNATURE_LEN_RANGE);
	CU_ASSERT_EQUAL(verify(s, k, tc2_data, len, mac, 0), CKR_SIGNATURE_LEN_RANGE);
	for (size_t i = 0; i < 32; i += 31) {
		mac[i] ^= 0x01;
		CU_ASSERT_EQUAL(verify(s, k, tc2_data, len, mac, 32), CKR_SIGNATURE_INVALID);
		mac[i] ^= 0x01;
	}
	/* Each result ended the operation. */
	CU_ASSERT_EQUAL(p11->C_Verify(s, (CK_BYTE_PTR)tc2_data, len, mac, 32),
	                CKR_OPERATION_NOT_INITIALIZED);
}

/* Multi-part C_VerifyUpdate over 3000 bytes (several TPM buffers) against OpenSSL's HMAC. */
static void verify_openssl(CK_SESSION_HANDLE s)
{
	CK_MECHANISM mech = {CKM_SHA256_HMAC, NULL, 0};
	CK_BYTE key[64], data[3000], mac[EVP_MAX_MD_SIZE], sig[32];
	unsigned int mac_len = 0;
	CK_ULONG sig_len = sizeof(sig);
	CK_OBJECT_HANDLE k;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (CK_BYTE)(i * 13 + 7);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (CK_BYTE)(i * 3 + 1);
	CU_ASSERT_FATAL(HMAC(EVP_sha256(), key, sizeof(key), data, sizeof(data), mac, &mac_len) !=
	                NULL);
	CU_ASSERT_EQUAL_FATAL(mac_len, 32);
	CU_ASSERT_EQUAL_FATAL(create_mac_key(s, key, sizeof(key), CK_TRUE, &k), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_VerifyInit(s, &mech, k), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_VerifyUpdate(s, data, 1), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_VerifyUpdate(s, data + 1, 1999), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_VerifyUpdate(s, data + 2000, 1000), CKR_OK);
	/* C_SignFinal does not end a verification. */
	CU_ASSERT_EQUAL(p11->C_SignFinal(s, sig, &sig_len), CKR_OPERATION_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(p11->C_VerifyFinal(s, mac, 32), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_VerifyInit(s, &mech, k), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_VerifyUpdate(s, data, sizeof(data)), CKR_OK);
	mac[17] ^= 0x80;
	CU_ASSERT_EQUAL(p11->C_VerifyFinal(s, mac, 32), CKR_SIGNATURE_INVALID);
	CU_ASSERT_EQUAL(p11->C_VerifyFinal(s, mac, 32), CKR_OPERATION_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(p11->C_VerifyInit(s, &mech, k), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_VerifyFinal(s, mac, 16), CKR_SIGNATURE_LEN_RANGE);
	CU_ASSERT_EQUAL(p11->C_DestroyObject(s, k), CKR_OK);
}

static void test_tpm_conformance_hmac_verify(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(*hmac_slot);
	CK_MECHANISM mech = {CKM_SHA256_HMAC, NULL, 0};
	CK_MECHANISM_INFO info;
	CK_BBOOL flag = CK_FALSE;
	CK_ATTRIBUTE get_verify = {CKA_VERIFY, &flag, sizeof(flag)};
	CK_OBJECT_HANDLE k, signer, default_key;

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL(p11->C_GetMechanismInfo(*hmac_slot, CKM_SHA256_HMAC, &info), CKR_OK);
	CU_ASSERT_EQUAL(info.flags & (CKF_SIGN | CKF_VERIFY), CKF_SIGN | CKF_VERIFY);
	CU_ASSERT_EQUAL_FATAL(create_mac_key(s, "Jefe", 4, CK_TRUE, &k), CKR_OK);
	verify_rfc4231(s, k);
	verify_openssl(s);

	/* A key without CKA_VERIFY signs but does not verify. */
	CU_ASSERT_EQUAL_FATAL(create_mac_key(s, "Jefe", 4, CK_FALSE, &signer), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_VerifyInit(s, &mech, signer), CKR_KEY_FUNCTION_NOT_PERMITTED);
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, signer, &get_verify, 1), CKR_OK);
	CU_ASSERT_EQUAL(flag, CK_FALSE);
	/* A key whose template omits CKA_VERIFY verifies, as it signs. */
	CU_ASSERT_EQUAL_FATAL(create_key(s, "Jefe", 4, CK_FALSE, &default_key), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, default_key, &get_verify, 1), CKR_OK);
	CU_ASSERT_EQUAL(flag, CK_TRUE);
	CU_ASSERT_EQUAL(verify(s, default_key, tc2_data, strlen(tc2_data), tc2_mac, 32), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

bool tpm_conf_hmac_covers(CK_MECHANISM_TYPE type)
{
	return type == CKM_SHA256_HMAC || type == CKM_GENERIC_SECRET_KEY_GEN;
}

void tpm_conf_hmac_add_tests(CU_pSuite suite, const CK_SLOT_ID *slot)
{
	hmac_slot = slot;
	CU_add_test(suite, "test_tpm_conformance_hmac_known_answers",
	            test_tpm_conformance_hmac_known_answers);
	CU_add_test(suite, "test_tpm_conformance_hmac_generate_and_copy",
	            test_tpm_conformance_hmac_generate_and_copy);
	CU_add_test(suite, "test_tpm_conformance_hmac_verify", test_tpm_conformance_hmac_verify);
}
