/*
 * What test_tpm_data looks at outside the PKCS#11 interface: the bytes of
 * the store directory, the sealed value in a key file, and an independent
 * decryption of it.
 */
#ifndef HSMUX_TPM_DATA_CHECK_H
#define HSMUX_TPM_DATA_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/tpm/tpm_token.h"

/* True when any 8-byte run of value (all of it when shorter) is in a file below dir. */
bool data_check_dir_has(const char *dir, const uint8_t *value, size_t len);

/* True when any 8-byte run of value (all of it when shorter) is in buf. */
bool data_check_buf_has(const uint8_t *buf, size_t buf_len, const uint8_t *value, size_t len);

/*
 * Reads the key file of obj into *file (caller frees) and finds the sealed
 * value in it: its offset and length. Returns false when there is none.
 */
bool data_check_sealed(const struct tpm_token *tok, const struct tpm_object *obj, uint8_t **file,
                       size_t *file_len, size_t *off, size_t *len);

/*
 * Decrypts the sealed value of obj's key file the way tpm_data.h documents
 * it, with a data key from `openssl kdf` (HKDF-SHA256 of the token secret,
 * which needs a login), and compares it with value. Also checks that neither
 * the data key nor the token secret is in a file below dir.
 */
bool data_check_known_answer(const struct tpm_token *tok, const struct tpm_object *obj,
                             const uint8_t *value, size_t len, const char *dir);

/* Replaces dir/name with data by rename, so that the store reloads it as a new file. */
bool data_check_replace(const char *dir, const char *name, const uint8_t *data, size_t len);

#endif /* HSMUX_TPM_DATA_CHECK_H */
