/*
 * The process side of test_softhsm_kill9.sh: one PKCS#11 action on the
 * token LABEL through libhsmux.so (HSMUX_CONF names a softhsm backend), so
 * that the script can kill it at any moment.
 *
 *   kill9_client MODULE LABEL init SO_PIN PIN    C_InitToken, then C_InitPIN
 *   kill9_client MODULE LABEL setup PIN          make an AES key and an EC key pair
 *   kill9_client MODULE LABEL login PIN          C_Login, then C_Logout
 *   kill9_client MODULE LABEL setpin OLD NEW     C_SetPIN
 *   kill9_client MODULE LABEL setlabel PIN TEXT  C_SetAttributeValue(CKA_LABEL) on the AES key
 *   kill9_client MODULE LABEL check PIN          log in, count the keys made by setup
 *
 * check prints "keys N label TEXT" (TEXT is the AES key's label). Exit
 * status: 0 done, 1 failed, 2 wrong PIN (CKR_PIN_INCORRECT), 3 no token
 * with that label.
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsmux/pkcs11.h"

enum {
	EXIT_DONE = 0,
	EXIT_FAILED = 1,
	EXIT_WRONG_PIN = 2,
	EXIT_NO_TOKEN = 3,
};

static CK_FUNCTION_LIST_PTR p11;
static CK_BBOOL yes = CK_TRUE;

static const char AES_ID[] = "kill9-aes";
static const char EC_ID[] = "kill9-ec";

static int fail(const char *what, CK_RV rv)
{
	fprintf(stderr, "kill9_client: %s failed: CKR 0x%lx\n", what, (unsigned long)rv);
	return rv == CKR_PIN_INCORRECT ? EXIT_WRONG_PIN : EXIT_FAILED;
}

static bool label_is(const CK_UTF8CHAR *field, const char *label)
{
	size_t n = strlen(label);

	if (n > 32 || memcmp(field, label, n) != 0)
		return false;
	for (size_t i = n; i < 32; i++)
		if (field[i] != ' ')
			return false;
	return true;
}

/* Finds the slot whose token has label, or with want_free the first uninitialized token. */
static bool find_slot(const char *label, bool want_free, CK_SLOT_ID *slot)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;

	if (p11->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return false;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO info;

		if (p11->C_GetTokenInfo(slots[i], &info) != CKR_OK)
			continue;
		if (want_free ? !(info.flags & CKF_TOKEN_INITIALIZED)
		              : label_is(info.label, label)) {
			*slot = slots[i];
			return true;
		}
	}
	return false;
}

static CK_RV login(CK_SESSION_HANDLE s, CK_USER_TYPE user, const char *pin)
{
	return p11->C_Login(s, user, (CK_UTF8CHAR_PTR)pin, strlen(pin));
}

static int init_token(const char *label, const char *so_pin, const char *pin)
{
	CK_UTF8CHAR padded[32];
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
	CK_RV rv;

	if (!find_slot(NULL, true, &slot))
		return fail("finding a free token", CKR_TOKEN_NOT_PRESENT);
	memset(padded, ' ', sizeof(padded));
	memcpy(padded, label, strlen(label));
	rv = p11->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), padded);
	if (rv != CKR_OK)
		return fail("C_InitToken", rv);
	if (!find_slot(label, false, &slot))
		return fail("finding the new token", CKR_TOKEN_NOT_PRESENT);
	rv = p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	if (rv == CKR_OK)
		rv = login(s, CKU_SO, so_pin);
	if (rv == CKR_OK)
		rv = p11->C_InitPIN(s, (CK_UTF8CHAR_PTR)pin, strlen(pin));
	return rv == CKR_OK ? EXIT_DONE : fail("C_InitPIN", rv);
}

static int setup_keys(CK_SESSION_HANDLE s)
{
	CK_MECHANISM aes_gen = {CKM_AES_KEY_GEN, NULL, 0};
	CK_MECHANISM ec_gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	/* DER of the OID of NIST P-256 (prime256v1). */
	CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	CK_ULONG aes_len = 32;
	CK_ATTRIBUTE aes[] = {{CKA_TOKEN, &yes, 1},
	                      {CKA_PRIVATE, &yes, 1},
	                      {CKA_ENCRYPT, &yes, 1},
	                      {CKA_VALUE_LEN, &aes_len, sizeof(aes_len)},
	                      {CKA_ID, (void *)AES_ID, sizeof(AES_ID) - 1},
	                      {CKA_LABEL, "label-a", 7}};
	CK_ATTRIBUTE pub[] = {{CKA_TOKEN, &yes, 1},
	                      {CKA_VERIFY, &yes, 1},
	                      {CKA_EC_PARAMS, p256, sizeof(p256)},
	                      {CKA_ID, (void *)EC_ID, sizeof(EC_ID) - 1}};
	CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &yes, 1},
	                       {CKA_PRIVATE, &yes, 1},
	                       {CKA_SIGN, &yes, 1},
	                       {CKA_ID, (void *)EC_ID, sizeof(EC_ID) - 1}};
	CK_OBJECT_HANDLE key, pk, sk;
	CK_RV rv;

	rv = p11->C_GenerateKey(s, &aes_gen, aes, 6, &key);
	if (rv != CKR_OK)
		return fail("C_GenerateKey", rv);
	rv = p11->C_GenerateKeyPair(s, &ec_gen, pub, 4, priv, 4, &pk, &sk);
	return rv == CKR_OK ? EXIT_DONE : fail("C_GenerateKeyPair", rv);
}

