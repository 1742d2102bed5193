/*
 * CKM_RSA_PKCS raw signing attacked through libhsmux.so. The key may sign
 * but neither decrypt nor unwrap, though its TPM object has the decrypt
 * attribute for the raw operation: no call may turn that into a decryption.
 * Edge data (empty, leading zero bytes, all zero, k - 11 bytes, a broken
 * DigestInfo) signs as RFC 8017 specifies, OpenSSL recovering exactly the data;
 * RSA-3072 where the TPM has it. Other key sizes (1024, 2047, 2056, 4096
 * bits) are refused. Two threads sign and read a private data object at
 * once on separate sessions, while the main thread forks children that try
 * to read the value through the parent's session.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "tpm_attack.h"
#include "tpm_p11.h"
#include "tpm_test_util.h"

#define K_MAX 384

static const CK_SLOT_ID *the_slot;

/* Generates a session key pair of bits that may sign (and verify), and nothing else. */
static void make_sign_only(CK_SESSION_HANDLE s, CK_ULONG bits, CK_OBJECT_HANDLE *pub,
                           CK_OBJECT_HANDLE *priv)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_ATTRIBUTE pub_tmpl[] = {
	    {CKA_VERIFY, &yes, sizeof(yes)},
	    {CKA_ENCRYPT, &yes, sizeof(yes)},
	    {CKA_MODULUS_BITS, &bits, sizeof(bits)},
	};
	CK_ATTRIBUTE priv_tmpl[] = {
	    {CKA_SIGN, &yes, sizeof(yes)},
	    {CKA_DECRYPT, &no, sizeof(no)},
	    {CKA_UNWRAP, &no, sizeof(no)},
	};

	CU_ASSERT_EQUAL_FATAL(
	    p11->C_GenerateKeyPair(s, &mech, pub_tmpl, 3, priv_tmpl, 3, pub, priv), CKR_OK);
}

static EVP_PKEY *public_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub)
{
	CK_BYTE modulus[K_MAX];
	CK_ATTRIBUTE a = {CKA_MODULUS, modulus, sizeof(modulus)};

	if (p11->C_GetAttributeValue(s, pub, &a, 1) != CKR_OK)
		return NULL;
	return tpm_test_rsa_key(modulus, a.ulValueLen);
}

static CK_RV sign(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, const CK_BYTE *in, CK_ULONG len,
                  CK_BYTE *sig, CK_ULONG *sig_len)
{
	CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
	CK_RV rv = p11->C_SignInit(s, &mech, priv);

	return rv == CKR_OK ? p11->C_Sign(s, (CK_BYTE *)in, len, sig, sig_len) : rv;
}

static CK_RV verify(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, const CK_BYTE *in, CK_ULONG len,
                    const CK_BYTE *sig, CK_ULONG sig_len)
{
	CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
	CK_RV rv = p11->C_VerifyInit(s, &mech, pub);

	return rv == CKR_OK ? p11->C_Verify(s, (CK_BYTE *)in, len, (CK_BYTE *)sig, sig_len) : rv;
}

/* Signs in, and checks the signature with OpenSSL and with C_Verify. */
static void signs(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv, EVP_PKEY *key,
                  const CK_BYTE *in, CK_ULONG len, CK_ULONG k)
{
	CK_BYTE sig[K_MAX];
	CK_ULONG sig_len = sizeof(sig);

	CU_ASSERT_EQUAL_FATAL(sign(s, priv, in, len, sig, &sig_len), CKR_OK);
	CU_ASSERT_EQUAL(sig_len, k);
	CU_ASSERT(tpm_test_rsa_recovers(key, sig, sig_len, in, len));
	CU_ASSERT_EQUAL(verify(s, pub, in, len, sig, sig_len), CKR_OK);
	sig[sig_len / 2] ^= 1;
	CU_ASSERT_EQUAL(verify(s, pub, in, len, sig, sig_len), CKR_SIGNATURE_INVALID);
}

