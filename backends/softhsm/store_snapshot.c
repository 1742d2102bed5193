/*
 * A consistent snapshot of a SoftHSM token directory while other
 * processes, or other threads of this one, may be writing it.
 *
 * SoftHSM 2.6.1 writes an object file in place under an fcntl() lock on
 * it, and fills a new object inside a transaction that holds an fcntl()
 * lock on its .lock file. The snapshot takes an open-file-description
 * (OFD) write lock on every file of the directory. OFD locks conflict with
 * SoftHSM's process-associated locks even within this process, so while
 * all are held no SoftHSM instance can write. Three gaps remain, and each is checked:
 * - SoftHSM releases the lock of a plain attribute write before stdio has
 *   flushed the data, so every file is read twice under the locks and
 *   must be the same both times and parse as a whole object file;
 * - files can be created or removed without a lock, so the directory is
 *   listed again under the locks and must not have changed;
 * - a new object exists for a moment as a file without attributes, which
 *   fails the parse.
 * Any of these starts the snapshot over after a short wait.
 *
 * Locks are only ever tried, never waited for while others are held, so
 * a snapshot cannot deadlock with SoftHSM. A file is closed only while our
 * lock on it is held: closing any descriptor of a file drops every
 * process-associated lock this process holds on it, including SoftHSM's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "backends/softhsm/store.h"

#define SNAPSHOT_ATTEMPTS  100
#define SNAPSHOT_FILES_MAX 100000
#define SNAPSHOT_FILE_MAX  (64u << 20)

struct snap_file {
	char name[NAME_MAX + 1];
	int fd;
	bool locked;
	unsigned char digest[32];
};

struct snapshot {
	const char *dir;
	struct snap_file *files;
	size_t n;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct snap_file *)a)->name, ((const struct snap_file *)b)->name);
}

/* Lists the regular files of dir, sorted. */
static CK_RV list_files(const char *dir, struct snap_file **out, size_t *count)
{
	DIR *d = opendir(dir);
	struct snap_file *files = NULL;
	struct dirent *e;
	size_t n = 0, cap = 0;

	if (!d)
		return CKR_GENERAL_ERROR;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || (e->d_type != DT_REG && e->d_type != DT_UNKNOWN))
			continue;
		if (n == cap) {
			struct snap_file *p;

			cap = cap ? cap * 2 : 64;
			p = cap <= SNAPSHOT_FILES_MAX ? realloc(files, cap * sizeof(*p)) : NULL;
			if (!p) {
				free(files);
				closedir(d);
				return CKR_HOST_MEMORY;
			}
			files = p;
		}
		memset(&files[n], 0, sizeof(files[n]));
		snprintf(files[n].name, sizeof(files[n].name), "%s", e->d_name);
		files[n++].fd = -1;
	}
	closedir(d);
	if (n)
		qsort(files, n, sizeof(*files), name_cmp);
	*out = files;
	*count = n;
	return CKR_OK;
}

static int lock_fd(int fd, int cmd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

	return fcntl(fd, cmd, &fl);
}

/*
 * Closes every file. A file whose lock was never taken is locked first,
 * waiting if needed (nothing else is held then), so that closing it cannot
 * drop a lock SoftHSM holds in this process.
 */
static void release_all(struct snapshot *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->files[i].fd >= 0 && s->files[i].locked)
			close(s->files[i].fd);
	for (size_t i = 0; i < s->n; i++) {
		if (s->files[i].fd >= 0 && !s->files[i].locked) {
			while (lock_fd(s->files[i].fd, F_OFD_SETLKW) != 0 && errno == EINTR)
				;
			close(s->files[i].fd);
		}
		s->files[i].fd = -1;
		s->files[i].locked = false;
	}
	free(s->files);
	s->files = NULL;
	s->n = 0;
}

