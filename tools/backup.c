/* `hsmux backup`, `hsmux backup inspect` and `hsmux restore`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "module/admin/backup_file.h"
#include "sd_cli.h"

int cmd_backup(struct cli *cli, int argc, char **argv);
int cmd_restore(struct cli *cli, int argc, char **argv);

static void backup_usage(FILE *out, bool restore)
{
	if (restore)
		fputs("Usage: hsmux restore --token TOKEN --in FILE [--pin-file FILE]\n"
		      "       hsmux backup --token TOKEN --out FILE [--pin-file FILE]\n"
		      "       hsmux backup inspect FILE\n",
		      out);
	else
		fputs("Usage: hsmux backup --token TOKEN --out FILE [--pin-file FILE]\n"
		      "       hsmux backup inspect FILE\n"
		      "       hsmux restore --token TOKEN --in FILE [--pin-file FILE]\n",
		      out);
	fputs("\n"
	      "backup writes every object of the token, in the backend's own protected\n"
	      "form, encrypted under a key derived from the security-domain key; the file\n"
	      "is written atomically. backup inspect prints the manifest (time, security\n"
	      "domain, objects) without any key: it is not authenticated until a restore.\n"
	      "restore replaces the token's store with the backup, atomically; the token\n"
	      "needs the same security domain (`hsmux sd upload`). The restored token has\n"
	      "the source token's label, serial number and PINs.\n"
	      "\n"
	      "Options:\n"
	      "      --token TOKEN    token label, or a PKCS#11 URI\n"
	      "      --out FILE       backup file to write\n"
	      "      --in FILE        backup file to restore\n"
	      "      --pin-file FILE  file whose first line is the user PIN (else HSMUX_PIN,\n"
	      "                       else a prompt)\n"
	      "  -h, --help           show this help\n",
	      out);
}

static int parse(int argc, char **argv, const char **token, const char **file,
                 const char **pin_file, bool restore)
{
	static const struct option options[] = {
	    {"token", required_argument, NULL, 't'}, {"out", required_argument, NULL, 'o'},
	    {"in", required_argument, NULL, 'i'},    {"pin-file", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
	int c;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == 't')
			*token = optarg;
		else if (c == 'p')
			*pin_file = optarg;
		else if ((c == 'o' && !restore) || (c == 'i' && restore))
			*file = optarg;
		else if (c == 'h') {
			backup_usage(stdout, restore);
			return -1;
		} else {
			backup_usage(stderr, restore);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc || !*token || !*file) {
		cli_error("%s needs --token and %s; see `hsmux %s --help`",
		          restore ? "restore" : "backup", restore ? "--in" : "--out",
		          restore ? "restore" : "backup");
		return CLI_EXIT_USAGE;
	}
	return 0;
}

static int inspect(struct cli *cli, const char *path)
{
	char err[256] = "", *text;
	struct bk_reader *r;
	FILE *in = fopen(path, "rb");

	if (!in) {
		cli_error("cannot read '%s'", path);
		return CLI_EXIT_FAILURE;
	}
	r = bk_reader_open(in, err, sizeof(err));
	fclose(in);
	if (!r) {
		cli_error("'%s' cannot be read: %s", path, err);
		return CLI_EXIT_FAILURE;
	}
	text = json_dumps(bk_reader_header(r)->root, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!cli->json)
		printf("Manifest of %s (not authenticated: only a restore checks it):\n", path);
	printf("%s\n", text ? text : "{}");
	free(text);
	bk_reader_free(r);
	return CLI_EXIT_OK;
}

static int run(struct cli *cli, int argc, char **argv, bool restore)
{
	const char *token = NULL, *file = NULL, *pin_file = NULL;
	struct sd_cli_session s;
	char err[512] = "";
	int rc = parse(argc, argv, &token, &file, &pin_file, restore);
	CK_RV rv;

	if (rc != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (sd_cli_open(cli, token, pin_file, &s) != 0)
		return CLI_EXIT_FAILURE;
	rv = restore ? s.admin->restore(s.session, file, err, sizeof(err))
	             : s.admin->backup(s.session, file, err, sizeof(err));
	/* A restore closes the slot's sessions itself. */
	if (restore && rv == CKR_OK)
		s.session = CK_INVALID_HANDLE;
	sd_cli_close(cli, &s);
	if (rv != CKR_OK) {
		sd_cli_fail(restore ? "restore" : "backup", rv, err);
		return CLI_EXIT_FAILURE;
	}
	if (restore)
		printf("Restored %s into token '%s'.\n", file, token);
	else
		printf("Wrote the backup of token '%s' to %s.\n", token, file);
	return CLI_EXIT_OK;
}

int cmd_backup(struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "inspect") == 0) {
		if (argc != 3) {
			cli_error("backup inspect needs one FILE; see `hsmux backup --help`");
			return CLI_EXIT_USAGE;
		}
		return inspect(cli, argv[2]);
	}
	return run(cli, argc, argv, false);
}

int cmd_restore(struct cli *cli, int argc, char **argv)
{
	return run(cli, argc, argv, true);
}
