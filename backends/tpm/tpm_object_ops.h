/*
 * The tpm backend's object, key and crypto ops: each looks up the session
 * under tok->lock and calls the *_locked worker.
 */
#ifndef HSMUX_TPM_OBJECT_OPS_H
#define HSMUX_TPM_OBJECT_OPS_H

#include "backends/backend.h"

CK_RV tpm_create_object(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR tmpl,
                        CK_ULONG count, CK_OBJECT_HANDLE_PTR obj);
CK_RV tpm_destroy_object(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj);
CK_RV tpm_get_object_size(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                          CK_ULONG_PTR size);
CK_RV tpm_get_attribute_value(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                              CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);
CK_RV tpm_set_attribute_value(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                              CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);
CK_RV tpm_find_objects_init(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR tmpl,
                            CK_ULONG count);
CK_RV tpm_find_objects(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR objs,
                       CK_ULONG max, CK_ULONG_PTR count);
CK_RV tpm_find_objects_final(struct hsmux_backend *be, CK_SESSION_HANDLE s);

CK_RV tpm_encrypt_init(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                       CK_OBJECT_HANDLE key);
CK_RV tpm_encrypt(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len,
                  CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV tpm_generate_key(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                       CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key);
CK_RV tpm_decrypt_init(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                       CK_OBJECT_HANDLE key);
CK_RV tpm_decrypt(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len,
                  CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV tpm_encrypt_update(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
                         CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV tpm_encrypt_final(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR out,
                        CK_ULONG_PTR out_len);
CK_RV tpm_decrypt_update(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
                         CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV tpm_decrypt_final(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR out,
                        CK_ULONG_PTR out_len);
CK_RV tpm_digest_init(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech);
CK_RV tpm_digest(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len,
                 CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV tpm_digest_update(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
                        CK_ULONG in_len);
CK_RV tpm_digest_final(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR out,
                       CK_ULONG_PTR out_len);
CK_RV tpm_sign_init(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                    CK_OBJECT_HANDLE key);
CK_RV tpm_sign(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len,
               CK_BYTE_PTR sig, CK_ULONG_PTR sig_len);
CK_RV tpm_sign_update(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
                      CK_ULONG in_len);
CK_RV tpm_sign_final(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR sig,
                     CK_ULONG_PTR sig_len);
CK_RV tpm_generate_key_pair(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                            CK_ATTRIBUTE_PTR pub_tmpl, CK_ULONG pub_count,
                            CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG priv_count,
                            CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv);
CK_RV tpm_seed_random(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR seed,
                      CK_ULONG seed_len);
CK_RV tpm_generate_random(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR out,
                          CK_ULONG out_len);

CK_RV tpm_unwrap_key(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                     CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped, CK_ULONG wrapped_len,
                     CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key);

#endif /* HSMUX_TPM_OBJECT_OPS_H */
