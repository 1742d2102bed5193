/* Generic secret keys in the TPM, for CKM_SHA256_HMAC signatures and their verification. */
#ifndef HSMUX_TPM_HMAC_H
#define HSMUX_TPM_HMAC_H

#include "backends/tpm/tpm_token.h"

/* The largest HMAC key a TPM takes as sensitive data: SHA-256's block size. */
#define TPM_HMAC_KEY_MAX 64
/* The key length the TPM generates: the digest size of the scheme's hash. */
#define TPM_HMAC_KEY_GEN 32

/* True when tmpl requests a CKK_GENERIC_SECRET key. */
bool tpm_hmac_template(const CK_ATTRIBUTE *tmpl, CK_ULONG count);

/*
 * Checks a template for a generic secret key that may only sign and verify
 * with CKM_SHA256_HMAC. *len gets CKA_VALUE_LEN or 0; *value gets CKA_VALUE or
 * NULL (allowed only when value_ok).
 */
CK_RV tpm_hmac_check_template(const struct tpm_session *sess, const CK_ATTRIBUTE *tmpl,
                              CK_ULONG count, bool value_ok, CK_ULONG *len,
                              const CK_ATTRIBUTE **value);

/*
 * Creates the key in the TPM, generated there when value is NULL (len is
 * then TPM_HMAC_KEY_GEN), else holding value. Sets *h; a token key is in
 * the store by then.
 */
CK_RV tpm_hmac_key_new_locked(struct tpm_token *tok, struct tpm_session *sess,
                              const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_ULONG len,
                              const CK_BYTE *value, CK_OBJECT_HANDLE *h);

/* C_GenerateKey with CKM_GENERIC_SECRET_KEY_GEN. */
CK_RV tpm_hmac_generate_locked(struct tpm_token *tok, struct tpm_session *sess,
                               const CK_MECHANISM *mech, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                               CK_OBJECT_HANDLE *h);

/* C_CreateObject of a generic secret key with CKA_VALUE. */
CK_RV tpm_hmac_create_locked(struct tpm_token *tok, struct tpm_session *sess,
                             const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *h);

/* C_SignInit, C_Sign, C_SignUpdate and C_SignFinal with CKM_SHA256_HMAC. */
CK_RV tpm_hmac_sign_init_locked(struct tpm_token *tok, struct tpm_session *sess,
                                const CK_MECHANISM *mech, CK_OBJECT_HANDLE key);
CK_RV tpm_hmac_sign_update_locked(struct tpm_token *tok, struct tpm_session *sess,
                                  const CK_BYTE *in, CK_ULONG in_len);
CK_RV tpm_hmac_sign_final_locked(struct tpm_token *tok, struct tpm_session *sess, CK_BYTE *sig,
                                 CK_ULONG *sig_len);
CK_RV tpm_hmac_sign_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                           CK_ULONG in_len, CK_BYTE *sig, CK_ULONG *sig_len);

/*
 * C_VerifyInit, C_Verify, C_VerifyUpdate and C_VerifyFinal with
 * CKM_SHA256_HMAC: the TPM computes the MAC, which is compared in constant
 * time and wiped.
 */
CK_RV tpm_hmac_verify_init_locked(struct tpm_token *tok, struct tpm_session *sess,
                                  const CK_MECHANISM *mech, CK_OBJECT_HANDLE key);
CK_RV tpm_hmac_verify_update_locked(struct tpm_token *tok, struct tpm_session *sess,
                                    const CK_BYTE *in, CK_ULONG in_len);
CK_RV tpm_hmac_verify_final_locked(struct tpm_token *tok, struct tpm_session *sess,
                                   const CK_BYTE *sig, CK_ULONG sig_len);
CK_RV tpm_hmac_verify_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                             CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len);

/* True while sess runs an HMAC operation op (TPM_OP_SIGN or TPM_OP_VERIFY). */
bool tpm_hmac_active(const struct tpm_session *sess, enum tpm_op op);

#endif /* HSMUX_TPM_HMAC_H */
