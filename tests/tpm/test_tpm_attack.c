/*
 * Attacks on private data objects and on CKM_RSA_PKCS raw signing of the
 * tpm backend, through libhsmux.so on an in-process libtpms TPM. A private
 * data object's value must not come out, match a search or reach a file
 * without a user login: not before it, not after C_Logout, not for the SO,
 * not through a session opened before the login. Every length a caller can
 * pass to C_GetAttributeValue returns what the spec sets and never writes
 * past the value. HSMUX_DEBUG=all traces no byte of it. A process killed -9
 * while it rewrites the value leaves the old value or the new one.
 * tpm_attack_rsa.c attacks the raw signature.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <openssl/rand.h>

#include "tpm_attack.h"
#include "tpm_p11.h"
#include "tpm_test_util.h"

static char dir[] = "/tmp/hsmux-tpm-attack-XXXXXX";
static CK_SLOT_ID slot;
static CK_BYTE secret_value[48], other_value[48];

/* Returns true when any 8-byte run of value is in the file at path. */
static bool file_has(const char *path, const CK_BYTE *value, size_t len)
{
	FILE *f = fopen(path, "rb");
	static CK_BYTE buf[1 << 20];
	size_t n;
	bool found = false;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	for (size_t i = 0; !found && i + 8 <= len; i++)
		found = memmem(buf, n, value + i, 8) != NULL;
	return found;
}

/* Returns true when value, as raw bytes or as hex in either case, is in the file at path. */
static bool file_has_any_form(const char *path, const CK_BYTE *value, size_t len)
{
	char lower[2 * 48 + 1], upper[2 * 48 + 1];

	if (len > 48)
		return false;
	for (size_t i = 0; i < len; i++) {
		snprintf(lower + 2 * i, 3, "%02x", value[i]);
		snprintf(upper + 2 * i, 3, "%02X", value[i]);
	}
	return file_has(path, value, len) || file_has(path, (CK_BYTE *)lower, 2 * len) ||
	       file_has(path, (CK_BYTE *)upper, 2 * len);
}

CK_RV attack_make_data(CK_SESSION_HANDLE s, const char *label, CK_BBOOL private,
                       const CK_BYTE *value, CK_ULONG len, CK_OBJECT_HANDLE *h)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &private, sizeof(private)},
	    {CKA_COPYABLE, &yes, sizeof(yes)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	    {CKA_VALUE, (void *)value, len},
	};

	return p11->C_CreateObject(s, t, 6, h);
}

CK_ULONG attack_find_value(CK_SESSION_HANDLE s, const CK_BYTE *value, CK_ULONG len)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_VALUE, (void *)value, len}};
	CK_OBJECT_HANDLE found[8];
	CK_ULONG n = 0;

	if (p11->C_FindObjectsInit(s, t, 2) != CKR_OK)
		return ~0UL;
	if (p11->C_FindObjects(s, found, 8, &n) != CKR_OK)
		n = ~0UL;
	p11->C_FindObjectsFinal(s);
	return n;
}

/* Checks that a session without a user login sees nothing of the object h. */
static void nothing_visible(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	CK_BYTE buf[64] = {0}, zero[64] = {0};
	CK_ATTRIBUTE a = {CKA_VALUE, buf, sizeof(buf)};
	CK_ATTRIBUTE to_public[] = {{CKA_LABEL, "leak", 4}};
	CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;

	CU_ASSERT_EQUAL(tpm_p11_find(s, CKO_DATA, "victim", NULL), 0);
	CU_ASSERT_EQUAL(attack_find_value(s, secret_value, sizeof(secret_value)), 0);
	CU_ASSERT_EQUAL(attack_find_value(s, other_value, sizeof(other_value)), 0);
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, h, &a, 1), CKR_OBJECT_HANDLE_INVALID);
	CU_ASSERT_EQUAL(memcmp(buf, zero, sizeof(buf)), 0);
	a.pValue = NULL;
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, h, &a, 1), CKR_OBJECT_HANDLE_INVALID);
	CU_ASSERT_NOT_EQUAL(p11->C_CopyObject(s, h, to_public, 1, &copy), CKR_OK);
	CU_ASSERT_NOT_EQUAL(p11->C_SetAttributeValue(s, h, to_public, 1), CKR_OK);
}

