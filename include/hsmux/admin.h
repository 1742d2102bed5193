/*
 * "hsmux admin": the vendor interface of libhsmux.so for the security
 * domain, backup and restore, and for checking keys against the policy.
 * Get it with
 *
 *   CK_VERSION v = {HSMUX_ADMIN_VERSION_MAJOR, HSMUX_ADMIN_VERSION_MINOR};
 *   C_GetInterface((CK_UTF8CHAR_PTR)HSMUX_ADMIN_INTERFACE, &v, &iface, 0);
 *   const struct hsmux_admin_functions *admin = iface->pFunctionList;
 *
 * Every function but key_status takes a read-write session of the token,
 * logged in as CKU_USER (the security-domain key is a private object, which
 * SoftHSM's SO cannot see), and gives CKR_USER_NOT_LOGGED_IN otherwise. On
 * failure it writes one line for the user into err (what failed and what
 * to do); err is left empty on success. Functions that write a file write
 * it atomically (temporary file, fsync, rename, fsync of the directory), so
 * a crash never leaves a partial file under the final name.
 *
 * The security-domain key is a 32-byte CKO_SECRET_KEY of type
 * CKK_GENERIC_SECRET, labelled HSMUX_SD_KEY_LABEL, token, private,
 * sensitive and not extractable, with CKA_SIGN only. Every value derived
 * from it (its fingerprint, the backup key, the MACs of the files) is
 * HKDF-Expand with SHA-256 computed inside the token as one
 * CKM_SHA256_HMAC signature, so the key never leaves the token after
 * sd_activate().
 */
#ifndef HSMUX_ADMIN_H
#define HSMUX_ADMIN_H

#include <stddef.h>

#include "hsmux/pkcs11.h"

#define HSMUX_ADMIN_INTERFACE     "hsmux admin"
#define HSMUX_ADMIN_VERSION_MAJOR 1
#define HSMUX_ADMIN_VERSION_MINOR 1

#define HSMUX_SD_KEY_LABEL      "hsmux security domain"
#define HSMUX_SD_EXCHANGE_LABEL "hsmux security-domain exchange"

struct hsmux_admin_functions {
	CK_VERSION version;

	/*
	 * Activates the token's security domain. It makes a 256-bit key from
	 * the backend's C_GenerateRandom and splits it quorum-of-n with
	 * Shamir's scheme. Share i is encrypted to custodian_spki[i], the DER
	 * SubjectPublicKeyInfo of an RSA key of 2048 bits or more. It writes
	 * sd.json to sd_path, and only then stores the key in the token.
	 * 3 <= n <= 10 and 2 <= quorum <= n, else CKR_ARGUMENTS_BAD. A token
	 * that has a security domain already gives CKR_FUNCTION_REJECTED.
	 * When storing the key fails, sd_path is removed again.
	 */
	CK_RV(*sd_activate)
	(CK_SESSION_HANDLE session, const unsigned char *const *custodian_spki,
	 const size_t *spki_len, size_t n, unsigned int quorum, const char *sd_path, char *err,
	 size_t err_len);

	/*
	 * Writes the security domain's fingerprint (64 hex digits and a NUL)
	 * to fingerprint, or gives CKR_KEY_NEEDED when the token has no
	 * security domain.
	 */
	CK_RV(*sd_fingerprint)
	(CK_SESSION_HANDLE session, char fingerprint[65], char *err, size_t err_len);

	/*
	 * Makes the token's RSA exchange key, replacing an earlier one: 3072
	 * bits, or 2048 where the token makes nothing larger. Writes its public
	 * key as PEM to pem_path. A token with a security domain gives
	 * CKR_FUNCTION_REJECTED.
	 */
	CK_RV(*sd_init_recovery)
	(CK_SESSION_HANDLE session, const char *pem_path, char *err, size_t err_len);

	/*
	 * Reads upload.json, unwraps the security-domain key with the
	 * exchange key inside the token, checks it against the fingerprint
	 * and the MAC of the file, and only then stores it as the token's
	 * security-domain key and deletes the exchange key. A changed file,
	 * or one made for another exchange key, gives CKR_DATA_INVALID; a
	 * token without an exchange key gives CKR_KEY_NEEDED; one with a
	 * security domain, CKR_FUNCTION_REJECTED.
	 */
	CK_RV(*sd_upload)
	(CK_SESSION_HANDLE session, const char *upload_path, char *err, size_t err_len);

	/*
	 * Writes a full backup of the token to out_path: a manifest, then the
	 * backend's own store under a key derived from the security-domain key.
	 * A token without a security domain gives CKR_KEY_NEEDED; a backend
	 * that cannot export its store, CKR_FUNCTION_NOT_SUPPORTED.
	 */
	CK_RV (*backup)(CK_SESSION_HANDLE session, const char *out_path, char *err, size_t err_len);

	/*
	 * Replaces the token's store with the backup in in_path, atomically.
	 * A file from another security domain, a changed or cut file or
	 * another format version gives CKR_DATA_INVALID and leaves the token
	 * as it was. On success every session of the slot is closed (the
	 * backend starts again on the restored store), and the token has the
	 * source token's objects, label, serial number and PINs.
	 */
	CK_RV (*restore)(CK_SESSION_HANDLE session, const char *in_path, char *err, size_t err_len);

	/*
	 * Since 1.1. Checks one key that is already on the token (for example
	 * one made on the backend before hsmux fronted it) against the policy's
	 * rules, for `hsmux status --keys`. *within_rules gets CK_TRUE, or
	 * CK_FALSE with the rules the key breaks in reason. Each rule is one
	 * sentence such as "it is not sensitive", with "; " between them. The
	 * reason is empty for a key within the rules, and is cut short to fit
	 * reason_len.
	 * hsmux uses a key outside the rules only as far as they allow. Any
	 * session of the token will do; the caller logs in as CKU_USER to see
	 * private keys. A key whose attributes cannot be read is reported as
	 * outside the rules. Gives CKR_ARGUMENTS_BAD for a NULL within_rules
	 * or reason or a reason_len of 0, and CKR_SESSION_HANDLE_INVALID or
	 * CKR_CRYPTOKI_NOT_INITIALIZED like any PKCS#11 call. It writes no err:
	 * the reason is the message.
	 */
	CK_RV(*key_status)
	(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, CK_BBOOL *within_rules, char *reason,
	 size_t reason_len);
};

#endif /* HSMUX_ADMIN_H */
