/*
 * Replacing a SoftHSM token directory with a restored one, and the backup
 * ops of the softhsm backend.
 *
 * The new directory is built and fsynced under the store directory (the
 * parent of SoftHSM's tokendir, which SoftHSM does not scan), then
 * exchanged with the token's directory by one renameat2(RENAME_EXCHANGE).
 * A crash before the exchange leaves the token as it was; a crash after it
 * leaves the restored token. Either way a ".hsmux-restore-*" directory may
 * be left in the store directory, holding no live token.
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

#include "backends/pkcs11/pkcs11.h"
#include "backends/softhsm/store.h"
#include "module/trace.h"

static int write_new_file(int dfd, const char *name, const unsigned char *data, size_t len)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	int rc = 0;

	if (fd < 0)
		return -1;
	while (len && rc == 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = -1;
			break;
		}
		data += n;
		len -= (size_t)n;
	}
	if (rc == 0)
		rc = fsync(fd);
	if (close(fd) != 0)
		rc = -1;
	return rc;
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d) {
		int dfd = dirfd(d);

		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				unlinkat(dfd, e->d_name, 0);
		closedir(d);
	}
	rmdir(dir);
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static bool has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), m = strlen(suffix);

	return n > m && strcmp(name + n - m, suffix) == 0;
}

/* Fills the staging directory from next(); checks every object file and that token.object came. */
static CK_RV stage_files(const char *stage,
                         CK_RV (*next)(void *ctx, const char **name, const unsigned char **data,
                                       CK_ULONG *len),
                         void *ctx)
{
	int dfd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool token_object = false;
	CK_RV rv = CKR_OK;

	if (dfd < 0)
		return CKR_GENERAL_ERROR;
	for (;;) {
		const char *name = NULL;
		const unsigned char *data = NULL;
		CK_ULONG len = 0;

		rv = next(ctx, &name, &data, &len);
		if (rv != CKR_OK || !name)
			break;
		if (has_suffix(name, ".object") && !softhsm_object_file_valid(data, len)) {
			rv = CKR_DATA_INVALID;
			break;
		}
		token_object = token_object || strcmp(name, "token.object") == 0;
		if (write_new_file(dfd, name, data, len) != 0) {
			rv = errno == EEXIST ? CKR_DATA_INVALID : CKR_DEVICE_ERROR;
			break;
		}
	}
	if (rv == CKR_OK && !token_object)
		rv = CKR_DATA_INVALID;
	if (rv == CKR_OK && fsync(dfd) != 0)
		rv = CKR_DEVICE_ERROR;
	close(dfd);
	return rv;
}

CK_RV softhsm_replace_dir(const char *dir, const char *stage_parent,
                          CK_RV (*next)(void *ctx, const char **name, const unsigned char **data,
                                        CK_ULONG *len),
                          void *ctx, void (*swap_hook)(void *hook_ctx), void *hook_ctx)
{
	char stage[PATH_MAX], parent[PATH_MAX];
	const char *slash = strrchr(dir, '/');
	CK_RV rv;

	if (!slash || (size_t)(slash - dir) >= sizeof(parent) ||
	    snprintf(stage, sizeof(stage), "%s/.hsmux-restore-XXXXXX", stage_parent) >=
	        (int)sizeof(stage))
		return CKR_GENERAL_ERROR;
	memcpy(parent, dir, (size_t)(slash - dir));
	parent[slash - dir] = '\0';
	if (!mkdtemp(stage))
		return CKR_DEVICE_ERROR;

	rv = stage_files(stage, next, ctx);
	if (rv == CKR_OK && fsync_dir(stage_parent) != 0)
		rv = CKR_DEVICE_ERROR;
	if (rv != CKR_OK) {
		remove_tree(stage);
		return rv;
	}

	if (swap_hook)
		swap_hook(hook_ctx);
	if (renameat2(AT_FDCWD, stage, AT_FDCWD, dir, RENAME_EXCHANGE) != 0) {
		remove_tree(stage);
		return CKR_DEVICE_ERROR;
	}
	fsync_dir(parent);
	fsync_dir(stage_parent);
	/* The old token directory now sits at the staging name. */
	remove_tree(stage);
	fsync_dir(stage_parent);
	return CKR_OK;
}

CK_RV softhsm_backup_export(struct hsmux_backend *be, CK_SLOT_ID slot, CK_RV (*begin)(void *ctx),
                            CK_RV (*file)(void *ctx, const char *name, const unsigned char *data,
                                          CK_ULONG len),
                            void *ctx)
{
	char dir[PATH_MAX];
	CK_RV rv = softhsm_token_dir(be, slot, dir, sizeof(dir));

	if (rv != CKR_OK)
		return rv;
	return softhsm_snapshot_dir(dir, begin, file, ctx);
}

struct restart {
	struct hsmux_backend *be;
	const char *conf;
	bool stopped;
};

/*
 * SoftHSM caches the token in memory, so it stops before the swap and starts after it.
 * NOTE: another thread of this process that calls SoftHSM meanwhile gets
 * CKR_CRYPTOKI_NOT_INITIALIZED or a stale handle; nothing serializes it.
 */
static void stop_softhsm(void *hook_ctx)
{
	struct restart *r = hook_ctx;
	struct p11_backend *p = r->be->priv;

	p->fl->C_Finalize(NULL);
	r->stopped = true;
}

static CK_RV start_softhsm(struct restart *r)
{
	struct p11_backend *p = r->be->priv;
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	const char *old = getenv("SOFTHSM2_CONF");
	char *saved = old ? strdup(old) : NULL;
	CK_RV rv;

	setenv("SOFTHSM2_CONF", r->conf, 1);
	rv = p->fl->C_Initialize(&args);
	if (saved)
		setenv("SOFTHSM2_CONF", saved, 1);
	else
		unsetenv("SOFTHSM2_CONF");
	free(saved);
	return rv;
}

CK_RV softhsm_backup_import(struct hsmux_backend *be, CK_SLOT_ID slot,
                            CK_RV (*next)(void *ctx, const char **name, const unsigned char **data,
                                          CK_ULONG *len),
                            void *ctx)
{
	char dir[PATH_MAX], store[PATH_MAX - 16], conf[PATH_MAX];
	struct restart r = {.be = be, .conf = conf};
	CK_RV rv;

	rv = softhsm_token_dir(be, slot, dir, sizeof(dir));
	if (rv == CKR_OK)
		rv = softhsm_store_paths(be, store, sizeof(store), conf, sizeof(conf));
	if (rv != CKR_OK)
		return rv;
	rv = softhsm_replace_dir(dir, store, next, ctx, stop_softhsm, &r);
	if (r.stopped) {
		CK_RV start = start_softhsm(&r);

		if (start != CKR_OK && rv == CKR_OK)
			rv = start;
	}
	hsmux_trace(HSMUX_TRACE_BACKEND, "backend '%s': restore into %s: 0x%lx", be->name, dir,
	            (unsigned long)rv);
	return rv;
}
