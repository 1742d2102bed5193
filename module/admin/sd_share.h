/*
 * Shamir shares of the security-domain key (libgfshare) and their
 * encryption to one custodian: RSA-OAEP (SHA-256) of a fresh AES-256 key,
 * then AES-256-GCM of the share under that key.
 */
#ifndef HSMUX_ADMIN_SD_SHARE_H
#define HSMUX_ADMIN_SD_SHARE_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "module/admin/sd_util.h"

#define SD_GCM_IV_LEN  12
#define SD_GCM_TAG_LEN 16

/*
 * Splits key quorum-of-n. Share i (x coordinate i + 1) goes to shares[i],
 * each an initialized secret of key->len bytes. Returns false when the
 * random generator fails; then the shares hold nothing useful.
 */
bool sd_share_split(const struct sd_secret *key, unsigned int quorum, size_t n,
                    struct sd_secret *shares);

/*
 * Rebuilds a key from n shares with x coordinates xs (1..255, distinct)
 * into key, an initialized secret as long as each share.
 */
bool sd_share_combine(const unsigned char *xs, const struct sd_secret *shares, size_t n,
                      struct sd_secret *key);

/* An encrypted share, as stored in sd.json. */
struct sd_sealed_share {
	unsigned char *encrypted_key; /* RSA-OAEP of the AES key */
	size_t encrypted_key_len;
	unsigned char iv[SD_GCM_IV_LEN];
	unsigned char *ciphertext;
	size_t ciphertext_len;
	unsigned char tag[SD_GCM_TAG_LEN];
};

/* Encrypts share to the custodian's public key with aad bound. */
bool sd_share_seal(EVP_PKEY *custodian, const struct sd_secret *share, const unsigned char *aad,
                   size_t aad_len, struct sd_sealed_share *out);

/*
 * Decrypts a sealed share with the custodian's private key into share (an
 * initialized secret of the ciphertext's length). Returns false when the
 * key does not fit or anything was changed.
 */
bool sd_share_open(EVP_PKEY *custodian, const struct sd_sealed_share *in, const unsigned char *aad,
                   size_t aad_len, struct sd_secret *share);

void sd_sealed_share_cleanup(struct sd_sealed_share *s);

/* AES-256-GCM with a 12-byte IV and 16-byte tag; the length of out is that of in. */
bool sd_gcm_encrypt(const unsigned char *key, const unsigned char *iv, const unsigned char *aad,
                    size_t aad_len, const unsigned char *in, size_t len, unsigned char *out,
                    unsigned char *tag);
bool sd_gcm_decrypt(const unsigned char *key, const unsigned char *iv, const unsigned char *aad,
                    size_t aad_len, const unsigned char *in, size_t len, unsigned char *out,
                    const unsigned char *tag);

/* RSA-OAEP encryption and decryption with md for both OAEP and MGF1. *out is the caller's. */
bool sd_rsa_oaep_encrypt(EVP_PKEY *key, const EVP_MD *md, const unsigned char *in, size_t len,
                         unsigned char **out, size_t *out_len);
bool sd_rsa_oaep_decrypt(EVP_PKEY *key, const EVP_MD *md, const unsigned char *in, size_t len,
                         struct sd_secret *out);

#endif /* HSMUX_ADMIN_SD_SHARE_H */
