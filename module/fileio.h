/* File helpers: every write that must survive a crash goes through here. */
#ifndef HSMUX_FILEIO_H
#define HSMUX_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p with mode for the directories it makes. 0, or -1 with errno. */
int hsmux_mkdir_p(const char *path, mode_t mode);

/*
 * Writes data to path atomically: a temp file in the same directory, fsync,
 * rename over path, fsync of the directory. A crash leaves either the old
 * file or the new one, never a mix. 0, or -1 with errno.
 */
int hsmux_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Like hsmux_write_file_atomic(), but leaves path alone when it already contains data. */
int hsmux_write_file_if_changed(const char *path, const void *data, size_t len, mode_t mode);

/* Fsyncs the directory that contains path. 0, or -1 with errno. */
int hsmux_fsync_parent(const char *path);

#endif /* HSMUX_FILEIO_H */
