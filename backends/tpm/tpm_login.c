/*
 * C_InitToken, C_Login, C_InitPIN and C_SetPIN over TPM authorization
 * values, as tpm_token.h describes. Each PIN is the auth value of a sealed
 * object that contains the token secret. The SO PIN is also the TPM's
 * lockout authorization, so all guessing meets the TPM's dictionary-attack
 * protection.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <tss2/tss2_rc.h>

#include "backends/tpm/tpm_token.h"

static CK_RV check_pin_len(CK_ULONG len)
{
	return (len < TPM_PIN_MIN || len > TPM_PIN_MAX) ? CKR_PIN_LEN_RANGE : CKR_OK;
}

/* The auth error of a PIN check, kept apart from plain device errors. */
static CK_RV pin_rv(TSS2_RC rc)
{
	switch (tpm_rc_base(rc)) {
	case TPM2_RC_AUTH_FAIL:
	case TPM2_RC_BAD_AUTH:
		return CKR_PIN_INCORRECT;
	case TPM2_RC_LOCKOUT:
		return CKR_PIN_LOCKED;
	default:
		return tpm_rc_to_ckr(rc);
	}
}

/* Creates a sealed object under the primary key that contains tok->secret behind auth. */
static CK_RV create_seal(struct tpm_token *tok, const TPM2B_AUTH *auth, TPM2B_PUBLIC *pub,
                         TPM2B_PRIVATE *priv)
{
	TPM2B_SENSITIVE_CREATE sensitive = {0};
	TPM2B_PUBLIC tmpl = {
	    .publicArea =
	        {
	            .type = TPM2_ALG_KEYEDHASH,
	            .nameAlg = TPM2_ALG_SHA256,
	            /* No noDA: wrong PINs count towards the dictionary-attack lockout. */
	            .objectAttributes =
	                TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH,
	            .parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL,
	        },
	};
	TPM2B_PRIVATE *out_priv = NULL;
	TPM2B_PUBLIC *out_pub = NULL;
	TSS2_RC rc;

	sensitive.sensitive.userAuth = *auth;
	memcpy(sensitive.sensitive.data.buffer, tok->secret, TPM_SECRET_LEN);
	sensitive.sensitive.data.size = TPM_SECRET_LEN;
	rc = tpm_create_locked(tok, &sensitive, &tmpl, &out_priv, &out_pub);
	OPENSSL_cleanse(&sensitive, sizeof(sensitive));
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_to_ckr(rc);
	*pub = *out_pub;
	*priv = *out_priv;
	Esys_Free(out_pub);
	Esys_Free(out_priv);
	return CKR_OK;
}

static CK_RV load_seal(struct tpm_token *tok, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv,
                       const TPM2B_AUTH *auth, ESYS_TR *handle)
{
	TSS2_RC rc;

	for (;;) {
		rc = Esys_Load(tok->dev.esys, tok->dev.primary, tok->dev.session, ESYS_TR_NONE,
		               ESYS_TR_NONE, priv, pub, handle);
		if (tpm_rc_base(rc) != TPM2_RC_OBJECT_MEMORY || !tpm_object_evict_one_locked(tok))
			break;
	}
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_to_ckr(rc);
	Esys_TR_SetAuth(tok->dev.esys, *handle, auth);
	return CKR_OK;
}

/* Unseals the token secret into tok->secret. A wrong PIN is a DA failure in the TPM. */
static CK_RV unseal(struct tpm_token *tok, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv,
                    const TPM2B_AUTH *auth)
{
	TPM2B_SENSITIVE_DATA *data = NULL;
	ESYS_TR handle;
	TSS2_RC rc;
	CK_RV rv;

	rv = load_seal(tok, pub, priv, auth, &handle);
	if (rv != CKR_OK)
		return rv;
	rc =
	    Esys_Unseal(tok->dev.esys, handle, tok->dev.session, ESYS_TR_NONE, ESYS_TR_NONE, &data);
	Esys_FlushContext(tok->dev.esys, handle);
	if (rc != TSS2_RC_SUCCESS)
		return pin_rv(rc);
	if (data->size != TPM_SECRET_LEN) {
		rv = CKR_DEVICE_ERROR;
	} else {
		memcpy(tok->secret, data->buffer, TPM_SECRET_LEN);
		rv = CKR_OK;
	}
	OPENSSL_cleanse(data, sizeof(*data));
	Esys_Free(data);
	return rv;
}

