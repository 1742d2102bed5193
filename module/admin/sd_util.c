/* Encoding, secret buffers, the keyed derivation and atomic writes for the security domain. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "module/admin/sd_util.h"

bool sd_secret_init(struct sd_secret *s, size_t len)
{
	s->data = calloc(1, len ? len : 1);
	s->len = len;
	s->locked = false;
	if (!s->data)
		return false;
	/* A failed mlock (RLIMIT_MEMLOCK) is not fatal: the buffer is still wiped. */
	s->locked = mlock(s->data, s->len) == 0;
	return true;
}

void sd_secret_cleanup(struct sd_secret *s)
{
	if (!s->data)
		return;
	OPENSSL_cleanse(s->data, s->len);
	if (s->locked)
		munlock(s->data, s->len);
	free(s->data);
	s->data = NULL;
	s->len = 0;
	s->locked = false;
}

unsigned char *sd_prf_message(const char *label, const unsigned char *data, size_t data_len,
                              size_t *msg_len)
{
	size_t label_len = strlen(label);
	unsigned char *msg;

	if (data_len > SIZE_MAX - label_len - 2)
		return NULL;
	msg = malloc(label_len + data_len + 2);
	if (!msg)
		return NULL;
	memcpy(msg, label, label_len);
	msg[label_len] = 0x00;
	if (data_len)
		memcpy(msg + label_len + 1, data, data_len);
	msg[label_len + 1 + data_len] = 0x01; /* HKDF-Expand's counter for the first block */
	*msg_len = label_len + data_len + 2;
	return msg;
}

bool sd_prf(const unsigned char *key, size_t key_len, const char *label, const unsigned char *data,
            size_t data_len, unsigned char out[SD_MAC_LEN])
{
	unsigned int out_len = 0;
	unsigned char *msg;
	size_t msg_len;
	bool ok;

	msg = sd_prf_message(label, data, data_len, &msg_len);
	if (!msg)
		return false;
	ok = HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &out_len) != NULL &&
	     out_len == SD_MAC_LEN;
	free(msg);
	return ok;
}

char *sd_b64_encode(const unsigned char *data, size_t len)
{
	char *out;

	if (len > (size_t)INT_MAX / 2)
		return NULL;
	out = malloc(4 * ((len + 2) / 3) + 1);
	if (!out)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

unsigned char *sd_b64_decode(const char *text, size_t *len)
{
	size_t text_len = strlen(text);
	size_t pad = 0;
	unsigned char *out;
	int n;

	if (text_len % 4 != 0 || text_len > (size_t)INT_MAX / 2)
		return NULL;
	for (size_t i = 0; i < text_len; i++) {
		char c = text[i];
		bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		             (c >= '0' && c <= '9') || c == '+' || c == '/';

		if (c == '=' && i + 2 >= text_len)
			pad++;
		else if (!alnum || pad)
			return NULL; /* EVP_DecodeBlock skips blanks; a canonical string has none */
	}
	out = malloc(text_len / 4 * 3 + 1);
	if (!out)
		return NULL;
	n = EVP_DecodeBlock(out, (const unsigned char *)text, (int)text_len);
	if (n < 0 || (size_t)n < pad) {
		free(out);
		return NULL;
	}
	*len = (size_t)n - pad;

	/* Non-zero bits after the last byte would let two texts decode alike. */
	char *again = sd_b64_encode(out, *len);
	bool same = again && strcmp(again, text) == 0;
	free(again);
	if (!same) {
		free(out);
		return NULL;
	}
	return out;
}

void sd_hex_encode(const unsigned char *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

unsigned char *sd_json_b64(const json_t *obj, const char *key, size_t want, size_t *len)
{
	const char *text = json_string_value(json_object_get(obj, key));
	unsigned char *data;
	size_t n = 0;

	if (!text)
		return NULL;
	data = sd_b64_decode(text, &n);
	if (!data)
		return NULL;
	if (want && n != want) {
		free(data);
		return NULL;
	}
	if (len)
		*len = n;
	return data;
}

char *sd_json_canonical(const json_t *doc, bool pretty)
{
	size_t flags = JSON_SORT_KEYS | JSON_ENSURE_ASCII;
	char *text, *with_newline;
	size_t len;

	text = json_dumps(doc, flags | (pretty ? JSON_INDENT(2) : JSON_COMPACT));
	if (!text || !pretty)
		return text;
	len = strlen(text);
	with_newline = realloc(text, len + 2);
	if (!with_newline) {
		free(text);
		return NULL;
	}
	with_newline[len] = '\n';
	with_newline[len + 1] = '\0';
	return with_newline;
}

json_t *sd_json_parse_canonical(const char *text, size_t len, char *err, size_t err_len)
{
	json_error_t jerr;
	json_t *doc;
	char *canon;
	bool same;

	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		snprintf(err, err_len, "invalid JSON at line %d: %s", jerr.line, jerr.text);
		return NULL;
	}
	if (!json_is_object(doc)) {
		snprintf(err, err_len, "the document is not a JSON object");
		json_decref(doc);
		return NULL;
	}
	canon = sd_json_canonical(doc, true);
	same = canon && strlen(canon) == len && memcmp(canon, text, len) == 0;
	free(canon);
	if (!same) {
		snprintf(err, err_len,
		         "the file was modified after it was written (it is not in "
		         "its canonical form); use the file exactly as hsmux wrote it");
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static int write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_file(const char *path, const void *data, size_t len, int mode, bool no_replace);

int sd_fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc, saved;

	if (!slash) {
		snprintf(dir, sizeof(dir), ".");
	} else if (slash == path) {
		snprintf(dir, sizeof(dir), "/");
	} else {
		if ((size_t)(slash - path) >= sizeof(dir)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int sd_write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
	return write_file(path, data, len, mode, false);
}

int sd_write_file_new(const char *path, const void *data, size_t len, int mode)
{
	return write_file(path, data, len, mode, true);
}

static int write_file(const char *path, const void *data, size_t len, int mode, bool no_replace)
{
	char tmp[PATH_MAX];
	int fd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fchmod(fd, mode ? (mode_t)mode : 0600) != 0 || write_all(fd, data, len) != 0 ||
	    fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, no_replace ? RENAME_NOREPLACE : 0) != 0)
		goto fail;
	return sd_fsync_parent(path);

fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

char *sd_read_file(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n == cap) {
			size_t new_cap = cap ? cap * 2 : 4096;
			char *p;

			if (cap >= max + 1) {
				errno = EFBIG;
				goto fail;
			}
			p = realloc(buf, new_cap + 1);
			if (!p)
				goto fail;
			buf = p;
			cap = new_cap;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f) || n > max) {
		errno = ferror(f) ? EIO : EFBIG;
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;

fail:
	free(buf);
	fclose(f);
	return NULL;
}

void sd_utc_now(char *out, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
