/*
 * The backend interface: one constant ops table per backend type, and one
 * instance per [backend:NAME] section of the config.
 *
 * Token calls take the instance first and then the arguments of the
 * PKCS#11 function of the same name, with the backend's own slot IDs and
 * session handles. The router has already checked the arguments that it can
 * check, so a backend gets no NULL where the spec forbids one. An op left
 * NULL means the backend lacks the function: the router returns
 * CKR_FUNCTION_NOT_SUPPORTED for it.
 *
 * Every backend has create, destroy, get_slot_list, get_slot_info,
 * get_token_info, open_session, close_session, get_session_info, login and
 * logout; the others are optional.
 *
 * No router lock is held while an op runs. A backend that is not
 * thread-safe takes a lock of its own inside its ops.
 */
#ifndef HSMUX_BACKEND_H
#define HSMUX_BACKEND_H

#include <stdbool.h>

#include "hsmux/pkcs11.h"

struct hsmux_backend;
struct hsmux_config_section;

struct hsmux_backend_ops {
	const char *type;
	/* Config keys this type accepts, beyond the keys every backend has; NULL-terminated. */
	const char *const *keys;

	/*
	 * Loads and initializes the backend for the section. On failure it
	 * writes a one-line reason (file, line, fix) to err and frees what it
	 * made. be->priv belongs to the backend from here until destroy().
	 */
	CK_RV (*create)(struct hsmux_backend *be, const struct hsmux_config_section *sec,
			char *err, size_t err_len);
	/* Finalizes and frees the instance; it returns nothing, so it cleans up what it can. */
	void (*destroy)(struct hsmux_backend *be);
	/*
	 * In a child after fork(): forget the parent's state without touching
	 * its locks or sessions, and initialize the device again.
	 */
	CK_RV (*reinit_after_fork)(struct hsmux_backend *be);

