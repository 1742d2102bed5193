/*
 * The token's files. store_dir/token contains the label, the serial and
 * the sealed PIN objects. store_dir/objects/ contains one file per key pair
 * (or per single object), so a key pair appears or vanishes as a whole. Writers
 * take an exclusive flock on store_dir/store.lock and readers a shared one,
 * so that two processes on the same store never see a torn state.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <tss2/tss2_mu.h>

#include "backends/tpm/tpm_file.h"
#include "backends/tpm/tpm_token.h"

#define STORE_LOCK   "store.lock"
#define TOKEN_FILE   "token"
#define KEY_SUFFIX   ".key"
#define KEY_MAGIC    0x48584b31u /* "HXK1" */
#define LOCK_WAIT_MS 10000

/* Tags of the token file, which reuses the attribute-list format. */
enum {
	TOKEN_TAG_LABEL = 1,
	TOKEN_TAG_SERIAL,
	TOKEN_TAG_SO_PUBLIC,
	TOKEN_TAG_SO_PRIVATE,
	TOKEN_TAG_USER_PUBLIC,
	TOKEN_TAG_USER_PRIVATE,
	TOKEN_TAG_SO_PRIVATE_NEXT,
};

static int lock_store(struct tpm_token *tok, bool exclusive)
{
	return tpm_file_lock(tok->store_dir, STORE_LOCK, exclusive, LOCK_WAIT_MS);
}

CK_RV tpm_store_open(struct tpm_token *tok, char *err, size_t err_len)
{
	int fd, n;
	CK_RV rv;

	n = snprintf(tok->objects_dir, sizeof(tok->objects_dir), "%s/objects", tok->store_dir);
	if (n < 0 || (size_t)n >= sizeof(tok->objects_dir)) {
		snprintf(err, err_len, "store directory '%s' is too long", tok->store_dir);
		return CKR_GENERAL_ERROR;
	}
	if (tpm_file_mkdir(tok->store_dir) != 0 || tpm_file_mkdir(tok->objects_dir) != 0) {
		snprintf(err, err_len, "cannot create the store directory '%s': %s",
		         tok->objects_dir, strerror(errno));
		return CKR_GENERAL_ERROR;
	}

	fd = lock_store(tok, true);
	if (fd < 0) {
		snprintf(err, err_len, "cannot lock '%s/%s': %s", tok->store_dir, STORE_LOCK,
		         strerror(-fd));
		return CKR_GENERAL_ERROR;
	}
	tpm_file_remove_temporaries(tok->store_dir);
	tpm_file_remove_temporaries(tok->objects_dir);
	rv = tpm_store_load_token_locked(tok);
	close(fd);
	if (rv != CKR_OK)
		snprintf(err, err_len,
		         "the token file '%s/%s' is damaged; move it away and run "
		         "C_InitToken again",
		         tok->store_dir, TOKEN_FILE);
	return rv;
}

static CK_RV marshal_public(struct tpm_attrs *a, CK_ATTRIBUTE_TYPE tag, const TPM2B_PUBLIC *pub)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC)];
	size_t off = 0;

	if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return CKR_GENERAL_ERROR;
	return tpm_attrs_set(a, tag, buf, off);
}

