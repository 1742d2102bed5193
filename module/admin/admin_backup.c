/*
 * backup and restore: the backend's store, encrypted under a key that the
 * token derives from the security-domain key for each backup file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "hsmux/admin.h"
#include "module/admin/admin.h"
#include "module/trace.h"
#include "module/admin/admin_backup.h"
#include "module/admin/backup_file.h"

struct backup_ctx {
	struct sd_tok *t;
	CK_OBJECT_HANDLE sd_key;
	const char *fingerprint;
	json_t *objects;
	FILE *out;
	struct bk_writer *w;
};

/* Starts the file over with a new salt, so no key and IV pair is ever used twice. */
static CK_RV backup_begin(void *p)
{
	struct backup_ctx *c = p;
	unsigned char salt[BK_SALT_LEN], key[SD_KEY_LEN];
	json_t *header;
	CK_RV rv;

	bk_writer_free(c->w);
	c->w = NULL;
	if (fflush(c->out) != 0 || ftruncate(fileno(c->out), 0) != 0 || fseek(c->out, 0, SEEK_SET))
		return CKR_DEVICE_ERROR;
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return CKR_GENERAL_ERROR;
	rv = sd_tok_prf(c->t, c->sd_key, SD_LABEL_BACKUP_KEY, salt, sizeof(salt), key);
	if (rv != CKR_OK)
		return rv;
	header = bk_header_build(c->t->be->ops->type, c->fingerprint, salt,
	                         sd_token_id_json(&c->t->id), json_incref(c->objects));
	c->w = header ? bk_writer_new(c->out, header, key) : NULL;
	json_decref(header);
	OPENSSL_cleanse(key, sizeof(key));
	return c->w ? CKR_OK : CKR_DEVICE_ERROR;
}

static CK_RV backup_file(void *p, const char *name, const unsigned char *data, CK_ULONG len)
{
	struct backup_ctx *c = p;

	return bk_writer_file(c->w, name, data, len) ? CKR_OK : CKR_DEVICE_ERROR;
}

/* Writes the backup to a temporary file beside out_path and renames it when complete. */
static CK_RV backup_write(struct backup_ctx *c, const char *out_path, char *err, size_t err_len)
{
	char tmp[PATH_MAX];
	int fd;
	CK_RV rv;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", out_path) >= (int)sizeof(tmp))
		return sd_fail(CKR_ARGUMENTS_BAD, err, err_len, "the path '%s' is too long",
		               out_path);
	fd = mkostemp(tmp, O_CLOEXEC);
	c->out = fd >= 0 ? fdopen(fd, "w+b") : NULL;
	if (!c->out) {
		if (fd >= 0)
			close(fd);
		return sd_fail(CKR_DEVICE_ERROR, err, err_len,
		               "cannot create a file beside "
		               "'%s': %s",
		               out_path, strerror(errno));
	}
	rv = c->t->be->ops->backup_export(c->t->be, c->t->bslot, backup_begin, backup_file, c);
	if (rv == CKR_OK &&
	    (!bk_writer_finish(c->w) || fflush(c->out) != 0 || fsync(fileno(c->out)) != 0))
		rv = CKR_DEVICE_ERROR;
	if (fclose(c->out) != 0 && rv == CKR_OK)
		rv = CKR_DEVICE_ERROR;
	if (rv == CKR_OK && (rename(tmp, out_path) != 0 || sd_fsync_parent(out_path) != 0))
		rv = CKR_DEVICE_ERROR;
	if (rv != CKR_OK) {
		unlink(tmp);
		sd_fail(rv, err, err_len, "the backup of token '%s' to '%s' failed (%s)%s",
		        c->t->id.label, out_path, hsmux_rv_name(rv),
		        rv == CKR_DEVICE_ERROR ? ": the store kept changing or a write failed"
		                               : "");
	}
	return rv;
}

CK_RV admin_backup(CK_SESSION_HANDLE session, const char *out_path, char *err, size_t err_len)
{
	struct sd_tok t;
	char fp[SD_FP_HEX_LEN];
	struct backup_ctx c = {.t = &t, .fingerprint = fp};
	CK_RV rv;

	if (!out_path || !err)
		return CKR_ARGUMENTS_BAD;
	err[0] = '\0';
	rv = sd_tok_open(session, &t, err, err_len);
	if (rv == CKR_OK)
		rv = admin_sd_key(&t, &c.sd_key, err, err_len);
	if (rv == CKR_OK && !t.be->ops->backup_export)
		rv = sd_fail(CKR_FUNCTION_NOT_SUPPORTED, err, err_len,
		             "backend '%s' (type %s) "
		             "cannot export its store, so token '%s' cannot be backed up",
		             t.be->name, t.be->ops->type, t.id.label);
	if (rv == CKR_OK)
		rv = sd_tok_fingerprint(&t, c.sd_key, fp);
	if (rv == CKR_OK && !(c.objects = admin_manifest_objects(&t)))
		rv = sd_fail(CKR_HOST_MEMORY, err, err_len,
		             "listing the objects of token '%s' "
		             "failed",
		             t.id.label);
	if (rv == CKR_OK)
		rv = backup_write(&c, out_path, err, err_len);
	bk_writer_free(c.w);
	json_decref(c.objects);
	return rv;
}

