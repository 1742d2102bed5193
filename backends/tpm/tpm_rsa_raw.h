/*
 * CKM_RSA_PKCS over data that is not a DigestInfo: the module pads, the TPM
 * runs the raw RSA operation (TPM2_RSA_Decrypt with scheme TPM2_ALG_NULL).
 */
#ifndef HSMUX_TPM_RSA_RAW_H
#define HSMUX_TPM_RSA_RAW_H

#include "backends/tpm/tpm_token.h"

/*
 * Writes the k-byte block 0x00 || 0x01 || PS || 0x00 || in, PS being at least
 * 8 bytes 0xFF (RFC 8017, section 9.2, steps 4 and 5, with in in place of
 * the DigestInfo). CKR_DATA_LEN_RANGE when in_len > k - 11.
 */
CK_RV tpm_rsa_pad_type1(const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *em, size_t k);

/*
 * Signs in (any data up to k - 11 bytes) with the private RSA key obj, which
 * the caller has checked for CKA_SIGN, writing the k-byte signature to sig.
 * CKR_DATA_INVALID for a key whose TPM object lacks the decrypt attribute
 * (made before RSA signing keys got it).
 */
CK_RV tpm_rsa_raw_sign_locked(struct tpm_token *tok, struct tpm_object *obj, const CK_BYTE *in,
                              CK_ULONG in_len, CK_BYTE *sig, CK_ULONG *sig_len);

#endif /* HSMUX_TPM_RSA_RAW_H */
