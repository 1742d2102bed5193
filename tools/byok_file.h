/*
 * The .byok transfer file, the JSON format that cloud HSM services use for
 * key import:
 *
 *   {
 *     "schema_version": "1.0.0",
 *     "header": { "kid": "...", "alg": "dir", "enc": "CKM_RSA_AES_KEY_WRAP" },
 *     "ciphertext": "<base64url, no padding>",
 *     "generator": "..."
 *   }
 *
 * The ciphertext is the CKM_RSA_AES_KEY_WRAP blob: the RSA-OAEP encryption
 * of an ephemeral AES key, then the target key wrapped under that AES key
 * with AES key wrap with padding (RFC 5649). The parser is strict: a
 * missing or extra member, a value of the wrong JSON type, another
 * schema_version, alg or enc, and base64url that is not canonical are all
 * rejected.
 */
#ifndef HSMUX_BYOK_FILE_H
#define HSMUX_BYOK_FILE_H

#include <stddef.h>

#define BYOK_SCHEMA_VERSION "1.0.0"
#define BYOK_ALG            "dir"
#define BYOK_ENC            "CKM_RSA_AES_KEY_WRAP"

struct byok_file {
	char *kid;
	char *generator;
	unsigned char *ciphertext;
	size_t ciphertext_len;
};

/*
 * Parses len bytes of JSON into f, which the caller later releases with
 * byok_file_cleanup(). Returns 0, or -1 with f empty and a one-line reason
 * (which member, what is wrong) in err.
 */
int byok_file_parse(const char *json, size_t len, struct byok_file *f, char *err, size_t err_len);

/*
 * Reads and parses the file at path; the same contract as byok_file_parse(),
 * and err names the file.
 */
int byok_file_read(const char *path, struct byok_file *f, char *err, size_t err_len);

/*
 * Formats f as JSON text. Returns a string that the caller frees with free(),
 * or NULL when memory runs out.
 */
char *byok_file_format(const struct byok_file *f);

/*
 * Writes f to path atomically (temp file, fsync, rename, fsync of the
 * directory). Returns 0, or -1 with a reason in err.
 */
int byok_file_write(const char *path, const struct byok_file *f, char *err, size_t err_len);

/* Frees what f owns and leaves it empty. */
void byok_file_cleanup(struct byok_file *f);

/*
 * Encodes len bytes as base64url without padding (RFC 4648 section 5).
 * Returns a string that the caller frees, or NULL when memory runs out.
 */
char *byok_base64url_encode(const unsigned char *data, size_t len);

/*
 * Decodes base64url without padding. Rejects any other character (the
 * standard alphabet's '+' and '/', '=' padding, white space), an impossible
 * length and non-zero trailing bits. Returns 0 with *out (freed by the
 * caller) and *out_len, or -1.
 */
int byok_base64url_decode(const char *text, unsigned char **out, size_t *out_len);

/*
 * Writes len bytes to path atomically with the given mode. Returns 0, or -1
 * with errno set.
 */
int byok_write_file_atomic(const char *path, const void *data, size_t len, unsigned int mode);

#endif /* HSMUX_BYOK_FILE_H */
