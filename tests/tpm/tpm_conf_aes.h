/*
 * Part of test_tpm_conformance: multi-part CBC and CFB-128 with an AES key
 * whose value the test imported, checked against OpenSSL and against the
 * token's own single-part output.
 */
#ifndef HSMUX_TPM_CONF_AES_H
#define HSMUX_TPM_CONF_AES_H

#include <stddef.h>

#include "hsmux/pkcs11.h"

/*
 * Encrypts and decrypts with key h (holding key, 16 or 32 bytes) in parts
 * of uneven sizes, also in place, checks length queries and short buffers,
 * and the length errors of C_EncryptFinal and C_DecryptFinal.
 */
void tpm_conf_aes_multipart(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const CK_BYTE *key,
                            size_t key_len);

#endif /* HSMUX_TPM_CONF_AES_H */
