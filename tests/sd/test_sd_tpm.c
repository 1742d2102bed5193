/*
 * The whole security-domain flow on the tpm backend with an in-process
 * libtpms TPM, through libhsmux.so: keys on token A, activation with 3
 * custodians and quorum 2, backup, a fresh TPM state B, offline recovery
 * with 2 custodian keys, upload, restore, and the restored keys checked
 * against A's public keys and ciphertexts. Each token step runs in its own
 * process, because libtpms runs one TPM per process.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "module/admin/sd_file.h"
#include "sd_fixture.h"
#include "sd_keys.h"

static char dir[1024];

static void path_of(char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", dir, name);
}

static int step_source(void *arg)
{
	struct mod m;
	char path[PATH_MAX], err[512] = "", fp[65];

	if (!fx_open(&m, fx_config_tpm(dir, "a")) || !fx_init_token(&m, "A") || !keys_make(&m) ||
	    !keys_export(&m, dir))
		return 1;
	path_of(path, "a.bk");
	if (m.admin->backup(m.s, path, err, sizeof(err)) != CKR_KEY_NEEDED ||
	    !strstr(err, "hsmux sd download"))
		return 2;
	if (fx_activate(&m, dir, 1, "sd.json") != CKR_OK ||
	    fx_activate(&m, dir, 1, "sd2.json") == CKR_OK)
		return 3;
	if (m.admin->sd_fingerprint(m.s, fp, err, sizeof(err)) != CKR_OK)
		return 4;
	path_of(path, "a.fp");
	fx_write(path, fp, 64);
	path_of(path, "a.bk");
	if (m.admin->backup(m.s, path, err, sizeof(err)) != CKR_OK) {
		fprintf(stderr, "backup: %s\n", err);
		return 5;
	}
	fx_close(&m);
	return 0;
}

static int step_target_init(void *arg)
{
	struct mod m;
	char path[PATH_MAX], err[512] = "";

	path_of(path, "exchange.pem");
	if (!fx_open(&m, fx_config_tpm(dir, "b")) || !fx_init_token(&m, "B") ||
	    m.admin->sd_init_recovery(m.s, path, err, sizeof(err)) != CKR_OK) {
		fprintf(stderr, "init-recovery: %s\n", err);
		return 1;
	}
	fx_close(&m);
	return 0;
}

/* Gives a flipped copy of a file to fn for a spread of byte positions; counts acceptances. */
static int flips_accepted(struct mod *m, const char *name, size_t stride,
                          CK_RV (*fn)(struct mod *m, const char *path))
{
	char path[PATH_MAX], bad[PATH_MAX];
	unsigned char *data;
	size_t len;
	int accepted = 0;

	path_of(path, name);
	path_of(bad, "flipped");
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

/* Hashes what a restore replaces: the key files, the token file and the TPM's NV state. */
static bool store_digest(const char *name, unsigned char out[32])
{
	char path[PATH_MAX];
	unsigned char objects[32];
	unsigned char *token, *nv;
	size_t token_len = 0, nv_len = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok;

	snprintf(path, sizeof(path), "%s/%s/objects", dir, name);
	ok = fx_dir_digest(path, objects);
	snprintf(path, sizeof(path), "%s/%s/token", dir, name);
	token = fx_read(path, &token_len);
	snprintf(path, sizeof(path), "%s/%s/permall", dir, name);
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
	struct mod m;
	char path[PATH_MAX], err[512] = "", fp[65];
	unsigned char before[32], after[32], *want;
	size_t len;

	if (!fx_open(&m, fx_config_tpm(dir, "b")) || !fx_login(&m, "B"))
		return 1;
	path_of(path, "a.bk");
	if (m.admin->restore(m.s, path, err, sizeof(err)) != CKR_KEY_NEEDED)
		return 2;
	if (flips_accepted(&m, "upload.json", 1, try_upload) != 0)
		return 3;
	path_of(path, "upload.json");
	if (m.admin->sd_upload(m.s, path, err, sizeof(err)) != CKR_OK) {
		fprintf(stderr, "upload: %s\n", err);
		return 4;
	}
	path_of(path, "a.fp");
	want = fx_read(path, &len);
	if (m.admin->sd_fingerprint(m.s, fp, err, sizeof(err)) != CKR_OK || !want ||
	    memcmp(fp, want, 64) != 0 || !sd_key_locked(&m))
		return 5;
	free(want);

	if (!store_digest("b", before))
		return 6;
	if (flips_accepted(&m, "a.bk", 509, try_restore) != 0)
		return 7;
	if (!store_digest("b", after) || memcmp(before, after, 32) != 0)
		return 8;
	path_of(path, "a.bk");
	if (m.admin->restore(m.s, path, err, sizeof(err)) != CKR_OK) {
		fprintf(stderr, "restore: %s\n", err);
		return 9;
	}
	fx_close(&m);
	return 0;
}

static int step_target_check(void *arg)
{
	struct mod m;

	/* The restored token is A's: its label and PINs came with the store. */
	if (!fx_open(&m, fx_config_tpm(dir, "b")) || !fx_login(&m, "A") || !keys_check(&m, dir))
		return 1;
	if (!sd_key_locked(&m))
		return 2;
	fx_close(&m);
	return 0;
}

/* A token with a security domain of its own, and one with none, refuse A's backup. */
static int step_other_domain(void *arg)
{
	struct mod m;
	char path[PATH_MAX], err[512] = "";
	unsigned char before[32], after[32];

	if (!fx_open(&m, fx_config_tpm(dir, "c")) || !fx_init_token(&m, "C") ||
	    fx_activate(&m, dir, 2, "sd-c.json") != CKR_OK)
		return 1;
	if (!store_digest("c", before))
		return 2;
	path_of(path, "a.bk");
	if (m.admin->restore(m.s, path, err, sizeof(err)) != CKR_DATA_INVALID ||
	    !strstr(err, "belongs to security domain"))
		return 3;
	if (!store_digest("c", after) || memcmp(before, after, 32) != 0)
		return 4;
	fx_close(&m);
	return 0;
}

static void test_sd_tpm_round_trip(void)
{
	char report[1024];
	int one[1] = {2}, two[2] = {1, 3};

	CU_ASSERT_EQUAL_FATAL(fx_run(step_source, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(fx_run(step_target_init, NULL), 0);

	CU_ASSERT_FALSE(fx_recover(dir, one, 1, "upload1.json", NULL, report, sizeof(report)));
	CU_ASSERT_PTR_NOT_NULL(strstr(report, "only 1 valid share of the 2 needed"));
	CU_ASSERT_TRUE_FATAL(fx_recover(dir, two, 2, "upload.json", NULL, report, sizeof(report)));

	CU_ASSERT_EQUAL_FATAL(fx_run(step_target_restore, NULL), 0);
	CU_ASSERT_EQUAL(fx_run(step_target_check, NULL), 0);
	CU_ASSERT_EQUAL(fx_run(step_other_domain, NULL), 0);
}

int main(void)
{
	unsigned int failed;
	CU_pSuite s;

	snprintf(dir, sizeof(dir), "%s/hsmux-sd-tpm-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	/* The TPM has no padding mode, so the AES ciphertext is plain CBC. */
	keys_aes_mech = CKM_AES_CBC;
	fx_make_custodians(dir);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("sd_tpm", NULL, NULL);
	CU_add_test(s, "test_sd_tpm_round_trip", test_sd_tpm_round_trip);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	if (!failed) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return failed ? 1 : 0;
}
