/* AES keys in the TPM: generation, and CBC and CFB-128 through TPM2_EncryptDecrypt2. */
#ifndef HSMUX_TPM_AES_H
#define HSMUX_TPM_AES_H

#include "backends/tpm/tpm_token.h"

/*
 * Generates an AES key (CKM_AES_KEY_GEN, CKA_VALUE_LEN 16 or 32) in the TPM.
 * A token key is written to the store before *h is set. Needs a user login.
 */
CK_RV tpm_aes_generate_locked(struct tpm_token *tok, struct tpm_session *sess,
                              const CK_MECHANISM *mech, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                              CK_OBJECT_HANDLE *h);

/*
 * Checks a template for an AES secret key (class, key type, roles, label,
 * id). *len gets CKA_VALUE_LEN, or 0 when the template has none.
 */
CK_RV tpm_aes_check_template(const struct tpm_token *tok, const struct tpm_session *sess,
                             const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_ULONG *len);

/* True for the key lengths (in bytes) that the TPM supports. */
bool tpm_aes_key_size_supported(const struct tpm_token *tok, CK_ULONG len);

/*
 * Creates an AES key of len bytes in the TPM, generated there when value is
 * NULL, else holding value. The attributes come from tmpl (checked before).
 * Sets *h; a token key is in the store by then.
 */
CK_RV tpm_aes_key_new_locked(struct tpm_token *tok, struct tpm_session *sess,
                             const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_ULONG len,
                             const CK_BYTE *value, CK_OBJECT_HANDLE *h);

/* True for the AES mechanisms that tpm_aes_init_locked() takes. */
bool tpm_aes_mechanism(CK_MECHANISM_TYPE type);

/* Starts an encryption (decrypt false) or decryption with an AES key. */
CK_RV tpm_aes_init_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_MECHANISM *mech,
                          CK_OBJECT_HANDLE key, bool decrypt);

/*
 * Encrypts or decrypts in one part, per C_Encrypt / C_Decrypt. CBC takes
 * whole blocks only: hsmux does no padding, because the TPM does none.
 */
CK_RV tpm_aes_crypt_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                           CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len);

/*
 * C_EncryptUpdate / C_DecryptUpdate (op TPM_OP_ENCRYPT or TPM_OP_DECRYPT):
 * whole blocks go out, the rest waits in the session for the next part.
 */
CK_RV tpm_aes_update_locked(struct tpm_token *tok, struct tpm_session *sess, enum tpm_op op,
                            const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len);

/*
 * C_EncryptFinal / C_DecryptFinal: CBC fails with a partial block left in
 * the session, CFB-128 processes it.
 */
CK_RV tpm_aes_final_locked(struct tpm_token *tok, struct tpm_session *sess, enum tpm_op op,
                           CK_BYTE *out, CK_ULONG *out_len);

#endif /* HSMUX_TPM_AES_H */
