/* Key pair generation in the TPM. */
#ifndef HSMUX_TPM_KEYGEN_H
#define HSMUX_TPM_KEYGEN_H

#include "backends/tpm/tpm_token.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct tpm_attr_default {
	CK_ATTRIBUTE_TYPE type;
	CK_BBOOL value;
};

/*
 * Generates an RSA (CKM_RSA_PKCS_KEY_PAIR_GEN: 2048 or 3072 bits, e = 65537)
 * or EC (CKM_EC_KEY_PAIR_GEN: P-256 or P-384) key pair in the TPM. Token
 * objects are written to the store before the handles are returned. Needs
 * a user login, because the new key's auth value is the token secret.
 */
CK_RV tpm_keygen_pair_locked(struct tpm_token *tok, CK_SESSION_HANDLE s, CK_MECHANISM_TYPE mech,
                             const CK_ATTRIBUTE *pub_tmpl, CK_ULONG n_pub,
                             const CK_ATTRIBUTE *priv_tmpl, CK_ULONG n_priv,
                             CK_OBJECT_HANDLE *pub_h, CK_OBJECT_HANDLE *priv_h);

/* Sets CKA_EC_PARAMS (and CKA_EC_POINT on a public key) from a TPM ECC public area. */
CK_RV tpm_keygen_ec_attrs(struct tpm_attrs *a, CK_OBJECT_CLASS cls, const TPMT_PUBLIC *p);

/* Stores the TPM's public and wrapped private blobs of a key in its hidden attributes. */
CK_RV tpm_keygen_blob_attrs(struct tpm_attrs *a, const TPM2B_PUBLIC *pub,
                            const TPM2B_PRIVATE *priv);

/*
 * Checks the template of an imported RSA or EC private key: the attributes
 * that key generation takes, less the ones that describe a key's origin.
 */
CK_RV tpm_keygen_check_import_template(const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                                       CK_KEY_TYPE key_type);

/*
 * Sets the attributes of an imported private key: the template's, the
 * public numbers of pub, CKA_LOCAL and the other origin attributes false,
 * and the TPM blobs.
 */
CK_RV tpm_keygen_import_attrs(struct tpm_attrs *a, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
                              const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv);

#endif /* HSMUX_TPM_KEYGEN_H */
