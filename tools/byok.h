/* The `hsmux byok` command group: its options and its subcommands. */
#ifndef HSMUX_BYOK_H
#define HSMUX_BYOK_H

#include <stdbool.h>

#include "byok_wrap.h"
#include "cli.h"

/* The options of every byok subcommand; each subcommand checks those it needs. */
struct byok_args {
	const char *token;
	const char *label;
	const char *kek;
	const char *kek_pub;
	const char *key;
	const char *kid;
	const char *in;
	const char *out;
	const char *id_hex;
	const char *type;
	const char *pub;
	const char *pub_out;
	const char *pin_file;
	unsigned int bits;
	bool aes;
	enum byok_oaep_hash oaep;
};

/* `byok kek create`: an import-only RSA KEK on the token. Returns an exit status. */
int byok_kek_create(struct cli *cli, const struct byok_args *args);

/* `byok kek export`: the KEK's public key as PEM. */
int byok_kek_export(struct cli *cli, const struct byok_args *args);

/* `byok wrap`: the customer side, with OpenSSL only and no module. */
int byok_wrap_command(const struct byok_args *args);

/* `byok import`: C_UnwrapKey with CKM_RSA_AES_KEY_WRAP under the KEK. */
int byok_import(struct cli *cli, const struct byok_args *args);

#endif /* HSMUX_BYOK_H */
