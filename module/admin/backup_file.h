/*
 * The hsmux backup file: a manifest that anyone can read, then the token's
 * files as one stream, encrypted and authenticated in chunks.
 *
 * Layout (integers big-endian):
 *   "HSMUXBK1"                 8 bytes of magic
 *   u32 header length, header  compact canonical JSON: format, version,
 *                              backend, time, the source security domain's
 *                              fingerprint, the key-derivation salt, the
 *                              chunk size, the token and its objects
 *   chunks                     u8 flags (1 = final), u32 ciphertext length,
 *                              ciphertext, 16-byte GCM tag
 *
 * Each chunk is AES-256-GCM under the backup key, which is
 * sd_prf(security-domain key, SD_LABEL_BACKUP_KEY, salt): a fresh key for
 * every file, so the IV is simply 0^32 || u64 chunk index. The associated
 * data is SHA-256(magic || header length || header) || u64 index || flags,
 * so a changed header, a reordered or dropped chunk and a file cut after
 * any chunk but the final one all fail authentication. A reader returns
 * plaintext only from chunks that passed.
 *
 * The plaintext stream is an archive of files: u8 type (1 = file),
 * u16 name length, name, u64 size, data; then u8 type 0 to end it.
 */
#ifndef HSMUX_ADMIN_BACKUP_FILE_H
#define HSMUX_ADMIN_BACKUP_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "module/admin/sd_util.h"

#define BK_FORMAT_VERSION 1
#define BK_SALT_LEN       32
#define BK_CHUNK_SIZE     65536
#define BK_CHUNK_MAX      (1u << 20)
#define BK_HEADER_MAX     (16u << 20)
/* The maximum length of a file name in the archive. SoftHSM's names are a UUID and a suffix. */
#define BK_NAME_MAX 255
/* The largest single file in the archive. */
#define BK_FILE_MAX (64u << 20)

struct bk_writer;
struct bk_reader;

/* The parsed manifest of a backup. */
struct bk_header {
	json_t *root; /* the whole header, for printing */
	unsigned int version;
	char backend[32];
	char sd_fingerprint[65];
	unsigned char salt[BK_SALT_LEN];
	size_t chunk_size;
	size_t object_count;
};

/*
 * Builds the header object. objects is an array of
 * {"class", "key_type", "label", "id"} objects and is taken over. Returns
 * NULL when out of memory.
 */
json_t *bk_header_build(const char *backend, const char *sd_fingerprint,
                        const unsigned char salt[BK_SALT_LEN], json_t *token, json_t *objects);

/*
 * Starts a backup stream on out: writes the magic and header, then takes
 * plaintext through bk_writer_file() and bk_writer_finish(). key is copied
 * into a locked buffer. Returns NULL on a write failure or out of memory.
 */
struct bk_writer *bk_writer_new(FILE *out, const json_t *header, const unsigned char *key);
/* Appends one file to the archive. Returns false when a write fails. */
bool bk_writer_file(struct bk_writer *w, const char *name, const unsigned char *data, size_t len);
/* Ends the archive and writes the final chunk. Returns false when a write fails. */
bool bk_writer_finish(struct bk_writer *w);
void bk_writer_free(struct bk_writer *w);

/*
 * Reads the magic and the header from in, without any key. Returns NULL
 * with a reason in err for a file that is not a backup, has another
 * version, or a malformed header.
 */
struct bk_reader *bk_reader_open(FILE *in, char *err, size_t err_len);
const struct bk_header *bk_reader_header(const struct bk_reader *r);
/* Sets the backup key (copied into a locked buffer) before the first file is read. */
bool bk_reader_set_key(struct bk_reader *r, const unsigned char *key);

enum bk_next {
	BK_NEXT_FILE,  /* *name and *data hold the next file */
	BK_NEXT_END,   /* the archive ended at the authenticated end of the file */
	BK_NEXT_ERROR, /* err says why: tampered, truncated, malformed or a read error */
};

/*
 * Reads the next file. *data is valid until the next call and is owned by
 * the reader; name gets a NUL-terminated name without '/' or a leading '.'.
 */
enum bk_next bk_reader_next(struct bk_reader *r, char name[BK_NAME_MAX + 1],
                            const unsigned char **data, size_t *len, char *err, size_t err_len);
void bk_reader_free(struct bk_reader *r);

#endif /* HSMUX_ADMIN_BACKUP_FILE_H */
