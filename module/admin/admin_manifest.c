/* The object list of a backup's manifest: class, key type, label and id of every token object. */
#include <stdio.h>
#include <string.h>

#include "module/admin/admin_backup.h"
#include "module/entry.h"

static const char *class_name(CK_OBJECT_CLASS c)
{
	switch (c) {
	case CKO_DATA:
		return "CKO_DATA";
	case CKO_CERTIFICATE:
		return "CKO_CERTIFICATE";
	case CKO_PUBLIC_KEY:
		return "CKO_PUBLIC_KEY";
	case CKO_PRIVATE_KEY:
		return "CKO_PRIVATE_KEY";
	case CKO_SECRET_KEY:
		return "CKO_SECRET_KEY";
	default:
		return "other";
	}
}

static const char *key_type_name(CK_KEY_TYPE k)
{
	switch (k) {
	case CKK_RSA:
		return "CKK_RSA";
	case CKK_EC:
		return "CKK_EC";
	case CKK_AES:
		return "CKK_AES";
	case CKK_GENERIC_SECRET:
		return "CKK_GENERIC_SECRET";
	case CKK_EC_EDWARDS:
		return "CKK_EC_EDWARDS";
	case CKK_EC_MONTGOMERY:
		return "CKK_EC_MONTGOMERY";
	default:
		return "other";
	}
}

/* Describes one object; attributes it lacks (a certificate's key type) are left out. */
static json_t *describe(struct sd_tok *t, CK_OBJECT_HANDLE obj)
{
	struct hsmux_session_ref s = {.be = t->be, .bsess = t->bsess};
	CK_OBJECT_CLASS cls = 0;
	CK_KEY_TYPE type = 0;
	unsigned char label[256], id[256];
	char label_text[257], id_hex[513];
	CK_ATTRIBUTE a[] = {{CKA_CLASS, &cls, sizeof(cls)},
	                    {CKA_KEY_TYPE, &type, sizeof(type)},
	                    {CKA_LABEL, label, sizeof(label)},
	                    {CKA_ID, id, sizeof(id)}};
	json_t *o;

	BACKEND_CALL(s, get_attribute_value, obj, a, 4);
	o = json_pack("{s:s}", "class", class_name(a[0].ulValueLen == sizeof(cls) ? cls : ~0UL));
	if (!o)
		return NULL;
	if (a[1].ulValueLen == sizeof(type))
		json_object_set_new(o, "key_type", json_string(key_type_name(type)));
	if (a[2].ulValueLen != CK_UNAVAILABLE_INFORMATION && a[2].ulValueLen < sizeof(label)) {
		memcpy(label_text, label, a[2].ulValueLen);
		label_text[a[2].ulValueLen] = '\0';
		json_object_set_new(o, "label", json_stringn(label_text, a[2].ulValueLen));
	}
	if (a[3].ulValueLen != CK_UNAVAILABLE_INFORMATION && a[3].ulValueLen <= sizeof(id)) {
		sd_hex_encode(id, a[3].ulValueLen, id_hex);
		json_object_set_new(o, "id", json_string(id_hex));
	}
	return o;
}

json_t *admin_manifest_objects(struct sd_tok *t)
{
	struct hsmux_session_ref s = {.be = t->be, .bsess = t->bsess};
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &yes, sizeof(yes)}};
	CK_OBJECT_HANDLE objs[64];
	CK_ULONG n = 0;
	json_t *list = json_array();

	if (!list || BACKEND_CALL(s, find_objects_init, tmpl, 1) != CKR_OK) {
		json_decref(list);
		return NULL;
	}
	while (BACKEND_CALL(s, find_objects, objs, 64, &n) == CKR_OK && n > 0)
		for (CK_ULONG i = 0; i < n; i++)
			json_array_append_new(list, describe(t, objs[i]));
	BACKEND_CALL(s, find_objects_final);
	return list;
}
