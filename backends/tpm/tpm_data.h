/*
 * Private data objects. A token object of class CKO_DATA with CKA_PRIVATE
 * TRUE keeps no plaintext CKA_VALUE, in memory or in its key file. It keeps
 * the vendor attribute TPM_CKA_SEALED_VALUE instead:
 *
 *   u8 version (1) | 12-byte nonce | AES-256-GCM ciphertext | 16-byte tag
 *
 * The data key is HKDF-SHA256 of the token secret (salt: the token serial,
 * info: TPM_DATA_HKDF_INFO). The token secret is sealed in the TPM under
 * the user PIN and the SO PIN, so only a login derives the key. The key
 * never reaches the disk. It lives on the stack of one seal or open call
 * and is wiped there. The AAD is the version byte, the attribute type (8
 * bytes, big-endian) and the key file name, so a sealed value copied into
 * another object's file fails the tag check. The nonce is fresh for every
 * write.
 *
 * A session object keeps its CKA_VALUE in plaintext in memory: it never
 * reaches the disk and ends with its session.
 */
#ifndef HSMUX_TPM_DATA_H
#define HSMUX_TPM_DATA_H

#include "backends/tpm/tpm_token.h"

#define TPM_DATA_HKDF_INFO "hsmux tpm data object v1"
#define TPM_DATA_VERSION   1
#define TPM_DATA_NONCE_LEN 12
#define TPM_DATA_TAG_LEN   16
#define TPM_DATA_OVERHEAD  (1 + TPM_DATA_NONCE_LEN + TPM_DATA_TAG_LEN)
/* The longest CKA_VALUE of a private token data object: its sealed form must fit a file. */
#define TPM_DATA_VALUE_MAX (TPM_ATTR_VALUE_MAX - TPM_DATA_OVERHEAD)

/* True when obj keeps its CKA_VALUE sealed. */
bool tpm_data_is_sealed(const struct tpm_object *obj);

/*
 * Brings the CKA_VALUE of obj into the form that its attributes ask for,
 * before obj is written: sealed to obj->file (named here when still empty)
 * for a private token data object, else plaintext. A plaintext CKA_VALUE in
 * obj->attrs is the new value. Otherwise a sealed value bound to from_file
 * (the original of a copy, or obj's own file) is sealed again or opened,
 * but obj's own sealed value is never opened. Needs a user login whenever it
 * seals or opens. Returns CKR_ATTRIBUTE_VALUE_INVALID for a value above
 * TPM_DATA_VALUE_MAX.
 */
CK_RV tpm_data_settle_locked(struct tpm_token *tok, struct tpm_object *obj, const char *from_file);

/*
 * C_GetAttributeValue of CKA_VALUE of a sealed obj. Decrypts straight into
 * t->pValue, and wipes it again when the tag check fails
 * (CKR_DEVICE_ERROR: the file was damaged or tampered with). Without a
 * user login (none, or the SO's) it returns CKR_ATTRIBUTE_SENSITIVE.
 */
CK_RV tpm_data_get_value_locked(const struct tpm_token *tok, const struct tpm_object *obj,
                                CK_ATTRIBUTE *t);

/* tpm_attrs_match() for any object, also comparing the CKA_VALUE of a sealed one. */
bool tpm_data_match_locked(const struct tpm_token *tok, const struct tpm_object *obj,
                           const CK_ATTRIBUTE *tmpl, CK_ULONG count);

#endif /* HSMUX_TPM_DATA_H */
