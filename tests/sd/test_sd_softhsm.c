/*
 * The whole security-domain flow on SoftHSM through libhsmux.so: keys on
 * token A, activation with 3 custodians and quorum 2, backup, a fresh store
 * B, offline recovery with 2 custodian keys, upload, restore, and the
 * restored keys checked against A's public keys and ciphertexts. Each
 * token step runs in its own process, because SoftHSM reads one store per
 * process.
 */
#include <stdlib.h>

#include <CUnit/Basic.h>

#include "sd_fixture.h"
#include "sd_keys.h"

static char dir[1024];

static void test_sd_softhsm_round_trip(void)
{
	fx_round_trip(FX_SOFTHSM, dir);
}

int main(void)
{
	static CU_TestInfo tests[] = {
	    {"test_sd_softhsm_round_trip", test_sd_softhsm_round_trip},
	    CU_TEST_INFO_NULL,
	};
	unsigned int failed;

	if (!fx_make_dir(dir, sizeof(dir), "hsmux-sd"))
		return 1;
	unsetenv("SOFTHSM2_CONF");
	fx_make_custodians(dir);
	failed = fx_run_suite("sd_softhsm", NULL, tests);
	if (!failed)
		fx_remove_dir(dir);
	return failed ? 1 : 0;
}