/* Counts the objects with CKA_ID id; *first gets one of them. */
static CK_ULONG count_objects(CK_SESSION_HANDLE s, const char *id, CK_OBJECT_HANDLE *first)
{
	CK_ATTRIBUTE t = {CKA_ID, (void *)id, strlen(id)};
	CK_OBJECT_HANDLE found[8];
	CK_ULONG n = 0;

	if (p11->C_FindObjectsInit(s, &t, 1) != CKR_OK)
		return 0;
	if (p11->C_FindObjects(s, found, 8, &n) != CKR_OK)
		n = 0;
	p11->C_FindObjectsFinal(s);
	if (n > 0 && first)
		*first = found[0];
	return n;
}

static int check_keys(CK_SESSION_HANDLE s)
{
	CK_OBJECT_HANDLE aes = CK_INVALID_HANDLE;
	CK_ULONG n_aes = count_objects(s, AES_ID, &aes);
	CK_ULONG n_ec = count_objects(s, EC_ID, NULL);
	char label[64] = "";
	CK_ATTRIBUTE t = {CKA_LABEL, label, sizeof(label) - 1};

	if (n_aes == 1 && p11->C_GetAttributeValue(s, aes, &t, 1) == CKR_OK)
		label[t.ulValueLen] = '\0';
	printf("keys %lu label %s\n", n_aes + n_ec, label);
	return n_aes == 1 && n_ec == 2 ? EXIT_DONE : EXIT_FAILED;
}

static int set_label(CK_SESSION_HANDLE s, const char *text)
{
	CK_OBJECT_HANDLE aes = CK_INVALID_HANDLE;
	CK_ATTRIBUTE t = {CKA_LABEL, (void *)text, strlen(text)};
	CK_RV rv;

	if (count_objects(s, AES_ID, &aes) != 1)
		return fail("finding the AES key", CKR_OBJECT_HANDLE_INVALID);
	rv = p11->C_SetAttributeValue(s, aes, &t, 1);
	return rv == CKR_OK ? EXIT_DONE : fail("C_SetAttributeValue", rv);
}

/* The actions on an initialized token, in an R/W session. */
static int run_on_token(const char *label, const char *action, char **args)
{
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
	CK_RV rv;

	if (!find_slot(label, false, &slot)) {
		fprintf(stderr, "kill9_client: no token labelled '%s'\n", label);
		return EXIT_NO_TOKEN;
	}
	rv = p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK)
		return fail("C_OpenSession", rv);
	if (strcmp(action, "setpin") == 0) {
		rv = p11->C_SetPIN(s, (CK_UTF8CHAR_PTR)args[0], strlen(args[0]),
		                   (CK_UTF8CHAR_PTR)args[1], strlen(args[1]));
		return rv == CKR_OK ? EXIT_DONE : fail("C_SetPIN", rv);
	}
	rv = login(s, CKU_USER, args[0]);
	if (rv != CKR_OK)
		return fail("C_Login", rv);
	if (strcmp(action, "login") == 0) {
		rv = p11->C_Logout(s);
		return rv == CKR_OK ? EXIT_DONE : fail("C_Logout", rv);
	}
	if (strcmp(action, "setup") == 0)
		return setup_keys(s);
	if (strcmp(action, "setlabel") == 0)
		return set_label(s, args[1]);
	return check_keys(s);
}

/* The number of arguments after the action, or -1 for an unknown action. */
static int action_args(const char *action)
{
	static const struct {
		const char *name;
		int args;
	} actions[] = {{"init", 2},   {"setup", 1},    {"login", 1},
	               {"setpin", 2}, {"setlabel", 2}, {"check", 1}};

	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(action, actions[i].name) == 0)
			return actions[i].args;
	return -1;
}

static int usage(const char *argv0)
{
	fprintf(stderr,
	        "usage: %s MODULE LABEL init SO_PIN PIN | setup PIN | login PIN | "
	        "setpin OLD NEW | setlabel PIN TEXT | check PIN\n",
	        argv0);
	return EXIT_FAILED;
}

int main(int argc, char **argv)
{
	CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
	void *lib;
	int rc, need;
	CK_RV rv;

	if (argc < 5)
		return usage(argv[0]);
	need = action_args(argv[3]);
	if (need < 0 || argc != 4 + need)
		return usage(argv[0]);
	lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "kill9_client: cannot load %s: %s\n", argv[1], dlerror());
		return EXIT_FAILED;
	}
	*(void **)&get_list = dlsym(lib, "C_GetFunctionList");
	if (!get_list || get_list(&p11) != CKR_OK)
		return fail("C_GetFunctionList", CKR_GENERAL_ERROR);
	rv = p11->C_Initialize(NULL);
	if (rv != CKR_OK)
		return fail("C_Initialize", rv);

	if (strcmp(argv[3], "init") == 0)
		rc = init_token(argv[2], argv[4], argv[5]);
	else
		rc = run_on_token(argv[2], argv[3], argv + 4);
	p11->C_Finalize(NULL);
	dlclose(lib);
	return rc;
}
