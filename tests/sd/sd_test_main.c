/* Runs the security-domain unit suites and prints CUnit's summary. */
#include <CUnit/Basic.h>
#include <openssl/rsa.h>

#include "sd_test.h"

static EVP_PKEY *keys[8];

EVP_PKEY *sd_test_rsa_key(int n)
{
	if (!keys[n])
		keys[n] = EVP_RSA_gen(2048);
	return keys[n];
}

int main(void)
{
	unsigned int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	sd_files_register();
	backup_file_register();
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	for (int i = 0; i < 8; i++)
		EVP_PKEY_free(keys[i]);
	return failed ? 1 : 0;
}
