/*
 * `hsmux byok import`: one C_UnwrapKey with CKM_RSA_AES_KEY_WRAP under the
 * KEK, which the module composes when the backend lacks it, then the
 * matching public key object for asymmetric keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "byok.h"
#include "byok_file.h"
#include "byok_p11.h"
#include "byok_pubkey.h"
#include "cli_info.h"

/* The length of the random CKA_ID that an imported key gets without --id. */
#define IMPORT_ID_LEN 16

struct import_ctx {
	struct cli *cli;
	const struct byok_args *args;
	struct byok_token t;
	struct byok_file file;
	CK_OBJECT_HANDLE kek;
	CK_ULONG kek_len; /* the KEK's modulus in bytes */
	unsigned char *id;
	size_t id_len;
	EVP_PKEY *pub;
};

static const char *key_type_name(CK_KEY_TYPE type)
{
	switch (type) {
	case CKK_RSA:
		return "RSA";
	case CKK_EC:
		return "EC";
	case CKK_EC_EDWARDS:
		return "Ed25519";
	default:
		return "AES";
	}
}

static bool parse_type(const char *name, CK_KEY_TYPE *type)
{
	static const struct {
		const char *name;
		CK_KEY_TYPE type;
	} types[] = {
	    {"rsa", CKK_RSA}, {"ec", CKK_EC}, {"ed25519", CKK_EC_EDWARDS}, {"aes", CKK_AES}};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(name, types[i].name) == 0) {
			*type = types[i].type;
			return true;
		}
	}
	return false;
}

/*
 * The key types to try, in order. The .byok format does not name the key
 * type: --type or --pub name it, an RFC 5649 part of 40 bytes or less can
 * only be an AES key, and otherwise each private key type is tried.
 */
static size_t candidate_types(struct import_ctx *c, CK_KEY_TYPE *types)
{
	size_t kwp_len =
	    c->file.ciphertext_len > c->kek_len ? c->file.ciphertext_len - c->kek_len : 0;

	if (c->args->type && parse_type(c->args->type, &types[0]))
		return 1;
	if (c->pub) {
		if (EVP_PKEY_is_a(c->pub, "RSA"))
			types[0] = CKK_RSA;
		else if (EVP_PKEY_is_a(c->pub, "ED25519"))
			types[0] = CKK_EC_EDWARDS;
		else
			types[0] = CKK_EC;
		return 1;
	}
	if (kwp_len <= 40) {
		types[0] = CKK_AES;
		return 1;
	}
	types[0] = CKK_RSA;
	types[1] = CKK_EC;
	types[2] = CKK_EC_EDWARDS;
	return 3;
}

static CK_RV unwrap_as(struct import_ctx *c, CK_KEY_TYPE type, CK_OBJECT_HANDLE *key)
{
	static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS cls = type == CKK_AES ? CKO_SECRET_KEY : CKO_PRIVATE_KEY;
	CK_BBOOL secret = type == CKK_AES ? CK_TRUE : CK_FALSE;
	CK_BBOOL asymmetric = secret ? CK_FALSE : CK_TRUE;
	CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
	CK_RSA_AES_KEY_WRAP_PARAMS params = {256, &oaep};
	CK_MECHANISM mech = {CKM_RSA_AES_KEY_WRAP, &params, sizeof(params)};
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)},
	    {CKA_EXTRACTABLE, &no, sizeof(no)},
	    {CKA_LABEL, (void *)c->args->label, strlen(c->args->label)},
	    {CKA_ID, c->id, c->id_len},
	    {CKA_SIGN, &asymmetric, sizeof(asymmetric)},
	    {CKA_DECRYPT, &secret, sizeof(secret)},
	    {CKA_UNWRAP, &no, sizeof(no)},
	    {CKA_DERIVE, &no, sizeof(no)},
	    /* Secret keys only: */
	    {CKA_ENCRYPT, &yes, sizeof(yes)},
	    {CKA_WRAP, &no, sizeof(no)},
	    {CKA_VERIFY, &no, sizeof(no)},
	};
	CK_ULONG count = sizeof(tmpl) / sizeof(tmpl[0]);

	if (c->args->oaep == BYOK_OAEP_SHA256) {
		oaep.hashAlg = CKM_SHA256;
		oaep.mgf = CKG_MGF1_SHA256;
	}
	if (!secret)
		count -= 3;
	*key = CK_INVALID_HANDLE;
	return c->cli->fl->C_UnwrapKey(c->t.session, &mech, c->kek, c->file.ciphertext,
	                               c->file.ciphertext_len, tmpl, count, key);
}

/* Failures after which another key type may still succeed. */
static bool worth_another_type(CK_RV rv)
{
	return rv == CKR_FUNCTION_FAILED || rv == CKR_WRAPPED_KEY_INVALID ||
	       rv == CKR_TEMPLATE_INCONSISTENT || rv == CKR_GENERAL_ERROR ||
	       rv == CKR_ATTRIBUTE_VALUE_INVALID;
}

