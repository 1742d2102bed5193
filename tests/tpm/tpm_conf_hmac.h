/*
 * Part of test_tpm_conformance: generic secret keys and CKM_SHA256_HMAC,
 * signed and verified, checked against RFC 4231's test vectors and OpenSSL's
 * HMAC, and C_CopyObject's rules.
 */
#ifndef HSMUX_TPM_CONF_HMAC_H
#define HSMUX_TPM_CONF_HMAC_H

#include <stdbool.h>

#include <CUnit/Basic.h>

#include "hsmux/pkcs11.h"

/* Adds the tests to suite; *slot is the token's slot when they run. */
void tpm_conf_hmac_add_tests(CU_pSuite suite, const CK_SLOT_ID *slot);

/* True for the mechanisms these tests cover, for the mechanism sweep. */
bool tpm_conf_hmac_covers(CK_MECHANISM_TYPE type);

#endif /* HSMUX_TPM_CONF_HMAC_H */