/* Checks every length C_GetAttributeValue may get for the value, and a mixed template. */
static void check_lengths(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	const CK_ULONG len = sizeof(secret_value);
	const CK_ULONG tries[] = {0, 1, len - 1, len, len + 1, 1000};
	CK_BYTE buf[1000 + 16], label[16];
	CK_OBJECT_CLASS cls = 0;

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		CK_ATTRIBUTE a = {CKA_VALUE, buf, tries[i]};
		CK_RV want = tries[i] < len ? CKR_BUFFER_TOO_SMALL : CKR_OK;

		memset(buf, 0xa5, sizeof(buf));
		CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, h, &a, 1), want);
		CU_ASSERT_EQUAL(a.ulValueLen, want == CKR_OK ? len : CK_UNAVAILABLE_INFORMATION);
		/* A short buffer gets no byte; a long one gets the value and nothing after it. */
		CU_ASSERT(want == CKR_OK ? memcmp(buf, secret_value, len) == 0 : buf[0] == 0xa5);
		CU_ASSERT_EQUAL(buf[want == CKR_OK ? len : 0], 0xa5);
	}

	CK_ATTRIBUTE mixed[] = {
	    {CKA_LABEL, label, sizeof(label)},
	    {CKA_VALUE, buf, len - 1},
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_VALUE_LEN, buf, sizeof(CK_ULONG)},
	};
	CK_RV rv = p11->C_GetAttributeValue(s, h, mixed, 4);

	/* The spec lets the call return either error. */
	CU_ASSERT(rv == CKR_BUFFER_TOO_SMALL || rv == CKR_ATTRIBUTE_TYPE_INVALID);
	CU_ASSERT_EQUAL(mixed[0].ulValueLen, 6);
	CU_ASSERT_EQUAL(mixed[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CU_ASSERT_EQUAL(cls, CKO_DATA);
	CU_ASSERT_EQUAL(mixed[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
}

/* Checks that the attributes that would unseal the value in place are read-only. */
static void check_set_refused(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	CK_BBOOL no = CK_FALSE;
	CK_OBJECT_CLASS cert = CKO_CERTIFICATE;
	CK_ATTRIBUTE priv = {CKA_PRIVATE, &no, sizeof(no)};
	CK_ATTRIBUTE token = {CKA_TOKEN, &no, sizeof(no)};
	CK_ATTRIBUTE cls = {CKA_CLASS, &cert, sizeof(cert)};
	CK_ATTRIBUTE both[] = {{CKA_LABEL, "victim", 6}, {CKA_PRIVATE, &no, sizeof(no)}};

	CU_ASSERT_EQUAL(p11->C_SetAttributeValue(s, h, &priv, 1), CKR_ATTRIBUTE_READ_ONLY);
	CU_ASSERT_EQUAL(p11->C_SetAttributeValue(s, h, &token, 1), CKR_ATTRIBUTE_READ_ONLY);
	CU_ASSERT_EQUAL(p11->C_SetAttributeValue(s, h, &cls, 1), CKR_ATTRIBUTE_READ_ONLY);
	CU_ASSERT_EQUAL(p11->C_SetAttributeValue(s, h, both, 2), CKR_ATTRIBUTE_READ_ONLY);
}

/* Checks that a value too long to seal is rejected and that the old value stays. */
static void check_set_too_long(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	/* 64 KiB minus the 29 bytes of version, nonce and tag (tpm_data.h), plus one. */
	static CK_BYTE big[65536 - 29 + 1];
	CK_BYTE buf[64];
	CK_ATTRIBUTE set = {CKA_VALUE, big, sizeof(big)};
	CK_ATTRIBUTE get = {CKA_VALUE, buf, sizeof(buf)};

	CU_ASSERT_EQUAL(p11->C_SetAttributeValue(s, h, &set, 1), CKR_ATTRIBUTE_VALUE_INVALID);
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, h, &get, 1), CKR_OK);
	CU_ASSERT_EQUAL(get.ulValueLen, sizeof(secret_value));
	CU_ASSERT_EQUAL(memcmp(buf, secret_value, sizeof(secret_value)), 0);
	set.ulValueLen--;
	CU_ASSERT_EQUAL(p11->C_SetAttributeValue(s, h, &set, 1), CKR_OK);
	set.pValue = secret_value;
	set.ulValueLen = sizeof(secret_value);
	CU_ASSERT_EQUAL(p11->C_SetAttributeValue(s, h, &set, 1), CKR_OK);
}

/* Returns true when any 8-byte run of value is in a file below path (the trace aside). */
static bool tree_has(const char *path, const CK_BYTE *value, size_t len)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[4096];
	struct stat st;
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strcmp(e->d_name, "trace"))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (lstat(sub, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			found = tree_has(sub, value, len);
		else if (S_ISREG(st.st_mode))
			found = file_has(sub, value, len);
	}
	closedir(d);
	return found;
}

