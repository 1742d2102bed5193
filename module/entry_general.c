/*
 * The exported C_* functions for the library, slots, tokens, sessions and
 * login. Each checks its arguments, maps its handle and calls the backend.
 */
#include <stdio.h>
#include <string.h>

#include "module/entry.h"
#include "module/mech/mech.h"
#include "module/policy/policy.h"

#define HSMUX_MANUFACTURER "hsmux project"
#define HSMUX_DESCRIPTION "hsmux PKCS#11 router"

static void pad_copy(CK_UTF8CHAR *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	memset(dst, ' ', len);
	memcpy(dst, src, n < len ? n : len);
}

static CK_RV check_init_args(CK_VOID_PTR init_args)
{
	CK_C_INITIALIZE_ARGS *args = init_args;
	int n;

	if (!args)
		return CKR_OK;
	if (args->pReserved)
		return CKR_ARGUMENTS_BAD;
	n = !!args->CreateMutex + !!args->DestroyMutex + !!args->LockMutex + !!args->UnlockMutex;
	if (n != 0 && n != 4)
		return CKR_ARGUMENTS_BAD;
	/* hsmux always locks with the OS's primitives, and creates no threads of its own. */
	return CKR_OK;
}

CK_RV C_Initialize(CK_VOID_PTR init_args)
{
	CK_RV rv = check_init_args(init_args);

	if (rv == CKR_OK)
		rv = hsmux_router_init();
	return traced("C_Initialize", 0, rv);
}

CK_RV C_Finalize(CK_VOID_PTR reserved)
{
	if (reserved)
		return traced("C_Finalize", 0, CKR_ARGUMENTS_BAD);
	traced("C_Finalize", 0, CKR_OK);
	return hsmux_router_finalize();
}

static CK_RV get_info(CK_INFO_PTR info, CK_BYTE major, CK_BYTE minor)
{
	unsigned int maj = 0, min = 0;

	if (!hsmux_router_ready())
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	if (!info)
		return CKR_ARGUMENTS_BAD;
	memset(info, 0, sizeof(*info));
	info->cryptokiVersion.major = major;
	info->cryptokiVersion.minor = minor;
	pad_copy(info->manufacturerID, sizeof(info->manufacturerID), HSMUX_MANUFACTURER);
	pad_copy(info->libraryDescription, sizeof(info->libraryDescription), HSMUX_DESCRIPTION);
	sscanf(HSMUX_VERSION, "%u.%u", &maj, &min);
	info->libraryVersion.major = (CK_BYTE)maj;
	info->libraryVersion.minor = (CK_BYTE)min;
	return CKR_OK;
}

CK_RV C_GetInfo(CK_INFO_PTR info)
{
	return traced("C_GetInfo", 0, get_info(info, 2, 40));
}

CK_RV hsmux_get_info_30(CK_INFO_PTR info)
{
	return traced("C_GetInfo", 0, get_info(info, 3, 0));
}

CK_RV C_GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	CK_RV rv = CKR_ARGUMENTS_BAD;

	if (!hsmux_router_ready())
		rv = CKR_CRYPTOKI_NOT_INITIALIZED;
	else if (count)
		rv = hsmux_router_slot_list(token_present, list, count);
	return traced("C_GetSlotList", 0, rv);
}

/* The slot description names the backend, so that tools can tell the slots apart. */
CK_RV C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
	struct hsmux_slot_ref sl;
	char desc[160];
	char theirs[65];
	CK_RV rv = hsmux_slot_get(slot, &sl);

	if (rv == CKR_OK && !info)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_SLOT_CALL(sl, get_slot_info, info);
	if (rv == CKR_OK) {
		memcpy(theirs, info->slotDescription, 64);
		theirs[64] = '\0';
		for (size_t n = 64; n > 0 && theirs[n - 1] == ' '; n--)
			theirs[n - 1] = '\0';
		snprintf(desc, sizeof(desc), "hsmux %s: %s", sl.be->name, theirs);
		pad_copy(info->slotDescription, sizeof(info->slotDescription), desc);
	}
	return slot_done(&sl, "C_GetSlotInfo", slot, rv);
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	struct hsmux_slot_ref sl;
	CK_RV rv = hsmux_slot_get(slot, &sl);

	if (rv == CKR_OK && !info)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_SLOT_CALL(sl, get_token_info, info);
	return slot_done(&sl, "C_GetTokenInfo", slot, rv);
}

/*
 * Only the non-blocking form: a blocking wait over several backends would
 * need a thread per backend.
 */
CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved)
{
	struct hsmux_gate_shard *gate;
	CK_RV rv = CKR_NO_EVENT;

	if (!hsmux_router_ready())
		return traced("C_WaitForSlotEvent", 0, CKR_CRYPTOKI_NOT_INITIALIZED);
	if (!slot || reserved)
		return traced("C_WaitForSlotEvent", 0, CKR_ARGUMENTS_BAD);
	if (!(flags & CKF_DONT_BLOCK))
		return traced("C_WaitForSlotEvent", 0, CKR_FUNCTION_NOT_SUPPORTED);
	gate = hsmux_gate_enter(0);
	for (size_t i = 0; i < hsmux_router_backend_count() && rv == CKR_NO_EVENT; i++) {
		struct hsmux_backend *be = hsmux_router_backend(i);
		CK_SLOT_ID bslot;

		if (!be->ops->wait_for_slot_event)
			continue;
		rv = be->ops->wait_for_slot_event(be, CKF_DONT_BLOCK, &bslot);
		if (rv == CKR_OK)
			*slot = hsmux_vslot(be, bslot);
		else if (rv == CKR_FUNCTION_NOT_SUPPORTED)
			rv = CKR_NO_EVENT;
	}
	hsmux_gate_leave(gate);
	return traced("C_WaitForSlotEvent", 0, rv);
}

