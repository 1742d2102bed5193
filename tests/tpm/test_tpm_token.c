/*
 * Unit tests of the tpm backend through its ops table, on an in-process
 * libtpms TPM in a temp directory. They cover token set-up, PINs and the
 * TPM's dictionary-attack lockout, and key generation. OpenSSL verifies the
 * signatures and makes the OAEP ciphertext. Digests and persistence too,
 * and CKM_RSA_PKCS on a key made before RSA signing keys could sign raw.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "backends/backend.h"
#include "backends/tpm/tpm_keygen.h"
#include "backends/tpm/tpm_token.h"
#include "module/config.h"
#include "tpm_test_util.h"
#include "tpm_unit.h"

static struct tpm_unit_config cfg;

static const struct hsmux_backend_ops *ops = &hsmux_tpm_backend_ops;
static struct hsmux_backend be;
static CK_UTF8CHAR so_pin[] = "so-secret";
static CK_UTF8CHAR user_pin[] = "1234";
#define PIN_LEN(p) (sizeof(p) - 1)

static void stop(void)
{
	ops->destroy(&be);
}

static void test_tpm_token_create_without_tcti(void)
{
	struct hsmux_config_section bad = cfg.section;
	struct hsmux_backend b = {.ops = ops, .name = "tpm"};
	char err[512] = "";

	bad.n_entries = 1;
	CU_ASSERT_EQUAL(ops->create(&b, &bad, err, sizeof(err)), CKR_GENERAL_ERROR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "test.conf:1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "tcti = libtpms:"));
	CU_ASSERT_PTR_NULL(b.priv);
}

static void test_tpm_token_init_and_login(void)
{
	CK_UTF8CHAR label[32];
	CK_TOKEN_INFO info;
	CK_SESSION_HANDLE s;

	tpm_unit_start(&be, &cfg.section);
	CU_ASSERT_EQUAL(ops->get_token_info(&be, 0, &info), CKR_OK);
	CU_ASSERT_FALSE(info.flags & CKF_TOKEN_INITIALIZED);
	CU_ASSERT_EQUAL(ops->open_session(&be, 0, CKF_SERIAL_SESSION, &s),
	                CKR_TOKEN_NOT_RECOGNIZED);

	memset(label, ' ', sizeof(label));
	memcpy(label, "tpm-test", 8);
	CU_ASSERT_EQUAL(ops->init_token(&be, 0, so_pin, 3, label), CKR_PIN_LEN_RANGE);
	CU_ASSERT_EQUAL(ops->init_token(&be, 0, so_pin, PIN_LEN(so_pin), label), CKR_OK);
	CU_ASSERT_EQUAL(ops->get_token_info(&be, 0, &info), CKR_OK);
	CU_ASSERT(info.flags & CKF_TOKEN_INITIALIZED);
	CU_ASSERT_FALSE(info.flags & CKF_USER_PIN_INITIALIZED);
	CU_ASSERT_EQUAL(memcmp(info.label, label, 32), 0);

	s = tpm_unit_open_rw(&be);
	CU_ASSERT_EQUAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)),
	                CKR_USER_PIN_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(ops->login(&be, s, CKU_SO, user_pin, PIN_LEN(user_pin)), CKR_PIN_INCORRECT);
	/* A wrong SO PIN locks the TPM's lockout authorization for da_lockout_recovery. */
	CU_ASSERT_EQUAL(ops->login(&be, s, CKU_SO, so_pin, PIN_LEN(so_pin)), CKR_PIN_LOCKED);
	sleep(2);
	CU_ASSERT_EQUAL(ops->login(&be, s, CKU_SO, so_pin, PIN_LEN(so_pin)), CKR_OK);
	CU_ASSERT_EQUAL(ops->init_pin(&be, s, user_pin, PIN_LEN(user_pin)), CKR_OK);
	CU_ASSERT_EQUAL(ops->logout(&be, s), CKR_OK);
	CU_ASSERT_EQUAL(ops->login(&be, s, CKU_USER, so_pin, PIN_LEN(so_pin)), CKR_PIN_INCORRECT);
	CU_ASSERT_EQUAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)), CKR_OK);
	CU_ASSERT_EQUAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)),
	                CKR_USER_ALREADY_LOGGED_IN);
	CU_ASSERT_EQUAL(ops->get_token_info(&be, 0, &info), CKR_OK);
	CU_ASSERT(info.flags & CKF_USER_PIN_INITIALIZED);
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	stop();
}

