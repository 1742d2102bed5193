/* Import of RSA and EC private keys into the TPM, for C_UnwrapKey. */
#ifndef HSMUX_TPM_IMPORT_H
#define HSMUX_TPM_IMPORT_H

#include "backends/tpm/tpm_token.h"

/*
 * Imports the PKCS#8 PrivateKeyInfo der (RSA 2048/3072 with e = 65537, or
 * EC on P-256/P-384) into the TPM under the primary key with TPM2_Import,
 * and creates a private key object with the attributes of tmpl. der and
 * the TPM's sensitive area stay in memory that the caller has locked;
 * OpenSSL's parsed copy is freed (and wiped by OpenSSL) before return.
 */
CK_RV tpm_import_private_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *der,
                                CK_ULONG der_len, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                                CK_OBJECT_HANDLE *h);

#endif /* HSMUX_TPM_IMPORT_H */
