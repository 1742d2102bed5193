/* The mechanisms that the TPM behind a token implements, and their hashes. */
#ifndef HSMUX_TPM_MECH_H
#define HSMUX_TPM_MECH_H

#include <openssl/evp.h>

#include "backends/tpm/tpm_token.h"

/* Reads the TPM's algorithms, curves and RSA key sizes into tok->has_*. */
CK_RV tpm_mech_probe_locked(struct tpm_token *tok);

/* Writes the supported mechanisms, per C_GetMechanismList's buffer rules. */
CK_RV tpm_mech_list(const struct tpm_token *tok, CK_MECHANISM_TYPE *list, CK_ULONG *count);

/* Fills info for a supported mechanism, else returns CKR_MECHANISM_INVALID. */
CK_RV tpm_mech_info(const struct tpm_token *tok, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info);

/* True when the TPM implements the hash; TPM2_ALG_NULL is always false. */
bool tpm_mech_hash_supported(const struct tpm_token *tok, TPMI_ALG_HASH hash);

/* The TPM hash of a CKM_SHA* or CKG_MGF1_SHA* value, or TPM2_ALG_NULL. */
TPMI_ALG_HASH tpm_mech_hash_of_ckm(CK_MECHANISM_TYPE mech);
TPMI_ALG_HASH tpm_mech_hash_of_mgf(CK_RSA_PKCS_MGF_TYPE mgf);

/* The OpenSSL digest and size of a TPM hash, or NULL / 0. */
const EVP_MD *tpm_mech_evp_md(TPMI_ALG_HASH hash);
size_t tpm_mech_hash_size(TPMI_ALG_HASH hash);

#endif /* HSMUX_TPM_MECH_H */
