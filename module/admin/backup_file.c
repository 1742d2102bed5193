/* Writing and reading the chunked, authenticated hsmux backup file. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "module/admin/backup_file.h"
#include "module/admin/sd_share.h"

#define BK_MAGIC      "HSMUXBK1"
#define BK_MAGIC_LEN  8
#define BK_FORMAT     "hsmux-backup"
#define BK_FLAG_FINAL 0x01
#define BK_ENTRY_END  0
#define BK_ENTRY_FILE 1

struct bk_writer {
	FILE *out;
	struct sd_secret key;
	unsigned char header_hash[SHA256_DIGEST_LENGTH];
	unsigned char *buf; /* plaintext of the chunk being filled */
	size_t used;
	uint64_t index;
	bool failed;
};

struct bk_reader {
	FILE *in;
	struct bk_header header;
	struct sd_secret key;
	unsigned char header_hash[SHA256_DIGEST_LENGTH];
	unsigned char *chunk; /* plaintext of the current chunk */
	size_t chunk_len, pos;
	unsigned char *ct;
	uint64_t index;
	bool have_key, final_seen;
	unsigned char *file; /* the current file's data */
};

static void put_be(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t get_be(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v = (v << 8) | p[i];
	return v;
}

static void chunk_iv_aad(const unsigned char *header_hash, uint64_t index, unsigned char flags,
                         unsigned char iv[SD_GCM_IV_LEN],
                         unsigned char aad[SHA256_DIGEST_LENGTH + 9])
{
	memset(iv, 0, SD_GCM_IV_LEN);
	put_be(iv + 4, index, 8);
	memcpy(aad, header_hash, SHA256_DIGEST_LENGTH);
	put_be(aad + SHA256_DIGEST_LENGTH, index, 8);
	aad[SHA256_DIGEST_LENGTH + 8] = flags;
}

json_t *bk_header_build(const char *backend, const char *sd_fingerprint,
                        const unsigned char salt[BK_SALT_LEN], json_t *token, json_t *objects)
{
	char created[32], *salt_b64 = sd_b64_encode(salt, BK_SALT_LEN);
	json_t *h = NULL;

	sd_utc_now(created, sizeof(created));
	if (salt_b64 && json_is_array(objects))
		h = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:i, s:o, s:I, s:O}", "format",
		              BK_FORMAT, "version", BK_FORMAT_VERSION, "backend", backend,
		              "created", created, "sd_fingerprint", sd_fingerprint, "salt",
		              salt_b64, "chunk_size", BK_CHUNK_SIZE, "token", token, "object_count",
		              (json_int_t)json_array_size(objects), "objects", objects);
	else
		json_decref(token);
	json_decref(objects);
	free(salt_b64);
	return h;
}

static void header_hash(const unsigned char *prefix, const char *text, size_t len,
                        unsigned char out[SHA256_DIGEST_LENGTH])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	/* On failure the hash stays zero and every chunk fails authentication. */
	memset(out, 0, SHA256_DIGEST_LENGTH);
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, prefix, BK_MAGIC_LEN + 4) != 1 ||
	    EVP_DigestUpdate(c, text, len) != 1 || EVP_DigestFinal_ex(c, out, NULL) != 1)
		memset(out, 0, SHA256_DIGEST_LENGTH);
	EVP_MD_CTX_free(c);
}

struct bk_writer *bk_writer_new(FILE *out, const json_t *header, const unsigned char *key)
{
	struct bk_writer *w = calloc(1, sizeof(*w));
	unsigned char prefix[BK_MAGIC_LEN + 4];
	char *text = sd_json_canonical(header, false);
	size_t len = text ? strlen(text) : 0;

	if (!w || !text || len > BK_HEADER_MAX || !sd_secret_init(&w->key, SD_KEY_LEN))
		goto fail;
	w->buf = malloc(BK_CHUNK_SIZE);
	if (!w->buf)
		goto fail;
	memcpy(w->key.data, key, SD_KEY_LEN);
	w->out = out;
	memcpy(prefix, BK_MAGIC, BK_MAGIC_LEN);
	put_be(prefix + BK_MAGIC_LEN, len, 4);
	header_hash(prefix, text, len, w->header_hash);
	if (fwrite(prefix, 1, sizeof(prefix), out) != sizeof(prefix) ||
	    fwrite(text, 1, len, out) != len)
		goto fail;
	free(text);
	return w;
fail:
	free(text);
	bk_writer_free(w);
	return NULL;
}

