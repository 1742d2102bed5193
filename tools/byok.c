/*
 * `hsmux byok`: bring your own key. A customer wraps a key under the
 * token's key-exchange key (KEK) with CKM_RSA_AES_KEY_WRAP on their own
 * side, and the token unwraps it, so the key is in plaintext only in the
 * customer's and in the token's hands.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "byok.h"
#include "byok_file.h"
#include "byok_p11.h"

#ifndef HSMUX_VERSION
#define HSMUX_VERSION "unknown"
#endif

static void byok_usage(FILE *out)
{
	fputs(
	    "Usage: hsmux byok kek create --token TOKEN --label KEK [--bits 2048|3072|4096]\n"
	    "       hsmux byok kek export --token TOKEN --label KEK --out KEK.pem\n"
	    "       hsmux byok wrap --kek-pub KEK.pem --key KEYFILE [--aes] [--kid ID]\n"
	    "                       [--oaep sha1|sha256] --out KEY.byok [--pub-out PUB.pem]\n"
	    "       hsmux byok import --token TOKEN --kek KEK --in KEY.byok --label LABEL\n"
	    "                         [--id HEX] [--oaep sha1|sha256] [--type TYPE] [--pub FILE]\n"
	    "\n"
	    "kek create  generates an RSA key-exchange key on the token that can only unwrap\n"
	    "            (sensitive, non-extractable) and prints its kid, a pkcs11: URI.\n"
	    "kek export  writes the KEK's public key as PEM, for the customer.\n"
	    "wrap        (customer side, no token needed) wraps KEYFILE under the KEK with\n"
	    "            CKM_RSA_AES_KEY_WRAP into a .byok file: a fresh AES-256 key under\n"
	    "            RSA-OAEP, and the key under AES key wrap with padding (RFC 5649).\n"
	    "            KEYFILE is a PEM or DER private key (RSA 2048-4096, EC P-256, P-384,\n"
	    "            P-521 or secp256k1, Ed25519), or 16, 24 or 32 raw bytes with --aes.\n"
	    "import      unwraps a .byok file into a sensitive, non-extractable token key\n"
	    "            (sign for RSA, EC and Ed25519; encrypt and decrypt for AES), makes\n"
	    "            the matching public key object, and prints the key's URI.\n"
	    "\n"
	    "Options:\n"
	    "      --token TOKEN     the token, by label or pkcs11:token=LABEL\n"
	    "      --label LABEL     kek: the KEK's label; import: the new key's label\n"
	    "      --bits N          kek create: RSA modulus size in bits (default 3072)\n"
	    "      --out FILE        where to write the PEM or the .byok file\n"
	    "      --kek-pub FILE    wrap: the KEK's public key (PEM or DER)\n"
	    "      --key FILE        wrap: the key to wrap\n"
	    "      --aes             wrap: KEYFILE holds raw AES key bytes\n"
	    "      --kid ID          wrap: the KEK's identifier to record (default: the\n"
	    "                        KEK's fingerprint, sha256:HEX of its public key)\n"
	    "      --oaep HASH       RSA-OAEP hash, also for MGF1: sha1 (default) or sha256\n"
	    "      --pub-out FILE    wrap: also write the key's public key (PEM)\n"
	    "      --kek KEK         import: the label of the KEK\n"
	    "      --in FILE         import: the .byok file\n"
	    "      --id HEX          import: the new key's CKA_ID (default: 16 random bytes)\n"
	    "      --type TYPE       import: rsa, ec, ed25519 or aes (default: found out)\n"
	    "      --pub FILE        import: the key's public key; needed for Ed25519\n"
	    "      --pin-file FILE   file whose first line is the user PIN (else HSMUX_PIN)\n"
	    "  -h, --help            show this help\n",
	    out);
}

enum {
	OPT_TOKEN = 256,
	OPT_LABEL,
	OPT_BITS,
	OPT_OUT,
	OPT_KEK_PUB,
	OPT_KEY,
	OPT_AES,
	OPT_KID,
	OPT_OAEP,
	OPT_PUB_OUT,
	OPT_KEK,
	OPT_IN,
	OPT_ID,
	OPT_TYPE,
	OPT_PUB,
	OPT_PIN_FILE,
};

static int set_option(struct byok_args *args, int opt)
{
	switch (opt) {
	case OPT_TOKEN:
		args->token = optarg;
		break;
	case OPT_LABEL:
		args->label = optarg;
		break;
	case OPT_OUT:
		args->out = optarg;
		break;
	case OPT_KEK_PUB:
		args->kek_pub = optarg;
		break;
	case OPT_KEY:
		args->key = optarg;
		break;
	case OPT_AES:
		args->aes = true;
		break;
	case OPT_KID:
		args->kid = optarg;
		break;
	case OPT_PUB_OUT:
		args->pub_out = optarg;
		break;
	case OPT_KEK:
		args->kek = optarg;
		break;
	case OPT_IN:
		args->in = optarg;
		break;
	case OPT_ID:
		args->id_hex = optarg;
		break;
	case OPT_TYPE:
		args->type = optarg;
		break;
	case OPT_PUB:
		args->pub = optarg;
		break;
	case OPT_PIN_FILE:
		args->pin_file = optarg;
		break;
	case OPT_BITS:
		if (strcmp(optarg, "2048") != 0 && strcmp(optarg, "3072") != 0 &&
		    strcmp(optarg, "4096") != 0) {
			cli_error("--bits '%s' is not 2048, 3072 or 4096", optarg);
			return CLI_EXIT_USAGE;
		}
		args->bits = (unsigned int)strtoul(optarg, NULL, 10);
		break;
	case OPT_OAEP:
		if (!byok_oaep_hash_parse(optarg, &args->oaep)) {
			cli_error("--oaep '%s' is not sha1 or sha256", optarg);
			return CLI_EXIT_USAGE;
		}
		break;
	case 'h':
		byok_usage(stdout);
		return CLI_EXIT_OK;
	default:
		fputs("Try `hsmux byok --help`.\n", stderr);
		return CLI_EXIT_USAGE;
	}
	return -1;
}

/* Parses the options after the subcommand. Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, struct byok_args *args)
{
	static const struct option options[] = {
	    {"token", required_argument, NULL, OPT_TOKEN},
	    {"label", required_argument, NULL, OPT_LABEL},
	    {"bits", required_argument, NULL, OPT_BITS},
	    {"out", required_argument, NULL, OPT_OUT},
	    {"kek-pub", required_argument, NULL, OPT_KEK_PUB},
	    {"key", required_argument, NULL, OPT_KEY},
	    {"aes", no_argument, NULL, OPT_AES},
	    {"kid", required_argument, NULL, OPT_KID},
	    {"oaep", required_argument, NULL, OPT_OAEP},
	    {"pub-out", required_argument, NULL, OPT_PUB_OUT},
	    {"kek", required_argument, NULL, OPT_KEK},
	    {"in", required_argument, NULL, OPT_IN},
	    {"id", required_argument, NULL, OPT_ID},
	    {"type", required_argument, NULL, OPT_TYPE},
	    {"pub", required_argument, NULL, OPT_PUB},
	    {"pin-file", required_argument, NULL, OPT_PIN_FILE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt, ret;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		ret = set_option(args, opt);
		if (ret != -1)
			return ret;
	}
	if (optind < argc) {
		cli_error("unexpected argument '%s'; see `hsmux byok --help`", argv[optind]);
		return CLI_EXIT_USAGE;
	}
	return -1;
}

/* Checks that each named option was given; names and values alternate, NULL-terminated. */
static int require(const char *command, ...)
{
	va_list ap;
	const char *name;
	int ret = 0;

	va_start(ap, command);
	while ((name = va_arg(ap, const char *)) != NULL) {
		const char *value = va_arg(ap, const char *);

		if (!value && ret == 0) {
			cli_error("`hsmux byok %s` needs --%s; see `hsmux byok --help`", command,
			          name);
			ret = CLI_EXIT_USAGE;
		}
	}
	va_end(ap);
	return ret;
}

