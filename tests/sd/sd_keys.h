/* RSA, EC and AES test keys on a token, with their public halves and known ciphertexts in files. */
#ifndef HSMUX_TEST_SD_KEYS_H
#define HSMUX_TEST_SD_KEYS_H

#include "sd_fixture.h"

#define KEYS_PLAINTEXT "the restored keys still work"

/* Makes rsa-sign, rsa-dec, ec (P-256) and aes (256), all sensitive and not extractable. */
bool keys_make(struct mod *m);

/* Writes rsa-sign.pem, rsa-dec.pem, ec.pem, rsa.ct (OpenSSL's OAEP) and aes.ct (token's CBC). */
bool keys_export(struct mod *m, const char *dir);

/*
 * Signs with the token and verifies with OpenSSL and the saved public keys,
 * decrypts the saved ciphertexts, and checks that every key is still
 * sensitive and not extractable.
 */
bool keys_check(struct mod *m, const char *dir);

#endif
