/*
 * Backups of a token that another process keeps writing: the writer makes
 * AES keys, renames them (SoftHSM rewrites the object file in place) and
 * deletes them, while a second process takes backups. Every backup must
 * succeed and decrypt to a whole store: token.object, the generation
 * counter, and only object files that parse to their end with at least one
 * attribute.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "backends/softhsm/store.h"
#include "module/admin/backup_file.h"
#include "sd_fixture.h"
#include "sd_keys.h"

#define LIVE_BACKUPS   12
#define WRITER_SECONDS 3

static char dir[1024];
static struct sd_secret sd_key;

static int step_source(void *arg)
{
	struct mod m;

	if (!fx_open(&m, fx_config(dir, "a")) || !fx_init_token(&m, "A") || !keys_make(&m) ||
	    fx_activate(&m, dir, 1, "sd.json") != CKR_OK)
		return 1;
	fx_close(&m);
	return 0;
}

static CK_RV write_round(struct mod *m, int i, CK_OBJECT_HANDLE *previous)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG len = 32;
	char label[32], renamed[32];
	CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &type, sizeof(type)},
	                       {CKA_TOKEN, &yes, 1},           {CKA_PRIVATE, &yes, 1},
	                       {CKA_SENSITIVE, &yes, 1},       {CKA_EXTRACTABLE, &no, 1},
	                       {CKA_ENCRYPT, &yes, 1},         {CKA_VALUE_LEN, &len, sizeof(len)},
	                       {CKA_LABEL, label, 0}};
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_ATTRIBUTE rename = {CKA_LABEL, renamed, 0};
	CK_OBJECT_HANDLE key;
	CK_RV rv;

	tmpl[8].ulValueLen = (CK_ULONG)snprintf(label, sizeof(label), "live-%d", i);
	rename.ulValueLen = (CK_ULONG)snprintf(renamed, sizeof(renamed), "live-%d-renamed", i);
	rv = m->fl->C_GenerateKey(m->s, &mech, tmpl, 9, &key);
	if (rv == CKR_OK)
		rv = m->fl->C_SetAttributeValue(m->s, key, &rename, 1);
	if (rv == CKR_OK && *previous != CK_INVALID_HANDLE)
		rv = m->fl->C_DestroyObject(m->s, *previous);
	*previous = key;
	return rv;
}

static int writer_main(void)
{
	struct mod m;
	CK_OBJECT_HANDLE previous = CK_INVALID_HANDLE;
	time_t end = time(NULL) + WRITER_SECONDS;
	int rounds = 0;

	if (!fx_open(&m, fx_config(dir, "a")) || !fx_login(&m, "A"))
		return 1;
	while (time(NULL) < end) {
		CK_RV rv = write_round(&m, rounds++, &previous);

		if (rv != CKR_OK) {
			fprintf(stderr, "writer round %d: 0x%lx\n", rounds, rv);
			return 2;
		}
	}
	printf("\n    writer: %d rounds of create, rename and delete\n", rounds);
	fx_close(&m);
	return 0;
}

static int backups_main(void)
{
	struct mod m;
	char path[2048], err[512];

	if (!fx_open(&m, fx_config(dir, "a")) || !fx_login(&m, "A"))
		return 1;
	for (int i = 0; i < LIVE_BACKUPS; i++) {
		/* Spread the backups over the writer's run. */
		struct timespec pause = {0, 150 * 1000000L};

		nanosleep(&pause, NULL);
		snprintf(path, sizeof(path), "%s/live-%d.bk", dir, i);
		if (m.admin->backup(m.s, path, err, sizeof(err)) != CKR_OK) {
			fprintf(stderr, "backup %d: %s\n", i, err);
			return 2;
		}
	}
	fx_close(&m);
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Decrypts one backup and checks its files; returns the number of object files, or -1. */
static int check_backup(const char *path)
{
	FILE *in = fopen(path, "rb");
	char err[256] = "", name[BK_NAME_MAX + 1];
	const unsigned char *data;
	unsigned char key[32];
	size_t len;
	struct bk_reader *r = in ? bk_reader_open(in, err, sizeof(err)) : NULL;
	enum bk_next next = BK_NEXT_ERROR;
	bool token_object = false, generation = false, whole = true;
	int objects = 0;

	if (r &&
	    sd_prf(sd_key.data, sd_key.len, SD_LABEL_BACKUP_KEY, bk_reader_header(r)->salt,
	           BK_SALT_LEN, key) &&
	    bk_reader_set_key(r, key)) {
		while ((next = bk_reader_next(r, name, &data, &len, err, sizeof(err))) ==
		       BK_NEXT_FILE) {
			if (ends_with(name, ".object")) {
				whole = whole && softhsm_object_file_valid(data, len);
				objects += strcmp(name, "token.object") != 0;
			}
			token_object = token_object || strcmp(name, "token.object") == 0;
			generation = generation || (strcmp(name, "generation") == 0 && len == 8);
		}
	}
	bk_reader_free(r);
	if (in)
		fclose(in);
	return next == BK_NEXT_END && whole && token_object && generation ? objects : -1;
}

static pid_t spawn(int (*fn)(void))
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(fn());
	return pid;
}

static int exit_status(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_sd_live_backup_consistent(void)
{
	pid_t writer = spawn(writer_main), backups;
	struct timespec start = {0, 200 * 1000000L};

	/* Let the writer get going before the first backup. */
	nanosleep(&start, NULL);
	backups = spawn(backups_main);
	CU_ASSERT_EQUAL(exit_status(backups), 0);
	CU_ASSERT_EQUAL(exit_status(writer), 0);
	for (int i = 0; i < LIVE_BACKUPS; i++) {
		char path[2048];
		int objects;

		snprintf(path, sizeof(path), "%s/live-%d.bk", dir, i);
		objects = check_backup(path);
		/* The 7 keys of the fixture and the security-domain key are always there. */
		CU_ASSERT_TRUE(objects >= 8);
		printf("%s%d", i ? " " : "\n    objects in each backup: ", objects);
	}
	printf("\n");
}

int main(void)
{
	int which[2] = {1, 3};
	char report[1024];
	unsigned int failed;
	CU_pSuite s;

	snprintf(dir, sizeof(dir), "%s/hsmux-sd-live-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	unsetenv("SOFTHSM2_CONF");
	fx_make_custodians(dir);
	if (fx_run(step_source, NULL) != 0 ||
	    !fx_recover(dir, which, 2, NULL, &sd_key, report, sizeof(report))) {
		fprintf(stderr, "set-up failed: %s\n", report);
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("sd_live", NULL, NULL);
	CU_add_test(s, "test_sd_live_backup_consistent", test_sd_live_backup_consistent);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	sd_secret_cleanup(&sd_key);
	if (!failed) {
		char cmd[1100];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return failed ? 1 : 0;
}
