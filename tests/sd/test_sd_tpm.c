/*
 * The whole security-domain flow on the tpm backend with an in-process
 * libtpms TPM, through libhsmux.so: keys on token A, activation with 3
 * custodians and quorum 2, backup, a fresh TPM state B, offline recovery
 * with 2 custodian keys, upload, restore, and the restored keys checked
 * against A's public keys and ciphertexts. Each token step runs in its own
 * process, because libtpms runs one TPM per process.
 */
#include <stdlib.h>

#include <CUnit/Basic.h>

#include "sd_fixture.h"
#include "sd_keys.h"

static char dir[1024];

static void test_sd_tpm_round_trip(void)
{
	fx_round_trip(FX_TPM, dir);
}

int main(void)
{
	static CU_TestInfo tests[] = {
	    {"test_sd_tpm_round_trip", test_sd_tpm_round_trip},
	    CU_TEST_INFO_NULL,
	};
	unsigned int failed;

	if (!fx_make_dir(dir, sizeof(dir), "hsmux-sd-tpm"))
		return 1;
	/* The TPM has no padding mode, so the AES ciphertext is plain CBC. */
	keys_aes_mech = CKM_AES_CBC;
	fx_make_custodians(dir);
	failed = fx_run_suite("sd_tpm", NULL, tests);
	if (!failed)
		fx_remove_dir(dir);
	return failed ? 1 : 0;
}
