/*
 * The steps that the softhsm and tpm security-domain tests share: the round
 * trip, and the set-up and victim of the kill -9 tests.
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

/*
 * The round trip of the security domain, the same on every backend. Each
 * step runs in a child process (fx_run) and gets the trip as its argument.
 */
struct trip {
	enum fx_backend backend;
	const char *dir;
};

static void trip_path(const struct trip *t, char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", t->dir, name);
}

static int step_source(void *arg)
{
	const struct trip *t = arg;
	struct mod m;
	char path[PATH_MAX], err[512] = "", fp[65];

	if (!fx_open(&m, fx_config_for(t->backend, t->dir, "a")) || !fx_init_token(&m, "A") ||
	    !keys_make(&m) || !keys_export(&m, t->dir))
		return 1;
	trip_path(t, path, "a.bk");
	if (m.admin->backup(m.s, path, err, sizeof(err)) != CKR_KEY_NEEDED ||
	    !strstr(err, "hsmux sd download"))
		return 2;
	if (fx_activate(&m, t->dir, 1, "sd.json") != CKR_OK ||
	    fx_activate(&m, t->dir, 1, "sd2.json") == CKR_OK)
		return 3;
	if (m.admin->sd_fingerprint(m.s, fp, err, sizeof(err)) != CKR_OK)
		return 4;
	trip_path(t, path, "a.fp");
	fx_write(path, fp, 64);
	trip_path(t, path, "a.bk");
	if (m.admin->backup(m.s, path, err, sizeof(err)) != CKR_OK) {
		fprintf(stderr, "backup: %s\n", err);
		return 5;
	}
	fx_close(&m);
	return 0;
}

static int step_target_init(void *arg)
{
	const struct trip *t = arg;
	struct mod m;
	char path[PATH_MAX], err[512] = "";

	trip_path(t, path, "exchange.pem");
	if (!fx_open(&m, fx_config_for(t->backend, t->dir, "b")) || !fx_init_token(&m, "B") ||
	    m.admin->sd_init_recovery(m.s, path, err, sizeof(err)) != CKR_OK) {
		fprintf(stderr, "init-recovery: %s\n", err);
		return 1;
	}
	fx_close(&m);
	return 0;
}

/* Gives a flipped copy of a file to fn for a spread of byte positions; counts acceptances. */
static int flips_accepted(const struct trip *t, struct mod *m, const char *name, size_t stride,
                          CK_RV (*fn)(struct mod *m, const char *path))
{
	char path[PATH_MAX], bad[PATH_MAX];
	unsigned char *data;
	size_t len;
	int accepted = 0;

	trip_path(t, path, name);
	trip_path(t, bad, "flipped");
	data = fx_read(path, &len);
	for (size_t i = 0; data && i < len; i += (i < 256 ? 1 : stride)) {
		data[i] ^= 0x20;
		fx_write(bad, data, len);
		accepted += fn(m, bad) == CKR_OK;
		data[i] ^= 0x20;
	}
	free(data);
	return accepted;
}

static CK_RV try_upload(struct mod *m, const char *path)
{
	char err[512];

	return m->admin->sd_upload(m->s, path, err, sizeof(err));
}

static CK_RV try_restore(struct mod *m, const char *path)
{
	char err[512];

	return m->admin->restore(m->s, path, err, sizeof(err));
}

/*
 * Finds what a restore replaces in store name: the token directory of a
 * softhsm store, or the directory of a libtpms TPM with its key files,
 * token file and NV state.
 */
static bool state_dir(const struct trip *t, const char *name, char out[PATH_MAX])
{
	char store[PATH_MAX];

	trip_path(t, store, name);
	if (t->backend == FX_SOFTHSM)
		return fx_token_dir(store, out, PATH_MAX);
	memcpy(out, store, PATH_MAX);
	return true;
}

