/* Signing, decryption, digests and random numbers in the TPM. */
#ifndef HSMUX_TPM_CRYPTO_H
#define HSMUX_TPM_CRYPTO_H

#include "backends/tpm/tpm_token.h"

/* Each follows the PKCS#11 function of the same name; sess is already found. */
CK_RV tpm_sign_init_locked(struct tpm_token *tok, struct tpm_session *sess,
                           const CK_MECHANISM *mech, CK_OBJECT_HANDLE key);
CK_RV tpm_sign_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                      CK_ULONG in_len, CK_BYTE *sig, CK_ULONG *sig_len);
CK_RV tpm_sign_update_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                             CK_ULONG in_len);
CK_RV tpm_sign_final_locked(struct tpm_token *tok, struct tpm_session *sess, CK_BYTE *sig,
                            CK_ULONG *sig_len);

CK_RV tpm_decrypt_init_locked(struct tpm_token *tok, struct tpm_session *sess,
                              const CK_MECHANISM *mech, CK_OBJECT_HANDLE key);
CK_RV tpm_decrypt_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                         CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len);

CK_RV tpm_digest_init_locked(struct tpm_token *tok, struct tpm_session *sess,
                             const CK_MECHANISM *mech);
CK_RV tpm_digest_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                        CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len);
CK_RV tpm_digest_update_locked(struct tpm_token *tok, struct tpm_session *sess, const CK_BYTE *in,
                               CK_ULONG in_len);
CK_RV tpm_digest_final_locked(struct tpm_token *tok, struct tpm_session *sess, CK_BYTE *out,
                              CK_ULONG *out_len);

CK_RV tpm_random_locked(struct tpm_token *tok, CK_BYTE *out, CK_ULONG len);
CK_RV tpm_seed_random_locked(struct tpm_token *tok, const CK_BYTE *seed, CK_ULONG len);

/*
 * Checks CK_RSA_PKCS_OAEP_PARAMS against what the TPM does: one hash for the
 * label and MGF1, and a label that is empty or ends in a zero byte (the TPM
 * rejects others). Fills *hash and *label; CKR_MECHANISM_PARAM_INVALID if not.
 */
CK_RV tpm_oaep_params(const struct tpm_token *tok, const CK_MECHANISM *mech, TPMI_ALG_HASH *hash,
                      TPM2B_DATA *label);

/*
 * Starts a sign or verify operation on sess: a digest context when the
 * mechanism hashes, then the operation's mechanism, key and hash. Returns
 * CKR_HOST_MEMORY when the digest cannot start.
 */
CK_RV tpm_session_start_op(struct tpm_session *sess, enum tpm_op op, const CK_MECHANISM *mech,
                           CK_OBJECT_HANDLE key, TPMI_ALG_HASH hash);

/*
 * Shared with verification (tpm_verify.c). PSS parameters: the hash, its
 * MGF1 and a salt as long as the digest; *hash gets that hash.
 */
CK_RV tpm_check_pss_params(const struct tpm_token *tok, const CK_MECHANISM *mech,
                           TPMI_ALG_HASH *hash);
/* The TPM hash whose digest has that length, for CKM_RSA_PKCS_PSS and CKM_ECDSA. */
TPMI_ALG_HASH tpm_hash_of_length(const struct tpm_token *tok, CK_ULONG len);
/*
 * Splits a DigestInfo (the input of CKM_RSA_PKCS) into its hash and digest.
 * CKR_DATA_INVALID when in is no DigestInfo of a hash that the TPM has.
 */
CK_RV tpm_parse_digest_info(const struct tpm_token *tok, const CK_BYTE *in, CK_ULONG len,
                            TPMI_ALG_HASH *hash, TPM2B_DIGEST *digest);

/* Ends the session's active operation and frees what it holds. */
void tpm_op_end_locked(struct tpm_token *tok, struct tpm_session *sess);

#endif /* HSMUX_TPM_CRYPTO_H */
