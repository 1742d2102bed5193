/*
 * hsmux-attack: runs every PKCS#11 API attack against a module and prints
 * one line per attack.
 *
 *   hsmux-attack [--expect FILE] [--all-blocked] [--markdown] MODULE
 *
 * The suite initializes the first token that is not yet initialized,
 * logs in as the user and works on session objects only. With --expect it
 * exits 1 unless every verdict equals the one in FILE ("name VERDICT" per
 * line); with --all-blocked it exits 1 when any attack succeeds.
 */
#include <dlfcn.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/attack/attack.h"

#define SO_PIN   "attack-so-pin"
#define USER_PIN "attack-user-pin"

const struct attack attack_list[] = {
    {"wrap_decrypt_aes_cbc", "one AES key wraps with CBC and decrypts the blob",
     attack_wrap_decrypt_cbc},
    {"wrap_decrypt_aes_kw_ecb", "AES key wrap inverted by AES-ECB decrypt",
     attack_wrap_decrypt_kw_ecb},
    {"wrap_decrypt_rsa_oaep", "RSA pair: public WRAP, private DECRYPT", attack_wrap_decrypt_oaep},
    {"roles_set_later", "DECRYPT set on a wrapping key after creation", attack_roles_set_later},
    {"roles_copy_later", "copy of a wrapping key with DECRYPT", attack_roles_copy_later},
    {"roles_rsa_set_later", "DECRYPT set on the private key of a wrapping pair",
     attack_roles_oaep_set_later},
    {"plant_encrypt_unwrap", "encrypt-then-unwrap plants a known wrapping key",
     attack_plant_encrypt_unwrap},
    {"conjure_create_object", "C_CreateObject makes a known wrapping key",
     attack_conjure_create_object},
    {"weak_wrap_aes128", "AES-128 wraps AES-256", attack_weak_wrap_aes128},
    {"weak_wrap_rsa1024", "RSA-1024 wraps AES-256", attack_weak_wrap_rsa1024},
    {"reimport_nonsensitive", "wrap, then unwrap as non-sensitive and extractable",
     attack_reimport_nonsensitive},
    {"flip_sensitive_set", "SENSITIVE true to false by Set", attack_flip_sensitive_set},
    {"flip_sensitive_copy", "SENSITIVE true to false by Copy", attack_flip_sensitive_copy},
    {"flip_extractable_set", "EXTRACTABLE false to true by Set", attack_flip_extractable_set},
    {"flip_extractable_copy", "EXTRACTABLE false to true by Copy", attack_flip_extractable_copy},
    {"flip_wwt_set", "WRAP_WITH_TRUSTED true to false by Set", attack_flip_wwt_set},
    {"flip_wwt_copy", "WRAP_WITH_TRUSTED true to false by Copy", attack_flip_wwt_copy},
    {"usage_on_later_set", "WRAP switched on later by Set", attack_usage_on_later_set},
    {"usage_on_later_copy", "WRAP switched on later by Copy", attack_usage_on_later_copy},
    {"read_value_sensitive", "CKA_VALUE of a sensitive key", attack_read_value},
    {"read_value_nonextractable", "CKA_VALUE of a non-extractable key",
     attack_read_value_nonextractable},
    {"read_rsa_private", "RSA private exponent and CRT parts", attack_read_rsa_private},
    {"read_ec_private", "EC private value", attack_read_ec_private},
    {"derive_concat_base_key", "CONCATENATE_BASE_AND_KEY", attack_derive_concat_base_key},
    {"derive_concat_base_data", "CONCATENATE_BASE_AND_DATA", attack_derive_concat_base_data},
    {"derive_concat_data_base", "CONCATENATE_DATA_AND_BASE", attack_derive_concat_data_base},
    {"derive_xor_base_data", "XOR_BASE_AND_DATA", attack_derive_xor_base_data},
    {"derive_extract_key", "EXTRACT_KEY_FROM_KEY", attack_derive_extract_key},
    {"digest_key", "C_DigestKey on a sensitive key", attack_digest_key},
    {"operation_state", "C_GetOperationState during an encryption", attack_operation_state},
    {"pkcs1_unwrap_oracle", "PKCS#1 v1.5 unwrap padding oracle", attack_pkcs1_unwrap_oracle},
};
const size_t attack_count = sizeof(attack_list) / sizeof(attack_list[0]);

static const char *verdict_name(enum attack_verdict v)
{
	switch (v) {
	case ATTACK_SUCCEEDED:
		return "SUCCEEDED";
	case ATTACK_BLOCKED:
		return "BLOCKED";
	case ATTACK_NA:
		return "N/A";
	}
	return "?";
}

static void blank_pad(CK_UTF8CHAR *field, size_t len, const char *text)
{
	size_t n = strlen(text);

	memset(field, ' ', len);
	memcpy(field, text, n < len ? n : len);
}

/* Finds a token that is not initialized yet and initializes it with the suite's PINs. */
static CK_RV init_token(CK_FUNCTION_LIST_PTR fl, CK_SLOT_ID *slot)
{
	CK_SLOT_ID slots[64];
	CK_ULONG count = 64;
	CK_UTF8CHAR label[32];
	CK_TOKEN_INFO info;
	CK_RV rv = fl->C_GetSlotList(CK_TRUE, slots, &count);

	if (rv != CKR_OK)
		return rv;
	for (CK_ULONG i = 0; i < count; i++) {
		if (fl->C_GetTokenInfo(slots[i], &info) != CKR_OK ||
		    (info.flags & CKF_TOKEN_INITIALIZED))
			continue;
		blank_pad(label, sizeof(label), "attack");
		*slot = slots[i];
		return fl->C_InitToken(slots[i], (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), label);
	}
	fprintf(stderr, "hsmux-attack: the module has no uninitialized token; "
	                "point it at an empty token store\n");
	return CKR_TOKEN_NOT_PRESENT;
}

