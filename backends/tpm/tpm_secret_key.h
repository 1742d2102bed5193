/*
 * The steps that AES and generic secret (HMAC) keys share: the TPM object
 * made from a public template and a locked sensitive area, and the PKCS#11
 * attributes set from a description of the key kind.
 */
#ifndef HSMUX_TPM_SECRET_KEY_H
#define HSMUX_TPM_SECRET_KEY_H

#include "backends/tpm/tpm_keygen.h"
#include "backends/tpm/tpm_token.h"

/* The properties that set one kind of secret key apart from the others. */
struct tpm_secret_kind {
	CK_KEY_TYPE key_type;
	CK_MECHANISM_TYPE gen_mech;
	/* Attributes a template may set, stored as given. */
	const CK_ATTRIBUTE_TYPE *copied;
	size_t n_copied;
	/* Boolean attributes with a value that the TPM object fixes. */
	const struct tpm_attr_default *fixed;
	size_t n_fixed;
	/* Boolean attributes with a default that a template may change. */
	const struct tpm_attr_default *defaults;
	size_t n_defaults;
};

/*
 * Checks one template attribute of a kind's key other than CKA_VALUE_LEN
 * and CKA_VALUE: class and key type, the attributes the TPM fixes, the
 * copied ones, and CKA_TOKEN true only in a read-write session.
 */
CK_RV tpm_secret_check_attr(const struct tpm_secret_kind *kind, const struct tpm_session *sess,
                            const CK_ATTRIBUTE *a);

/*
 * Creates a secret key of len bytes in the TPM from the public template
 * pub_tmpl: from the TPM's random numbers when value is NULL, else from
 * value, which is copied into an mlocked sensitive area and wiped there.
 * The attributes come from tmpl (checked before) and kind. Sets *h; a
 * token key is in the store by then.
 */
CK_RV tpm_secret_key_new_locked(struct tpm_token *tok, struct tpm_session *sess,
                                const struct tpm_secret_kind *kind, TPM2B_PUBLIC *pub_tmpl,
                                const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_ULONG len,
                                const CK_BYTE *value, CK_OBJECT_HANDLE *h);

#endif /* HSMUX_TPM_SECRET_KEY_H */
