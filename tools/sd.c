/* `hsmux sd`: activate a token's security domain and recover it into a new token. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "module/admin/sd_file.h"
#include "sd_cli.h"

int cmd_sd(struct cli *cli, int argc, char **argv);

static void sd_usage(FILE *out)
{
	fputs("Usage: hsmux sd download --token TOKEN --custodian FILE (3 to 10 times)\n"
	      "                         --quorum M --out sd.json [--pin-file FILE]\n"
	      "       hsmux sd init-recovery --token TOKEN --out exchange.pem [--pin-file FILE]\n"
	      "       hsmux sd recover --sd sd.json --custodian-key FILE (M times or more)\n"
	      "                        --exchange exchange.pem --out upload.json\n"
	      "       hsmux sd upload --token TOKEN --in upload.json [--pin-file FILE]\n"
	      "\n"
	      "Actions:\n"
	      "  download       activates the token's security domain: the token makes a\n"
	      "                 256-bit key, which is split so that any M of the custodians\n"
	      "                 can rebuild it, each share encrypted to one custodian's RSA\n"
	      "                 key, all written to sd.json. Backups need an active domain.\n"
	      "  init-recovery  makes a new token's RSA exchange key and writes its public\n"
	      "                 key, for the custodians' recover step.\n"
	      "  recover        offline, without the module: decrypts the shares of the\n"
	      "                 given custodian keys, rebuilds the key, checks it against\n"
	      "                 sd.json, and wraps it to the exchange key into upload.json.\n"
	      "  upload         gives the new token the security-domain key from\n"
	      "                 upload.json; then `hsmux restore` can restore backups.\n"
	      "\n"
	      "Options:\n"
	      "      --token TOKEN         token label, or a PKCS#11 URI\n"
	      "      --custodian FILE      a custodian's RSA public key or X.509 certificate\n"
	      "                            (PEM), 2048 bits or more\n"
	      "      --quorum M            how many custodians are needed, 2 to their number\n"
	      "      --custodian-key FILE  a custodian's RSA private key (PEM)\n"
	      "      --sd FILE             the sd.json that `hsmux sd download` wrote\n"
	      "      --exchange FILE       the exchange key that `hsmux sd init-recovery` wrote\n"
	      "      --in FILE, --out FILE input and output files; outputs are written\n"
	      "                            atomically\n"
	      "      --pin-file FILE       file whose first line is the user PIN (else\n"
	      "                            HSMUX_PIN, else a prompt)\n"
	      "  -h, --help                show this help\n",
	      out);
}

/* Reads a PEM public key or certificate as DER SubjectPublicKeyInfo. */
static unsigned char *custodian_der(const char *path, size_t *len)
{
	BIO *bio = BIO_new_file(path, "r");
	EVP_PKEY *key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	int n;

	if (bio && !key) {
		X509 *cert;

		(void)BIO_reset(bio);
		cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		key = cert ? X509_get_pubkey(cert) : NULL;
		X509_free(cert);
	}
	BIO_free(bio);
	n = key ? i2d_PUBKEY(key, &der) : -1;
	EVP_PKEY_free(key);
	if (n <= 0)
		return NULL;
	*len = (size_t)n;
	return der;
}

struct sd_opts {
	const char *token, *pin_file, *out, *in, *sd, *exchange;
	const char *files[SD_CUSTODIANS_MAX + 1];
	size_t n_files;
	long quorum;
};