static bool emit_chunk(struct bk_writer *w, unsigned char flags)
{
	unsigned char iv[SD_GCM_IV_LEN], aad[SHA256_DIGEST_LENGTH + 9];
	unsigned char frame[5], tag[SD_GCM_TAG_LEN];
	unsigned char *ct = malloc(w->used ? w->used : 1);
	bool ok;

	if (!ct)
		return false;
	chunk_iv_aad(w->header_hash, w->index, flags, iv, aad);
	frame[0] = flags;
	put_be(frame + 1, w->used, 4);
	ok = sd_gcm_encrypt(w->key.data, iv, aad, sizeof(aad), w->buf, w->used, ct, tag) &&
	     fwrite(frame, 1, sizeof(frame), w->out) == sizeof(frame) &&
	     fwrite(ct, 1, w->used, w->out) == w->used &&
	     fwrite(tag, 1, sizeof(tag), w->out) == sizeof(tag);
	free(ct);
	OPENSSL_cleanse(w->buf, w->used);
	w->used = 0;
	w->index++;
	return ok;
}

static bool writer_put(struct bk_writer *w, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len && !w->failed) {
		size_t n = BK_CHUNK_SIZE - w->used;

		if (n == 0) {
			w->failed = !emit_chunk(w, 0);
			continue;
		}
		if (n > len)
			n = len;
		memcpy(w->buf + w->used, p, n);
		w->used += n;
		p += n;
		len -= n;
	}
	return !w->failed;
}

bool bk_writer_file(struct bk_writer *w, const char *name, const unsigned char *data, size_t len)
{
	unsigned char head[3], size[8];
	size_t name_len = strlen(name);

	if (name_len == 0 || name_len > BK_NAME_MAX || len > BK_FILE_MAX)
		return false;
	head[0] = BK_ENTRY_FILE;
	put_be(head + 1, name_len, 2);
	put_be(size, len, 8);
	return writer_put(w, head, sizeof(head)) && writer_put(w, name, name_len) &&
	       writer_put(w, size, sizeof(size)) && writer_put(w, data, len);
}

bool bk_writer_finish(struct bk_writer *w)
{
	unsigned char end = BK_ENTRY_END;

	if (!writer_put(w, &end, 1))
		return false;
	/* The end marker is in the final chunk, so the final chunk is never empty. */
	w->failed = !emit_chunk(w, BK_FLAG_FINAL);
	return !w->failed && fflush(w->out) == 0;
}

void bk_writer_free(struct bk_writer *w)
{
	if (!w)
		return;
	if (w->buf)
		OPENSSL_cleanse(w->buf, BK_CHUNK_SIZE);
	free(w->buf);
	sd_secret_cleanup(&w->key);
	free(w);
}

static bool header_fields(struct bk_header *h, char *err, size_t err_len)
{
	const json_t *root = h->root;
	const char *backend = json_string_value(json_object_get(root, "backend"));
	const char *fp = json_string_value(json_object_get(root, "sd_fingerprint"));
	json_int_t chunk = json_integer_value(json_object_get(root, "chunk_size"));
	json_int_t count = json_integer_value(json_object_get(root, "object_count"));
	unsigned char *salt = sd_json_b64(root, "salt", BK_SALT_LEN, NULL);
	bool ok = false;

	if (json_object_size(root) != 10 || !backend || strlen(backend) >= sizeof(h->backend) ||
	    !fp || strlen(fp) != 64 || !salt || chunk <= 0 || chunk > (json_int_t)BK_CHUNK_MAX ||
	    !json_is_array(json_object_get(root, "objects")) ||
	    !json_is_object(json_object_get(root, "token")) ||
	    !json_is_string(json_object_get(root, "created")) ||
	    count != (json_int_t)json_array_size(json_object_get(root, "objects"))) {
		snprintf(err, err_len, "its manifest is malformed");
		goto out;
	}
	memcpy(h->backend, backend, strlen(backend) + 1);
	memcpy(h->sd_fingerprint, fp, 65);
	memcpy(h->salt, salt, BK_SALT_LEN);
	h->chunk_size = (size_t)chunk;
	h->object_count = (size_t)count;
	ok = true;
out:
	free(salt);
	return ok;
}

