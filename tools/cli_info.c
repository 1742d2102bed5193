/* The module, slots and tokens as JSON objects; see cli_info.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_info.h"

static const struct {
	CK_FLAGS flag;
	const char *name; /* the spec's name, for JSON */
	const char *text; /* words, for text output */
} token_flags[] = {
    {CKF_TOKEN_INITIALIZED, "CKF_TOKEN_INITIALIZED", "initialized"},
    {CKF_LOGIN_REQUIRED, "CKF_LOGIN_REQUIRED", "login required"},
    {CKF_USER_PIN_INITIALIZED, "CKF_USER_PIN_INITIALIZED", "user PIN set"},
    {CKF_PROTECTED_AUTHENTICATION_PATH, "CKF_PROTECTED_AUTHENTICATION_PATH",
     "protected authentication path"},
    {CKF_WRITE_PROTECTED, "CKF_WRITE_PROTECTED", "write-protected"},
    {CKF_RNG, "CKF_RNG", "RNG"},
    {CKF_CLOCK_ON_TOKEN, "CKF_CLOCK_ON_TOKEN", "clock"},
    {CKF_RESTORE_KEY_NOT_NEEDED, "CKF_RESTORE_KEY_NOT_NEEDED", "restore key not needed"},
    {CKF_DUAL_CRYPTO_OPERATIONS, "CKF_DUAL_CRYPTO_OPERATIONS", "dual crypto operations"},
    {CKF_SECONDARY_AUTHENTICATION, "CKF_SECONDARY_AUTHENTICATION", "secondary authentication"},
    {CKF_USER_PIN_COUNT_LOW, "CKF_USER_PIN_COUNT_LOW", "user PIN count low"},
    {CKF_USER_PIN_FINAL_TRY, "CKF_USER_PIN_FINAL_TRY", "user PIN final try"},
    {CKF_USER_PIN_LOCKED, "CKF_USER_PIN_LOCKED", "user PIN locked"},
    {CKF_USER_PIN_TO_BE_CHANGED, "CKF_USER_PIN_TO_BE_CHANGED", "user PIN to be changed"},
    {CKF_SO_PIN_COUNT_LOW, "CKF_SO_PIN_COUNT_LOW", "SO PIN count low"},
    {CKF_SO_PIN_FINAL_TRY, "CKF_SO_PIN_FINAL_TRY", "SO PIN final try"},
    {CKF_SO_PIN_LOCKED, "CKF_SO_PIN_LOCKED", "SO PIN locked"},
    {CKF_SO_PIN_TO_BE_CHANGED, "CKF_SO_PIN_TO_BE_CHANGED", "SO PIN to be changed"},
};

#define N_TOKEN_FLAGS (sizeof(token_flags) / sizeof(token_flags[0]))

static json_t *field_json(const CK_UTF8CHAR *field, size_t len)
{
	char buf[65];
	json_t *s;

	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	cli_field_string(field, len, buf);

	/* json_string() rejects a field that is not UTF-8, as JSON must. */
	s = json_string(buf);
	return s ? s : json_string("(not UTF-8)");
}

static json_t *version_json(CK_VERSION v)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u.%u", v.major, v.minor);
	return json_string(buf);
}

json_t *cli_module_json(struct cli *cli)
{
	CK_INFO info;
	CK_RV rv;

	if (cli_module_load(cli) != 0)
		return NULL;
	rv = cli->fl->C_GetInfo(&info);
	if (rv != CKR_OK) {
		cli_error("cannot read the information of module '%s': C_GetInfo returned %s",
		          cli->module_path, cli_rv_name(rv));
		return NULL;
	}
	return json_pack("{s:s, s:o, s:o, s:o, s:o}", "path", cli->module_path, "manufacturer",
	                 field_json(info.manufacturerID, sizeof(info.manufacturerID)),
	                 "description",
	                 field_json(info.libraryDescription, sizeof(info.libraryDescription)),
	                 "library_version", version_json(info.libraryVersion), "cryptoki_version",
	                 version_json(info.cryptokiVersion));
}

/* The login state seen by a new session, or JSON null when none opens. */
static json_t *login_state_json(struct cli *cli, CK_SLOT_ID slot)
{
	CK_SESSION_HANDLE session;
	CK_SESSION_INFO info;
	CK_RV rv;

	if (cli->fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &session) != CKR_OK)
		return json_null();
	rv = cli->fl->C_GetSessionInfo(session, &info);
	cli->fl->C_CloseSession(session);
	if (rv != CKR_OK)
		return json_null();

	switch (info.state) {
	case CKS_RO_USER_FUNCTIONS:
	case CKS_RW_USER_FUNCTIONS:
		return json_string("user");
	case CKS_RW_SO_FUNCTIONS:
		return json_string("so");
	default:
		return json_string("public");
	}
}

