/*
 * Helpers that the security-domain and backup code shares between the
 * module and the offline steps of the hsmux tool: base64 and hex, locked
 * secret buffers, the keyed derivation every file uses, canonical JSON and
 * atomic file writes. Nothing here talks to a token.
 */
#ifndef HSMUX_ADMIN_SD_UTIL_H
#define HSMUX_ADMIN_SD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The security-domain key, the backup key and every derived MAC are 32 bytes. */
#define SD_KEY_LEN 32
#define SD_MAC_LEN 32

/* A secret buffer: locked in memory while it lives, wiped when it is freed. */
struct sd_secret {
	unsigned char *data;
	size_t len;
	bool locked;
};

/* Allocates len zeroed bytes and locks them with mlock(). Returns false when out of memory. */
bool sd_secret_init(struct sd_secret *s, size_t len);
/* Wipes, unlocks and frees the buffer. Safe on a zeroed or cleaned-up struct. */
void sd_secret_cleanup(struct sd_secret *s);

/*
 * The keyed derivation of every hsmux security-domain value:
 * HKDF-Expand (RFC 5869) with PRK = key, info = label || 0x00 || data and
 * L = 32, which is HMAC-SHA256(key, label || 0x00 || data || 0x01). The
 * extract step is skipped because the key is already 32 uniform random
 * bytes, as RFC 5869 section 3.3 allows. A token computes the same value
 * with one CKM_SHA256_HMAC signature, so the key never has to leave it.
 * Returns false when OpenSSL fails.
 */
bool sd_prf(const unsigned char *key, size_t key_len, const char *label, const unsigned char *data,
            size_t data_len, unsigned char out[SD_MAC_LEN]);
/* The message that a token signs with CKM_SHA256_HMAC for sd_prf(); the caller frees it. */
unsigned char *sd_prf_message(const char *label, const unsigned char *data, size_t data_len,
                              size_t *msg_len);

/* Base64 (RFC 4648, no line breaks). The encoder returns a string the caller frees, or NULL. */
char *sd_b64_encode(const unsigned char *data, size_t len);
/* Decodes strict base64 into a new buffer; returns NULL on any invalid input. */
unsigned char *sd_b64_decode(const char *text, size_t *len);
/* Writes 2 * len lowercase hex digits and a NUL to out. */
void sd_hex_encode(const unsigned char *data, size_t len, char *out);

/*
 * Reads a base64 string member of obj into a new buffer. With want != 0 the
 * decoded length must be exactly want. Returns NULL when the member is
 * missing, not a string, or not valid.
 */
unsigned char *sd_json_b64(const json_t *obj, const char *key, size_t want, size_t *len);

/*
 * The canonical text of a document: sorted keys, ASCII only. Pretty
 * (indented, with a final newline) is the form written to files; compact is
 * the form that MACs and associated data cover. Returns a string the caller
 * frees, or NULL.
 */
char *sd_json_canonical(const json_t *doc, bool pretty);

/*
 * Parses a file's text as a JSON object that must be byte for byte in its
 * pretty canonical form, so that any change to the file, even one that
 * leaves the JSON valid, is rejected. Writes a reason to err on failure.
 */
json_t *sd_json_parse_canonical(const char *text, size_t len, char *err, size_t err_len);

/*
 * Writes data to path atomically: a temporary file in the same directory,
 * fsync, rename, then fsync of the directory. The file gets mode, or 0600
 * when mode is 0. Returns 0, or -1 with errno set. When the rename did not
 * happen, path is unchanged and the temporary file is removed.
 */
int sd_write_file_atomic(const char *path, const void *data, size_t len, int mode);

/* Like sd_write_file_atomic(), but fails with EEXIST instead of replacing a file at path. */
int sd_write_file_new(const char *path, const void *data, size_t len, int mode);

/* Reads a whole file of at most max bytes into a new NUL-terminated buffer. NULL with errno. */
char *sd_read_file(const char *path, size_t max, size_t *len);

/* fsyncs the directory that contains path. Returns 0 or -1 with errno. */
int sd_fsync_parent(const char *path);

/* The current UTC time as "YYYY-MM-DDTHH:MM:SSZ" in out (at least 21 bytes). */
void sd_utc_now(char *out, size_t len);

#endif /* HSMUX_ADMIN_SD_UTIL_H */
