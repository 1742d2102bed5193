/* sd upload: the security-domain key arrives wrapped to the token's exchange key. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hsmux/admin.h"
#include "module/admin/admin.h"
#include "module/trace.h"

/* The upload file is a few kilobytes; anything far larger is not one. */
#define UPLOAD_MAX (1u << 20)

/* Finds the exchange private key and checks that the file was made for its public key. */
static CK_RV exchange_key(struct sd_tok *t, const struct sd_upload *up, CK_OBJECT_HANDLE *priv,
                          char *err, size_t err_len)
{
	CK_OBJECT_HANDLE pub;
	EVP_PKEY *key = NULL;
	char fp[SD_KEY_FP_LEN];
	int found_pub = 0, found_priv = 0;
	CK_RV rv;

	rv =
	    sd_tok_find(t, CKO_PUBLIC_KEY, HSMUX_SD_EXCHANGE_LABEL, &pub, &found_pub, err, err_len);
	if (rv == CKR_OK)
		rv = sd_tok_find(t, CKO_PRIVATE_KEY, HSMUX_SD_EXCHANGE_LABEL, priv, &found_priv,
		                 err, err_len);
	if (rv != CKR_OK)
		return rv;
	if (!found_pub || !found_priv)
		return sd_fail(CKR_KEY_NEEDED, err, err_len,
		               "token '%s' has no exchange key; "
		               "make one with `hsmux sd init-recovery`",
		               t->id.label);
	rv = sd_tok_public_key(t, pub, &key);
	if (rv == CKR_OK && !sd_key_fingerprint(key, fp))
		rv = CKR_GENERAL_ERROR;
	EVP_PKEY_free(key);
	if (rv == CKR_OK && strcmp(fp, up->exchange_fingerprint) != 0)
		rv = sd_fail(CKR_DATA_INVALID, err, err_len,
		             "the upload file was made for "
		             "exchange key %s, but token '%s' has %s; run `hsmux sd recover` "
		             "again with this token's exchange key",
		             up->exchange_fingerprint, t->id.label, fp);
	return rv;
}

/* Checks an unwrapped key against the fingerprint and the MAC of the upload file. */
static CK_RV verify_key(struct sd_tok *t, CK_OBJECT_HANDLE key, const struct sd_upload *up,
                        char *err, size_t err_len)
{
	unsigned char mac[SD_MAC_LEN];
	char fp[SD_FP_HEX_LEN];
	CK_RV rv = sd_tok_fingerprint(t, key, fp);

	if (rv == CKR_OK)
		rv = sd_tok_prf(t, key, SD_LABEL_UPLOAD_MAC, (unsigned char *)up->mac_body,
		                up->mac_body_len, mac);
	if (rv != CKR_OK)
		return sd_fail(rv, err, err_len,
		               "token '%s' cannot compute HMAC-SHA256 with the "
		               "unwrapped key (%s)",
		               t->id.label, hsmux_rv_name(rv));
	if (CRYPTO_memcmp(fp, up->sd_fingerprint, 64) != 0 ||
	    CRYPTO_memcmp(mac, up->mac, SD_MAC_LEN) != 0)
		return sd_fail(CKR_DATA_INVALID, err, err_len,
		               "the upload file fails its "
		               "integrity check: it was changed after `hsmux sd recover` wrote it");
	return CKR_OK;
}

/* Unwraps into a session object, verifies it, then stores a copy as the token's key. */
static CK_RV upload_key(struct sd_tok *t, const struct sd_upload *up, char *err, size_t err_len)
{
	CK_OBJECT_HANDLE priv, trial = CK_INVALID_HANDLE, key = CK_INVALID_HANDLE;
	CK_RV rv = exchange_key(t, up, &priv, err, err_len);

	if (rv != CKR_OK)
		return rv;
	rv = sd_tok_unwrap_key(t, priv, up->wrapped_key, up->wrapped_key_len, &trial);
	if (rv != CKR_OK)
		return sd_fail(CKR_DATA_INVALID, err, err_len,
		               "the exchange key of token '%s' "
		               "cannot unwrap the key in the upload file (%s): the file was "
		               "changed or made for another key",
		               t->id.label, hsmux_rv_name(rv));
	rv = verify_key(t, trial, up, err, err_len);
	if (rv == CKR_OK && (rv = sd_tok_store_copy(t, trial, &key)) != CKR_OK)
		sd_fail(rv, err, err_len, "token '%s' cannot store the security-domain key (%s)",
		        t->id.label, hsmux_rv_name(rv));
	sd_tok_destroy(t, trial);
	return rv;
}

CK_RV admin_sd_upload(CK_SESSION_HANDLE session, const char *upload_path, char *err, size_t err_len)
{
	struct sd_upload up = {0};
	struct sd_tok t;
	char *text = NULL, why[256] = "";
	size_t len = 0;
	CK_RV rv;

	if (!upload_path || !err)
		return CKR_ARGUMENTS_BAD;
	err[0] = '\0';
	rv = sd_tok_open(session, &t, err, err_len);
	if (rv == CKR_OK)
		rv = admin_require_no_sd(&t, err, err_len);
	if (rv != CKR_OK)
		return rv;
	text = sd_read_file(upload_path, UPLOAD_MAX, &len);
	if (!text)
		return sd_fail(CKR_ARGUMENTS_BAD, err, err_len, "cannot read '%s': %s", upload_path,
		               strerror(errno));
	if (!sd_upload_parse(text, len, &up, why, sizeof(why))) {
		rv = sd_fail(CKR_DATA_INVALID, err, err_len, "'%s' is not a valid upload file: %s",
		             upload_path, why);
		goto out;
	}
	rv = upload_key(&t, &up, err, err_len);
	/* The exchange key has served its one purpose. */
	if (rv == CKR_OK) {
		char ignored[256];

		admin_drop_exchange(&t, ignored, sizeof(ignored));
	}
out:
	sd_upload_cleanup(&up);
	free(text);
	return rv;
}
