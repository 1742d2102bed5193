/* sd.json and upload.json: building, parsing and recovering the security-domain key. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "module/admin/sd_file.h"
#include "module/admin/sd_share.h"

#define SD_DOC_FORMAT "hsmux-security-domain"

static void copy_trimmed(char *out, const unsigned char *field, size_t len)
{
	while (len > 0 && (field[len - 1] == ' ' || field[len - 1] == '\0'))
		len--;
	memcpy(out, field, len);
	out[len] = '\0';
}

void sd_token_id_from_info(const unsigned char label[32], const unsigned char manufacturer[32],
                           const unsigned char model[16], const unsigned char serial[16],
                           struct sd_token_id *id)
{
	copy_trimmed(id->label, label, 32);
	copy_trimmed(id->manufacturer, manufacturer, 32);
	copy_trimmed(id->model, model, 16);
	copy_trimmed(id->serial, serial, 16);
}

json_t *sd_token_id_json(const struct sd_token_id *id)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "label", id->label, "manufacturer",
	                 id->manufacturer, "model", id->model, "serial", id->serial);
}

static bool copy_json_string(const json_t *obj, const char *key, char *out, size_t out_len)
{
	const char *s = json_string_value(json_object_get(obj, key));

	if (!s || strlen(s) >= out_len)
		return false;
	memcpy(out, s, strlen(s) + 1);
	return true;
}

static bool token_id_parse(const json_t *obj, struct sd_token_id *id)
{
	return json_is_object(obj) && json_object_size(obj) == 4 &&
	       copy_json_string(obj, "label", id->label, sizeof(id->label)) &&
	       copy_json_string(obj, "manufacturer", id->manufacturer, sizeof(id->manufacturer)) &&
	       copy_json_string(obj, "model", id->model, sizeof(id->model)) &&
	       copy_json_string(obj, "serial", id->serial, sizeof(id->serial));
}

bool sd_key_fingerprint(EVP_PKEY *key, char out[SD_KEY_FP_LEN])
{
	unsigned char *der = NULL, digest[SHA256_DIGEST_LENGTH];
	int len = i2d_PUBKEY(key, &der);

	if (len <= 0)
		return false;
	SHA256(der, (size_t)len, digest);
	OPENSSL_free(der);
	memcpy(out, "sha256:", 7);
	sd_hex_encode(digest, sizeof(digest), out + 7);
	return true;
}

bool sd_fingerprint(const struct sd_secret *key, char out[SD_FP_HEX_LEN])
{
	unsigned char fp[SD_MAC_LEN];

	if (!sd_prf(key->data, key->len, SD_LABEL_FINGERPRINT, NULL, 0, fp))
		return false;
	sd_hex_encode(fp, sizeof(fp), out);
	return true;
}

bool sd_check_rsa_key(EVP_PKEY *key, char *err, size_t err_len)
{
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		snprintf(err, err_len, "it is not an RSA key; use an RSA key of %d bits or more",
		         SD_RSA_BITS_MIN);
		return false;
	}
	if (EVP_PKEY_get_bits(key) < SD_RSA_BITS_MIN) {
		snprintf(err, err_len, "its RSA key has %d bits; use %d bits or more",
		         EVP_PKEY_get_bits(key), SD_RSA_BITS_MIN);
		return false;
	}
	return true;
}

/* The associated data of share index (1-based): every fact the share is bound to. */
static char *share_aad(const json_t *token, unsigned int quorum, size_t n, size_t index,
                       const char *custodian_fp, const char *sd_fp)
{
	json_t *aad =
	    json_pack("{s:s, s:i, s:O, s:i, s:I, s:I, s:s, s:s}", "purpose",
	              "hsmux security-domain share", "version", SD_FORMAT_VERSION, "token", token,
	              "quorum", (int)quorum, "custodians", (json_int_t)n, "index",
	              (json_int_t)index, "custodian", custodian_fp, "sd_fingerprint", sd_fp);
	char *text;

	if (!aad)
		return NULL;
	text = sd_json_canonical(aad, false);
	json_decref(aad);
	return text;
}