/* Hashes the state that state_dir() found. */
static bool state_digest(const struct trip *t, const char *state, unsigned char out[32])
{
	char path[PATH_MAX];
	unsigned char objects[32];
	unsigned char *token, *nv;
	size_t token_len = 0, nv_len = 0;
	EVP_MD_CTX *md;
	bool ok;

	if (t->backend == FX_SOFTHSM)
		return fx_dir_digest(state, out);
	md = EVP_MD_CTX_new();
	snprintf(path, sizeof(path), "%s/objects", state);
	ok = fx_dir_digest(path, objects);
	snprintf(path, sizeof(path), "%s/token", state);
	token = fx_read(path, &token_len);
	snprintf(path, sizeof(path), "%s/permall", state);
	nv = fx_read(path, &nv_len);
	ok = ok && md && token && nv && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(md, objects, sizeof(objects)) == 1 &&
	     EVP_DigestUpdate(md, token, token_len) == 1 && EVP_DigestUpdate(md, nv, nv_len) == 1 &&
	     EVP_DigestFinal_ex(md, out, NULL) == 1;
	EVP_MD_CTX_free(md);
	free(token);
	free(nv);
	return ok;
}

/* Clients see the security-domain key, but can neither read nor delete it. */
static bool sd_key_locked(struct mod *m)
{
	CK_OBJECT_HANDLE key = fx_find(m, CKO_SECRET_KEY, HSMUX_SD_KEY_LABEL);
	unsigned char value[64];
	CK_ATTRIBUTE a[] = {{CKA_VALUE, value, sizeof(value)}};

	return key != CK_INVALID_HANDLE &&
	       m->fl->C_GetAttributeValue(m->s, key, a, 1) == CKR_ATTRIBUTE_SENSITIVE &&
	       m->fl->C_DestroyObject(m->s, key) == CKR_ACTION_PROHIBITED &&
	       fx_find(m, CKO_SECRET_KEY, HSMUX_SD_KEY_LABEL) == key;
}

static int step_target_restore(void *arg)
{
	const struct trip *t = arg;
	struct mod m;
	char path[PATH_MAX], state[PATH_MAX], err[512] = "", fp[65];
	unsigned char before[32], after[32], *want;
	size_t len;

	if (!fx_open(&m, fx_config_for(t->backend, t->dir, "b")) || !fx_login(&m, "B"))
		return 1;
	trip_path(t, path, "a.bk");
	if (m.admin->restore(m.s, path, err, sizeof(err)) != CKR_KEY_NEEDED)
		return 2;
	if (flips_accepted(t, &m, "upload.json", 1, try_upload) != 0)
		return 3;
	trip_path(t, path, "upload.json");
	if (m.admin->sd_upload(m.s, path, err, sizeof(err)) != CKR_OK) {
		fprintf(stderr, "upload: %s\n", err);
		return 4;
	}
	trip_path(t, path, "a.fp");
	want = fx_read(path, &len);
	if (m.admin->sd_fingerprint(m.s, fp, err, sizeof(err)) != CKR_OK || !want ||
	    memcmp(fp, want, 64) != 0 || !sd_key_locked(&m))
		return 5;
	free(want);

	if (!state_dir(t, "b", state) || !state_digest(t, state, before))
		return 6;
	if (flips_accepted(t, &m, "a.bk", 509, try_restore) != 0)
		return 7;
	if (!state_digest(t, state, after) || memcmp(before, after, 32) != 0)
		return 8;
	trip_path(t, path, "a.bk");
	if (m.admin->restore(m.s, path, err, sizeof(err)) != CKR_OK) {
		fprintf(stderr, "restore: %s\n", err);
		return 9;
	}
	fx_close(&m);
	return 0;
}

static int step_target_check(void *arg)
{
	const struct trip *t = arg;
	struct mod m;

	/* The restored token is A's: its label and PINs came with the store. */
	if (!fx_open(&m, fx_config_for(t->backend, t->dir, "b")) || !fx_login(&m, "A") ||
	    !keys_check(&m, t->dir))
		return 1;
	if (!sd_key_locked(&m))
		return 2;
	fx_close(&m);
	return 0;
}

