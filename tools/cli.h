/*
 * Helpers shared by every hsmux command. A command reaches tokens only
 * through the PKCS#11 module that cli_module_load() opens, never through a
 * backend directly, so the module's policy and audit see every call.
 *
 * A command is a function `int cmd_NAME(struct cli *cli, int argc, char **argv)`
 * listed in the table in hsmux.c. argv[0] is the command's own name, and the
 * dispatcher sets optind to 0 first, so the command can parse its options
 * with getopt_long() at once. It returns the process exit status: 0 on
 * success, 1 after a failure it has reported, 2 for a usage error.
 */
#ifndef HSMUX_CLI_H
#define HSMUX_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "hsmux/pkcs11.h"

struct cli {
	void *dl; /* dlopen() handle of the module; NULL until loaded */
	CK_FUNCTION_LIST_PTR fl;
	const char *module_path; /* chosen by main(); never NULL */
	bool json;               /* --json given: print JSON instead of text */
};

/* Exit statuses of commands and of the tool. */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILURE = 1,
	CLI_EXIT_USAGE = 2,
};

/* The longest PIN the tool accepts, without the terminating NUL. */
#define CLI_PIN_MAX 255

/*
 * Opens cli->module_path with dlopen(), gets its function list and calls
 * C_Initialize with CKF_OS_LOCKING_OK. Returns 0, or 1 after printing a
 * message that names the module and the fix. Calling it again once loaded
 * does nothing.
 */
int cli_module_load(struct cli *cli);

/* Calls C_Finalize and closes the module. Safe when nothing is loaded. */
void cli_module_unload(struct cli *cli);

/*
 * Finds the slot whose token is named by token: a label, or a PKCS#11 URI
 * ("pkcs11:token=L", other token and slot attributes allowed). Loads the
 * module when needed. Returns 0 with *slot set, or 1 after printing a message
 * (no such token, several tokens match, a bad URI, a URI with a PIN).
 */
int cli_find_token(struct cli *cli, const char *token, CK_SLOT_ID *slot);

/*
 * Reads a PIN into buf (NUL-terminated): from pin_file when it is not NULL
 * (its first line), else from the environment variable env_name when it is
 * set, else from a no-echo prompt on the terminal. A PIN never comes from
 * argv. Returns 0, or 1 after printing a message; on failure buf is wiped.
 * The caller wipes buf with OPENSSL_cleanse() after use.
 */
int cli_read_pin(const char *prompt, const char *pin_file, const char *env_name, char *buf,
                 size_t len);

/*
 * Like cli_read_pin() for a PIN that is being set: a prompt reads it twice and
 * fails when the two entries differ. An empty PIN is rejected.
 */
int cli_read_new_pin(const char *prompt, const char *pin_file, const char *env_name, char *buf,
                     size_t len);

/*
 * Opens a read-write session on slot and logs in as user (CKU_USER or
 * CKU_SO). The PIN comes from pin_file, else HSMUX_PIN (user) or HSMUX_SO_PIN
 * (SO), else a prompt; a token with a protected authentication path gets no
 * PIN. Returns 0 with *session open and logged in, or 1 after printing a
 * message; nothing stays open on failure. The caller closes the session.
 */
int cli_login(struct cli *cli, CK_SLOT_ID slot, CK_USER_TYPE user, const char *pin_file,
              CK_SESSION_HANDLE *session);

/* Prints "hsmux: " and the formatted message, and a newline, to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The spec's name of rv ("CKR_PIN_INCORRECT"), or "CKR_0x..." when unknown. */
const char *cli_rv_name(CK_RV rv);

/*
 * Copies a blank-padded PKCS#11 text field (a label, a description) into buf
 * without the padding, NUL-terminated. buf needs field_len + 1 bytes.
 */
void cli_field_string(const CK_UTF8CHAR *field, size_t field_len, char *buf);

/*
 * Splits an hsmux slot description, "hsmux NAME: backend's description",
 * into the backend name and the rest. Returns false for a slot description
 * of another module; then name is empty and rest is the whole description.
 */
bool cli_slot_backend(const CK_SLOT_INFO *info, char *name, size_t name_len, char *rest,
                      size_t rest_len);

/*
 * Returns the slot list (every slot, with or without a token) in a new array
 * that the caller frees, with its length in *count; NULL with *count 0 is an
 * empty list. Returns 1 after printing a message when C_GetSlotList fails.
 */
int cli_slot_list(struct cli *cli, CK_SLOT_ID **slots, CK_ULONG *count);

#endif /* HSMUX_CLI_H */
