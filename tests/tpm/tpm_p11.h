/*
 * What the tpm tests that go through libhsmux.so share: loading the
 * module, a config with one tpm backend on libtpms, a token, and writing
 * exported public keys as PEM files for the openssl command line.
 */
#ifndef HSMUX_TPM_P11_H
#define HSMUX_TPM_P11_H

#include <stdbool.h>

#include "hsmux/pkcs11.h"

extern CK_FUNCTION_LIST_PTR p11;

#define TPM_P11_SO_PIN   "so-pin-1"
#define TPM_P11_USER_PIN "user-pin-1"

/* dlopens the module and fills p11. Returns false with a message on stderr. */
bool tpm_p11_load(const char *module);

/*
 * Writes DIR/hsmux.conf with [backend:tpm] type = tpm, tcti = libtpms:DIR/tpm
 * plus extra lines (may be NULL), and points HSMUX_CONF at it. With
 * HSMUX_TEST_TPM_TCTI set, that is the tcti and the store is DIR/store.
 */
bool tpm_p11_config(const char *dir, const char *extra);

/* The slot of the tpm backend (the only one). */
bool tpm_p11_slot(CK_SLOT_ID *slot);

/* Initializes the token with label, and the user PIN, when it is not initialized yet. */
bool tpm_p11_token(CK_SLOT_ID slot, const char *label);

/* Opens an RW session and logs the user in. Returns CK_INVALID_HANDLE on failure. */
CK_SESSION_HANDLE tpm_p11_login(CK_SLOT_ID slot);

/* Generates a token key pair: RSA with bits, or EC on P-256 (bits 256) or P-384 (bits 384). */
CK_RV tpm_p11_keygen(CK_SESSION_HANDLE s, bool rsa, CK_ULONG bits, const char *label,
                     const char *id, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv);

/* Finds objects of class with label; returns how many, the first in *h. */
CK_ULONG tpm_p11_find(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label,
                      CK_OBJECT_HANDLE *h);

/* Writes the public key object h as a PEM SubjectPublicKeyInfo to path. */
bool tpm_p11_write_pem(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const char *path);

/* Writes len bytes to path. */
bool tpm_p11_write_file(const char *path, const void *data, size_t len);

/* Runs a shell command; true when it exits 0. The command is printed on failure. */
bool tpm_p11_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a shell command; true when it exits non-zero, as a negative check expects. */
bool tpm_p11_fails(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* HSMUX_TPM_P11_H */
