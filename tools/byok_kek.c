/* `hsmux byok kek create` and `hsmux byok kek export`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include <jansson.h>

#include "byok.h"
#include "byok_file.h"
#include "byok_p11.h"
#include "cli_info.h"

/* The length of the random CKA_ID that a new KEK gets. */
#define KEK_ID_LEN 16

static void print_kek(struct cli *cli, struct byok_token *t, const char *label,
                      const unsigned char *id, size_t id_len, EVP_PKEY *pub)
{
	char *uri = byok_key_uri(t->label, label, id, id_len, "private");
	char fingerprint[80] = "";
	json_t *root;

	byok_kek_fingerprint(pub, fingerprint, sizeof(fingerprint));
	if (cli->json) {
		root = json_pack("{s:s, s:s, s:s}", "label", label, "kid", uri ? uri : "",
		                 "fingerprint", fingerprint);
		if (root)
			cli_print_json(root);
		json_decref(root);
	} else {
		printf("kid: %s\nfingerprint: %s\n", uri ? uri : "", fingerprint);
	}
	free(uri);
}

/* The KEK's templates: the private key may only unwrap, the public key nothing in the token. */
static CK_RV generate_kek(struct byok_token *t, const char *label, const unsigned char *id,
                          CK_ULONG bits, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	static CK_BYTE exponent[] = {0x01, 0x00, 0x01};
	CK_MECHANISM gen = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_ATTRIBUTE pub_tmpl[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &no, sizeof(no)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	    {CKA_ID, (void *)id, KEK_ID_LEN},
	    {CKA_MODULUS_BITS, &bits, sizeof(bits)},
	    {CKA_PUBLIC_EXPONENT, exponent, 3},
	    {CKA_ENCRYPT, &no, sizeof(no)},
	    {CKA_WRAP, &no, sizeof(no)},
	    {CKA_VERIFY, &no, sizeof(no)},
	    {CKA_VERIFY_RECOVER, &no, sizeof(no)},
	};
	CK_ATTRIBUTE priv_tmpl[] = {
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	    {CKA_ID, (void *)id, KEK_ID_LEN},
	    {CKA_SENSITIVE, &yes, sizeof(yes)},
	    {CKA_EXTRACTABLE, &no, sizeof(no)},
	    {CKA_UNWRAP, &yes, sizeof(yes)},
	    {CKA_DECRYPT, &no, sizeof(no)},
	    {CKA_SIGN, &no, sizeof(no)},
	    {CKA_SIGN_RECOVER, &no, sizeof(no)},
	    {CKA_DERIVE, &no, sizeof(no)},
	};

	return t->cli->fl->C_GenerateKeyPair(t->session, &gen, pub_tmpl,
	                                     sizeof(pub_tmpl) / sizeof(pub_tmpl[0]), priv_tmpl,
	                                     sizeof(priv_tmpl) / sizeof(priv_tmpl[0]), pub, priv);
}

int byok_kek_create(struct cli *cli, const struct byok_args *args)
{
	unsigned char id[KEK_ID_LEN];
	CK_OBJECT_HANDLE pub = 0, priv = 0, existing;
	struct byok_token t;
	EVP_PKEY *pkey = NULL;
	int ret = CLI_EXIT_FAILURE;
	CK_ULONG n;
	CK_RV rv;

	if (byok_token_open(cli, args->token, args->pin_file, &t) != 0)
		goto out;
	n = byok_find_key(&t, CKO_PRIVATE_KEY, (CK_KEY_TYPE)-1, args->label, &existing);
	if (n == (CK_ULONG)-1)
		goto out;
	if (n > 0) {
		cli_error("token '%s' already has a private key labelled '%s'; choose another "
		          "--label",
		          t.label, args->label);
		goto out;
	}
	rv = cli->fl->C_GenerateRandom(t.session, id, sizeof(id));
	if (rv == CKR_OK)
		rv = generate_kek(&t, args->label, id, args->bits, &pub, &priv);
	if (rv != CKR_OK) {
		cli_error("generating RSA-%u KEK '%s' on token '%s' failed: %s", args->bits,
		          args->label, t.label, cli_rv_name(rv));
		goto out;
	}
	pkey = byok_token_rsa_public(&t, pub);
	if (!cli->json)
		printf("Created import-only RSA-%u key-exchange key '%s' on token '%s'.\n",
		       args->bits, args->label, t.label);
	print_kek(cli, &t, args->label, id, sizeof(id), pkey);
	ret = CLI_EXIT_OK;
out:
	EVP_PKEY_free(pkey);
	byok_token_close(&t);
	return ret;
}

/* Finds the KEK's public key object, or else its private key, which shows the same modulus. */
static int find_kek_object(struct byok_token *t, const char *label, CK_OBJECT_HANDLE *obj)
{
	CK_ULONG n = byok_find_key(t, CKO_PUBLIC_KEY, CKK_RSA, label, obj);

	if (n == 0)
		n = byok_find_key(t, CKO_PRIVATE_KEY, CKK_RSA, label, obj);
	if (n == (CK_ULONG)-1)
		return 1;
	if (n == 0) {
		cli_error("token '%s' has no key-exchange key '%s'; create one with `hsmux byok "
		          "kek create --token '%s' --label '%s'`",
		          t->label, label, t->label, label);
		return 1;
	}
	if (n > 1) {
		cli_error("token '%s' has several RSA keys labelled '%s'", t->label, label);
		return 1;
	}
	return 0;
}

static int write_pem(EVP_PKEY *pkey, const char *path)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len = 0;
	int ret = -1;

	if (bio && PEM_write_bio_PUBKEY(bio, pkey) == 1) {
		len = BIO_get_mem_data(bio, &data);
		ret = byok_write_file_atomic(path, data, (size_t)len, 0644);
	}
	BIO_free(bio);
	return ret;
}

int byok_kek_export(struct cli *cli, const struct byok_args *args)
{
	CK_OBJECT_HANDLE obj, priv;
	struct byok_token t;
	EVP_PKEY *pkey = NULL;
	unsigned char *id = NULL;
	CK_ULONG id_len = 0;
	int ret = CLI_EXIT_FAILURE;

	if (byok_token_open(cli, args->token, args->pin_file, &t) != 0 ||
	    find_kek_object(&t, args->label, &obj) != 0)
		goto out;
	pkey = byok_token_rsa_public(&t, obj);
	if (!pkey) {
		cli_error("cannot read the public key of KEK '%s' on token '%s'", args->label,
		          t.label);
		goto out;
	}
	if (write_pem(pkey, args->out) != 0) {
		cli_error("cannot write '%s': %m", args->out);
		goto out;
	}
	if (byok_find_key(&t, CKO_PRIVATE_KEY, CKK_RSA, args->label, &priv) == 1)
		id = byok_get_attr(&t, priv, CKA_ID, &id_len, NULL);
	if (!cli->json)
		printf("Wrote the public key of KEK '%s' to '%s'.\n", args->label, args->out);
	print_kek(cli, &t, args->label, id, id ? id_len : 0, pkey);
	ret = CLI_EXIT_OK;
out:
	free(id);
	EVP_PKEY_free(pkey);
	byok_token_close(&t);
	return ret;
}
