/*
 * The module, its slots and their tokens as PKCS#11 reports them, as
 * JSON objects. `hsmux status` and `hsmux token list` print these, as JSON
 * or as text, so both show the same facts.
 */
#ifndef HSMUX_CLI_INFO_H
#define HSMUX_CLI_INFO_H

#include <jansson.h>

#include "cli.h"

/*
 * Returns {"path", "manufacturer", "description", "library_version",
 * "cryptoki_version"} from C_GetInfo, or NULL after printing a message. The
 * caller owns the reference.
 */
json_t *cli_module_json(struct cli *cli);

/*
 * Returns one slot: {"id", "backend" (NULL for a slot of another module),
 * "description", "manufacturer", "token_present", "token", "mechanism_count"}.
 * "token" is NULL without a token, else {"label", "serial", "model",
 * "manufacturer", "initialized", "login_required", "user_pin_initialized",
 * "login_state", "min_pin_length", "max_pin_length", "flags"}, with
 * "login_state" one of "public", "user", "so", or NULL when no session can be
 * opened, and "flags" the spec names of the token flags that are set.
 * Returns NULL after printing a message. The caller owns the reference.
 */
json_t *cli_slot_json(struct cli *cli, CK_SLOT_ID slot);

/*
 * Returns {"module", "backends": [{"name", "slots": [ids]}], "slots": [...]}
 * for every slot, or NULL after printing a message.
 */
json_t *cli_status_json(struct cli *cli);

/* Prints root as indented JSON and a newline to stdout. Returns 0, or 1. */
int cli_print_json(json_t *root);

/*
 * The text form of a token's flags, such as "initialized, login required,
 * user PIN set", from the "flags" array of a token object, into buf.
 */
void cli_token_flags_text(json_t *token, char *buf, size_t len);

#endif /* HSMUX_CLI_INFO_H */
