/*
 * `hsmux status --keys`: the keys of each token that break the policy's
 * rules, with the reasons. Keys made on the backend before hsmux fronted it
 * can break them; hsmux then uses them only within the rules, and this
 * list tells the SO which keys to fix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_info.h"
#include "cli_keys.h"

struct keys_run {
	const struct hsmux_admin_functions *admin;
	const char *pin_file;
	json_t *tokens;   /* one object per token checked */
	size_t attempted; /* tokens that a login was tried on */
	size_t failed;    /* tokens that could not be read, logged in to or checked */
};

static size_t outside_count(json_t *keys)
{
	size_t i, n = 0;
	json_t *key;

	json_array_foreach(keys, i, key)
	{
		if (!json_is_true(json_object_get(key, "within_rules")))
			n++;
	}
	return n;
}

/* Logs in to the token in slot and adds its keys to run->tokens. Returns 0, or 1. */
static int check_token(struct cli *cli, struct keys_run *run, CK_SLOT_ID slot,
                       const CK_SLOT_INFO *slot_info, const CK_TOKEN_INFO *info)
{
	char label[sizeof(info->label) + 1], serial[sizeof(info->serialNumber) + 1];
	char backend[64], desc[sizeof(slot_info->slotDescription) + 1];
	CK_SESSION_HANDLE session;
	json_t *keys, *token;

	cli_field_string(info->label, sizeof(info->label), label);
	cli_field_string(info->serialNumber, sizeof(info->serialNumber), serial);
	cli_slot_backend(slot_info, backend, sizeof(backend), desc, sizeof(desc));
	run->attempted++;
	if (cli_login(cli, slot, CKU_USER, run->pin_file, &session) != 0)
		return 1;
	keys = cli_keys_json(cli, run->admin, session, label);
	cli->fl->C_CloseSession(session);
	if (!keys)
		return 1;
	token = json_pack("{s:I, s:o, s:s, s:s, s:I, s:I, s:o}", "slot", (json_int_t)slot,
	                  "backend", backend[0] ? json_string(backend) : json_null(), "label",
	                  label, "serial", serial, "key_count", (json_int_t)json_array_size(keys),
	                  "outside_rules", (json_int_t)outside_count(keys), "keys", keys);
	if (!token || json_array_append_new(run->tokens, token) != 0) {
		cli_error("out of memory");
		return 1;
	}
	return 0;
}

/* A token found in a slot, before it is logged in to. */
struct found_token {
	CK_SLOT_ID slot;
	CK_SLOT_INFO slot_info;
	CK_TOKEN_INFO info;
};

/* Reads the token in slot. Returns 0 with *found set, or 1 after printing a message. */
static int read_token(struct cli *cli, CK_SLOT_ID slot, struct found_token *found)
{
	CK_RV rv;

	found->slot = slot;
	rv = cli->fl->C_GetSlotInfo(slot, &found->slot_info);
	if (rv == CKR_OK && !(found->slot_info.flags & CKF_TOKEN_PRESENT))
		rv = CKR_TOKEN_NOT_PRESENT;
	if (rv == CKR_OK)
		rv = cli->fl->C_GetTokenInfo(slot, &found->info);
	if (rv != CKR_OK) {
		cli_error("cannot read the token in slot %lu: %s", (unsigned long)slot,
		          cli_rv_name(rv));
		return 1;
	}
	return 0;
}

/* Orders tokens by label, then serial number, as `hsmux token list` does. */
static int compare_found(const void *a, const void *b)
{
	const struct found_token *x = a, *y = b;
	int c = memcmp(x->info.label, y->info.label, sizeof(x->info.label));

	return c ? c
	         : memcmp(x->info.serialNumber, y->info.serialNumber, sizeof(x->info.serialNumber));
}

/*
 * Checks every initialized token, in label order, so that the output and the
 * messages read the same whatever order the backend gives the slots in.
 */
static int check_all_slots(struct cli *cli, struct keys_run *run)
{
	struct found_token *found = NULL;
	CK_SLOT_ID *slots;
	CK_ULONG count, i;
	size_t n = 0;
	CK_SLOT_INFO slot_info;

	if (cli_slot_list(cli, &slots, &count) != 0)
		return 1;
	found = calloc(count ? count : 1, sizeof(*found));
	if (!found) {
		free(slots);
		cli_error("out of memory");
		return 1;
	}
	for (i = 0; i < count; i++) {
		if (cli->fl->C_GetSlotInfo(slots[i], &slot_info) == CKR_OK &&
		    !(slot_info.flags & CKF_TOKEN_PRESENT))
			continue;
		if (read_token(cli, slots[i], &found[n]) != 0)
			run->failed++;
		else if (found[n].info.flags & CKF_TOKEN_INITIALIZED)
			n++;
	}
	qsort(found, n, sizeof(*found), compare_found);
	for (i = 0; i < n; i++)
		run->failed += (size_t)check_token(cli, run, found[i].slot, &found[i].slot_info,
		                                   &found[i].info);
	free(found);
	free(slots);
	return 0;
}

