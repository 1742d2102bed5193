/* The security-domain functions of the admin interface: activate, upload and their helpers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hsmux/admin.h"
#include "module/admin/admin.h"
#include "module/trace.h"
#include "module/admin/sd_token.h"

/* Gives the security-domain key of the token; CKR_KEY_NEEDED with a message when it has none. */
CK_RV admin_sd_key(struct sd_tok *t, CK_OBJECT_HANDLE *key, char *err, size_t err_len)
{
	int found = 0;
	CK_RV rv = sd_tok_find(t, CKO_SECRET_KEY, HSMUX_SD_KEY_LABEL, key, &found, err, err_len);

	if (rv == CKR_OK && !found)
		rv = sd_fail(CKR_KEY_NEEDED, err, err_len,
		             "token '%s' has no security domain; activate it with `hsmux sd "
		             "download`, or upload one with `hsmux sd upload`",
		             t->id.label);
	return rv;
}

CK_RV admin_require_no_sd(struct sd_tok *t, char *err, size_t err_len)
{
	CK_OBJECT_HANDLE key;
	char fp[SD_FP_HEX_LEN];
	int found = 0;
	CK_RV rv = sd_tok_find(t, CKO_SECRET_KEY, HSMUX_SD_KEY_LABEL, &key, &found, err, err_len);

	if (rv != CKR_OK || !found)
		return rv;
	if (sd_tok_fingerprint(t, key, fp) != CKR_OK)
		snprintf(fp, sizeof(fp), "unknown");
	return sd_fail(CKR_FUNCTION_REJECTED, err, err_len,
	               "token '%s' already has security domain %.16s; a token holds one security "
	               "domain, so use a new token",
	               t->id.label, fp);
}

static CK_RV load_custodians(const unsigned char *const *spki, const size_t *len, size_t n,
                             EVP_PKEY **keys, char *err, size_t err_len)
{
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = spki[i];

		keys[i] = p ? d2i_PUBKEY(NULL, &p, (long)len[i]) : NULL;
		if (!keys[i] || p != spki[i] + len[i])
			return sd_fail(CKR_ARGUMENTS_BAD, err, err_len,
			               "custodian key %zu is not "
			               "a DER public key",
			               i + 1);
	}
	return CKR_OK;
}