static void report_unwrap_failure(struct import_ctx *c, CK_RV rv, const CK_KEY_TYPE *types,
                                  size_t n)
{
	const char *in = c->args->in, *kek = c->args->kek;

	switch (rv) {
	case CKR_WRAPPED_KEY_LEN_RANGE:
		cli_error("'%s' is truncated or damaged: its ciphertext does not fit KEK '%s'", in,
		          kek);
		break;
	case CKR_KEY_SIZE_RANGE:
		cli_error("'%s' holds a key of a size that BYOK does not import; RSA keys need "
		          "2048 to 4096 bits and AES keys 128, 192 or 256 bits",
		          in);
		break;
	case CKR_CURVE_NOT_SUPPORTED:
		cli_error("'%s' holds an EC key on a curve that BYOK does not import; use P-256, "
		          "P-384, P-521, secp256k1 or Ed25519",
		          in);
		break;
	case CKR_MECHANISM_PARAM_INVALID:
		cli_error("token '%s' cannot do RSA-OAEP with %s; wrap the key again with "
		          "`--oaep sha1`",
		          c->t.label, c->args->oaep == BYOK_OAEP_SHA256 ? "SHA-256" : "SHA-1");
		break;
	case CKR_MECHANISM_INVALID:
		cli_error("module '%s' does not offer CKM_RSA_AES_KEY_WRAP on token '%s'; import "
		          "through libhsmux.so, which composes it from RSA-OAEP and AES key wrap",
		          c->cli->module_path, c->t.label);
		break;
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
		cli_error("KEK '%s' on token '%s' is not import-only; create a KEK with `hsmux "
		          "byok kek create`",
		          kek, c->t.label);
		break;
	default:
		if (!worth_another_type(rv))
			cli_error("importing '%s' on token '%s' failed: %s", in, c->t.label,
			          cli_rv_name(rv));
		else if (n == 1)
			cli_error("cannot unwrap '%s' under KEK '%s' as key type %s (%s): the "
			          "file is damaged, was wrapped for another KEK or with another "
			          "--oaep hash, holds another key type, or the token cannot unwrap "
			          "%s keys",
			          in, kek, key_type_name(types[0]), cli_rv_name(rv),
			          key_type_name(types[0]));
		else
			cli_error("cannot unwrap '%s' under KEK '%s' (%s): the file is damaged, "
			          "was wrapped for another KEK or with another --oaep hash, or "
			          "holds a key type that the token cannot unwrap",
			          in, kek, cli_rv_name(rv));
	}
}

static int unwrap_target(struct import_ctx *c, CK_OBJECT_HANDLE *key, CK_KEY_TYPE *type)
{
	CK_KEY_TYPE types[3];
	size_t n = candidate_types(c, types);
	CK_RV rv = CKR_GENERAL_ERROR;

	if (n == 1 && types[0] == CKK_EC_EDWARDS && !c->pub) {
		cli_error("an Ed25519 import needs its public key: add --pub FILE (written by "
		          "`hsmux byok wrap --pub-out`, or `openssl pkey -pubout`)");
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		rv = unwrap_as(c, types[i], key);
		if (rv == CKR_OK) {
			*type = types[i];
			return 0;
		}
		if (!worth_another_type(rv))
			break;
	}
	report_unwrap_failure(c, rv, types, n);
	return 1;
}

/* Finds the KEK, checks that the file's kid names it and that it is import-only. */
static int check_kek(struct import_ctx *c)
{
	static const CK_ATTRIBUTE_TYPE forbidden[] = {CKA_DECRYPT, CKA_SIGN, CKA_SIGN_RECOVER,
	                                              CKA_DERIVE};
	char fingerprint[80] = "";
	CK_ULONG n, id_len = 0;
	unsigned char *id;
	EVP_PKEY *pub;
	bool match, import_only;

	n = byok_find_key(&c->t, CKO_PRIVATE_KEY, CKK_RSA, c->args->kek, &c->kek);
	if (n == (CK_ULONG)-1)
		return 1;
	if (n != 1) {
		cli_error(n == 0 ? "token '%s' has no key-exchange key '%s'; create one with "
		                   "`hsmux byok kek create`"
		                 : "token '%s' has several RSA private keys labelled '%s'",
		          c->t.label, c->args->kek);
		return 1;
	}
	pub = byok_token_rsa_public(&c->t, c->kek);
	c->kek_len = pub ? (CK_ULONG)EVP_PKEY_get_size(pub) : 0;
	if (pub)
		byok_kek_fingerprint(pub, fingerprint, sizeof(fingerprint));
	EVP_PKEY_free(pub);
	id = byok_get_attr(&c->t, c->kek, CKA_ID, &id_len, NULL);
	match = byok_kid_matches(c->file.kid, c->t.label, c->args->kek, id, id ? id_len : 0,
	                         fingerprint);
	free(id);
	if (!match) {
		cli_error("'%s' was wrapped for key '%s', not for KEK '%s' on token '%s'; import "
		          "it under the KEK that its kid names",
		          c->args->in, c->file.kid, c->args->kek, c->t.label);
		return 1;
	}
	import_only = byok_get_bool(&c->t, c->kek, CKA_UNWRAP);
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
		import_only = import_only && !byok_get_bool(&c->t, c->kek, forbidden[i]);
	if (!import_only) {
		cli_error("key '%s' on token '%s' is not an import-only KEK (it may only unwrap); "
		          "create one with `hsmux byok kek create`",
		          c->args->kek, c->t.label);
		return 1;
	}
	return 0;
}