static CK_RV login_user(CK_FUNCTION_LIST_PTR fl, struct attack_ctx *ctx)
{
	CK_FLAGS flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
	CK_RV rv = fl->C_OpenSession(ctx->slot, flags, NULL, NULL, &ctx->session);

	if (rv != CKR_OK)
		return rv;
	rv = fl->C_Login(ctx->session, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN));
	if (rv != CKR_OK)
		return rv;
	rv = fl->C_InitPIN(ctx->session, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN));
	if (rv != CKR_OK)
		return rv;
	fl->C_Logout(ctx->session);
	return fl->C_Login(ctx->session, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN));
}

static CK_RV setup(const char *module, void **dl, struct attack_ctx *ctx)
{
	CK_C_GetFunctionList get_list;
	CK_RV rv;

	*dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (!*dl) {
		fprintf(stderr, "hsmux-attack: cannot load %s: %s\n", module, dlerror());
		return CKR_GENERAL_ERROR;
	}
	get_list = (CK_C_GetFunctionList)dlsym(*dl, "C_GetFunctionList");
	if (!get_list || get_list(&ctx->fl) != CKR_OK)
		return CKR_GENERAL_ERROR;
	rv = ctx->fl->C_Initialize(NULL);
	if (rv != CKR_OK)
		return rv;
	rv = init_token(ctx->fl, &ctx->slot);
	if (rv != CKR_OK)
		return rv;
	rv = login_user(ctx->fl, ctx);
	if (rv != CKR_OK)
		return rv;
	rv = ctx->fl->C_GetMechanismList(ctx->slot, NULL, &ctx->n_mechs);
	if (rv != CKR_OK)
		return rv;
	ctx->mechs = calloc(ctx->n_mechs + 1, sizeof(*ctx->mechs));
	if (!ctx->mechs)
		return CKR_HOST_MEMORY;
	return ctx->fl->C_GetMechanismList(ctx->slot, ctx->mechs, &ctx->n_mechs);
}

/* Returns the expected verdict of name from the file, or NULL when it has none. */
static const char *expected_verdict(FILE *f, const char *name, char *buf, size_t len)
{
	char line[256], key[128], verdict[32];

	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || sscanf(line, "%127s %31s", key, verdict) != 2)
			continue;
		if (strcmp(key, name) == 0) {
			snprintf(buf, len, "%s", verdict);
			return buf;
		}
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: hsmux-attack [--expect FILE] [--all-blocked] [--markdown] "
	                "MODULE\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"expect", required_argument, NULL, 'e'},
	    {"all-blocked", no_argument, NULL, 'b'},
	    {"markdown", no_argument, NULL, 'm'},
	    {NULL, 0, NULL, 0},
	};
	struct attack_ctx ctx = {0};
	FILE *expect = NULL;
	bool all_blocked = false, markdown = false;
	int failures = 0, c;
	void *dl = NULL;
	CK_RV rv;

	while ((c = getopt_long(argc, argv, "e:bm", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			expect = fopen(optarg, "r");
			if (!expect) {
				perror(optarg);
				return 2;
			}
			break;
		case 'b':
			all_blocked = true;
			break;
		case 'm':
			markdown = true;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage();
		return 2;
	}

	rv = setup(argv[optind], &dl, &ctx);
	if (rv != CKR_OK) {
		fprintf(stderr, "hsmux-attack: setting up the token on %s failed: 0x%lx\n",
		        argv[optind], (unsigned long)rv);
		return 1;
	}

	if (markdown)
		printf(
		    "| attack | what it tries | verdict | detail |\n| --- | --- | --- | --- |\n");
	for (size_t i = 0; i < attack_count; i++) {
		struct attack_result res = {ATTACK_BLOCKED, CKR_OK, ""};
		const char *verdict, *want;
		char buf[32];

		attack_list[i].run(&ctx, &res);
		verdict = verdict_name(res.verdict);
		if (markdown)
			printf("| %s | %s | %s | %s |\n", attack_list[i].name, attack_list[i].what,
			       verdict, res.detail);
		else
			printf("%-26s %-9s %s\n", attack_list[i].name, verdict, res.detail);

		if (all_blocked && res.verdict == ATTACK_SUCCEEDED) {
			fprintf(stderr, "FAIL: %s succeeded\n", attack_list[i].name);
			failures++;
		}
		want =
		    expect ? expected_verdict(expect, attack_list[i].name, buf, sizeof(buf)) : NULL;
		if (expect && (!want || strcmp(want, verdict) != 0)) {
			fprintf(stderr, "FAIL: %s is %s, expected %s\n", attack_list[i].name,
			        verdict, want ? want : "(no entry)");
			failures++;
		}
	}

	ctx.fl->C_CloseSession(ctx.session);
	ctx.fl->C_Finalize(NULL);
	free(ctx.mechs);
	if (expect)
		fclose(expect);
	dlclose(dl);
	return failures ? 1 : 0;
}
