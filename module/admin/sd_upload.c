/*
 * upload.json: the rebuilt security-domain key wrapped to a new token's
 * exchange key. The token unwraps it itself, so the key is in plaintext
 * only in the offline recover step that builds this file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "module/admin/sd_file.h"
#include "module/admin/sd_share.h"

#define SD_UPLOAD_FORMAT "hsmux-security-domain-upload"
/*
 * SoftHSM 2.6.1 unwraps with RSA-OAEP only under SHA-1, so the exchange wrap
 * uses SHA-1 for OAEP and MGF1. OAEP's security does not rest on the hash's
 * collision resistance.
 */
#define SD_UPLOAD_WRAP "CKM_RSA_PKCS_OAEP SHA-1"

static json_t *upload_doc(const struct sd_doc *doc, const char *exchange_fp,
                          const unsigned char *wrapped, size_t wrapped_len)
{
	char *b64 = sd_b64_encode(wrapped, wrapped_len);
	json_t *up = NULL;

	if (b64)
		up = json_pack("{s:s, s:i, s:O, s:s, s:s, s:s, s:s}", "format", SD_UPLOAD_FORMAT,
		               "version", SD_FORMAT_VERSION, "token",
		               json_object_get(doc->root, "token"), "sd_fingerprint",
		               doc->sd_fingerprint, "exchange_fingerprint", exchange_fp,
		               "wrap_mechanism", SD_UPLOAD_WRAP, "wrapped_key", b64);
	free(b64);
	return up;
}

bool sd_upload_create(const struct sd_doc *doc, const struct sd_secret *key, EVP_PKEY *exchange,
                      char **text, char *err, size_t err_len)
{
	char exchange_fp[SD_KEY_FP_LEN], why[128];
	unsigned char *wrapped = NULL, mac[SD_MAC_LEN];
	size_t wrapped_len = 0;
	json_t *up = NULL;
	char *body = NULL, *mac_b64 = NULL;
	bool ok = false;

	if (!sd_check_rsa_key(exchange, why, sizeof(why))) {
		snprintf(err, err_len, "the exchange key is unusable: %s", why);
		return false;
	}
	if (!sd_key_fingerprint(exchange, exchange_fp) ||
	    !sd_rsa_oaep_encrypt(exchange, EVP_sha1(), key->data, key->len, &wrapped, &wrapped_len))
		goto out;
	up = upload_doc(doc, exchange_fp, wrapped, wrapped_len);
	body = up ? sd_json_canonical(up, false) : NULL;
	if (!body || !sd_prf(key->data, key->len, SD_LABEL_UPLOAD_MAC, (unsigned char *)body,
	                     strlen(body), mac))
		goto out;
	mac_b64 = sd_b64_encode(mac, sizeof(mac));
	if (!mac_b64 || json_object_set_new(up, "mac", json_string(mac_b64)) != 0)
		goto out;
	*text = sd_json_canonical(up, true);
	ok = *text != NULL;
out:
	if (!ok)
		snprintf(err, err_len,
		         "building upload.json failed (out of memory or an "
		         "OpenSSL failure)");
	free(wrapped);
	free(body);
	free(mac_b64);
	json_decref(up);
	return ok;
}

static bool upload_fields(struct sd_upload *up, char *err, size_t err_len)
{
	const json_t *root = up->root;
	const char *format = json_string_value(json_object_get(root, "format"));
	const char *wrap = json_string_value(json_object_get(root, "wrap_mechanism"));
	const json_t *version = json_object_get(root, "version");
	unsigned char *mac;
	const char *fp;

	if (!format || strcmp(format, SD_UPLOAD_FORMAT) != 0 || !json_is_integer(version)) {
		snprintf(err, err_len, "it is not an hsmux upload file");
		return false;
	}
	if (json_integer_value(version) != SD_FORMAT_VERSION) {
		snprintf(err, err_len,
		         "its format version %" JSON_INTEGER_FORMAT
		         " is not supported; this hsmux reads version %d",
		         json_integer_value(version), SD_FORMAT_VERSION);
		return false;
	}
	fp = json_string_value(json_object_get(root, "exchange_fingerprint"));
	mac = sd_json_b64(root, "mac", SD_MAC_LEN, NULL);
	up->wrapped_key = sd_json_b64(root, "wrapped_key", 0, &up->wrapped_key_len);
	if (json_object_size(root) != 8 || !wrap || strcmp(wrap, SD_UPLOAD_WRAP) != 0 || !fp ||
	    strlen(fp) != SD_KEY_FP_LEN - 1 || !mac || !up->wrapped_key ||
	    !json_is_string(json_object_get(root, "sd_fingerprint")) ||
	    strlen(json_string_value(json_object_get(root, "sd_fingerprint"))) != 64) {
		free(mac);
		snprintf(err, err_len, "a required member is missing or invalid");
		return false;
	}
	memcpy(up->exchange_fingerprint, fp, SD_KEY_FP_LEN);
	memcpy(up->sd_fingerprint, json_string_value(json_object_get(root, "sd_fingerprint")),
	       SD_FP_HEX_LEN);
	memcpy(up->mac, mac, SD_MAC_LEN);
	free(mac);
	return true;
}

static bool token_fields(struct sd_upload *up)
{
	const json_t *t = json_object_get(up->root, "token");
	const char *fields[] = {"label", "manufacturer", "model", "serial"};
	char *dst[] = {up->token.label, up->token.manufacturer, up->token.model, up->token.serial};
	size_t sizes[] = {sizeof(up->token.label), sizeof(up->token.manufacturer),
	                  sizeof(up->token.model), sizeof(up->token.serial)};

	if (!json_is_object(t) || json_object_size(t) != 4)
		return false;
	for (size_t i = 0; i < 4; i++) {
		const char *s = json_string_value(json_object_get(t, fields[i]));

		if (!s || strlen(s) >= sizes[i])
			return false;
		memcpy(dst[i], s, strlen(s) + 1);
	}
	return true;
}

bool sd_upload_parse(const char *text, size_t len, struct sd_upload *up, char *err, size_t err_len)
{
	json_t *copy = NULL;

	memset(up, 0, sizeof(*up));
	up->root = sd_json_parse_canonical(text, len, err, err_len);
	if (!up->root)
		return false;
	if (!upload_fields(up, err, err_len))
		goto fail;
	if (!token_fields(up)) {
		snprintf(err, err_len, "its token identity is invalid");
		goto fail;
	}
	copy = json_deep_copy(up->root);
	if (!copy || json_object_del(copy, "mac") != 0)
		goto fail;
	up->mac_body = sd_json_canonical(copy, false);
	json_decref(copy);
	if (!up->mac_body)
		goto fail;
	up->mac_body_len = strlen(up->mac_body);
	return true;
fail:
	if (!err[0])
		snprintf(err, err_len, "out of memory");
	sd_upload_cleanup(up);
	return false;
}

void sd_upload_cleanup(struct sd_upload *up)
{
	json_decref(up->root);
	free(up->wrapped_key);
	free(up->mac_body);
	memset(up, 0, sizeof(*up));
}
