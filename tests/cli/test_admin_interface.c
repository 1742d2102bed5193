/*
 * The versions of the "hsmux admin" interface that libhsmux.so serves
 * through C_GetInterface, and the argument checks of key_status. The
 * status_keys case of test_cli.py checks the results of key_status on real
 * keys.
 *
 * Usage: test_admin_interface MODULE [1.0]. With "1.0" it checks only
 * that a caller built for version 1.0 still finds its functions.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>

#include <CUnit/Basic.h>

#include "hsmux/admin.h"

static const char *module_path;
static void *dl;
static CK_FUNCTION_LIST_PTR fl;
static CK_C_GetInterface get_interface;
static CK_C_GetInterfaceList get_interface_list;
static char tmp_dir[] = "/tmp/hsmux-admin-iface-XXXXXX";

static const struct hsmux_admin_functions *admin_version(CK_BYTE major, CK_BYTE minor, CK_RV *rv)
{
	CK_VERSION v = {major, minor};
	CK_INTERFACE_PTR iface = NULL;

	*rv = get_interface((CK_UTF8CHAR_PTR)HSMUX_ADMIN_INTERFACE, &v, &iface, 0);
	return *rv == CKR_OK && iface ? iface->pFunctionList : NULL;
}

static int suite_init(void)
{
	char conf[sizeof(tmp_dir) + 32], text[sizeof(tmp_dir) + 64];
	CK_C_GetFunctionList get_list;
	FILE *f;
	int n;

	if (!mkdtemp(tmp_dir))
		return 1;
	snprintf(conf, sizeof(conf), "%s/hsmux.conf", tmp_dir);
	n = snprintf(text, sizeof(text), "[backend:soft]\ntype = softhsm\nstore = %s/store\n",
	             tmp_dir);
	f = fopen(conf, "w");
	if (!f || fwrite(text, 1, (size_t)n, f) != (size_t)n || fclose(f) != 0)
		return 1;
	setenv("HSMUX_CONF", conf, 1);

	dl = dlopen(module_path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		fprintf(stderr, "dlopen %s: %s\n", module_path, dlerror());
		return 1;
	}
	get_list = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	get_interface = (CK_C_GetInterface)dlsym(dl, "C_GetInterface");
	get_interface_list = (CK_C_GetInterfaceList)dlsym(dl, "C_GetInterfaceList");
	if (!get_list || !get_interface || !get_interface_list || get_list(&fl) != CKR_OK)
		return 1;
	return 0;
}

static int suite_cleanup(void)
{
	char cmd[sizeof(tmp_dir) + 16];

	if (dl)
		dlclose(dl);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp_dir);
	return system(cmd) == 0 ? 0 : 1;
}

static void test_current_version(void)
{
	const struct hsmux_admin_functions *admin;
	CK_INTERFACE_PTR iface = NULL;
	CK_RV rv;

	admin = admin_version(1, 1, &rv);
	CU_ASSERT_EQUAL(rv, CKR_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(admin);
	CU_ASSERT_EQUAL(admin->version.major, 1);
	CU_ASSERT_EQUAL(admin->version.minor, 1);
	CU_ASSERT_PTR_NOT_NULL(admin->key_status);
	CU_ASSERT_PTR_NOT_NULL(admin->restore);

	/* Without a version, C_GetInterface gives the newest. */
	rv = get_interface((CK_UTF8CHAR_PTR)HSMUX_ADMIN_INTERFACE, NULL, &iface, 0);
	CU_ASSERT_EQUAL(rv, CKR_OK);
	CU_ASSERT_PTR_EQUAL(iface ? iface->pFunctionList : NULL, admin);
}

static void test_unknown_versions(void)
{
	CK_RV rv;

	CU_ASSERT_PTR_NULL(admin_version(1, 2, &rv));
	CU_ASSERT_EQUAL(rv, CKR_ARGUMENTS_BAD);
	CU_ASSERT_PTR_NULL(admin_version(2, 0, &rv));
	CU_ASSERT_EQUAL(rv, CKR_ARGUMENTS_BAD);
}

static void test_key_status_arguments(void)
{
	const struct hsmux_admin_functions *admin;
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_BBOOL within = CK_TRUE;
	char reason[64];
	CK_RV rv;

	admin = admin_version(1, 1, &rv);
	CU_ASSERT_PTR_NOT_NULL_FATAL(admin);
	CU_ASSERT_EQUAL(admin->key_status(1, 1, &within, reason, sizeof(reason)),
	                CKR_CRYPTOKI_NOT_INITIALIZED);
	CU_ASSERT_EQUAL_FATAL(fl->C_Initialize(&args), CKR_OK);
	CU_ASSERT_EQUAL(admin->key_status(1, 1, NULL, reason, sizeof(reason)), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(admin->key_status(1, 1, &within, NULL, sizeof(reason)), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(admin->key_status(1, 1, &within, reason, 0), CKR_ARGUMENTS_BAD);
	CU_ASSERT_EQUAL(admin->key_status(0x7fff, 1, &within, reason, sizeof(reason)),
	                CKR_SESSION_HANDLE_INVALID);
	CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_OK);
}

/* A caller built for 1.0 requests 1.0, and finds the same functions as 1.1 has. */
static void test_version_1_0(void)
{
	const struct hsmux_admin_functions *old, *current;
	CK_INTERFACE list[8];
	CK_ULONG n = 8, i, admins = 0;
	CK_RV rv;

	old = admin_version(1, 0, &rv);
	CU_ASSERT_EQUAL(rv, CKR_OK);
	current = admin_version(1, 1, &rv);
	CU_ASSERT_PTR_NOT_NULL_FATAL(old);
	CU_ASSERT_PTR_NOT_NULL_FATAL(current);
	CU_ASSERT_EQUAL(old->version.major, 1);
	CU_ASSERT_EQUAL(old->version.minor, 0);
	CU_ASSERT_PTR_EQUAL(old->sd_activate, current->sd_activate);
	CU_ASSERT_PTR_EQUAL(old->sd_fingerprint, current->sd_fingerprint);
	CU_ASSERT_PTR_EQUAL(old->sd_init_recovery, current->sd_init_recovery);
	CU_ASSERT_PTR_EQUAL(old->sd_upload, current->sd_upload);
	CU_ASSERT_PTR_EQUAL(old->backup, current->backup);
	CU_ASSERT_PTR_EQUAL(old->restore, current->restore);

	CU_ASSERT_EQUAL_FATAL(get_interface_list(list, &n), CKR_OK);
	for (i = 0; i < n; i++)
		admins += strcmp((const char *)list[i].pInterfaceName, HSMUX_ADMIN_INTERFACE) == 0;
	CU_ASSERT_EQUAL(admins, 2);
}

int main(int argc, char **argv)
{
	bool compat = argc > 2 && strcmp(argv[2], "1.0") == 0;
	CU_pSuite suite;
	unsigned int failed;

	if (argc < 2) {
		fprintf(stderr, "usage: %s MODULE [1.0]\n", argv[0]);
		return 2;
	}
	module_path = argv[1];
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("admin interface", suite_init, suite_cleanup);
	if (compat) {
		CU_add_test(suite, "a 1.0 caller finds its functions", test_version_1_0);
	} else {
		CU_add_test(suite, "1.1 has key_status", test_current_version);
		CU_add_test(suite, "unknown versions are refused", test_unknown_versions);
		CU_add_test(suite, "key_status checks its arguments", test_key_status_arguments);
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
