/*
 * Unit tests of the in-process libtpms TCTI and the ESYS start-up: the TPM
 * runs commands, its NV state survives a restart, and a second libtpms
 * TPM in the same process is rejected.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <tss2/tss2_mu.h>

#include "backends/tpm/tpm_device.h"

static char state_dir[] = "/tmp/hsmux-tpm-device-XXXXXX";
static char tcti_conf[sizeof(state_dir) + 16];

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL)
		unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

static void open_device(struct tpm_device *dev)
{
	char err[512] = "";
	CK_RV rv = tpm_device_open(dev, tcti_conf, err, sizeof(err));

	if (rv != CKR_OK)
		fprintf(stderr, "tpm_device_open: %s\n", err);
	CU_ASSERT_FATAL(rv == CKR_OK);
}

static void read_primary_public(struct tpm_device *dev, TPM2B_PUBLIC *out)
{
	TPM2B_PUBLIC *pub = NULL;

	CU_ASSERT_FATAL(Esys_ReadPublic(dev->esys, dev->primary, ESYS_TR_NONE, ESYS_TR_NONE,
	                                ESYS_TR_NONE, &pub, NULL, NULL) == TSS2_RC_SUCCESS);
	*out = *pub;
	Esys_Free(pub);
}

static void test_tpm_device_random(void)
{
	struct tpm_device dev;
	TPM2B_DIGEST *a = NULL, *b = NULL;

	open_device(&dev);
	CU_ASSERT_EQUAL(Esys_GetRandom(dev.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, 32, &a),
	                TSS2_RC_SUCCESS);
	CU_ASSERT_EQUAL(Esys_GetRandom(dev.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, 32, &b),
	                TSS2_RC_SUCCESS);
	CU_ASSERT_FATAL(a && b);
	CU_ASSERT_EQUAL(a->size, 32);
	CU_ASSERT_NOT_EQUAL(memcmp(a->buffer, b->buffer, 32), 0);
	Esys_Free(a);
	Esys_Free(b);
	tpm_device_close(&dev);
}

/* The owner seed lives in permall: a restarted TPM derives the same primary key. */
static void test_tpm_device_state_persists(void)
{
	struct tpm_device dev;
	TPM2B_PUBLIC first, second;
	char path[sizeof(state_dir) + 16];
	struct stat st;

	open_device(&dev);
	read_primary_public(&dev, &first);
	tpm_device_close(&dev);

	snprintf(path, sizeof(path), "%s/permall", state_dir);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT(st.st_size > 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);

	open_device(&dev);
	read_primary_public(&dev, &second);
	tpm_device_close(&dev);

	CU_ASSERT_EQUAL(first.publicArea.unique.ecc.x.size, 32);
	CU_ASSERT_EQUAL(memcmp(&first.publicArea.unique.ecc, &second.publicArea.unique.ecc,
	                       sizeof(first.publicArea.unique.ecc)),
	                0);
}

static void test_tpm_device_second_refused(void)
{
	struct tpm_device dev, other;
	char err[512] = "";

	open_device(&dev);
	CU_ASSERT_NOT_EQUAL(tpm_device_open(&other, "libtpms:/tmp", err, sizeof(err)), CKR_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "one TPM per process"));
	tpm_device_close(&dev);
}

static void test_tpm_device_bad_tcti(void)
{
	struct tpm_device dev;
	char err[512] = "";

	CU_ASSERT_EQUAL(tpm_device_open(&dev, "libtpms:relative", err, sizeof(err)),
	                CKR_GENERAL_ERROR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "absolute"));
	CU_ASSERT_EQUAL(tpm_device_open(&dev, "mssim:port=1", err, sizeof(err)), CKR_GENERAL_ERROR);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not supported"));
}

int main(void)
{
	CU_pSuite suite;
	unsigned int failures;

	if (!mkdtemp(state_dir))
		return 1;
	snprintf(tcti_conf, sizeof(tcti_conf), "libtpms:%s", state_dir);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("tpm_device", NULL, NULL);
	CU_add_test(suite, "test_tpm_device_random", test_tpm_device_random);
	CU_add_test(suite, "test_tpm_device_state_persists", test_tpm_device_state_persists);
	CU_add_test(suite, "test_tpm_device_second_refused", test_tpm_device_second_refused);
	CU_add_test(suite, "test_tpm_device_bad_tcti", test_tpm_device_bad_tcti);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	remove_tree(state_dir);
	return failures ? 1 : 0;
}
