/*
 * The token side of the security domain inside the module. Calls go
 * straight to the session's backend with the backend's session handle,
 * because the module's key policy is for clients' keys, not for its own.
 */
#ifndef HSMUX_ADMIN_SD_TOKEN_H
#define HSMUX_ADMIN_SD_TOKEN_H

#include <openssl/evp.h>

#include "module/admin/sd_file.h"
#include "module/router.h"

/* A logged-in read-write session, resolved to its backend. */
struct sd_tok {
	struct hsmux_backend *be;
	CK_SESSION_HANDLE bsess;
	CK_SLOT_ID vslot, bslot;
	struct sd_token_id id;
};

/*
 * Resolves session and checks that it is a read-write user session.
 * Returns CKR_USER_NOT_LOGGED_IN, CKR_SESSION_READ_ONLY or the router's
 * code, with a message in err.
 */
CK_RV sd_tok_open(CK_SESSION_HANDLE session, struct sd_tok *t, char *err, size_t err_len);

/*
 * Finds the token object of class with label. *found is 0 or 1; more than
 * one gives CKR_GENERAL_ERROR with a message.
 */
CK_RV sd_tok_find(struct sd_tok *t, CK_OBJECT_CLASS cls, const char *label, CK_OBJECT_HANDLE *obj,
                  int *found, char *err, size_t err_len);

/* sd_prf() computed by the token: one CKM_SHA256_HMAC signature with key. */
CK_RV sd_tok_prf(struct sd_tok *t, CK_OBJECT_HANDLE key, const char *label,
                 const unsigned char *data, size_t len, unsigned char out[SD_MAC_LEN]);

/* The security domain's fingerprint, as sd_fingerprint() gives it for the plain key. */
CK_RV sd_tok_fingerprint(struct sd_tok *t, CK_OBJECT_HANDLE key, char out[SD_FP_HEX_LEN]);

/*
 * Stores key as the security-domain key: private, sensitive, not
 * extractable, HMAC only. A token object (token true) also cannot be
 * modified or destroyed; a session object serves as a trial.
 */
CK_RV sd_tok_create_key(struct sd_tok *t, const struct sd_secret *key, bool token,
                        CK_OBJECT_HANDLE *obj);

/*
 * Unwraps a security-domain key with the exchange private key
 * (CKM_RSA_PKCS_OAEP, SHA-1) into a session object, the trial to check.
 */
CK_RV sd_tok_unwrap_key(struct sd_tok *t, CK_OBJECT_HANDLE exchange, const unsigned char *wrapped,
                        size_t len, CK_OBJECT_HANDLE *obj);

/*
 * Stores a checked trial key as the token's security-domain key, a copy
 * that cannot be modified or destroyed. SoftHSM 2.6.1 rejects those
 * attributes in an unwrap template, so C_CopyObject sets them.
 */
CK_RV sd_tok_store_copy(struct sd_tok *t, CK_OBJECT_HANDLE trial, CK_OBJECT_HANDLE *obj);

/*
 * Makes the exchange key pair, RSA-3072 or RSA-2048 when the token makes
 * nothing larger (token objects; the private key may only unwrap).
 */
CK_RV sd_tok_generate_exchange(struct sd_tok *t, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv);

/* Reads an RSA public key object into an EVP_PKEY that the caller frees. */
CK_RV sd_tok_public_key(struct sd_tok *t, CK_OBJECT_HANDLE pub, EVP_PKEY **key);

CK_RV sd_tok_destroy(struct sd_tok *t, CK_OBJECT_HANDLE obj);

/* Copies a message into err: snprintf() that returns rv, for one-line error returns. */
CK_RV sd_fail(CK_RV rv, char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* HSMUX_ADMIN_SD_TOKEN_H */