static bool store_has(const CK_BYTE *value, size_t len)
{
	return tree_has(dir, value, len);
}

static void test_tpm_attack_data_roles(void)
{
	CK_SESSION_HANDLE before, s;
	CK_OBJECT_HANDLE h;

	CU_ASSERT_EQUAL_FATAL(
	    p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &before),
	    CKR_OK);
	s = tpm_p11_login(slot);
	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(
	    attack_make_data(s, "victim", CK_TRUE, secret_value, sizeof(secret_value), &h), CKR_OK);
	CU_ASSERT_FALSE(store_has(secret_value, sizeof(secret_value)));
	/* The login is the token's: the session opened before it reads too. */
	CU_ASSERT_EQUAL(attack_find_value(before, secret_value, sizeof(secret_value)), 1);
	check_lengths(before, h);
	check_set_refused(s, h);
	check_set_too_long(s, h);
	CU_ASSERT_FALSE(store_has(secret_value, sizeof(secret_value)));

	CU_ASSERT_EQUAL(p11->C_Logout(s), CKR_OK);
	nothing_visible(before, h);
	nothing_visible(s, h);
	CU_ASSERT_EQUAL_FATAL(
	    p11->C_Login(s, CKU_SO, (CK_UTF8CHAR *)TPM_P11_SO_PIN, strlen(TPM_P11_SO_PIN)), CKR_OK);
	nothing_visible(s, h);
	CU_ASSERT_EQUAL(p11->C_Logout(s), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_CloseSession(before), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

/* Returns 0 when a child of a logged-in parent gets nothing of the value before C_Initialize. */
static int child_after_fork(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	CK_BYTE buf[64] = {0}, zero[64] = {0};
	CK_ATTRIBUTE a = {CKA_VALUE, buf, sizeof(buf)};
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE by_value[] = {{CKA_CLASS, &cls, sizeof(cls)},
	                           {CKA_VALUE, secret_value, sizeof(secret_value)}};
	CK_ULONG n = 0;

	if (p11->C_GetAttributeValue(s, h, &a, 1) == CKR_OK || memcmp(buf, zero, sizeof(buf)))
		return 1;
	a.pValue = NULL;
	if (p11->C_GetAttributeValue(s, h, &a, 1) == CKR_OK)
		return 2;
	if (p11->C_FindObjectsInit(s, by_value, 2) == CKR_OK ||
	    p11->C_FindObjects(s, &h, 1, &n) == CKR_OK)
		return 3;
	return 0;
}

static void test_tpm_attack_data_fork(void)
{
	CK_SESSION_HANDLE s = tpm_p11_login(slot);
	CK_OBJECT_HANDLE h;
	int status = 0;
	pid_t pid;

	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_DATA, "victim", &h), 1);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0)
		_exit(child_after_fork(s, h));
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status));
	CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
	/* The parent keeps its login and reads on. */
	CU_ASSERT_EQUAL(attack_find_value(s, secret_value, sizeof(secret_value)), 1);
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
}

/*
 * Rewrites the value until killed: other_value, secret_value, other_value...
 * After the first write it writes one byte to ready.
 */
static void rewrite_forever(int ready)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE h;

	if (p11->C_Initialize(NULL) != CKR_OK)
		_exit(2);
	s = tpm_p11_login(slot);
	if (s == CK_INVALID_HANDLE || tpm_p11_find(s, CKO_DATA, "victim", &h) != 1)
		_exit(3);
	for (unsigned int i = 0;; i++) {
		CK_BYTE *v = i & 1 ? secret_value : other_value;
		CK_ATTRIBUTE a = {CKA_VALUE, v, sizeof(secret_value)};

		if (p11->C_SetAttributeValue(s, h, &a, 1) != CKR_OK)
			_exit(4);
		if (i == 0 && write(ready, "!", 1) != 1)
			_exit(5);
	}
}

