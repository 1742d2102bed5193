/*
 * The pkcs11 backend: any vendor PKCS#11 module, loaded with dlopen. The
 * softhsm backend is this one plus SoftHSM's set-up, so the loader and the
 * forwarding ops are shared here.
 */
#ifndef HSMUX_BACKEND_PKCS11_H
#define HSMUX_BACKEND_PKCS11_H

#include "backends/backend.h"

struct hsmux_config_section;

struct p11_backend {
	void *dl;
	CK_FUNCTION_LIST_PTR fl;
	CK_FUNCTION_LIST_3_0_PTR fl3; /* NULL unless the module has a 3.0 interface */
	bool owns_init; /* false when the application had initialized the module already */
	char *path;
};

/*
 * Loads the module at path, gets its function list and initializes it with
 * CKF_OS_LOCKING_OK. On failure it writes a one-line reason that names the
 * config file and line (at) into err. be->priv is set on success only.
 */
CK_RV p11_backend_load(struct hsmux_backend *be, const char *path, const char *at, char *err,
		       size_t err_len);

/* Finalizes (when hsmux initialized it) and unloads the module. */
void p11_backend_unload(struct hsmux_backend *be);

CK_RV p11_backend_reinit_after_fork(struct hsmux_backend *be);

/* The forwarding ops, for the tables of pkcs11 and softhsm. */
#define P11_BACKEND_FORWARDERS                                                                     \
	.get_slot_list = p11_get_slot_list, .get_slot_info = p11_get_slot_info,                    \
	.get_token_info = p11_get_token_info, .wait_for_slot_event = p11_wait_for_slot_event,      \
	.get_mechanism_list = p11_get_mechanism_list,                                              \
	.get_mechanism_info = p11_get_mechanism_info, .init_token = p11_init_token,                \
	.init_pin = p11_init_pin, .set_pin = p11_set_pin, .open_session = p11_open_session,        \
	.close_session = p11_close_session, .close_all_sessions = p11_close_all_sessions,          \
	.get_session_info = p11_get_session_info,                                                  \
	.get_operation_state = p11_get_operation_state,                                            \
	.set_operation_state = p11_set_operation_state, .login = p11_login,                        \
	.login_user = p11_login_user, .logout = p11_logout,                                        \
	.session_cancel = p11_session_cancel, .create_object = p11_create_object,                  \
	.copy_object = p11_copy_object, .destroy_object = p11_destroy_object,                      \
	.get_object_size = p11_get_object_size,                                                    \
	.get_attribute_value = p11_get_attribute_value,                                            \
	.set_attribute_value = p11_set_attribute_value,                                            \
	.find_objects_init = p11_find_objects_init, .find_objects = p11_find_objects,              \
	.find_objects_final = p11_find_objects_final, .encrypt_init = p11_encrypt_init,            \
	.encrypt = p11_encrypt, .encrypt_update = p11_encrypt_update,                              \
	.encrypt_final = p11_encrypt_final, .decrypt_init = p11_decrypt_init,                      \
	.decrypt = p11_decrypt, .decrypt_update = p11_decrypt_update,                              \
	.decrypt_final = p11_decrypt_final, .digest_init = p11_digest_init,                        \
	.digest = p11_digest, .digest_update = p11_digest_update,                                  \
	.digest_key = p11_digest_key, .digest_final = p11_digest_final,                            \
	.sign_init = p11_sign_init, .sign = p11_sign, .sign_update = p11_sign_update,              \
	.sign_final = p11_sign_final, .sign_recover_init = p11_sign_recover_init,                  \
	.sign_recover = p11_sign_recover, .verify_init = p11_verify_init,                          \
	.verify = p11_verify, .verify_update = p11_verify_update,                                  \
	.verify_final = p11_verify_final, .verify_recover_init = p11_verify_recover_init,          \
	.verify_recover = p11_verify_recover,                                                      \
	.digest_encrypt_update = p11_digest_encrypt_update,                                        \
	.decrypt_digest_update = p11_decrypt_digest_update,                                        \
	.sign_encrypt_update = p11_sign_encrypt_update,                                            \
	.decrypt_verify_update = p11_decrypt_verify_update,                                        \
	.generate_key = p11_generate_key, .generate_key_pair = p11_generate_key_pair,              \
	.wrap_key = p11_wrap_key, .unwrap_key = p11_unwrap_key, .derive_key = p11_derive_key,      \
	.seed_random = p11_seed_random, .generate_random = p11_generate_random

#define P11_DECLARE(name, ...) CK_RV p11_##name(struct hsmux_backend *be, __VA_ARGS__)