static json_t *sealed_json(const struct sd_sealed_share *s, size_t index, const char *fp)
{
	char *ek = sd_b64_encode(s->encrypted_key, s->encrypted_key_len);
	char *iv = sd_b64_encode(s->iv, sizeof(s->iv));
	char *ct = sd_b64_encode(s->ciphertext, s->ciphertext_len);
	char *tag = sd_b64_encode(s->tag, sizeof(s->tag));
	json_t *obj = NULL;

	if (ek && iv && ct && tag)
		obj = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "index", (json_int_t)index,
		                "fingerprint", fp, "encrypted_key", ek, "iv", iv, "ciphertext", ct,
		                "tag", tag);
	free(ek);
	free(iv);
	free(ct);
	free(tag);
	return obj;
}

/* Adds "mac": sd_prf(key, label, compact canonical text of doc without "mac"). */
static bool add_mac(json_t *doc, const struct sd_secret *key, const char *label)
{
	unsigned char mac[SD_MAC_LEN];
	char *body = sd_json_canonical(doc, false);
	char *b64 = NULL;
	bool ok = false;

	if (body && sd_prf(key->data, key->len, label, (unsigned char *)body, strlen(body), mac))
		b64 = sd_b64_encode(mac, sizeof(mac));
	if (b64)
		ok = json_object_set_new(doc, "mac", json_string(b64)) == 0;
	free(b64);
	free(body);
	return ok;
}

/* Seals share i for custodian i and appends its entry to list. */
static bool add_custodian(json_t *list, json_t *token, EVP_PKEY *custodian,
                          const struct sd_secret *share, unsigned int quorum, size_t n, size_t i,
                          const char *sd_fp)
{
	struct sd_sealed_share sealed;
	char fp[SD_KEY_FP_LEN];
	char *aad;
	bool ok;

	if (!sd_key_fingerprint(custodian, fp))
		return false;
	aad = share_aad(token, quorum, n, i + 1, fp, sd_fp);
	if (!aad)
		return false;
	ok = sd_share_seal(custodian, share, (unsigned char *)aad, strlen(aad), &sealed);
	free(aad);
	if (!ok)
		return false;
	ok = json_array_append_new(list, sealed_json(&sealed, i + 1, fp)) == 0;
	sd_sealed_share_cleanup(&sealed);
	return ok;
}

static bool check_custodians(EVP_PKEY *const *custodians, size_t n, unsigned int quorum, char *err,
                             size_t err_len)
{
	char fps[SD_CUSTODIANS_MAX][SD_KEY_FP_LEN];
	char why[128];

	if (n < SD_CUSTODIANS_MIN || n > SD_CUSTODIANS_MAX) {
		snprintf(err, err_len, "%zu custodian keys given; give %d to %d", n,
		         SD_CUSTODIANS_MIN, SD_CUSTODIANS_MAX);
		return false;
	}
	if (quorum < SD_QUORUM_MIN || quorum > n) {
		snprintf(err, err_len, "quorum %u is invalid; choose %d to %zu", quorum,
		         SD_QUORUM_MIN, n);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!sd_check_rsa_key(custodians[i], why, sizeof(why))) {
			snprintf(err, err_len, "custodian key %zu is unusable: %s", i + 1, why);
			return false;
		}
		if (!sd_key_fingerprint(custodians[i], fps[i]))
			return false;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(fps[i], fps[j]) == 0) {
				snprintf(err, err_len,
				         "custodian keys %zu and %zu are the same key; "
				         "give each custodian its own key",
				         j + 1, i + 1);
				return false;
			}
		}
	}
	return true;
}

static bool build_doc(json_t *doc, const struct sd_secret *key, const struct sd_token_id *token,
                      EVP_PKEY *const *custodians, size_t n, unsigned int quorum,
                      struct sd_secret *shares)
{
	char sd_fp[SD_FP_HEX_LEN], created[32];
	json_t *tok = sd_token_id_json(token);
	json_t *list = json_array();
	bool ok = false;

