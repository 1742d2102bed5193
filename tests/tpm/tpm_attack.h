/* What the two halves of test_tpm_attack share. */
#ifndef HSMUX_TPM_ATTACK_H
#define HSMUX_TPM_ATTACK_H

#include <CUnit/CUnit.h>

#include "hsmux/pkcs11.h"

/* Creates a token data object, copyable, private or public, with label and value. */
CK_RV attack_make_data(CK_SESSION_HANDLE s, const char *label, CK_BBOOL private,
                       const CK_BYTE *value, CK_ULONG len, CK_OBJECT_HANDLE *h);

/* Searches the data objects by CKA_VALUE; returns how many match, ~0 on an error. */
CK_ULONG attack_find_value(CK_SESSION_HANDLE s, const CK_BYTE *value, CK_ULONG len);

/* Adds the raw RSA signing attacks (tpm_attack_rsa.c) on the slot's token. */
void tpm_attack_rsa_add_tests(CU_pSuite suite, const CK_SLOT_ID *slot);

#endif /* HSMUX_TPM_ATTACK_H */
