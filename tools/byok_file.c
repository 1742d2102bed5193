#include "tools/byok_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

/* The largest .byok file read: an RSA-4096 PKCS#8 key wraps to about 3 KiB. */
#define BYOK_FILE_MAX (64 * 1024)

static void set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

char *byok_base64url_encode(const unsigned char *data, size_t len)
{
	size_t cap = 4 * ((len + 2) / 3) + 1;
	char *text = malloc(cap);
	size_t n;

	if (!text)
		return NULL;
	n = (size_t)EVP_EncodeBlock((unsigned char *)text, data, (int)len);
	while (n > 0 && text[n - 1] == '=')
		n--;
	text[n] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (text[i] == '+')
			text[i] = '-';
		else if (text[i] == '/')
			text[i] = '_';
	}
	return text;
}

static int is_base64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int byok_base64url_decode(const char *text, unsigned char **out, size_t *out_len)
{
	size_t len = strlen(text);
	size_t padded_len = (len + 3) / 4 * 4;
	size_t pad = padded_len - len;
	unsigned char *std = NULL, *bin = NULL;
	char *check = NULL;
	int n, ret = -1;

	*out = NULL;
	*out_len = 0;
	if (len % 4 == 1 || len > BYOK_FILE_MAX)
		return -1;
	std = malloc(padded_len + 1);
	bin = malloc(padded_len / 4 * 3 + 1);
	if (!std || !bin)
		goto out;
	for (size_t i = 0; i < len; i++) {
		if (!is_base64url_char(text[i]))
			goto out;
		if (text[i] == '-')
			std[i] = '+';
		else if (text[i] == '_')
			std[i] = '/';
		else
			std[i] = (unsigned char)text[i];
	}
	memset(std + len, '=', pad);
	std[padded_len] = '\0';

	/* EVP_DecodeBlock counts the padding as zero bytes, so drop them. */
	n = EVP_DecodeBlock(bin, std, (int)padded_len);
	if (n < 0 || (size_t)n < pad)
		goto out;

	/* Only the canonical form, because non-zero trailing bits let two texts decode alike. */
	check = byok_base64url_encode(bin, (size_t)n - pad);
	if (!check || strcmp(check, text) != 0)
		goto out;
	*out = bin;
	*out_len = (size_t)n - pad;
	bin = NULL;
	ret = 0;
out:
	free(std);
	free(bin);
	free(check);
	return ret;
}

/* Checks that obj has exactly the n members in names. */
static int check_members(json_t *obj, const char *where, const char *const *names, size_t n,
                         char *err, size_t err_len)
{
	const char *key;
	json_t *value;

	for (size_t i = 0; i < n; i++) {
		value = json_object_get(obj, names[i]);
		if (!value) {
			set_err(err, err_len, "%s has no \"%s\" member", where, names[i]);
			return -1;
		}
	}
	json_object_foreach(obj, key, value)
	{
		size_t i;

		for (i = 0; i < n && strcmp(key, names[i]) != 0; i++)
			;
		if (i == n) {
			set_err(err, err_len, "%s has an unknown member \"%s\"", where, key);
			return -1;
		}
	}
	return 0;
}

static const char *get_string(json_t *obj, const char *where, const char *name, char *err,
                              size_t err_len)
{
	json_t *value = json_object_get(obj, name);

	if (!json_is_string(value)) {
		set_err(err, err_len, "%s member \"%s\" is not a string", where, name);
		return NULL;
	}
	if (strlen(json_string_value(value)) != json_string_length(value)) {
		set_err(err, err_len, "%s member \"%s\" contains a NUL character", where, name);
		return NULL;
	}
	return json_string_value(value);
}

/* Checks that member name of obj is the string expected. */
static int check_fixed(json_t *obj, const char *where, const char *name, const char *expected,
                       char *err, size_t err_len)
{
	const char *value = get_string(obj, where, name, err, err_len);

	if (!value)
		return -1;
	if (strcmp(value, expected) != 0) {
		set_err(err, err_len, "%s member \"%s\" is \"%.40s\", expected \"%s\"", where, name,
		        value, expected);
		return -1;
	}
	return 0;
}

static int parse_header(json_t *header, struct byok_file *f, char *err, size_t err_len)
{
	static const char *const names[] = {"kid", "alg", "enc"};
	const char *kid;

	if (!json_is_object(header)) {
		set_err(err, err_len, "member \"header\" is not an object");
		return -1;
	}
	if (check_members(header, "header", names, 3, err, err_len) != 0)
		return -1;
	if (check_fixed(header, "header", "alg", BYOK_ALG, err, err_len) != 0 ||
	    check_fixed(header, "header", "enc", BYOK_ENC, err, err_len) != 0)
		return -1;
	kid = get_string(header, "header", "kid", err, err_len);
	if (!kid)
		return -1;
	if (kid[0] == '\0') {
		set_err(err, err_len, "header member \"kid\" is empty");
		return -1;
	}
	f->kid = strdup(kid);
	return f->kid ? 0 : -1;
}