/* Checks data that the raw path must sign exactly as given. */
static void check_edge_data(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv,
                            EVP_PKEY *key, CK_ULONG k)
{
	/* The SHA-256 DigestInfo prefix, one digest byte short. */
	static const CK_BYTE sha256_prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
	                                        0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
	                                        0x01, 0x05, 0x00, 0x04, 0x20};
	CK_BYTE in[K_MAX] = {0}, sig[K_MAX];
	CK_ULONG sig_len = sizeof(sig);

	signs(s, pub, priv, key, in, 0, k);
	CU_ASSERT_EQUAL(sign(s, priv, NULL, 0, sig, &sig_len), CKR_OK);
	CU_ASSERT(tpm_test_rsa_recovers(key, sig, sig_len, in, 0));
	signs(s, pub, priv, key, in, k - 11, k);
	in[3] = 1;
	signs(s, pub, priv, key, in, 36, k);
	memcpy(in, sha256_prefix, sizeof(sha256_prefix));
	CU_ASSERT_FATAL(RAND_bytes(in + sizeof(sha256_prefix), 31) == 1);
	signs(s, pub, priv, key, in, sizeof(sha256_prefix) + 31, k);
	memset(in, 0xff, k);
	signs(s, pub, priv, key, in, k - 11, k);
	sig_len = sizeof(sig);
	CU_ASSERT_EQUAL(sign(s, priv, in, k - 10, sig, &sig_len), CKR_DATA_LEN_RANGE);
}

/* Checks that no call reaches the key's decrypt attribute in the TPM. */
static void check_no_decryption(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv)
{
	CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM mechs[] = {
	    {CKM_RSA_PKCS, NULL, 0},
	    {CKM_RSA_X_509, NULL, 0},
	    {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)},
	};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &type, sizeof(type)}};
	CK_BYTE wrapped[256] = {1};
	CK_OBJECT_HANDLE h;

	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		CU_ASSERT_NOT_EQUAL(p11->C_DecryptInit(s, &mechs[i], priv), CKR_OK);
		CU_ASSERT_NOT_EQUAL(p11->C_SignRecoverInit(s, &mechs[i], priv), CKR_OK);
		CU_ASSERT_NOT_EQUAL(
		    p11->C_UnwrapKey(s, &mechs[i], priv, wrapped, sizeof(wrapped), tmpl, 2, &h),
		    CKR_OK);
	}
	CU_ASSERT_EQUAL(p11->C_DecryptInit(s, &mechs[0], priv), CKR_KEY_FUNCTION_NOT_PERMITTED);
}

static void check_key(CK_SESSION_HANDLE s, CK_ULONG bits)
{
	CK_OBJECT_HANDLE pub, priv;
	EVP_PKEY *key;

	make_sign_only(s, bits, &pub, &priv);
	key = public_key(s, pub);
	CU_ASSERT_PTR_NOT_NULL_FATAL(key);
	check_edge_data(s, pub, priv, key, bits / 8);
	check_no_decryption(s, priv);
	EVP_PKEY_free(key);
}

/* Checks that key sizes other than 2048 and 3072 bits are refused before any signature. */
static void check_other_sizes(CK_SESSION_HANDLE s)
{
	const CK_ULONG sizes[] = {1024, 2047, 2056, 4096};
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_KEY_TYPE type = CKK_RSA;
	CK_BBOOL yes = CK_TRUE;
	CK_BYTE modulus[128], exponent[] = {1, 0, 1};
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_VERIFY, &yes, sizeof(yes)},
	    {CKA_MODULUS, modulus, sizeof(modulus)},
	    {CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent)},
	};
	CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
	CK_OBJECT_HANDLE pub, priv;
	CK_RV rv;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		CK_ULONG bits = sizes[i];
		CK_MECHANISM gen = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
		CK_ATTRIBUTE pub_tmpl[] = {{CKA_MODULUS_BITS, &bits, sizeof(bits)}};
		CK_ATTRIBUTE priv_tmpl[] = {{CKA_SIGN, &yes, sizeof(yes)}};

		CU_ASSERT_EQUAL(
		    p11->C_GenerateKeyPair(s, &gen, pub_tmpl, 1, priv_tmpl, 1, &pub, &priv),
		    CKR_KEY_SIZE_RANGE);
	}
	/* An RSA-1024 public key object is refused, or verifies nothing. */
	CU_ASSERT_FATAL(RAND_bytes(modulus, sizeof(modulus)) == 1);
	modulus[0] |= 0x80;
	rv = p11->C_CreateObject(s, tmpl, 5, &pub);
	CU_ASSERT(rv != CKR_OK || p11->C_VerifyInit(s, &mech, pub) == CKR_KEY_SIZE_RANGE);
}