P11_DECLARE(get_slot_list, CK_BBOOL, CK_SLOT_ID_PTR, CK_ULONG_PTR);
P11_DECLARE(get_slot_info, CK_SLOT_ID, CK_SLOT_INFO_PTR);
P11_DECLARE(get_token_info, CK_SLOT_ID, CK_TOKEN_INFO_PTR);
P11_DECLARE(wait_for_slot_event, CK_FLAGS, CK_SLOT_ID_PTR);
P11_DECLARE(get_mechanism_list, CK_SLOT_ID, CK_MECHANISM_TYPE_PTR, CK_ULONG_PTR);
P11_DECLARE(get_mechanism_info, CK_SLOT_ID, CK_MECHANISM_TYPE, CK_MECHANISM_INFO_PTR);
P11_DECLARE(init_token, CK_SLOT_ID, CK_UTF8CHAR_PTR, CK_ULONG, CK_UTF8CHAR_PTR);
P11_DECLARE(init_pin, CK_SESSION_HANDLE, CK_UTF8CHAR_PTR, CK_ULONG);
P11_DECLARE(set_pin, CK_SESSION_HANDLE, CK_UTF8CHAR_PTR, CK_ULONG, CK_UTF8CHAR_PTR, CK_ULONG);
P11_DECLARE(open_session, CK_SLOT_ID, CK_FLAGS, CK_SESSION_HANDLE_PTR);
P11_DECLARE(close_session, CK_SESSION_HANDLE);
P11_DECLARE(close_all_sessions, CK_SLOT_ID);
P11_DECLARE(get_session_info, CK_SESSION_HANDLE, CK_SESSION_INFO_PTR);
P11_DECLARE(get_operation_state, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR);
P11_DECLARE(set_operation_state, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_OBJECT_HANDLE,
	    CK_OBJECT_HANDLE);
P11_DECLARE(login, CK_SESSION_HANDLE, CK_USER_TYPE, CK_UTF8CHAR_PTR, CK_ULONG);
P11_DECLARE(login_user, CK_SESSION_HANDLE, CK_USER_TYPE, CK_UTF8CHAR_PTR, CK_ULONG,
	    CK_UTF8CHAR_PTR, CK_ULONG);
P11_DECLARE(logout, CK_SESSION_HANDLE);
P11_DECLARE(session_cancel, CK_SESSION_HANDLE, CK_FLAGS);
P11_DECLARE(create_object, CK_SESSION_HANDLE, CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR);
P11_DECLARE(copy_object, CK_SESSION_HANDLE, CK_OBJECT_HANDLE, CK_ATTRIBUTE_PTR, CK_ULONG,
	    CK_OBJECT_HANDLE_PTR);
P11_DECLARE(destroy_object, CK_SESSION_HANDLE, CK_OBJECT_HANDLE);
P11_DECLARE(get_object_size, CK_SESSION_HANDLE, CK_OBJECT_HANDLE, CK_ULONG_PTR);
P11_DECLARE(get_attribute_value, CK_SESSION_HANDLE, CK_OBJECT_HANDLE, CK_ATTRIBUTE_PTR, CK_ULONG);
P11_DECLARE(set_attribute_value, CK_SESSION_HANDLE, CK_OBJECT_HANDLE, CK_ATTRIBUTE_PTR, CK_ULONG);
P11_DECLARE(find_objects_init, CK_SESSION_HANDLE, CK_ATTRIBUTE_PTR, CK_ULONG);
P11_DECLARE(find_objects, CK_SESSION_HANDLE, CK_OBJECT_HANDLE_PTR, CK_ULONG, CK_ULONG_PTR);
P11_DECLARE(find_objects_final, CK_SESSION_HANDLE);
P11_DECLARE(encrypt_init, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
P11_DECLARE(encrypt, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
P11_DECLARE(encrypt_update, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
P11_DECLARE(encrypt_final, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR);
P11_DECLARE(decrypt_init, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
P11_DECLARE(decrypt, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
P11_DECLARE(decrypt_update, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
P11_DECLARE(decrypt_final, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR);
P11_DECLARE(digest_init, CK_SESSION_HANDLE, CK_MECHANISM_PTR);
P11_DECLARE(digest, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
P11_DECLARE(digest_update, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG);
P11_DECLARE(digest_key, CK_SESSION_HANDLE, CK_OBJECT_HANDLE);
P11_DECLARE(digest_final, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR);
P11_DECLARE(sign_init, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
P11_DECLARE(sign, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
P11_DECLARE(sign_update, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG);
P11_DECLARE(sign_final, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR);
P11_DECLARE(sign_recover_init, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
P11_DECLARE(sign_recover, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
P11_DECLARE(verify_init, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
P11_DECLARE(verify, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG);
P11_DECLARE(verify_update, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG);
P11_DECLARE(verify_final, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG);
P11_DECLARE(verify_recover_init, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
P11_DECLARE(verify_recover, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
P11_DECLARE(digest_encrypt_update, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
	    CK_ULONG_PTR);
P11_DECLARE(decrypt_digest_update, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
	    CK_ULONG_PTR);
P11_DECLARE(sign_encrypt_update, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
	    CK_ULONG_PTR);
P11_DECLARE(decrypt_verify_update, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
	    CK_ULONG_PTR);
P11_DECLARE(generate_key, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_ATTRIBUTE_PTR, CK_ULONG,
	    CK_OBJECT_HANDLE_PTR);
P11_DECLARE(generate_key_pair, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_ATTRIBUTE_PTR, CK_ULONG,
	    CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR, CK_OBJECT_HANDLE_PTR);
P11_DECLARE(wrap_key, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE,
	    CK_BYTE_PTR, CK_ULONG_PTR);
P11_DECLARE(unwrap_key, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE, CK_BYTE_PTR,
	    CK_ULONG, CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR);
P11_DECLARE(derive_key, CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE, CK_ATTRIBUTE_PTR,
	    CK_ULONG, CK_OBJECT_HANDLE_PTR);
P11_DECLARE(seed_random, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG);
P11_DECLARE(generate_random, CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG);

#endif /* HSMUX_BACKEND_PKCS11_H */
