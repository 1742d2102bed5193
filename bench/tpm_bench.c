/*
 * tpm-bench: RSA-2048 and ECDSA P-256 signing throughput of two PKCS#11
 * modules in one process, in interleaved rounds. bench/tpm_bench.sh runs it
 * on hsmux's tpm backend against tpm2-pkcs11 over swtpm.
 *
 * usage: tpm-bench MODULE_A MODULE_B ROUNDS SECONDS
 * Both modules need a token with user PIN 1234 that contains the token key
 * pairs "rsa2048" and "ec256" (tpm2-pkcs11 makes no session keys).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hsmux/pkcs11.h"

#define MAX_ROUNDS 100
#define PIN        "1234"

struct module {
	const char *path;
	CK_FUNCTION_LIST_PTR p11;
	CK_SESSION_HANDLE session;
	CK_OBJECT_HANDLE rsa, ec;
};

struct op {
	const char *name;
	CK_MECHANISM_TYPE mech;
	CK_ULONG input_len;
};

static const struct op ops[] = {
    {"rsa2048 (CKM_SHA256_RSA_PKCS, 32 bytes)", CKM_SHA256_RSA_PKCS, 32},
    {"ecdsa-p256 (CKM_ECDSA, 32-byte hash)", CKM_ECDSA, 32},
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const struct module *m, const char *what, CK_RV rv)
{
	fprintf(stderr, "tpm-bench: %s: %s failed: 0x%lx\n", m->path, what, rv);
	return 1;
}

/* Finds the private key labelled label. */
static int find_key(struct module *m, const char *label, CK_OBJECT_HANDLE *key)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	};
	CK_ULONG n = 0;
	CK_RV rv;

	rv = m->p11->C_FindObjectsInit(m->session, tmpl, 2);
	if (rv == CKR_OK)
		rv = m->p11->C_FindObjects(m->session, key, 1, &n);
	m->p11->C_FindObjectsFinal(m->session);
	if (rv == CKR_OK && n != 1)
		rv = CKR_KEY_HANDLE_INVALID;
	return rv == CKR_OK ? 0 : fail(m, label, rv);
}

static int open_module(struct module *m)
{
	CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;
	void *lib = dlopen(m->path, RTLD_NOW | RTLD_LOCAL);
	CK_RV rv;

	if (!lib) {
		fprintf(stderr, "tpm-bench: cannot load %s: %s\n", m->path, dlerror());
		return 1;
	}
	*(void **)&get_list = dlsym(lib, "C_GetFunctionList");
	if (!get_list || get_list(&m->p11) != CKR_OK)
		return fail(m, "C_GetFunctionList", CKR_GENERAL_ERROR);
	rv = m->p11->C_Initialize(NULL);
	if (rv == CKR_OK)
		rv = m->p11->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv == CKR_OK && n == 0)
		rv = CKR_TOKEN_NOT_PRESENT;
	if (rv == CKR_OK)
		rv = m->p11->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
		                           NULL, &m->session);
	if (rv == CKR_OK)
		rv = m->p11->C_Login(m->session, CKU_USER, (CK_UTF8CHAR *)PIN, strlen(PIN));
	if (rv != CKR_OK)
		return fail(m, "opening a logged-in session", rv);
	return find_key(m, "rsa2048", &m->rsa) || find_key(m, "ec256", &m->ec);
}

/* Signs for the given time and returns signatures per second, or -1 on an error. */
static double measure(struct module *m, const struct op *op, double seconds)
{
	CK_MECHANISM mech = {op->mech, NULL, 0};
	CK_OBJECT_HANDLE key = op->mech == CKM_ECDSA ? m->ec : m->rsa;
	CK_BYTE input[32], sig[512];
	double start = now(), elapsed;
	unsigned long count = 0;

	memset(input, 0x5a, sizeof(input));
	do {
		CK_ULONG len = sizeof(sig);

		if (m->p11->C_SignInit(m->session, &mech, key) != CKR_OK ||
		    m->p11->C_Sign(m->session, input, op->input_len, sig, &len) != CKR_OK)
			return -1;
		count++;
		elapsed = now() - start;
	} while (elapsed < seconds);
	return (double)count / elapsed;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), compare_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	struct module mods[2] = {{.path = argc > 1 ? argv[1] : NULL},
	                         {.path = argc > 2 ? argv[2] : NULL}};
	int rounds = argc > 3 ? atoi(argv[3]) : 0;
	double seconds = argc > 4 ? strtod(argv[4], NULL) : 0;
	double rate[2][MAX_ROUNDS];
	int worst = 0;

	if (argc != 5 || rounds < 1 || rounds > MAX_ROUNDS || seconds <= 0) {
		fprintf(stderr, "usage: %s MODULE_A MODULE_B ROUNDS SECONDS (ROUNDS 1-%d)\n",
		        argv[0], MAX_ROUNDS);
		return 2;
	}
	if (open_module(&mods[0]) || open_module(&mods[1]))
		return 1;

	printf("| operation | A ops/s | B ops/s | A/B |\n| --- | ---: | ---: | ---: |\n");
	for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
		double a, b;

		/* Interleave A and B in every round, so load changes hit both alike. */
		for (int r = 0; r < rounds; r++) {
			for (int i = 0; i < 2; i++) {
				rate[i][r] = measure(&mods[i], &ops[o], seconds);
				if (rate[i][r] < 0)
					return fail(&mods[i], ops[o].name, CKR_FUNCTION_FAILED);
			}
		}
		a = median(rate[0], rounds);
		b = median(rate[1], rounds);
		printf("| %s | %.0f | %.0f | %.1fx |\n", ops[o].name, a, b, a / b);
		if (a < 5 * b)
			worst = 1;
	}
	printf("\nmedians of %d rounds of %.2f s per module and operation; goal A/B >= 5x: %s\n",
	       rounds, seconds, worst ? "missed" : "met");
	for (int i = 0; i < 2; i++) {
		mods[i].p11->C_CloseSession(mods[i].session);
		mods[i].p11->C_Finalize(NULL);
	}
	return 0;
}
