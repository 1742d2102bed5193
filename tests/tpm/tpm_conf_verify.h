/*
 * Part of test_tpm_conformance: C_Verify and C_Encrypt with public keys of
 * the tpm token, checked against the TPM's own signatures and decryption and
 * against plain openssl.
 */
#ifndef HSMUX_TPM_CONF_VERIFY_H
#define HSMUX_TPM_CONF_VERIFY_H

#include <stdbool.h>

#include <CUnit/Basic.h>

#include "hsmux/pkcs11.h"

/* Adds the tests to suite; dir takes temp files, *slot is the token's slot when they run. */
void tpm_conf_verify_add_tests(CU_pSuite suite, const char *dir, const CK_SLOT_ID *slot);

/*
 * Checks that C_Verify accepts sig over in (the mechanism's input) with pub,
 * and rejects a flipped signature byte, other input and a wrong length with
 * the spec's codes. With multipart, C_VerifyUpdate in two parts too.
 */
void tpm_conf_verify_check(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, CK_MECHANISM *mech,
                           const CK_BYTE *in, CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len,
                           bool multipart);

/*
 * Encrypts with an RSA encryption mechanism through C_Encrypt and decrypts
 * with the TPM. Returns false for a mechanism that it has no case for.
 */
bool tpm_conf_encrypt_one(CK_SESSION_HANDLE s, CK_MECHANISM_TYPE type);

#endif /* HSMUX_TPM_CONF_VERIFY_H */
