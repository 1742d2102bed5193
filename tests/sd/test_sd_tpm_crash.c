/*
 * kill -9 at random points of a restore into a libtpms token. A child logs
 * in, signals the parent through a pipe, and starts the restore when the
 * parent writes back. The parent kills it after a random delay of up to
 * 1.25 times the duration of an uninterrupted run. A checker process then
 * starts the module on the target, which finishes or drops a cut restore,
 * and finds one of two tokens:
 * - token B as it was: the same key files and token file, and B's
 *   security-domain key;
 * - token A as restored: its keys sign and decrypt against A's public keys
 *   and ciphertexts, which proves that the TPM's NV state and the key
 *   files came from the same backup.
 * No staging file is left after the checker's start.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "sd_fixture.h"
#include "sd_keys.h"

#define CRASH_ROUNDS 50

enum outcome {
	OUTCOME_UNCHANGED = 10,
	OUTCOME_RESTORED = 11,
};

static char dir[1024];
static unsigned char before_digest[32];

static void path_of(char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", dir, name);
}

/* Hashes the key files and the token file of the target. */
static bool store_digest(unsigned char out[32])
{
	char path[PATH_MAX];
	unsigned char objects[32], *token;
	size_t len = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok;

	path_of(path, "b/objects");
	ok = fx_dir_digest(path, objects);
	path_of(path, "b/token");
	token = fx_read(path, &len);
	ok = ok && md && token && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md, objects, sizeof(objects)) == 1 &&
	     EVP_DigestUpdate(md, token, len) == 1 && EVP_DigestFinal_ex(md, out, NULL) == 1;
	EVP_MD_CTX_free(md);
	free(token);
	return ok;
}

static bool staging_left(void)
{
	char path[PATH_MAX];

	path_of(path, "b/.hsmux-restore");
	if (access(path, F_OK) == 0)
		return true;
	path_of(path, "b/.hsmux-permall");
	return access(path, F_OK) == 0;
}

/* Starts the module on the target and returns which token it finds there. */
static int check_target(void *arg)
{
	unsigned char now[32];
	struct mod m;
	int outcome;

	if (!fx_open(&m, fx_config_tpm(dir, "b")) || staging_left())
		return 1;
	if (fx_login(&m, "A")) {
		outcome = keys_check(&m, dir) && fx_find(&m, CKO_SECRET_KEY, HSMUX_SD_KEY_LABEL) !=
		                                     CK_INVALID_HANDLE
		              ? OUTCOME_RESTORED
		              : 2;
	} else {
		outcome =
		    fx_login(&m, "B") && store_digest(now) && memcmp(now, before_digest, 32) == 0 &&
		            fx_find(&m, CKO_SECRET_KEY, HSMUX_SD_KEY_LABEL) != CK_INVALID_HANDLE
		        ? OUTCOME_UNCHANGED
		        : 3;
	}
	fx_close(&m);
	return outcome;
}

/*
 * Runs the restore of a.bk into token B and kills it delay_us after its
 * start. With delay_us 0 the restore must finish and succeed. Returns the
 * microseconds the restore ran, or -1.
 */
static long run_victim(long delay_us)
{
	char path[PATH_MAX];
	struct fx_victim v = {
	    .conf = fx_config_tpm(dir, "b"), .label = "B", .file = path, .restore = true};

	path_of(path, "a.bk");
	return fx_run_victim(&v, delay_us, NULL);
}

/* Puts the target's saved state back: the store and the TPM's NV state share dir/b. */
static bool reset_target(void)
{
	char cmd[3 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/b' && cp -a '%s/b-saved' '%s/b'", dir, dir, dir);
	return system(cmd) == 0;
}

static void test_sd_tpm_crash_restore(void)
{
	char cmd[3 * PATH_MAX];
	long full;
	int unchanged = 0, restored = 0, staged = 0;

	snprintf(cmd, sizeof(cmd), "cp -a '%s/b' '%s/b-saved'", dir, dir);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	CU_ASSERT_TRUE_FATAL(store_digest(before_digest));

	full = run_victim(0);
	CU_ASSERT_TRUE_FATAL(full > 0);
	CU_ASSERT_EQUAL(fx_run(check_target, NULL), OUTCOME_RESTORED);
	for (int i = 0; i < CRASH_ROUNDS; i++) {
		int outcome;

		CU_ASSERT_TRUE_FATAL(reset_target());
		run_victim(fx_random_delay(full));
		staged += staging_left();
		outcome = fx_run(check_target, NULL);
		unchanged += outcome == OUTCOME_UNCHANGED;
		restored += outcome == OUTCOME_RESTORED;
		if (outcome != OUTCOME_UNCHANGED && outcome != OUTCOME_RESTORED)
			fprintf(stderr, "round %d: the checker exited with %d\n", i, outcome);
	}
	printf("\n    restore: %d of %d kills left token B as it was, %d restored A, %d left a "
	       "stage for the next start (full run %ld us)\n",
	       unchanged, CRASH_ROUNDS, restored, staged, full);
	CU_ASSERT_EQUAL(unchanged + restored, CRASH_ROUNDS);
}

static int setup(void)
{
	return fx_crash_setup(FX_TPM, dir, true, NULL);
}

int main(void)
{
	static CU_TestInfo tests[] = {
	    {"test_sd_tpm_crash_restore", test_sd_tpm_crash_restore},
	    CU_TEST_INFO_NULL,
	};
	unsigned int failed;

	if (!fx_make_dir(dir, sizeof(dir), "hsmux-sd-tpm-crash"))
		return 1;
	/* The TPM has no padding mode, so the AES ciphertext is plain CBC. */
	keys_aes_mech = CKM_AES_CBC;
	srandom((unsigned int)time(NULL) ^ (unsigned int)getpid());
	fx_make_custodians(dir);
	failed = fx_run_suite("sd_tpm_crash", setup, tests);
	if (!failed)
		fx_remove_dir(dir);
	return failed ? 1 : 0;
}
