/* Attribute lists and their byte format in the object files. */
#include "backends/tpm/tpm_attr.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define ATTR_COUNT_MAX 256u

static CK_ATTRIBUTE *find_mutable(struct tpm_attrs *a, CK_ATTRIBUTE_TYPE type)
{
	for (size_t i = 0; i < a->n; i++) {
		if (a->v[i].type == type)
			return &a->v[i];
	}
	return NULL;
}

bool tpm_attr_hidden(CK_ATTRIBUTE_TYPE type)
{
	return type == TPM_CKA_TPM_PUBLIC || type == TPM_CKA_TPM_PRIVATE ||
	       type == TPM_CKA_SEALED_VALUE;
}

CK_RV tpm_attrs_set(struct tpm_attrs *a, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
	CK_ATTRIBUTE *attr = find_mutable(a, type);
	void *copy = NULL;

	if (len > 0) {
		copy = malloc(len);
		if (!copy)
			return CKR_HOST_MEMORY;
		memcpy(copy, value, len);
	}
	if (!attr) {
		CK_ATTRIBUTE *v = realloc(a->v, (a->n + 1) * sizeof(*v));

		if (!v) {
			free(copy);
			return CKR_HOST_MEMORY;
		}
		a->v = v;
		attr = &a->v[a->n++];
	} else if (attr->pValue) {
		OPENSSL_cleanse(attr->pValue, attr->ulValueLen);
		free(attr->pValue);
	}
	attr->type = type;
	attr->pValue = copy;
	attr->ulValueLen = len;
	return CKR_OK;
}

CK_RV tpm_attrs_set_bool(struct tpm_attrs *a, CK_ATTRIBUTE_TYPE type, CK_BBOOL value)
{
	return tpm_attrs_set(a, type, &value, sizeof(value));
}

CK_RV tpm_attrs_set_ulong(struct tpm_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG value)
{
	return tpm_attrs_set(a, type, &value, sizeof(value));
}

void tpm_attrs_remove(struct tpm_attrs *a, CK_ATTRIBUTE_TYPE type)
{
	CK_ATTRIBUTE *attr = find_mutable(a, type);

	if (!attr)
		return;
	if (attr->pValue) {
		OPENSSL_cleanse(attr->pValue, attr->ulValueLen);
		free(attr->pValue);
	}
	/* The order of attributes carries no meaning, so the last one fills the gap. */
	*attr = a->v[--a->n];
}

const CK_ATTRIBUTE *tpm_attrs_find(const struct tpm_attrs *a, CK_ATTRIBUTE_TYPE type)
{
	return find_mutable((struct tpm_attrs *)a, type);
}

bool tpm_attrs_bool(const struct tpm_attrs *a, CK_ATTRIBUTE_TYPE type, bool def)
{
	const CK_ATTRIBUTE *attr = tpm_attrs_find(a, type);

	if (!attr || attr->ulValueLen != sizeof(CK_BBOOL))
		return def;
	return *(const CK_BBOOL *)attr->pValue != CK_FALSE;
}

CK_ULONG tpm_attrs_ulong(const struct tpm_attrs *a, CK_ATTRIBUTE_TYPE type, CK_ULONG def)
{
	const CK_ATTRIBUTE *attr = tpm_attrs_find(a, type);
	CK_ULONG value;

	if (!attr || attr->ulValueLen != sizeof(CK_ULONG))
		return def;
	memcpy(&value, attr->pValue, sizeof(value));
	return value;
}

bool tpm_attrs_match(const struct tpm_attrs *a, const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	for (CK_ULONG i = 0; i < count; i++) {
		const CK_ATTRIBUTE *attr = tpm_attrs_find(a, tmpl[i].type);

		if (tpm_attr_hidden(tmpl[i].type))
			return false;
		if (!attr || attr->ulValueLen != tmpl[i].ulValueLen)
			return false;
		if (attr->ulValueLen && memcmp(attr->pValue, tmpl[i].pValue, attr->ulValueLen))
			return false;
	}
	return true;
}

void tpm_attrs_cleanup(struct tpm_attrs *a)
{
	for (size_t i = 0; i < a->n; i++) {
		if (a->v[i].pValue) {
			OPENSSL_cleanse(a->v[i].pValue, a->v[i].ulValueLen);
			free(a->v[i].pValue);
		}
	}
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Format: u32 count, then per attribute u32 type-high, u32 type-low, u32
 * length and the value bytes, all big-endian. CK_ULONG values keep the host
 * layout, which is fine for a store that never moves between machines.
 */
CK_RV tpm_attrs_serialize(const struct tpm_attrs *a, uint8_t **buf, size_t *len)
{
	size_t total = 4, pos = 4;
	uint8_t *out;

	for (size_t i = 0; i < a->n; i++)
		total += 12 + a->v[i].ulValueLen;
	out = malloc(total);
	if (!out)
		return CKR_HOST_MEMORY;

	put_u32(out, (uint32_t)a->n);
	for (size_t i = 0; i < a->n; i++) {
		uint64_t type = a->v[i].type;

		put_u32(out + pos, (uint32_t)(type >> 32));
		put_u32(out + pos + 4, (uint32_t)type);
		put_u32(out + pos + 8, (uint32_t)a->v[i].ulValueLen);
		pos += 12;
		if (a->v[i].ulValueLen)
			memcpy(out + pos, a->v[i].pValue, a->v[i].ulValueLen);
		pos += a->v[i].ulValueLen;
	}
	*buf = out;
	*len = total;
	return CKR_OK;
}

CK_RV tpm_attrs_parse(const uint8_t *buf, size_t len, size_t *pos, struct tpm_attrs *a)
{
	size_t p = *pos;
	uint32_t count;

	if (len - p < 4)
		return CKR_DEVICE_ERROR;
	count = get_u32(buf + p);
	p += 4;
	if (count > ATTR_COUNT_MAX)
		return CKR_DEVICE_ERROR;

	for (uint32_t i = 0; i < count; i++) {
		uint64_t type;
		uint32_t vlen;

		if (len - p < 12)
			goto bad;
		type = (uint64_t)get_u32(buf + p) << 32 | get_u32(buf + p + 4);
		vlen = get_u32(buf + p + 8);
		p += 12;
		if (vlen > TPM_ATTR_VALUE_MAX || len - p < vlen)
			goto bad;
		if (tpm_attrs_set(a, (CK_ATTRIBUTE_TYPE)type, buf + p, vlen) != CKR_OK)
			goto bad;
		p += vlen;
	}
	*pos = p;
	return CKR_OK;
bad:
	tpm_attrs_cleanup(a);
	return CKR_DEVICE_ERROR;
}

CK_RV tpm_template_bool(const CK_ATTRIBUTE *attr, CK_BBOOL *value)
{
	if (!attr->pValue || attr->ulValueLen != sizeof(CK_BBOOL))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	*value = *(const CK_BBOOL *)attr->pValue ? CK_TRUE : CK_FALSE;
	return CKR_OK;
}

CK_RV tpm_template_ulong(const CK_ATTRIBUTE *attr, CK_ULONG *value)
{
	if (!attr->pValue || attr->ulValueLen != sizeof(CK_ULONG))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	memcpy(value, attr->pValue, sizeof(*value));
	return CKR_OK;
}
