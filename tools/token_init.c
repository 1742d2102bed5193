/* `hsmux token init`: C_InitToken with the SO PIN, then C_InitPIN as SO. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "cmd_token.h"

/* The result of one pass over the slots for `token init`. */
struct slot_search {
	const struct token_init_args *args;
	bool found; /* an uninitialized token on the requested backend */
	CK_SLOT_ID slot;
	bool backend_seen; /* the requested backend has at least one slot */
	bool label_taken;
	CK_SLOT_ID taken_slot;
	char backends[256]; /* distinct backend names, comma-separated */
	unsigned int n_backends;
};

static int check_label(const char *label)
{
	size_t len = label ? strlen(label) : 0;

	if (len == 0) {
		cli_error("token init needs a label; add --label LABEL");
		return 1;
	}
	if (len > 32) {
		cli_error("label '%s' is %zu bytes long; a token label has at most 32", label, len);
		return 1;
	}
	/* A label is padded with blanks, so trailing blanks would not survive. */
	if (label[len - 1] == ' ') {
		cli_error("label '%s' ends with a blank; remove the trailing blanks", label);
		return 1;
	}
	if (strncmp(label, "pkcs11:", 7) == 0) {
		cli_error("label '%s' looks like a PKCS#11 URI; choose a label that does not "
		          "start with 'pkcs11:'",
		          label);
		return 1;
	}
	return 0;
}

static void note_backend(struct slot_search *s, const char *name)
{
	char quoted[80];
	size_t used = strlen(s->backends);

	snprintf(quoted, sizeof(quoted), "'%s'", name);
	if (strstr(s->backends, quoted))
		return;
	snprintf(s->backends + used, sizeof(s->backends) - used, "%s%s", used ? ", " : "", quoted);
	s->n_backends++;
}

static void search_slot(struct cli *cli, struct slot_search *s, CK_SLOT_ID id)
{
	CK_SLOT_INFO info;
	CK_TOKEN_INFO token;
	char backend[64], rest[80], label[sizeof(token.label) + 1];
	bool on_backend;

	if (cli->fl->C_GetSlotInfo(id, &info) != CKR_OK)
		return;
	if (cli_slot_backend(&info, backend, sizeof(backend), rest, sizeof(rest)))
		note_backend(s, backend);
	on_backend = !s->args->backend || strcmp(s->args->backend, backend) == 0;
	if (on_backend)
		s->backend_seen = true;

	if (!(info.flags & CKF_TOKEN_PRESENT) || cli->fl->C_GetTokenInfo(id, &token) != CKR_OK)
		return;
	if (token.flags & CKF_TOKEN_INITIALIZED) {
		cli_field_string(token.label, sizeof(token.label), label);
		if (strcmp(label, s->args->label) == 0) {
			s->label_taken = true;
			s->taken_slot = id;
		}
	} else if (on_backend && !s->found) {
		s->found = true;
		s->slot = id;
	}
}

/* Finds the slot to initialize, or explains why there is none. */
static int find_free_slot(struct cli *cli, const struct token_init_args *args, CK_SLOT_ID *slot)
{
	struct slot_search s = {.args = args};
	CK_SLOT_ID *ids;
	CK_ULONG count, i;

	if (cli_slot_list(cli, &ids, &count) != 0)
		return 1;
	for (i = 0; i < count; i++)
		search_slot(cli, &s, ids[i]);
	free(ids);

	if (s.label_taken) {
		cli_error("a token labelled '%s' already exists in slot %lu; choose another label "
		          "(see `hsmux token list`)",
		          args->label, (unsigned long)s.taken_slot);
		return 1;
	}
	if (args->backend && !s.backend_seen && s.n_backends == 0) {
		cli_error("no backend named '%s': module '%s' has no hsmux backends; leave out "
		          "--backend",
		          args->backend, cli->module_path);
		return 1;
	}
	if (args->backend && !s.backend_seen) {
		cli_error("no backend named '%s'; the module has %s (see `hsmux status`)",
		          args->backend, s.backends);
		return 1;
	}
	if (!args->backend && s.n_backends > 1) {
		cli_error("this module has several backends (%s); choose one with --backend NAME",
		          s.backends);
		return 1;
	}
	if (!s.found) {
		cli_error("no uninitialized token on %s%s%s; every token there is initialized "
		          "already (see `hsmux token list`)",
		          args->backend ? "backend '" : "this module",
		          args->backend ? args->backend : "", args->backend ? "'" : "");
		return 1;
	}
	*slot = s.slot;
	return 0;
}

static int check_pin_length(const char *role, const char *pin, const CK_TOKEN_INFO *info)
{
	size_t len = strlen(pin);

	if ((info->ulMinPinLen && len < info->ulMinPinLen) ||
	    (info->ulMaxPinLen && len > info->ulMaxPinLen)) {
		cli_error("the %s PIN has %zu characters, but this token takes %lu to %lu", role,
		          len, (unsigned long)info->ulMinPinLen, (unsigned long)info->ulMaxPinLen);
		return 1;
	}
	return 0;
}

