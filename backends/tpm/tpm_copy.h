/* C_CopyObject in the tpm backend. */
#ifndef HSMUX_TPM_COPY_H
#define HSMUX_TPM_COPY_H

#include <string.h>

#include "backends/backend.h"
#include "backends/tpm/tpm_token.h"

/*
 * Copies object h per C_CopyObject. CKA_TOKEN, CKA_PRIVATE, CKA_LABEL,
 * CKA_ID and the dates may change. CKA_MODIFIABLE, CKA_DESTROYABLE and
 * CKA_COPYABLE may only become false. Any other attribute in tmpl must
 * keep its value, else CKR_ATTRIBUTE_READ_ONLY. An object with
 * CKA_COPYABLE false gives CKR_ACTION_PROHIBITED. A token copy is in the
 * store before *new_h is set.
 */
CK_RV tpm_copy_object_locked(struct tpm_token *tok, struct tpm_session *sess, CK_OBJECT_HANDLE h,
                             const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *new_h);

/* The ops-table entry: finds the session under tok->lock. */
CK_RV tpm_copy_object(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                      CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR new_obj);

#endif /* HSMUX_TPM_COPY_H */
