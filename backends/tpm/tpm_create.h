/* C_CreateObject for the objects that need no TPM key: data, certificates, public keys. */
#ifndef HSMUX_TPM_CREATE_H
#define HSMUX_TPM_CREATE_H

#include "backends/tpm/tpm_token.h"

/*
 * Creates a CKO_DATA, CKO_CERTIFICATE (X.509) or CKO_PUBLIC_KEY (RSA, EC)
 * object from tmpl. A token object is written to the store before *h is
 * set. Private and secret keys are rejected with CKR_ATTRIBUTE_VALUE_INVALID,
 * because their material would have to pass through hsmux's memory.
 */
CK_RV tpm_create_object_locked(struct tpm_token *tok, struct tpm_session *sess,
                               const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *h);

#endif /* HSMUX_TPM_CREATE_H */