struct restore_ctx {
	struct bk_reader *r;
	char name[BK_NAME_MAX + 1];
	char *err;
	size_t err_len;
};

static CK_RV restore_next(void *p, const char **name, const unsigned char **data, CK_ULONG *len)
{
	struct restore_ctx *c = p;
	size_t n = 0;

	switch (bk_reader_next(c->r, c->name, data, &n, c->err, c->err_len)) {
	case BK_NEXT_FILE:
		*name = c->name;
		*len = n;
		return CKR_OK;
	case BK_NEXT_END:
		*name = NULL;
		return CKR_OK;
	default:
		return CKR_DATA_INVALID;
	}
}

/* Checks the manifest against the token and gives the reader its key. */
static CK_RV restore_check(struct sd_tok *t, struct bk_reader *r, const char *in_path, char *err,
                           size_t err_len)
{
	const struct bk_header *h = bk_reader_header(r);
	unsigned char key[SD_KEY_LEN];
	CK_OBJECT_HANDLE sd_key;
	char fp[SD_FP_HEX_LEN];
	CK_RV rv = admin_sd_key(t, &sd_key, err, err_len);

	if (rv == CKR_OK)
		rv = sd_tok_fingerprint(t, sd_key, fp);
	if (rv != CKR_OK)
		return rv;
	if (strcmp(h->backend, t->be->ops->type) != 0)
		return sd_fail(CKR_DATA_INVALID, err, err_len,
		               "'%s' is a backup of a %s token, "
		               "but token '%s' is on a %s backend",
		               in_path, h->backend, t->id.label, t->be->ops->type);
	if (strcmp(h->sd_fingerprint, fp) != 0)
		return sd_fail(CKR_DATA_INVALID, err, err_len,
		               "'%s' belongs to security domain "
		               "%.16s, but token '%s' has security domain %.16s; upload that "
		               "security domain to a new token first",
		               in_path, h->sd_fingerprint, t->id.label, fp);
	rv = sd_tok_prf(t, sd_key, SD_LABEL_BACKUP_KEY, h->salt, BK_SALT_LEN, key);
	if (rv == CKR_OK && !bk_reader_set_key(r, key))
		rv = CKR_HOST_MEMORY;
	OPENSSL_cleanse(key, sizeof(key));
	return rv;
}

static CK_RV restore_from(struct sd_tok *t, FILE *in, const char *in_path, char *err,
                          size_t err_len)
{
	char reason[256] = "";
	struct restore_ctx c = {.name = "", .err = reason, .err_len = sizeof(reason)};
	CK_RV rv;

	c.r = bk_reader_open(in, reason, sizeof(reason));
	if (!c.r)
		return sd_fail(CKR_DATA_INVALID, err, err_len, "'%s' is refused: %s", in_path,
		               reason);
	rv = restore_check(t, c.r, in_path, err, err_len);
	if (rv == CKR_OK) {
		rv = t->be->ops->backup_import(t->be, t->bslot, restore_next, &c);
		if (rv == CKR_OK)
			hsmux_session_remove_slot(t->vslot);
		else if (reason[0])
			sd_fail(rv, err, err_len, "'%s' is refused and token '%s' is unchanged: %s",
			        in_path, t->id.label, reason);
		else
			sd_fail(rv, err, err_len, "restoring '%s' into token '%s' failed (%s)",
			        in_path, t->id.label, hsmux_rv_name(rv));
	}
	bk_reader_free(c.r);
	return rv;
}

CK_RV admin_restore(CK_SESSION_HANDLE session, const char *in_path, char *err, size_t err_len)
{
	struct sd_tok t;
	FILE *in;
	CK_RV rv;

	if (!in_path || !err)
		return CKR_ARGUMENTS_BAD;
	err[0] = '\0';
	rv = sd_tok_open(session, &t, err, err_len);
	if (rv != CKR_OK)
		return rv;
	if (!t.be->ops->backup_import)
		return sd_fail(CKR_FUNCTION_NOT_SUPPORTED, err, err_len,
		               "backend '%s' (type %s) "
		               "cannot import a store, so token '%s' cannot be restored",
		               t.be->name, t.be->ops->type, t.id.label);
	in = fopen(in_path, "rb");
	if (!in)
		return sd_fail(CKR_ARGUMENTS_BAD, err, err_len, "cannot read '%s': %s", in_path,
		               strerror(errno));
	rv = restore_from(&t, in, in_path, err, err_len);
	fclose(in);
	return rv;
}
