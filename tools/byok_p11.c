#include "byok_p11.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

int byok_token_open(struct cli *cli, const char *token, const char *pin_file, struct byok_token *t)
{
	CK_TOKEN_INFO info;

	memset(t, 0, sizeof(*t));
	t->cli = cli;
	if (cli_find_token(cli, token, &t->slot) != 0)
		return 1;
	if (cli->fl->C_GetTokenInfo(t->slot, &info) == CKR_OK)
		cli_field_string(info.label, sizeof(info.label), t->label);
	else
		snprintf(t->label, sizeof(t->label), "%s", token);
	if (cli_login(cli, t->slot, CKU_USER, pin_file, &t->session) != 0)
		return 1;
	t->open = true;
	return 0;
}

void byok_token_close(struct byok_token *t)
{
	if (!t->open)
		return;
	t->cli->fl->C_Logout(t->session);
	t->cli->fl->C_CloseSession(t->session);
	t->open = false;
}

CK_ULONG byok_find_key(struct byok_token *t, CK_OBJECT_CLASS cls, CK_KEY_TYPE key_type,
                       const char *label, CK_OBJECT_HANDLE *obj)
{
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	    {CKA_KEY_TYPE, &key_type, sizeof(key_type)},
	};
	CK_FUNCTION_LIST_PTR fl = t->cli->fl;
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	CK_RV rv;

	rv = fl->C_FindObjectsInit(t->session, tmpl, key_type == (CK_KEY_TYPE)-1 ? 2 : 3);
	if (rv == CKR_OK)
		rv = fl->C_FindObjects(t->session, found, 2, &n);
	fl->C_FindObjectsFinal(t->session);
	if (rv != CKR_OK) {
		cli_error("searching token '%s' for '%s' failed: %s", t->label, label,
		          cli_rv_name(rv));
		return (CK_ULONG)-1;
	}
	if (n > 0)
		*obj = found[0];
	return n;
}

unsigned char *byok_get_attr(struct byok_token *t, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                             CK_ULONG *len, CK_RV *rv_out)
{
	CK_ATTRIBUTE attr = {type, NULL, 0};
	unsigned char *buf = NULL;
	CK_RV rv;

	rv = t->cli->fl->C_GetAttributeValue(t->session, obj, &attr, 1);
	if (rv == CKR_OK && attr.ulValueLen != (CK_ULONG)-1) {
		buf = malloc(attr.ulValueLen + 1);
		attr.pValue = buf;
		rv = buf ? t->cli->fl->C_GetAttributeValue(t->session, obj, &attr, 1)
		         : CKR_HOST_MEMORY;
	}
	if (rv != CKR_OK || !buf) {
		free(buf);
		buf = NULL;
	} else {
		*len = attr.ulValueLen;
	}
	if (rv_out)
		*rv_out = rv;
	return buf;
}

bool byok_get_bool(struct byok_token *t, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL value = CK_FALSE;
	CK_ATTRIBUTE attr = {type, &value, sizeof(value)};

	if (t->cli->fl->C_GetAttributeValue(t->session, obj, &attr, 1) != CKR_OK)
		return false;
	return value == CK_TRUE;
}

static int is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Appends the percent-encoding of len bytes to out; returns the new end. */
static char *pct_encode(char *out, const unsigned char *in, size_t len, bool all)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		if (!all && is_unreserved(in[i])) {
			*out++ = (char)in[i];
			continue;
		}
		*out++ = '%';
		*out++ = hex[in[i] >> 4];
		*out++ = hex[in[i] & 15];
	}
	return out;
}

char *byok_key_uri(const char *token, const char *label, const unsigned char *id, size_t id_len,
                   const char *type)
{
	size_t cap = 64 + 3 * (strlen(token) + strlen(label) + id_len) + strlen(type);
	char *uri = malloc(cap), *p;

	if (!uri)
		return NULL;
	p = uri + snprintf(uri, cap, "pkcs11:token=");
	p = pct_encode(p, (const unsigned char *)token, strlen(token), false);
	p += snprintf(p, cap - (size_t)(p - uri), ";object=");
	p = pct_encode(p, (const unsigned char *)label, strlen(label), false);
	if (id_len) {
		p += snprintf(p, cap - (size_t)(p - uri), ";id=");
		p = pct_encode(p, id, id_len, true);
	}
	snprintf(p, cap - (size_t)(p - uri), ";type=%s", type);
	return uri;
}

