/*
 * Public-key operations in the TPM: C_Verify* with RSA PKCS#1 v1.5, PSS and
 * ECDSA, and C_Encrypt with RSA OAEP and PKCS#1 v1.5. The public key object
 * is loaded with TPM2_LoadExternal into the null hierarchy, and the TPM runs
 * TPM2_VerifySignature or TPM2_RSA_Encrypt with it. CKM_RSA_PKCS over data
 * that is no DigestInfo is checked with the raw TPM2_RSA_Encrypt.
 */
#ifndef HSMUX_TPM_VERIFY_H
#define HSMUX_TPM_VERIFY_H

#include "backends/backend.h"

/* The ops-table entries; each follows the PKCS#11 function of the same name. */
CK_RV tpm_verify_init(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                      CK_OBJECT_HANDLE key);
CK_RV tpm_verify(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len,
                 CK_BYTE_PTR sig, CK_ULONG sig_len);
CK_RV tpm_verify_update(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
                        CK_ULONG in_len);
CK_RV tpm_verify_final(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR sig,
                       CK_ULONG sig_len);

/*
 * C_EncryptInit and C_Encrypt: RSA mechanisms here, AES ones passed on to
 * tpm_encrypt_init() and tpm_encrypt() of tpm_object_ops.c.
 */
CK_RV tpm_pub_encrypt_init(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                           CK_OBJECT_HANDLE key);
CK_RV tpm_pub_encrypt(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
                      CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len);

#endif /* HSMUX_TPM_VERIFY_H */
