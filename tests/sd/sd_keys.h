/* RSA, EC and AES test keys on a token, with their public halves and known ciphertexts in files. */
#ifndef HSMUX_TEST_SD_KEYS_H
#define HSMUX_TEST_SD_KEYS_H

#include "sd_fixture.h"

#define KEYS_PLAINTEXT "the restored keys still work"
/* 32 bytes: whole AES blocks, for tokens without CKM_AES_CBC_PAD. */
#define KEYS_AES_PLAINTEXT "the restored AES key still works"

/*
 * The AES mechanism of the known ciphertext: CKM_AES_CBC_PAD (the default)
 * or CKM_AES_CBC (the tpm backend, which has no padding).
 */
extern CK_MECHANISM_TYPE keys_aes_mech;

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