static int parse_opts(int argc, char **argv, struct sd_opts *o)
{
	static const struct option options[] = {{"token", required_argument, NULL, 't'},
	                                        {"pin-file", required_argument, NULL, 'p'},
	                                        {"out", required_argument, NULL, 'o'},
	                                        {"in", required_argument, NULL, 'i'},
	                                        {"sd", required_argument, NULL, 's'},
	                                        {"exchange", required_argument, NULL, 'e'},
	                                        {"custodian", required_argument, NULL, 'c'},
	                                        {"custodian-key", required_argument, NULL, 'k'},
	                                        {"quorum", required_argument, NULL, 'q'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {NULL, 0, NULL, 0}};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 't':
			o->token = optarg;
			break;
		case 'p':
			o->pin_file = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'i':
			o->in = optarg;
			break;
		case 's':
			o->sd = optarg;
			break;
		case 'e':
			o->exchange = optarg;
			break;
		case 'c':
		case 'k':
			if (o->n_files == SD_CUSTODIANS_MAX) {
				cli_error("more than %d custodian keys given", SD_CUSTODIANS_MAX);
				return CLI_EXIT_USAGE;
			}
			o->files[o->n_files++] = optarg;
			break;
		case 'q':
			o->quorum = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || o->quorum < 1) {
				cli_error("--quorum '%s' is not a positive number", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'h':
			sd_usage(stdout);
			return -1;
		default:
			sd_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	return optind < argc ? (cli_error("unexpected argument '%s'", argv[optind]), CLI_EXIT_USAGE)
	                     : 0;
}

static int need(const char *value, const char *option, const char *action)
{
	if (value)
		return 0;
	cli_error("sd %s needs %s; see `hsmux sd --help`", action, option);
	return CLI_EXIT_USAGE;
}

static int sd_download(struct cli *cli, const struct sd_opts *o)
{
	unsigned char *der[SD_CUSTODIANS_MAX] = {0};
	size_t len[SD_CUSTODIANS_MAX];
	struct sd_cli_session s;
	char err[512] = "", fp[65];
	int status = CLI_EXIT_FAILURE;
	CK_RV rv;

	if (need(o->token, "--token", "download") || need(o->out, "--out", "download") ||
	    need(o->quorum ? "" : NULL, "--quorum", "download"))
		return CLI_EXIT_USAGE;
	if (o->n_files < SD_CUSTODIANS_MIN || o->quorum < SD_QUORUM_MIN ||
	    (size_t)o->quorum > o->n_files) {
		cli_error("give %d to %d --custodian keys and a --quorum from %d to their number "
		          "(%zu keys, quorum %ld given)",
		          SD_CUSTODIANS_MIN, SD_CUSTODIANS_MAX, SD_QUORUM_MIN, o->n_files,
		          o->quorum);
		return CLI_EXIT_USAGE;
	}
	for (size_t i = 0; i < o->n_files; i++) {
		der[i] = custodian_der(o->files[i], &len[i]);
		if (!der[i]) {
			cli_error("custodian key '%s' is not a PEM public key or certificate; "
			          "give the custodian's RSA public key",
			          o->files[i]);
			goto out;
		}
	}
	if (sd_cli_open(cli, o->token, o->pin_file, &s) != 0)
		goto out;
	rv = s.admin->sd_activate(s.session, (const unsigned char *const *)der, len, o->n_files,
	                          (unsigned int)o->quorum, o->out, err, sizeof(err));
	if (rv == CKR_OK)
		rv = s.admin->sd_fingerprint(s.session, fp, err, sizeof(err));
	sd_cli_close(cli, &s);
	if (rv != CKR_OK) {
		sd_cli_fail("sd download", rv, err);
		goto out;
	}
	printf("Security domain %s activated on token '%s'.\n"
	       "Wrote %s: keep it, and give each custodian the fingerprint above.\n"
	       "Any %ld of the %zu custodians can restore backups into a new token.\n",
	       fp, o->token, o->out, o->quorum, o->n_files);
	status = CLI_EXIT_OK;
out:
	for (size_t i = 0; i < o->n_files; i++)
		OPENSSL_free(der[i]);
	return status;
}

static int sd_token_action(struct cli *cli, const struct sd_opts *o, bool upload)
{
	const char *action = upload ? "upload" : "init-recovery";
	const char *file = upload ? o->in : o->out;
	struct sd_cli_session s;
	char err[512] = "";
	CK_RV rv;

	if (need(o->token, "--token", action) || need(file, upload ? "--in" : "--out", action))
		return CLI_EXIT_USAGE;
	if (sd_cli_open(cli, o->token, o->pin_file, &s) != 0)
		return CLI_EXIT_FAILURE;
	rv = upload ? s.admin->sd_upload(s.session, file, err, sizeof(err))
	            : s.admin->sd_init_recovery(s.session, file, err, sizeof(err));
	sd_cli_close(cli, &s);
	if (rv != CKR_OK) {
		sd_cli_fail(upload ? "sd upload" : "sd init-recovery", rv, err);
		return CLI_EXIT_FAILURE;
	}
	if (upload)
		printf("Token '%s' now holds the security-domain key; restore a backup with "
		       "`hsmux restore --token %s --in FILE`.\n",
		       o->token, o->token);
	else
		printf("Wrote the exchange key of token '%s' to %s; the custodians run `hsmux "
		       "sd recover` with it.\n",
		       o->token, file);
	return CLI_EXIT_OK;
}

int cmd_sd(struct cli *cli, int argc, char **argv)
{
	struct sd_opts o = {0};
	const char *action;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		sd_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	action = argv[1];
	rc = parse_opts(argc - 1, argv + 1, &o);
	if (rc != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (strcmp(action, "download") == 0)
		return sd_download(cli, &o);
	if (strcmp(action, "init-recovery") == 0)
		return sd_token_action(cli, &o, false);
	if (strcmp(action, "upload") == 0)
		return sd_token_action(cli, &o, true);
	if (strcmp(action, "recover") == 0)
		return sd_cmd_recover_opts(o.sd, o.files, o.n_files, o.exchange, o.out);
	cli_error("unknown action 'sd %s'; see `hsmux sd --help`", action);
	return CLI_EXIT_USAGE;
}
