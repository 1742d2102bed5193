/*
 * The TPM behind one backend: its TCTI (in-process libtpms, a device node,
 * or swtpm), the ESYS context, and the primary storage key that wraps every
 * key of the token.
 */
#ifndef HSMUX_TPM_DEVICE_H
#define HSMUX_TPM_DEVICE_H

#include <limits.h>
#include <stddef.h>

#include <tss2/tss2_esys.h>

#include "hsmux/pkcs11.h"

enum tpm_tcti_kind {
	TPM_TCTI_LIBTPMS,
	TPM_TCTI_DEVICE,
	TPM_TCTI_SWTPM,
};

struct tpm_device {
	enum tpm_tcti_kind kind;
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR primary; /* the storage key, ESYS_TR_NONE until created */
	/*
	 * The session that authorizes commands: ESYS_TR_PASSWORD for the
	 * in-process TPM, else a salted HMAC session with parameter encryption,
	 * so that PINs and key secrets never cross the socket or the bus in
	 * plaintext.
	 */
	ESYS_TR session;
	char state_dir[PATH_MAX]; /* the libtpms NV directory; empty for other kinds */
};

/*
 * Opens the TPM named by a tcti config value ("libtpms:/DIR",
 * "device:/dev/tpmrm0" or "swtpm:host=127.0.0.1,port=2321"), starts it when
 * it is in-process, and creates the primary storage key. On failure it
 * writes a one-line reason to err and returns CKR_GENERAL_ERROR (or
 * CKR_DEVICE_ERROR when the TPM itself failed).
 */
CK_RV tpm_device_open(struct tpm_device *dev, const char *tcti_conf, char *err, size_t err_len);

/*
 * Flushes the primary key, sends TPM2_Shutdown to an in-process TPM (so the
 * next start is orderly and does not count towards dictionary-attack
 * lockout), and frees everything.
 */
void tpm_device_close(struct tpm_device *dev);

/* In a child after fork(): drops the parent's contexts without sending anything. */
void tpm_device_forget(struct tpm_device *dev);

/* The PKCS#11 return value for a TPM or TSS response code. */
CK_RV tpm_rc_to_ckr(TSS2_RC rc);

/* The response code without the session/handle/parameter index bits. */
TSS2_RC tpm_rc_base(TSS2_RC rc);

/*
 * Copies a PIN into a TPM auth value: the PIN itself when it fits the
 * SHA-256 digest size (32 bytes), else its SHA-256 digest.
 */
void tpm_pin_to_auth(const CK_UTF8CHAR *pin, CK_ULONG pin_len, TPM2B_AUTH *auth);

#endif /* HSMUX_TPM_DEVICE_H */