static CK_RV generate(CK_SESSION_HANDLE s, bool rsa, CK_ULONG bits_or_384, const char *label,
                      CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	static const CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	static const CK_BYTE p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
	CK_BBOOL yes = CK_TRUE;
	CK_ULONG bits = bits_or_384;
	CK_MECHANISM mech = {rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_ATTRIBUTE pub_tmpl[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	    {CKA_VERIFY, &yes, sizeof(yes)},
	    rsa ? (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)}
	        : (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)(bits == 384 ? p384 : p256),
	                         bits == 384 ? sizeof(p384) : sizeof(p256)},
	};
	CK_ATTRIBUTE priv_tmpl[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	    {CKA_SIGN, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)},
	};

	return ops->generate_key_pair(&be, s, &mech, pub_tmpl, 4, priv_tmpl, 4, pub, priv);
}

static CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label)
{
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	};
	CK_OBJECT_HANDLE found[4];
	CK_ULONG n = 0;

	CU_ASSERT_EQUAL_FATAL(ops->find_objects_init(&be, s, tmpl, 2), CKR_OK);
	CU_ASSERT_EQUAL(ops->find_objects(&be, s, found, 4, &n), CKR_OK);
	CU_ASSERT_EQUAL(ops->find_objects_final(&be, s), CKR_OK);
	CU_ASSERT_EQUAL(n, 1);
	return n == 1 ? found[0] : CK_INVALID_HANDLE;
}

static CK_ULONG get_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type,
                         CK_BYTE *buf, CK_ULONG len)
{
	CK_ATTRIBUTE a = {type, buf, len};

	CU_ASSERT_EQUAL(ops->get_attribute_value(&be, s, h, &a, 1), CKR_OK);
	return a.ulValueLen;
}