CK_RV C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	struct hsmux_slot_ref sl;
	CK_RV rv = hsmux_slot_get(slot, &sl);

	if (rv == CKR_OK && !count)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_get_mechanism_list(sl.be, sl.bslot, list, count);
	return slot_done(&sl, "C_GetMechanismList", slot, rv);
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	struct hsmux_slot_ref sl;
	CK_RV rv = hsmux_slot_get(slot, &sl);

	if (rv == CKR_OK && !info)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK && !hsmux_policy_mechanism_allowed(sl.be, type))
		rv = CKR_MECHANISM_INVALID;
	if (rv == CKR_OK)
		rv = hsmux_mech_get_mechanism_info(sl.be, sl.bslot, type, info);
	return slot_done(&sl, "C_GetMechanismInfo", slot, rv);
}

CK_RV C_InitToken(CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR label)
{
	struct hsmux_slot_ref sl;
	CK_RV rv = hsmux_slot_get(slot, &sl);

	if (rv == CKR_OK && (!label || bad_buf(pin, pin_len)))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_SLOT_CALL(sl, init_token, pin, pin_len, label);
	if (rv == CKR_OK)
		hsmux_policy_forget_slot(sl.be, sl.bslot);
	return slot_done(&sl, "C_InitToken", slot, rv);
}

CK_RV C_InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && bad_buf(pin, pin_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, init_pin, pin, pin_len);
	return session_done(&s, "C_InitPIN", h, rv);
}

CK_RV C_SetPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
	       CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(old_pin, old_len) || bad_buf(new_pin, new_len)))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, set_pin, old_pin, old_len, new_pin, new_len);
	return session_done(&s, "C_SetPIN", h, rv);
}

CK_RV C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
		    CK_SESSION_HANDLE_PTR h)
{
	struct hsmux_slot_ref sl;
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_slot_get(slot, &sl);

	if (rv == CKR_OK && !h)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK && !(flags & CKF_SERIAL_SESSION))
		rv = CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	if (rv == CKR_OK)
		rv = BACKEND_SLOT_CALL(sl, open_session, flags, &s.bsess);
	if (rv != CKR_OK)
		return slot_done(&sl, "C_OpenSession", slot, rv);

	s.be = sl.be;
	s.vslot = slot;
	rv = hsmux_session_add(&s, h);
	if (rv != CKR_OK)
		s.be->ops->close_session(s.be, s.bsess);
	return slot_done(&sl, "C_OpenSession", slot, rv);
}

CK_RV C_CloseSession(CK_SESSION_HANDLE h)
{
	struct hsmux_gate_shard *gate;
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_remove(h, &s);

	if (rv != CKR_OK)
		return traced("C_CloseSession", h, rv);
	gate = hsmux_gate_enter(h);
	rv = s.be->ops->close_session(s.be, s.bsess);
	hsmux_gate_leave(gate);
	hsmux_policy_forget_session_objects(s.be, s.vslot & 0xFFFFFFFFUL);
	/* Closed either way: a backend that lost the session already has nothing to close. */
	if (rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED)
		rv = CKR_OK;
	return traced("C_CloseSession", h, rv);
}

CK_RV C_CloseAllSessions(CK_SLOT_ID slot)
{
	struct hsmux_slot_ref sl;
	CK_RV rv = hsmux_slot_get(slot, &sl);

	if (rv == CKR_OK) {
		hsmux_session_remove_slot(slot);
		rv = BACKEND_SLOT_CALL(sl, close_all_sessions);
	}
	return slot_done(&sl, "C_CloseAllSessions", slot, rv);
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && !info)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = s.be->ops->get_session_info(s.be, s.bsess, info);
	if (rv == CKR_OK)
		info->slotID = s.vslot;
	return session_done(&s, "C_GetSessionInfo", h, rv);
}

CK_RV C_GetOperationState(CK_SESSION_HANDLE h, CK_BYTE_PTR state, CK_ULONG_PTR state_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && !state_len)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_get_operation_state(&s, state, state_len);
	return session_done(&s, "C_GetOperationState", h, rv);
}

CK_RV C_SetOperationState(CK_SESSION_HANDLE h, CK_BYTE_PTR state, CK_ULONG state_len,
			  CK_OBJECT_HANDLE enc_key, CK_OBJECT_HANDLE auth_key)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && !state)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_set_operation_state(&s);
	return session_done(&s, "C_SetOperationState", h, rv);
}

CK_RV C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && bad_buf(pin, pin_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, login, user, pin, pin_len);
	return session_done(&s, "C_Login", h, rv);
}

CK_RV C_Logout(CK_SESSION_HANDLE h)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK)
		rv = s.be->ops->logout(s.be, s.bsess);
	return session_done(&s, "C_Logout", h, rv);
}

/* Parallel functions are legacy: the spec's return value for them is CKR_FUNCTION_NOT_PARALLEL. */
CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE h)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	return session_done(&s, "C_GetFunctionStatus", h, rv == CKR_OK ? CKR_FUNCTION_NOT_PARALLEL : rv);
}

CK_RV C_CancelFunction(CK_SESSION_HANDLE h)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	return session_done(&s, "C_CancelFunction", h, rv == CKR_OK ? CKR_FUNCTION_NOT_PARALLEL : rv);
}
