/*
 * The key policy: the rules that keep a sensitive key inside the token,
 * whatever the backend allows, enforced before the backend sees a call.
 *
 * - Creation (C_GenerateKey, C_GenerateKeyPair, C_CreateObject,
 *   C_UnwrapKey, C_DeriveKey, C_CopyObject): a private or secret key is
 *   SENSITIVE and, unless the backend's policy allows export, not
 *   EXTRACTABLE. A template that asks for less is tightened quietly or
 *   rejected with CKR_TEMPLATE_INCONSISTENT ("weak-template").
 * - Sticky attributes: SENSITIVE only goes false to true, EXTRACTABLE only
 *   true to false, WRAP_WITH_TRUSTED only false to true, no usage attribute
 *   is switched on after creation, and only the SO sets CKA_TRUSTED.
 * - Separate roles: no key, and no RSA key pair taken as a whole, holds
 *   WRAP or UNWRAP together with ENCRYPT or DECRYPT. A key that is not
 *   CKA_LOCAL (its value came from a client or an unwrap) wraps nothing
 *   until the SO marks it CKA_TRUSTED.
 * - C_WrapKey and C_UnwrapKey take only authenticated key wrap (AES-KW,
 *   AES-KWP, RSA-OAEP, RSA-AES-KW), with a wrapping key at least as strong
 *   as the target. Every failure to decrypt or unpad the wrapped bytes
 *   returns CKR_WRAPPED_KEY_INVALID, so errors are no padding oracle.
 * - C_DeriveKey: the mechanisms that copy key bytes are rejected on
 *   sensitive keys, and a derived key inherits sensitivity.
 * - No secret component of a sensitive or non-extractable key is returned,
 *   C_DigestKey rejects such keys, and no operation state is exported.
 * - A mechanism allow-list (DES, MD5, RSA under 2048 bits and raw RSA on
 *   keys that decrypt or unwrap are denied by default).
 *
 * Keys that were on a backend before hsmux and break these rules are used
 * only within them: a key that holds WRAP and DECRYPT does neither.
 *
 * Functions named after a PKCS#11 call check it and then call the
 * backend's op with a tightened template; they take the router's session
 * reference and return the spec's CK_RV. Every rejection is traced under the
 * "policy" category.
 */
#ifndef HSMUX_POLICY_H
#define HSMUX_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "backends/backend.h"
#include "hsmux/pkcs11.h"
#include "module/config.h"
#include "module/router.h"

/* Config keys of a [backend:NAME] section that the policy reads; NULL-terminated. */
extern const char *const hsmux_policy_config_keys[];

/*
 * Reads the policy keys of sec into a new policy (*out), which the caller
 * frees with hsmux_policy_free(). A section without policy keys gets the
 * strict default. On a bad value it returns CKR_GENERAL_ERROR and writes a
 * message naming the file, the line and the fix to err.
 */
CK_RV hsmux_policy_config(struct hsmux_backend_policy **out, const struct hsmux_config_section *sec,
                          char *err, size_t err_len);

void hsmux_policy_free(struct hsmux_backend_policy *policy);

/* The uses of a key that hsmux_policy_check_key_use() checks. */
enum hsmux_key_use {
	HSMUX_USE_ENCRYPT,
	HSMUX_USE_DECRYPT,
	HSMUX_USE_SIGN,
	HSMUX_USE_VERIFY,
	HSMUX_USE_SIGN_RECOVER,
	HSMUX_USE_VERIFY_RECOVER,
};

/*
 * Checks a key-based *Init call before the backend sees it (the 3.0
 * message *Init calls need it too, once hsmux offers them): the mechanism allow-list, the RSA size,
 * the role separation, and raw RSA on keys that decrypt or unwrap. It reads the key's attributes
 * only for mechanisms that need them, through the cache. Returns CKR_OK or the rejection's CK_RV.
 */
CK_RV hsmux_policy_check_key_use(const struct hsmux_session_ref *s, enum hsmux_key_use use,
                                 const CK_MECHANISM *mech, CK_OBJECT_HANDLE key);

/* Checks C_DigestInit's mechanism against the allow-list. */
CK_RV hsmux_policy_check_mechanism(const struct hsmux_session_ref *s, const CK_MECHANISM *mech);

/* Returns CKR_KEY_INDIGESTIBLE for a sensitive or non-extractable key, else CKR_OK. */
CK_RV hsmux_policy_check_digest_key(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE key);

/* Policy-checked versions of the calls of the same name. */
CK_RV hsmux_policy_generate_key(const struct hsmux_session_ref *s, CK_MECHANISM_PTR mech,
                                CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key);