/* Signs data with mech and the key, and verifies with OpenSSL against the public key. */
static void sign_and_verify(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv,
                            CK_MECHANISM *mech, const EVP_MD *md, bool pss, bool ec, bool p384,
                            bool prehash)
{
	static const CK_BYTE data[] = "the quick brown fox";
	CK_BYTE input[64], sig[512], attr[600];
	CK_ULONG sig_len = sizeof(sig), in_len = sizeof(data) - 1, attr_len;
	unsigned int md_len = 0;
	EVP_PKEY *key;
	const CK_BYTE *in = data;

	if (prehash) {
		EVP_Digest(data, sizeof(data) - 1, input, &md_len, md, NULL);
		in = input;
		in_len = md_len;
	}
	CU_ASSERT_EQUAL_FATAL(ops->sign_init(&be, s, mech, priv), CKR_OK);
	CU_ASSERT_EQUAL(ops->sign(&be, s, (CK_BYTE *)in, in_len, sig, &sig_len), CKR_OK);
	attr_len = get_attr(s, pub, ec ? CKA_EC_POINT : CKA_MODULUS, attr, sizeof(attr));
	key = ec ? tpm_test_ec_key(attr, attr_len, p384) : tpm_test_rsa_key(attr, attr_len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(key);
	CU_ASSERT(tpm_test_verify(key, md, pss, data, sizeof(data) - 1, sig, sig_len));
	/* A flipped bit must not verify, or the check above proves nothing. */
	sig[sig_len / 2] ^= 1;
	CU_ASSERT_FALSE(tpm_test_verify(key, md, pss, data, sizeof(data) - 1, sig, sig_len));
	EVP_PKEY_free(key);
}

static void test_tpm_token_rsa_sign(void)
{
	CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
	CK_RSA_PKCS_PSS_PARAMS bad_salt = {CKM_SHA256, CKG_MGF1_SHA256, 20};
	CK_MECHANISM m_pkcs = {CKM_SHA256_RSA_PKCS, NULL, 0};
	CK_MECHANISM m_pss = {CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof(pss)};
	CK_MECHANISM m_raw_pss = {CKM_RSA_PKCS_PSS, &pss, sizeof(pss)};
	CK_MECHANISM m_bad = {CKM_RSA_PKCS_PSS, &bad_salt, sizeof(bad_salt)};
	CK_OBJECT_HANDLE pub, priv;
	CK_SESSION_HANDLE s;

	tpm_unit_start(&be, &cfg.section);
	s = tpm_unit_open_rw(&be);
	CU_ASSERT_EQUAL(generate(s, true, 2048, "rsa", &pub, &priv), CKR_USER_NOT_LOGGED_IN);
	CU_ASSERT_EQUAL_FATAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)), CKR_OK);
	CU_ASSERT_EQUAL(generate(s, true, 1024, "rsa", &pub, &priv), CKR_KEY_SIZE_RANGE);
	CU_ASSERT_EQUAL_FATAL(generate(s, true, 2048, "rsa", &pub, &priv), CKR_OK);
	/* A search reads the store again; the handles of new keys must survive it. */
	CU_ASSERT_EQUAL(find_one(s, CKO_PRIVATE_KEY, "rsa"), priv);
	CU_ASSERT_EQUAL(find_one(s, CKO_PUBLIC_KEY, "rsa"), pub);
	sign_and_verify(s, pub, priv, &m_pkcs, EVP_sha256(), false, false, false, false);
	sign_and_verify(s, pub, priv, &m_pss, EVP_sha256(), true, false, false, false);
	sign_and_verify(s, pub, priv, &m_raw_pss, EVP_sha256(), true, false, false, true);
	CU_ASSERT_EQUAL(ops->sign_init(&be, s, &m_bad, priv), CKR_MECHANISM_PARAM_INVALID);
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	stop();
}

static void test_tpm_token_ecdsa_sign(void)
{
	CK_MECHANISM m_sha = {CKM_ECDSA_SHA256, NULL, 0};
	CK_MECHANISM m_raw = {CKM_ECDSA, NULL, 0};
	CK_MECHANISM m_384 = {CKM_ECDSA_SHA384, NULL, 0};
	CK_OBJECT_HANDLE pub, priv;
	CK_SESSION_HANDLE s;

	tpm_unit_start(&be, &cfg.section);
	s = tpm_unit_open_rw(&be);
	CU_ASSERT_EQUAL_FATAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(generate(s, false, 256, "ec256", &pub, &priv), CKR_OK);
	sign_and_verify(s, pub, priv, &m_sha, EVP_sha256(), false, true, false, false);
	sign_and_verify(s, pub, priv, &m_raw, EVP_sha256(), false, true, false, true);
	CU_ASSERT_EQUAL_FATAL(generate(s, false, 384, "ec384", &pub, &priv), CKR_OK);
	sign_and_verify(s, pub, priv, &m_384, EVP_sha384(), false, true, true, false);
	sign_and_verify(s, pub, priv, &m_raw, EVP_sha384(), false, true, true, true);
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	stop();
}

/*
 * Makes a session RSA-2048 key as tpm_keygen.c made sign-only keys before
 * they got the TPM's decrypt attribute, straight with TPM2_Create.
 */
