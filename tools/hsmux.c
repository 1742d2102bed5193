/*
 * hsmux: the command-line tool. It parses the global options, chooses the
 * PKCS#11 module and hands the rest of the command line to one command
 * from the table below.
 */
#include <getopt.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef HSMUX_VERSION
#define HSMUX_VERSION "unknown"
#endif

typedef int (*cli_command_fn)(struct cli *cli, int argc, char **argv);

int cmd_status(struct cli *cli, int argc, char **argv);
int cmd_token(struct cli *cli, int argc, char **argv);

/*
 * Command groups that live in their own files. Each is weak, so a build
 * without the file still links and leaves the command out of the table.
 */
int cmd_byok(struct cli *cli, int argc, char **argv) __attribute__((weak));
int cmd_sd(struct cli *cli, int argc, char **argv) __attribute__((weak));
int cmd_backup(struct cli *cli, int argc, char **argv) __attribute__((weak));
int cmd_restore(struct cli *cli, int argc, char **argv) __attribute__((weak));

struct command {
	const char *name;
	cli_command_fn run; /* NULL when the command's file was not linked */
	const char *summary;
};

static const struct command commands[] = {
    {"status", cmd_status, "show backends, slots, tokens and mechanisms"},
    {"token", cmd_token, "initialize and list tokens"},
    {"byok", cmd_byok, "import your own keys under a key-exchange key"},
    {"sd", cmd_sd, "manage the security domain"},
    {"backup", cmd_backup, "back up tokens under the security domain"},
    {"restore", cmd_restore, "restore a backup with a quorum of custodians"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	size_t i;

	fputs("Usage: hsmux [--module PATH] [--json] COMMAND [ARGS...]\n"
	      "\n"
	      "Administers the tokens behind the hsmux PKCS#11 module. Every action goes\n"
	      "through the module, so its policy applies to the tool as to any client.\n"
	      "\n"
	      "Commands:\n",
	      out);
	for (i = 0; i < N_COMMANDS; i++) {
		if (commands[i].run)
			fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	}
	fputs("\n"
	      "Options:\n"
	      "  -m, --module PATH  PKCS#11 module to load (default below)\n"
	      "      --json         print JSON instead of text, where a command supports it\n"
	      "  -h, --help         show this help; `hsmux COMMAND --help` shows a command's\n"
	      "  -V, --version      show the version\n"
	      "\n"
	      "The module is --module, else $HSMUX_MODULE, else the libhsmux.so installed\n"
	      "beside this program, else the one in its build tree, else libhsmux.so from\n"
	      "the library search path.\n"
	      "\n"
	      "PINs never come from the command line. A command takes them from\n"
	      "--pin-file / --so-pin-file (first line of the file), else from $HSMUX_PIN /\n"
	      "$HSMUX_SO_PIN, else from a prompt on the terminal with echo off.\n"
	      "\n"
	      "Tokens are named by label or by PKCS#11 URI, for example pkcs11:token=payments.\n"
	      "Exit status: 0 on success, 1 on failure, 2 on a usage error.\n",
	      out);
}

/* Looks for libhsmux.so in the lib dir beside this program's bin dir. */
static bool installed_module(char *buf, size_t len)
{
	/* lib/, lib64/ and Debian's lib/<triplet>/ are all covered. */
	static const char *const patterns[] = {"../lib*/libhsmux.so", "../lib/*/libhsmux.so"};
	char exe[PATH_MAX];
	const char *dir;
	char pattern[PATH_MAX + 32];
	glob_t found;
	size_t i;
	ssize_t n;
	bool ok = false;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	dir = dirname(exe);

	for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]) && !ok; i++) {
		snprintf(pattern, sizeof(pattern), "%s/%s", dir, patterns[i]);
		if (glob(pattern, 0, NULL, &found) == 0)
			ok = found.gl_pathc > 0 && realpath(found.gl_pathv[0], buf) &&
			     strlen(buf) < len;
		globfree(&found);
	}
	return ok;
}

/* Chooses the module when --module was not given; see usage(). */
static const char *default_module(char *buf, size_t len)
{
	const char *env = getenv("HSMUX_MODULE");

	if (env && env[0] != '\0')
		return env;
	if (len >= PATH_MAX && installed_module(buf, len))
		return buf;
#ifdef HSMUX_BUILD_MODULE
	if (access(HSMUX_BUILD_MODULE, R_OK) == 0)
		return HSMUX_BUILD_MODULE;
#endif
	return "libhsmux.so";
}

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < N_COMMANDS; i++) {
		if (commands[i].run && strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

static int run_command(struct cli *cli, int argc, char **argv)
{
	const struct command *cmd;
	char *help_argv[] = {NULL, "--help", NULL};

	/* "hsmux help COMMAND" is the same as "hsmux COMMAND --help". */
	if (strcmp(argv[0], "help") == 0) {
		if (argc < 2) {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		help_argv[0] = argv[1];
		argv = help_argv;
		argc = 2;
	}

	cmd = find_command(argv[0]);
	if (!cmd) {
		cli_error("unknown command '%s'; see `hsmux --help` for the list", argv[0]);
		return CLI_EXIT_USAGE;
	}
	optind = 0; /* glibc: a fresh getopt_long() scan for the command */
	return cmd->run(cli, argc, argv);
}

/* Parses the options before the command. Returns -1 to go on, else the exit status. */
static int parse_global_options(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
	    {"module", required_argument, NULL, 'm'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	/* "+": stop at the command, whose options are its own. */
	while ((opt = getopt_long(argc, argv, "+m:hV", options, NULL)) != -1) {
		switch (opt) {
		case 'm':
			cli->module_path = optarg;
			break;
		case 'j':
			cli->json = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			printf("hsmux %s\n", HSMUX_VERSION);
			return CLI_EXIT_OK;
		default:
			fputs("Try `hsmux --help`.\n", stderr);
			return CLI_EXIT_USAGE;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	static char module_buf[PATH_MAX];
	struct cli cli = {0};
	int ret;

	if (argc < 1) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	argv[0] = "hsmux"; /* getopt_long() names the program by it in its messages */

	ret = parse_global_options(&cli, argc, argv);
	if (ret >= 0)
		return ret;
	if (optind >= argc) {
		cli_error("no command given; see `hsmux --help` for the list");
		return CLI_EXIT_USAGE;
	}
	if (!cli.module_path)
		cli.module_path = default_module(module_buf, sizeof(module_buf));

	ret = run_command(&cli, argc - optind, argv + optind);
	cli_module_unload(&cli);
	return ret;
}
