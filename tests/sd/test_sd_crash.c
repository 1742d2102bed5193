/*
 * kill -9 at random points of backup and restore. A child logs in, signals
 * the parent through a pipe, and starts the operation when the parent
 * writes back. The parent kills it after a random delay of up to 1.25
 * times the duration of an uninterrupted run. After each kill:
 * - the backup file is absent, or whole: it decrypts to its final chunk
 *   with the key rebuilt offline from the custodians' shares;
 * - the target token's directory is exactly as before, or exactly the
 *   backup's content, and no staging directory is among the tokens.
 * The kills land after the login on purpose: SoftHSM 2.6.1 rewrites
 * token.object in place at login, and a kill there can empty it whatever
 * hsmux does.
 */
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "module/admin/backup_file.h"
#include "module/admin/sd_file.h"
#include "sd_fixture.h"
#include "sd_keys.h"

#define CRASH_ROUNDS 30

static char dir[1024];
static struct sd_secret sd_key;

static void path_of(char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", dir, name);
}

static int step_source(void *arg)
{
	struct mod m;
	char path[PATH_MAX], err[512];

	path_of(path, "a.bk");
	if (!fx_open(&m, fx_config(dir, "a")) || !fx_init_token(&m, "A") || !keys_make(&m) ||
	    fx_activate(&m, dir, 1, "sd.json") != CKR_OK ||
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

	if (!fx_open(&m, fx_config(dir, "b")))
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

/* Digests a backup's files as fx_dir_digest() digests a directory; false unless it is whole. */
static bool backup_digest(const char *path, unsigned char out[32])
{
	FILE *in = fopen(path, "rb");
	char err[256] = "", name[BK_NAME_MAX + 1];
	unsigned char key[32];
	const unsigned char *data;
	size_t len;
	struct bk_reader *r = in ? bk_reader_open(in, err, sizeof(err)) : NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	enum bk_next next = BK_NEXT_ERROR;

	if (r &&
	    sd_prf(sd_key.data, sd_key.len, SD_LABEL_BACKUP_KEY, bk_reader_header(r)->salt,
	           BK_SALT_LEN, key) &&
	    bk_reader_set_key(r, key)) {
		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		while ((next = bk_reader_next(r, name, &data, &len, err, sizeof(err))) ==
		       BK_NEXT_FILE) {
			EVP_DigestUpdate(md, name, strlen(name) + 1);
			EVP_DigestUpdate(md, &len, sizeof(len));
			EVP_DigestUpdate(md, data, len);
		}
		EVP_DigestFinal_ex(md, out, NULL);
	}
	EVP_MD_CTX_free(md);
	bk_reader_free(r);
	if (in)
		fclose(in);
	return next == BK_NEXT_END;
}

struct victim {
	const char *conf, *label, *file;
	bool restore;
};

static int victim_main(const struct victim *v, int ready, int go)
{
	struct mod m;
	char err[512], byte = 'r';

	if (!fx_open(&m, v->conf) || !fx_login(&m, v->label))
		return 1;
	if (write(ready, &byte, 1) != 1 || read(go, &byte, 1) != 1)
		return 2;
	if (v->restore)
		return m.admin->restore(m.s, v->file, err, sizeof(err)) == CKR_OK ? 0 : 3;
	return m.admin->backup(m.s, v->file, err, sizeof(err)) == CKR_OK ? 0 : 3;
}

/*
 * Runs the victim and kills it delay_us after its start; with delay_us 0 it
 * lets the operation finish, which must then succeed. before() runs between
 * login and start. Returns the microseconds the operation ran, or -1.
 */
static long run_victim(const struct victim *v, long delay_us, void (*before)(void))
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
		_exit(victim_main(v, ready[1], go[0]));
	if (read(ready[0], &byte, 1) != 1) {
		waitpid(pid, &status, 0);
		return -1;
	}
	if (before)
		before();
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

static long random_delay(long full_us)
{
	return 1 + random() % (full_us + full_us / 4 + 1);
}

static void test_sd_crash_backup(void)
{
	char path[PATH_MAX];
	struct victim v = {.conf = fx_config(dir, "a"), .label = "A", .file = path};
	unsigned char digest[32];
	long full;
	int cut = 0, whole = 0;

	path_of(path, "crash.bk");
	full = run_victim(&v, 0, NULL);
	CU_ASSERT_TRUE_FATAL(full > 0);
	CU_ASSERT_TRUE(backup_digest(path, digest));
	for (int i = 0; i < CRASH_ROUNDS; i++) {
		unlink(path);
		run_victim(&v, random_delay(full), NULL);
		if (access(path, F_OK) != 0) {
			cut++;
			continue;
		}
		whole++;
		CU_ASSERT_TRUE(backup_digest(path, digest));
	}
	printf("\n    backup: %d of %d kills before the rename, %d after (full run %ld us)\n", cut,
	       CRASH_ROUNDS, whole, full);
	CU_ASSERT_EQUAL(cut + whole, CRASH_ROUNDS);
}

static char target_dir[PATH_MAX], saved_dir[PATH_MAX];
static unsigned char before_digest[32];

static void copy_dir(const char *from, const char *to)
{
	DIR *d = opendir(to);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		char p[PATH_MAX + NAME_MAX + 2];

		if (e->d_name[0] != '.' && snprintf(p, sizeof(p), "%s/%s", to, e->d_name) > 0)
			unlink(p);
	}
	if (d)
		closedir(d);
	d = opendir(from);
	while (d && (e = readdir(d)) != NULL) {
		char src[PATH_MAX + NAME_MAX + 2], dst[PATH_MAX + NAME_MAX + 2];
		unsigned char *data;
		size_t len = 0;

		if (e->d_name[0] == '.')
			continue;
		snprintf(src, sizeof(src), "%s/%s", from, e->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", to, e->d_name);
		data = fx_read(src, &len);
		fx_write(dst, data ? data : (unsigned char *)"", len);
		free(data);
	}
	if (d)
		closedir(d);
}

static void take_before(void)
{
	fx_dir_digest(target_dir, before_digest);
}

static bool staging_in_tokens(void)
{
	char tokens[PATH_MAX];
	DIR *d;
	struct dirent *e;
	bool found = false;

	snprintf(tokens, sizeof(tokens), "%s/b/tokens", dir);
	d = opendir(tokens);
	while (d && (e = readdir(d)) != NULL)
		found = found || strncmp(e->d_name, ".hsmux-restore", 14) == 0;
	if (d)
		closedir(d);
	return found;
}

static void test_sd_crash_restore(void)
{
	char path[PATH_MAX], store[PATH_MAX];
	struct victim v = {
	    .conf = fx_config(dir, "b"), .label = "B", .file = path, .restore = true};
	unsigned char after[32], now[32];
	long full;
	int unchanged = 0, restored = 0;

	path_of(path, "a.bk");
	path_of(store, "b");
	CU_ASSERT_TRUE_FATAL(backup_digest(path, after));
	CU_ASSERT_TRUE_FATAL(fx_token_dir(store, target_dir, sizeof(target_dir)));
	path_of(saved_dir, "b-saved");
	CU_ASSERT_EQUAL_FATAL(mkdir(saved_dir, 0700), 0);
	copy_dir(target_dir, saved_dir);

	full = run_victim(&v, 0, take_before);
	CU_ASSERT_TRUE_FATAL(full > 0);
	CU_ASSERT_TRUE(fx_dir_digest(target_dir, now) && memcmp(now, after, 32) == 0);
	for (int i = 0; i < CRASH_ROUNDS; i++) {
		copy_dir(saved_dir, target_dir);
		run_victim(&v, random_delay(full), take_before);
		CU_ASSERT_TRUE(fx_dir_digest(target_dir, now));
		if (memcmp(now, before_digest, 32) == 0)
			unchanged++;
		else if (memcmp(now, after, 32) == 0)
			restored++;
		CU_ASSERT_FALSE(staging_in_tokens());
	}
	printf("\n    restore: %d of %d kills left the token as it was, %d restored it "
	       "(full run %ld us)\n",
	       unchanged, CRASH_ROUNDS, restored, full);
	CU_ASSERT_EQUAL(unchanged + restored, CRASH_ROUNDS);
}

static int setup(void)
{
	int which[2] = {1, 2};
	char report[1024];

	if (fx_run(step_source, NULL) != 0 || fx_run(step_target, NULL) != 0 ||
	    !fx_recover(dir, which, 2, "upload.json", &sd_key, report, sizeof(report)) ||
	    fx_run(step_target, "upload") != 0)
		return 1;
	return 0;
}

int main(void)
{
	unsigned int failed;
	CU_pSuite s;

	snprintf(dir, sizeof(dir), "%s/hsmux-sd-crash-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	unsetenv("SOFTHSM2_CONF");
	srandom((unsigned int)time(NULL) ^ (unsigned int)getpid());
	fx_make_custodians(dir);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("sd_crash", setup, NULL);
	CU_add_test(s, "test_sd_crash_backup", test_sd_crash_backup);
	CU_add_test(s, "test_sd_crash_restore", test_sd_crash_restore);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
	         CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	sd_secret_cleanup(&sd_key);
	if (!failed) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return failed ? 1 : 0;
}
