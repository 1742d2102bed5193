/*
 * The start-up that the tpm backend's unit tests share: a backend made
 * from a config section, a read-write session, and a token set up with
 * its SO and user PINs. Failures stop the running CUnit test.
 */
#ifndef HSMUX_TPM_UNIT_H
#define HSMUX_TPM_UNIT_H

#include "backends/backend.h"
#include "module/config.h"

/* Makes the tpm backend be from section. */
void tpm_unit_start(struct hsmux_backend *be, const struct hsmux_config_section *section);

/* Opens a read-write session on the token. */
CK_SESSION_HANDLE tpm_unit_open_rw(struct hsmux_backend *be);

/* Initializes the token as label, then sets the user PIN in an SO session. */
void tpm_unit_init_token(struct hsmux_backend *be, const char *label, const char *so_pin,
                         const char *user_pin);

#endif /* HSMUX_TPM_UNIT_H */
