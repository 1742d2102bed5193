/*
 * The keys of a token, each checked against the policy by the module's
 * "hsmux admin" interface, as JSON: for `hsmux status --keys`.
 */
#ifndef HSMUX_CLI_KEYS_H
#define HSMUX_CLI_KEYS_H

#include <jansson.h>

#include "cli.h"
#include "hsmux/admin.h"

/*
 * Returns the module's "hsmux admin" functions with key_status (version
 * 1.1 or later), or NULL after printing that the module is not hsmux, and
 * how to load libhsmux.so instead.
 */
const struct hsmux_admin_functions *cli_keys_admin(struct cli *cli);

/*
 * Finds every private, secret and public key visible in session and checks
 * each with admin->key_status. Returns an array of {"label", "id" (hex),
 * "class" (CKO_...), "key_type" (CKK_...), "within_rules", "reason" (NULL
 * within the rules)}, sorted by label, class and id, or NULL after printing
 * a message that names token. The caller owns the reference.
 */
json_t *cli_keys_json(struct cli *cli, const struct hsmux_admin_functions *admin,
                      CK_SESSION_HANDLE session, const char *token);

/* "secret key" for "CKO_SECRET_KEY", "AES" for "CKK_AES": the words for text output. */
const char *cli_key_class_text(const char *class_name);
const char *cli_key_type_text(const char *type_name);

/*
 * `hsmux status --keys`: checks the keys of token (a label or URI), or of
 * every initialized token when it is NULL, logged in as user with the PIN
 * from pin_file, $HSMUX_PIN or a prompt, and prints them (cli->json: as
 * JSON). Returns the exit status.
 */
int status_keys(struct cli *cli, const char *token, const char *pin_file);

#endif /* HSMUX_CLI_KEYS_H */