static bool header_parse(struct bk_header *h, const char *text, size_t len, char *err,
                         size_t err_len)
{
	const char *format;
	json_t *version;
	char *canon;
	bool same;

	h->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	canon = h->root ? sd_json_canonical(h->root, false) : NULL;
	same = canon && strlen(canon) == len && memcmp(canon, text, len) == 0;
	free(canon);
	if (!same || !json_is_object(h->root)) {
		snprintf(err, err_len, "its manifest is not valid JSON in canonical form");
		return false;
	}
	format = json_string_value(json_object_get(h->root, "format"));
	version = json_object_get(h->root, "version");
	if (!format || strcmp(format, BK_FORMAT) != 0 || !json_is_integer(version)) {
		snprintf(err, err_len, "it is not an hsmux backup");
		return false;
	}
	if (json_integer_value(version) != BK_FORMAT_VERSION) {
		snprintf(err, err_len,
		         "its format version %" JSON_INTEGER_FORMAT
		         " is not supported; this hsmux reads version %d",
		         json_integer_value(version), BK_FORMAT_VERSION);
		return false;
	}
	h->version = BK_FORMAT_VERSION;
	return header_fields(h, err, err_len);
}

struct bk_reader *bk_reader_open(FILE *in, char *err, size_t err_len)
{
	struct bk_reader *r = calloc(1, sizeof(*r));
	unsigned char prefix[BK_MAGIC_LEN + 4];
	char *text = NULL;
	size_t len;

	if (!r) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	r->in = in;
	if (fread(prefix, 1, sizeof(prefix), in) != sizeof(prefix) ||
	    memcmp(prefix, BK_MAGIC, BK_MAGIC_LEN) != 0) {
		snprintf(err, err_len, "it is not an hsmux backup (no backup magic)");
		goto fail;
	}
	len = (size_t)get_be(prefix + BK_MAGIC_LEN, 4);
	text = len <= BK_HEADER_MAX ? malloc(len + 1) : NULL;
	if (!text || fread(text, 1, len, in) != len) {
		snprintf(err, err_len, "its manifest is truncated or too large");
		goto fail;
	}
	header_hash(prefix, text, len, r->header_hash);
	if (!header_parse(&r->header, text, len, err, err_len))
		goto fail;
	r->chunk = malloc(r->header.chunk_size);
	r->ct = malloc(r->header.chunk_size);
	if (!r->chunk || !r->ct) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	free(text);
	return r;
fail:
	free(text);
	bk_reader_free(r);
	return NULL;
}

const struct bk_header *bk_reader_header(const struct bk_reader *r)
{
	return &r->header;
}

bool bk_reader_set_key(struct bk_reader *r, const unsigned char *key)
{
	if (!r->key.data && !sd_secret_init(&r->key, SD_KEY_LEN))
		return false;
	memcpy(r->key.data, key, SD_KEY_LEN);
	r->have_key = true;
	return true;
}