/* Writes the target's public key for the importer, who needs it for Ed25519. */
static int write_public(EVP_PKEY *pub, const char *path)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;
	int ret = -1;

	if (bio && PEM_write_bio_PUBKEY(bio, pub) == 1) {
		len = BIO_get_mem_data(bio, &data);
		ret = byok_write_file_atomic(path, data, (size_t)len, 0644);
	}
	BIO_free(bio);
	if (ret != 0)
		cli_error("cannot write the public key to '%s'", path);
	return ret;
}

int byok_wrap_command(const struct byok_args *args)
{
	struct byok_file file = {.generator = "hsmux byok wrap " HSMUX_VERSION};
	unsigned char *target = NULL;
	size_t target_len = 0;
	enum byok_key_type type;
	EVP_PKEY *kek = NULL, *pub = NULL;
	char err[512], fingerprint[80];
	int ret = CLI_EXIT_FAILURE;

	kek = byok_kek_public_load(args->kek_pub, err, sizeof(err));
	if (!kek || byok_target_load(args->key, args->aes, &target, &target_len, &type, &pub, err,
	                             sizeof(err)) != 0) {
		cli_error("%s", err);
		goto out;
	}
	if (args->pub_out && (!pub || write_public(pub, args->pub_out) != 0)) {
		if (!pub)
			cli_error("--pub-out: an AES key has no public key");
		goto out;
	}
	if (byok_rsa_aes_wrap(kek, args->oaep, target, target_len, &file.ciphertext,
	                      &file.ciphertext_len, err, sizeof(err)) != 0) {
		cli_error("wrapping '%s' failed: %s", args->key, err);
		goto out;
	}
	file.kid = (char *)args->kid;
	if (!file.kid && byok_kek_fingerprint(kek, fingerprint, sizeof(fingerprint)) == 0)
		file.kid = fingerprint;
	if (byok_file_write(args->out, &file, err, sizeof(err)) != 0) {
		cli_error("%s", err);
		goto out;
	}
	printf("Wrapped %s key '%s' for KEK %s into '%s'.\n", byok_key_type_name(type), args->key,
	       file.kid, args->out);
	ret = CLI_EXIT_OK;
out:
	OPENSSL_clear_free(target, target_len);
	free(file.ciphertext);
	EVP_PKEY_free(kek);
	EVP_PKEY_free(pub);
	return ret;
}

