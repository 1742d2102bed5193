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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

static int step_source(void *arg)
{
	struct mod m;
	char path[PATH_MAX], err[512];

	path_of(path, "a.bk");
	if (!fx_open(&m, fx_config_tpm(dir, "a")) || !fx_init_token(&m, "A") || !keys_make(&m) ||
	    !keys_export(&m, dir) || fx_activate(&m, dir, 1, "sd.json") != CKR_OK ||
	    m.admin->backup(m.s, path, err, sizeof(err)) != CKR_OK)
		return 1;
	fx_close(&m);
	return 0;
}

static int step_target(void *arg)
{
	struct mod m;
	char path[PATH_MAX], err[512];
	bool upload = arg != NULL;

	if (!fx_open(&m, fx_config_tpm(dir, "b")))
		return 1;
	if (!upload) {
		path_of(path, "exchange.pem");
		return fx_init_token(&m, "B") &&
		               m.admin->sd_init_recovery(m.s, path, err, sizeof(err)) == CKR_OK
		           ? 0
		           : 2;
	}
	path_of(path, "upload.json");
	return fx_login(&m, "B") && m.admin->sd_upload(m.s, path, err, sizeof(err)) == CKR_OK ? 0
	                                                                                      : 3;
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

static int victim_main(int ready, int go)
{
	struct mod m;
	char path[PATH_MAX], err[512], byte = 'r';

	path_of(path, "a.bk");
	if (!fx_open(&m, fx_config_tpm(dir, "b")) || !fx_login(&m, "B"))
		return 1;
	if (write(ready, &byte, 1) != 1 || read(go, &byte, 1) != 1)
		return 2;
	return m.admin->restore(m.s, path, err, sizeof(err)) == CKR_OK ? 0 : 3;
}

/*
 * Runs the victim and kills it delay_us after the restore starts; with
 * delay_us 0 it lets the restore finish, which must then succeed. Returns
 * the microseconds the restore ran, or -1.
 */
static long run_victim(long delay_us)
{
	int ready[2], go[2], status;
	struct timespec t0, t1;
	char byte = 'g';
	pid_t pid;

	if (pipe(ready) != 0 || pipe(go) != 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(victim_main(ready[1], go[0]));
	if (read(ready[0], &byte, 1) != 1) {
		waitpid(pid, &status, 0);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (write(go[1], &byte, 1) != 1)
		return -1;
	if (delay_us > 0) {
		struct timespec d = {delay_us / 1000000, (delay_us % 1000000) * 1000};

		nanosleep(&d, NULL);
		kill(pid, SIGKILL);
	}
	waitpid(pid, &status, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (int i = 0; i < 2; i++) {
		close(ready[i]);
		close(go[i]);
	}
	if (delay_us <= 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		return -1;
	return (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
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
		run_victim(1 + random() % (full + full / 4 + 1));
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
	int which[2] = {1, 2};
	char report[1024];

	if (fx_run(step_source, NULL) != 0 || fx_run(step_target, NULL) != 0 ||
	    !fx_recover(dir, which, 2, "upload.json", NULL, report, sizeof(report)) ||
	    fx_run(step_target, "upload") != 0)
		return 1;
	return 0;
}

int main(void)
{
	unsigned int failed;
	CU_pSuite s;

	snprintf(dir, sizeof(dir), "%s/hsmux-sd-tpm-crash-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	/* The TPM has no padding mode, so the AES ciphertext is plain CBC. */
	keys_aes_mech = CKM_AES_CBC;
	srandom((unsigned int)time(NULL) ^ (unsigned int)getpid());
	fx_make_custodians(dir);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("sd_tpm_crash", setup, NULL);
	CU_add_test(s, "test_sd_tpm_crash_restore", test_sd_tpm_crash_restore);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
	         CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	if (!failed) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return failed ? 1 : 0;
}
