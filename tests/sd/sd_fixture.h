/*
 * The fixture of the security-domain tests: each step runs in a child
 * process with its own hsmux config, because SoftHSM reads one store and
 * libtpms runs one TPM per process. It loads libhsmux.so and its
 * "hsmux admin" interface.
 */
#ifndef HSMUX_TEST_SD_FIXTURE_H
#define HSMUX_TEST_SD_FIXTURE_H

#include <stdbool.h>

#include <CUnit/CUnit.h>
#include <openssl/evp.h>

#include "hsmux/admin.h"
#include "module/admin/sd_file.h"

#define SD_TEST_SO_PIN   "12345678"
#define SD_TEST_USER_PIN "userpin1"

struct mod {
	void *dl;
	CK_FUNCTION_LIST_PTR fl;
	const struct hsmux_admin_functions *admin;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
};

/* Writes an hsmux config for a softhsm store under dir/NAME and returns its path (static). */
const char *fx_config(const char *dir, const char *name);

/* Writes an hsmux config for a libtpms TPM with its state and store in dir/NAME. */
const char *fx_config_tpm(const char *dir, const char *name);

enum fx_backend { FX_SOFTHSM, FX_TPM };

/* Writes the config of fx_config() or fx_config_tpm(), whichever backend selects. */
const char *fx_config_for(enum fx_backend backend, const char *dir, const char *name);

/* Loads the module with config conf. Returns false after printing why. */
bool fx_open(struct mod *m, const char *conf);
void fx_close(struct mod *m);

/* Initializes a fresh token with label and the test PINs, and logs in as the user. */
bool fx_init_token(struct mod *m, const char *label);
/* Opens a read-write session on the token with label and logs in as the user. */
bool fx_login(struct mod *m, const char *label);

/* Finds one object by class and label. */
CK_OBJECT_HANDLE fx_find(struct mod *m, CK_OBJECT_CLASS cls, const char *label);

/* Runs fn in a child process and returns its exit status (0 for success). */
int fx_run(int (*fn)(void *arg), void *arg);

/* Hashes every file of a directory (names and contents) into out, for before/after checks. */
bool fx_dir_digest(const char *dir, unsigned char out[32]);

/* The only token directory under store/tokens (for one-token stores). */
bool fx_token_dir(const char *store, char *out, size_t len);

/* Saves and loads PEM public keys and binary blobs. */
bool fx_write(const char *path, const void *data, size_t len);
unsigned char *fx_read(const char *path, size_t *len);
EVP_PKEY *fx_read_pubkey(const char *path);
EVP_PKEY *fx_read_privkey(const char *path);

/* Writes custodian keys c1.key .. c4.key (PEM, RSA 2048) into dir; c4 is no custodian. */
void fx_make_custodians(const char *dir);

/* Activates the token of m with custodians first..first+2 and quorum 2; sd.json goes to
 * dir/sd_name. */
CK_RV fx_activate(struct mod *m, const char *dir, int first, const char *sd_name);

/*
 * The custodians' offline step, as `hsmux sd recover` does it: rebuilds the
 * key of dir/sd.json from custodian keys which[] and writes dir/out_name for
 * dir/exchange.pem (out_name NULL: no upload file). With key not NULL the
 * rebuilt key is handed over.
 */
bool fx_recover(const char *dir, const int *which, size_t n, const char *out_name,
                struct sd_secret *key, char *report, size_t report_len);

/* Makes a fresh directory $TMPDIR/prefix-XXXXXX (or under /tmp) and writes its path to dir. */
bool fx_make_dir(char *dir, size_t len, const char *prefix);
/* Removes dir and everything in it, for a run that passed. */
void fx_remove_dir(const char *dir);

/* Runs one CUnit suite of tests (ending with CU_TEST_INFO_NULL); returns the failures. */
unsigned int fx_run_suite(const char *name, CU_InitializeFunc setup, const CU_TestInfo *tests);

/*
 * Runs the whole security-domain flow in dir with CUnit assertions, from
 * keys on token A to their restore on target B. A third token C must
 * reject A's backup. dir must hold the keys of fx_make_custodians().
 */
void fx_round_trip(enum fx_backend backend, const char *dir);

/*
 * Prepares the kill -9 tests in dir: token A with keys, activated and
 * backed up to a.bk, and token B with the upload of custodians 1 and 2.
 * export_keys also exports A's keys, and key (unless NULL) gets the
 * rebuilt security-domain key. Returns 0, or 1 as a CUnit set-up does.
 */
int fx_crash_setup(enum fx_backend backend, const char *dir, bool export_keys,
                   struct sd_secret *key);

/* A child that logs in to token label and then backs it up to file or restores file. */
struct fx_victim {
	const char *conf, *label, *file;
	bool restore;
};

/*
 * Runs the victim and kills it delay_us after its start. With delay_us 0 it
 * lets the operation finish, which must then succeed. before() runs between
 * login and start. Returns the microseconds the operation ran, or -1.
 */
long fx_run_victim(const struct fx_victim *v, long delay_us, void (*before)(void));

/* A random delay from 1 to 1.25 times full_us, for fx_run_victim(). */
long fx_random_delay(long full_us);

/* Joins dir and name into out (len bytes). */
void fx_path(char *out, size_t len, const char *dir, const char *name);

#endif