/* Opens and locks every file. CKR_FUNCTION_CANCELED means busy: try again. */
static CK_RV lock_all(struct snapshot *s)
{
	int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return CKR_GENERAL_ERROR;
	for (size_t i = 0; i < s->n; i++) {
		s->files[i].fd = openat(dfd, s->files[i].name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (s->files[i].fd < 0) {
			close(dfd);
			return errno == ENOENT ? CKR_FUNCTION_CANCELED : CKR_GENERAL_ERROR;
		}
		if (lock_fd(s->files[i].fd, F_OFD_SETLK) != 0) {
			close(dfd);
			return (errno == EAGAIN || errno == EACCES) ? CKR_FUNCTION_CANCELED
			                                            : CKR_GENERAL_ERROR;
		}
		s->files[i].locked = true;
	}
	close(dfd);
	return CKR_OK;
}

static CK_RV read_fd(int fd, unsigned char **data, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	size_t got = 0;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SNAPSHOT_FILE_MAX)
		return CKR_GENERAL_ERROR;
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf)
		return CKR_HOST_MEMORY;
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	*data = buf;
	*len = got;
	return CKR_OK;
}

static bool file_valid(const char *name, const unsigned char *data, size_t len)
{
	size_t n = strlen(name);

	if (n > 7 && strcmp(name + n - 7, ".object") == 0)
		return softhsm_object_file_valid(data, len);
	return true;
}

/* Reads every file once (emitting it when file is set) and records or checks its digest. */
static CK_RV read_pass(struct snapshot *s, bool first,
                       CK_RV (*file)(void *ctx, const char *name, const unsigned char *data,
                                     CK_ULONG len),
                       void *ctx)
{
	for (size_t i = 0; i < s->n; i++) {
		unsigned char *data = NULL, digest[32];
		size_t len = 0;
		CK_RV rv = read_fd(s->files[i].fd, &data, &len);

		if (rv != CKR_OK)
			return rv;
		if (!EVP_Digest(data, len, digest, NULL, EVP_sha256(), NULL)) {
			free(data);
			return CKR_GENERAL_ERROR;
		}
		if (!file_valid(s->files[i].name, data, len) ||
		    (!first && CRYPTO_memcmp(digest, s->files[i].digest, 32) != 0))
			rv = CKR_FUNCTION_CANCELED;
		else if (first)
			memcpy(s->files[i].digest, digest, 32);
		if (rv == CKR_OK && first && file)
			rv = file(ctx, s->files[i].name, data, len);
		OPENSSL_cleanse(data, len);
		free(data);
		if (rv != CKR_OK)
			return rv;
	}
	return CKR_OK;
}

static bool listing_unchanged(const struct snapshot *s)
{
	struct snap_file *now = NULL;
	size_t n = 0;
	bool same;

	if (list_files(s->dir, &now, &n) != CKR_OK)
		return false;
	same = n == s->n;
	for (size_t i = 0; same && i < n; i++)
		same = strcmp(now[i].name, s->files[i].name) == 0;
	free(now);
	return same;
}

static CK_RV snapshot_once(struct snapshot *s,
                           CK_RV (*file)(void *ctx, const char *name, const unsigned char *data,
                                         CK_ULONG len),
                           void *ctx)
{
	CK_RV rv = list_files(s->dir, &s->files, &s->n);

	if (rv == CKR_OK && s->n == 0)
		rv = CKR_GENERAL_ERROR;
	if (rv == CKR_OK)
		rv = lock_all(s);
	if (rv == CKR_OK && !listing_unchanged(s))
		rv = CKR_FUNCTION_CANCELED;
	if (rv == CKR_OK)
		rv = read_pass(s, true, file, ctx);
	if (rv == CKR_OK)
		rv = read_pass(s, false, NULL, NULL);
	release_all(s);
	return rv;
}

CK_RV softhsm_snapshot_dir(const char *dir, CK_RV (*begin)(void *ctx),
                           CK_RV (*file)(void *ctx, const char *name, const unsigned char *data,
                                         CK_ULONG len),
                           void *ctx)
{
	struct snapshot s = {.dir = dir};
	CK_RV rv = CKR_FUNCTION_CANCELED;

	for (int attempt = 0; attempt < SNAPSHOT_ATTEMPTS && rv == CKR_FUNCTION_CANCELED;
	     attempt++) {
		struct timespec pause = {0, (long)(5 + attempt % 20) * 1000000L};

		if (attempt > 0)
			nanosleep(&pause, NULL);
		/* begin() may call the token, which takes SoftHSM's locks: never under ours. */
		rv = begin(ctx);
		if (rv == CKR_OK)
			rv = snapshot_once(&s, file, ctx);
	}
	/* NOTE: a store that keeps changing, or an object file that stays malformed, fails here. */
	return rv == CKR_FUNCTION_CANCELED ? CKR_DEVICE_ERROR : rv;
}
