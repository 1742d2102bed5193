/*
 * hsmux-bench: shared types of the benchmark that compares two PKCS#11
 * modules (A and B) in one process.
 */
#ifndef HSMUX_BENCH_H
#define HSMUX_BENCH_H

#include <stdbool.h>
#include <stddef.h>

#include <hsmux/pkcs11.h>

#define BENCH_DATA_LEN 4096
/* Room for the largest output: 4 KiB plus a GCM tag, or an RSA-2048 signature. */
#define BENCH_OUT_LEN (BENCH_DATA_LEN + 64)

/* Keys that an operation needs; the set-up makes only the requested ones. */
enum bench_key {
	BENCH_KEY_NONE = 0,
	BENCH_KEY_EC_P256 = 1u << 0,
	BENCH_KEY_RSA_2048 = 1u << 1,
	BENCH_KEY_AES_256 = 1u << 2,
};

/* Session-object keys, made once per module and shared by all its sessions. */
struct bench_keys {
	CK_OBJECT_HANDLE ec_private;
	CK_OBJECT_HANDLE rsa_private;
	CK_OBJECT_HANDLE aes;
};

/* One loaded module and the sessions that the measurement uses. */
struct bench_module {
	const char *name; /* "A" or "B", for messages */
	const char *path;
	const char *token_label;
	const char *pin;
	void *dl;
	CK_FUNCTION_LIST_PTR functions;
	bool initialized; /* this program's C_Initialize succeeded; it must finalize */
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE *sessions;
	size_t n_sessions;
	struct bench_keys keys;
};

/* The state of one measuring thread: its own session and output buffer. */
struct bench_worker {
	CK_FUNCTION_LIST_PTR functions;
	CK_SESSION_HANDLE session;
	const struct bench_keys *keys;
	unsigned char out[BENCH_OUT_LEN];
};

/*
 * One measured operation. run() performs one complete operation (for
 * example C_SignInit and C_Sign) and returns the first failing CK_RV.
 */
struct bench_op {
	const char *name;
	const char *description;
	unsigned int keys;    /* enum bench_key bits */
	bool throughput_goal; /* a sign or encrypt operation: A must reach 0.97 x B */
	CK_RV (*run)(struct bench_worker *worker);
};

/* ops.c */
extern const struct bench_op bench_ops[];
extern const size_t bench_n_ops;
const struct bench_op *bench_op_find(const char *name);

/* module.c */

/*
 * Loads the module at mod->path and initializes it with OS locking.
 * CKR_CRYPTOKI_ALREADY_INITIALIZED is accepted, because two modules in one
 * process may share one SoftHSM instance; then mod->initialized stays
 * false and bench_module_close() does not finalize it. On failure it prints
 * a message naming the module and returns false.
 */
bool bench_module_open(struct bench_module *mod);

/*
 * Finds the slot whose token label is mod->token_label, opens n_sessions
 * read-write sessions there and logs the user in. On failure it prints a
 * message and returns false; bench_module_close() cleans up.
 */
bool bench_module_start(struct bench_module *mod, size_t n_sessions);

/* Generates the keys named by the enum bench_key bits as session objects. */
bool bench_module_make_keys(struct bench_module *mod, unsigned int keys);

/* Closes the sessions. Safe on a partly opened module. */
void bench_module_stop(struct bench_module *mod);

/* Finalizes (only when this program initialized it) and unloads the module. */
void bench_module_close(struct bench_module *mod);

/*
 * Initializes a token on the first slot with an uninitialized token:
 * C_InitToken with the label and the SO PIN, then C_InitPIN with the user
 * PIN. Returns false after printing a message.
 */
bool bench_init_token(const char *path, const char *label, const char *so_pin, const char *pin);

/* Prints "<module> <what>: <CK_RV name>" to stderr. */
void bench_report_rv(const struct bench_module *mod, const char *what, CK_RV rv);

/* The CKR_ name of rv, or "CKR_0x..." for an unknown code. */
const char *bench_rv_name(CK_RV rv, char *buf, size_t len);

#endif /* HSMUX_BENCH_H */
