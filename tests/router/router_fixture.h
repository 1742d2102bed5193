/* What the router tests share: the module under test and a scratch config. */
#ifndef ROUTER_FIXTURE_H
#define ROUTER_FIXTURE_H

#include <stdbool.h>

#include "hsmux/pkcs11.h"

extern const char *fixture_module_path;
extern const char *fixture_softhsm_path;
extern CK_FUNCTION_LIST_PTR fl;
extern char fixture_dir[];

/* dlopens the module once and keeps its function list in fl. */
bool fixture_load(void);

/* Writes text to HSMUX_CONF in a fresh scratch dir; "%s" in text is the scratch dir. */
void fixture_config(const char *text);

/* C_Initialize, with the spec's init args. */
CK_RV fixture_init(void);

/* The first slot whose description starts with prefix; false when none. */
bool fixture_slot(const char *prefix, bool want_token, CK_SLOT_ID *slot);

/* Inits a token labelled label on the backend's free slot, with SO PIN 1234 and user PIN 1111. */
bool fixture_token(const char *backend, const char *label, CK_SLOT_ID *slot);

/* Opens an RW session on slot and logs in as the user. */
CK_SESSION_HANDLE fixture_login(CK_SLOT_ID slot);

/* An EC P-256 key pair as session objects; true on success. */
bool fixture_ec_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv);

void fixture_register_sessions(void);

#endif
