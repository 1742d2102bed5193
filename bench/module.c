/*
 * Loading a PKCS#11 module for the benchmark: dlopen, C_Initialize, slot
 * by token label, sessions, login and token initialization.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

const char *bench_rv_name(CK_RV rv, char *buf, size_t len)
{
	static const struct {
		CK_RV rv;
		const char *name;
	} names[] = {
	    {CKR_OK, "CKR_OK"},
	    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
	    {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID"},
	    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
	    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
	    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
	    {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"},
	    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
	    {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED"},
	    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
	    {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT"},
	    {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED"},
	    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
	    {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID"},
	    {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE"},
	    {CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED"},
	    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
	    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE"},
	    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
	    {CKR_SESSION_EXISTS, "CKR_SESSION_EXISTS"},
	    {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE"},
	    {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"},
	    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
	    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
	    {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN"},
	    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
	    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"},
	    {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"},
	    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
	    {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].rv == rv)
			return names[i].name;
	}
	snprintf(buf, len, "CKR_0x%lx", (unsigned long)rv);
	return buf;
}

void bench_report_rv(const struct bench_module *mod, const char *what, CK_RV rv)
{
	char buf[32];

	fprintf(stderr, "hsmux-bench: module %s (%s): %s failed: %s\n", mod->name, mod->path, what,
	        bench_rv_name(rv, buf, sizeof(buf)));
}

bool bench_module_open(struct bench_module *mod)
{
	CK_C_GetFunctionList get_function_list;
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_RV rv;

	/* RTLD_NOW keeps lazy symbol binding out of the measured calls. */
	mod->dl = dlopen(mod->path, RTLD_NOW | RTLD_LOCAL);
	if (!mod->dl) {
		fprintf(stderr, "hsmux-bench: cannot load module %s: %s; check the --%c path\n",
		        mod->name, dlerror(), mod->name[0] == 'A' ? 'a' : 'b');
		return false;
	}
	*(void **)&get_function_list = dlsym(mod->dl, "C_GetFunctionList");
	if (!get_function_list) {
		fprintf(stderr,
		        "hsmux-bench: %s exports no C_GetFunctionList; is it a PKCS#11 "
		        "module?\n",
		        mod->path);
		return false;
	}
	rv = get_function_list(&mod->functions);
	if (rv != CKR_OK) {
		bench_report_rv(mod, "C_GetFunctionList", rv);
		return false;
	}

	rv = mod->functions->C_Initialize(&args);
	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
		return true;
	if (rv != CKR_OK) {
		bench_report_rv(mod, "C_Initialize", rv);
		return false;
	}
	mod->initialized = true;
	return true;
}

/* Compares a blank-padded CK_TOKEN_INFO label with a C string. */
static bool label_equals(const CK_UTF8CHAR padded[32], const char *label)
{
	size_t len = strlen(label);

	if (len > 32 || memcmp(padded, label, len) != 0)
		return false;
	for (size_t i = len; i < 32; i++) {
		if (padded[i] != ' ')
			return false;
	}
	return true;
}

static bool find_slot(struct bench_module *mod)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n_slots = sizeof(slots) / sizeof(slots[0]);
	CK_TOKEN_INFO info;
	CK_RV rv;

	rv = mod->functions->C_GetSlotList(CK_TRUE, slots, &n_slots);
	if (rv != CKR_OK) {
		bench_report_rv(mod, "C_GetSlotList", rv);
		return false;
	}
	for (CK_ULONG i = 0; i < n_slots; i++) {
		rv = mod->functions->C_GetTokenInfo(slots[i], &info);
		if (rv == CKR_OK && label_equals(info.label, mod->token_label)) {
			mod->slot = slots[i];
			return true;
		}
	}
	fprintf(stderr,
	        "hsmux-bench: module %s (%s) has no token labelled '%s'; run bench/setup.sh "
	        "or pass --token\n",
	        mod->name, mod->path, mod->token_label);
	return false;
}

