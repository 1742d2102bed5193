/*
 * Backup and restore of a libtpms token.
 *
 * A backup contains the TPM's permanent state ("tpm-permall": the seeds, so
 * the primary key and every key blob under it), the token file ("token":
 * label, serial, sealed PINs) and each key file ("key-NAME"). It is taken
 * under tok->lock, which orders it after every TPM command of this process,
 * and under a shared flock on store.lock, which orders it after every store
 * write; the libtpms state directory is locked to this process anyway. So
 * the state and the store always match.
 *
 * A restore builds the new files aside, in STORE/.hsmux-restore (the store
 * files) and STATE/.hsmux-permall (the NV state), each written and fsynced.
 * Nothing has changed until .hsmux-restore/commit exists. Then the files
 * are renamed into place, one by one, in an order that a second run can
 * repeat from any point: tpm_backup_recover() runs at every start, before
 * libtpms reads its state, and finishes a committed restore or drops one
 * that never reached its commit. A crash or kill -9 at any point therefore
 * leaves either the old token or the restored one.
 *
 * NOTE: the NV state is taken from a running TPM, so the restored TPM's
 * first start counts as a disorderly shutdown, one dictionary-attack
 * failure, as after a kill -9. An SO login clears it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "backends/tpm/tpm_backup.h"
#include "backends/tpm/tpm_crypto.h"
#include "backends/tpm/tpm_file.h"
#include "backends/tpm/tpm_mech.h"

#define STAGE_DIR    ".hsmux-restore"
#define STAGE_NV     ".hsmux-permall"
#define COMMIT_FILE  "commit"
#define OLD_OBJECTS  "objects.old"
#define NV_FILE      "permall"
#define TOKEN_FILE   "token"
#define STORE_LOCK   "store.lock"
#define STATE_LOCK   "tpm.lock"
#define LOCK_WAIT_MS 10000
#define NAME_NV      "tpm-permall"
#define NAME_KEY     "key-"
#define KEY_SUFFIX   ".key"

struct paths {
	char store[PATH_MAX], state[PATH_MAX];
	char stage[PATH_MAX], stage_objects[PATH_MAX], old_objects[PATH_MAX];
	char objects[PATH_MAX], nv_new[PATH_MAX], nv[PATH_MAX], token[PATH_MAX];
	char stage_token[PATH_MAX];
};

static bool join(char *out, const char *a, const char *b)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", a, b);

	return n > 0 && n < PATH_MAX;
}

static bool paths_init(struct paths *p, const char *store, const char *state)
{
	int n = snprintf(p->store, sizeof(p->store), "%s", store);

	if (n <= 0 || n >= (int)sizeof(p->store) ||
	    snprintf(p->state, sizeof(p->state), "%s", state) >= (int)sizeof(p->state))
		return false;
	return join(p->stage, store, STAGE_DIR) && join(p->stage_objects, p->stage, "objects") &&
	       join(p->old_objects, p->stage, OLD_OBJECTS) && join(p->objects, store, "objects") &&
	       join(p->nv_new, state, STAGE_NV) && join(p->nv, state, NV_FILE) &&
	       join(p->token, store, TOKEN_FILE) && join(p->stage_token, p->stage, TOKEN_FILE);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Removes the files of dir (one level) and dir itself. */
static void remove_flat_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	rmdir(dir);
}

/* Drops an uncommitted stage. */
static void drop_stage(const struct paths *p)
{
	remove_flat_dir(p->stage_objects);
	remove_flat_dir(p->old_objects);
	remove_flat_dir(p->stage);
	unlink(p->nv_new);
	fsync_dir(p->store);
	fsync_dir(p->state);
}

static int rename_if_there(const char *from, const char *to)
{
	if (!exists(from))
		return 0;
	return rename(from, to) == 0 ? 0 : errno;
}

/* Moves a committed stage into place; safe to repeat from any point. */
static int apply_stage(const struct paths *p)
{
	int err = rename_if_there(p->nv_new, p->nv);

	if (!err) {
		/* The old TPM's volatile state does not belong to the restored NV state. */
		char path[PATH_MAX];

		if (join(path, p->state, "volatilestate"))
			unlink(path);
		if (join(path, p->state, "savestate"))
			unlink(path);
		fsync_dir(p->state);
		err = rename_if_there(p->stage_token, p->token);
	}
	if (!err && exists(p->stage_objects) && exists(p->objects) && !exists(p->old_objects))
		err = rename(p->objects, p->old_objects) == 0 ? 0 : errno;
	if (!err)
		err = rename_if_there(p->stage_objects, p->objects);
	if (err)
		return err;
	fsync_dir(p->store);
	remove_flat_dir(p->old_objects);
	/* The commit file goes last, with the stage directory. */
	drop_stage(p);
	return 0;
}

/* Applies a committed stage or drops an uncommitted one. Needs both locks. */
static int settle_stage(const struct paths *p)
{
	char commit[PATH_MAX];

	if (!join(commit, p->stage, COMMIT_FILE))
		return ENAMETOOLONG;
	if (exists(commit))
		return apply_stage(p);
	if (exists(p->stage) || exists(p->nv_new))
		drop_stage(p);
	return 0;
}

