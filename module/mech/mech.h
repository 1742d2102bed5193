/*
 * Mechanisms that hsmux offers on every backend, composed from what the
 * backend has when it lacks them:
 *
 * - CKM_RSA_AES_KEY_WRAP for C_UnwrapKey (BYOK import). Passed on when the
 *   backend has it, else composed from CKM_RSA_PKCS_OAEP and AES key wrap
 *   with padding. Either way, the unwrapping key must be import-only and
 *   the imported key must be a type and size that hsmux accepts.
 * - AES key wrap with padding (RFC 5649) for C_UnwrapKey under both of its
 *   ids: CKM_AES_KEY_WRAP_PAD (0x210A, the id SoftHSM 2.6.1 uses) and
 *   CKM_AES_KEY_WRAP_KWP (0x210B, the PKCS#11 3.0 id). A request under
 *   either id reaches the backend under the id that it has.
 *
 * Each function has the shape of the backend op of the same name: it takes
 * the backend instance first, then the backend's own slot IDs and session
 * handles. So the router calls it in place of the op, and tests run it over
 * any backend. Mechanisms other than these go to the backend unchanged.
 * No key byte passes through hsmux's memory: every step is a backend call
 * on key handles.
 */
#ifndef HSMUX_MECH_H
#define HSMUX_MECH_H

#include "backends/backend.h"
#include "hsmux/pkcs11.h"

/* RSA key sizes that an import accepts, in bits. */
#define HSMUX_MECH_RSA_MIN_BITS 2048
#define HSMUX_MECH_RSA_MAX_BITS 4096

/*
 * The backend's mechanism list plus the mechanisms above that the backend
 * lacks but hsmux can compose on it. Follows C_GetMechanismList's
 * conventions for list == NULL and CKR_BUFFER_TOO_SMALL.
 */
CK_RV hsmux_mech_get_mechanism_list(struct hsmux_backend *be, CK_SLOT_ID slot,
                                    CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count);

/*
 * The backend's info for type, or for a composed mechanism the info that
 * hsmux gives it: CKF_UNWRAP only, with the key sizes of the backend's
 * building block. CKR_MECHANISM_INVALID when neither applies.
 */
CK_RV hsmux_mech_get_mechanism_info(struct hsmux_backend *be, CK_SLOT_ID slot,
                                    CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info);

/*
 * C_UnwrapKey with the mechanisms above handled as described; others are
 * passed on. On any failure no object is left: the ephemeral AES key of a
 * composed CKM_RSA_AES_KEY_WRAP is destroyed on every path, and an imported
 * key that fails the type or size check is destroyed before return.
 */
CK_RV hsmux_mech_unwrap_key(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                            CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped,
                            CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                            CK_OBJECT_HANDLE_PTR key);

#endif /* HSMUX_MECH_H */