static int read_pins(struct cli *cli, const struct token_init_args *args, CK_SLOT_ID slot,
                     char *so_pin, char *user_pin, size_t len)
{
	CK_TOKEN_INFO info;
	CK_RV rv;

	rv = cli->fl->C_GetTokenInfo(slot, &info);
	if (rv != CKR_OK) {
		cli_error("cannot read the token in slot %lu: C_GetTokenInfo returned %s",
		          (unsigned long)slot, cli_rv_name(rv));
		return 1;
	}
	if (cli_read_new_pin("New SO PIN: ", args->so_pin_file, "HSMUX_SO_PIN", so_pin, len) != 0 ||
	    check_pin_length("SO", so_pin, &info) != 0)
		return 1;
	if (cli_read_new_pin("New user PIN: ", args->pin_file, "HSMUX_PIN", user_pin, len) != 0 ||
	    check_pin_length("user", user_pin, &info) != 0)
		return 1;
	return 0;
}

static int init_token(struct cli *cli, CK_SLOT_ID slot, const char *so_pin, const char *label)
{
	CK_UTF8CHAR padded[32];
	CK_RV rv;

	memset(padded, ' ', sizeof(padded));
	memcpy(padded, label, strlen(label));
	rv = cli->fl->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), padded);
	if (rv == CKR_OK)
		return 0;

	if (rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_INVALID)
		cli_error("the token in slot %lu rejected the SO PIN (%s); choose another SO PIN",
		          (unsigned long)slot, cli_rv_name(rv));
	else if (rv == CKR_SESSION_EXISTS)
		cli_error("the token in slot %lu has open sessions; close the programs that "
		          "use it and try again",
		          (unsigned long)slot);
	else
		cli_error("initializing the token in slot %lu failed: C_InitToken returned %s",
		          (unsigned long)slot, cli_rv_name(rv));
	return 1;
}

/* Logs in as SO with so_pin and sets the user PIN. */
static int init_user_pin(struct cli *cli, CK_SLOT_ID slot, const char *so_pin, const char *user_pin,
                         const char *label)
{
	CK_SESSION_HANDLE session;
	const char *step = "C_OpenSession";
	CK_RV rv;

	rv =
	    cli->fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session);
	if (rv != CKR_OK)
		goto out;
	step = "C_Login as SO";
	rv = cli->fl->C_Login(session, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin));
	if (rv == CKR_OK) {
		step = "C_InitPIN";
		rv = cli->fl->C_InitPIN(session, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin));
		cli->fl->C_Logout(session);
	}
	cli->fl->C_CloseSession(session);
out:
	if (rv != CKR_OK)
		cli_error("token '%s' is initialized, but setting its user PIN failed: %s returned "
		          "%s; set it with `pkcs11-tool --init-pin --login --login-type so`",
		          label, step, cli_rv_name(rv));
	return rv == CKR_OK ? 0 : 1;
}

static void report_done(struct cli *cli, const char *label)
{
	CK_SLOT_ID slot;
	CK_SLOT_INFO info;
	CK_TOKEN_INFO token;
	char backend[64], rest[80], serial[sizeof(token.serialNumber) + 1];

	/* The slot ID may change once a token is initialized (SoftHSM does this). */
	if (cli_find_token(cli, label, &slot) != 0 ||
	    cli->fl->C_GetSlotInfo(slot, &info) != CKR_OK ||
	    cli->fl->C_GetTokenInfo(slot, &token) != CKR_OK) {
		printf("Initialized token '%s'.\n", label);
		return;
	}
	cli_field_string(token.serialNumber, sizeof(token.serialNumber), serial);
	if (cli_slot_backend(&info, backend, sizeof(backend), rest, sizeof(rest)))
		printf("Initialized token '%s' (serial %s) in slot %lu of backend '%s'.\n", label,
		       serial, (unsigned long)slot, backend);
	else
		printf("Initialized token '%s' (serial %s) in slot %lu.\n", label, serial,
		       (unsigned long)slot);
}

int token_init(struct cli *cli, const struct token_init_args *args)
{
	char so_pin[CLI_PIN_MAX + 1], user_pin[CLI_PIN_MAX + 1];
	CK_SLOT_ID slot;
	int ret = CLI_EXIT_FAILURE;

	if (check_label(args->label) != 0)
		return CLI_EXIT_USAGE;
	if (cli_module_load(cli) != 0 || find_free_slot(cli, args, &slot) != 0)
		return CLI_EXIT_FAILURE;

	if (read_pins(cli, args, slot, so_pin, user_pin, sizeof(so_pin)) != 0)
		goto out;
	if (init_token(cli, slot, so_pin, args->label) != 0)
		goto out;
	if (init_user_pin(cli, slot, so_pin, user_pin, args->label) != 0)
		goto out;
	report_done(cli, args->label);
	ret = CLI_EXIT_OK;
out:
	OPENSSL_cleanse(so_pin, sizeof(so_pin));
	OPENSSL_cleanse(user_pin, sizeof(user_pin));
	return ret;
}