static json_t *token_json(struct cli *cli, CK_SLOT_ID slot, const CK_TOKEN_INFO *info)
{
	json_t *flags = json_array();
	bool initialized = info->flags & CKF_TOKEN_INITIALIZED;
	size_t i;

	for (i = 0; i < N_TOKEN_FLAGS; i++) {
		if (info->flags & token_flags[i].flag)
			json_array_append_new(flags, json_string(token_flags[i].name));
	}
	return json_pack("{s:o, s:o, s:o, s:o, s:b, s:b, s:b, s:o, s:I, s:I, s:o}", "label",
	                 field_json(info->label, sizeof(info->label)), "serial",
	                 field_json(info->serialNumber, sizeof(info->serialNumber)), "model",
	                 field_json(info->model, sizeof(info->model)), "manufacturer",
	                 field_json(info->manufacturerID, sizeof(info->manufacturerID)),
	                 "initialized", initialized, "login_required",
	                 (bool)(info->flags & CKF_LOGIN_REQUIRED), "user_pin_initialized",
	                 (bool)(info->flags & CKF_USER_PIN_INITIALIZED), "login_state",
	                 initialized ? login_state_json(cli, slot) : json_null(), "min_pin_length",
	                 (json_int_t)info->ulMinPinLen, "max_pin_length",
	                 (json_int_t)info->ulMaxPinLen, "flags", flags);
}

static json_t *mechanism_count_json(struct cli *cli, CK_SLOT_ID slot)
{
	CK_ULONG count = 0;

	if (cli->fl->C_GetMechanismList(slot, NULL, &count) != CKR_OK)
		return json_null();
	return json_integer((json_int_t)count);
}

json_t *cli_slot_json(struct cli *cli, CK_SLOT_ID slot)
{
	CK_SLOT_INFO info;
	CK_TOKEN_INFO token_info;
	char backend[64], desc[sizeof(info.slotDescription) + 1];
	json_t *token = NULL;
	CK_RV rv;

	rv = cli->fl->C_GetSlotInfo(slot, &info);
	if (rv != CKR_OK) {
		cli_error("cannot read slot %lu: C_GetSlotInfo returned %s", (unsigned long)slot,
		          cli_rv_name(rv));
		return NULL;
	}
	if ((info.flags & CKF_TOKEN_PRESENT) &&
	    cli->fl->C_GetTokenInfo(slot, &token_info) == CKR_OK)
		token = token_json(cli, slot, &token_info);

	cli_slot_backend(&info, backend, sizeof(backend), desc, sizeof(desc));
	return json_pack(
	    "{s:I, s:o, s:s, s:o, s:b, s:o, s:o}", "id", (json_int_t)slot, "backend",
	    backend[0] ? json_string(backend) : json_null(), "description", desc, "manufacturer",
	    field_json(info.manufacturerID, sizeof(info.manufacturerID)), "token_present",
	    (bool)(info.flags & CKF_TOKEN_PRESENT), "token", token ? token : json_null(),
	    "mechanism_count", token ? mechanism_count_json(cli, slot) : json_null());
}

/* Groups slot ids by backend name, in the order the backends first appear. */
static json_t *backends_json(json_t *slots)
{
	json_t *backends = json_array();
	json_t *by_name = json_object();
	json_t *slot, *entry;
	const char *name;
	size_t i;

	json_array_foreach(slots, i, slot)
	{
		name = json_string_value(json_object_get(slot, "backend"));
		if (!name)
			continue;
		entry = json_object_get(by_name, name);
		if (!entry) {
			entry = json_pack("{s:s, s:[]}", "name", name, "slots");
			json_object_set(by_name, name, entry);
			json_array_append_new(backends, entry);
		}
		json_array_append(json_object_get(entry, "slots"), json_object_get(slot, "id"));
	}
	json_decref(by_name);
	return backends;
}

json_t *cli_status_json(struct cli *cli)
{
	CK_SLOT_ID *ids = NULL;
	CK_ULONG count, i;
	json_t *module, *slots, *slot;

	module = cli_module_json(cli);
	if (!module)
		return NULL;
	if (cli_slot_list(cli, &ids, &count) != 0) {
		json_decref(module);
		return NULL;
	}

	slots = json_array();
	for (i = 0; i < count; i++) {
		slot = cli_slot_json(cli, ids[i]);
		if (slot)
			json_array_append_new(slots, slot);
	}
	free(ids);
	return json_pack("{s:o, s:o, s:o}", "module", module, "backends", backends_json(slots),
	                 "slots", slots);
}

int cli_print_json(json_t *root)
{
	if (json_dumpf(root, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF) {
		cli_error("cannot write JSON to standard output");
		return 1;
	}
	return 0;
}

void cli_token_flags_text(json_t *token, char *buf, size_t len)
{
	json_t *flags = json_object_get(token, "flags");
	json_t *flag;
	size_t i, j, used = 0;

	buf[0] = '\0';
	json_array_foreach(flags, i, flag)
	{
		for (j = 0; j < N_TOKEN_FLAGS && used < len; j++) {
			if (strcmp(token_flags[j].name, json_string_value(flag)) != 0)
				continue;
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
			                         token_flags[j].text);
			break;
		}
	}
}