/* Checks that after a kill -9 the value reads back as one of the two written, never an error. */
static void check_value_is_one(void)
{
	CK_BYTE buf[64];
	CK_ATTRIBUTE a = {CKA_VALUE, buf, sizeof(buf)};
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE h;

	CU_ASSERT_EQUAL_FATAL(p11->C_Initialize(NULL), CKR_OK);
	s = tpm_p11_login(slot);
	CU_ASSERT_FATAL(s != CK_INVALID_HANDLE);
	CU_ASSERT_EQUAL_FATAL(tpm_p11_find(s, CKO_DATA, "victim", &h), 1);
	CU_ASSERT_EQUAL(p11->C_GetAttributeValue(s, h, &a, 1), CKR_OK);
	CU_ASSERT_EQUAL(a.ulValueLen, sizeof(secret_value));
	CU_ASSERT(!memcmp(buf, secret_value, sizeof(secret_value)) ||
	          !memcmp(buf, other_value, sizeof(other_value)));
	CU_ASSERT_EQUAL(p11->C_CloseSession(s), CKR_OK);
	CU_ASSERT_EQUAL(p11->C_Finalize(NULL), CKR_OK);
}

static void test_tpm_attack_data_kill(void)
{
	CU_ASSERT_EQUAL_FATAL(p11->C_Finalize(NULL), CKR_OK);
	for (int round = 0; round < 6; round++) {
		int status = 0, ready[2];
		char byte = 0;
		pid_t pid;

		CU_ASSERT_FATAL(pipe(ready) == 0);
		pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0) {
			close(ready[0]);
			rewrite_forever(ready[1]);
		}
		close(ready[1]);
		CU_ASSERT_EQUAL(read(ready[0], &byte, 1), 1);
		close(ready[0]);
		/* A few writes take a millisecond: each round kills another one. */
		usleep(1000 + 1700 * (useconds_t)round);
		kill(pid, SIGKILL);
		CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
		CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		check_value_is_one();
	}
	CU_ASSERT_EQUAL_FATAL(p11->C_Initialize(NULL), CKR_OK);
	CU_ASSERT_FALSE(store_has(secret_value, sizeof(secret_value)));
	CU_ASSERT_FALSE(store_has(other_value, sizeof(other_value)));
}

static void test_tpm_attack_trace(void)
{
	char trace[4200];

	struct stat st;

	snprintf(trace, sizeof(trace), "%s/trace", dir);
	/* The calls above were traced: the test looks at a real trace. */
	CU_ASSERT_FATAL(stat(trace, &st) == 0 && st.st_size > 10000);
	if (getenv("HSMUX_TEST_KEEP_TRACE"))
		tpm_p11_run("cp %s %s", trace, getenv("HSMUX_TEST_KEEP_TRACE"));
	CU_ASSERT_FALSE(file_has_any_form(trace, secret_value, sizeof(secret_value)));
	CU_ASSERT_FALSE(file_has_any_form(trace, other_value, sizeof(other_value)));
}

int main(int argc, char **argv)
{
	char trace[4200];
	CU_pSuite suite;
	unsigned int failures;

	if (argc != 2 || !mkdtemp(dir) || !tpm_p11_load(argv[1]) || !tpm_p11_config(dir, NULL))
		return 1;
	snprintf(trace, sizeof(trace), "%s/trace", dir);
	if (setenv("HSMUX_DEBUG", "all", 1) != 0 || setenv("HSMUX_DEBUG_FILE", trace, 1) != 0)
		return 1;
	if (RAND_bytes(secret_value, sizeof(secret_value)) != 1 ||
	    RAND_bytes(other_value, sizeof(other_value)) != 1)
		return 1;
	if (p11->C_Initialize(NULL) != CKR_OK || !tpm_p11_slot(&slot) ||
	    !tpm_p11_token(slot, "attack")) {
		fprintf(stderr, "cannot set up the tpm token with %s\n", argv[1]);
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("tpm_attack", NULL, NULL);
	CU_add_test(suite, "test_tpm_attack_data_roles", test_tpm_attack_data_roles);
	CU_add_test(suite, "test_tpm_attack_data_fork", test_tpm_attack_data_fork);
	CU_add_test(suite, "test_tpm_attack_data_kill", test_tpm_attack_data_kill);
	tpm_attack_rsa_add_tests(suite, &slot);
	CU_add_test(suite, "test_tpm_attack_trace", test_tpm_attack_trace);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	p11->C_Finalize(NULL);
	tpm_test_remove_tree(dir);
	return failures ? 1 : 0;
}
