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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static void test_sd_crash_backup(void)
{
	char path[PATH_MAX];
	struct fx_victim v = {.conf = fx_config(dir, "a"), .label = "A", .file = path};
	unsigned char digest[32];
	long full;
	int cut = 0, whole = 0;

	path_of(path, "crash.bk");
	full = fx_run_victim(&v, 0, NULL);
	CU_ASSERT_TRUE_FATAL(full > 0);
	CU_ASSERT_TRUE(backup_digest(path, digest));
	for (int i = 0; i < CRASH_ROUNDS; i++) {
		unlink(path);
		fx_run_victim(&v, fx_random_delay(full), NULL);
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
	struct fx_victim v = {
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

	full = fx_run_victim(&v, 0, take_before);
	CU_ASSERT_TRUE_FATAL(full > 0);
	CU_ASSERT_TRUE(fx_dir_digest(target_dir, now) && memcmp(now, after, 32) == 0);
	for (int i = 0; i < CRASH_ROUNDS; i++) {
		copy_dir(saved_dir, target_dir);
		fx_run_victim(&v, fx_random_delay(full), take_before);
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
	return fx_crash_setup(FX_SOFTHSM, dir, false, &sd_key);
}

int main(void)
{
	static CU_TestInfo tests[] = {
	    {"test_sd_crash_backup", test_sd_crash_backup},
	    {"test_sd_crash_restore", test_sd_crash_restore},
	    CU_TEST_INFO_NULL,
	};
	unsigned int failed;

	if (!fx_make_dir(dir, sizeof(dir), "hsmux-sd-crash"))
		return 1;
	unsetenv("SOFTHSM2_CONF");
	srandom((unsigned int)time(NULL) ^ (unsigned int)getpid());
	fx_make_custodians(dir);
	failed = fx_run_suite("sd_crash", setup, tests);
	sd_secret_cleanup(&sd_key);
	if (!failed)
		fx_remove_dir(dir);
	return failed ? 1 : 0;
}