int byok_kek_fingerprint(EVP_PKEY *pub, char *buf, size_t len)
{
	unsigned char *der = NULL, digest[SHA256_DIGEST_LENGTH];
	int der_len = i2d_PUBKEY(pub, &der);

	if (der_len <= 0 || len < 8 + 2 * sizeof(digest)) {
		OPENSSL_free(der);
		return -1;
	}
	SHA256(der, (size_t)der_len, digest);
	OPENSSL_free(der);
	memcpy(buf, "sha256:", 7);
	for (size_t i = 0; i < sizeof(digest); i++)
		snprintf(buf + 7 + 2 * i, 3, "%02x", digest[i]);
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decodes text[0..len) into out (len + 1 bytes). Returns the length, or -1. */
static long pct_decode(const char *text, size_t len, unsigned char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (text[i] != '%') {
			out[n++] = (unsigned char)text[i];
			continue;
		}
		int hi = i + 2 < len ? hex_value(text[i + 1]) : -1;
		int lo = i + 2 < len ? hex_value(text[i + 2]) : -1;

		if (hi < 0 || lo < 0)
			return -1;
		out[n++] = (unsigned char)(hi << 4 | lo);
		i += 2;
	}
	return (long)n;
}

/* Checks one "name=value" of a URI's path; *named counts object and id attributes. */
static bool uri_attr_matches(const char *attr, size_t len, const char *token, const char *label,
                             const unsigned char *id, size_t id_len, int *named)
{
	const char *eq = memchr(attr, '=', len);
	unsigned char value[256];
	size_t name_len;
	long n;

	if (!eq || len - (size_t)(eq - attr) - 1 >= sizeof(value))
		return false;
	name_len = (size_t)(eq - attr);
	n = pct_decode(eq + 1, len - name_len - 1, value);
	if (n < 0)
		return false;
	if (name_len == 5 && strncmp(attr, "token", 5) == 0)
		return strlen(token) == (size_t)n && memcmp(token, value, (size_t)n) == 0;
	if (name_len == 6 && strncmp(attr, "object", 6) == 0) {
		(*named)++;
		return strlen(label) == (size_t)n && memcmp(label, value, (size_t)n) == 0;
	}
	if (name_len == 2 && strncmp(attr, "id", 2) == 0) {
		(*named)++;
		return id_len == (size_t)n && memcmp(id, value, id_len) == 0;
	}
	if (name_len == 4 && strncmp(attr, "type", 4) == 0)
		return n == 7 && memcmp(value, "private", 7) == 0;
	return true; /* other attributes (manufacturer, serial...) do not name a key */
}

static bool uri_matches(const char *uri, const char *token, const char *label,
                        const unsigned char *id, size_t id_len)
{
	const char *p = uri + strlen("pkcs11:");
	size_t path_len = strcspn(p, "?");
	int named = 0;

	while (path_len > 0) {
		size_t len = strcspn(p, ";");

		if (len > path_len)
			len = path_len;
		if (!uri_attr_matches(p, len, token, label, id, id_len, &named))
			return false;
		p += len;
		path_len -= len;
		if (path_len > 0) {
			p++;
			path_len--;
		}
	}
	return named > 0;
}

bool byok_kid_matches(const char *kid, const char *token, const char *label,
                      const unsigned char *id, size_t id_len, const char *fingerprint)
{
	if (strncmp(kid, "pkcs11:", 7) == 0)
		return uri_matches(kid, token, label, id, id_len);
	if (strncmp(kid, "sha256:", 7) == 0)
		return fingerprint && strcasecmp(kid, fingerprint) == 0;
	return strcmp(kid, label) == 0;
}

EVP_PKEY *byok_rsa_public(const unsigned char *n, size_t n_len, const unsigned char *e,
                          size_t e_len)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL), *bn_e = BN_bin2bn(e, (int)e_len, NULL);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	OSSL_PARAM *params = NULL;
	EVP_PKEY *pkey = NULL;

	if (bld && bn_n && bn_e && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		params = OSSL_PARAM_BLD_to_param(bld);
	if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	return pkey;
}

EVP_PKEY *byok_token_rsa_public(struct byok_token *t, CK_OBJECT_HANDLE obj)
{
	CK_ULONG n_len = 0, e_len = 0;
	unsigned char *n = byok_get_attr(t, obj, CKA_MODULUS, &n_len, NULL);
	unsigned char *e = byok_get_attr(t, obj, CKA_PUBLIC_EXPONENT, &e_len, NULL);
	EVP_PKEY *pkey = n && e ? byok_rsa_public(n, n_len, e, e_len) : NULL;

	free(n);
	free(e);
	return pkey;
}

unsigned char *byok_hex_decode(const char *hex, size_t *len)
{
	size_t n = strlen(hex);
	unsigned char *out;

	if (n == 0 || n % 2 != 0 || n > 128)
		return NULL;
	out = malloc(n / 2);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	*len = n / 2;
	return out;
}