/* Changes the auth value of a sealed object; *priv gets the re-wrapped blob. */
static CK_RV change_seal_auth(struct tpm_token *tok, const TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv,
                              const TPM2B_AUTH *old_auth, const TPM2B_AUTH *new_auth)
{
	TPM2B_PRIVATE *out = NULL;
	ESYS_TR handle;
	TSS2_RC rc;
	CK_RV rv;

	rv = load_seal(tok, pub, priv, old_auth, &handle);
	if (rv != CKR_OK)
		return rv;
	rc = Esys_ObjectChangeAuth(tok->dev.esys, handle, tok->dev.primary, tok->dev.session,
	                           ESYS_TR_NONE, ESYS_TR_NONE, new_auth, &out);
	Esys_FlushContext(tok->dev.esys, handle);
	if (rc != TSS2_RC_SUCCESS)
		return pin_rv(rc);
	*priv = *out;
	Esys_Free(out);
	return CKR_OK;
}

static CK_RV lockout_auth_is_set(struct tpm_token *tok, bool *set)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TSS2_RC rc;

	rc = Esys_GetCapability(tok->dev.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	                        TPM2_CAP_TPM_PROPERTIES, TPM2_PT_PERMANENT, 1, NULL, &cap);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_to_ckr(rc);
	*set = cap->data.tpmProperties.count == 1 &&
	       cap->data.tpmProperties.tpmProperty[0].property == TPM2_PT_PERMANENT &&
	       (cap->data.tpmProperties.tpmProperty[0].value & TPMA_PERMANENT_LOCKOUTAUTHSET);
	Esys_Free(cap);
	return CKR_OK;
}

/*
 * Checks the SO PIN as the TPM's lockout authorization. Success also runs
 * TPM2_DictionaryAttackLockReset, which is how the SO clears a lockout.
 */
static CK_RV verify_so(struct tpm_token *tok, const TPM2B_AUTH *so_auth)
{
	TSS2_RC rc;

	Esys_TR_SetAuth(tok->dev.esys, ESYS_TR_RH_LOCKOUT, so_auth);
	rc = Esys_DictionaryAttackLockReset(tok->dev.esys, ESYS_TR_RH_LOCKOUT, tok->dev.session,
	                                    ESYS_TR_NONE, ESYS_TR_NONE);
	return rc == TSS2_RC_SUCCESS ? CKR_OK : pin_rv(rc);
}

/* Makes so_auth the lockout authorization of a TPM that has none yet, or checks it. */
static CK_RV take_lockout(struct tpm_token *tok, const TPM2B_AUTH *so_auth)
{
	TPM2B_AUTH empty = {0};
	bool set = false;
	TSS2_RC rc;
	CK_RV rv;

	if (tok->initialized)
		return verify_so(tok, so_auth);
	rv = lockout_auth_is_set(tok, &set);
	if (rv != CKR_OK)
		return rv;
	if (set)
		return verify_so(tok, so_auth);

	Esys_TR_SetAuth(tok->dev.esys, ESYS_TR_RH_LOCKOUT, &empty);
	rc = Esys_HierarchyChangeAuth(tok->dev.esys, ESYS_TR_RH_LOCKOUT, tok->dev.session,
	                              ESYS_TR_NONE, ESYS_TR_NONE, so_auth);
	if (rc != TSS2_RC_SUCCESS)
		return pin_rv(rc);
	Esys_TR_SetAuth(tok->dev.esys, ESYS_TR_RH_LOCKOUT, so_auth);
	return CKR_OK;
}

static CK_RV get_random(struct tpm_token *tok, uint8_t *out, size_t len)
{
	TPM2B_DIGEST *r = NULL;
	TSS2_RC rc;

	rc = Esys_GetRandom(tok->dev.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, (UINT16)len,
	                    &r);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_to_ckr(rc);
	if (r->size != len) {
		Esys_Free(r);
		return CKR_DEVICE_ERROR;
	}
	memcpy(out, r->buffer, len);
	OPENSSL_cleanse(r, sizeof(*r));
	Esys_Free(r);
	return CKR_OK;
}

