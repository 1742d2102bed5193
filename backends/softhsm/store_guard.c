/*
 * Last-good copies of SoftHSM's object files: the refresh after calls that
 * rewrite them, and the repair before SoftHSM starts.
 *
 * Every read of an object file and every write of its good copy happens
 * under an open-file-description (OFD) write lock on the object file.
 * SoftHSM holds a process-associated fcntl() lock on the file while it
 * truncates and rewrites it, and the two kinds of lock conflict even
 * within one process. So refreshes in all processes are ordered with
 * SoftHSM's writes, and an older version cannot overwrite a newer good
 * copy. A descriptor of an object file is closed only while our lock is
 * held, because closing any descriptor of a file drops every
 * process-associated lock this process holds on it, SoftHSM's included.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "backends/softhsm/store.h"
#include "backends/softhsm/store_guard.h"
#include "module/fileio.h"
#include "module/trace.h"

#define GOOD_SUFFIX    ".hsmux-good"
#define TEMP_INFIX     ".tmp."
#define GUARD_FILE_MAX (64u << 20)
/* A temporary file this old was left by a killed writer, not one still writing. */
#define TEMP_STALE_SECONDS 60

/* SoftHSM's attributes of token.object (OSAttributes.h of SoftHSMv2 2.6.1). */
#define ATTR_TOKEN_LABEL  0x80005349UL
#define ATTR_TOKEN_SERIAL 0x8000534AUL
#define ATTR_SO_PIN       0x8000534CUL

enum guard_mode {
	GUARD_REFRESH,
	GUARD_CHECK,
};

struct guard_buf {
	unsigned char *data;
	size_t len;
};

struct guard_paths {
	const char *dir;
	const char *name;
	char object[PATH_MAX];
	char good[PATH_MAX];
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_object_name(const char *name)
{
	return name[0] != '.' && strlen(name) > 7 && ends_with(name, ".object");
}

static bool paths_init(struct guard_paths *p, const char *dir, const char *name)
{
	int n = snprintf(p->object, sizeof(p->object), "%s/%s", dir, name);
	int m = snprintf(p->good, sizeof(p->good), "%s/.%s" GOOD_SUFFIX, dir, name);

	p->dir = dir;
	p->name = name;
	return n > 0 && (size_t)n < sizeof(p->object) && m > 0 && (size_t)m < sizeof(p->good);
}

static void buf_free(struct guard_buf *b)
{
	if (b->data) {
		/* Object files hold wrapped keys and PIN blobs. */
		OPENSSL_cleanse(b->data, b->len);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
}

static int read_fd(int fd, struct guard_buf *b)
{
	struct stat st;
	size_t got = 0;

	buf_free(b);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > GUARD_FILE_MAX)
		return -1;
	b->data = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!b->data)
		return -1;
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, b->data + got, (size_t)st.st_size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	b->len = got;
	return 0;
}

/* Reads a good copy. No SoftHSM lock is ever held on one, so closing it is safe. */
static int read_path(const char *path, struct guard_buf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int rc;

	if (fd < 0)
		return -1;
	rc = read_fd(fd, b);
	close(fd);
	return rc;
}

/*
 * Checks that an object file is whole. For token.object it also requires
 * the label, the serial number and the SO PIN blob, which every initialized
 * token has. NOTE: a token.object cut exactly before its last attribute,
 * the user PIN blob, would still pass. SoftHSM writes token.object (320
 * bytes) with one write() when stdio flushes, so every cut seen in tests
 * was to zero bytes.
 */
static bool object_complete(const char *name, const struct guard_buf *b)
{
	static const uint64_t required[] = {ATTR_TOKEN_LABEL, ATTR_TOKEN_SERIAL, ATTR_SO_PIN};

	if (!softhsm_object_file_valid(b->data, b->len))
		return false;
	if (strcmp(name, "token.object") != 0)
		return true;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		const unsigned char *value = NULL;
		size_t value_len = 0;

		if (softhsm_object_walk(b->data, b->len, required[i], &value, &value_len) <= 0 ||
		    !value)
			return false;
	}
	return true;
}

