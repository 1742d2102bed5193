/* `hsmux status`: the module, its backends, slots, tokens and mechanisms. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_info.h"
#include "cli_keys.h"

static void status_usage(FILE *out)
{
	fputs("Usage: hsmux status [--json]\n"
	      "       hsmux status --keys [--token TOKEN] [--pin-file FILE] [--json]\n"
	      "\n"
	      "Shows the PKCS#11 module, its backends, and for each slot the token (label,\n"
	      "serial number, model, flags), the login state of a new session and the\n"
	      "number of mechanisms. A token's backend is the NAME in its slot description\n"
	      "\"hsmux NAME: ...\"; the slots of another module are listed without one.\n"
	      "\n"
	      "With --keys, it logs in as user to each initialized token, or to TOKEN, and\n"
	      "checks every private, secret and public key against hsmux's policy. For\n"
	      "each token it prints the number of keys, and for each key outside the\n"
	      "rules (one made on the backend before hsmux, say) its label, CKA_ID, type\n"
	      "and the rules it breaks. hsmux uses such a key only within the rules. The\n"
	      "user PIN comes from --pin-file, else HSMUX_PIN, else a prompt. This needs\n"
	      "libhsmux.so as the module.\n"
	      "\n"
	      "Options:\n"
	      "      --json           print one JSON object: module, backends, slots; with\n"
	      "                       --keys: module, tokens (each with its keys)\n"
	      "      --keys           check the keys of the tokens against the policy\n"
	      "      --token TOKEN    --keys: only this token (label or PKCS#11 URI)\n"
	      "      --pin-file FILE  --keys: file whose first line is the user PIN\n"
	      "  -h, --help           show this help\n",
	      out);
}

static const char *login_state_text(json_t *state)
{
	const char *s = json_string_value(state);

	if (!s)
		return "no session could be opened";
	if (strcmp(s, "user") == 0)
		return "logged in as user";
	if (strcmp(s, "so") == 0)
		return "logged in as SO";
	return "not logged in";
}

static void print_token(json_t *token)
{
	char flags[512];

	if (json_is_true(json_object_get(token, "initialized")))
		printf("    Token '%s', serial %s, model %s\n",
		       json_string_value(json_object_get(token, "label")),
		       json_string_value(json_object_get(token, "serial")),
		       json_string_value(json_object_get(token, "model")));
	else
		printf("    Token not initialized, model %s\n",
		       json_string_value(json_object_get(token, "model")));

	cli_token_flags_text(token, flags, sizeof(flags));
	printf("      flags:      %s\n", flags[0] ? flags : "none");
	if (json_is_true(json_object_get(token, "initialized")))
		printf("      login:      %s\n",
		       login_state_text(json_object_get(token, "login_state")));
}

static void print_slot(json_t *slot)
{
	json_t *token = json_object_get(slot, "token");
	json_t *mechanisms = json_object_get(slot, "mechanism_count");

	printf("  Slot %" JSON_INTEGER_FORMAT ": %s\n",
	       json_integer_value(json_object_get(slot, "id")),
	       json_string_value(json_object_get(slot, "description")));
	if (!json_is_object(token)) {
		printf("    no token\n");
		return;
	}
	print_token(token);
	if (json_is_integer(mechanisms))
		printf("      mechanisms: %" JSON_INTEGER_FORMAT "\n",
		       json_integer_value(mechanisms));
}

/* Prints the slots whose backend is name; NULL selects slots of no backend. */
static void print_slots_of(json_t *slots, const char *name)
{
	const char *backend;
	json_t *slot;
	size_t i;

	json_array_foreach(slots, i, slot)
	{
		backend = json_string_value(json_object_get(slot, "backend"));
		if ((!name && !backend) || (name && backend && strcmp(name, backend) == 0))
			print_slot(slot);
	}
}

static void print_status_text(json_t *root)
{
	json_t *module = json_object_get(root, "module");
	json_t *backends = json_object_get(root, "backends");
	json_t *slots = json_object_get(root, "slots");
	json_t *backend;
	size_t i, unnamed = 0;
	json_t *slot;

	printf("Module %s\n", json_string_value(json_object_get(module, "path")));
	printf("  %s %s (%s), Cryptoki %s\n",
	       json_string_value(json_object_get(module, "description")),
	       json_string_value(json_object_get(module, "library_version")),
	       json_string_value(json_object_get(module, "manufacturer")),
	       json_string_value(json_object_get(module, "cryptoki_version")));

	json_array_foreach(backends, i, backend)
	{
		printf("\nBackend %s\n", json_string_value(json_object_get(backend, "name")));
		print_slots_of(slots, json_string_value(json_object_get(backend, "name")));
	}

	json_array_foreach(slots, i, slot)
	{
		if (json_is_null(json_object_get(slot, "backend")))
			unnamed++;
	}
	if (unnamed > 0) {
		printf("\n%s\n", json_array_size(backends) ? "Slots of no hsmux backend" : "Slots");
		print_slots_of(slots, NULL);
	}
	if (json_array_size(slots) == 0)
		printf("\nNo slots.\n");
}

static int print_status(struct cli *cli)
{
	json_t *root;
	int ret;

	root = cli_status_json(cli);
	if (!root)
		return CLI_EXIT_FAILURE;
	if (cli->json) {
		ret = cli_print_json(root);
	} else {
		print_status_text(root);
		ret = 0;
	}
	json_decref(root);
	return ret ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

int cmd_status(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, 'j'},        {"keys", no_argument, NULL, 'k'},
	    {"token", required_argument, NULL, 't'}, {"pin-file", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
	};
	const char *token = NULL, *pin_file = NULL;
	bool keys = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'j':
			cli->json = true;
			break;
		case 'k':
			keys = true;
			break;
		case 't':
			token = optarg;
			break;
		case 'p':
			pin_file = optarg;
			break;
		case 'h':
			status_usage(stdout);
			return CLI_EXIT_OK;
		default:
			fputs("Try `hsmux status --help`.\n", stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_error("status takes no arguments, but got '%s'; see `hsmux status --help`",
		          argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (!keys && (token || pin_file)) {
		cli_error("--%s needs --keys; see `hsmux status --help`",
		          token ? "token" : "pin-file");
		return CLI_EXIT_USAGE;
	}
	return keys ? status_keys(cli, token, pin_file) : print_status(cli);
}
