/* The keys of a token checked against the policy; see cli_keys.h. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_keys.h"

/* The classes searched, in the order a key list is sorted by. */
static const struct {
	CK_OBJECT_CLASS cls;
	const char *name;
	const char *text;
} key_classes[] = {
    {CKO_PRIVATE_KEY, "CKO_PRIVATE_KEY", "private key"},
    {CKO_PUBLIC_KEY, "CKO_PUBLIC_KEY", "public key"},
    {CKO_SECRET_KEY, "CKO_SECRET_KEY", "secret key"},
};

#define N_KEY_CLASSES (sizeof(key_classes) / sizeof(key_classes[0]))

static const struct {
	CK_KEY_TYPE type;
	const char *name;
} key_types[] = {
    {CKK_RSA, "CKK_RSA"},
    {CKK_DSA, "CKK_DSA"},
    {CKK_DH, "CKK_DH"},
    {CKK_EC, "CKK_EC"},
    {CKK_X9_42_DH, "CKK_X9_42_DH"},
    {CKK_EC_EDWARDS, "CKK_EC_EDWARDS"},
    {CKK_EC_MONTGOMERY, "CKK_EC_MONTGOMERY"},
    {CKK_GENERIC_SECRET, "CKK_GENERIC_SECRET"},
    {CKK_AES, "CKK_AES"},
    {CKK_DES, "CKK_DES"},
    {CKK_DES2, "CKK_DES2"},
    {CKK_DES3, "CKK_DES3"},
    {CKK_RC2, "CKK_RC2"},
    {CKK_RC4, "CKK_RC4"},
    {CKK_CAMELLIA, "CKK_CAMELLIA"},
    {CKK_ARIA, "CKK_ARIA"},
    {CKK_MD5_HMAC, "CKK_MD5_HMAC"},
    {CKK_SHA_1_HMAC, "CKK_SHA_1_HMAC"},
    {CKK_SHA224_HMAC, "CKK_SHA224_HMAC"},
    {CKK_SHA256_HMAC, "CKK_SHA256_HMAC"},
    {CKK_SHA384_HMAC, "CKK_SHA384_HMAC"},
    {CKK_SHA512_HMAC, "CKK_SHA512_HMAC"},
    {CKK_GOSTR3410, "CKK_GOSTR3410"},
    {CKK_GOST28147, "CKK_GOST28147"},
};

#define N_KEY_TYPES (sizeof(key_types) / sizeof(key_types[0]))

/* Big enough for every reason policy_status.c gives today, all at once. */
#define REASON_MAX 1024
/* Handles asked for per C_FindObjects call. */
#define FIND_BATCH 64

const struct hsmux_admin_functions *cli_keys_admin(struct cli *cli)
{
	CK_VERSION v = {HSMUX_ADMIN_VERSION_MAJOR, HSMUX_ADMIN_VERSION_MINOR};
	const struct hsmux_admin_functions *admin;
	CK_C_GetInterface get_interface;
	CK_INTERFACE_PTR iface = NULL;
	CK_RV rv;

	if (cli_module_load(cli) != 0)
		return NULL;
	get_interface = (CK_C_GetInterface)dlsym(cli->dl, "C_GetInterface");
	if (!get_interface) {
		cli_error("module '%s' is not hsmux (it has no C_GetInterface), so its keys cannot "
		          "be checked against the policy; load libhsmux.so with --module PATH or "
		          "$HSMUX_MODULE",
		          cli->module_path);
		return NULL;
	}
	rv = get_interface((CK_UTF8CHAR_PTR)HSMUX_ADMIN_INTERFACE, &v, &iface, 0);
	admin = rv == CKR_OK && iface ? iface->pFunctionList : NULL;
	if (!admin || !admin->key_status) {
		cli_error("module '%s' has no \"%s\" interface %d.%d (C_GetInterface returned %s): "
		          "it is not hsmux, or an hsmux older than this tool; load libhsmux.so "
		          "with --module PATH or $HSMUX_MODULE",
		          cli->module_path, HSMUX_ADMIN_INTERFACE, HSMUX_ADMIN_VERSION_MAJOR,
		          HSMUX_ADMIN_VERSION_MINOR, cli_rv_name(rv));
		return NULL;
	}
	return admin;
}

