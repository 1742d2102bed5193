/* Atomic file writes and flocks for the TPM backend's state. */
#include "backends/tpm/tpm_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Temporary names start with this prefix, so a restart can find and remove them. */
#define TMP_PREFIX ".tmp-"

static int join_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return (n < 0 || (size_t)n >= len) ? ENAMETOOLONG : 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return errno;
	if (fsync(fd) != 0)
		err = errno;
	close(fd);
	return err;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int tpm_file_write_atomic(const char *dir, const char *name, const void *data, size_t len)
{
	char tmp[PATH_MAX], path[PATH_MAX], tmp_name[NAME_MAX];
	int fd, err;

	snprintf(tmp_name, sizeof(tmp_name), TMP_PREFIX "%ld-%s", (long)getpid(), name);
	err = join_path(tmp, sizeof(tmp), dir, tmp_name);
	if (!err)
		err = join_path(path, sizeof(path), dir, name);
	if (err)
		return err;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	err = write_all(fd, data, len);
	if (!err && fsync(fd) != 0)
		err = errno;
	if (close(fd) != 0 && !err)
		err = errno;
	if (!err && rename(tmp, path) != 0)
		err = errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	return fsync_dir(dir);
}

int tpm_file_read(const char *dir, const char *name, uint8_t **data, size_t *len)
{
	char path[PATH_MAX];
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd, err;

	err = join_path(path, sizeof(path), dir, name);
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstat(fd, &st) != 0) {
		err = errno;
		close(fd);
		return err;
	}

	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	*data = buf;
	*len = got;
	return 0;
}

int tpm_file_remove(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int err = join_path(path, sizeof(path), dir, name);

	if (err)
		return err;
	if (unlink(path) != 0)
		return errno;
	return fsync_dir(dir);
}

int tpm_file_mkdir(const char *dir)
{
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	return errno;
}

int tpm_file_lock(const char *dir, const char *name, bool exclusive, int wait_ms)
{
	char path[PATH_MAX];
	int op = exclusive ? LOCK_EX : LOCK_SH;
	int fd, err = join_path(path, sizeof(path), dir, name);

	if (err)
		return -err;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;

	if (wait_ms <= 0) {
		while (flock(fd, op) != 0) {
			if (errno != EINTR) {
				err = errno;
				close(fd);
				return -err;
			}
		}
		return fd;
	}

	for (int waited = 0;; waited += 50) {
		const struct timespec step = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};

		if (flock(fd, op | LOCK_NB) == 0)
			return fd;
		if ((errno != EWOULDBLOCK && errno != EINTR) || waited >= wait_ms) {
			err = errno == EINTR ? EWOULDBLOCK : errno;
			close(fd);
			return -err;
		}
		nanosleep(&step, NULL);
	}
}

void tpm_file_remove_temporaries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}