CK_RV tpm_login_init_token_locked(struct tpm_token *tok, const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                                  const CK_UTF8CHAR *label)
{
	TPM2B_AUTH so_auth;
	TSS2_RC rc;
	CK_RV rv;

	rv = check_pin_len(pin_len);
	if (rv != CKR_OK)
		return rv;
	tpm_pin_to_auth(pin, pin_len, &so_auth);
	rv = take_lockout(tok, &so_auth);
	if (rv != CKR_OK)
		goto out;

	rc = Esys_DictionaryAttackParameters(tok->dev.esys, ESYS_TR_RH_LOCKOUT, tok->dev.session,
	                                     ESYS_TR_NONE, ESYS_TR_NONE, tok->da_max_tries,
	                                     tok->da_recovery_time, tok->da_lockout_recovery);
	if (rc != TSS2_RC_SUCCESS) {
		rv = tpm_rc_to_ckr(rc);
		goto out;
	}

	tpm_logout_locked(tok);
	rv = get_random(tok, tok->secret, TPM_SECRET_LEN);
	if (rv == CKR_OK)
		rv = get_random(tok, tok->serial, TPM_SERIAL_LEN);
	if (rv == CKR_OK)
		rv = create_seal(tok, &so_auth, &tok->so_public, &tok->so_private);
	if (rv != CKR_OK)
		goto out;
	memcpy(tok->label, label, sizeof(tok->label));
	tok->user_private.size = 0;
	tok->so_private_next.size = 0;

	/* The new serial makes old key files stale before they are removed. */
	rv = tpm_store_save_token_locked(tok);
	if (rv == CKR_OK) {
		tok->initialized = true;
		rv = tpm_store_clear_locked(tok);
	}
out:
	OPENSSL_cleanse(tok->secret, sizeof(tok->secret));
	OPENSSL_cleanse(&so_auth, sizeof(so_auth));
	return rv;
}

/* Makes a pending re-sealed SO object the current one. */
static CK_RV finish_so_change_locked(struct tpm_token *tok)
{
	tok->so_private = tok->so_private_next;
	tok->so_private_next.size = 0;
	return tpm_store_save_token_locked(tok);
}

/*
 * Unseals with the SO PIN. While an SO PIN change is pending, the PIN fits
 * one of the two sealed objects; the one that fits becomes the current one.
 */
static CK_RV unseal_so(struct tpm_token *tok, const TPM2B_AUTH *auth)
{
	CK_RV rv = unseal(tok, &tok->so_public, &tok->so_private, auth);

	if (tok->so_private_next.size == 0)
		return rv;
	if (rv == CKR_OK) {
		tok->so_private_next.size = 0;
		return tpm_store_save_token_locked(tok);
	}
	rv = unseal(tok, &tok->so_public, &tok->so_private_next, auth);
	return rv == CKR_OK ? finish_so_change_locked(tok) : rv;
}

CK_RV tpm_login_locked(struct tpm_token *tok, CK_USER_TYPE user, const CK_UTF8CHAR *pin,
                       CK_ULONG pin_len)
{
	TPM2B_AUTH auth;
	CK_RV rv;

	if (user != CKU_USER && user != CKU_SO)
		return user == CKU_CONTEXT_SPECIFIC ? CKR_OPERATION_NOT_INITIALIZED
		                                    : CKR_USER_TYPE_INVALID;
	if (tok->login == user)
		return CKR_USER_ALREADY_LOGGED_IN;
	if (tok->login != TPM_NO_LOGIN)
		return CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
	if (!tok->initialized)
		return CKR_USER_PIN_NOT_INITIALIZED;
	if (user == CKU_USER && tok->user_private.size == 0)
		return CKR_USER_PIN_NOT_INITIALIZED;
	if (pin_len > TPM_PIN_MAX)
		return CKR_PIN_INCORRECT;

	tpm_pin_to_auth(pin, pin_len, &auth);
	if (user == CKU_SO) {
		rv = verify_so(tok, &auth);
		if (rv == CKR_OK)
			rv = unseal_so(tok, &auth);
	} else {
		rv = unseal(tok, &tok->user_public, &tok->user_private, &auth);
	}
	OPENSSL_cleanse(&auth, sizeof(auth));
	if (rv == CKR_OK)
		tok->login = user;
	return rv;
}