/* Reads one attribute into a new buffer (NULL and 0 when it is empty); the caller frees it. */
static CK_RV read_attr(struct cli *cli, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE obj,
                       CK_ATTRIBUTE_TYPE type, unsigned char **value, CK_ULONG *len)
{
	CK_ATTRIBUTE attr = {type, NULL, 0};
	CK_RV rv;

	*value = NULL;
	*len = 0;
	rv = cli->fl->C_GetAttributeValue(session, obj, &attr, 1);
	if (rv != CKR_OK || attr.ulValueLen == CK_UNAVAILABLE_INFORMATION || attr.ulValueLen == 0)
		return rv;
	attr.pValue = malloc(attr.ulValueLen);
	if (!attr.pValue)
		return CKR_HOST_MEMORY;
	rv = cli->fl->C_GetAttributeValue(session, obj, &attr, 1);
	if (rv != CKR_OK) {
		free(attr.pValue);
		return rv;
	}
	*value = attr.pValue;
	*len = attr.ulValueLen;
	return CKR_OK;
}

static json_t *label_json(const unsigned char *label, CK_ULONG len)
{
	/* json_stringn() rejects a label that is not UTF-8, as JSON must. */
	json_t *s = json_stringn(label ? (const char *)label : "", label ? len : 0);

	return s ? s : json_string("(not UTF-8)");
}

static json_t *hex_json(const unsigned char *bytes, CK_ULONG len)
{
	char *hex = malloc(2 * (size_t)len + 1);
	json_t *s;
	CK_ULONG i;

	if (!hex)
		return NULL;
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
	hex[2 * len] = '\0';
	s = json_string(hex);
	free(hex);
	return s;
}

static json_t *key_type_json(struct cli *cli, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE obj)
{
	CK_KEY_TYPE type;
	CK_ATTRIBUTE attr = {CKA_KEY_TYPE, &type, sizeof(type)};
	char buf[32];
	size_t i;

	if (cli->fl->C_GetAttributeValue(session, obj, &attr, 1) != CKR_OK)
		return json_null();
	for (i = 0; i < N_KEY_TYPES; i++) {
		if (key_types[i].type == type)
			return json_string(key_types[i].name);
	}
	snprintf(buf, sizeof(buf), "CKK_0x%lx", (unsigned long)type);
	return json_string(buf);
}

/* One key as JSON, or NULL after printing a message. */
static json_t *key_json(struct cli *cli, const struct hsmux_admin_functions *admin,
                        CK_SESSION_HANDLE session, CK_OBJECT_HANDLE obj, size_t cls)
{
	unsigned char *label = NULL, *id = NULL;
	CK_ULONG label_len, id_len;
	char reason[REASON_MAX];
	CK_BBOOL within = CK_FALSE;
	json_t *key = NULL;
	CK_RV rv;

	rv = admin->key_status(session, obj, &within, reason, sizeof(reason));
	if (rv == CKR_OK)
		rv = read_attr(cli, session, obj, CKA_LABEL, &label, &label_len);
	if (rv == CKR_OK)
		rv = read_attr(cli, session, obj, CKA_ID, &id, &id_len);
	if (rv != CKR_OK) {
		cli_error("cannot check a %s: %s", key_classes[cls].text, cli_rv_name(rv));
		goto out;
	}
	key = json_pack("{s:o, s:o, s:s, s:o, s:b, s:o}", "label", label_json(label, label_len),
	                "id", hex_json(id, id_len), "class", key_classes[cls].name, "key_type",
	                key_type_json(cli, session, obj), "within_rules", within == CK_TRUE,
	                "reason", within == CK_TRUE ? json_null() : json_string(reason));
	if (!key)
		cli_error("out of memory");
out:
	free(label);
	free(id);
	return key;
}

