/*
 * Child processes, module loading and token set-up for the security-domain
 * tests, and the steps that the softhsm and tpm tests share: the round trip
 * and the set-up and victim of the kill -9 tests.
 */
#include <dirent.h>
#include <dlfcn.h>
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
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sd_fixture.h"
#include "sd_keys.h"

const char *fx_config(const char *dir, const char *name)
{
	static char path[PATH_MAX];
	char text[PATH_MAX + 64];
	int n;

	snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
	n = snprintf(text, sizeof(text), "[backend:soft]\ntype = softhsm\nstore = %s/%s\n", dir,
	             name);
	fx_write(path, text, (size_t)n);
	return path;
}

const char *fx_config_tpm(const char *dir, const char *name)
{
	static char path[PATH_MAX];
	char text[PATH_MAX + 64];
	int n;

	snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
	n = snprintf(text, sizeof(text), "[backend:tpm]\ntype = tpm\ntcti = libtpms:%s/%s\n", dir,
	             name);
	fx_write(path, text, (size_t)n);
	return path;
}

bool fx_open(struct mod *m, const char *conf)
{
	CK_C_GetFunctionList get_list;
	CK_C_GetInterface get_iface;
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_INTERFACE_PTR iface = NULL;
	CK_VERSION v = {HSMUX_ADMIN_VERSION_MAJOR, HSMUX_ADMIN_VERSION_MINOR};
	CK_RV rv;

	memset(m, 0, sizeof(*m));
	setenv("HSMUX_CONF", conf, 1);
	m->dl = dlopen(HSMUX_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
	if (!m->dl) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return false;
	}
	get_list = (CK_C_GetFunctionList)dlsym(m->dl, "C_GetFunctionList");
	get_iface = (CK_C_GetInterface)dlsym(m->dl, "C_GetInterface");
	if (!get_list || !get_iface || get_list(&m->fl) != CKR_OK)
		return false;
	rv = m->fl->C_Initialize(&args);
	if (rv != CKR_OK) {
		fprintf(stderr, "C_Initialize: 0x%lx\n", rv);
		return false;
	}
	rv = get_iface((CK_UTF8CHAR_PTR)HSMUX_ADMIN_INTERFACE, &v, &iface, 0);
	if (rv != CKR_OK || !iface) {
		fprintf(stderr, "C_GetInterface(hsmux admin): 0x%lx\n", rv);
		return false;
	}
	m->admin = iface->pFunctionList;
	return true;
}

void fx_close(struct mod *m)
{
	if (m->fl)
		m->fl->C_Finalize(NULL);
	if (m->dl)
		dlclose(m->dl);
}

static bool find_slot(struct mod *m, const char *label, bool uninitialized, CK_SLOT_ID *slot)
{
	CK_SLOT_ID slots[16];
	CK_ULONG n = 16;

	if (m->fl->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return false;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		char padded[32];

		if (m->fl->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (uninitialized && !(ti.flags & CKF_TOKEN_INITIALIZED)) {
			*slot = slots[i];
			return true;
		}
		if (uninitialized)
			continue;
		memset(padded, ' ', sizeof(padded));
		memcpy(padded, label, strlen(label));
		if (memcmp(ti.label, padded, 32) == 0) {
			*slot = slots[i];
			return true;
		}
	}
	return false;
}

bool fx_login(struct mod *m, const char *label)
{
	CK_RV rv;

	if (!find_slot(m, label, false, &m->slot)) {
		fprintf(stderr, "no token '%s'\n", label);
		return false;
	}
	rv = m->fl->C_OpenSession(m->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &m->s);
	if (rv == CKR_OK)
		rv = m->fl->C_Login(m->s, CKU_USER, (CK_UTF8CHAR_PTR)SD_TEST_USER_PIN,
		                    strlen(SD_TEST_USER_PIN));
	if (rv != CKR_OK)
		fprintf(stderr, "login to '%s': 0x%lx\n", label, rv);
	return rv == CKR_OK;
}

bool fx_init_token(struct mod *m, const char *label)
{
	CK_UTF8CHAR padded[32];
	CK_SESSION_HANDLE s;
	CK_SLOT_ID slot;
	CK_RV rv;

	if (!find_slot(m, NULL, true, &slot))
		return false;
	memset(padded, ' ', sizeof(padded));
	memcpy(padded, label, strlen(label));
	rv = m->fl->C_InitToken(slot, (CK_UTF8CHAR_PTR)SD_TEST_SO_PIN, strlen(SD_TEST_SO_PIN),
	                        padded);
	/* SoftHSM moves an initialized token to a slot ID made from its serial number. */
	if (rv == CKR_OK && !find_slot(m, label, false, &slot))
		rv = CKR_SLOT_ID_INVALID;
	if (rv == CKR_OK)
		rv =
		    m->fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	if (rv == CKR_OK)
		rv = m->fl->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)SD_TEST_SO_PIN,
		                    strlen(SD_TEST_SO_PIN));
	if (rv == CKR_OK)
		rv = m->fl->C_InitPIN(s, (CK_UTF8CHAR_PTR)SD_TEST_USER_PIN,
		                      strlen(SD_TEST_USER_PIN));
	if (rv == CKR_OK)
		rv = m->fl->C_CloseSession(s);
	if (rv != CKR_OK) {
		fprintf(stderr, "token init '%s': 0x%lx\n", label, rv);
		return false;
	}
	return fx_login(m, label);
}

