/* Helpers shared by the tpm backend's unit tests: temp dirs and OpenSSL verification. */
#ifndef HSMUX_TPM_TEST_UTIL_H
#define HSMUX_TPM_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "hsmux/pkcs11.h"

/* Removes dir and everything below it. */
void tpm_test_remove_tree(const char *dir);

/* An RSA public key from its modulus and e = 65537, or NULL. */
EVP_PKEY *tpm_test_rsa_key(const CK_BYTE *modulus, size_t len);

/* An EC public key from CKA_EC_POINT (DER OCTET STRING) on P-256 or P-384, or NULL. */
EVP_PKEY *tpm_test_ec_key(const CK_BYTE *ec_point, size_t len, bool p384);

/*
 * Verifies sig over data with OpenSSL: RSA PKCS#1 v1.5 or PSS (salt = digest
 * length), or ECDSA with r||s converted to DER. Returns true when valid.
 */
bool tpm_test_verify(EVP_PKEY *key, const EVP_MD *md, bool pss, const CK_BYTE *data,
                     size_t data_len, const CK_BYTE *sig, size_t sig_len);

/*
 * Returns whether OpenSSL recovers exactly want from the RSA signature sig
 * (PKCS#1 v1.5 type 1 padding, no digest), as CKM_RSA_PKCS signs it.
 */
bool tpm_test_rsa_recovers(EVP_PKEY *key, const CK_BYTE *sig, size_t sig_len, const CK_BYTE *want,
                           size_t want_len);

#endif /* HSMUX_TPM_TEST_UTIL_H */
