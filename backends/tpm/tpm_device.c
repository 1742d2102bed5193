/* TCTI selection, ESYS start-up and the primary storage key. */
#include "backends/tpm/tpm_device.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "backends/tpm/tcti_libtpms.h"

static CK_RV open_tcti(struct tpm_device *dev, const char *conf, char *err, size_t err_len)
{
	TSS2_RC rc;

	if (strncmp(conf, "libtpms:", 8) == 0) {
		const char *dir = conf + 8;

		if (dir[0] != '/') {
			snprintf(err, err_len,
			         "tcti '%s' needs an absolute directory, as in libtpms:/var/lib/"
			         "hsmux/tpm",
			         conf);
			return CKR_GENERAL_ERROR;
		}
		dev->kind = TPM_TCTI_LIBTPMS;
		snprintf(dev->state_dir, sizeof(dev->state_dir), "%s", dir);
		rc = tcti_libtpms_new(dir, &dev->tcti, err, err_len);
		return rc == TSS2_RC_SUCCESS ? CKR_OK : CKR_GENERAL_ERROR;
	}

	if (strncmp(conf, "device:", 7) == 0)
		dev->kind = TPM_TCTI_DEVICE;
	else if (strncmp(conf, "swtpm:", 6) == 0)
		dev->kind = TPM_TCTI_SWTPM;
	else {
		snprintf(err, err_len,
		         "tcti '%s' is not supported; use libtpms:/DIR, device:/dev/tpmrm0 or "
		         "swtpm:host=127.0.0.1,port=2321",
		         conf);
		return CKR_GENERAL_ERROR;
	}
	rc = Tss2_TctiLdr_Initialize(conf, &dev->tcti);
	if (rc != TSS2_RC_SUCCESS) {
		snprintf(err, err_len, "cannot open the TPM at tcti '%s': %s", conf,
		         Tss2_RC_Decode(rc));
		return CKR_DEVICE_ERROR;
	}
	return CKR_OK;
}

/*
 * An ECC P-256 storage key in the owner hierarchy. The template has no
 * unique data, so the TPM derives the same key from its owner seed on every
 * start, and the blobs wrapped under it stay loadable.
 */
static CK_RV create_primary(struct tpm_device *dev, char *err, size_t err_len)
{
	TPM2B_SENSITIVE_CREATE sensitive = {0};
	TPM2B_PUBLIC in_public = {
	    .publicArea =
	        {
	            .type = TPM2_ALG_ECC,
	            .nameAlg = TPM2_ALG_SHA256,
	            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	                                TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
	                                TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED |
	                                TPMA_OBJECT_DECRYPT,
	            .parameters.eccDetail =
	                {
	                    .symmetric =
	                        {
	                            .algorithm = TPM2_ALG_AES,
	                            .keyBits.aes = 128,
	                            .mode.aes = TPM2_ALG_CFB,
	                        },
	                    .scheme.scheme = TPM2_ALG_NULL,
	                    .curveID = TPM2_ECC_NIST_P256,
	                    .kdf.scheme = TPM2_ALG_NULL,
	                },
	        },
	};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION pcrs = {0};
	TSS2_RC rc;

	rc = Esys_CreatePrimary(dev->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	                        ESYS_TR_NONE, &sensitive, &in_public, &outside, &pcrs,
	                        &dev->primary, NULL, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		snprintf(err, err_len,
		         "the TPM refused to create the primary storage key: %s; if the owner "
		         "hierarchy has a password, clear it or use another TPM",
		         Tss2_RC_Decode(rc));
		dev->primary = ESYS_TR_NONE;
		return CKR_DEVICE_ERROR;
	}
	return CKR_OK;
}

/*
 * Starts an HMAC session salted with the primary key (ECDH), with AES-128
 * CFB parameter encryption in both directions, kept for the whole run.
 */
static CK_RV start_session(struct tpm_device *dev, char *err, size_t err_len)
{
	TPMT_SYM_DEF symmetric = {
	    .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB};
	TSS2_RC rc;

	rc = Esys_StartAuthSession(dev->esys, dev->primary, ESYS_TR_NONE, ESYS_TR_NONE,
	                           ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_HMAC, &symmetric,
	                           TPM2_ALG_SHA256, &dev->session);
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_TRSess_SetAttributes(dev->esys, dev->session,
		                               TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_DECRYPT |
		                                   TPMA_SESSION_ENCRYPT,
		                               0xff);
	if (rc != TSS2_RC_SUCCESS) {
		snprintf(err, err_len, "the TPM refused an encrypted session: %s",
		         Tss2_RC_Decode(rc));
		return CKR_DEVICE_ERROR;
	}
	return CKR_OK;
}

