/*
 * The function lists and interfaces: "PKCS 11" at 2.40 (C_GetFunctionList)
 * and at 3.0 (C_GetInterface), plus the vendor interfaces hsmux publishes.
 */
#include <string.h>

#include "module/entry.h"

/* The admin interface's versions, newest first, when module/admin is linked in. */
extern size_t hsmux_admin_interface_count(void) __attribute__((weak));
extern const CK_INTERFACE *hsmux_admin_interface_at(size_t i) __attribute__((weak));

CK_RV C_LoginUser(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
		  CK_UTF8CHAR_PTR username, CK_ULONG username_len);
CK_RV C_SessionCancel(CK_SESSION_HANDLE h, CK_FLAGS flags);
CK_RV C_GetInterfaceList(CK_INTERFACE_PTR list, CK_ULONG_PTR count);
CK_RV C_GetInterface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version, CK_INTERFACE_PTR_PTR iface,
		     CK_FLAGS flags);

CK_RV C_LoginUser(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
		  CK_UTF8CHAR_PTR username, CK_ULONG username_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(pin, pin_len) || bad_buf(username, username_len)))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK && s.be->ops->login_user)
		rv = BACKEND_CALL(s, login_user, user, pin, pin_len, username, username_len);
	else if (rv == CKR_OK && (!username || username_len == 0))
		rv = BACKEND_CALL(s, login, user, pin, pin_len);
	else if (rv == CKR_OK)
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	return session_done(&s, "C_LoginUser", h, rv);
}

CK_RV C_SessionCancel(CK_SESSION_HANDLE h, CK_FLAGS flags)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && s.be->ops->session_cancel)
		rv = BACKEND_CALL(s, session_cancel, flags);
	else if (rv == CKR_OK && flags)
		rv = CKR_OPERATION_CANCEL_FAILED;
	return session_done(&s, "C_SessionCancel", h, rv);
}

/*
 * Message-based functions (3.0): no backend offers them yet, so they are
 * refused after the usual checks.
 */
static CK_RV message_refused(const char *fn, CK_SESSION_HANDLE h)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	return session_done(&s, fn, h, rv == CKR_OK ? CKR_FUNCTION_NOT_SUPPORTED : rv);
}

static CK_RV message_encrypt_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	return message_refused("C_MessageEncryptInit", h);
}

static CK_RV message_decrypt_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	return message_refused("C_MessageDecryptInit", h);
}

static CK_RV message_sign_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	return message_refused("C_MessageSignInit", h);
}

static CK_RV message_verify_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	return message_refused("C_MessageVerifyInit", h);
}

static CK_RV crypt_message(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
			   CK_BYTE_PTR aad, CK_ULONG aad_len, CK_BYTE_PTR in, CK_ULONG in_len,
			   CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	return message_refused("C_EncryptMessage/C_DecryptMessage", h);
}

static CK_RV crypt_message_begin(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
				 CK_BYTE_PTR aad, CK_ULONG aad_len)
{
	return message_refused("C_EncryptMessageBegin/C_DecryptMessageBegin", h);
}

static CK_RV crypt_message_next(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
				CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
				CK_ULONG_PTR out_len, CK_FLAGS flags)
{
	return message_refused("C_EncryptMessageNext/C_DecryptMessageNext", h);
}

static CK_RV message_final(CK_SESSION_HANDLE h)
{
	return message_refused("C_Message*Final", h);
}

static CK_RV sign_message(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
			  CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
			  CK_ULONG_PTR sig_len)
{
	return message_refused("C_SignMessage/C_SignMessageNext", h);
}

static CK_RV message_begin(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len)
{
	return message_refused("C_SignMessageBegin/C_VerifyMessageBegin", h);
}

static CK_RV verify_message(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
			    CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
	return message_refused("C_VerifyMessage/C_VerifyMessageNext", h);
}