CK_RV hsmux_policy_generate_key_pair(const struct hsmux_session_ref *s, CK_MECHANISM_PTR mech,
                                     CK_ATTRIBUTE_PTR pub_tmpl, CK_ULONG pub_count,
                                     CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG priv_count,
                                     CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv);
CK_RV hsmux_policy_create_object(const struct hsmux_session_ref *s, CK_ATTRIBUTE_PTR tmpl,
                                 CK_ULONG count, CK_OBJECT_HANDLE_PTR obj);
CK_RV hsmux_policy_copy_object(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj,
                               CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR new_obj);
CK_RV hsmux_policy_destroy_object(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj);
CK_RV hsmux_policy_wrap_key(const struct hsmux_session_ref *s, CK_MECHANISM_PTR mech,
                            CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key,
                            CK_BYTE_PTR wrapped, CK_ULONG_PTR wrapped_len);
CK_RV hsmux_policy_unwrap_key(const struct hsmux_session_ref *s, CK_MECHANISM_PTR mech,
                              CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped,
                              CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                              CK_OBJECT_HANDLE_PTR key);
CK_RV hsmux_policy_derive_key(const struct hsmux_session_ref *s, CK_MECHANISM_PTR mech,
                              CK_OBJECT_HANDLE base_key, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                              CK_OBJECT_HANDLE_PTR key);

/*
 * C_GetAttributeValue: every secret component of a sensitive or
 * non-extractable key gets ulValueLen = CK_UNAVAILABLE_INFORMATION and the
 * call returns CKR_ATTRIBUTE_SENSITIVE, while the other attributes are
 * filled. The backend is never asked for a secret component.
 */
CK_RV hsmux_policy_get_attribute_value(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj,
                                       CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);
CK_RV hsmux_policy_set_attribute_value(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj,
                                       CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);

/*
 * C_GetOperationState: hsmux exports no operation state, because it cannot
 * tell a digest's state from a key-based one on every backend. It returns
 * the backend's CKR_OPERATION_NOT_INITIALIZED when nothing is active, else
 * CKR_STATE_UNSAVEABLE. C_SetOperationState returns CKR_SAVED_STATE_INVALID.
 */
CK_RV hsmux_policy_get_operation_state(const struct hsmux_session_ref *s, CK_BYTE_PTR state,
                                       CK_ULONG_PTR state_len);
CK_RV hsmux_policy_set_operation_state(const struct hsmux_session_ref *s);

/* Whether the backend's policy allows mech at all, for C_GetMechanismInfo. */
bool hsmux_policy_mechanism_allowed(const struct hsmux_backend *be, CK_MECHANISM_TYPE mech);

/*
 * C_GetMechanismList without the mechanisms the policy denies, over the
 * mechanism layer's list. Follows the spec for list == NULL and
 * CKR_BUFFER_TOO_SMALL.
 */
CK_RV hsmux_policy_get_mechanism_list(struct hsmux_backend *be, CK_SLOT_ID bslot,
                                      CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count);

/*
 * Attribute cache upkeep. The policy forgets an object itself on Set, Copy
 * and Destroy through hsmux. The router calls these when session objects
 * end (C_CloseSession, C_CloseAllSessions), when a token is initialized,
 * and at C_Finalize or after fork().
 */
void hsmux_policy_forget_session_objects(const struct hsmux_backend *be, CK_SLOT_ID bslot);
void hsmux_policy_forget_slot(const struct hsmux_backend *be, CK_SLOT_ID bslot);
/* Drops obj from the cache, for code that makes or destroys objects around the policy. */
void hsmux_policy_forget_object(const struct hsmux_backend *be, CK_SLOT_ID bslot,
                                CK_OBJECT_HANDLE obj);
void hsmux_policy_forget_all(void);

/*
 * Checks an existing key against the rules, for `hsmux status --keys`.
 * Returns true when the key is within them; otherwise writes the reasons
 * (one sentence each, "; " between them) to reason and returns false.
 */
bool hsmux_policy_key_status(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE key, char *reason,
                             size_t reason_len);

/*
 * The same for a key named by an hsmux session handle, for the admin
 * interface that `hsmux status --keys` calls: *within_rules gets CK_TRUE or
 * CK_FALSE and reason the reasons. Returns the router's
 * CKR_SESSION_HANDLE_INVALID or CKR_CRYPTOKI_NOT_INITIALIZED, else CKR_OK.
 */
CK_RV hsmux_policy_key_status_session(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key,
                                      CK_BBOOL *within_rules, char *reason, size_t reason_len);

#endif /* HSMUX_POLICY_H */
