/* The `hsmux token` actions, kept apart from the option parsing in cmd_token.c. */
#ifndef HSMUX_CMD_TOKEN_H
#define HSMUX_CMD_TOKEN_H

#include "cli.h"

struct token_init_args {
	const char *backend; /* NULL: the module's only backend */
	const char *label;
	const char *so_pin_file; /* NULL: HSMUX_SO_PIN, else a prompt */
	const char *pin_file;    /* NULL: HSMUX_PIN, else a prompt */
	const char *token;       /* check-pin: label or PKCS#11 URI */
	bool so;                 /* check-pin: the SO PIN instead of the user PIN */
};

/*
 * Initializes the first uninitialized token of the backend with the label
 * and SO PIN, then sets the user PIN. Returns an exit status after printing
 * what was done or what failed.
 */
int token_init(struct cli *cli, const struct token_init_args *args);

#endif /* HSMUX_CMD_TOKEN_H */
