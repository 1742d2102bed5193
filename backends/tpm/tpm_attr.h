/*
 * Attribute lists of the TPM backend's objects: owned copies of
 * CK_ATTRIBUTEs, template matching, and the byte format of the object files.
 */
#ifndef HSMUX_TPM_ATTR_H
#define HSMUX_TPM_ATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsmux/pkcs11.h"

/*
 * Vendor attributes that carry the TPM-wrapped key. They never leave the
 * backend: C_GetAttributeValue returns CKR_ATTRIBUTE_TYPE_INVALID for them.
 */
#define TPM_CKA_TPM_PUBLIC  (CKA_VENDOR_DEFINED | 0x48540001UL) /* marshaled TPM2B_PUBLIC */
#define TPM_CKA_TPM_PRIVATE (CKA_VENDOR_DEFINED | 0x48540002UL) /* marshaled TPM2B_PRIVATE */
/* The encrypted CKA_VALUE of a private data object (format in tpm_data.h). */
#define TPM_CKA_SEALED_VALUE (CKA_VENDOR_DEFINED | 0x48540003UL)

/* Upper bound for one attribute value, far above any key or certificate attribute. */
#define TPM_ATTR_VALUE_MAX (64u * 1024u)

struct tpm_attrs {
	CK_ATTRIBUTE *v; /* each pValue is owned, NULL when ulValueLen is 0 */
	size_t n;
};

/* True for the vendor attributes above, which no template may name. */
bool tpm_attr_hidden(CK_ATTRIBUTE_TYPE type);

/* Sets type to a copy of value, replacing an earlier value. Returns CKR_HOST_MEMORY on failure. */
CK_RV tpm_attrs_set(struct tpm_attrs *a, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len);
CK_RV tpm_attrs_set_bool(struct tpm_attrs *a, CK_ATTRIBUTE_TYPE type, CK_BBOOL value);
CK_RV tpm_attrs_set_ulong(struct tpm_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG value);

/* Wipes and removes the attribute of that type, if there is one. */
void tpm_attrs_remove(struct tpm_attrs *a, CK_ATTRIBUTE_TYPE type);

/* The attribute of that type, or NULL. The pointer is valid until a's next change. */
const CK_ATTRIBUTE *tpm_attrs_find(const struct tpm_attrs *a, CK_ATTRIBUTE_TYPE type);

/* The boolean value of type, or def when it is absent or malformed. */
bool tpm_attrs_bool(const struct tpm_attrs *a, CK_ATTRIBUTE_TYPE type, bool def);

/* The CK_ULONG value of type, or def when it is absent or malformed. */
CK_ULONG tpm_attrs_ulong(const struct tpm_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG def);

/* True when every attribute of tmpl is present in a with the same value. */
bool tpm_attrs_match(const struct tpm_attrs *a, const CK_ATTRIBUTE *tmpl, CK_ULONG count);

/* Wipes and frees the values; a is empty afterwards. */
void tpm_attrs_cleanup(struct tpm_attrs *a);

/*
 * Appends the serialized form of a to a new buffer that the caller frees.
 * Returns CKR_HOST_MEMORY on failure.
 */
CK_RV tpm_attrs_serialize(const struct tpm_attrs *a, uint8_t **buf, size_t *len);

/*
 * Parses one serialized list from buf, advancing *pos. Returns
 * CKR_DEVICE_ERROR on malformed input (and leaves a empty).
 */
CK_RV tpm_attrs_parse(const uint8_t *buf, size_t len, size_t *pos, struct tpm_attrs *a);

/* Reads a CK_BBOOL from a template attribute. Returns CKR_ATTRIBUTE_VALUE_INVALID if malformed. */
CK_RV tpm_template_bool(const CK_ATTRIBUTE *attr, CK_BBOOL *value);

/* Reads a CK_ULONG from a template attribute. Returns CKR_ATTRIBUTE_VALUE_INVALID if malformed. */
CK_RV tpm_template_ulong(const CK_ATTRIBUTE *attr, CK_ULONG *value);

#endif /* HSMUX_TPM_ATTR_H */
