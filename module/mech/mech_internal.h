/* Helpers shared by the files of module/mech; not an interface of the module. */
#ifndef HSMUX_MECH_INTERNAL_H
#define HSMUX_MECH_INTERNAL_H

#include <stdbool.h>

#include "backends/backend.h"
#include "hsmux/pkcs11.h"

/*
 * Gets the backend's info for type and checks that it has every flag in
 * flags. Returns false when the backend lacks the mechanism or a flag.
 */
bool mech_backend_has(struct hsmux_backend *be, CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                      CK_FLAGS flags, CK_MECHANISM_INFO *info);

/*
 * The id under which the backend unwraps with AES key wrap with padding:
 * CKM_AES_KEY_WRAP_KWP when it has it, else CKM_AES_KEY_WRAP_PAD. Returns
 * false when it has neither with CKF_UNWRAP.
 */
bool mech_backend_kwp_type(struct hsmux_backend *be, CK_SLOT_ID slot, CK_MECHANISM_TYPE *type,
                           CK_MECHANISM_INFO *info);

/* True when the backend has what a composed CKM_RSA_AES_KEY_WRAP unwrap needs. */
bool mech_rsa_aes_composable(struct hsmux_backend *be, CK_SLOT_ID slot,
                             CK_MECHANISM_INFO *oaep_info);

/* The slot of a backend session. */
CK_RV mech_session_slot(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_SLOT_ID *slot);

/* Reads one CK_ULONG or CK_BBOOL attribute of obj. */
CK_RV mech_get_ulong(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                     CK_ATTRIBUTE_TYPE type, CK_ULONG *value);
CK_RV mech_get_bool(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                    CK_ATTRIBUTE_TYPE type, CK_BBOOL *value);

/*
 * Checks that an object that an import just made is an RSA (2048 to 4096
 * bits), EC (P-256, P-384, P-521, secp256k1), Ed25519 or AES private or
 * secret key. kwp_len is the length of the AES key wrap part of the blob,
 * or 0 when hsmux did not see it. Returns CKR_OK, or the CK_RV to give the
 * caller, with the reason traced. The caller destroys the object on failure.
 */
CK_RV mech_check_imported_key(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
                              CK_ULONG kwp_len);

#endif /* HSMUX_MECH_INTERNAL_H */
