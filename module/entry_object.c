/* The exported C_* functions for objects and object search. */
#include "module/entry.h"
#include "module/policy/policy.h"

CK_RV C_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
		     CK_OBJECT_HANDLE_PTR obj)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(tmpl, count) || !obj))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_create_object(&s, tmpl, count, obj);
	return session_done(&s, "C_CreateObject", h, rv);
}

CK_RV C_CopyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
		   CK_ULONG count, CK_OBJECT_HANDLE_PTR new_obj)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(tmpl, count) || !new_obj))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_copy_object(&s, obj, tmpl, count, new_obj);
	return session_done(&s, "C_CopyObject", h, rv);
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK)
		rv = hsmux_policy_destroy_object(&s, obj);
	return session_done(&s, "C_DestroyObject", h, rv);
}

CK_RV C_GetObjectSize(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ULONG_PTR size)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && !size)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, get_object_size, obj, size);
	return session_done(&s, "C_GetObjectSize", h, rv);
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
			  CK_ULONG count)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && bad_buf(tmpl, count))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_get_attribute_value(&s, obj, tmpl, count);
	return session_done(&s, "C_GetAttributeValue", h, rv);
}

CK_RV C_SetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
			  CK_ULONG count)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && bad_buf(tmpl, count))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_set_attribute_value(&s, obj, tmpl, count);
	return session_done(&s, "C_SetAttributeValue", h, rv);
}

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && bad_buf(tmpl, count))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, find_objects_init, tmpl, count);
	return session_done(&s, "C_FindObjectsInit", h, rv);
}

CK_RV C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR objs, CK_ULONG max,
		    CK_ULONG_PTR count)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (!objs || !count))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, find_objects, objs, max, count);
	return session_done(&s, "C_FindObjects", h, rv);
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE h)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK)
		rv = s.be->ops->find_objects_final ? s.be->ops->find_objects_final(s.be, s.bsess)
						   : CKR_FUNCTION_NOT_SUPPORTED;
	return session_done(&s, "C_FindObjectsFinal", h, rv);
}
