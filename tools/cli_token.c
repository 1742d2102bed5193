/* Naming a token by label or PKCS#11 URI, and logging in to it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <p11-kit/uri.h>

#include "cli.h"

/* A token argument: a label, or a parsed PKCS#11 URI. */
struct token_query {
	const char *text;
	P11KitUri *uri; /* NULL for a label */
	CK_INFO module_info;
};

static int query_init(struct cli *cli, struct token_query *q, const char *token)
{
	int ret;

	memset(q, 0, sizeof(*q));
	q->text = token;
	if (token[0] == '\0') {
		cli_error("the token name is empty; give a label or a URI such as "
		          "pkcs11:token=LABEL");
		return 1;
	}
	if (strncmp(token, P11_KIT_URI_SCHEME ":", P11_KIT_URI_SCHEME_LEN + 1) != 0)
		return 0;

	q->uri = p11_kit_uri_new();
	if (!q->uri) {
		cli_error("out of memory");
		return 1;
	}
	ret = p11_kit_uri_parse(token,
	                        P11_KIT_URI_FOR_TOKEN | P11_KIT_URI_FOR_SLOT |
	                            P11_KIT_URI_FOR_MODULE_WITH_VERSION,
	                        q->uri);
	if (ret != P11_KIT_URI_OK) {
		cli_error("invalid PKCS#11 URI '%s': %s; write it as pkcs11:token=LABEL", token,
		          p11_kit_uri_message(ret));
		return 1;
	}
	if (p11_kit_uri_get_pin_value(q->uri) || p11_kit_uri_get_pin_source(q->uri)) {
		/* Do not echo the URI back: it carries the PIN. */
		cli_error("the token URI contains a PIN, which would be visible to other users "
		          "in the process list; remove it and use --pin-file FILE or HSMUX_PIN");
		return 1;
	}
	if (p11_kit_uri_any_unrecognized(q->uri)) {
		cli_error("PKCS#11 URI '%s' has an attribute that hsmux does not know; name "
		          "the token with pkcs11:token=LABEL",
		          token);
		return 1;
	}
	if (cli->fl->C_GetInfo(&q->module_info) != CKR_OK)
		memset(&q->module_info, 0, sizeof(q->module_info));
	return 0;
}

static void query_cleanup(struct token_query *q)
{
	if (q->uri)
		p11_kit_uri_free(q->uri);
	q->uri = NULL;
}

static bool query_match(const struct token_query *q, CK_SLOT_ID id, const CK_SLOT_INFO *slot,
                        const CK_TOKEN_INFO *token)
{
	char label[sizeof(token->label) + 1];
	CK_SLOT_ID uri_slot;

	if (!(token->flags & CKF_TOKEN_INITIALIZED))
		return false;
	if (!q->uri) {
		cli_field_string(token->label, sizeof(token->label), label);
		return strcmp(label, q->text) == 0;
	}

	uri_slot = p11_kit_uri_get_slot_id(q->uri);
	if (uri_slot != (CK_SLOT_ID)-1 && uri_slot != id)
		return false;
	return p11_kit_uri_match_module_info(q->uri, &q->module_info) &&
	       p11_kit_uri_match_slot_info(q->uri, slot) &&
	       p11_kit_uri_match_token_info(q->uri, token);
}

static void report_no_match(const struct token_query *q, CK_ULONG matches)
{
	if (matches == 0 && !q->uri) {
		cli_error("no token labelled '%s'; list tokens with `hsmux token list`", q->text);
		return;
	}
	if (matches == 0) {
		cli_error("no token matches '%s'; list tokens with `hsmux token list`", q->text);
		return;
	}
	cli_error("%lu tokens match '%s'; name one by serial number with a URI such as "
	          "'pkcs11:token=LABEL;serial=SERIAL' (see `hsmux token list`)",
	          (unsigned long)matches, q->text);
}

int cli_find_token(struct cli *cli, const char *token, CK_SLOT_ID *slot)
{
	struct token_query q;
	CK_SLOT_ID *slots = NULL;
	CK_SLOT_INFO slot_info;
	CK_TOKEN_INFO token_info;
	CK_ULONG count, i, matches = 0;
	int ret = 1;

	if (cli_module_load(cli) != 0)
		return 1;
	if (query_init(cli, &q, token) != 0)
		goto out;
	if (cli_slot_list(cli, &slots, &count) != 0)
		goto out;

	for (i = 0; i < count; i++) {
		if (cli->fl->C_GetSlotInfo(slots[i], &slot_info) != CKR_OK ||
		    !(slot_info.flags & CKF_TOKEN_PRESENT))
			continue;
		if (cli->fl->C_GetTokenInfo(slots[i], &token_info) != CKR_OK)
			continue;
		if (query_match(&q, slots[i], &slot_info, &token_info)) {
			*slot = slots[i];
			matches++;
		}
	}

	if (matches != 1) {
		report_no_match(&q, matches);
		goto out;
	}
	ret = 0;
out:
	free(slots);
	query_cleanup(&q);
	return ret;
}

