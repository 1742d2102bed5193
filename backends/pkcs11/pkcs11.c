#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/pkcs11/pkcs11.h"
#include "module/config.h"
#include "module/trace.h"

#define P11(be) ((struct p11_backend *)(be)->priv)

static const char *const pkcs11_keys[] = {"module", NULL};

/*
 * The modules loaded so far, so that one module never sits behind two
 * backends: a module loaded twice is one instance, and its slots would show
 * up twice. C_Initialize and C_Finalize run under the router's init lock,
 * which guards this list.
 */
#define MAX_LOADED 32
static struct {
	void *dl;
	const struct hsmux_backend *be;
} loaded[MAX_LOADED];

static const struct hsmux_backend *loaded_by(void *dl)
{
	for (size_t i = 0; i < MAX_LOADED; i++)
		if (loaded[i].dl == dl)
			return loaded[i].be;
	return NULL;
}

static void loaded_set(void *dl, const struct hsmux_backend *be)
{
	for (size_t i = 0; i < MAX_LOADED; i++) {
		if (be && !loaded[i].dl) {
			loaded[i].dl = dl;
			loaded[i].be = be;
			return;
		}
		if (!be && loaded[i].dl == dl) {
			loaded[i].dl = NULL;
			loaded[i].be = NULL;
			return;
		}
	}
}

static CK_RV init_module(struct p11_backend *p)
{
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_RV rv = p->fl->C_Initialize(&args);

	/* The application may have loaded and initialized this module itself. */
	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		p->owns_init = false;
		return CKR_OK;
	}
	p->owns_init = rv == CKR_OK;
	return rv;
}

/* A 3.0 module gives LoginUser and SessionCancel; 2.40 modules lack both. */
static void find_interface_30(struct p11_backend *p)
{
	CK_C_GetInterface get_interface = (CK_C_GetInterface)dlsym(p->dl, "C_GetInterface");
	CK_VERSION v30 = {3, 0};
	CK_INTERFACE_PTR iface = NULL;

	if (!get_interface)
		return;
	if (get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &iface, 0) == CKR_OK && iface &&
	    iface->pFunctionList)
		p->fl3 = iface->pFunctionList;
}

static CK_RV load_function_list(struct p11_backend *p, const char *at, char *err, size_t len)
{
	CK_C_GetFunctionList get_list;
	CK_RV rv;

	get_list = (CK_C_GetFunctionList)dlsym(p->dl, "C_GetFunctionList");
	if (!get_list) {
		snprintf(err, len, "%s: '%s' is not a PKCS#11 module (no C_GetFunctionList); "
			 "point 'module' at the vendor's PKCS#11 library", at, p->path);
		return CKR_GENERAL_ERROR;
	}
	rv = get_list(&p->fl);
	if (rv != CKR_OK || !p->fl) {
		snprintf(err, len, "%s: C_GetFunctionList of '%s' failed: %s", at, p->path,
			 hsmux_rv_name(rv));
		return CKR_GENERAL_ERROR;
	}
	find_interface_30(p);
	return CKR_OK;
}

CK_RV p11_backend_load(struct hsmux_backend *be, const char *path, const char *at, char *err,
		       size_t err_len)
{
	struct p11_backend *p = calloc(1, sizeof(*p));
	CK_RV rv;

	if (!p)
		return CKR_HOST_MEMORY;
	p->path = strdup(path);
	if (!p->path) {
		free(p);
		return CKR_HOST_MEMORY;
	}
	/* RTLD_NODELETE: a module that registered atexit handlers must stay mapped. */
	p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!p->dl) {
		snprintf(err, err_len, "%s: cannot load module '%s': %s; check the 'module' path",
			 at, path, dlerror());
		rv = CKR_GENERAL_ERROR;
		goto out;
	}
	if (loaded_by(p->dl)) {
		snprintf(err, err_len, "%s: module '%s' is already loaded by backend '%s'; a "
			 "process holds one instance of a module, so keep one section for it",
			 at, path, loaded_by(p->dl)->name);
		rv = CKR_GENERAL_ERROR;
		goto out;
	}
	rv = load_function_list(p, at, err, err_len);
	if (rv != CKR_OK)
		goto out;
	rv = init_module(p);
	if (rv != CKR_OK) {
		snprintf(err, err_len, "%s: C_Initialize of module '%s' failed: %s", at, path,
			 hsmux_rv_name(rv));
		rv = CKR_GENERAL_ERROR;
		goto out;
	}
	hsmux_trace(HSMUX_TRACE_BACKEND, "backend '%s': loaded %s%s", be->name, path,
		    p->fl3 ? " (3.0 interface)" : "");
	loaded_set(p->dl, be);
	be->priv = p;
	return CKR_OK;
