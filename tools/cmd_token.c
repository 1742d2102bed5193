/* `hsmux token`: initialize a token on a backend, and list tokens. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_info.h"
#include "cmd_token.h"

static void token_usage(FILE *out)
{
	fputs("Usage: hsmux token init [--backend NAME] --label LABEL [--so-pin-file FILE]\n"
	      "                        [--pin-file FILE]\n"
	      "       hsmux token list [--json]\n"
	      "       hsmux token check-pin --token TOKEN [--so] [--pin-file FILE]\n"
	      "                             [--so-pin-file FILE]\n"
	      "\n"
	      "Actions:\n"
	      "  init       initializes the free token of a backend: sets its label and SO\n"
	      "             PIN (C_InitToken), then logs in as SO and sets the user PIN\n"
	      "             (C_InitPIN). --backend may be left out when the module has one\n"
	      "             backend. Each PIN comes from its file option (first line of the\n"
	      "             file), else from HSMUX_SO_PIN / HSMUX_PIN, else from a prompt\n"
	      "             that asks twice.\n"
	      "  list       lists the initialized tokens, sorted by label: label, serial\n"
	      "             number, backend, slot, model and flags.\n"
	      "  check-pin  logs in to TOKEN and out again, to check the user PIN, or the\n"
	      "             SO PIN with --so. No object is read or changed.\n"
	      "\n"
	      "Options:\n"
	      "      --backend NAME      backend to create the token on (see `hsmux status`)\n"
	      "      --label LABEL       token label, 1 to 32 bytes, unique in the module\n"
	      "      --so-pin-file FILE  file whose first line is the SO PIN\n"
	      "      --pin-file FILE     file whose first line is the user PIN\n"
	      "      --token TOKEN       token label, or a PKCS#11 URI such as\n"
	      "                          pkcs11:token=LABEL;serial=SERIAL\n"
	      "      --so                check-pin: check the SO PIN\n"
	      "      --json              list: print a JSON array of slots\n"
	      "  -h, --help              show this help\n",
	      out);
}

static void print_token_row(json_t *slot)
{
	json_t *token = json_object_get(slot, "token");
	const char *backend = json_string_value(json_object_get(slot, "backend"));
	char flags[512];

	cli_token_flags_text(token, flags, sizeof(flags));
	printf("'%s'  serial %s  backend %s  slot %" JSON_INTEGER_FORMAT "  model %s\n  %s\n",
	       json_string_value(json_object_get(token, "label")),
	       json_string_value(json_object_get(token, "serial")), backend ? backend : "-",
	       json_integer_value(json_object_get(slot, "id")),
	       json_string_value(json_object_get(token, "model")), flags);
}

static const char *slot_token_field(json_t *slot, const char *name)
{
	return json_string_value(json_object_get(json_object_get(slot, "token"), name));
}

static int compare_by_label(const void *a, const void *b)
{
	json_t *slot_a = *(json_t *const *)a;
	json_t *slot_b = *(json_t *const *)b;
	int order = strcmp(slot_token_field(slot_a, "label"), slot_token_field(slot_b, "label"));

	if (order != 0)
		return order;
	return strcmp(slot_token_field(slot_a, "serial"), slot_token_field(slot_b, "serial"));
}

/* Returns the slots of initialized tokens, sorted by label, then serial number. */
static json_t *initialized_tokens(json_t *all_slots)
{
	size_t n = json_array_size(all_slots), used = 0, i;
	json_t **sorted = calloc(n ? n : 1, sizeof(*sorted));
	json_t *slots = json_array();
	json_t *slot;

	if (!sorted || !slots) {
		free(sorted);
		json_decref(slots);
		return NULL;
	}
	json_array_foreach(all_slots, i, slot)
	{
		if (json_is_true(json_object_get(json_object_get(slot, "token"), "initialized")))
			sorted[used++] = slot;
	}
	qsort(sorted, used, sizeof(*sorted), compare_by_label);
	for (i = 0; i < used; i++)
		json_array_append(slots, sorted[i]);
	free(sorted);
	return slots;
}

