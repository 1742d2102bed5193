/*
 * The start-up that the tpm backend's unit tests share: a backend made
 * from a config section, a read-write session, and a token set up with
 * its SO and user PINs. Failures stop the running CUnit test.
 */
#ifndef HSMUX_TPM_UNIT_H
#define HSMUX_TPM_UNIT_H

#include <stdbool.h>

#include "backends/backend.h"
#include "module/config.h"

/* A config section for a tpm backend on a libtpms TPM whose state is in dir. */
struct tpm_unit_config {
	char dir[64];
	char tcti[96];
	char da_max_tries[16];
	struct hsmux_config_entry entries[4];
	struct hsmux_config_section section;
};

/*
 * Makes a new directory /tmp/PREFIX-XXXXXX and the section for it, as from
 * lines 1 to 5 of "test.conf". Returns false if the directory cannot be made.
 */
bool tpm_unit_config_init(struct tpm_unit_config *c, const char *prefix,
                          unsigned int da_max_tries);

/* Makes the tpm backend be from section. */
void tpm_unit_start(struct hsmux_backend *be, const struct hsmux_config_section *section);

/* Opens a read-write session on the token. */
CK_SESSION_HANDLE tpm_unit_open_rw(struct hsmux_backend *be);

/* Initializes the token as label, then sets the user PIN in an SO session. */
void tpm_unit_init_token(struct hsmux_backend *be, const char *label, const char *so_pin,
                         const char *user_pin);

#endif /* HSMUX_TPM_UNIT_H */
