/*
 * Child processes, module loading, token set-up and files for the
 * security-domain tests. The steps that the softhsm and tpm tests share are
 * in sd_round_trip.c.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

void fx_path(char *out, size_t len, const char *dir, const char *name)
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