static void test_tpm_attack_rsa_edges(void)
{
	CK_MECHANISM_INFO info;
	CK_SESSION_HANDLE s = tpm_p11_login(*the_slot);

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	check_other_sizes(s);
	check_key(s, 2048);
	CU_ASSERT_EQUAL_FATAL(p11->C_GetMechanismInfo(*the_slot, CKM_RSA_PKCS_KEY_PAIR_GEN, &info),
	                      CKR_OK);
	if (info.ulMaxKeySize >= 3072)
		check_key(s, 3072);
	else
		fprintf(stderr, "the TPM has no RSA-3072: that size is not tested\n");
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

struct worker {
	CK_OBJECT_HANDLE pub, priv, data;
	EVP_PKEY *key;
	const CK_BYTE *value;
	unsigned int failures;
};

static void *sign_loop(void *arg)
{
	struct worker *w = arg;
	CK_SESSION_HANDLE s;
	CK_BYTE in[100], sig[K_MAX];

	if (p11->C_OpenSession(*the_slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK) {
		w->failures++;
		return NULL;
	}
	for (int i = 0; i < 20; i++) {
		CK_ULONG sig_len = sizeof(sig);

		RAND_bytes(in, sizeof(in));
		if (sign(s, w->priv, in, (CK_ULONG)(i * 5), sig, &sig_len) != CKR_OK ||
		    !tpm_test_rsa_recovers(w->key, sig, sig_len, in, (size_t)(i * 5)))
			w->failures++;
	}
	p11->C_CloseSession(s);
	return NULL;
}

static void *read_loop(void *arg)
{
	struct worker *w = arg;
	CK_SESSION_HANDLE s;
	CK_BYTE buf[64];

	if (p11->C_OpenSession(*the_slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK) {
		w->failures++;
		return NULL;
	}
	for (int i = 0; i < 60; i++) {
		CK_ATTRIBUTE a = {CKA_VALUE, buf, sizeof(buf)};

		if (p11->C_GetAttributeValue(s, w->data, &a, 1) != CKR_OK || a.ulValueLen != 32 ||
		    memcmp(buf, w->value, 32) != 0 || attack_find_value(s, w->value, 32) != 1)
			w->failures++;
	}
	p11->C_CloseSession(s);
	return NULL;
}

/* Returns 0 when a child forked amid the threads gets no value through the parent's session. */
static int fork_child(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const CK_BYTE *value)
{
	CK_BYTE buf[64] = {0};
	CK_ATTRIBUTE a = {CKA_VALUE, buf, sizeof(buf)};

	if (p11->C_GetAttributeValue(s, h, &a, 1) == CKR_OK || memcmp(buf, value, 8) == 0)
		return 1;
	if (attack_find_value(s, value, 32) != ~0UL)
		return 2;
	return 0;
}

static void test_tpm_attack_threads(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(*the_slot);
	CK_BYTE value[32];
	struct worker signer = {0}, reader = {0};
	pthread_t a, b;

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT_FATAL(RAND_bytes(value, sizeof(value)) == 1);
	make_sign_only(s, 2048, &signer.pub, &signer.priv);
	signer.key = public_key(s, signer.pub);
	CU_ASSERT_PTR_NOT_NULL_FATAL(signer.key);
	CU_ASSERT_EQUAL_FATAL(
	    attack_make_data(s, "threads", CK_TRUE, value, sizeof(value), &reader.data), CKR_OK);
	reader.value = value;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&a, NULL, sign_loop, &signer), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&b, NULL, read_loop, &reader), 0);
	for (int i = 0; i < 5; i++) {
		int status = 0;
		pid_t pid;

		usleep(5000);
		pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0)
			_exit(fork_child(s, reader.data, value));
		CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
		CU_ASSERT(WIFEXITED(status));
		CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
	}
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	CU_ASSERT_EQUAL(signer.failures, 0);
	CU_ASSERT_EQUAL(reader.failures, 0);
	EVP_PKEY_free(signer.key);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

void tpm_attack_rsa_add_tests(CU_pSuite suite, const CK_SLOT_ID *slot)
{
	the_slot = slot;
	CU_add_test(suite, "test_tpm_attack_rsa_edges", test_tpm_attack_rsa_edges);
	CU_add_test(suite, "test_tpm_attack_threads", test_tpm_attack_threads);
}
