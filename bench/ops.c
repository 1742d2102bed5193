/*
 * The measured operations. Each bench_op_* function performs one complete
 * operation. The functions keep external, non-inlined symbols, because
 * bench/overhead.sh counts their instructions with callgrind's
 * --toggle-collect=bench_op_<name>.
 */
#include <string.h>

#include "bench.h"

#define BENCH_OP __attribute__((noinline, used))

/* Input data: a fixed pattern, so that every run and every module gets the same bytes. */
static unsigned char data[BENCH_DATA_LEN];
/* Stands for a SHA-256 hash: raw CKM_ECDSA signs a prepared 32-byte digest. */
static unsigned char hash[32];
static const unsigned char gcm_iv[12] = {0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce,
                                         0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88};

__attribute__((constructor)) static void fill_data(void)
{
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 31u + 7u);
	for (size_t i = 0; i < sizeof(hash); i++)
		hash[i] = (unsigned char)(i * 13u + 1u);
}

/* C_GetSessionInfo: the cost of one call through the module, with no crypto. */
BENCH_OP CK_RV bench_op_session_info(struct bench_worker *w)
{
	CK_SESSION_INFO info;

	return w->functions->C_GetSessionInfo(w->session, &info);
}

static CK_RV sign_once(struct bench_worker *w, CK_MECHANISM *mechanism, CK_OBJECT_HANDLE key,
                       unsigned char *input, CK_ULONG input_len)
{
	CK_ULONG out_len = sizeof(w->out);
	CK_RV rv;

	rv = w->functions->C_SignInit(w->session, mechanism, key);
	if (rv != CKR_OK)
		return rv;
	return w->functions->C_Sign(w->session, input, input_len, w->out, &out_len);
}

/* CKM_ECDSA on P-256 over a 32-byte hash: C_SignInit and C_Sign. */
BENCH_OP CK_RV bench_op_ecdsa_p256(struct bench_worker *w)
{
	CK_MECHANISM mechanism = {CKM_ECDSA, NULL, 0};

	return sign_once(w, &mechanism, w->keys->ec_private, hash, sizeof(hash));
}

/* CKM_SHA256_RSA_PKCS with RSA-2048 over 32 bytes: C_SignInit and C_Sign. */
BENCH_OP CK_RV bench_op_rsa2048(struct bench_worker *w)
{
	CK_MECHANISM mechanism = {CKM_SHA256_RSA_PKCS, NULL, 0};

	return sign_once(w, &mechanism, w->keys->rsa_private, hash, sizeof(hash));
}

/*
 * AES-256-GCM encryption of 4 KiB: C_EncryptInit and C_Encrypt. The IV is
 * fixed, which is acceptable only because nothing decrypts the output.
 */
BENCH_OP CK_RV bench_op_aes_gcm_4k(struct bench_worker *w)
{
	CK_GCM_PARAMS params = {
	    .pIv = (CK_BYTE_PTR)gcm_iv,
	    .ulIvLen = sizeof(gcm_iv),
	    .ulIvBits = sizeof(gcm_iv) * 8,
	    .ulTagBits = 128,
	};
	CK_MECHANISM mechanism = {CKM_AES_GCM, &params, sizeof(params)};
	CK_ULONG out_len = sizeof(w->out);
	CK_RV rv;

	rv = w->functions->C_EncryptInit(w->session, &mechanism, w->keys->aes);
	if (rv != CKR_OK)
		return rv;
	return w->functions->C_Encrypt(w->session, data, sizeof(data), w->out, &out_len);
}

/* SHA-256 of 4 KiB: C_DigestInit and C_Digest. */
BENCH_OP CK_RV bench_op_sha256_4k(struct bench_worker *w)
{
	CK_MECHANISM mechanism = {CKM_SHA256, NULL, 0};
	CK_ULONG out_len = sizeof(w->out);
	CK_RV rv;

	rv = w->functions->C_DigestInit(w->session, &mechanism);
	if (rv != CKR_OK)
		return rv;
	return w->functions->C_Digest(w->session, data, sizeof(data), w->out, &out_len);
}

const struct bench_op bench_ops[] = {
    {"session-info", "C_GetSessionInfo", BENCH_KEY_NONE, false, bench_op_session_info},
    {"ecdsa-p256", "ECDSA P-256 sign (CKM_ECDSA, 32-byte hash)", BENCH_KEY_EC_P256, true,
     bench_op_ecdsa_p256},
    {"rsa2048", "RSA-2048 sign (CKM_SHA256_RSA_PKCS)", BENCH_KEY_RSA_2048, true, bench_op_rsa2048},
    {"aes-gcm-4k", "AES-256-GCM encrypt of 4 KiB", BENCH_KEY_AES_256, true, bench_op_aes_gcm_4k},
    {"sha256-4k", "SHA-256 digest of 4 KiB", BENCH_KEY_NONE, false, bench_op_sha256_4k},
};
const size_t bench_n_ops = sizeof(bench_ops) / sizeof(bench_ops[0]);

const struct bench_op *bench_op_find(const char *name)
{
	for (size_t i = 0; i < bench_n_ops; i++) {
		if (strcmp(bench_ops[i].name, name) == 0)
			return &bench_ops[i];
	}
	return NULL;
}