	if (!tok || !list || !sd_fingerprint(key, sd_fp))
		goto out;
	sd_utc_now(created, sizeof(created));
	if (json_object_set_new(doc, "format", json_string(SD_DOC_FORMAT)) != 0 ||
	    json_object_set_new(doc, "version", json_integer(SD_FORMAT_VERSION)) != 0 ||
	    json_object_set_new(doc, "created", json_string(created)) != 0 ||
	    json_object_set(doc, "token", tok) != 0 ||
	    json_object_set_new(doc, "quorum", json_integer(quorum)) != 0 ||
	    json_object_set_new(doc, "sd_fingerprint", json_string(sd_fp)) != 0)
		goto out;
	if (!sd_share_split(key, quorum, n, shares))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (!add_custodian(list, tok, custodians[i], &shares[i], quorum, n, i, sd_fp))
			goto out;
	if (json_object_set(doc, "custodians", list) != 0)
		goto out;
	ok = add_mac(doc, key, SD_LABEL_SD_MAC);
out:
	json_decref(tok);
	json_decref(list);
	return ok;
}

bool sd_doc_create(const struct sd_secret *key, const struct sd_token_id *token,
                   EVP_PKEY *const *custodians, size_t n, unsigned int quorum, char **text,
                   char *err, size_t err_len)
{
	struct sd_secret shares[SD_CUSTODIANS_MAX] = {{0}};
	json_t *doc = NULL;
	bool ok = false;

	if (!check_custodians(custodians, n, quorum, err, err_len))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!sd_secret_init(&shares[i], key->len))
			goto out;
	doc = json_object();
	if (!doc || !build_doc(doc, key, token, custodians, n, quorum, shares))
		goto out;
	*text = sd_json_canonical(doc, true);
	ok = *text != NULL;
out:
	for (size_t i = 0; i < n; i++)
		sd_secret_cleanup(&shares[i]);
	json_decref(doc);
	if (!ok && !err[0])
		snprintf(err, err_len,
		         "building sd.json failed (out of memory or a failure of "
		         "the random generator or OpenSSL)");
	return ok;
}

