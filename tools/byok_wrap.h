/*
 * The customer side of BYOK, with OpenSSL only: no module and no HSM.
 * It implements CKM_RSA_AES_KEY_WRAP as PKCS#11 3.0 defines it. A fresh AES
 * key is encrypted with RSA-OAEP under the KEK's public key. The target key
 * is wrapped under that AES key with AES key wrap with padding (RFC 5649).
 * The blob is the RSA part followed by the wrap part.
 */
#ifndef HSMUX_BYOK_WRAP_H
#define HSMUX_BYOK_WRAP_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

/* The hash of RSA-OAEP; MGF1 uses the same hash. */
enum byok_oaep_hash {
	BYOK_OAEP_SHA1,
	BYOK_OAEP_SHA256,
};

enum byok_key_type {
	BYOK_KEY_RSA,
	BYOK_KEY_EC,
	BYOK_KEY_ED25519,
	BYOK_KEY_AES,
};

/* Size of the RFC 5649 output for an input of len bytes. */
#define BYOK_KWP_WRAPPED_LEN(len) ((((len) + 7) / 8) * 8 + 8)

/* RSA key sizes that BYOK accepts, for the KEK and for RSA targets. */
#define BYOK_RSA_MIN_BITS 2048
#define BYOK_RSA_MAX_BITS 4096

/*
 * Wraps in (1 or more bytes) under kek (16, 24 or 32 bytes) with AES key
 * wrap with padding and the RFC 5649 initial value A65959A6. out needs
 * BYOK_KWP_WRAPPED_LEN(in_len) bytes. Returns 0 with *out_len set, or -1.
 */
int byok_kwp_wrap(const unsigned char *kek, size_t kek_len, const unsigned char *in, size_t in_len,
                  unsigned char *out, size_t *out_len);

/*
 * Reverses byok_kwp_wrap(). out needs in_len - 8 bytes. Returns -1 when the
 * integrity check fails or the length is impossible.
 */
int byok_kwp_unwrap(const unsigned char *kek, size_t kek_len, const unsigned char *in,
                    size_t in_len, unsigned char *out, size_t *out_len);

/* Parses "sha1" or "sha256". Returns false for anything else. */
bool byok_oaep_hash_parse(const char *name, enum byok_oaep_hash *hash);

/*
 * Loads the KEK's public key from a PEM or DER file. It must be RSA of
 * BYOK_RSA_MIN_BITS to BYOK_RSA_MAX_BITS. Returns the key, or NULL with a
 * reason in err.
 */
EVP_PKEY *byok_kek_public_load(const char *path, char *err, size_t err_len);

/*
 * Loads the key to import. With aes, the file contains 16, 24 or 32 raw key
 * bytes. Otherwise it contains an unencrypted private key in PEM or DER (RSA of
 * 2048 to 4096 bits, EC on P-256, P-384, P-521 or secp256k1, or Ed25519),
 * and *key gets its PKCS#8 DER encoding. *key is freed by the caller with
 * OPENSSL_clear_free(). When pub is not NULL and the key is asymmetric,
 * *pub gets the public key (NULL for AES). Returns 0, or -1 with a reason in
 * err.
 */
int byok_target_load(const char *path, bool aes, unsigned char **key, size_t *key_len,
                     enum byok_key_type *type, EVP_PKEY **pub, char *err, size_t err_len);

/*
 * Wraps target as CKM_RSA_AES_KEY_WRAP under kek with a fresh AES-256 key,
 * which is wiped before return. *blob is freed by the caller with free().
 * Returns 0, or -1 with a reason in err.
 */
int byok_rsa_aes_wrap(EVP_PKEY *kek, enum byok_oaep_hash hash, const unsigned char *target,
                      size_t target_len, unsigned char **blob, size_t *blob_len, char *err,
                      size_t err_len);

/* A name for type, for messages: "RSA", "EC", "Ed25519", "AES". */
const char *byok_key_type_name(enum byok_key_type type);

#endif /* HSMUX_BYOK_WRAP_H */