static int token_list(struct cli *cli)
{
	json_t *status, *slots, *slot;
	size_t i;
	int ret = 0;

	status = cli_status_json(cli);
	if (!status)
		return CLI_EXIT_FAILURE;
	slots = initialized_tokens(json_object_get(status, "slots"));
	if (!slots) {
		json_decref(status);
		cli_error("out of memory");
		return CLI_EXIT_FAILURE;
	}

	if (cli->json) {
		ret = cli_print_json(slots);
	} else if (json_array_size(slots) == 0) {
		printf(
		    "No initialized tokens; create one with `hsmux token init --label LABEL`.\n");
	} else {
		json_array_foreach(slots, i, slot) print_token_row(slot);
	}
	json_decref(slots);
	json_decref(status);
	return ret ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

static int token_check_pin(struct cli *cli, const struct token_init_args *args)
{
	CK_SESSION_HANDLE session;
	CK_SLOT_ID slot;
	CK_TOKEN_INFO info;
	char label[sizeof(info.label) + 1];

	if (!args->token) {
		cli_error(
		    "check-pin needs the token; add --token LABEL or --token pkcs11:token=LABEL");
		return CLI_EXIT_USAGE;
	}
	if (cli_find_token(cli, args->token, &slot) != 0)
		return CLI_EXIT_FAILURE;
	if (cli_login(cli, slot, args->so ? CKU_SO : CKU_USER,
	              args->so ? args->so_pin_file : args->pin_file, &session) != 0)
		return CLI_EXIT_FAILURE;

	cli->fl->C_Logout(session);
	cli->fl->C_CloseSession(session);
	if (cli->fl->C_GetTokenInfo(slot, &info) == CKR_OK)
		cli_field_string(info.label, sizeof(info.label), label);
	else
		snprintf(label, sizeof(label), "%s", args->token);
	printf("The %s PIN of token '%s' is correct.\n", args->so ? "SO" : "user", label);
	return CLI_EXIT_OK;
}

/* Parses the options into args-> Returns -1 to go on, else the exit status. */
static int parse_token_options(struct cli *cli, int argc, char **argv, struct token_init_args *args)
{
	static const struct option options[] = {
	    {"backend", required_argument, NULL, 'b'},
	    {"label", required_argument, NULL, 'l'},
	    {"so-pin-file", required_argument, NULL, 's'},
	    {"pin-file", required_argument, NULL, 'p'},
	    {"token", required_argument, NULL, 't'},
	    {"so", no_argument, NULL, 'o'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'b':
			args->backend = optarg;
			break;
		case 'l':
			args->label = optarg;
			break;
		case 's':
			args->so_pin_file = optarg;
			break;
		case 'p':
			args->pin_file = optarg;
			break;
		case 't':
			args->token = optarg;
			break;
		case 'o':
			args->so = true;
			break;
		case 'j':
			cli->json = true;
			break;
		case 'h':
			token_usage(stdout);
			return CLI_EXIT_OK;
		default:
			fputs("Try `hsmux token --help`.\n", stderr);
			return CLI_EXIT_USAGE;
		}
	}
	return -1;
}

/* Rejects an option that the action does not take, so that a typo is not ignored. */
static int check_action_options(const char *action, const struct token_init_args *args)
{
	bool init = strcmp(action, "init") == 0;
	bool check_pin = strcmp(action, "check-pin") == 0;
	const char *stray = NULL;

	if (!init && args->backend)
		stray = "--backend";
	else if (!init && args->label)
		stray = "--label";
	else if (!check_pin && args->token)
		stray = "--token";
	else if (!check_pin && args->so)
		stray = "--so";
	else if (!init && !check_pin && args->pin_file)
		stray = "--pin-file";
	else if (!init && !check_pin && args->so_pin_file)
		stray = "--so-pin-file";

	if (stray) {
		cli_error("token %s does not take %s; see `hsmux token --help`", action, stray);
		return 1;
	}
	return 0;
}

int cmd_token(struct cli *cli, int argc, char **argv)
{
	struct token_init_args args = {0};
	const char *action;
	int ret;

	ret = parse_token_options(cli, argc, argv, &args);
	if (ret >= 0)
		return ret;
	if (optind >= argc) {
		cli_error(
		    "token needs an action: init, list or check-pin; see `hsmux token --help`");
		return CLI_EXIT_USAGE;
	}
	action = argv[optind++];
	if (optind < argc) {
		cli_error("unexpected argument '%s'; see `hsmux token --help`", argv[optind]);
		return CLI_EXIT_USAGE;
	}

	if (strcmp(action, "list") != 0 && strcmp(action, "init") != 0 &&
	    strcmp(action, "check-pin") != 0) {
		cli_error(
		    "unknown token action '%s'; use init, list or check-pin (see `hsmux token "
		    "--help`)",
		    action);
		return CLI_EXIT_USAGE;
	}
	if (check_action_options(action, &args) != 0)
		return CLI_EXIT_USAGE;

	if (strcmp(action, "list") == 0)
		return token_list(cli);
	if (strcmp(action, "init") == 0)
		return token_init(cli, &args);
	return token_check_pin(cli, &args);
}