/* Writes sd.json, then stores the key; removes sd.json again when the token refuses the key. */
static CK_RV activate_with(struct sd_tok *t, EVP_PKEY **keys, size_t n, unsigned int quorum,
                           const char *sd_path, char *err, size_t err_len)
{
	struct sd_secret key = {0};
	CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
	char *text = NULL, fp[SD_FP_HEX_LEN], tok_fp[SD_FP_HEX_LEN];
	CK_RV rv;

	if (!sd_secret_init(&key, SD_KEY_LEN))
		return CKR_HOST_MEMORY;
	rv = t->be->ops->generate_random(t->be, t->bsess, key.data, key.len);
	if (rv != CKR_OK) {
		sd_fail(rv, err, err_len, "the token's C_GenerateRandom failed (%s)",
		        hsmux_rv_name(rv));
		goto out;
	}
	if (!sd_doc_create(&key, &t->id, keys, n, quorum, &text, err, err_len) ||
	    !sd_fingerprint(&key, fp)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	/* An existing sd.json may be the only copy of another domain's shares. */
	if (sd_write_file_new(sd_path, text, strlen(text), 0600) != 0) {
		rv = errno == EEXIST ? sd_fail(CKR_ARGUMENTS_BAD, err, err_len,
		                               "'%s' exists "
		                               "already; choose another file, because hsmux never "
		                               "overwrites an sd.json",
		                               sd_path)
		                     : sd_fail(CKR_DEVICE_ERROR, err, err_len,
		                               "cannot write "
		                               "'%s': %s",
		                               sd_path, strerror(errno));
		goto out;
	}
	/* A trial session key first: the stored key can never be deleted again. */
	rv = sd_tok_create_key(t, &key, false, &obj);
	if (rv == CKR_OK && (rv = sd_tok_fingerprint(t, obj, tok_fp)) == CKR_OK &&
	    strcmp(fp, tok_fp) != 0)
		rv = CKR_GENERAL_ERROR;
	if (obj != CK_INVALID_HANDLE)
		sd_tok_destroy(t, obj);
	if (rv == CKR_OK)
		rv = sd_tok_create_key(t, &key, true, &obj);
	if (rv != CKR_OK) {
		unlink(sd_path);
		sd_fail(rv, err, err_len,
		        "token '%s' cannot store the security-domain key or "
		        "compute HMAC-SHA256 with it (%s); '%s' was removed",
		        t->id.label, hsmux_rv_name(rv), sd_path);
	}
out:
	sd_secret_cleanup(&key);
	free(text);
	return rv;
}

CK_RV admin_sd_activate(CK_SESSION_HANDLE session, const unsigned char *const *spki,
                        const size_t *spki_len, size_t n, unsigned int quorum, const char *sd_path,
                        char *err, size_t err_len)
{
	EVP_PKEY *keys[SD_CUSTODIANS_MAX] = {0};
	struct sd_tok t;
	CK_RV rv;

	if (err && err_len)
		err[0] = '\0';
	if (!spki || !spki_len || !sd_path || !err || n < SD_CUSTODIANS_MIN ||
	    n > SD_CUSTODIANS_MAX || quorum < SD_QUORUM_MIN || quorum > n)
		return sd_fail(CKR_ARGUMENTS_BAD, err, err_len,
		               "give %d to %d custodian keys "
		               "and a quorum from %d to their number",
		               SD_CUSTODIANS_MIN, SD_CUSTODIANS_MAX, SD_QUORUM_MIN);
	rv = sd_tok_open(session, &t, err, err_len);
	if (rv == CKR_OK)
		rv = admin_require_no_sd(&t, err, err_len);
	if (rv == CKR_OK)
		rv = load_custodians(spki, spki_len, n, keys, err, err_len);
	if (rv == CKR_OK)
		rv = activate_with(&t, keys, n, quorum, sd_path, err, err_len);
	for (size_t i = 0; i < n; i++)
		EVP_PKEY_free(keys[i]);
	return rv;
}

CK_RV admin_sd_fingerprint(CK_SESSION_HANDLE session, char fingerprint[65], char *err,
                           size_t err_len)
{
	CK_OBJECT_HANDLE key;
	struct sd_tok t;
	CK_RV rv;

	if (!fingerprint || !err)
		return CKR_ARGUMENTS_BAD;
	err[0] = '\0';
	rv = sd_tok_open(session, &t, err, err_len);
	if (rv == CKR_OK)
		rv = admin_sd_key(&t, &key, err, err_len);
	if (rv == CKR_OK)
		rv = sd_tok_fingerprint(&t, key, fingerprint);
	return rv;
}

CK_RV admin_drop_exchange(struct sd_tok *t, char *err, size_t err_len)
{
	CK_OBJECT_CLASS classes[] = {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY};

	for (int i = 0; i < 2; i++) {
		CK_OBJECT_HANDLE obj;
		int found = 0;
		CK_RV rv =
		    sd_tok_find(t, classes[i], HSMUX_SD_EXCHANGE_LABEL, &obj, &found, err, err_len);

		if (rv == CKR_OK && found)
			rv = sd_tok_destroy(t, obj);
		if (rv != CKR_OK)
			return rv;
	}
	return CKR_OK;
}

static CK_RV write_pem(EVP_PKEY *key, const char *path, char *err, size_t err_len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;
	CK_RV rv = CKR_HOST_MEMORY;

	if (bio && PEM_write_bio_PUBKEY(bio, key) == 1) {
		len = BIO_get_mem_data(bio, &data);
		rv = sd_write_file_atomic(path, data, (size_t)len, 0644) == 0
		         ? CKR_OK
		         : sd_fail(CKR_DEVICE_ERROR, err, err_len, "cannot write '%s': %s", path,
		                   strerror(errno));
	}
	BIO_free(bio);
	return rv;
}

CK_RV admin_sd_init_recovery(CK_SESSION_HANDLE session, const char *pem_path, char *err,
                             size_t err_len)
{
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
	EVP_PKEY *key = NULL;
	struct sd_tok t;
	CK_RV rv;

	if (!pem_path || !err)
		return CKR_ARGUMENTS_BAD;
	err[0] = '\0';
	rv = sd_tok_open(session, &t, err, err_len);
	if (rv == CKR_OK)
		rv = admin_require_no_sd(&t, err, err_len);
	if (rv == CKR_OK)
		rv = admin_drop_exchange(&t, err, err_len);
	if (rv == CKR_OK && (rv = sd_tok_generate_exchange(&t, &pub, &priv)) != CKR_OK)
		sd_fail(rv, err, err_len, "token '%s' cannot make an RSA exchange key (%s)",
		        t.id.label, hsmux_rv_name(rv));
	if (rv == CKR_OK)
		rv = sd_tok_public_key(&t, pub, &key);
	if (rv == CKR_OK)
		rv = write_pem(key, pem_path, err, err_len);
	EVP_PKEY_free(key);
	return rv;
}
