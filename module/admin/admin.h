/*
 * The functions behind the "hsmux admin" interface (include/hsmux/admin.h
 * has their contracts), and what they share.
 */
#ifndef HSMUX_ADMIN_ADMIN_H
#define HSMUX_ADMIN_ADMIN_H

#include "module/admin/sd_token.h"

/* The vendor interface, for C_GetInterfaceList and C_GetInterface. */
const CK_INTERFACE *hsmux_admin_interface(void);

/* Every version of the vendor interface that is served, newest first. */
size_t hsmux_admin_interface_count(void);
const CK_INTERFACE *hsmux_admin_interface_at(size_t i); /* NULL past the end */

CK_RV admin_sd_activate(CK_SESSION_HANDLE session, const unsigned char *const *spki,
                        const size_t *spki_len, size_t n, unsigned int quorum, const char *sd_path,
                        char *err, size_t err_len);
CK_RV admin_sd_fingerprint(CK_SESSION_HANDLE session, char fingerprint[65], char *err,
                           size_t err_len);
CK_RV admin_sd_init_recovery(CK_SESSION_HANDLE session, const char *pem_path, char *err,
                             size_t err_len);
CK_RV admin_sd_upload(CK_SESSION_HANDLE session, const char *upload_path, char *err,
                      size_t err_len);
CK_RV admin_backup(CK_SESSION_HANDLE session, const char *out_path, char *err, size_t err_len);
CK_RV admin_restore(CK_SESSION_HANDLE session, const char *in_path, char *err, size_t err_len);

/* The token's security-domain key; CKR_KEY_NEEDED with a message when it has none. */
CK_RV admin_sd_key(struct sd_tok *t, CK_OBJECT_HANDLE *key, char *err, size_t err_len);

/* CKR_FUNCTION_REJECTED with a message when the token has a security domain already. */
CK_RV admin_require_no_sd(struct sd_tok *t, char *err, size_t err_len);

/* Deletes the token's exchange key pair, if it has one. */
CK_RV admin_drop_exchange(struct sd_tok *t, char *err, size_t err_len);

#endif /* HSMUX_ADMIN_ADMIN_H */
