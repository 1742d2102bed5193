/*
 * The benchmark's keys: session objects generated once per module, marked
 * sensitive and non-extractable so that a key policy in front of the token
 * accepts the templates unchanged.
 */
#include <stdio.h>

#include "bench.h"

#define N_ATTRS(a) (sizeof(a) / sizeof((a)[0]))

/* DER encoding of the prime256v1 OID (1.2.840.10045.3.1.7). */
static const CK_BYTE p256_params[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const CK_BYTE rsa_exponent[] = {0x01, 0x00, 0x01};

static CK_BBOOL yes = CK_TRUE;
static CK_BBOOL no = CK_FALSE;

static CK_RV make_ec_p256(const struct bench_module *mod, CK_SESSION_HANDLE session,
                          CK_OBJECT_HANDLE *private_key)
{
	CK_MECHANISM mechanism = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_ATTRIBUTE public_template[] = {
	    {CKA_TOKEN, &no, sizeof(no)},
	    {CKA_VERIFY, &yes, sizeof(yes)},
	    {CKA_EC_PARAMS, (void *)p256_params, sizeof(p256_params)},
	};
	CK_ATTRIBUTE private_template[] = {
	    {CKA_TOKEN, &no, sizeof(no)},       {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)}, {CKA_EXTRACTABLE, &no, sizeof(no)},
	    {CKA_SIGN, &yes, sizeof(yes)},
	};
	CK_OBJECT_HANDLE public_key;

	return mod->functions->C_GenerateKeyPair(
	    session, &mechanism, public_template, N_ATTRS(public_template), private_template,
	    N_ATTRS(private_template), &public_key, private_key);
}

static CK_RV make_rsa_2048(const struct bench_module *mod, CK_SESSION_HANDLE session,
                           CK_OBJECT_HANDLE *private_key)
{
	CK_MECHANISM mechanism = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_ULONG bits = 2048;
	CK_ATTRIBUTE public_template[] = {
	    {CKA_TOKEN, &no, sizeof(no)},
	    {CKA_VERIFY, &yes, sizeof(yes)},
	    {CKA_MODULUS_BITS, &bits, sizeof(bits)},
	    {CKA_PUBLIC_EXPONENT, (void *)rsa_exponent, sizeof(rsa_exponent)},
	};
	CK_ATTRIBUTE private_template[] = {
	    {CKA_TOKEN, &no, sizeof(no)},       {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)}, {CKA_EXTRACTABLE, &no, sizeof(no)},
	    {CKA_SIGN, &yes, sizeof(yes)},
	};
	CK_OBJECT_HANDLE public_key;

	return mod->functions->C_GenerateKeyPair(
	    session, &mechanism, public_template, N_ATTRS(public_template), private_template,
	    N_ATTRS(private_template), &public_key, private_key);
}

static CK_RV make_aes_256(const struct bench_module *mod, CK_SESSION_HANDLE session,
                          CK_OBJECT_HANDLE *key)
{
	CK_MECHANISM mechanism = {CKM_AES_KEY_GEN, NULL, 0};
	CK_ULONG len = 32;
	CK_ATTRIBUTE template[] = {
	    {CKA_TOKEN, &no, sizeof(no)},       {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)}, {CKA_EXTRACTABLE, &no, sizeof(no)},
	    {CKA_ENCRYPT, &yes, sizeof(yes)},   {CKA_VALUE_LEN, &len, sizeof(len)},
	};

	return mod->functions->C_GenerateKey(session, &mechanism, template, N_ATTRS(template), key);
}

bool bench_module_make_keys(struct bench_module *mod, unsigned int keys)
{
	CK_SESSION_HANDLE session = mod->sessions[0];
	CK_RV rv;

	if (keys & BENCH_KEY_EC_P256) {
		rv = make_ec_p256(mod, session, &mod->keys.ec_private);
		if (rv != CKR_OK) {
			bench_report_rv(mod, "C_GenerateKeyPair (EC P-256)", rv);
			return false;
		}
	}
	if (keys & BENCH_KEY_RSA_2048) {
		rv = make_rsa_2048(mod, session, &mod->keys.rsa_private);
		if (rv != CKR_OK) {
			bench_report_rv(mod, "C_GenerateKeyPair (RSA-2048)", rv);
			return false;
		}
	}
	if (keys & BENCH_KEY_AES_256) {
		rv = make_aes_256(mod, session, &mod->keys.aes);
		if (rv != CKR_OK) {
			bench_report_rv(mod, "C_GenerateKey (AES-256)", rv);
			return false;
		}
	}
	return true;
}