CK_RV tpm_device_open(struct tpm_device *dev, const char *tcti_conf, char *err, size_t err_len)
{
	TSS2_RC rc;
	CK_RV rv;

	memset(dev, 0, sizeof(*dev));
	dev->primary = ESYS_TR_NONE;
	dev->session = ESYS_TR_PASSWORD;
	rv = open_tcti(dev, tcti_conf, err, err_len);
	if (rv != CKR_OK)
		return rv;

	rc = Esys_Initialize(&dev->esys, dev->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		snprintf(err, err_len, "cannot start ESYS on tcti '%s': %s", tcti_conf,
		         Tss2_RC_Decode(rc));
		rv = CKR_DEVICE_ERROR;
		goto out;
	}

	/* A kernel or swtpm started with startup-clear returns TPM2_RC_INITIALIZE. */
	rc = Esys_Startup(dev->esys, TPM2_SU_CLEAR);
	if (rc != TSS2_RC_SUCCESS && tpm_rc_base(rc) != TPM2_RC_INITIALIZE) {
		snprintf(err, err_len, "TPM2_Startup failed on tcti '%s': %s", tcti_conf,
		         Tss2_RC_Decode(rc));
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	rv = create_primary(dev, err, err_len);
	/* In-process, nothing lies between hsmux and the TPM to protect against. */
	if (rv == CKR_OK && dev->kind != TPM_TCTI_LIBTPMS)
		rv = start_session(dev, err, err_len);
out:
	if (rv != CKR_OK)
		tpm_device_close(dev);
	return rv;
}

void tpm_device_close(struct tpm_device *dev)
{
	if (dev->esys) {
		if (dev->session != ESYS_TR_PASSWORD)
			Esys_FlushContext(dev->esys, dev->session);
		if (dev->primary != ESYS_TR_NONE)
			Esys_FlushContext(dev->esys, dev->primary);
		/* Only a TPM we run ourselves is shut down; others serve other processes too. */
		if (dev->kind == TPM_TCTI_LIBTPMS)
			Esys_Shutdown(dev->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
			              TPM2_SU_CLEAR);
		Esys_Finalize(&dev->esys);
	}
	if (dev->tcti) {
		if (dev->kind == TPM_TCTI_LIBTPMS)
			tcti_libtpms_free(dev->tcti);
		else
			Tss2_TctiLdr_Finalize(&dev->tcti);
	}
	dev->tcti = NULL;
	dev->esys = NULL;
	dev->primary = ESYS_TR_NONE;
	dev->session = ESYS_TR_PASSWORD;
}

void tpm_device_forget(struct tpm_device *dev)
{
	if (dev->kind == TPM_TCTI_LIBTPMS && dev->tcti)
		tcti_libtpms_forget(dev->tcti);
	dev->tcti = NULL;
	dev->esys = NULL;
	dev->primary = ESYS_TR_NONE;
	dev->session = ESYS_TR_PASSWORD;
}

TSS2_RC tpm_rc_base(TSS2_RC rc)
{
	if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER)
		return rc;
	/* Format-one codes carry the handle, session or parameter number in bits 6-11. */
	if (rc & TPM2_RC_FMT1)
		return rc & (TPM2_RC_FMT1 | 0x3f);
	return rc;
}

CK_RV tpm_rc_to_ckr(TSS2_RC rc)
{
	switch (tpm_rc_base(rc)) {
	case TSS2_RC_SUCCESS:
		return CKR_OK;
	case TPM2_RC_AUTH_FAIL:
	case TPM2_RC_BAD_AUTH:
		return CKR_PIN_INCORRECT;
	case TPM2_RC_LOCKOUT:
		return CKR_PIN_LOCKED;
	case TPM2_RC_OBJECT_MEMORY:
	case TPM2_RC_SESSION_MEMORY:
	case TPM2_RC_MEMORY:
	case TPM2_RC_NV_SPACE:
		return CKR_DEVICE_MEMORY;
	case TPM2_RC_SIZE:
		return CKR_DATA_LEN_RANGE;
	case TPM2_RC_VALUE:
		return CKR_DATA_INVALID;
	case TPM2_RC_KEY_SIZE:
	case TPM2_RC_CURVE:
		return CKR_KEY_SIZE_RANGE;
	default:
		return CKR_DEVICE_ERROR;
	}
}

void tpm_pin_to_auth(const CK_UTF8CHAR *pin, CK_ULONG pin_len, TPM2B_AUTH *auth)
{
	memset(auth, 0, sizeof(*auth));
	if (pin_len <= SHA256_DIGEST_LENGTH) {
		memcpy(auth->buffer, pin, pin_len);
		auth->size = (UINT16)pin_len;
		return;
	}
	SHA256(pin, pin_len, auth->buffer);
	auth->size = SHA256_DIGEST_LENGTH;
}