static CK_RV marshal_private(struct tpm_attrs *a, CK_ATTRIBUTE_TYPE tag, const TPM2B_PRIVATE *p)
{
	uint8_t buf[sizeof(TPM2B_PRIVATE)];
	size_t off = 0;

	if (Tss2_MU_TPM2B_PRIVATE_Marshal(p, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return CKR_GENERAL_ERROR;
	return tpm_attrs_set(a, tag, buf, off);
}

static bool unmarshal_public(const struct tpm_attrs *a, CK_ATTRIBUTE_TYPE tag, TPM2B_PUBLIC *pub)
{
	const CK_ATTRIBUTE *attr = tpm_attrs_find(a, tag);
	size_t off = 0;

	memset(pub, 0, sizeof(*pub));
	if (!attr)
		return false;
	return Tss2_MU_TPM2B_PUBLIC_Unmarshal(attr->pValue, attr->ulValueLen, &off, pub) ==
	       TSS2_RC_SUCCESS;
}

static bool unmarshal_private(const struct tpm_attrs *a, CK_ATTRIBUTE_TYPE tag, TPM2B_PRIVATE *p)
{
	const CK_ATTRIBUTE *attr = tpm_attrs_find(a, tag);
	size_t off = 0;

	memset(p, 0, sizeof(*p));
	if (!attr)
		return false;
	return Tss2_MU_TPM2B_PRIVATE_Unmarshal(attr->pValue, attr->ulValueLen, &off, p) ==
	       TSS2_RC_SUCCESS;
}

CK_RV tpm_store_load_token_locked(struct tpm_token *tok)
{
	struct tpm_attrs a = {0};
	const CK_ATTRIBUTE *label, *serial;
	uint8_t *buf = NULL;
	size_t len = 0, pos = 0;
	CK_RV rv = CKR_DEVICE_ERROR;
	int err;

	tok->initialized = false;
	err = tpm_file_read(tok->store_dir, TOKEN_FILE, &buf, &len);
	if (err == ENOENT)
		return CKR_OK;
	if (err)
		return CKR_DEVICE_ERROR;
	if (tpm_attrs_parse(buf, len, &pos, &a) != CKR_OK)
		goto out;

	label = tpm_attrs_find(&a, TOKEN_TAG_LABEL);
	serial = tpm_attrs_find(&a, TOKEN_TAG_SERIAL);
	if (!label || label->ulValueLen != sizeof(tok->label) || !serial ||
	    serial->ulValueLen != sizeof(tok->serial))
		goto out;
	if (!unmarshal_public(&a, TOKEN_TAG_SO_PUBLIC, &tok->so_public) ||
	    !unmarshal_private(&a, TOKEN_TAG_SO_PRIVATE, &tok->so_private))
		goto out;
	if (!unmarshal_private(&a, TOKEN_TAG_SO_PRIVATE_NEXT, &tok->so_private_next))
		tok->so_private_next.size = 0;
	/* No user blobs means the user PIN is not set yet. */
	if (!unmarshal_public(&a, TOKEN_TAG_USER_PUBLIC, &tok->user_public) ||
	    !unmarshal_private(&a, TOKEN_TAG_USER_PRIVATE, &tok->user_private))
		tok->user_private.size = 0;
	memcpy(tok->label, label->pValue, sizeof(tok->label));
	memcpy(tok->serial, serial->pValue, sizeof(tok->serial));
	tok->initialized = true;
	rv = CKR_OK;
out:
	tpm_attrs_cleanup(&a);
	free(buf);
	return rv;
}

static CK_RV token_to_attrs(const struct tpm_token *tok, struct tpm_attrs *a)
{
	CK_RV rv;

	rv = tpm_attrs_set(a, TOKEN_TAG_LABEL, tok->label, sizeof(tok->label));
	if (rv == CKR_OK)
		rv = tpm_attrs_set(a, TOKEN_TAG_SERIAL, tok->serial, sizeof(tok->serial));
	if (rv == CKR_OK)
		rv = marshal_public(a, TOKEN_TAG_SO_PUBLIC, &tok->so_public);
	if (rv == CKR_OK)
		rv = marshal_private(a, TOKEN_TAG_SO_PRIVATE, &tok->so_private);
	if (rv == CKR_OK && tok->so_private_next.size > 0)
		rv = marshal_private(a, TOKEN_TAG_SO_PRIVATE_NEXT, &tok->so_private_next);
	if (rv == CKR_OK && tok->user_private.size > 0)
		rv = marshal_public(a, TOKEN_TAG_USER_PUBLIC, &tok->user_public);
	if (rv == CKR_OK && tok->user_private.size > 0)
		rv = marshal_private(a, TOKEN_TAG_USER_PRIVATE, &tok->user_private);
	return rv;
}

CK_RV tpm_store_save_token_locked(struct tpm_token *tok)
{
	struct tpm_attrs a = {0};
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd;
	CK_RV rv;

	rv = token_to_attrs(tok, &a);
	if (rv == CKR_OK)
		rv = tpm_attrs_serialize(&a, &buf, &len);
	tpm_attrs_cleanup(&a);
	if (rv != CKR_OK)
		return rv;

	fd = lock_store(tok, true);
	if (fd < 0) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	if (tpm_file_write_atomic(tok->store_dir, TOKEN_FILE, buf, len) != 0)
		rv = CKR_DEVICE_ERROR;
	close(fd);
out:
	free(buf);
	return rv;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Key file format: u32 magic, the token serial (so that files of an
 * earlier C_InitToken are ignored), u32 count, then count attribute lists.
 * A private data object's list has TPM_CKA_SEALED_VALUE, which carries its
 * own version byte, in place of CKA_VALUE (tpm_data.h). Files without it
 * read as before, so the magic stays.
 */
static CK_RV serialize_key_file(const struct tpm_token *tok, struct tpm_object *const *objs,
                                size_t n, uint8_t **out, size_t *out_len)
{
	uint8_t *buf = malloc(8 + TPM_SERIAL_LEN);
	size_t len = 8 + TPM_SERIAL_LEN;
	CK_RV rv = CKR_OK;

	if (!buf)
		return CKR_HOST_MEMORY;
	put_u32(buf, KEY_MAGIC);
	memcpy(buf + 4, tok->serial, TPM_SERIAL_LEN);
	put_u32(buf + 4 + TPM_SERIAL_LEN, (uint32_t)n);

	for (size_t i = 0; i < n && rv == CKR_OK; i++) {
		uint8_t *part = NULL, *grown;
		size_t part_len = 0;

		rv = tpm_attrs_serialize(&objs[i]->attrs, &part, &part_len);
		if (rv != CKR_OK)
			break;
		grown = realloc(buf, len + part_len);
		if (grown) {
			buf = grown;
			memcpy(buf + len, part, part_len);
			len += part_len;
		} else {
			rv = CKR_HOST_MEMORY;
		}
		OPENSSL_cleanse(part, part_len);
		free(part);
	}
	if (rv != CKR_OK) {
		free(buf);
		return rv;
	}
	*out = buf;
	*out_len = len;
	return CKR_OK;
}

static int stat_key_file(const struct tpm_token *tok, const char *file, struct stat *st)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", tok->objects_dir, file);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	return stat(path, st);
}

/* Copies a key file name, which is_key_file() has checked to fit. */
static void set_file_name(struct tpm_object *obj, const char *file)
{
	size_t len = strnlen(file, sizeof(obj->file) - 1);

	memcpy(obj->file, file, len);
	obj->file[len] = '\0';
}

static void note_file_stat(struct tpm_token *tok, const char *file)
{
	struct stat st;

	if (stat_key_file(tok, file, &st) != 0)
		return;
	for (size_t i = 0; i < tok->n_objects; i++) {
		if (strcmp(tok->objects[i]->file, file) == 0) {
			tok->objects[i]->mtime = st.st_mtim;
			tok->objects[i]->ino = st.st_ino;
		}
	}
}

/* Writes the objects that share file, in index order, under an exclusive store lock. */
static CK_RV write_key_file(struct tpm_token *tok, const char *file, struct tpm_object *const *objs,
                            size_t n)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	CK_RV rv;
	int fd;

	rv = serialize_key_file(tok, objs, n, &buf, &len);
	if (rv != CKR_OK)
		return rv;
	fd = lock_store(tok, true);
	if (fd < 0) {
		rv = CKR_DEVICE_ERROR;
	} else {
		if (tpm_file_write_atomic(tok->objects_dir, file, buf, len) != 0)
			rv = CKR_DEVICE_ERROR;
		close(fd);
	}
	OPENSSL_cleanse(buf, len);
	free(buf);
	return rv;
}

CK_RV tpm_store_name_new(struct tpm_object **objs, size_t n)
{
	unsigned char id[8];
	char file[64];

	if (RAND_bytes(id, sizeof(id)) != 1)
		return CKR_FUNCTION_FAILED;
	for (size_t i = 0; i < sizeof(id); i++)
		snprintf(file + 2 * i, 3, "%02x", id[i]);
	memcpy(file + 2 * sizeof(id), KEY_SUFFIX, sizeof(KEY_SUFFIX));
	for (size_t i = 0; i < n; i++) {
		set_file_name(objs[i], file);
		objs[i]->index = (unsigned int)i;
	}
	return CKR_OK;
}

CK_RV tpm_store_add_locked(struct tpm_token *tok, struct tpm_object **objs, size_t n)
{
	bool named_here = objs[0]->file[0] == '\0';
	struct stat st;
	CK_RV rv = CKR_OK;

	if (named_here)
		rv = tpm_store_name_new(objs, n);
	if (rv == CKR_OK)
		rv = write_key_file(tok, objs[0]->file, objs, n);
	if (rv != CKR_OK) {
		/* An object without a file is a session object, so leave none half-named. */
		for (size_t i = 0; i < n && named_here; i++)
			objs[i]->file[0] = '\0';
		return rv;
	}

	/* The objects are not in the table yet, so note_file_stat() would miss them. */
	if (stat_key_file(tok, objs[0]->file, &st) != 0)
		memset(&st, 0, sizeof(st));
	for (size_t i = 0; i < n; i++) {
		objs[i]->mtime = st.st_mtim;
		objs[i]->ino = st.st_ino;
	}
	return CKR_OK;
}

/* The objects of the table that live in file, in index order; returns how many (at most 2). */
static size_t file_siblings(struct tpm_token *tok, const char *file, struct tpm_object **out)
{
	size_t n = 0;

	for (unsigned int idx = 0; idx < 2; idx++) {
		for (size_t i = 0; i < tok->n_objects; i++) {
			struct tpm_object *o = tok->objects[i];

			if (strcmp(o->file, file) == 0 && o->index == idx)
				out[n++] = o;
		}
	}
	return n;
}

CK_RV tpm_store_update_locked(struct tpm_token *tok, struct tpm_object *obj)
{
	struct tpm_object *sib[2];
	size_t n;
	CK_RV rv;

	if (!obj->file[0])
		return CKR_OK;
	n = file_siblings(tok, obj->file, sib);
	rv = write_key_file(tok, obj->file, sib, n);
	if (rv == CKR_OK)
		note_file_stat(tok, obj->file);
	return rv;
}

CK_RV tpm_store_destroy_locked(struct tpm_token *tok, struct tpm_object *obj)
{
	struct tpm_object *sib[2], *rest[1];
	size_t n, n_rest = 0;
	CK_RV rv = CKR_OK;
	int fd;

	if (obj->file[0]) {
		n = file_siblings(tok, obj->file, sib);
		for (size_t i = 0; i < n; i++) {
			if (sib[i] != obj && n_rest < 1)
				rest[n_rest++] = sib[i];
		}
		if (n_rest > 0) {
			rest[0]->index = 0;
			rv = write_key_file(tok, obj->file, rest, n_rest);
			note_file_stat(tok, obj->file);
		} else {
			fd = lock_store(tok, true);
			if (fd < 0 ||
			    (tpm_file_remove(tok->objects_dir, obj->file) != 0 && errno != ENOENT))
				rv = CKR_DEVICE_ERROR;
			if (fd >= 0)
				close(fd);
		}
	}
	if (rv != CKR_OK)
		return rv;
	tpm_object_unregister_locked(tok, obj);
	tpm_object_free(tok, obj);
	return CKR_OK;
}

static bool is_key_file(const char *name)
{
	size_t len = strlen(name), suffix = strlen(KEY_SUFFIX);

	return name[0] != '.' && len > suffix && strcmp(name + len - suffix, KEY_SUFFIX) == 0 &&
	       len < sizeof(((struct tpm_object *)0)->file);
}

CK_RV tpm_store_clear_locked(struct tpm_token *tok)
{
	DIR *d;
	struct dirent *e;
	int fd = lock_store(tok, true);

	if (fd < 0)
		return CKR_DEVICE_ERROR;
	d = opendir(tok->objects_dir);
	while (d && (e = readdir(d)) != NULL) {
		if (is_key_file(e->d_name))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	if (d)
		closedir(d);
	close(fd);

	for (size_t i = tok->n_objects; i > 0; i--) {
		struct tpm_object *obj = tok->objects[i - 1];

		tpm_object_unregister_locked(tok, obj);
		tpm_object_free(tok, obj);
	}
	return CKR_OK;
}

/* Parses a key file and registers its objects. Stale or damaged files are skipped. */
static void load_key_file(struct tpm_token *tok, const char *file, const struct stat *st)
{
	uint8_t *buf = NULL;
	size_t len = 0, pos = 8 + TPM_SERIAL_LEN;
	uint32_t count;

	if (tpm_file_read(tok->objects_dir, file, &buf, &len) != 0)
		return;
	if (len < pos || get_u32(buf) != KEY_MAGIC ||
	    memcmp(buf + 4, tok->serial, TPM_SERIAL_LEN) != 0)
		goto out;
	count = get_u32(buf + 4 + TPM_SERIAL_LEN);
	if (count < 1 || count > 2)
		goto out;

	for (uint32_t i = 0; i < count; i++) {
		struct tpm_object *obj = tpm_object_new();

		if (!obj)
			break;
		if (tpm_attrs_parse(buf, len, &pos, &obj->attrs) != CKR_OK ||
		    tpm_object_register_locked(tok, obj) != CKR_OK) {
			tpm_object_free(tok, obj);
			break;
		}
		set_file_name(obj, file);
		obj->index = i;
		obj->mtime = st->st_mtim;
		obj->ino = st->st_ino;
	}
out:
	OPENSSL_cleanse(buf, len);
	free(buf);
}

static bool same_stat(const struct tpm_object *obj, const struct stat *st)
{
	return obj->ino == st->st_ino && obj->mtime.tv_sec == st->st_mtim.tv_sec &&
	       obj->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Drops objects whose file is gone or was rewritten by another process. */
static void drop_stale_objects(struct tpm_token *tok)
{
	struct stat st;

	for (size_t i = tok->n_objects; i > 0; i--) {
		struct tpm_object *obj = tok->objects[i - 1];

		if (!obj->file[0])
			continue;
		if (stat_key_file(tok, obj->file, &st) == 0 && same_stat(obj, &st))
			continue;
		tpm_object_unregister_locked(tok, obj);
		tpm_object_free(tok, obj);
	}
}

static bool file_known(const struct tpm_token *tok, const char *file)
{
	for (size_t i = 0; i < tok->n_objects; i++) {
		if (strcmp(tok->objects[i]->file, file) == 0)
			return true;
	}
	return false;
}

CK_RV tpm_store_refresh_locked(struct tpm_token *tok)
{
	struct dirent *e;
	struct stat st;
	DIR *d;
	int fd;

	if (!tok->initialized)
		return CKR_OK;
	fd = lock_store(tok, false);
	if (fd < 0)
		return CKR_DEVICE_ERROR;
	/* Another process may have run C_InitToken or changed a PIN. */
	if (tpm_store_load_token_locked(tok) != CKR_OK) {
		close(fd);
		return CKR_DEVICE_ERROR;
	}
	drop_stale_objects(tok);
	d = opendir(tok->objects_dir);
	while (d && (e = readdir(d)) != NULL) {
		if (!is_key_file(e->d_name) || file_known(tok, e->d_name))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, 0) == 0)
			load_key_file(tok, e->d_name, &st);
	}
	if (d)
		closedir(d);
	close(fd);
	return d ? CKR_OK : CKR_DEVICE_ERROR;
}
