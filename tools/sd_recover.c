/*
 * `hsmux sd recover`: the custodians' offline step. It needs no module and
 * no token. The rebuilt security-domain key exists in plaintext here only,
 * in a locked buffer that is wiped before the command returns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "module/admin/sd_file.h"
#include "sd_cli.h"

/* sd.json is a few kilobytes for ten custodians. */
#define SD_FILE_MAX (1u << 20)

static EVP_PKEY *read_key(const char *path, bool private_key)
{
	BIO *bio = BIO_new_file(path, "r");
	EVP_PKEY *key = NULL;

	if (bio)
		key = private_key ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
		                  : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return key;
}

static int load_inputs(const char *sd_path, const char *const *key_files, size_t n,
                       const char *exchange_path, struct sd_doc *doc, EVP_PKEY **keys,
                       EVP_PKEY **exchange)
{
	char err[256] = "", *text;
	size_t len = 0;
	bool ok;

	text = sd_read_file(sd_path, SD_FILE_MAX, &len);
	if (!text) {
		cli_error("cannot read '%s': %s", sd_path, strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	ok = sd_doc_parse(text, len, doc, err, sizeof(err));
	free(text);
	if (!ok) {
		cli_error("'%s' is not a valid sd.json: %s", sd_path, err);
		return CLI_EXIT_FAILURE;
	}
	for (size_t i = 0; i < n; i++) {
		keys[i] = read_key(key_files[i], true);
		if (!keys[i]) {
			cli_error("cannot read custodian key '%s': give the custodian's RSA "
			          "private key in PEM",
			          key_files[i]);
			return CLI_EXIT_FAILURE;
		}
	}
	*exchange = read_key(exchange_path, false);
	if (!*exchange) {
		cli_error("cannot read exchange key '%s': give the public key that `hsmux sd "
		          "init-recovery` wrote",
		          exchange_path);
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}

static int recover_and_write(const struct sd_doc *doc, EVP_PKEY **keys,
                             const char *const *key_files, size_t n, EVP_PKEY *exchange,
                             const char *sd_path, const char *out_path)
{
	struct sd_secret key = {0};
	char report[2048] = "", err[256] = "", *upload = NULL;
	int status = CLI_EXIT_FAILURE;

	if (!sd_doc_recover(doc, keys, key_files, n, &key, report, sizeof(report))) {
		fputs(report, stderr);
		cli_error("recovery from '%s' failed; nothing was written", sd_path);
		return CLI_EXIT_FAILURE;
	}
	if (report[0])
		fputs(report, stderr); /* keys that were ignored, while enough others fit */
	if (!sd_upload_create(doc, &key, exchange, &upload, err, sizeof(err))) {
		cli_error("%s", err);
		goto out;
	}
	if (sd_write_file_atomic(out_path, upload, strlen(upload), 0600) != 0) {
		cli_error("cannot write '%s': %s", out_path, strerror(errno));
		goto out;
	}
	printf("Rebuilt security domain %s from %zu custodian keys.\n"
	       "Wrote %s: give it to the new token with `hsmux sd upload`.\n",
	       doc->sd_fingerprint, n, out_path);
	status = CLI_EXIT_OK;
out:
	sd_secret_cleanup(&key);
	free(upload);
	return status;
}

int sd_cmd_recover_opts(const char *sd_path, const char *const *key_files, size_t n,
                        const char *exchange_path, const char *out_path)
{
	EVP_PKEY *keys[SD_CUSTODIANS_MAX] = {0}, *exchange = NULL;
	struct sd_doc doc = {0};
	int status;

	if (!sd_path || !exchange_path || !out_path || n == 0) {
		cli_error("sd recover needs --sd, --custodian-key (once per custodian), "
		          "--exchange and --out; see `hsmux sd --help`");
		return CLI_EXIT_USAGE;
	}
	status = load_inputs(sd_path, key_files, n, exchange_path, &doc, keys, &exchange);
	if (status == CLI_EXIT_OK)
		status = recover_and_write(&doc, keys, key_files, n, exchange, sd_path, out_path);
	for (size_t i = 0; i < n; i++)
		EVP_PKEY_free(keys[i]);
	EVP_PKEY_free(exchange);
	sd_doc_cleanup(&doc);
	return status;
}
