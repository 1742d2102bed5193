/* The mechanism list and info that hsmux gives for a backend's slot. */
#include <stdlib.h>
#include <string.h>

#include "module/mech/mech.h"
#include "module/mech/mech_internal.h"
#include "module/trace.h"

/* The maximum number of mechanisms that hsmux adds to a backend's list. */
#define MECH_EXTRA_MAX 2

bool mech_backend_has(struct hsmux_backend *be, CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                      CK_FLAGS flags, CK_MECHANISM_INFO *info)
{
	CK_MECHANISM_INFO local;

	if (!info)
		info = &local;
	if (!be->ops->get_mechanism_info)
		return false;
	if (be->ops->get_mechanism_info(be, slot, type, info) != CKR_OK)
		return false;
	return (info->flags & flags) == flags;
}

bool mech_backend_kwp_type(struct hsmux_backend *be, CK_SLOT_ID slot, CK_MECHANISM_TYPE *type,
                           CK_MECHANISM_INFO *info)
{
	if (mech_backend_has(be, slot, CKM_AES_KEY_WRAP_KWP, CKF_UNWRAP, info)) {
		*type = CKM_AES_KEY_WRAP_KWP;
		return true;
	}
	if (mech_backend_has(be, slot, CKM_AES_KEY_WRAP_PAD, CKF_UNWRAP, info)) {
		*type = CKM_AES_KEY_WRAP_PAD;
		return true;
	}
	return false;
}

bool mech_rsa_aes_composable(struct hsmux_backend *be, CK_SLOT_ID slot,
                             CK_MECHANISM_INFO *oaep_info)
{
	CK_MECHANISM_TYPE kwp;

	return be->ops->unwrap_key && be->ops->destroy_object &&
	       mech_backend_has(be, slot, CKM_RSA_PKCS_OAEP, CKF_UNWRAP, oaep_info) &&
	       mech_backend_kwp_type(be, slot, &kwp, NULL);
}

CK_RV mech_session_slot(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_SLOT_ID *slot)
{
	CK_SESSION_INFO info;
	CK_RV rv;

	if (!be->ops->get_session_info)
		return CKR_FUNCTION_NOT_SUPPORTED;
	rv = be->ops->get_session_info(be, s, &info);
	if (rv == CKR_OK)
		*slot = info.slotID;
	return rv;
}

CK_RV mech_get_ulong(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                     CK_ATTRIBUTE_TYPE type, CK_ULONG *value)
{
	CK_ATTRIBUTE attr = {type, value, sizeof(*value)};
	CK_RV rv;

	if (!be->ops->get_attribute_value)
		return CKR_FUNCTION_NOT_SUPPORTED;
	rv = be->ops->get_attribute_value(be, s, obj, &attr, 1);
	if (rv == CKR_OK && attr.ulValueLen != sizeof(*value))
		rv = CKR_ATTRIBUTE_VALUE_INVALID;
	return rv;
}

CK_RV mech_get_bool(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                    CK_ATTRIBUTE_TYPE type, CK_BBOOL *value)
{
	CK_ATTRIBUTE attr = {type, value, sizeof(*value)};
	CK_RV rv;

	if (!be->ops->get_attribute_value)
		return CKR_FUNCTION_NOT_SUPPORTED;
	rv = be->ops->get_attribute_value(be, s, obj, &attr, 1);
	if (rv == CKR_OK && attr.ulValueLen != sizeof(*value))
		rv = CKR_ATTRIBUTE_VALUE_INVALID;
	return rv;
}

static bool list_contains(const CK_MECHANISM_TYPE *list, CK_ULONG n, CK_MECHANISM_TYPE type)
{
	for (CK_ULONG i = 0; i < n; i++)
		if (list[i] == type)
			return true;
	return false;
}

/* Appends to list (room for MECH_EXTRA_MAX more) what hsmux composes on the backend. */
static CK_ULONG add_composed(struct hsmux_backend *be, CK_SLOT_ID slot, CK_MECHANISM_TYPE *list,
                             CK_ULONG n)
{
	CK_MECHANISM_TYPE kwp;

	if (mech_backend_kwp_type(be, slot, &kwp, NULL)) {
		CK_MECHANISM_TYPE other =
		    kwp == CKM_AES_KEY_WRAP_KWP ? CKM_AES_KEY_WRAP_PAD : CKM_AES_KEY_WRAP_KWP;

		if (!list_contains(list, n, other))
			list[n++] = other;
	}
	if (!list_contains(list, n, CKM_RSA_AES_KEY_WRAP) &&
	    mech_rsa_aes_composable(be, slot, NULL))
		list[n++] = CKM_RSA_AES_KEY_WRAP;
	return n;
}

/* Gets the backend's list into a new array with room for the additions. */
static CK_RV backend_list(struct hsmux_backend *be, CK_SLOT_ID slot, CK_MECHANISM_TYPE **list,
                          CK_ULONG *n)
{
	CK_MECHANISM_TYPE *buf = NULL;
	CK_ULONG count = 0;
	CK_RV rv;

	/* The list can grow between the two calls (a token inserted), so try again then. */
	for (int attempt = 0; attempt < 3; attempt++) {
		rv = be->ops->get_mechanism_list(be, slot, NULL, &count);
		if (rv != CKR_OK)
			return rv;
		free(buf);
		buf = calloc(count + MECH_EXTRA_MAX + 1, sizeof(*buf));
		if (!buf)
			return CKR_HOST_MEMORY;
		rv = be->ops->get_mechanism_list(be, slot, buf, &count);
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;
	}
	if (rv != CKR_OK) {
		free(buf);
		return rv;
	}
	*list = buf;
	*n = count;
	return CKR_OK;
}

CK_RV hsmux_mech_get_mechanism_list(struct hsmux_backend *be, CK_SLOT_ID slot,
                                    CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	CK_MECHANISM_TYPE *all = NULL;
	CK_ULONG n = 0;
	CK_RV rv;

	if (!be->ops->get_mechanism_list)
		return CKR_FUNCTION_NOT_SUPPORTED;
	rv = backend_list(be, slot, &all, &n);
	if (rv != CKR_OK)
		return rv;
	n = add_composed(be, slot, all, n);

	if (list && *count < n)
		rv = CKR_BUFFER_TOO_SMALL;
	else if (list)
		memcpy(list, all, n * sizeof(*all));
	*count = n;
	free(all);
	return rv;
}

CK_RV hsmux_mech_get_mechanism_info(struct hsmux_backend *be, CK_SLOT_ID slot,
                                    CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	CK_MECHANISM_TYPE kwp;
	CK_RV rv;

	if (!be->ops->get_mechanism_info)
		return CKR_FUNCTION_NOT_SUPPORTED;
	rv = be->ops->get_mechanism_info(be, slot, type, info);
	if (rv != CKR_MECHANISM_INVALID)
		return rv;

	/* Only C_UnwrapKey goes through the composition, so only CKF_UNWRAP is offered. */
	if (type == CKM_RSA_AES_KEY_WRAP && mech_rsa_aes_composable(be, slot, info)) {
		info->flags = CKF_UNWRAP | (info->flags & CKF_HW);
		return CKR_OK;
	}
	if ((type == CKM_AES_KEY_WRAP_PAD || type == CKM_AES_KEY_WRAP_KWP) &&
	    mech_backend_kwp_type(be, slot, &kwp, info)) {
		info->flags = CKF_UNWRAP | (info->flags & CKF_HW);
		return CKR_OK;
	}
	return rv;
}