int tpm_backup_recover(const char *store_dir, const char *tcti)
{
	struct paths p;
	int state_fd, store_fd, err;

	if (strncmp(tcti, "libtpms:", 8) != 0)
		return 0;
	if (!paths_init(&p, store_dir, tcti + 8))
		return ENAMETOOLONG;
	if (!exists(p.stage) && !exists(p.nv_new))
		return 0;
	/* A process that runs this TPM settled the stage when it started, so a timeout is fine. */
	state_fd = tpm_file_lock(p.state, STATE_LOCK, true, LOCK_WAIT_MS);
	if (state_fd < 0)
		return 0;
	store_fd = tpm_file_lock(p.store, STORE_LOCK, true, LOCK_WAIT_MS);
	err = store_fd < 0 ? -store_fd : settle_stage(&p);
	if (store_fd >= 0)
		close(store_fd);
	close(state_fd);
	return err;
}

static CK_RV check_backend(const struct tpm_token *tok, CK_SLOT_ID slot)
{
	if (slot != TPM_SLOT_ID)
		return CKR_SLOT_ID_INVALID;
	/* A device's keys are bound to its own seeds, which no backup can carry. */
	if (tok->dev.kind != TPM_TCTI_LIBTPMS || !tok->dev.state_dir[0])
		return CKR_FUNCTION_NOT_SUPPORTED;
	return CKR_OK;
}

static bool key_name_valid(const char *name)
{
	size_t len = strlen(name), suffix = strlen(KEY_SUFFIX);

	if (name[0] == '.' || len <= suffix || len >= sizeof(((struct tpm_object *)0)->file) ||
	    strcmp(name + len - suffix, KEY_SUFFIX) != 0)
		return false;
	return strchr(name, '/') == NULL;
}

static CK_RV send_file(const char *dir, const char *name, const char *as,
                       CK_RV (*file)(void *, const char *, const unsigned char *, CK_ULONG),
                       void *ctx)
{
	uint8_t *data = NULL;
	size_t len = 0;
	CK_RV rv;

	if (tpm_file_read(dir, name, &data, &len) != 0)
		return CKR_DEVICE_ERROR;
	rv = file(ctx, as, data, len);
	OPENSSL_cleanse(data, len);
	free(data);
	return rv;
}

static CK_RV send_keys(const struct tpm_token *tok,
                       CK_RV (*file)(void *, const char *, const unsigned char *, CK_ULONG),
                       void *ctx)
{
	DIR *d = opendir(tok->objects_dir);
	struct dirent *e;
	char as[NAME_MAX + 8];
	CK_RV rv = d ? CKR_OK : CKR_DEVICE_ERROR;

	while (rv == CKR_OK && (e = readdir(d)) != NULL) {
		if (!key_name_valid(e->d_name))
			continue;
		snprintf(as, sizeof(as), NAME_KEY "%s", e->d_name);
		rv = send_file(tok->objects_dir, e->d_name, as, file, ctx);
	}
	if (d)
		closedir(d);
	return rv;
}

CK_RV tpm_backup_export(struct hsmux_backend *be, CK_SLOT_ID slot, CK_RV (*begin)(void *ctx),
                        CK_RV (*file)(void *ctx, const char *name, const unsigned char *data,
                                      CK_ULONG len),
                        void *ctx)
{
	struct tpm_token *tok = be->priv;
	int fd;
	CK_RV rv;

	/* begin() signs with the token, so it runs before the export takes tok->lock. */
	rv = begin(ctx);
	if (rv != CKR_OK)
		return rv;
	pthread_mutex_lock(&tok->lock);
	rv = check_backend(tok, slot);
	if (rv != CKR_OK)
		goto out;
	fd = tpm_file_lock(tok->store_dir, STORE_LOCK, false, LOCK_WAIT_MS);
	if (fd < 0) {
		rv = CKR_DEVICE_ERROR;
		goto out;
	}
	rv = send_file(tok->store_dir, TOKEN_FILE, TOKEN_FILE, file, ctx);
	if (rv == CKR_OK)
		rv = send_file(tok->dev.state_dir, NV_FILE, NAME_NV, file, ctx);
	if (rv == CKR_OK)
		rv = send_keys(tok, file, ctx);
	close(fd);
out:
	pthread_mutex_unlock(&tok->lock);
	return rv;
}