CK_OBJECT_HANDLE fx_find(struct mod *m, CK_OBJECT_CLASS cls, const char *label)
{
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
	                    {CKA_LABEL, (void *)label, strlen(label)}};
	CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
	CK_ULONG n = 0;

	if (m->fl->C_FindObjectsInit(m->s, t, 2) == CKR_OK) {
		m->fl->C_FindObjects(m->s, &obj, 1, &n);
		m->fl->C_FindObjectsFinal(m->s);
	}
	return n == 1 ? obj : CK_INVALID_HANDLE;
}

int fx_run(int (*fn)(void *arg), void *arg)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(fn(arg));
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool fx_dir_digest(const char *dir, unsigned char out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct dirent **list = NULL;
	char *names[1024];
	size_t n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d || !md)
		return false;
	while ((e = readdir(d)) != NULL && n < 1024)
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		size_t len = 0;
		unsigned char *data;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		data = fx_read(path, &len);
		EVP_DigestUpdate(md, names[i], strlen(names[i]) + 1);
		EVP_DigestUpdate(md, &len, sizeof(len));
		if (data)
			EVP_DigestUpdate(md, data, len);
		free(data);
		free(names[i]);
	}
	EVP_DigestFinal_ex(md, out, NULL);
	EVP_MD_CTX_free(md);
	free(list);
	return true;
}

bool fx_token_dir(const char *store, char *out, size_t len)
{
	char tokens[PATH_MAX];
	DIR *d;
	struct dirent *e;
	bool found = false;

	snprintf(tokens, sizeof(tokens), "%s/tokens", store);
	d = opendir(tokens);
	while (d && (e = readdir(d)) != NULL) {
		char probe[PATH_MAX + NAME_MAX + 32];

		if (e->d_name[0] == '.')
			continue;
		snprintf(probe, sizeof(probe), "%s/%s/token.object", tokens, e->d_name);
		if (access(probe, F_OK) == 0) {
			snprintf(out, len, "%s/%s", tokens, e->d_name);
			found = true;
		}
	}
	if (d)
		closedir(d);
	return found;
}

bool fx_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	bool ok = f && fwrite(data, 1, len, f) == len;

	if (f)
		ok = fclose(f) == 0 && ok;
	return ok;
}