static CK_OBJECT_HANDLE make_old_sign_key(CK_SESSION_HANDLE s)
{
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {{CKA_SIGN, &yes, sizeof(yes)}, {CKA_LABEL, "old", 3}};
	TPM2B_SENSITIVE_CREATE sens = {0};
	TPM2B_PUBLIC t = {0}, *pub = NULL;
	TPM2B_PRIVATE *priv = NULL;
	struct tpm_token *tok = be.priv;
	struct tpm_object *obj = tpm_object_new();
	CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
	CK_RV rv = CKR_HOST_MEMORY;

	t.publicArea.type = TPM2_ALG_RSA;
	t.publicArea.nameAlg = TPM2_ALG_SHA256;
	t.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	                                TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
	                                TPMA_OBJECT_NODA | TPMA_OBJECT_SIGN_ENCRYPT;
	t.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	t.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	t.publicArea.parameters.rsaDetail.keyBits = 2048;
	pthread_mutex_lock(&tok->lock);
	sens.sensitive.userAuth.size = TPM_SECRET_LEN;
	memcpy(sens.sensitive.userAuth.buffer, tok->secret, TPM_SECRET_LEN);
	if (obj && tpm_create_locked(tok, &sens, &t, &priv, &pub) == TSS2_RC_SUCCESS)
		rv = tpm_keygen_import_attrs(&obj->attrs, tmpl, 2, pub, priv);
	if (rv == CKR_OK) {
		obj->session = s;
		rv = tpm_object_register_locked(tok, obj);
	}
	if (rv == CKR_OK)
		h = obj->handle;
	else
		tpm_object_free(tok, obj);
	pthread_mutex_unlock(&tok->lock);
	Esys_Free(pub);
	Esys_Free(priv);
	CU_ASSERT_EQUAL(rv, CKR_OK);
	return h;
}

/*
 * CKM_RSA_PKCS of data that is no DigestInfo: a new key signs it, a key
 * without the TPM's decrypt attribute returns CKR_DATA_INVALID as before
 * and still signs a DigestInfo.
 */
static void test_tpm_token_raw_sign_old_key(void)
{
	static const CK_BYTE sha256_info[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
	                                      0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
	                                      0x01, 0x05, 0x00, 0x04, 0x20};
	static const CK_BYTE data[] = "the quick brown fox";
	CK_MECHANISM m = {CKM_RSA_PKCS, NULL, 0};
	CK_BYTE in[64], tls[36], sig[256], modulus[300];
	CK_ULONG sig_len = sizeof(sig), mod_len, in_len = sizeof(sha256_info);
	unsigned int md_len = 0;
	CK_OBJECT_HANDLE pub, priv, old;
	CK_SESSION_HANDLE s;
	EVP_PKEY *key;

	memcpy(in, sha256_info, in_len);
	EVP_Digest(data, sizeof(data) - 1, in + in_len, &md_len, EVP_sha256(), NULL);
	in_len += md_len;
	CU_ASSERT_FATAL(RAND_bytes(tls, sizeof(tls)) == 1);
	tpm_unit_start(&be, &cfg.section);
	s = tpm_unit_open_rw(&be);
	CU_ASSERT_EQUAL_FATAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(generate(s, true, 2048, "raw", &pub, &priv), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(ops->sign_init(&be, s, &m, priv), CKR_OK);
	CU_ASSERT_EQUAL(ops->sign(&be, s, tls, sizeof(tls), sig, &sig_len), CKR_OK);
	CU_ASSERT_EQUAL(sig_len, 256);

	old = make_old_sign_key(s);
	CU_ASSERT_FATAL(old != CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(ops->sign_init(&be, s, &m, old), CKR_OK);
	CU_ASSERT_EQUAL(ops->sign(&be, s, tls, sizeof(tls), sig, &sig_len), CKR_DATA_INVALID);
	CU_ASSERT_EQUAL_FATAL(ops->sign_init(&be, s, &m, old), CKR_OK);
	sig_len = sizeof(sig);
	CU_ASSERT_EQUAL(ops->sign(&be, s, in, in_len, sig, &sig_len), CKR_OK);
	mod_len = get_attr(s, old, CKA_MODULUS, modulus, sizeof(modulus));
	key = tpm_test_rsa_key(modulus, mod_len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(key);
	CU_ASSERT(tpm_test_verify(key, EVP_sha256(), false, data, sizeof(data) - 1, sig, sig_len));
	EVP_PKEY_free(key);
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	stop();
}

/* The keys of the earlier tests are found and used by a new backend instance. */
static void test_tpm_token_persistence(void)
{
	CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
	CK_OBJECT_HANDLE pub, priv;
	CK_SESSION_HANDLE s;

	tpm_unit_start(&be, &cfg.section);
	s = tpm_unit_open_rw(&be);
	/* Private keys stay hidden until the user logs in. */
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t = {CKA_CLASS, &cls, sizeof(cls)};
	CK_OBJECT_HANDLE found[8];
	CK_ULONG n = 99;

	CU_ASSERT_EQUAL(ops->find_objects_init(&be, s, &t, 1), CKR_OK);
	CU_ASSERT_EQUAL(ops->find_objects(&be, s, found, 8, &n), CKR_OK);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(ops->find_objects_final(&be, s), CKR_OK);

	CU_ASSERT_EQUAL_FATAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)), CKR_OK);
	pub = find_one(s, CKO_PUBLIC_KEY, "ec256");
	priv = find_one(s, CKO_PRIVATE_KEY, "ec256");
	sign_and_verify(s, pub, priv, &m, EVP_sha256(), false, true, false, false);
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	stop();
}