/* Chooses the new key's CKA_ID and checks that its label is free. */
static int prepare_target(struct import_ctx *c)
{
	CK_OBJECT_CLASS classes[] = {CKO_PRIVATE_KEY, CKO_SECRET_KEY, CKO_PUBLIC_KEY};
	CK_OBJECT_HANDLE obj;

	for (size_t i = 0; i < 3; i++) {
		CK_ULONG n =
		    byok_find_key(&c->t, classes[i], (CK_KEY_TYPE)-1, c->args->label, &obj);

		if (n == (CK_ULONG)-1)
			return 1;
		if (n > 0) {
			cli_error("token '%s' already has a key labelled '%s'; choose another "
			          "--label",
			          c->t.label, c->args->label);
			return 1;
		}
	}
	if (c->args->id_hex) {
		c->id = byok_hex_decode(c->args->id_hex, &c->id_len);
		if (!c->id) {
			cli_error("--id '%s' is not 1 to 64 bytes of hex", c->args->id_hex);
			return 1;
		}
		return 0;
	}
	c->id = malloc(IMPORT_ID_LEN);
	c->id_len = IMPORT_ID_LEN;
	if (!c->id || c->cli->fl->C_GenerateRandom(c->t.session, c->id, IMPORT_ID_LEN) != CKR_OK) {
		cli_error("cannot make a random CKA_ID; give one with --id HEX");
		return 1;
	}
	return 0;
}

static int load_inputs(struct import_ctx *c)
{
	char err[512];
	CK_KEY_TYPE type;

	if (c->args->type && !parse_type(c->args->type, &type)) {
		cli_error("--type '%s' is not rsa, ec, ed25519 or aes", c->args->type);
		return CLI_EXIT_USAGE;
	}
	if (byok_file_read(c->args->in, &c->file, err, sizeof(err)) != 0) {
		cli_error("%s", err);
		return 1;
	}
	if (c->args->pub) {
		c->pub = byok_public_load(c->args->pub, err, sizeof(err));
		if (!c->pub) {
			cli_error("%s", err);
			return 1;
		}
	}
	return 0;
}

static void print_imported(struct import_ctx *c, CK_KEY_TYPE type)
{
	char *uri = byok_key_uri(c->t.label, c->args->label, c->id, c->id_len,
	                         type == CKK_AES ? "secret-key" : "private");
	json_t *root;

	if (c->cli->json) {
		root = json_pack("{s:s, s:s, s:s}", "label", c->args->label, "key_type",
		                 key_type_name(type), "uri", uri ? uri : "");
		if (root)
			cli_print_json(root);
		json_decref(root);
	} else {
		printf("Imported %s key '%s' on token '%s'.\n%s\n", key_type_name(type),
		       c->args->label, c->t.label, uri ? uri : "");
	}
	free(uri);
}

int byok_import(struct cli *cli, const struct byok_args *args)
{
	struct import_ctx c = {.cli = cli, .args = args};
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE, pub_obj;
	CK_KEY_TYPE type = CKK_AES;
	int ret;

	memset(&c.t, 0, sizeof(c.t));
	ret = load_inputs(&c);
	if (ret != 0)
		goto out;
	ret = CLI_EXIT_FAILURE;
	if (byok_token_open(cli, args->token, args->pin_file, &c.t) != 0 || check_kek(&c) != 0 ||
	    prepare_target(&c) != 0 || unwrap_target(&c, &key, &type) != 0)
		goto out;

	/* No half-made import: without its public key object, the private key goes too. */
	if (type != CKK_AES && byok_public_object_create(&c.t, key, type, c.pub, args->label, c.id,
	                                                 c.id_len, &pub_obj) != 0) {
		cli->fl->C_DestroyObject(c.t.session, key);
		goto out;
	}
	print_imported(&c, type);
	ret = CLI_EXIT_OK;
out:
	byok_token_close(&c.t);
	byok_file_cleanup(&c.file);
	EVP_PKEY_free(c.pub);
	free(c.id);
	return ret;
}
