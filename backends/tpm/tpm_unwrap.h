/* C_UnwrapKey: an AES key wrapped to a TPM RSA key, imported into the TPM. */
#ifndef HSMUX_TPM_UNWRAP_H
#define HSMUX_TPM_UNWRAP_H

#include "backends/tpm/tpm_token.h"

/*
 * Unwraps wrapped (CKM_RSA_PKCS_OAEP or CKM_RSA_AES_KEY_WRAP) with the TPM's
 * RSA key unwrapping_key, and creates an AES secret key in the TPM from the
 * result, with the attributes of tmpl. See tpm_unwrap.c for the window in
 * which the key is in hsmux's memory.
 */
CK_RV tpm_unwrap_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_MECHANISM *mech,
                        CK_OBJECT_HANDLE unwrapping_key, const CK_BYTE *wrapped,
                        CK_ULONG wrapped_len, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                        CK_OBJECT_HANDLE *h);

#endif /* HSMUX_TPM_UNWRAP_H */