bool bench_module_start(struct bench_module *mod, size_t n_sessions)
{
	CK_FLAGS flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
	CK_RV rv;

	if (!find_slot(mod))
		return false;

	mod->sessions = calloc(n_sessions, sizeof(*mod->sessions));
	if (!mod->sessions) {
		fprintf(stderr, "hsmux-bench: out of memory\n");
		return false;
	}
	for (size_t i = 0; i < n_sessions; i++) {
		rv = mod->functions->C_OpenSession(mod->slot, flags, NULL, NULL, &mod->sessions[i]);
		if (rv != CKR_OK) {
			bench_report_rv(mod, "C_OpenSession", rv);
			return false;
		}
		mod->n_sessions++;
	}

	/* Two modules over one SoftHSM instance share its login state. */
	rv = mod->functions->C_Login(mod->sessions[0], CKU_USER, (CK_UTF8CHAR_PTR)mod->pin,
	                             strlen(mod->pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		bench_report_rv(mod, "C_Login", rv);
		return false;
	}
	return true;
}

void bench_module_stop(struct bench_module *mod)
{
	for (size_t i = 0; i < mod->n_sessions; i++)
		mod->functions->C_CloseSession(mod->sessions[i]);
	free(mod->sessions);
	mod->sessions = NULL;
	mod->n_sessions = 0;
}

void bench_module_close(struct bench_module *mod)
{
	CK_RV rv;

	if (mod->initialized) {
		rv = mod->functions->C_Finalize(NULL);
		/* A module that shares an instance may already have finalized it. */
		if (rv != CKR_OK && rv != CKR_CRYPTOKI_NOT_INITIALIZED)
			bench_report_rv(mod, "C_Finalize", rv);
		mod->initialized = false;
	}
	if (mod->dl)
		dlclose(mod->dl);
	mod->dl = NULL;
	mod->functions = NULL;
}

static bool find_empty_slot(struct bench_module *mod)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n_slots = sizeof(slots) / sizeof(slots[0]);
	CK_TOKEN_INFO info;
	CK_RV rv;

	rv = mod->functions->C_GetSlotList(CK_TRUE, slots, &n_slots);
	if (rv != CKR_OK) {
		bench_report_rv(mod, "C_GetSlotList", rv);
		return false;
	}
	for (CK_ULONG i = 0; i < n_slots; i++) {
		rv = mod->functions->C_GetTokenInfo(slots[i], &info);
		if (rv == CKR_OK && !(info.flags & CKF_TOKEN_INITIALIZED)) {
			mod->slot = slots[i];
			return true;
		}
	}
	fprintf(stderr, "hsmux-bench: module %s has no slot with an uninitialized token\n",
	        mod->path);
	return false;
}

static bool init_user_pin(struct bench_module *mod, const char *so_pin, const char *pin)
{
	CK_SESSION_HANDLE session;
	CK_RV rv;
	bool ok = false;

	rv = mod->functions->C_OpenSession(mod->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
	                                   NULL, &session);
	if (rv != CKR_OK) {
		bench_report_rv(mod, "C_OpenSession", rv);
		return false;
	}
	rv = mod->functions->C_Login(session, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin));
	if (rv != CKR_OK) {
		bench_report_rv(mod, "C_Login as SO", rv);
		goto out;
	}
	rv = mod->functions->C_InitPIN(session, (CK_UTF8CHAR_PTR)pin, strlen(pin));
	if (rv != CKR_OK) {
		bench_report_rv(mod, "C_InitPIN", rv);
		goto out;
	}
	ok = true;
	mod->functions->C_Logout(session);
out:
	mod->functions->C_CloseSession(session);
	return ok;
}

bool bench_init_token(const char *path, const char *label, const char *so_pin, const char *pin)
{
	struct bench_module mod = {.name = "A", .path = path, .token_label = label};
	CK_UTF8CHAR padded[32];
	size_t len = strlen(label);
	CK_RV rv;
	bool ok = false;

	if (len > sizeof(padded)) {
		fprintf(stderr, "hsmux-bench: token label '%s' is longer than 32 bytes\n", label);
		return false;
	}
	memset(padded, ' ', sizeof(padded));
	memcpy(padded, label, len);

	if (!bench_module_open(&mod) || !find_empty_slot(&mod))
		goto out;
	rv = mod.functions->C_InitToken(mod.slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), padded);
	if (rv != CKR_OK) {
		bench_report_rv(&mod, "C_InitToken", rv);
		goto out;
	}
	ok = init_user_pin(&mod, so_pin, pin);
out:
	bench_module_close(&mod);
	return ok;
}