#define FUNCTIONS_2_40                                                                             \
	C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetSlotList, C_GetSlotInfo,      \
		C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo, C_InitToken, C_InitPIN,    \
		C_SetPIN, C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo,     \
		C_GetOperationState, C_SetOperationState, C_Login, C_Logout, C_CreateObject,       \
		C_CopyObject, C_DestroyObject, C_GetObjectSize, C_GetAttributeValue,               \
		C_SetAttributeValue, C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal,         \
		C_EncryptInit, C_Encrypt, C_EncryptUpdate, C_EncryptFinal, C_DecryptInit,          \
		C_Decrypt, C_DecryptUpdate, C_DecryptFinal, C_DigestInit, C_Digest,                \
		C_DigestUpdate, C_DigestKey, C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate,      \
		C_SignFinal, C_SignRecoverInit, C_SignRecover, C_VerifyInit, C_Verify,             \
		C_VerifyUpdate, C_VerifyFinal, C_VerifyRecoverInit, C_VerifyRecover,               \
		C_DigestEncryptUpdate, C_DecryptDigestUpdate, C_SignEncryptUpdate,                 \
		C_DecryptVerifyUpdate, C_GenerateKey, C_GenerateKeyPair, C_WrapKey, C_UnwrapKey,   \
		C_DeriveKey, C_SeedRandom, C_GenerateRandom, C_GetFunctionStatus,                  \
		C_CancelFunction, C_WaitForSlotEvent

static CK_FUNCTION_LIST function_list_240 = {{2, 40}, FUNCTIONS_2_40};

static CK_FUNCTION_LIST_3_0 function_list_30 = {
	{3, 0},
	FUNCTIONS_2_40,
	C_GetInterfaceList,
	C_GetInterface,
	C_LoginUser,
	C_SessionCancel,
	message_encrypt_init,
	crypt_message,
	crypt_message_begin,
	crypt_message_next,
	message_final,
	message_decrypt_init,
	crypt_message,
	crypt_message_begin,
	crypt_message_next,
	message_final,
	message_sign_init,
	sign_message,
	message_begin,
	sign_message,
	message_final,
	message_verify_init,
	verify_message,
	message_begin,
	verify_message,
	message_final,
};

static CK_CHAR interface_name[] = "PKCS 11";

/* 3.0 first: C_GetInterface without a name or version gives the newest. */
static CK_INTERFACE pkcs11_interfaces[] = {
	{interface_name, &function_list_30, 0},
	{interface_name, &function_list_240, 0},
};

#define N_PKCS11_INTERFACES (sizeof(pkcs11_interfaces) / sizeof(pkcs11_interfaces[0]))

/* The 3.0 list reports version 3.0 in C_GetInfo. */
static void __attribute__((constructor)) set_info_30(void)
{
	function_list_30.C_GetInfo = hsmux_get_info_30;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	if (!list)
		return CKR_ARGUMENTS_BAD;
	*list = &function_list_240;
	return CKR_OK;
}

static size_t interface_count(void)
{
	size_t admin = hsmux_admin_interface_count ? hsmux_admin_interface_count() : 0;

	return N_PKCS11_INTERFACES + admin;
}

static CK_INTERFACE *interface_at(size_t i)
{
	if (i < N_PKCS11_INTERFACES)
		return &pkcs11_interfaces[i];
	return (CK_INTERFACE *)hsmux_admin_interface_at(i - N_PKCS11_INTERFACES);
}

CK_RV C_GetInterfaceList(CK_INTERFACE_PTR list, CK_ULONG_PTR count)
{
	size_t n = interface_count();

	if (!count)
		return CKR_ARGUMENTS_BAD;
	if (!list) {
		*count = n;
		return CKR_OK;
	}
	if (*count < n) {
		*count = n;
		return CKR_BUFFER_TOO_SMALL;
	}
	for (size_t i = 0; i < n; i++)
		list[i] = *interface_at(i);
	*count = n;
	return CKR_OK;
}

static const CK_VERSION *interface_version(const CK_INTERFACE *iface)
{
	return (const CK_VERSION *)iface->pFunctionList;
}

CK_RV C_GetInterface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version, CK_INTERFACE_PTR_PTR iface,
		     CK_FLAGS flags)
{
	if (!iface)
		return CKR_ARGUMENTS_BAD;
	for (size_t i = 0; i < interface_count(); i++) {
		CK_INTERFACE *candidate = interface_at(i);
		const CK_VERSION *v = interface_version(candidate);

		if (name && strcmp((const char *)name, (const char *)candidate->pInterfaceName))
			continue;
		if (version && (version->major != v->major || version->minor != v->minor))
			continue;
		if ((candidate->flags & flags) != flags)
			continue;
		*iface = candidate;
		return CKR_OK;
	}
	return CKR_ARGUMENTS_BAD;
}
