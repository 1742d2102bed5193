/*
 * Router tests through the real libhsmux.so: the interfaces, argument
 * checks, config errors and several backends at once.
 * Usage: test_router LIBHSMUX SOFTHSM_MODULE
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "router_fixture.h"

#define SOFT_CONF "[backend:soft]\ntype = softhsm\nstore = %s/store\n"
#define TRUST_MODULE "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-trust.so"

/* Runs C_Initialize with stderr sent to a file, and returns what it printed. */
static CK_RV init_capturing(char *out, size_t len)
{
	char path[512];
	int saved = dup(2), fd;
	CK_RV rv;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stderr", fixture_dir);
	fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
	dup2(fd, 2);
	rv = fixture_init();
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return rv;
}

static void test_interface_list(void)
{
	CK_C_GetInterfaceList get_list;
	CK_INTERFACE list[8];
	CK_ULONG n = 0;
	void *dl = dlopen(fixture_module_path, RTLD_NOW);

	get_list = (CK_C_GetInterfaceList)dlsym(dl, "C_GetInterfaceList");
	CU_ASSERT_PTR_NOT_NULL_FATAL(get_list);
	CU_ASSERT_EQUAL(get_list(NULL, NULL), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(get_list(NULL, &n), CKR_OK);
	CU_ASSERT(n >= 2);
	n = 1;
	CU_ASSERT_EQUAL(get_list(list, &n), CKR_BUFFER_TOO_SMALL);
	CU_ASSERT(n >= 2);
	CU_ASSERT_EQUAL(get_list(list, &n), CKR_OK);
	CU_ASSERT_STRING_EQUAL((char *)list[0].pInterfaceName, "PKCS 11");
	CU_ASSERT_EQUAL(((CK_VERSION *)list[0].pFunctionList)->major, 3);
	CU_ASSERT_STRING_EQUAL((char *)list[1].pInterfaceName, "PKCS 11");
	CU_ASSERT_EQUAL(((CK_VERSION *)list[1].pFunctionList)->major, 2);
	CU_ASSERT_EQUAL(((CK_VERSION *)list[1].pFunctionList)->minor, 40);
	dlclose(dl);
}

static void test_interface_30(void)
{
	CK_VERSION v30 = {3, 0}, v240 = {2, 40}, v99 = {9, 9};
	CK_C_GetInterface get;
	CK_INTERFACE_PTR iface = NULL;
	CK_FUNCTION_LIST_3_0_PTR f3;
	CK_INFO info;
	CK_SESSION_HANDLE s;
	CK_SLOT_ID slot;
	void *dl = dlopen(fixture_module_path, RTLD_NOW);

	get = (CK_C_GetInterface)dlsym(dl, "C_GetInterface");
	CU_ASSERT_PTR_NOT_NULL_FATAL(get);
	CU_ASSERT_EQUAL(get((CK_UTF8CHAR_PTR) "PKCS 11", &v99, &iface, 0), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(get((CK_UTF8CHAR_PTR) "no such", NULL, &iface, 0), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(get(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(get((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &iface, 0), CKR_OK);
	CU_ASSERT_PTR_EQUAL(iface->pFunctionList, fl);
	CU_ASSERT_EQUAL_FATAL(get((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &iface, 0), CKR_OK);
	f3 = iface->pFunctionList;
	CU_ASSERT_EQUAL(f3->version.major, 3);

	fixture_config(SOFT_CONF);
	CU_ASSERT_EQUAL(f3->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
	CU_ASSERT_EQUAL_FATAL(fixture_init(), CKR_OK);
	CU_ASSERT_EQUAL(f3->C_GetInfo(&info), CKR_OK);
	CU_ASSERT_EQUAL(info.cryptokiVersion.major, 3);
	CU_ASSERT_EQUAL(info.cryptokiVersion.minor, 0);
	CU_ASSERT_EQUAL(fl->C_GetInfo(&info), CKR_OK);
	CU_ASSERT_EQUAL(info.cryptokiVersion.major, 2);
	CU_ASSERT_EQUAL(info.cryptokiVersion.minor, 40);
	CU_ASSERT_EQUAL(memcmp(info.manufacturerID, "hsmux", 5), 0);

	/* 3.0 functions: the spec's codes for a bad handle, a nameless login and a cancel. */
	CU_ASSERT_EQUAL(f3->C_LoginUser(12345, CKU_USER, (CK_UTF8CHAR_PTR) "1111", 4, NULL, 0),
			CKR_SESSION_HANDLE_INVALID);
	CU_ASSERT_EQUAL(f3->C_SessionCancel(12345, 0), CKR_SESSION_HANDLE_INVALID);
	CU_ASSERT_FATAL(fixture_token("soft", "iface", &slot));
	CU_ASSERT_EQUAL(fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
	CU_ASSERT_EQUAL(f3->C_LoginUser(s, CKU_USER, (CK_UTF8CHAR_PTR) "9999", 4, NULL, 0),
			CKR_PIN_INCORRECT);
	CU_ASSERT_EQUAL(f3->C_LoginUser(s, CKU_USER, (CK_UTF8CHAR_PTR) "1111", 4,
					(CK_UTF8CHAR_PTR) "alice", 5),
			CKR_FUNCTION_NOT_SUPPORTED);
	CU_ASSERT_EQUAL(f3->C_LoginUser(s, CKU_USER, (CK_UTF8CHAR_PTR) "1111", 4, NULL, 0),
			CKR_OK);
	CU_ASSERT_EQUAL(f3->C_SessionCancel(s, 0), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_FindObjectsInit(s, NULL, 0), CKR_OK);
	CU_ASSERT_EQUAL(f3->C_SessionCancel(s, CKF_FIND_OBJECTS), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_FindObjectsFinal(s), CKR_OPERATION_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(f3->C_SessionCancel(s, CKF_SIGN), CKR_OPERATION_CANCEL_FAILED);
	CU_ASSERT_EQUAL(f3->C_MessageSignInit(s, NULL, 0), CKR_FUNCTION_NOT_SUPPORTED);
	CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_OK);
	dlclose(dl);
}

static void test_not_initialized(void)
{
	CK_INFO info;
	CK_ULONG n;
	CK_SESSION_INFO si;
	CK_SLOT_INFO slot_info;
	CK_TOKEN_INFO token_info;
	CK_MECHANISM_INFO mech_info;
	CK_SESSION_HANDLE s;
	CK_UTF8CHAR label[32];
	CK_C_INITIALIZE_ARGS bad_reserved = {.pReserved = (void *)1};
	CK_C_INITIALIZE_ARGS half_mutex = {.CreateMutex = (CK_CREATEMUTEX)1};

	memset(label, ' ', sizeof(label));
	fixture_config(SOFT_CONF);
	CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(fl->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(fl->C_GetSlotList(CK_FALSE, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(fl->C_GetSessionInfo(1, &si), CKR_CRYPTOKI_NOT_INITIALIZED);
	/* The slot calls too: each once crashed on an unset fork-gate pointer. */
	CU_ASSERT_EQUAL(fl->C_GetSlotInfo(0, &slot_info), CKR_CRYPTOKI_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(fl->C_GetTokenInfo(0, &token_info), CKR_CRYPTOKI_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(fl->C_GetMechanismList(0, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(fl->C_GetMechanismInfo(0, CKM_ECDSA, &mech_info),
			CKR_CRYPTOKI_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(fl->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s),
			CKR_CRYPTOKI_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(fl->C_CloseAllSessions(0), CKR_CRYPTOKI_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(fl->C_InitToken(0, (CK_UTF8CHAR_PTR) "12345678", 8, label),
			CKR_CRYPTOKI_NOT_INITIALIZED);
	CU_ASSERT_EQUAL(fl->C_Initialize(&bad_reserved), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(fl->C_Initialize(&half_mutex), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(fl->C_Initialize(NULL), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	CU_ASSERT_EQUAL(fl->C_Finalize((void *)1), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
}

static void test_argument_checks(void)
{
	CK_SLOT_ID slot, one;
	CK_ULONG n, len;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE pub, priv;
	CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0};
	CK_BYTE hash[32] = {1}, sig[128];
	CK_MECHANISM_TYPE mechs[1];

	fixture_config(SOFT_CONF);
	CU_ASSERT_EQUAL_FATAL(fixture_init(), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(fl->C_GetSlotList(CK_FALSE, NULL, NULL), CKR_ARGUMENTS_BAD);
	CU_ASSERT_FATAL(fixture_token("soft", "args", &slot));

	/* Size queries: a NULL list gives the count; a short list gives BUFFER_TOO_SMALL. */
	CU_ASSERT_EQUAL(fl->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	CU_ASSERT_EQUAL(n, 2);
	len = 1;
	CU_ASSERT_EQUAL(fl->C_GetSlotList(CK_FALSE, &one, &len), CKR_BUFFER_TOO_SMALL);
	CU_ASSERT_EQUAL(len, 2);
	CU_ASSERT_EQUAL(fl->C_GetMechanismList(slot, NULL, &n), CKR_OK);
	CU_ASSERT(n > 10);
	len = 1;
	CU_ASSERT_EQUAL(fl->C_GetMechanismList(slot, mechs, &len), CKR_BUFFER_TOO_SMALL);
	CU_ASSERT_EQUAL(len, n);
	CU_ASSERT_EQUAL(fl->C_GetMechanismList(slot, NULL, NULL), CKR_ARGUMENTS_BAD);

	CU_ASSERT_EQUAL(fl->C_GetSlotInfo(0xdead, NULL), CKR_SLOT_ID_INVALID);
	CU_ASSERT_EQUAL(fl->C_GetSlotInfo(slot, NULL), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(fl->C_GetTokenInfo(slot, NULL), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, NULL),
			CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(fl->C_OpenSession(slot, 0, NULL, NULL, &s),
			CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	CU_ASSERT_EQUAL(fl->C_OpenSession(0xdead, CKF_SERIAL_SESSION, NULL, NULL, &s),
			CKR_SLOT_ID_INVALID);
	CU_ASSERT_EQUAL(fl->C_SignInit(0xdead, &ecdsa, 1), CKR_SESSION_HANDLE_INVALID);
	CU_ASSERT_EQUAL(fl->C_CloseSession(0), CKR_SESSION_HANDLE_INVALID);

	s = fixture_login(slot);
	CU_ASSERT_FATAL(fixture_ec_key(s, &pub, &priv));
	CU_ASSERT_EQUAL(fl->C_SignInit(s, NULL, priv), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(fl->C_SignInit(s, &ecdsa, 0xdead), CKR_KEY_HANDLE_INVALID);
	CU_ASSERT_EQUAL(fl->C_GetAttributeValue(s, priv, NULL, 3), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(fl->C_FindObjects(s, NULL, 1, &n), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(fl->C_GenerateKeyPair(s, &ecdsa, NULL, 0, NULL, 0, NULL, &priv),
			CKR_ARGUMENTS_BAD);

	/* C_Sign: the length query keeps the operation, a short buffer too. */
	CU_ASSERT_EQUAL_FATAL(fl->C_SignInit(s, &ecdsa, priv), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_Sign(s, hash, sizeof(hash), sig, NULL), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(fl->C_Sign(s, hash, sizeof(hash), NULL, &len), CKR_OK);
	CU_ASSERT_EQUAL(len, 64);
	len = 10;
	CU_ASSERT_EQUAL(fl->C_Sign(s, hash, sizeof(hash), sig, &len), CKR_BUFFER_TOO_SMALL);
	CU_ASSERT_EQUAL(len, 64);
	len = sizeof(sig);
	CU_ASSERT_EQUAL(fl->C_Sign(s, hash, sizeof(hash), sig, &len), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_VerifyInit(s, &ecdsa, pub), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_Verify(s, hash, sizeof(hash), sig, len), CKR_OK);
	sig[3] ^= 1;
	CU_ASSERT_EQUAL(fl->C_VerifyInit(s, &ecdsa, pub), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_Verify(s, hash, sizeof(hash), sig, len), CKR_SIGNATURE_INVALID);
	CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_OK);
}

static void test_config_errors(void)
{
	char err[1024];
	char expect[512];

	fixture_config("[backend:soft]\ntype = softhsm\nstore = %s/store\ncolour = blue\n");
	CU_ASSERT_EQUAL(init_capturing(err, sizeof(err)), CKR_GENERAL_ERROR);
	snprintf(expect, sizeof(expect), "%s/hsmux.conf:4: unknown key 'colour'", fixture_dir);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, expect));

	fixture_config("[backend:v]\ntype = pkcs11\nmodule = %s/missing.so\n");
	CU_ASSERT_EQUAL(init_capturing(err, sizeof(err)), CKR_GENERAL_ERROR);
	snprintf(expect, sizeof(expect), "%s/hsmux.conf:3: cannot load module", fixture_dir);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, expect));

	fixture_config("[backend:soft]\ntype = softhsm\nstore = /proc/hsmux-cannot-be-here\n");
	CU_ASSERT_EQUAL(init_capturing(err, sizeof(err)), CKR_GENERAL_ERROR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot create the SoftHSM store"));

	fixture_config("[backend:a]\ntype = softhsm\nstore = %s/a\n"
		       "[backend:b]\ntype = softhsm\nstore = %s/b\n");
	CU_ASSERT_EQUAL(init_capturing(err, sizeof(err)), CKR_GENERAL_ERROR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "one process can load SoftHSM only once"));

	fixture_config("[backend:x]\ntype = floppy\n");
	CU_ASSERT_EQUAL(init_capturing(err, sizeof(err)), CKR_GENERAL_ERROR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":2: backend 'x' has unknown type 'floppy'"));

	/* After a failed start the module is not half up: a good config starts it. */
	fixture_config(SOFT_CONF);
	CU_ASSERT_EQUAL(fixture_init(), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_OK);
}

/* SoftHSM beside p11-kit's read-only trust module: both show up, each routed to its own. */
static void test_two_backends(void)
{
	CK_SLOT_ID soft, trust;
	CK_TOKEN_INFO ti;
	CK_SESSION_HANDLE s1, s2;
	CK_SESSION_INFO si;

	if (access(TRUST_MODULE, R_OK) != 0) {
		CU_FAIL("p11-kit-trust.so is missing; install p11-kit-modules");
		return;
	}
	fixture_config("[backend:soft]\ntype = softhsm\nstore = %s/store\n"
		       "[backend:trust]\ntype = pkcs11\nmodule = " TRUST_MODULE "\n");
	CU_ASSERT_EQUAL_FATAL(fixture_init(), CKR_OK);
	CU_ASSERT_FATAL(fixture_token("soft", "both", &soft));
	CU_ASSERT_FATAL(fixture_slot("hsmux trust:", true, &trust));
	CU_ASSERT_EQUAL(trust >> 32, 1);
	CU_ASSERT_EQUAL(soft >> 32, 0);
	CU_ASSERT_EQUAL(fl->C_GetTokenInfo(trust, &ti), CKR_OK);
	CU_ASSERT(ti.flags & CKF_WRITE_PROTECTED);
	CU_ASSERT_EQUAL(fl->C_OpenSession(trust, CKF_SERIAL_SESSION, NULL, NULL, &s1), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_OpenSession(soft, CKF_SERIAL_SESSION, NULL, NULL, &s2), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_GetSessionInfo(s1, &si), CKR_OK);
	CU_ASSERT_EQUAL(si.slotID, trust);
	CU_ASSERT_EQUAL(fl->C_GetSessionInfo(s2, &si), CKR_OK);
	CU_ASSERT_EQUAL(si.slotID, soft);
	CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_OK);
}

/* The token filter hides the trust module's other tokens. */
static void test_token_filter(void)
{
	CK_SLOT_ID slot;
	CK_ULONG n = 0;

	fixture_config("[backend:trust]\ntype = pkcs11\nmodule = " TRUST_MODULE "\n"
		       "tokens = No Such Token\n");
	CU_ASSERT_EQUAL_FATAL(fixture_init(), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_FALSE(fixture_slot("hsmux trust:", true, &slot));
	CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_OK);
}

/* SoftHSM as a plain vendor module, configured by SOFTHSM2_CONF from the environment. */
static void test_softhsm_as_pkcs11(void)
{
	char conf[600], tokens[300];
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE pub, priv;
	FILE *f;

	fixture_config("[backend:vendor]\ntype = pkcs11\nmodule = %s\n");
	/* fixture_config put the dir in the module path; write the real one. */
	snprintf(conf, sizeof(conf), "%s/hsmux.conf", fixture_dir);
	f = fopen(conf, "w");
	fprintf(f, "[backend:vendor]\ntype = pkcs11\nmodule = %s\n", fixture_softhsm_path);
	fclose(f);
	snprintf(tokens, sizeof(tokens), "%s/tokens", fixture_dir);
	mkdir(tokens, 0700);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", fixture_dir);
	f = fopen(conf, "w");
	fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\n", tokens);
	fclose(f);
	setenv("SOFTHSM2_CONF", conf, 1);

	CU_ASSERT_EQUAL_FATAL(fixture_init(), CKR_OK);
	CU_ASSERT_FATAL(fixture_token("vendor", "vend", &slot));
	s = fixture_login(slot);
	CU_ASSERT(fixture_ec_key(s, &pub, &priv));
	CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_OK);
	unsetenv("SOFTHSM2_CONF");

	/* The token is in the directory that SOFTHSM2_CONF names, not in an hsmux store. */
	snprintf(conf, sizeof(conf), "ls %s | grep -q .", tokens);
	CU_ASSERT_EQUAL(system(conf), 0);
}

int main(int argc, char **argv)
{
	CU_pSuite suite;
	unsigned int failed;

	if (argc < 3) {
		fprintf(stderr, "usage: %s LIBHSMUX SOFTHSM_MODULE\n", argv[0]);
		return 2;
	}
	fixture_module_path = argv[1];
	fixture_softhsm_path = argv[2];
	unsetenv("HSMUX_DEBUG");
	if (!fixture_load() || CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite = CU_add_suite("router", NULL, NULL);
	CU_add_test(suite, "interface list", test_interface_list);
	CU_add_test(suite, "interface 3.0", test_interface_30);
	CU_add_test(suite, "not initialized", test_not_initialized);
	CU_add_test(suite, "argument checks", test_argument_checks);
	CU_add_test(suite, "config errors", test_config_errors);
	CU_add_test(suite, "two backends", test_two_backends);
	CU_add_test(suite, "token filter", test_token_filter);
	CU_add_test(suite, "softhsm as pkcs11", test_softhsm_as_pkcs11);
	fixture_register_sessions();
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