static void test_tpm_token_oaep_decrypt(void)
{
	CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_MECHANISM m = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
	CK_BYTE modulus[512], secret[32], ct[512], pt[512];
	size_t ct_len = sizeof(ct);
	CK_ULONG pt_len = sizeof(pt), mod_len;
	CK_SESSION_HANDLE s;
	CK_RV rv;
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *key;

	tpm_unit_start(&be, &cfg.section);
	s = tpm_unit_open_rw(&be);
	CU_ASSERT_EQUAL_FATAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)), CKR_OK);
	mod_len =
	    get_attr(s, find_one(s, CKO_PUBLIC_KEY, "rsa"), CKA_MODULUS, modulus, sizeof(modulus));
	key = tpm_test_rsa_key(modulus, mod_len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(key);

	RAND_bytes(secret, sizeof(secret));
	ctx = EVP_PKEY_CTX_new(key, NULL);
	CU_ASSERT_FATAL(ctx && EVP_PKEY_encrypt_init(ctx) == 1);
	EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING);
	EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256());
	EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256());
	CU_ASSERT_EQUAL_FATAL(EVP_PKEY_encrypt(ctx, ct, &ct_len, secret, sizeof(secret)), 1);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);

	CU_ASSERT_EQUAL_FATAL(ops->decrypt_init(&be, s, &m, find_one(s, CKO_PRIVATE_KEY, "rsa")),
	                      CKR_OK);
	CU_ASSERT_EQUAL(ops->decrypt(&be, s, ct, ct_len, pt, &pt_len), CKR_OK);
	CU_ASSERT_EQUAL(pt_len, sizeof(secret));
	CU_ASSERT_EQUAL(memcmp(pt, secret, sizeof(secret)), 0);

	ct[10] ^= 1;
	pt_len = sizeof(pt);
	CU_ASSERT_EQUAL(ops->decrypt_init(&be, s, &m, find_one(s, CKO_PRIVATE_KEY, "rsa")), CKR_OK);
	rv = ops->decrypt(&be, s, ct, ct_len, pt, &pt_len);
	if (rv != CKR_ENCRYPTED_DATA_INVALID)
		fprintf(stderr, "decrypt of a damaged ciphertext returned 0x%lx\n", rv);
	CU_ASSERT_EQUAL(rv, CKR_ENCRYPTED_DATA_INVALID);

	/* The TPM still works after a padding error. */
	ct[10] ^= 1;
	pt_len = sizeof(pt);
	CU_ASSERT_EQUAL(ops->decrypt_init(&be, s, &m, find_one(s, CKO_PRIVATE_KEY, "rsa")), CKR_OK);
	CU_ASSERT_EQUAL(ops->decrypt(&be, s, ct, ct_len, pt, &pt_len), CKR_OK);
	CU_ASSERT_EQUAL(memcmp(pt, secret, sizeof(secret)), 0);
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	stop();
}