/* Reads and authenticates the next chunk. */
static bool next_chunk(struct bk_reader *r, char *err, size_t err_len)
{
	unsigned char frame[5], tag[SD_GCM_TAG_LEN];
	unsigned char iv[SD_GCM_IV_LEN], aad[SHA256_DIGEST_LENGTH + 9];
	size_t len;

	if (r->final_seen) {
		snprintf(err, err_len, "its archive runs past the final chunk");
		return false;
	}
	if (fread(frame, 1, sizeof(frame), r->in) != sizeof(frame)) {
		snprintf(err, err_len, "it is truncated: chunk %llu is missing",
		         (unsigned long long)r->index);
		return false;
	}
	len = (size_t)get_be(frame + 1, 4);
	if ((frame[0] & ~BK_FLAG_FINAL) != 0 || len > r->header.chunk_size) {
		snprintf(err, err_len, "chunk %llu has an invalid frame",
		         (unsigned long long)r->index);
		return false;
	}
	if (fread(r->ct, 1, len, r->in) != len ||
	    fread(tag, 1, sizeof(tag), r->in) != sizeof(tag)) {
		snprintf(err, err_len, "it is truncated inside chunk %llu",
		         (unsigned long long)r->index);
		return false;
	}
	chunk_iv_aad(r->header_hash, r->index, frame[0], iv, aad);
	if (!sd_gcm_decrypt(r->key.data, iv, aad, sizeof(aad), r->ct, len, r->chunk, tag)) {
		snprintf(err, err_len,
		         "chunk %llu fails authentication: the file was changed, "
		         "reordered or cut, or it belongs to another security domain",
		         (unsigned long long)r->index);
		return false;
	}
	r->chunk_len = len;
	r->pos = 0;
	r->index++;
	r->final_seen = (frame[0] & BK_FLAG_FINAL) != 0;
	return true;
}

static bool read_plain(struct bk_reader *r, unsigned char *out, size_t len, char *err,
                       size_t err_len)
{
	while (len) {
		size_t n = r->chunk_len - r->pos;

		if (n == 0) {
			if (!next_chunk(r, err, err_len))
				return false;
			continue;
		}
		if (n > len)
			n = len;
		memcpy(out, r->chunk + r->pos, n);
		r->pos += n;
		out += n;
		len -= n;
	}
	return true;
}

static bool name_valid(const char *name, size_t len)
{
	if (len == 0 || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

static enum bk_next read_end(struct bk_reader *r, char *err, size_t err_len)
{
	if (!r->final_seen || r->pos != r->chunk_len) {
		snprintf(err, err_len, "its archive ends before the final chunk");
		return BK_NEXT_ERROR;
	}
	if (fgetc(r->in) != EOF) {
		snprintf(err, err_len, "it has data after the final chunk");
		return BK_NEXT_ERROR;
	}
	return BK_NEXT_END;
}

enum bk_next bk_reader_next(struct bk_reader *r, char name[BK_NAME_MAX + 1],
                            const unsigned char **data, size_t *len, char *err, size_t err_len)
{
	unsigned char head[3], size[8];
	size_t name_len;
	uint64_t file_len;

	free(r->file);
	r->file = NULL;
	if (!r->have_key) {
		snprintf(err, err_len, "no backup key was set");
		return BK_NEXT_ERROR;
	}
	if (!read_plain(r, head, 1, err, err_len))
		return BK_NEXT_ERROR;
	if (head[0] == BK_ENTRY_END)
		return read_end(r, err, err_len);
	if (head[0] != BK_ENTRY_FILE || !read_plain(r, head + 1, 2, err, err_len))
		goto malformed;
	name_len = (size_t)get_be(head + 1, 2);
	if (name_len > BK_NAME_MAX || !read_plain(r, (unsigned char *)name, name_len, err, err_len))
		goto malformed;
	name[name_len] = '\0';
	if (!name_valid(name, name_len) || !read_plain(r, size, sizeof(size), err, err_len))
		goto malformed;
	file_len = get_be(size, 8);
	if (file_len > BK_FILE_MAX)
		goto malformed;
	r->file = malloc(file_len ? (size_t)file_len : 1);
	if (!r->file || !read_plain(r, r->file, (size_t)file_len, err, err_len))
		goto malformed;
	*data = r->file;
	*len = (size_t)file_len;
	return BK_NEXT_FILE;
malformed:
	if (!err[0])
		snprintf(err, err_len, "its archive is malformed");
	return BK_NEXT_ERROR;
}

void bk_reader_free(struct bk_reader *r)
{
	if (!r)
		return;
	json_decref(r->header.root);
	if (r->chunk)
		OPENSSL_cleanse(r->chunk, r->header.chunk_size);
	free(r->chunk);
	free(r->ct);
	free(r->file);
	sd_secret_cleanup(&r->key);
	free(r);
}