out:
	if (p->dl)
		dlclose(p->dl);
	free(p->path);
	free(p);
	return rv;
}

void p11_backend_unload(struct hsmux_backend *be)
{
	struct p11_backend *p = P11(be);

	if (!p)
		return;
	if (p->owns_init)
		p->fl->C_Finalize(NULL);
	loaded_set(p->dl, NULL);
	dlclose(p->dl);
	free(p->path);
	free(p);
	be->priv = NULL;
}

/*
 * A module that kept the parent's state across fork() still has the
 * parent's sessions and logins. The child owns none of them: start over.
 */
CK_RV p11_backend_reinit_after_fork(struct hsmux_backend *be)
{
	struct p11_backend *p = P11(be);
	bool owned = p->owns_init;
	CK_RV rv;

	rv = init_module(p);
	if (rv == CKR_OK && !p->owns_init && owned) {
		p->fl->C_Finalize(NULL);
		rv = init_module(p);
	}
	return rv;
}

static CK_RV pkcs11_create(struct hsmux_backend *be, const struct hsmux_config_section *sec,
			   char *err, size_t len)
{
	unsigned int line = sec->line;
	const char *module = hsmux_config_get(sec, "module", &line);
	char at[512];

	snprintf(at, sizeof(at), "%s:%u", sec->file ? sec->file : "(default)", line);
	if (!module || !*module) {
		snprintf(err, len, "%s: backend '%s' of type pkcs11 needs 'module = PATH' to the "
			 "vendor's PKCS#11 library", at, sec->name);
		return CKR_GENERAL_ERROR;
	}
	return p11_backend_load(be, module, at, err, len);
}

CK_RV p11_open_session(struct hsmux_backend *be, CK_SLOT_ID slot, CK_FLAGS flags,
		       CK_SESSION_HANDLE_PTR session)
{
	/* Notifications stop at hsmux: no backend callback reaches the application. */
	return P11(be)->fl->C_OpenSession(slot, flags, NULL, NULL, session);
}