unsigned char *fx_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long size;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)size + 1);
		if (buf && fread(buf, 1, (size_t)size, f) == (size_t)size) {
			buf[size] = 0;
			*len = (size_t)size;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

EVP_PKEY *fx_read_pubkey(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return k;
}

EVP_PKEY *fx_read_privkey(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return k;
}

static void fx_path(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

void fx_make_custodians(const char *dir)
{
	for (int i = 1; i <= 4; i++) {
		char path[PATH_MAX], name[32];
		EVP_PKEY *k = EVP_RSA_gen(2048);
		FILE *f;

		snprintf(name, sizeof(name), "c%d.key", i);
		fx_path(path, sizeof(path), dir, name);
		f = fopen(path, "w");
		PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
		fclose(f);
		EVP_PKEY_free(k);
	}
}

CK_RV fx_activate(struct mod *m, const char *dir, int first, const char *sd_name)
{
	unsigned char *der[3] = {0};
	size_t len[3];
	char path[PATH_MAX], name[32], err[512] = "";
	CK_RV rv;

	for (int i = 0; i < 3; i++) {
		EVP_PKEY *k;

		snprintf(name, sizeof(name), "c%d.key", first + i);
		fx_path(path, sizeof(path), dir, name);
		k = fx_read_privkey(path);
		len[i] = (size_t)i2d_PUBKEY(k, &der[i]);
		EVP_PKEY_free(k);
	}
	fx_path(path, sizeof(path), dir, sd_name);
	rv = m->admin->sd_activate(m->s, (const unsigned char *const *)der, len, 3, 2, path, err,
	                           sizeof(err));
	if (rv != CKR_OK)
		fprintf(stderr, "sd_activate (expected to fail on a second call): %s\n", err);
	for (int i = 0; i < 3; i++)
		OPENSSL_free(der[i]);
	return rv;
}

static bool write_upload(const char *dir, const struct sd_doc *doc, const struct sd_secret *key,
                         const char *out_name)
{
	char path[PATH_MAX], err[256], *upload = NULL;
	EVP_PKEY *exchange;
	bool ok;

	fx_path(path, sizeof(path), dir, "exchange.pem");
	exchange = fx_read_pubkey(path);
	ok = exchange && sd_upload_create(doc, key, exchange, &upload, err, sizeof(err));
	fx_path(path, sizeof(path), dir, out_name);
	ok = ok && fx_write(path, upload, strlen(upload));
	EVP_PKEY_free(exchange);
	free(upload);
	return ok;
}

bool fx_recover(const char *dir, const int *which, size_t n, const char *out_name,
                struct sd_secret *key, char *report, size_t report_len)
{
	const char *names[4] = {"c1.key", "c2.key", "c3.key", "c4.key"};
	const char *picked[4];
	EVP_PKEY *keys[4] = {0};
	struct sd_secret rebuilt = {0};
	char path[PATH_MAX];
	struct sd_doc doc;
	char *text;
	size_t len;
	bool ok;

	fx_path(path, sizeof(path), dir, "sd.json");
	text = (char *)fx_read(path, &len);
	if (!text || !sd_doc_parse(text, len, &doc, report, report_len)) {
		free(text);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		fx_path(path, sizeof(path), dir, names[which[i] - 1]);
		keys[i] = fx_read_privkey(path);
		picked[i] = names[which[i] - 1];
	}
	ok = sd_doc_recover(&doc, keys, picked, n, &rebuilt, report, report_len);
	if (ok && out_name)
		ok = write_upload(dir, &doc, &rebuilt, out_name);
	if (ok && key) {
		*key = rebuilt;
		rebuilt.data = NULL;
	}
	sd_secret_cleanup(&rebuilt);
	for (size_t i = 0; i < n; i++)
		EVP_PKEY_free(keys[i]);
	sd_doc_cleanup(&doc);
	free(text);
	return ok;
}

const char *fx_config_for(enum fx_backend backend, const char *dir, const char *name)
{
	return backend == FX_TPM ? fx_config_tpm(dir, name) : fx_config(dir, name);
}

bool fx_make_dir(char *dir, size_t len, const char *prefix)
{
	snprintf(dir, len, "%s/%s-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", prefix);
	return mkdtemp(dir) != NULL;
}

void fx_remove_dir(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

unsigned int fx_run_suite(const char *name, CU_InitializeFunc setup, const CU_TestInfo *tests)
{
	unsigned int failed;
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite(name, setup, NULL);
	for (const CU_TestInfo *t = tests; t->pName; t++)
		CU_add_test(s, t->pName, t->pTestFunc);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
	         CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failed;
}

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
