/* Helpers of the security-domain and backup commands. */
#ifndef HSMUX_TOOLS_SD_CLI_H
#define HSMUX_TOOLS_SD_CLI_H

#include "cli.h"
#include "hsmux/admin.h"

/* A logged-in user session on a token, with the module's admin interface. */
struct sd_cli_session {
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session;
	const struct hsmux_admin_functions *admin;
};

/*
 * Finds token, logs in as the user (PIN from pin_file, HSMUX_PIN or a
 * prompt) and gets the "hsmux admin" interface of the module. Returns 0, or
 * 1 after printing a message.
 */
int sd_cli_open(struct cli *cli, const char *token, const char *pin_file, struct sd_cli_session *s);
void sd_cli_close(struct cli *cli, struct sd_cli_session *s);

/* Prints "hsmux: ACTION: ERR", or the action and the CK_RV name when err is empty. */
void sd_cli_fail(const char *action, CK_RV rv, const char *err);

/*
 * `hsmux sd recover`, offline: rebuilds the key of sd_path from the
 * custodian private keys in key_files and writes upload.json for the
 * exchange key. Returns the exit status after printing what happened.
 */
int sd_cmd_recover_opts(const char *sd_path, const char *const *key_files, size_t n,
                        const char *exchange_path, const char *out_path);

#endif /* HSMUX_TOOLS_SD_CLI_H */
