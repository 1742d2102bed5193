/*
 * PKCS#11 helpers of the `hsmux byok` commands: a logged-in session on a
 * token, key look-up by label, attributes, pkcs11: URIs and key IDs (kid)
 * of key-exchange keys.
 */
#ifndef HSMUX_BYOK_P11_H
#define HSMUX_BYOK_P11_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "cli.h"

struct byok_token {
	struct cli *cli;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session;
	bool open;
	char label[33];
};

/*
 * Finds the token (label or pkcs11: URI) and logs in as user. Returns 0, or
 * 1 after printing a message.
 */
int byok_token_open(struct cli *cli, const char *token, const char *pin_file, struct byok_token *t);

/* Logs out and closes the session. Safe on a token that did not open. */
void byok_token_close(struct byok_token *t);

/*
 * Finds the objects of class cls labelled label (any key type when
 * key_type is (CK_ULONG)-1). Returns how many match, with the first in
 * *obj, or (CK_ULONG)-1 after printing a message.
 */
CK_ULONG byok_find_key(struct byok_token *t, CK_OBJECT_CLASS cls, CK_KEY_TYPE key_type,
                       const char *label, CK_OBJECT_HANDLE *obj);

/*
 * Reads a variable-length attribute into a new buffer that the caller frees.
 * Returns NULL when the attribute cannot be read (rv in *rv_out if not NULL).
 */
unsigned char *byok_get_attr(struct byok_token *t, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                             CK_ULONG *len, CK_RV *rv_out);

/* Reads a CK_BBOOL attribute. Returns false when it is false or absent. */
bool byok_get_bool(struct byok_token *t, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type);

/*
 * Formats the pkcs11: URI (RFC 7512) of a key: token, object, id and type,
 * percent-encoded. Returns a string that the caller frees, or NULL.
 */
char *byok_key_uri(const char *token, const char *label, const unsigned char *id, size_t id_len,
                   const char *type);

/*
 * The KEK's fingerprint: "sha256:" and the hex SHA-256 of its DER
 * SubjectPublicKeyInfo, into buf (at least 72 bytes). Returns 0, or -1.
 */
int byok_kek_fingerprint(EVP_PKEY *pub, char *buf, size_t len);

/*
 * True when kid names this KEK: a pkcs11: URI whose token, object and id
 * attributes (those present, at least one of object and id) match, the
 * KEK's fingerprint, or its label.
 */
bool byok_kid_matches(const char *kid, const char *token, const char *label,
                      const unsigned char *id, size_t id_len, const char *fingerprint);

/* Builds an RSA public key from its modulus and public exponent (big-endian). */
EVP_PKEY *byok_rsa_public(const unsigned char *n, size_t n_len, const unsigned char *e,
                          size_t e_len);

/* Reads the RSA public key of a token key (public or private object). */
EVP_PKEY *byok_token_rsa_public(struct byok_token *t, CK_OBJECT_HANDLE obj);

/* Parses hex (an even number of digits, 1 to 64 bytes) into a new buffer. */
unsigned char *byok_hex_decode(const char *hex, size_t *len);

#endif /* HSMUX_BYOK_P11_H */
