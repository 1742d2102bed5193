/*
 * Part of test_tpm_conformance: CKM_RSA_PKCS signing of data that is not a
 * DigestInfo (TLS 1.1's MD5 || SHA-1, random bytes, k - 11 bytes) with a
 * sign-only RSA key, checked by OpenSSL and the openssl command line.
 */
#ifndef HSMUX_TPM_CONF_RAWSIGN_H
#define HSMUX_TPM_CONF_RAWSIGN_H

#include <CUnit/Basic.h>

#include "hsmux/pkcs11.h"

/* Adds the tests to suite; dir takes temp files, *slot is the token's slot when they run. */
void tpm_conf_rawsign_add_tests(CU_pSuite suite, const char *dir, const CK_SLOT_ID *slot);

#endif /* HSMUX_TPM_CONF_RAWSIGN_H */