/* Appends the keys of one class to keys. Returns 0, or 1 after printing a message. */
static int find_class(struct cli *cli, const struct hsmux_admin_functions *admin,
                      CK_SESSION_HANDLE session, size_t cls, json_t *keys)
{
	CK_OBJECT_CLASS value = key_classes[cls].cls;
	CK_ATTRIBUTE find = {CKA_CLASS, &value, sizeof(value)};
	CK_OBJECT_HANDLE found[FIND_BATCH];
	CK_ULONG n, i;
	json_t *key;
	CK_RV rv;

	rv = cli->fl->C_FindObjectsInit(session, &find, 1);
	if (rv != CKR_OK) {
		cli_error("cannot search for keys: C_FindObjectsInit returned %s", cli_rv_name(rv));
		return 1;
	}
	/* Every handle is taken first: key_status searches too, for the other half of a pair. */
	do {
		rv = cli->fl->C_FindObjects(session, found, FIND_BATCH, &n);
		for (i = 0; rv == CKR_OK && i < n; i++)
			json_array_append_new(keys, json_integer((json_int_t)found[i]));
	} while (rv == CKR_OK && n == FIND_BATCH);
	cli->fl->C_FindObjectsFinal(session);
	if (rv != CKR_OK) {
		cli_error("cannot search for keys: C_FindObjects returned %s", cli_rv_name(rv));
		return 1;
	}
	json_array_foreach(keys, i, key)
	{
		if (!json_is_integer(key))
			continue;
		key = key_json(cli, admin, session, (CK_OBJECT_HANDLE)json_integer_value(key), cls);
		if (!key)
			return 1;
		json_array_set_new(keys, i, key);
	}
	return 0;
}

static size_t class_rank(json_t *key)
{
	const char *name = json_string_value(json_object_get(key, "class"));
	size_t i;

	for (i = 0; i < N_KEY_CLASSES; i++) {
		if (name && strcmp(name, key_classes[i].name) == 0)
			return i;
	}
	return N_KEY_CLASSES;
}

static int compare_keys(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(json_string_value(json_object_get(x, "label")),
	               json_string_value(json_object_get(y, "label")));

	if (c == 0)
		c = (int)class_rank(x) - (int)class_rank(y);
	if (c == 0)
		c = strcmp(json_string_value(json_object_get(x, "id")),
		           json_string_value(json_object_get(y, "id")));
	return c;
}

/* Sorts keys, so that the list reads the same whatever order the token finds them in. */
static json_t *sorted(json_t *keys)
{
	size_t n = json_array_size(keys), i;
	json_t **items = calloc(n ? n : 1, sizeof(*items));
	json_t *out = json_array();

	if (!items || !out) {
		free(items);
		json_decref(out);
		return NULL;
	}
	for (i = 0; i < n; i++)
		items[i] = json_array_get(keys, i);
	qsort(items, n, sizeof(*items), compare_keys);
	for (i = 0; i < n; i++)
		json_array_append(out, items[i]);
	free(items);
	return out;
}

json_t *cli_keys_json(struct cli *cli, const struct hsmux_admin_functions *admin,
                      CK_SESSION_HANDLE session, const char *token)
{
	json_t *keys = json_array(), *out = NULL;
	size_t cls;

	for (cls = 0; keys && cls < N_KEY_CLASSES; cls++) {
		json_t *found = json_array();

		if (!found || find_class(cli, admin, session, cls, found) != 0 ||
		    json_array_extend(keys, found) != 0) {
			json_decref(found);
			cli_error("could not check the keys of token '%s'", token);
			goto out;
		}
		json_decref(found);
	}
	out = keys ? sorted(keys) : NULL;
out:
	json_decref(keys);
	return out;
}

const char *cli_key_class_text(const char *class_name)
{
	size_t i;

	for (i = 0; i < N_KEY_CLASSES; i++) {
		if (class_name && strcmp(class_name, key_classes[i].name) == 0)
			return key_classes[i].text;
	}
	return "key";
}

const char *cli_key_type_text(const char *type_name)
{
	if (!type_name)
		return "unknown type";
	return strncmp(type_name, "CKK_", 4) == 0 ? type_name + 4 : type_name;
}
