/*
 * Multi-part AES through libhsmux.so. The key came in by C_UnwrapKey, so
 * OpenSSL, given the same key, gives the expected output.
 */
#include <string.h>

#include <CUnit/Basic.h>
#include <openssl/evp.h>

#include "tpm_conf_aes.h"
#include "tpm_p11.h"

#define TOTAL 1189 /* the sum of part_sizes[] */

/* Uneven parts: under a block, a block less one, more than a block, and more than a TPM buffer. */
static const CK_ULONG part_sizes[] = {1, 15, 17, 33, 0, 2, 1100, 16, 5};
/* The parts before the last: 1184 bytes, a whole number of blocks for CBC. */
#define N_CBC_PARTS (sizeof(part_sizes) / sizeof(part_sizes[0]) - 1)
#define N_CFB_PARTS (sizeof(part_sizes) / sizeof(part_sizes[0]))

static const CK_BYTE iv[16] = {0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
                               0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

static CK_RV op_init(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_MECHANISM_TYPE type, bool decrypt)
{
	CK_MECHANISM mech = {type, (void *)iv, sizeof(iv)};

	return decrypt ? p11->C_DecryptInit(s, &mech, h) : p11->C_EncryptInit(s, &mech, h);
}

static CK_RV op_update(CK_SESSION_HANDLE s, bool decrypt, const CK_BYTE *in, CK_ULONG len,
                       CK_BYTE *out, CK_ULONG *out_len)
{
	return decrypt ? p11->C_DecryptUpdate(s, (CK_BYTE *)in, len, out, out_len)
	               : p11->C_EncryptUpdate(s, (CK_BYTE *)in, len, out, out_len);
}

static CK_RV op_final(CK_SESSION_HANDLE s, bool decrypt, CK_BYTE *out, CK_ULONG *out_len)
{
	return decrypt ? p11->C_DecryptFinal(s, out, out_len)
	               : p11->C_EncryptFinal(s, out, out_len);
}

/*
 * One update: a length query, a buffer one byte short (when output is due),
 * then the real call, whose length must match the query. held tracks the
 * bytes the token must hold back.
 */
static CK_ULONG update_checked(CK_SESSION_HANDLE s, bool decrypt, const CK_BYTE *in, CK_ULONG len,
                               CK_ULONG *held, CK_BYTE *out)
{
	CK_ULONG want = (*held + len) / 16 * 16, got = 12345;

	CU_ASSERT_EQUAL(op_update(s, decrypt, in, len, NULL, &got), CKR_OK);
	CU_ASSERT_EQUAL(got, want);
	if (want > 0) {
		got = want - 1;
		CU_ASSERT_EQUAL(op_update(s, decrypt, in, len, out, &got), CKR_BUFFER_TOO_SMALL);
		CU_ASSERT_EQUAL(got, want);
	}
	got = want + 16;
	CU_ASSERT_EQUAL(op_update(s, decrypt, in, len, out, &got), CKR_OK);
	CU_ASSERT_EQUAL(got, want);
	*held = *held + len - want;
	return got;
}

/* Runs in through n_parts updates and a final; returns the output length. */
static CK_ULONG run_parts(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_MECHANISM_TYPE type,
                          bool decrypt, const CK_BYTE *in, size_t n_parts, CK_BYTE *out)
{
	CK_ULONG pos = 0, done = 0, held = 0, got;

	CU_ASSERT_EQUAL_FATAL(op_init(s, h, type, decrypt), CKR_OK);
	for (size_t i = 0; i < n_parts; i++) {
		done += update_checked(s, decrypt, in + pos, part_sizes[i], &held, out + done);
		pos += part_sizes[i];
	}
	/* CFB-128 ends with the partial block, and CBC has none here. */
	CU_ASSERT_EQUAL(op_final(s, decrypt, NULL, &got), CKR_OK);
	CU_ASSERT_EQUAL(got, held);
	if (held > 0) {
		got = held - 1;
		CU_ASSERT_EQUAL(op_final(s, decrypt, out + done, &got), CKR_BUFFER_TOO_SMALL);
		CU_ASSERT_EQUAL(got, held);
	}
	got = held + 16;
	CU_ASSERT_EQUAL(op_final(s, decrypt, out + done, &got), CKR_OK);
	CU_ASSERT_EQUAL(got, held);
	CU_ASSERT_EQUAL(done + got, pos);
	return done + got;
}

static void openssl_encrypt(const CK_BYTE *key, size_t key_len, bool cfb, const CK_BYTE *in,
                            int len, CK_BYTE *out)
{
	const EVP_CIPHER *cipher = key_len == 16 ? (cfb ? EVP_aes_128_cfb128() : EVP_aes_128_cbc())
	                                         : (cfb ? EVP_aes_256_cfb128() : EVP_aes_256_cbc());
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, m = 0;

	CU_ASSERT_FATAL(ctx && EVP_EncryptInit_ex(ctx, cipher, NULL, key, iv) == 1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	CU_ASSERT(EVP_EncryptUpdate(ctx, out, &n, in, len) == 1);
	CU_ASSERT(EVP_EncryptFinal_ex(ctx, out + n, &m) == 1);
	CU_ASSERT_EQUAL(n + m, len);
	EVP_CIPHER_CTX_free(ctx);
}

/* Multi-part equals OpenSSL and single-part, both ways. */
static void check_mode(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const CK_BYTE *key, size_t key_len,
                       bool cfb)
{
	CK_MECHANISM_TYPE type = cfb ? CKM_AES_CFB128 : CKM_AES_CBC;
	size_t n_parts = cfb ? N_CFB_PARTS : N_CBC_PARTS;
	CK_ULONG len = cfb ? TOTAL : TOTAL - part_sizes[N_CBC_PARTS], got;
	static CK_BYTE plain[TOTAL], ref[TOTAL + 16], multi[TOTAL + 16], single[TOTAL],
	    back[TOTAL + 16];

	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (CK_BYTE)(i * 7 + 3);
	openssl_encrypt(key, key_len, cfb, plain, (int)len, ref);
	CU_ASSERT_EQUAL(run_parts(s, h, type, false, plain, n_parts, multi), len);
	CU_ASSERT_EQUAL(memcmp(multi, ref, len), 0);
	CU_ASSERT_EQUAL_FATAL(op_init(s, h, type, false), CKR_OK);
	got = sizeof(single);
	CU_ASSERT_EQUAL(p11->C_Encrypt(s, plain, len, single, &got), CKR_OK);
	CU_ASSERT_EQUAL(got, len);
	CU_ASSERT_EQUAL(memcmp(single, ref, len), 0);
	CU_ASSERT_EQUAL(run_parts(s, h, type, true, ref, n_parts, back), len);
	CU_ASSERT_EQUAL(memcmp(back, plain, len), 0);
}

/*
 * In-place updates: each part's output goes where the input started, so the
 * token must read a part before writing over it. Compares with OpenSSL.
 */
static void check_in_place(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const CK_BYTE *key,
                           size_t key_len)
{
	static CK_BYTE buf[TOTAL], ref[TOTAL + 16];
	CK_ULONG pos = 0, done = 0, got;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (CK_BYTE)(i * 11 + 5);
	openssl_encrypt(key, key_len, true, buf, TOTAL, ref);
	CU_ASSERT_EQUAL_FATAL(op_init(s, h, CKM_AES_CFB128, false), CKR_OK);
	for (size_t i = 0; i < N_CFB_PARTS; i++) {
		got = sizeof(buf) - done;
		CU_ASSERT_EQUAL(p11->C_EncryptUpdate(s, buf + pos, part_sizes[i], buf + done, &got),
		                CKR_OK);
		pos += part_sizes[i];
		done += got;
	}
	got = sizeof(buf) - done;
	CU_ASSERT_EQUAL(p11->C_EncryptFinal(s, buf + done, &got), CKR_OK);
	CU_ASSERT_EQUAL(done + got, TOTAL);
	CU_ASSERT_EQUAL(memcmp(buf, ref, TOTAL), 0);
}

/* A partial CBC block at C_*Final is a length error that ends the operation. */
static void check_final_errors(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	CK_BYTE in[40] = {0}, out[64];
	CK_ULONG got = sizeof(out);

	CU_ASSERT_EQUAL_FATAL(op_init(s, h, CKM_AES_CBC, false), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_EncryptUpdate(s, in, 17, out, &got), CKR_OK);
	CU_ASSERT_EQUAL(got, 16);
	/* C_Encrypt cannot finish a multi-part operation. */
	got = sizeof(out);
	CU_ASSERT_EQUAL(p11->C_Encrypt(s, in, 16, out, &got), CKR_OPERATION_ACTIVE);
	got = sizeof(out);
	CU_ASSERT_EQUAL(p11->C_EncryptFinal(s, out, &got), CKR_DATA_LEN_RANGE);
	got = sizeof(out);
	CU_ASSERT_EQUAL(p11->C_EncryptUpdate(s, in, 16, out, &got), CKR_OPERATION_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(p11->C_EncryptFinal(s, out, &got), CKR_OPERATION_NOT_INITIALIZED);

	CU_ASSERT_EQUAL_FATAL(op_init(s, h, CKM_AES_CBC, true), CKR_OK);
	got = sizeof(out);
	CU_ASSERT_EQUAL(p11->C_DecryptUpdate(s, in, 33, out, &got), CKR_OK);
	CU_ASSERT_EQUAL(got, 32);
	got = sizeof(out);
	CU_ASSERT_EQUAL(p11->C_DecryptFinal(s, out, &got), CKR_ENCRYPTED_DATA_LEN_RANGE);
	CU_ASSERT_EQUAL(p11->C_DecryptFinal(s, out, &got), CKR_OPERATION_NOT_INITIALIZED);
}

void tpm_conf_aes_multipart(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const CK_BYTE *key,
                            size_t key_len)
{
	check_mode(s, h, key, key_len, false);
	check_mode(s, h, key, key_len, true);
	check_in_place(s, h, key, key_len);
	check_final_errors(s, h);
}