static void test_tpm_token_digest(void)
{
	static const CK_BYTE abc[] = "abc";
	/* SHA-256("abc") from FIPS 180-2, appendix B.1. */
	static const CK_BYTE expected[] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
	                                   0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
	                                   0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
	                                   0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	CK_MECHANISM m = {CKM_SHA256, NULL, 0};
	CK_BYTE out[64], big[3000], ref[32];
	CK_ULONG len = sizeof(out);
	CK_SESSION_HANDLE s;

	tpm_unit_start(&be, &cfg.section);
	s = tpm_unit_open_rw(&be);
	CU_ASSERT_EQUAL_FATAL(ops->digest_init(&be, s, &m), CKR_OK);
	CU_ASSERT_EQUAL(ops->digest(&be, s, (CK_BYTE *)abc, 3, out, &len), CKR_OK);
	CU_ASSERT_EQUAL(len, 32);
	CU_ASSERT_EQUAL(memcmp(out, expected, 32), 0);

	/* More than one TPM2B_MAX_BUFFER, in two updates. */
	memset(big, 'x', sizeof(big));
	SHA256(big, sizeof(big), ref);
	len = sizeof(out);
	CU_ASSERT_EQUAL_FATAL(ops->digest_init(&be, s, &m), CKR_OK);
	CU_ASSERT_EQUAL(ops->digest_update(&be, s, big, 1000), CKR_OK);
	CU_ASSERT_EQUAL(ops->digest_update(&be, s, big + 1000, sizeof(big) - 1000), CKR_OK);
	CU_ASSERT_EQUAL(ops->digest_final(&be, s, out, &len), CKR_OK);
	CU_ASSERT_EQUAL(memcmp(out, ref, 32), 0);

	CU_ASSERT_EQUAL(ops->generate_random(&be, s, big, 100), CKR_OK);
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	stop();
}

/*
 * The SO PIN changes in the TPM's lockout authorization and in the sealed
 * SO object. A crash between the two leaves the new sealed object pending
 * beside the old one; the next SO login must finish the change.
 */