/* Writes one file of the backup to its place in the stage. */
static CK_RV stage_one(const struct paths *p, const char *name, const unsigned char *data,
                       CK_ULONG len)
{
	const char *dir, *as;
	char path[PATH_MAX];

	if (strcmp(name, NAME_NV) == 0) {
		dir = p->state;
		as = STAGE_NV;
	} else if (strcmp(name, TOKEN_FILE) == 0) {
		dir = p->stage;
		as = TOKEN_FILE;
	} else if (strncmp(name, NAME_KEY, strlen(NAME_KEY)) == 0 &&
	           key_name_valid(name + strlen(NAME_KEY))) {
		dir = p->stage_objects;
		as = name + strlen(NAME_KEY);
	} else {
		return CKR_DATA_INVALID;
	}
	/* Each name comes once; a second copy is a malformed backup. */
	if (!join(path, dir, as) || exists(path))
		return CKR_DATA_INVALID;
	return tpm_file_write_atomic(dir, as, data, len) == 0 ? CKR_OK : CKR_DEVICE_ERROR;
}

static CK_RV stage_all(const struct paths *p,
                       CK_RV (*next)(void *, const char **, const unsigned char **, CK_ULONG *),
                       void *ctx)
{
	const char *name = NULL;
	const unsigned char *data = NULL;
	CK_ULONG len = 0;
	CK_RV rv = CKR_OK;

	if (exists(p->stage) || exists(p->nv_new))
		drop_stage(p);
	if (mkdir(p->stage, 0700) != 0 || mkdir(p->stage_objects, 0700) != 0)
		rv = CKR_DEVICE_ERROR;
	while (rv == CKR_OK) {
		rv = next(ctx, &name, &data, &len);
		if (rv != CKR_OK || !name)
			break;
		rv = stage_one(p, name, data, len);
	}
	if (rv == CKR_OK && (!exists(p->stage_token) || !exists(p->nv_new)))
		rv = CKR_DATA_INVALID;
	if (rv == CKR_OK) {
		fsync_dir(p->stage_objects);
		fsync_dir(p->stage);
		fsync_dir(p->store);
		fsync_dir(p->state);
	} else {
		drop_stage(p);
	}
	return rv;
}

/* Ends every session and login, drops every object, and stops the TPM. */
static void stop_token_locked(struct tpm_token *tok)
{
	tpm_logout_locked(tok);
	while (tok->n_sessions > 0) {
		struct tpm_session *sess = tok->sessions[--tok->n_sessions];

		tpm_op_end_locked(tok, sess);
		free(sess->found);
		free(sess);
	}
	for (size_t i = tok->n_objects; i > 0; i--) {
		struct tpm_object *obj = tok->objects[i - 1];

		tpm_object_unregister_locked(tok, obj);
		tpm_object_free(tok, obj);
	}
	tpm_device_close(&tok->dev);
}

static CK_RV start_token_locked(struct tpm_token *tok)
{
	char why[384] = "";
	CK_RV rv = tpm_device_open(&tok->dev, tok->tcti, why, sizeof(why));

	if (rv == CKR_OK)
		rv = tpm_mech_probe_locked(tok);
	if (rv == CKR_OK)
		rv = tpm_store_open(tok, why, sizeof(why));
	return rv == CKR_OK ? CKR_OK : CKR_DEVICE_ERROR;
}

/* Commits the stage and moves it into place, with the TPM stopped and both locks held. */
static CK_RV commit_stage(const struct paths *p)
{
	int state_fd = tpm_file_lock(p->state, STATE_LOCK, true, LOCK_WAIT_MS);
	int store_fd = tpm_file_lock(p->store, STORE_LOCK, true, LOCK_WAIT_MS);
	CK_RV rv = CKR_DEVICE_ERROR;

	/* Another process may have taken the TPM meanwhile and dropped the stage. */
	if (state_fd >= 0 && store_fd >= 0 && exists(p->stage_token) && exists(p->nv_new) &&
	    tpm_file_write_atomic(p->stage, COMMIT_FILE, "1", 1) == 0)
		rv = CKR_OK;
	else if (state_fd >= 0 && store_fd >= 0)
		drop_stage(p);
	/* Past the commit a failure is finished at the next start, by tpm_backup_recover(). */
	if (rv == CKR_OK && apply_stage(p) != 0)
		rv = CKR_DEVICE_ERROR;
	if (store_fd >= 0)
		close(store_fd);
	if (state_fd >= 0)
		close(state_fd);
	return rv;
}

CK_RV tpm_backup_import(struct hsmux_backend *be, CK_SLOT_ID slot,
                        CK_RV (*next)(void *ctx, const char **name, const unsigned char **data,
                                      CK_ULONG *len),
                        void *ctx)
{
	struct tpm_token *tok = be->priv;
	struct paths p;
	CK_RV rv, start;

	pthread_mutex_lock(&tok->lock);
	rv = check_backend(tok, slot);
	if (rv == CKR_OK && !paths_init(&p, tok->store_dir, tok->dev.state_dir))
		rv = CKR_GENERAL_ERROR;
	if (rv == CKR_OK)
		rv = stage_all(&p, next, ctx);
	if (rv != CKR_OK) {
		pthread_mutex_unlock(&tok->lock);
		return rv;
	}
	stop_token_locked(tok);
	rv = commit_stage(&p);
	start = start_token_locked(tok);
	pthread_mutex_unlock(&tok->lock);
	return rv == CKR_OK ? start : rv;
}