	CK_RV (*get_slot_list)(struct hsmux_backend *be, CK_BBOOL token_present, CK_SLOT_ID_PTR list,
			       CK_ULONG_PTR count);
	CK_RV (*get_slot_info)(struct hsmux_backend *be, CK_SLOT_ID slot, CK_SLOT_INFO_PTR info);
	CK_RV (*get_token_info)(struct hsmux_backend *be, CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info);
	CK_RV (*wait_for_slot_event)(struct hsmux_backend *be, CK_FLAGS flags, CK_SLOT_ID_PTR slot);
	CK_RV (*get_mechanism_list)(struct hsmux_backend *be, CK_SLOT_ID slot,
				    CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count);
	CK_RV (*get_mechanism_info)(struct hsmux_backend *be, CK_SLOT_ID slot,
				    CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info);
	CK_RV (*init_token)(struct hsmux_backend *be, CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin,
			    CK_ULONG pin_len, CK_UTF8CHAR_PTR label);
	CK_RV (*init_pin)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR pin,
			  CK_ULONG pin_len);
	CK_RV (*set_pin)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR old_pin,
			 CK_ULONG old_len, CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len);

	CK_RV (*open_session)(struct hsmux_backend *be, CK_SLOT_ID slot, CK_FLAGS flags,
			      CK_SESSION_HANDLE_PTR s);
	CK_RV (*close_session)(struct hsmux_backend *be, CK_SESSION_HANDLE s);
	CK_RV (*close_all_sessions)(struct hsmux_backend *be, CK_SLOT_ID slot);
	CK_RV (*get_session_info)(struct hsmux_backend *be, CK_SESSION_HANDLE s,
				  CK_SESSION_INFO_PTR info);
	CK_RV (*get_operation_state)(struct hsmux_backend *be, CK_SESSION_HANDLE s,
				     CK_BYTE_PTR state, CK_ULONG_PTR state_len);
	CK_RV (*set_operation_state)(struct hsmux_backend *be, CK_SESSION_HANDLE s,
				     CK_BYTE_PTR state, CK_ULONG state_len, CK_OBJECT_HANDLE enc_key,
				     CK_OBJECT_HANDLE auth_key);
	CK_RV (*login)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_USER_TYPE user,
		       CK_UTF8CHAR_PTR pin, CK_ULONG pin_len);
	/* Optional: only backends with a 3.0 interface have it. */
	CK_RV (*login_user)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_USER_TYPE user,
			    CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR username,
			    CK_ULONG username_len);
	CK_RV (*logout)(struct hsmux_backend *be, CK_SESSION_HANDLE s);
	CK_RV (*session_cancel)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_FLAGS flags);

	CK_RV (*create_object)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR tmpl,
			       CK_ULONG count, CK_OBJECT_HANDLE_PTR obj);
	CK_RV (*copy_object)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
			     CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR new_obj);
	CK_RV (*destroy_object)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj);
	CK_RV (*get_object_size)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
				 CK_ULONG_PTR size);
	CK_RV (*get_attribute_value)(struct hsmux_backend *be, CK_SESSION_HANDLE s,
				     CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);
	CK_RV (*set_attribute_value)(struct hsmux_backend *be, CK_SESSION_HANDLE s,
				     CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);
	CK_RV (*find_objects_init)(struct hsmux_backend *be, CK_SESSION_HANDLE s,
				   CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);
	CK_RV (*find_objects)(struct hsmux_backend *be, CK_SESSION_HANDLE s,
			      CK_OBJECT_HANDLE_PTR objs, CK_ULONG max, CK_ULONG_PTR count);
	CK_RV (*find_objects_final)(struct hsmux_backend *be, CK_SESSION_HANDLE s);

	CK_RV (*encrypt_init)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
			      CK_OBJECT_HANDLE key);
	CK_RV (*encrypt)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
			 CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
	CK_RV (*encrypt_update)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
				CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
	CK_RV (*encrypt_final)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR out,
			       CK_ULONG_PTR out_len);
	CK_RV (*decrypt_init)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
			      CK_OBJECT_HANDLE key);
	CK_RV (*decrypt)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
			 CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
	CK_RV (*decrypt_update)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
				CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
	CK_RV (*decrypt_final)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR out,
			       CK_ULONG_PTR out_len);
	CK_RV (*digest_init)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech);
	CK_RV (*digest)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
			CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
	CK_RV (*digest_update)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
			       CK_ULONG in_len);
	CK_RV (*digest_key)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key);
	CK_RV (*digest_final)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR out,
			      CK_ULONG_PTR out_len);
	CK_RV (*sign_init)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
			   CK_OBJECT_HANDLE key);
	CK_RV (*sign)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len,
		      CK_BYTE_PTR sig, CK_ULONG_PTR sig_len);
	CK_RV (*sign_update)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
			     CK_ULONG in_len);
	CK_RV (*sign_final)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR sig,
			    CK_ULONG_PTR sig_len);
	CK_RV (*sign_recover_init)(struct hsmux_backend *be, CK_SESSION_HANDLE s,
				   CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
	CK_RV (*sign_recover)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
			      CK_ULONG in_len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len);
	CK_RV (*verify_init)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
			     CK_OBJECT_HANDLE key);
	CK_RV (*verify)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
			CK_ULONG in_len, CK_BYTE_PTR sig, CK_ULONG sig_len);
	CK_RV (*verify_update)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
			       CK_ULONG in_len);
	CK_RV (*verify_final)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR sig,
			      CK_ULONG sig_len);
	CK_RV (*verify_recover_init)(struct hsmux_backend *be, CK_SESSION_HANDLE s,
				     CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
	CK_RV (*verify_recover)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR sig,
				CK_ULONG sig_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
	CK_RV (*digest_encrypt_update)(struct hsmux_backend *be, CK_SESSION_HANDLE s,
				       CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
				       CK_ULONG_PTR out_len);
	CK_RV (*decrypt_digest_update)(struct hsmux_backend *be, CK_SESSION_HANDLE s,
				       CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
				       CK_ULONG_PTR out_len);
	CK_RV (*sign_encrypt_update)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
				     CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
	CK_RV (*decrypt_verify_update)(struct hsmux_backend *be, CK_SESSION_HANDLE s,
				       CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
				       CK_ULONG_PTR out_len);

	CK_RV (*generate_key)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
			      CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key);
	CK_RV (*generate_key_pair)(struct hsmux_backend *be, CK_SESSION_HANDLE s,
				   CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub_tmpl,
				   CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG priv_count,
				   CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv);
	CK_RV (*wrap_key)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
			  CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key, CK_BYTE_PTR wrapped,
			  CK_ULONG_PTR wrapped_len);
	CK_RV (*unwrap_key)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
			    CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped,
			    CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
			    CK_OBJECT_HANDLE_PTR key);
	CK_RV (*derive_key)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
			    CK_OBJECT_HANDLE base_key, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
			    CK_OBJECT_HANDLE_PTR key);
	CK_RV (*seed_random)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR seed,
			     CK_ULONG seed_len);
	CK_RV (*generate_random)(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_BYTE_PTR out,
				 CK_ULONG out_len);

	/*
	 * Optional: the token's whole store in the backend's own protected
	 * form, for backup and restore by module/admin.
	 *
	 * backup_export() calls begin(), then file() once per file of a
	 * consistent snapshot of the token in slot. It may call begin() again
	 * to start over (another process was writing); the caller then drops
	 * what it got so far. A callback's error ends the export with it.
	 *
	 * backup_import() calls next() until it returns CKR_OK with *name NULL
	 * (the end, after the caller has authenticated the whole file). It
	 * builds the new store aside and replaces the token's store with it
	 * atomically only after that end; on any error the token is left as
	 * it was. On success the backend has restarted on the new store and
	 * the slot's sessions are gone.
	 */
	CK_RV (*backup_export)(struct hsmux_backend *be, CK_SLOT_ID slot, CK_RV (*begin)(void *ctx),
			       CK_RV (*file)(void *ctx, const char *name, const unsigned char *data,
					     CK_ULONG len),
			       void *ctx);
	CK_RV (*backup_import)(struct hsmux_backend *be, CK_SLOT_ID slot,
			       CK_RV (*next)(void *ctx, const char **name,
					     const unsigned char **data, CK_ULONG *len),
			       void *ctx);
};

/* One configured backend. The router owns it; priv belongs to the ops. */
struct hsmux_backend {
	const struct hsmux_backend_ops *ops;
	char *name; /* the NAME of [backend:NAME] */
	unsigned int index; /* position in the config, the base of its virtual slot IDs */
	void *priv;
	struct hsmux_backend_policy *policy; /* set by the router from the section */
};

/* The backend types, for the router's type lookup. */
extern const struct hsmux_backend_ops hsmux_pkcs11_backend_ops;
extern const struct hsmux_backend_ops hsmux_softhsm_backend_ops;
extern const struct hsmux_backend_ops hsmux_tpm_backend_ops;

#endif /* HSMUX_BACKEND_H */