static bool is_hex(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool check_entry(const json_t *e, size_t index)
{
	const char *fp = json_string_value(json_object_get(e, "fingerprint"));

	return json_is_object(e) && json_object_size(e) == 6 &&
	       json_integer_value(json_object_get(e, "index")) == (json_int_t)index &&
	       json_is_integer(json_object_get(e, "index")) && fp &&
	       strncmp(fp, "sha256:", 7) == 0 && is_hex(fp + 7, 64) &&
	       json_is_string(json_object_get(e, "encrypted_key")) &&
	       json_is_string(json_object_get(e, "iv")) &&
	       json_is_string(json_object_get(e, "ciphertext")) &&
	       json_is_string(json_object_get(e, "tag"));
}

static bool doc_fields(struct sd_doc *doc, char *err, size_t err_len)
{
	const json_t *root = doc->root, *list = json_object_get(root, "custodians");
	const char *format = json_string_value(json_object_get(root, "format"));
	const json_t *version = json_object_get(root, "version");
	json_int_t quorum = json_integer_value(json_object_get(root, "quorum"));

	if (!format || strcmp(format, SD_DOC_FORMAT) != 0 || !json_is_integer(version)) {
		snprintf(err, err_len, "it is not an hsmux security-domain file");
		return false;
	}
	if (json_integer_value(version) != SD_FORMAT_VERSION) {
		snprintf(err, err_len,
		         "its format version %" JSON_INTEGER_FORMAT
		         " is not supported; this hsmux reads version %d",
		         json_integer_value(version), SD_FORMAT_VERSION);
		return false;
	}
	doc->version = SD_FORMAT_VERSION;
	if (json_object_size(root) != 8 || !json_is_array(list) ||
	    !json_is_string(json_object_get(root, "created")) ||
	    !json_is_string(json_object_get(root, "mac")) ||
	    !token_id_parse(json_object_get(root, "token"), &doc->token) ||
	    !copy_json_string(root, "sd_fingerprint", doc->sd_fingerprint, SD_FP_HEX_LEN) ||
	    !is_hex(doc->sd_fingerprint, 64)) {
		snprintf(err, err_len, "a required member is missing or invalid");
		return false;
	}
	doc->custodian_count = json_array_size(list);
	if (doc->custodian_count < SD_CUSTODIANS_MIN || doc->custodian_count > SD_CUSTODIANS_MAX ||
	    quorum < SD_QUORUM_MIN || quorum > (json_int_t)doc->custodian_count) {
		snprintf(err, err_len, "its quorum or custodian count is out of range");
		return false;
	}
	doc->quorum = (unsigned int)quorum;
	for (size_t i = 0; i < doc->custodian_count; i++) {
		if (!check_entry(json_array_get(list, i), i + 1)) {
			snprintf(err, err_len, "custodian entry %zu is invalid", i + 1);
			return false;
		}
	}
	return true;
}

bool sd_doc_parse(const char *text, size_t len, struct sd_doc *doc, char *err, size_t err_len)
{
	memset(doc, 0, sizeof(*doc));
	doc->root = sd_json_parse_canonical(text, len, err, err_len);
	if (!doc->root)
		return false;
	if (!doc_fields(doc, err, err_len)) {
		sd_doc_cleanup(doc);
		return false;
	}
	return true;
}

void sd_doc_cleanup(struct sd_doc *doc)
{
	json_decref(doc->root);
	memset(doc, 0, sizeof(*doc));
}

static bool sealed_parse(const json_t *e, struct sd_sealed_share *s)
{
	unsigned char *iv = sd_json_b64(e, "iv", SD_GCM_IV_LEN, NULL);
	unsigned char *tag = sd_json_b64(e, "tag", SD_GCM_TAG_LEN, NULL);
	bool ok = false;

	memset(s, 0, sizeof(*s));
	s->encrypted_key = sd_json_b64(e, "encrypted_key", 0, &s->encrypted_key_len);
	s->ciphertext = sd_json_b64(e, "ciphertext", SD_KEY_LEN, &s->ciphertext_len);
	if (iv && tag && s->encrypted_key && s->ciphertext) {
		memcpy(s->iv, iv, SD_GCM_IV_LEN);
		memcpy(s->tag, tag, SD_GCM_TAG_LEN);
		ok = true;
	}
	free(iv);
	free(tag);
	if (!ok)
		sd_sealed_share_cleanup(s);
	return ok;
}

/* Finds the entry of a custodian key; returns its 0-based position or -1. */
static long find_entry(const struct sd_doc *doc, const char *fp)
{
	const json_t *list = json_object_get(doc->root, "custodians");

	for (size_t i = 0; i < doc->custodian_count; i++) {
		const json_t *e = json_array_get(list, i);

		if (strcmp(json_string_value(json_object_get(e, "fingerprint")), fp) == 0)
			return (long)i;
	}
	return -1;
}

static void report_add(char *report, size_t report_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report_add(char *report, size_t report_len, const char *fmt, ...)
{
	size_t used = strlen(report);
	va_list ap;

	if (used + 1 >= report_len)
		return;
	va_start(ap, fmt);
	vsnprintf(report + used, report_len - used, fmt, ap);
	va_end(ap);
}

/* Opens the share of one custodian key. Returns its 0-based entry, or -1 after a report line. */
static long open_one(const struct sd_doc *doc, EVP_PKEY *key, const char *name,
                     struct sd_secret *share, char *report, size_t report_len)
{
	struct sd_sealed_share sealed;
	char fp[SD_KEY_FP_LEN];
	const json_t *e;
	char *aad;
	long i;
	bool ok;

	if (!sd_key_fingerprint(key, fp)) {
		report_add(report, report_len, "custodian key '%s' is not a usable key\n", name);
		return -1;
	}
	i = find_entry(doc, fp);
	if (i < 0) {
		report_add(report, report_len,
		           "custodian key '%s' (%s) is not a custodian of this security domain\n",
		           name, fp);
		return -1;
	}
	e = json_array_get(json_object_get(doc->root, "custodians"), (size_t)i);
	aad = share_aad(json_object_get(doc->root, "token"), doc->quorum, doc->custodian_count,
	                (size_t)i + 1, fp, doc->sd_fingerprint);
	ok = aad && sealed_parse(e, &sealed);
	if (ok) {
		ok = sd_share_open(key, &sealed, (unsigned char *)aad, strlen(aad), share);
		sd_sealed_share_cleanup(&sealed);
	}
	free(aad);
	if (!ok) {
		report_add(report, report_len,
		           "custodian key '%s' (%s) does not open the share "
		           "of custodian %ld: the share was encrypted to another key or was "
		           "changed\n",
		           name, fp, i + 1);
		return -1;
	}
	return i;
}

static bool check_rebuilt(const struct sd_doc *doc, const struct sd_secret *key, char *report,
                          size_t report_len)
{
	char fp[SD_FP_HEX_LEN];
	unsigned char mac[SD_MAC_LEN], *want = NULL;
	json_t *copy = json_deep_copy(doc->root);
	char *body = NULL;
	bool ok = false;

	if (!sd_fingerprint(key, fp) || CRYPTO_memcmp(fp, doc->sd_fingerprint, 64) != 0) {
		report_add(report, report_len,
		           "the rebuilt key does not match the security-domain fingerprint in "
		           "sd.json: a share is from another security domain or was changed\n");
		goto out;
	}
	want = sd_json_b64(doc->root, "mac", SD_MAC_LEN, NULL);
	if (copy && json_object_del(copy, "mac") == 0)
		body = sd_json_canonical(copy, false);
	if (!want || !body ||
	    !sd_prf(key->data, key->len, SD_LABEL_SD_MAC, (unsigned char *)body, strlen(body),
	            mac) ||
	    CRYPTO_memcmp(mac, want, SD_MAC_LEN) != 0) {
		report_add(report, report_len,
		           "sd.json fails its integrity check: it was changed after it was "
		           "written\n");
		goto out;
	}
	ok = true;
out:
	free(want);
	free(body);
	json_decref(copy);
	return ok;
}

bool sd_doc_recover(const struct sd_doc *doc, EVP_PKEY *const *keys, const char *const *names,
                    size_t n, struct sd_secret *key, char *report, size_t report_len)
{
	struct sd_secret shares[SD_CUSTODIANS_MAX] = {{0}}, rebuilt = {0};
	unsigned char xs[SD_CUSTODIANS_MAX];
	size_t valid = 0;
	bool ok = false;

	report[0] = '\0';
	for (size_t k = 0; k < n && valid < SD_CUSTODIANS_MAX; k++) {
		long i;
		bool dup = false;

		if (!sd_secret_init(&shares[valid], SD_KEY_LEN))
			goto out;
		i = open_one(doc, keys[k], names[k], &shares[valid], report, report_len);
		for (size_t j = 0; i >= 0 && j < valid; j++)
			dup = dup || xs[j] == (unsigned char)(i + 1);
		if (i < 0 || dup) {
			sd_secret_cleanup(&shares[valid]);
			continue;
		}
		xs[valid++] = (unsigned char)(i + 1);
	}
	if (valid < doc->quorum) {
		report_add(report, report_len,
		           "only %zu valid share%s of the %u needed; give the keys of %u "
		           "custodians of this security domain\n",
		           valid, valid == 1 ? "" : "s", doc->quorum, doc->quorum);
		goto out;
	}
	if (!sd_secret_init(&rebuilt, SD_KEY_LEN) || !sd_share_combine(xs, shares, valid, &rebuilt))
		goto out;
	if (!check_rebuilt(doc, &rebuilt, report, report_len))
		goto out;
	*key = rebuilt;
	rebuilt.data = NULL;
	ok = true;
out:
	for (size_t i = 0; i < SD_CUSTODIANS_MAX; i++)
		sd_secret_cleanup(&shares[i]);
	sd_secret_cleanup(&rebuilt);
	return ok;
}