CK_RV p11_login_user(struct hsmux_backend *be, CK_SESSION_HANDLE session, CK_USER_TYPE user,
		     CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR username,
		     CK_ULONG username_len)
{
	struct p11_backend *p = P11(be);

	if (p->fl3)
		return p->fl3->C_LoginUser(session, user, pin, pin_len, username, username_len);
	/* A 2.40 module has no user names: only a login without a name maps onto C_Login. */
	if (!username || username_len == 0)
		return p->fl->C_Login(session, user, pin, pin_len);
	return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV p11_session_cancel(struct hsmux_backend *be, CK_SESSION_HANDLE session, CK_FLAGS flags)
{
	struct p11_backend *p = P11(be);
	CK_RV rv = CKR_OK;

	if (p->fl3) {
		rv = p->fl3->C_SessionCancel(session, flags);
		flags = 0;
	} else if (flags & CKF_FIND_OBJECTS) {
		/* Of the 2.40 operations, only a search can be ended without side effects. */
		rv = p->fl->C_FindObjectsFinal(session);
		if (rv == CKR_OPERATION_NOT_INITIALIZED)
			rv = CKR_OK;
		flags &= ~CKF_FIND_OBJECTS;
	}
	if (rv == CKR_OK && flags)
		rv = CKR_OPERATION_CANCEL_FAILED;
	return rv;
}

const struct hsmux_backend_ops hsmux_pkcs11_backend_ops = {
	.type = "pkcs11",
	.keys = pkcs11_keys,
	.create = pkcs11_create,
	.destroy = p11_backend_unload,
	.reinit_after_fork = p11_backend_reinit_after_fork,
	P11_BACKEND_FORWARDERS,
};

/* The forwarders below pass each call on unchanged. */

CK_RV p11_get_slot_list(struct hsmux_backend *be, CK_BBOOL a0, CK_SLOT_ID_PTR a1, CK_ULONG_PTR a2)
{
	return P11(be)->fl->C_GetSlotList(a0, a1, a2);
}

CK_RV p11_get_slot_info(struct hsmux_backend *be, CK_SLOT_ID a0, CK_SLOT_INFO_PTR a1)
{
	return P11(be)->fl->C_GetSlotInfo(a0, a1);
}

CK_RV p11_get_token_info(struct hsmux_backend *be, CK_SLOT_ID a0, CK_TOKEN_INFO_PTR a1)
{
	return P11(be)->fl->C_GetTokenInfo(a0, a1);
}

CK_RV p11_wait_for_slot_event(struct hsmux_backend *be, CK_FLAGS a0, CK_SLOT_ID_PTR a1)
{
	return P11(be)->fl->C_WaitForSlotEvent(a0, a1, NULL);
}

CK_RV p11_get_mechanism_list(struct hsmux_backend *be, CK_SLOT_ID a0, CK_MECHANISM_TYPE_PTR a1, CK_ULONG_PTR a2)
{
	return P11(be)->fl->C_GetMechanismList(a0, a1, a2);
}

CK_RV p11_get_mechanism_info(struct hsmux_backend *be, CK_SLOT_ID a0, CK_MECHANISM_TYPE a1, CK_MECHANISM_INFO_PTR a2)
{
	return P11(be)->fl->C_GetMechanismInfo(a0, a1, a2);
}

CK_RV p11_init_token(struct hsmux_backend *be, CK_SLOT_ID a0, CK_UTF8CHAR_PTR a1, CK_ULONG a2, CK_UTF8CHAR_PTR a3)
{
	return P11(be)->fl->C_InitToken(a0, a1, a2, a3);
}

CK_RV p11_init_pin(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_UTF8CHAR_PTR a1, CK_ULONG a2)
{
	return P11(be)->fl->C_InitPIN(a0, a1, a2);
}

CK_RV p11_set_pin(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_UTF8CHAR_PTR a1, CK_ULONG a2, CK_UTF8CHAR_PTR a3, CK_ULONG a4)
{
	return P11(be)->fl->C_SetPIN(a0, a1, a2, a3, a4);
}

CK_RV p11_close_session(struct hsmux_backend *be, CK_SESSION_HANDLE a0)
{
	return P11(be)->fl->C_CloseSession(a0);
}

CK_RV p11_close_all_sessions(struct hsmux_backend *be, CK_SLOT_ID a0)
{
	return P11(be)->fl->C_CloseAllSessions(a0);
}

CK_RV p11_get_session_info(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_SESSION_INFO_PTR a1)
{
	return P11(be)->fl->C_GetSessionInfo(a0, a1);
}

CK_RV p11_get_operation_state(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG_PTR a2)
{
	return P11(be)->fl->C_GetOperationState(a0, a1, a2);
}

CK_RV p11_set_operation_state(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_OBJECT_HANDLE a3, CK_OBJECT_HANDLE a4)
{
	return P11(be)->fl->C_SetOperationState(a0, a1, a2, a3, a4);
}

CK_RV p11_login(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_USER_TYPE a1, CK_UTF8CHAR_PTR a2, CK_ULONG a3)
{
	return P11(be)->fl->C_Login(a0, a1, a2, a3);
}

CK_RV p11_logout(struct hsmux_backend *be, CK_SESSION_HANDLE a0)
{
	return P11(be)->fl->C_Logout(a0);
}

CK_RV p11_create_object(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_ATTRIBUTE_PTR a1, CK_ULONG a2, CK_OBJECT_HANDLE_PTR a3)
{
	return P11(be)->fl->C_CreateObject(a0, a1, a2, a3);
}

CK_RV p11_copy_object(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_OBJECT_HANDLE a1, CK_ATTRIBUTE_PTR a2, CK_ULONG a3, CK_OBJECT_HANDLE_PTR a4)
{
	return P11(be)->fl->C_CopyObject(a0, a1, a2, a3, a4);
}

CK_RV p11_destroy_object(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_OBJECT_HANDLE a1)
{
	return P11(be)->fl->C_DestroyObject(a0, a1);
}

CK_RV p11_get_object_size(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_OBJECT_HANDLE a1, CK_ULONG_PTR a2)
{
	return P11(be)->fl->C_GetObjectSize(a0, a1, a2);
}

CK_RV p11_get_attribute_value(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_OBJECT_HANDLE a1, CK_ATTRIBUTE_PTR a2, CK_ULONG a3)
{
	return P11(be)->fl->C_GetAttributeValue(a0, a1, a2, a3);
}

CK_RV p11_set_attribute_value(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_OBJECT_HANDLE a1, CK_ATTRIBUTE_PTR a2, CK_ULONG a3)
{
	return P11(be)->fl->C_SetAttributeValue(a0, a1, a2, a3);
}

CK_RV p11_find_objects_init(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_ATTRIBUTE_PTR a1, CK_ULONG a2)
{
	return P11(be)->fl->C_FindObjectsInit(a0, a1, a2);
}

CK_RV p11_find_objects(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_OBJECT_HANDLE_PTR a1, CK_ULONG a2, CK_ULONG_PTR a3)
{
	return P11(be)->fl->C_FindObjects(a0, a1, a2, a3);
}

CK_RV p11_find_objects_final(struct hsmux_backend *be, CK_SESSION_HANDLE a0)
{
	return P11(be)->fl->C_FindObjectsFinal(a0);
}

CK_RV p11_encrypt_init(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_OBJECT_HANDLE a2)
{
	return P11(be)->fl->C_EncryptInit(a0, a1, a2);
}

CK_RV p11_encrypt(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_BYTE_PTR a3, CK_ULONG_PTR a4)
{
	return P11(be)->fl->C_Encrypt(a0, a1, a2, a3, a4);
}

CK_RV p11_encrypt_update(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_BYTE_PTR a3, CK_ULONG_PTR a4)
{
	return P11(be)->fl->C_EncryptUpdate(a0, a1, a2, a3, a4);
}

CK_RV p11_encrypt_final(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG_PTR a2)
{
	return P11(be)->fl->C_EncryptFinal(a0, a1, a2);
}

CK_RV p11_decrypt_init(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_OBJECT_HANDLE a2)
{
	return P11(be)->fl->C_DecryptInit(a0, a1, a2);
}

CK_RV p11_decrypt(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_BYTE_PTR a3, CK_ULONG_PTR a4)
{
	return P11(be)->fl->C_Decrypt(a0, a1, a2, a3, a4);
}

CK_RV p11_decrypt_update(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_BYTE_PTR a3, CK_ULONG_PTR a4)
{
	return P11(be)->fl->C_DecryptUpdate(a0, a1, a2, a3, a4);
}

CK_RV p11_decrypt_final(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG_PTR a2)
{
	return P11(be)->fl->C_DecryptFinal(a0, a1, a2);
}

CK_RV p11_digest_init(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1)
{
	return P11(be)->fl->C_DigestInit(a0, a1);
}

CK_RV p11_digest(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_BYTE_PTR a3, CK_ULONG_PTR a4)
{
	return P11(be)->fl->C_Digest(a0, a1, a2, a3, a4);
}

CK_RV p11_digest_update(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2)
{
	return P11(be)->fl->C_DigestUpdate(a0, a1, a2);
}

CK_RV p11_digest_key(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_OBJECT_HANDLE a1)
{
	return P11(be)->fl->C_DigestKey(a0, a1);
}

CK_RV p11_digest_final(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG_PTR a2)
{
	return P11(be)->fl->C_DigestFinal(a0, a1, a2);
}

CK_RV p11_sign_init(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_OBJECT_HANDLE a2)
{
	return P11(be)->fl->C_SignInit(a0, a1, a2);
}

CK_RV p11_sign(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_BYTE_PTR a3, CK_ULONG_PTR a4)
{
	return P11(be)->fl->C_Sign(a0, a1, a2, a3, a4);
}

CK_RV p11_sign_update(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2)
{
	return P11(be)->fl->C_SignUpdate(a0, a1, a2);
}

CK_RV p11_sign_final(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG_PTR a2)
{
	return P11(be)->fl->C_SignFinal(a0, a1, a2);
}

CK_RV p11_sign_recover_init(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_OBJECT_HANDLE a2)
{
	return P11(be)->fl->C_SignRecoverInit(a0, a1, a2);
}

CK_RV p11_sign_recover(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_BYTE_PTR a3, CK_ULONG_PTR a4)
{
	return P11(be)->fl->C_SignRecover(a0, a1, a2, a3, a4);
}

CK_RV p11_verify_init(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_OBJECT_HANDLE a2)
{
	return P11(be)->fl->C_VerifyInit(a0, a1, a2);
}

CK_RV p11_verify(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_BYTE_PTR a3, CK_ULONG a4)
{
	return P11(be)->fl->C_Verify(a0, a1, a2, a3, a4);
}

CK_RV p11_verify_update(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2)
{
	return P11(be)->fl->C_VerifyUpdate(a0, a1, a2);
}

CK_RV p11_verify_final(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2)
{
	return P11(be)->fl->C_VerifyFinal(a0, a1, a2);
}

CK_RV p11_verify_recover_init(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_OBJECT_HANDLE a2)
{
	return P11(be)->fl->C_VerifyRecoverInit(a0, a1, a2);
}

CK_RV p11_verify_recover(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_BYTE_PTR a3, CK_ULONG_PTR a4)
{
	return P11(be)->fl->C_VerifyRecover(a0, a1, a2, a3, a4);
}

CK_RV p11_digest_encrypt_update(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_BYTE_PTR a3, CK_ULONG_PTR a4)
{
	return P11(be)->fl->C_DigestEncryptUpdate(a0, a1, a2, a3, a4);
}

CK_RV p11_decrypt_digest_update(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_BYTE_PTR a3, CK_ULONG_PTR a4)
{
	return P11(be)->fl->C_DecryptDigestUpdate(a0, a1, a2, a3, a4);
}

CK_RV p11_sign_encrypt_update(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_BYTE_PTR a3, CK_ULONG_PTR a4)
{
	return P11(be)->fl->C_SignEncryptUpdate(a0, a1, a2, a3, a4);
}

CK_RV p11_decrypt_verify_update(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2, CK_BYTE_PTR a3, CK_ULONG_PTR a4)
{
	return P11(be)->fl->C_DecryptVerifyUpdate(a0, a1, a2, a3, a4);
}

CK_RV p11_generate_key(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_ATTRIBUTE_PTR a2, CK_ULONG a3, CK_OBJECT_HANDLE_PTR a4)
{
	return P11(be)->fl->C_GenerateKey(a0, a1, a2, a3, a4);
}

CK_RV p11_generate_key_pair(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_ATTRIBUTE_PTR a2, CK_ULONG a3, CK_ATTRIBUTE_PTR a4, CK_ULONG a5, CK_OBJECT_HANDLE_PTR a6, CK_OBJECT_HANDLE_PTR a7)
{
	return P11(be)->fl->C_GenerateKeyPair(a0, a1, a2, a3, a4, a5, a6, a7);
}

CK_RV p11_wrap_key(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_OBJECT_HANDLE a2, CK_OBJECT_HANDLE a3, CK_BYTE_PTR a4, CK_ULONG_PTR a5)
{
	return P11(be)->fl->C_WrapKey(a0, a1, a2, a3, a4, a5);
}

CK_RV p11_unwrap_key(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_OBJECT_HANDLE a2, CK_BYTE_PTR a3, CK_ULONG a4, CK_ATTRIBUTE_PTR a5, CK_ULONG a6, CK_OBJECT_HANDLE_PTR a7)
{
	return P11(be)->fl->C_UnwrapKey(a0, a1, a2, a3, a4, a5, a6, a7);
}

CK_RV p11_derive_key(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_MECHANISM_PTR a1, CK_OBJECT_HANDLE a2, CK_ATTRIBUTE_PTR a3, CK_ULONG a4, CK_OBJECT_HANDLE_PTR a5)
{
	return P11(be)->fl->C_DeriveKey(a0, a1, a2, a3, a4, a5);
}

CK_RV p11_seed_random(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2)
{
	return P11(be)->fl->C_SeedRandom(a0, a1, a2);
}

CK_RV p11_generate_random(struct hsmux_backend *be, CK_SESSION_HANDLE a0, CK_BYTE_PTR a1, CK_ULONG a2)
{
	return P11(be)->fl->C_GenerateRandom(a0, a1, a2);
}