void tpm_logout_locked(struct tpm_token *tok)
{
	tpm_object_flush_all_locked(tok);
	OPENSSL_cleanse(tok->secret, sizeof(tok->secret));
	tok->login = TPM_NO_LOGIN;
}

CK_RV tpm_login_init_pin_locked(struct tpm_token *tok, const CK_UTF8CHAR *pin, CK_ULONG pin_len)
{
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
	TPM2B_AUTH auth;
	CK_RV rv;

	if (tok->login != CKU_SO)
		return CKR_USER_NOT_LOGGED_IN;
	rv = check_pin_len(pin_len);
	if (rv != CKR_OK)
		return rv;
	tpm_pin_to_auth(pin, pin_len, &auth);
	rv = create_seal(tok, &auth, &pub, &priv);
	OPENSSL_cleanse(&auth, sizeof(auth));
	if (rv != CKR_OK)
		return rv;
	tok->user_public = pub;
	tok->user_private = priv;
	return tpm_store_save_token_locked(tok);
}

/*
 * Changes the SO PIN in two places, the lockout authorization and the
 * sealed SO object, which no single write covers. So the re-sealed object
 * is saved first as so_private_next beside the current one, then the
 * lockout authorization changes, then the next object replaces the
 * current one. After a crash in between, an SO login tries both objects
 * (see tpm_login_locked) and finishes the change.
 */
static CK_RV set_so_pin(struct tpm_token *tok, const TPM2B_AUTH *old_auth,
                        const TPM2B_AUTH *new_auth)
{
	TPM2B_PRIVATE next = tok->so_private;
	TSS2_RC rc;
	CK_RV rv;

	rv = verify_so(tok, old_auth);
	if (rv == CKR_OK)
		rv = change_seal_auth(tok, &tok->so_public, &next, old_auth, new_auth);
	if (rv != CKR_OK)
		return rv;
	tok->so_private_next = next;
	rv = tpm_store_save_token_locked(tok);
	if (rv != CKR_OK)
		return rv;

	rc = Esys_HierarchyChangeAuth(tok->dev.esys, ESYS_TR_RH_LOCKOUT, tok->dev.session,
	                              ESYS_TR_NONE, ESYS_TR_NONE, new_auth);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_to_ckr(rc);
	Esys_TR_SetAuth(tok->dev.esys, ESYS_TR_RH_LOCKOUT, new_auth);
	return finish_so_change_locked(tok);
}

CK_RV tpm_login_set_pin_locked(struct tpm_token *tok, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
                               const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
	TPM2B_AUTH old_auth, new_auth;
	TPM2B_PRIVATE priv;
	CK_RV rv;

	rv = check_pin_len(new_len);
	if (rv != CKR_OK)
		return rv;
	if (old_len > TPM_PIN_MAX)
		return CKR_PIN_INCORRECT;
	if (tok->login != CKU_SO && tok->user_private.size == 0)
		return CKR_USER_PIN_NOT_INITIALIZED;

	tpm_pin_to_auth(old_pin, old_len, &old_auth);
	tpm_pin_to_auth(new_pin, new_len, &new_auth);
	if (tok->login == CKU_SO) {
		rv = set_so_pin(tok, &old_auth, &new_auth);
	} else {
		priv = tok->user_private;
		rv = change_seal_auth(tok, &tok->user_public, &priv, &old_auth, &new_auth);
		if (rv == CKR_OK) {
			tok->user_private = priv;
			rv = tpm_store_save_token_locked(tok);
		}
	}
	OPENSSL_cleanse(&old_auth, sizeof(old_auth));
	OPENSSL_cleanse(&new_auth, sizeof(new_auth));
	return rv;
}