/* Explains a failed C_Login in terms of the token and what to do next. */
static void report_login_failure(struct cli *cli, CK_SLOT_ID slot, CK_USER_TYPE user,
                                 const char *label, CK_RV rv)
{
	const char *role = user == CKU_SO ? "SO" : "user";
	const char *source =
	    user == CKU_SO ? "--so-pin-file or HSMUX_SO_PIN" : "--pin-file or HSMUX_PIN";
	CK_TOKEN_INFO info;
	CK_FLAGS final_try = user == CKU_SO ? CKF_SO_PIN_FINAL_TRY : CKF_USER_PIN_FINAL_TRY;

	switch (rv) {
	case CKR_PIN_INCORRECT:
		if (cli->fl->C_GetTokenInfo(slot, &info) == CKR_OK && (info.flags & final_try))
			cli_error("wrong %s PIN for token '%s'; one more wrong PIN locks it", role,
			          label);
		else
			cli_error("wrong %s PIN for token '%s'; check the PIN given by %s", role,
			          label, source);
		break;
	case CKR_PIN_LOCKED:
		cli_error("the %s PIN of token '%s' is locked; %s", role, label,
		          user == CKU_SO ? "re-initialize the token to recover it"
		                         : "the SO must set a new user PIN");
		break;
	case CKR_USER_PIN_NOT_INITIALIZED:
		cli_error("token '%s' has no user PIN yet; the SO must set one (for a new token, "
		          "`hsmux token init` sets both PINs)",
		          label);
		break;
	case CKR_PIN_LEN_RANGE:
		cli_error("the %s PIN for token '%s' has the wrong length; check %s", role, label,
		          source);
		break;
	default:
		cli_error("login as %s to token '%s' failed: C_Login returned %s", role, label,
		          cli_rv_name(rv));
		break;
	}
}

static CK_RV login_with_pin(struct cli *cli, CK_SESSION_HANDLE session, CK_USER_TYPE user,
                            const char *pin_file, const char *label, bool *pin_read_failed)
{
	char prompt[96];
	char pin[CLI_PIN_MAX + 1];
	const char *env = user == CKU_SO ? "HSMUX_SO_PIN" : "HSMUX_PIN";
	CK_RV rv;

	snprintf(prompt, sizeof(prompt), "%s PIN for token '%s': ", user == CKU_SO ? "SO" : "User",
	         label);
	if (cli_read_pin(prompt, pin_file, env, pin, sizeof(pin)) != 0) {
		*pin_read_failed = true;
		return CKR_CANCEL;
	}
	rv = cli->fl->C_Login(session, user, (CK_UTF8CHAR_PTR)pin, strlen(pin));
	OPENSSL_cleanse(pin, sizeof(pin));
	return rv;
}

int cli_login(struct cli *cli, CK_SLOT_ID slot, CK_USER_TYPE user, const char *pin_file,
              CK_SESSION_HANDLE *session)
{
	CK_TOKEN_INFO info;
	char label[sizeof(info.label) + 1];
	bool pin_read_failed = false;
	CK_RV rv;

	if (cli_module_load(cli) != 0)
		return 1;
	rv = cli->fl->C_GetTokenInfo(slot, &info);
	if (rv != CKR_OK) {
		cli_error("cannot read the token in slot %lu: C_GetTokenInfo returned %s",
		          (unsigned long)slot, cli_rv_name(rv));
		return 1;
	}
	cli_field_string(info.label, sizeof(info.label), label);

	rv = cli->fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, session);
	if (rv != CKR_OK) {
		cli_error("cannot open a session on token '%s': C_OpenSession returned %s", label,
		          cli_rv_name(rv));
		return 1;
	}

	if (info.flags & CKF_PROTECTED_AUTHENTICATION_PATH)
		rv = cli->fl->C_Login(*session, user, NULL, 0);
	else
		rv = login_with_pin(cli, *session, user, pin_file, label, &pin_read_failed);
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		return 0;

	if (!pin_read_failed)
		report_login_failure(cli, slot, user, label, rv);
	cli->fl->C_CloseSession(*session);
	*session = CK_INVALID_HANDLE;
	return 1;
}