static int parse_root(json_t *root, struct byok_file *f, char *err, size_t err_len)
{
	static const char *const names[] = {"schema_version", "header", "ciphertext", "generator"};
	const char *text, *generator;

	if (!json_is_object(root)) {
		set_err(err, err_len, "the top level is not a JSON object");
		return -1;
	}
	if (check_members(root, "the top level", names, 4, err, err_len) != 0 ||
	    check_fixed(root, "the top level", "schema_version", BYOK_SCHEMA_VERSION, err,
	                err_len) != 0)
		return -1;
	if (parse_header(json_object_get(root, "header"), f, err, err_len) != 0)
		return -1;
	generator = get_string(root, "the top level", "generator", err, err_len);
	if (!generator)
		return -1;
	f->generator = strdup(generator);
	text = get_string(root, "the top level", "ciphertext", err, err_len);
	if (!f->generator || !text)
		return -1;
	if (byok_base64url_decode(text, &f->ciphertext, &f->ciphertext_len) != 0) {
		set_err(
		    err, err_len,
		    "member \"ciphertext\" is not base64url without padding (RFC 4648 section 5)");
		return -1;
	}
	if (f->ciphertext_len == 0) {
		set_err(err, err_len, "member \"ciphertext\" is empty");
		return -1;
	}
	return 0;
}

int byok_file_parse(const char *json, size_t len, struct byok_file *f, char *err, size_t err_len)
{
	json_error_t jerr;
	json_t *root;
	int ret;

	memset(f, 0, sizeof(*f));
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		set_err(err, err_len, "invalid JSON at line %d, column %d: %s", jerr.line,
		        jerr.column, jerr.text);
		return -1;
	}
	ret = parse_root(root, f, err, err_len);
	json_decref(root);
	if (ret != 0)
		byok_file_cleanup(f);
	return ret;
}

int byok_file_read(const char *path, struct byok_file *f, char *err, size_t err_len)
{
	char *buf = NULL, reason[256];
	size_t len;
	FILE *fp;
	int ret = -1;

	memset(f, 0, sizeof(*f));
	fp = fopen(path, "rb");
	if (!fp) {
		set_err(err, err_len, "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(BYOK_FILE_MAX + 1);
	if (!buf)
		goto out;
	len = fread(buf, 1, BYOK_FILE_MAX + 1, fp);
	if (ferror(fp)) {
		set_err(err, err_len, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	if (len > BYOK_FILE_MAX) {
		set_err(err, err_len, "'%s' is larger than %d bytes; it is not a .byok file", path,
		        BYOK_FILE_MAX);
		goto out;
	}
	if (byok_file_parse(buf, len, f, reason, sizeof(reason)) != 0) {
		set_err(err, err_len, "'%s' is not a valid .byok file: %s", path, reason);
		goto out;
	}
	ret = 0;
out:
	free(buf);
	fclose(fp);
	return ret;
}

char *byok_file_format(const struct byok_file *f)
{
	char *ciphertext = byok_base64url_encode(f->ciphertext, f->ciphertext_len);
	json_t *root = NULL;
	char *text = NULL;

	if (!ciphertext)
		return NULL;
	root = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:s}", "schema_version",
	                 BYOK_SCHEMA_VERSION, "header", "kid", f->kid, "alg", BYOK_ALG, "enc",
	                 BYOK_ENC, "ciphertext", ciphertext, "generator", f->generator);
	if (root)
		text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	free(ciphertext);
	return text;
}

static int fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd, ret;

	if (!copy)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
	free(copy);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

int byok_write_file_atomic(const char *path, const void *data, size_t len, unsigned int mode)
{
	size_t tmp_len = strlen(path) + 16;
	char *tmp = malloc(tmp_len);
	int fd = -1, ret = -1, saved;

	if (!tmp)
		return -1;
	snprintf(tmp, tmp_len, "%s.tmpXXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		goto out;
	if (fchmod(fd, (mode_t)mode) != 0)
		goto out;
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, (const char *)data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		done += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	ret = fsync_dir_of(path);
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (ret != 0)
		unlink(tmp);
	free(tmp);
	errno = saved;
	return ret;
}

int byok_file_write(const char *path, const struct byok_file *f, char *err, size_t err_len)
{
	char *text = byok_file_format(f);
	size_t len;
	int ret;

	if (!text) {
		set_err(err, err_len, "out of memory while formatting '%s'", path);
		return -1;
	}
	len = strlen(text);
	text[len] = '\n';
	ret = byok_write_file_atomic(path, text, len + 1, 0644);
	if (ret != 0)
		set_err(err, err_len, "cannot write '%s': %s", path, strerror(errno));
	free(text);
	return ret;
}

void byok_file_cleanup(struct byok_file *f)
{
	free(f->kid);
	free(f->generator);
	free(f->ciphertext);
	memset(f, 0, sizeof(*f));
}