static void test_tpm_token_so_pin_change(void)
{
	CK_UTF8CHAR new_pin[] = "new-so-pin";
	struct tpm_token *tok;
	TPM2B_PRIVATE old_blob;
	CK_SESSION_HANDLE s;

	tpm_unit_start(&be, &cfg.section);
	tok = be.priv;
	old_blob = tok->so_private;
	s = tpm_unit_open_rw(&be);
	CU_ASSERT_EQUAL_FATAL(ops->login(&be, s, CKU_SO, so_pin, PIN_LEN(so_pin)), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(
	    ops->set_pin(&be, s, so_pin, PIN_LEN(so_pin), new_pin, PIN_LEN(new_pin)), CKR_OK);
	CU_ASSERT_EQUAL(tok->so_private_next.size, 0);
	CU_ASSERT_EQUAL(ops->logout(&be, s), CKR_OK);
	CU_ASSERT_EQUAL(ops->login(&be, s, CKU_SO, so_pin, PIN_LEN(so_pin)), CKR_PIN_INCORRECT);
	sleep(2); /* da_lockout_recovery = 1 */

	/* Put the token back into the state that a crash mid-change leaves. */
	tok->so_private_next = tok->so_private;
	tok->so_private = old_blob;
	CU_ASSERT_EQUAL_FATAL(tpm_store_save_token_locked(tok), CKR_OK);
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	stop();

	tpm_unit_start(&be, &cfg.section);
	tok = be.priv;
	CU_ASSERT_NOT_EQUAL(tok->so_private_next.size, 0);
	s = tpm_unit_open_rw(&be);
	CU_ASSERT_EQUAL(ops->login(&be, s, CKU_SO, new_pin, PIN_LEN(new_pin)), CKR_OK);
	CU_ASSERT_EQUAL(tok->so_private_next.size, 0);

	/* Back to the first SO PIN for the tests that follow. */
	CU_ASSERT_EQUAL(ops->set_pin(&be, s, new_pin, PIN_LEN(new_pin), so_pin, PIN_LEN(so_pin)),
	                CKR_OK);
	CU_ASSERT_EQUAL(ops->logout(&be, s), CKR_OK);
	CU_ASSERT_EQUAL(ops->login(&be, s, CKU_SO, so_pin, PIN_LEN(so_pin)), CKR_OK);
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	stop();
}

/* da_max_tries = 3: the TPM locks out after three wrong user PINs until the SO logs in. */
static void test_tpm_token_lockout(void)
{
	CK_UTF8CHAR wrong[] = "9999";
	CK_TOKEN_INFO info;
	CK_SESSION_HANDLE s;

	tpm_unit_start(&be, &cfg.section);
	s = tpm_unit_open_rw(&be);
	/* An SO login clears the failures that earlier tests left in the TPM. */
	CU_ASSERT_EQUAL(ops->login(&be, s, CKU_SO, so_pin, PIN_LEN(so_pin)), CKR_OK);
	CU_ASSERT_EQUAL(ops->logout(&be, s), CKR_OK);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(ops->login(&be, s, CKU_USER, wrong, 4), CKR_PIN_INCORRECT);
	CU_ASSERT_EQUAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)), CKR_PIN_LOCKED);
	CU_ASSERT_EQUAL(ops->get_token_info(&be, 0, &info), CKR_OK);
	CU_ASSERT(info.flags & CKF_USER_PIN_LOCKED);

	CU_ASSERT_EQUAL(ops->login(&be, s, CKU_SO, so_pin, PIN_LEN(so_pin)), CKR_OK);
	CU_ASSERT_EQUAL(ops->logout(&be, s), CKR_OK);
	CU_ASSERT_EQUAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)), CKR_OK);
	CU_ASSERT_EQUAL(ops->get_token_info(&be, 0, &info), CKR_OK);
	CU_ASSERT_FALSE(info.flags & CKF_USER_PIN_LOCKED);
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	stop();
}

int main(void)
{
	CU_pSuite suite;
	unsigned int failures;

	if (!tpm_unit_config_init(&cfg, "hsmux-tpm-token", 3))
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("tpm_token", NULL, NULL);
	CU_add_test(suite, "test_tpm_token_create_without_tcti",
	            test_tpm_token_create_without_tcti);
	CU_add_test(suite, "test_tpm_token_init_and_login", test_tpm_token_init_and_login);
	CU_add_test(suite, "test_tpm_token_rsa_sign", test_tpm_token_rsa_sign);
	CU_add_test(suite, "test_tpm_token_ecdsa_sign", test_tpm_token_ecdsa_sign);
	CU_add_test(suite, "test_tpm_token_raw_sign_old_key", test_tpm_token_raw_sign_old_key);
	CU_add_test(suite, "test_tpm_token_persistence", test_tpm_token_persistence);
	CU_add_test(suite, "test_tpm_token_oaep_decrypt", test_tpm_token_oaep_decrypt);
	CU_add_test(suite, "test_tpm_token_digest", test_tpm_token_digest);
	CU_add_test(suite, "test_tpm_token_so_pin_change", test_tpm_token_so_pin_change);
	CU_add_test(suite, "test_tpm_token_lockout", test_tpm_token_lockout);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	tpm_test_remove_tree(cfg.dir);
	return failures ? 1 : 0;
}