static int run_kek(struct cli *cli, const char *action, struct byok_args *args)
{
	int ret;

	if (strcmp(action, "create") == 0) {
		ret = require("kek create", "token", args->token, "label", args->label, NULL);
		return ret ? ret : byok_kek_create(cli, args);
	}
	if (strcmp(action, "export") == 0) {
		ret = require("kek export", "token", args->token, "label", args->label, "out",
		              args->out, NULL);
		return ret ? ret : byok_kek_export(cli, args);
	}
	cli_error("unknown action 'kek %s'; use `kek create` or `kek export`", action);
	return CLI_EXIT_USAGE;
}

int cmd_byok(struct cli *cli, int argc, char **argv)
{
	struct byok_args args = {.bits = 3072, .oaep = BYOK_OAEP_SHA1};
	const char *sub = argc > 1 ? argv[1] : NULL;
	int skip, ret;

	if (!sub || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		byok_usage(sub ? stdout : stderr);
		return sub ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	}

	/* getopt_long() skips argv[0], so hand it the arguments from the last command word on. */
	skip = strcmp(sub, "kek") == 0 && argc > 2 && argv[2][0] != '-' ? 2 : 1;
	ret = parse_options(argc - skip, argv + skip, &args);
	if (ret != -1)
		return ret;

	if (strcmp(sub, "kek") == 0)
		return skip == 2 ? run_kek(cli, argv[2], &args)
		                 : require("kek", "action (create or export)", NULL, NULL);
	if (strcmp(sub, "wrap") == 0) {
		ret = require("wrap", "kek-pub", args.kek_pub, "key", args.key, "out", args.out,
		              NULL);
		return ret ? ret : byok_wrap_command(&args);
	}
	if (strcmp(sub, "import") == 0) {
		ret = require("import", "token", args.token, "kek", args.kek, "in", args.in,
		              "label", args.label, NULL);
		return ret ? ret : byok_import(cli, &args);
	}
	cli_error("unknown byok command '%s'; see `hsmux byok --help`", sub);
	return CLI_EXIT_USAGE;
}