/* A named token is tried even uninitialized, so that cli_login reports what is wrong. */
static int check_named(struct cli *cli, struct keys_run *run, const char *token)
{
	struct found_token found;
	CK_SLOT_ID slot;

	if (cli_find_token(cli, token, &slot) != 0 || read_token(cli, slot, &found) != 0)
		return 1;
	return check_token(cli, run, slot, &found.slot_info, &found.info);
}

static void print_key(json_t *key)
{
	const char *label = json_string_value(json_object_get(key, "label"));
	const char *id = json_string_value(json_object_get(key, "id"));
	char *reasons = strdup(json_string_value(json_object_get(key, "reason")));
	char *reason, *rest;

	printf("  %s %s %s%s%s, %s%s\n",
	       cli_key_type_text(json_string_value(json_object_get(key, "key_type"))),
	       cli_key_class_text(json_string_value(json_object_get(key, "class"))),
	       label[0] ? "'" : "", label[0] ? label : "without a label", label[0] ? "'" : "",
	       id[0] ? "id " : "no id", id);
	if (!reasons)
		return;
	/* The policy joins its reasons with "; ": one line each reads better. */
	for (reason = strtok_r(reasons, ";", &rest); reason; reason = strtok_r(NULL, ";", &rest))
		printf("    - %s\n", reason + strspn(reason, " "));
	free(reasons);
}

static void print_token(json_t *token)
{
	const char *backend = json_string_value(json_object_get(token, "backend"));
	json_int_t count = json_integer_value(json_object_get(token, "key_count"));
	json_int_t outside = json_integer_value(json_object_get(token, "outside_rules"));
	size_t i;
	json_t *key;

	printf("Token '%s'", json_string_value(json_object_get(token, "label")));
	if (backend)
		printf(" (backend %s)", backend);
	printf(": %" JSON_INTEGER_FORMAT " key%s, ", count, count == 1 ? "" : "s");
	if (count == 0)
		printf("nothing to check\n");
	else if (outside == 0)
		printf("%s within the rules\n", count == 1 ? "it is" : "all");
	else
		printf("%" JSON_INTEGER_FORMAT " outside the rules:\n", outside);
	json_array_foreach(json_object_get(token, "keys"), i, key)
	{
		if (!json_is_true(json_object_get(key, "within_rules")))
			print_key(key);
	}
}

static void print_text(json_t *tokens)
{
	size_t i, outside = 0;
	json_t *token;

	json_array_foreach(tokens, i, token)
	{
		if (i > 0)
			putchar('\n');
		print_token(token);
		outside += (size_t)json_integer_value(json_object_get(token, "outside_rules"));
	}
	if (outside > 0)
		printf(
		    "\nhsmux uses a key outside the rules only as far as the rules allow. To fix\n"
		    "one, switch off the role it must not hold, or make it sensitive and not\n"
		    "extractable, with C_SetAttributeValue through hsmux (the SO marks an\n"
		    "imported wrapping key CKA_TRUSTED); or replace it with a key made\n"
		    "through hsmux.\n");
}

/* Says why nothing was checked, when nothing was. Returns 1 then, else 0. */
static int report_nothing_checked(const struct keys_run *run)
{
	if (json_array_size(run->tokens) > 0)
		return 0;
	if (run->attempted == 0)
		cli_error("no initialized token to check; create one with "
		          "`hsmux token init --label LABEL`");
	else
		cli_error(
		    "no token was logged in, so no key was checked; give the user PIN "
		    "with --pin-file FILE or $HSMUX_PIN, or name one token with --token TOKEN");
	return 1;
}

int status_keys(struct cli *cli, const char *token, const char *pin_file)
{
	struct keys_run run = {.pin_file = pin_file};
	int ret = CLI_EXIT_FAILURE;

	run.admin = cli_keys_admin(cli);
	if (!run.admin)
		return CLI_EXIT_FAILURE;
	run.tokens = json_array();
	if (!run.tokens)
		return CLI_EXIT_FAILURE;
	/* A named token that fails has had its message: nothing more to say. */
	if (token ? check_named(cli, &run, token) != 0 : check_all_slots(cli, &run) != 0)
		goto out;
	if (report_nothing_checked(&run) != 0)
		goto out;
	if (cli->json) {
		json_t *root =
		    json_pack("{s:s, s:O}", "module", cli->module_path, "tokens", run.tokens);

		if (!root || cli_print_json(root) != 0)
			run.failed++;
		json_decref(root);
	} else {
		print_text(run.tokens);
	}
	ret = run.failed ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
out:
	json_decref(run.tokens);
	return ret;
}