/* A token with a security domain of its own, and one with none, refuse A's backup. */
static int step_other_domain(void *arg)
{
	const struct trip *t = arg;
	struct mod m;
	char path[PATH_MAX], state[PATH_MAX], err[512] = "";
	unsigned char before[32], after[32];

	if (!fx_open(&m, fx_config_for(t->backend, t->dir, "c")) || !fx_init_token(&m, "C") ||
	    fx_activate(&m, t->dir, 2, "sd-c.json") != CKR_OK)
		return 1;
	if (!state_dir(t, "c", state) || !state_digest(t, state, before))
		return 2;
	trip_path(t, path, "a.bk");
	if (m.admin->restore(m.s, path, err, sizeof(err)) != CKR_DATA_INVALID ||
	    !strstr(err, "belongs to security domain"))
		return 3;
	if (!state_digest(t, state, after) || memcmp(before, after, 32) != 0)
		return 4;
	fx_close(&m);
	return 0;
}

void fx_round_trip(enum fx_backend backend, const char *dir)
{
	struct trip t = {.backend = backend, .dir = dir};
	char report[1024];
	int one[1] = {2}, two[2] = {1, 3};

	CU_ASSERT_EQUAL_FATAL(fx_run(step_source, &t), 0);
	CU_ASSERT_EQUAL_FATAL(fx_run(step_target_init, &t), 0);

	CU_ASSERT_FALSE(fx_recover(dir, one, 1, "upload1.json", NULL, report, sizeof(report)));
	CU_ASSERT_PTR_NOT_NULL(strstr(report, "only 1 valid share of the 2 needed"));
	CU_ASSERT_TRUE_FATAL(fx_recover(dir, two, 2, "upload.json", NULL, report, sizeof(report)));

	CU_ASSERT_EQUAL_FATAL(fx_run(step_target_restore, &t), 0);
	CU_ASSERT_EQUAL(fx_run(step_target_check, &t), 0);
	CU_ASSERT_EQUAL(fx_run(step_other_domain, &t), 0);
}

/* The set-up of the kill -9 tests, and their victim process. */
struct crash {
	enum fx_backend backend;
	const char *dir;
	bool export_keys, upload;
};

static int crash_source(void *arg)
{
	const struct crash *c = arg;
	struct mod m;
	char path[PATH_MAX], err[512];

	fx_path(path, sizeof(path), c->dir, "a.bk");
	if (!fx_open(&m, fx_config_for(c->backend, c->dir, "a")) || !fx_init_token(&m, "A") ||
	    !keys_make(&m) || (c->export_keys && !keys_export(&m, c->dir)) ||
	    fx_activate(&m, c->dir, 1, "sd.json") != CKR_OK ||
	    m.admin->backup(m.s, path, err, sizeof(err)) != CKR_OK)
		return 1;
	fx_close(&m);
	return 0;
}

static int crash_target(void *arg)
{
	const struct crash *c = arg;
	struct mod m;
	char path[PATH_MAX], err[512];

	if (!fx_open(&m, fx_config_for(c->backend, c->dir, "b")))
		return 1;
	if (!c->upload) {
		fx_path(path, sizeof(path), c->dir, "exchange.pem");
		return fx_init_token(&m, "B") &&
		               m.admin->sd_init_recovery(m.s, path, err, sizeof(err)) == CKR_OK
		           ? 0
		           : 2;
	}
	fx_path(path, sizeof(path), c->dir, "upload.json");
	return fx_login(&m, "B") && m.admin->sd_upload(m.s, path, err, sizeof(err)) == CKR_OK ? 0
	                                                                                      : 3;
}

int fx_crash_setup(enum fx_backend backend, const char *dir, bool export_keys,
                   struct sd_secret *key)
{
	struct crash c = {.backend = backend, .dir = dir, .export_keys = export_keys};
	int which[2] = {1, 2};
	char report[1024];

	if (fx_run(crash_source, &c) != 0 || fx_run(crash_target, &c) != 0 ||
	    !fx_recover(dir, which, 2, "upload.json", key, report, sizeof(report)))
		return 1;
	c.upload = true;
	return fx_run(crash_target, &c) != 0 ? 1 : 0;
}

static int victim_main(const struct fx_victim *v, int ready, int go)
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

long fx_run_victim(const struct fx_victim *v, long delay_us, void (*before)(void))
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

long fx_random_delay(long full_us)
{
	return 1 + random() % (full_us + full_us / 4 + 1);
}