static int lock_wait(int fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

	while (fcntl(fd, F_OFD_SETLKW, &fl) != 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static bool timespec_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/*
 * Returns true when the good copy was written after the object file's last
 * change. File times come from a coarse clock, so a rewrite in the same
 * clock tick as the copy gives equal times. Equal times count as changed,
 * and the contents get compared.
 */
static bool good_is_newer(const struct guard_paths *p)
{
	struct stat object, good;

	if (stat(p->object, &object) != 0 || stat(p->good, &good) != 0)
		return false;
	return timespec_after(&good.st_mtim, &object.st_mtim);
}

/*
 * Writes the good copy from cur unless it differs only in the generation
 * counter (the first 8 bytes). SoftHSM bumps that counter on every
 * rewrite, C_Login's included, and other SoftHSM instances compare it only
 * for equality to decide to read the file again, so an older counter
 * restores the same object. Skipping that write saves an fsync() per
 * login; the copy's time is set instead, so the next refresh skips it.
 */
static void refresh_good(const struct guard_paths *p, const struct guard_buf *cur)
{
	struct guard_buf good = {0};
	bool same = false;

	if (read_path(p->good, &good) == 0 && good.len == cur->len && cur->len >= 8)
		same = memcmp(good.data + 8, cur->data + 8, cur->len - 8) == 0;
	buf_free(&good);
	if (same) {
		utimensat(AT_FDCWD, p->good, NULL, 0);
		return;
	}
	if (hsmux_write_file_atomic(p->good, cur->data, cur->len, 0600) != 0)
		hsmux_trace(HSMUX_TRACE_BACKEND, "softhsm: cannot write the good copy %s: %s",
		            p->good, strerror(errno));
}

/* Gives the label of the token in dir, for messages, or "?" when it is not known. */
static void token_label(const char *dir, char *label, size_t len)
{
	char path[PATH_MAX];
	struct guard_buf b = {0};
	const unsigned char *value = NULL;
	size_t value_len = 0;

	snprintf(label, len, "?");
	/* The good copy, because closing token.object itself could drop a SoftHSM lock. */
	if (snprintf(path, sizeof(path), "%s/.token.object" GOOD_SUFFIX, dir) >=
	        (int)sizeof(path) ||
	    read_path(path, &b) != 0)
		return;
	if (softhsm_object_walk(b.data, b.len, ATTR_TOKEN_LABEL, &value, &value_len) > 0 && value) {
		while (value_len > 0 && value[value_len - 1] == ' ')
			value_len--;
		snprintf(label, len, "%.*s", (int)value_len, (const char *)value);
	}
	buf_free(&b);
}

/* Puts the good copy back over a broken object file, keeping the file's mode. */
static void repair(const struct guard_paths *p, mode_t mode, const char *backend)
{
	struct guard_buf good = {0};
	char label[64];

	if (read_path(p->good, &good) != 0 || !object_complete(p->name, &good)) {
		/* A key object cut while C_GenerateKey made it has no copy. SoftHSM skips it. */
		hsmux_trace(HSMUX_TRACE_BACKEND, "softhsm: %s is incomplete and has no good copy",
		            p->object);
		if (strcmp(p->name, "token.object") == 0)
			hsmux_error("backend '%s': SoftHSM's %s is incomplete and has no good "
			            "copy, so SoftHSM will not list its token; restore the token "
			            "from a backup",
			            backend, p->object);
		goto out;
	}
	if (hsmux_write_file_atomic(p->object, good.data, good.len, mode & 07777) != 0) {
		hsmux_error("backend '%s': cannot restore SoftHSM's incomplete %s from its good "
		            "copy %s: %s; copy the good copy over it by hand",
		            backend, p->object, p->good, strerror(errno));
		goto out;
	}
	token_label(p->dir, label, sizeof(label));
	hsmux_trace(HSMUX_TRACE_BACKEND, "softhsm: restored %s (%zu bytes) from %s", p->object,
	            good.len, p->good);
	hsmux_error("backend '%s': SoftHSM's %s of token '%s' was incomplete, because a process "
	            "was killed while SoftHSM rewrote it; restored the last good copy, so the "
	            "change of the interrupted call is lost (after a PIN change, the PIN from "
	            "before it applies)",
	            backend, p->name, label);
out:
	buf_free(&good);
}

/*
 * SoftHSM releases its lock before stdio flushes the new contents, so a
 * file that is incomplete under our lock may be a write finishing right
 * now. It is broken only if it is still incomplete a moment later.
 */
static bool settled_incomplete(int fd, const struct guard_paths *p, struct guard_buf *cur)
{
	struct timespec pause = {0, 20 * 1000000L};

	nanosleep(&pause, NULL);
	if (read_fd(fd, cur) != 0)
		return false;
	return !object_complete(p->name, cur);
}

static void guard_object(const char *dir, const char *name, enum guard_mode mode,
                         const char *backend)
{
	struct guard_paths p;
	struct guard_buf cur = {0};
	struct stat st;
	int fd;

	if (!paths_init(&p, dir, name) || (mode == GUARD_REFRESH && good_is_newer(&p)))
		return;
	fd = open(p.object, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	if (lock_wait(fd) != 0 || fstat(fd, &st) != 0 || read_fd(fd, &cur) != 0) {
		hsmux_trace(HSMUX_TRACE_BACKEND, "softhsm: cannot lock and read %s: %s", p.object,
		            strerror(errno));
		goto out;
	}

	if (object_complete(name, &cur))
		refresh_good(&p, &cur);
	else if (mode == GUARD_CHECK && settled_incomplete(fd, &p, &cur))
		repair(&p, st.st_mode, backend);
	else if (mode == GUARD_CHECK && object_complete(name, &cur))
		refresh_good(&p, &cur);
out:
	/* Closing drops our lock, which is held until here (see the file comment). */
	close(fd);
	buf_free(&cur);
}

/* Removes a good copy whose object file is gone, and a stale temporary file. */
static void remove_leftover(int dfd, const char *dir, const char *name)
{
	char object[NAME_MAX + 1];
	size_t n = strlen(name), m = strlen(GOOD_SUFFIX);
	struct stat st;

	if (name[0] == '.' && n > m + 1 && ends_with(name, GOOD_SUFFIX) &&
	    n - m - 1 < sizeof(object)) {
		memcpy(object, name + 1, n - m - 1);
		object[n - m - 1] = '\0';
		if (fstatat(dfd, object, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT &&
		    unlinkat(dfd, name, 0) == 0)
			hsmux_trace(HSMUX_TRACE_BACKEND, "softhsm: removed %s/%s (object gone)",
			            dir, name);
		return;
	}
	/* hsmux_write_file_atomic() names its temporary file PATH.tmp.XXXXXX. */
	if (strstr(name, GOOD_SUFFIX TEMP_INFIX) || strstr(name, ".object" TEMP_INFIX)) {
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    time(NULL) - st.st_mtime > TEMP_STALE_SECONDS && unlinkat(dfd, name, 0) == 0)
			hsmux_trace(HSMUX_TRACE_BACKEND, "softhsm: removed the stale %s/%s", dir,
			            name);
	}
}

static void guard_token_dir(const char *dir, enum guard_mode mode, bool all_objects,
                            const char *backend)
{
	DIR *d;
	struct dirent *e;

	/* token.object first, because the messages about key objects take the label from its copy.
	 */
	guard_object(dir, "token.object", mode, backend);
	if (!all_objects)
		return;

	d = opendir(dir);
	if (!d)
		return;
	/* Names added while the loop runs may or may not be seen; both are fine here. */
	while ((e = readdir(d)) != NULL) {
		if (mode == GUARD_CHECK)
			remove_leftover(dirfd(d), dir, e->d_name);
		if (is_object_name(e->d_name) && strcmp(e->d_name, "token.object") != 0)
			guard_object(dir, e->d_name, mode, backend);
	}
	closedir(d);
}

static void guard_store(const char *tokens, enum guard_mode mode, bool all_objects,
                        const char *backend)
{
	DIR *d;
	struct dirent *e;
	char dir[PATH_MAX];
	struct stat st;

	if (!tokens || !*tokens)
		return;
	d = opendir(tokens);
	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		/* Dot names are not tokens: ".", "..", and the staging directories of a restore. */
		if (e->d_name[0] == '.' ||
		    snprintf(dir, sizeof(dir), "%s/%s", tokens, e->d_name) >= (int)sizeof(dir) ||
		    stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		guard_token_dir(dir, mode, all_objects, backend);
	}
	closedir(d);
}

void softhsm_guard_check_store(const char *tokens, const char *backend)
{
	guard_store(tokens, GUARD_CHECK, true, backend);
}

void softhsm_guard_refresh_store(const char *tokens, bool all_objects)
{
	guard_store(tokens, GUARD_REFRESH, all_objects, NULL);
}
