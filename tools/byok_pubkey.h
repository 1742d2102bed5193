/*
 * The public key object that `hsmux byok import` makes beside an imported
 * private key, so that OpenSSL, NSS and ssh find the key pair. The public
 * key comes from public data only, never from the private key bytes:
 *
 * - RSA: CKA_MODULUS and CKA_PUBLIC_EXPONENT, which the private key object
 *   exposes.
 * - EC: the public key that the user gives (--pub), or else the one that
 *   two ECDSA signatures made by the token determine (public key recovery,
 *   SEC 1 v2 section 4.1.6), because SoftHSM 2.6.1 keeps no CKA_EC_POINT on
 *   private keys.
 * - Ed25519: the public key that the user gives (--pub). An EdDSA
 *   signature does not determine the public key.
 *
 * A given public key is accepted only after a signature that the token makes
 * with the private key verifies under it.
 */
#ifndef HSMUX_BYOK_PUBKEY_H
#define HSMUX_BYOK_PUBKEY_H

#include <openssl/evp.h>

#include "byok_p11.h"

/* Loads a public key (or the public half of a key pair) from a PEM or DER file. */
EVP_PKEY *byok_public_load(const char *path, char *err, size_t err_len);

/*
 * Creates the public key object for priv (CKK_RSA, CKK_EC or
 * CKK_EC_EDWARDS) with the given label and ID. pub is the user's public key
 * or NULL. Returns 0 with *obj set, or 1 after printing a message; nothing is
 * created on failure.
 */
int byok_public_object_create(struct byok_token *t, CK_OBJECT_HANDLE priv, CK_KEY_TYPE type,
                              EVP_PKEY *pub, const char *label, const unsigned char *id,
                              size_t id_len, CK_OBJECT_HANDLE *obj);

#endif /* HSMUX_BYOK_PUBKEY_H */
