/*
 * Files of the TPM backend: whole-file reads, atomic writes and advisory
 * locks. Every write goes to a temporary file in the same directory, is
 * fsync'ed, renamed over the target, and the directory is fsync'ed, so a
 * reader or a crash sees either the old content or the new, never a mix.
 */
#ifndef HSMUX_TPM_FILE_H
#define HSMUX_TPM_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Writes len bytes to dir/name atomically with mode 0600. Returns 0, or an
 * errno value on failure (the target is then unchanged).
 */
int tpm_file_write_atomic(const char *dir, const char *name, const void *data, size_t len);

/*
 * Reads dir/name into a new buffer that the caller frees. Returns 0, ENOENT
 * when the file does not exist, or another errno value.
 */
int tpm_file_read(const char *dir, const char *name, uint8_t **data, size_t *len);

/* Removes dir/name and fsyncs dir. Returns 0, ENOENT, or another errno value. */
int tpm_file_remove(const char *dir, const char *name);

/* Creates dir (mode 0700) unless it exists. Returns 0 or an errno value. */
int tpm_file_mkdir(const char *dir);

/*
 * Opens dir/name (created if missing) and takes an flock on it: exclusive
 * when exclusive is true, else shared. With wait_ms > 0 it retries for that
 * long; otherwise it blocks. Returns the locked fd, or -errno (-EWOULDBLOCK
 * when the wait ran out). Closing the fd releases the lock.
 */
int tpm_file_lock(const char *dir, const char *name, bool exclusive, int wait_ms);

/* Removes the temporary files that an interrupted write left in dir. */
void tpm_file_remove_temporaries(const char *dir);

#endif /* HSMUX_TPM_FILE_H */
