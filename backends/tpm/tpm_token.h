/*
 * The state of one tpm backend instance: its TPM, its token (label, PIN
 * seals, login state), its sessions and its objects. Every op takes
 * tok->lock, because ESYS contexts are not thread-safe and libtpms is one
 * global TPM.
 *
 * Login. Each token has a random 32-byte token secret. Every key of the
 * token is created in the TPM with that secret as its auth value, so only
 * a logged-in process can use a key. The secret is sealed in the TPM twice:
 * once in a sealed object whose auth value is the user PIN, once in one
 * whose auth value is the SO PIN. Login unseals it. Both sealed objects are
 * subject to the TPM's dictionary-attack protection, so every wrong PIN
 * counts towards the TPM's lockout, and a locked-out TPM refuses every
 * login (CKR_PIN_LOCKED) until its recovery time has passed. The SO PIN is
 * also the TPM's lockout authorization: an SO login first runs
 * TPM2_DictionaryAttackLockReset with it, which clears the lockout, and a
 * wrong SO PIN locks the lockout authorization itself for the TPM's
 * lockoutRecovery time. Keys carry noDA, so a lockout blocks new logins but
 * never a session that is already logged in.
 */
#ifndef HSMUX_TPM_TOKEN_H
#define HSMUX_TPM_TOKEN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_esys.h>

#include "backends/tpm/tpm_attr.h"
#include "backends/tpm/tpm_device.h"
#include "hsmux/pkcs11.h"

#define TPM_SECRET_LEN 32
#define TPM_SERIAL_LEN 8
#define TPM_PIN_MIN    4
#define TPM_PIN_MAX    128
#define TPM_NO_LOGIN   ((CK_USER_TYPE)~0UL)
#define TPM_SLOT_ID    0

/* A key pair file or a session object; one PKCS#11 object each. */
struct tpm_object {
	CK_OBJECT_HANDLE handle;
	char file[40];             /* the key file in objects/, "" for a session object */
	unsigned int index;        /* position of this object inside its file */
	CK_SESSION_HANDLE session; /* owner of a session object, else 0 */
	struct tpm_attrs attrs;
	ESYS_TR loaded;        /* the key loaded in the TPM, or ESYS_TR_NONE */
	uint64_t last_use;     /* for evicting the least recently used loaded key */
	struct timespec mtime; /* of the file when attrs were read */
	ino_t ino;
};

enum tpm_op {
	TPM_OP_NONE,
	TPM_OP_SIGN,
	TPM_OP_DECRYPT,
	TPM_OP_DIGEST,
	TPM_OP_ENCRYPT,
	TPM_OP_VERIFY,
};

struct tpm_session {
	CK_SESSION_HANDLE handle;
	CK_FLAGS flags;

	CK_OBJECT_HANDLE *found; /* C_FindObjects results */
	CK_ULONG n_found, found_pos;
	bool finding;

	enum tpm_op op;
	CK_MECHANISM_TYPE mech;
	CK_OBJECT_HANDLE key;
	TPMI_ALG_HASH hash; /* the hash of a sign or OAEP mechanism */
	EVP_MD_CTX *md;     /* hash-and-sign: the running digest */
	ESYS_TR sequence;   /* digest: the TPM hash sequence */
	TPM2B_DATA label;   /* OAEP label */
	TPM2B_IV iv;        /* AES: the IV of the next block */
	CK_BYTE part[16];   /* AES multi-part: input short of a whole block */
	CK_ULONG part_len;
	bool multipart; /* AES: an update has run, so C_Encrypt / C_Decrypt may not */
};

struct tpm_token {
	pthread_mutex_t lock;
	struct tpm_device dev;
	char store_dir[PATH_MAX]; /* holds the token file, objects/ and store.lock */
	char objects_dir[PATH_MAX];
	char section[64];         /* the backend's NAME, for messages */
	char tcti[PATH_MAX + 16]; /* the tcti config value, to reconnect after fork() */
	UINT32 da_max_tries, da_recovery_time, da_lockout_recovery;

	/* From the token file. */
	bool initialized;
	CK_UTF8CHAR label[32];
	uint8_t serial[TPM_SERIAL_LEN];
	TPM2B_PUBLIC so_public, user_public;
	TPM2B_PRIVATE so_private, user_private; /* user_private.size 0: no user PIN */
	TPM2B_PRIVATE so_private_next;          /* size 0 unless an SO PIN change is pending */

	CK_USER_TYPE login;
	uint8_t secret[TPM_SECRET_LEN]; /* valid while login != TPM_NO_LOGIN */

	struct tpm_session **sessions;
	size_t n_sessions;
	CK_SESSION_HANDLE next_session;

	struct tpm_object **objects;
	size_t n_objects;
	CK_OBJECT_HANDLE next_object;
	uint64_t use_clock;
	unsigned int cache_max; /* keys kept loaded in the TPM */

	/* Algorithms, curves and key sizes of the TPM, read once at start-up. */
	bool has_sha1, has_sha256, has_sha384, has_sha512;
	bool has_p256, has_p384, has_rsa3072, has_oaep, has_rsaes, has_pss;
	bool has_aes128, has_aes256, has_cbc, has_cfb; /* with TPM2_EncryptDecrypt2 */
};

/* The session with that handle, or NULL. Needs tok->lock. */
struct tpm_session *tpm_session_find_locked(struct tpm_token *tok, CK_SESSION_HANDLE h);

/* tpm_store.c: the token file and the object files. */
CK_RV tpm_store_open(struct tpm_token *tok, char *err, size_t err_len);
CK_RV tpm_store_load_token_locked(struct tpm_token *tok);
CK_RV tpm_store_save_token_locked(struct tpm_token *tok);
/* Reads new, changed and removed key files into tok->objects. */
CK_RV tpm_store_refresh_locked(struct tpm_token *tok);
/*
 * Gives objs (one or two) the name of a new key file, before
 * tpm_store_add_locked() writes it, so that a sealed value can be bound to it.
 */
CK_RV tpm_store_name_new(struct tpm_object **objs, size_t n);
/*
 * Writes one key file holding objs (one or two) atomically: under the name
 * that tpm_store_name_new() gave them, else under a new one.
 */
CK_RV tpm_store_add_locked(struct tpm_token *tok, struct tpm_object **objs, size_t n);
/* Removes obj from its file (and the file when nothing is left) and frees it. */
CK_RV tpm_store_destroy_locked(struct tpm_token *tok, struct tpm_object *obj);
/* Rewrites the file of obj after its attributes changed. */
CK_RV tpm_store_update_locked(struct tpm_token *tok, struct tpm_object *obj);
/* Removes every key file, for C_InitToken. */
CK_RV tpm_store_clear_locked(struct tpm_token *tok);

/* tpm_object.c: the in-memory object table. */
struct tpm_object *tpm_object_new(void);
void tpm_object_free(struct tpm_token *tok, struct tpm_object *obj);
CK_RV tpm_object_register_locked(struct tpm_token *tok, struct tpm_object *obj);
void tpm_object_unregister_locked(struct tpm_token *tok, struct tpm_object *obj);
/* The object if it exists and the session may see it, else NULL. */
struct tpm_object *tpm_object_get_locked(struct tpm_token *tok, CK_OBJECT_HANDLE h);
bool tpm_object_visible(const struct tpm_token *tok, const struct tpm_object *obj);
/* Loads the key of obj into the TPM (evicting others when full) and sets its auth. */
CK_RV tpm_object_load_locked(struct tpm_token *tok, struct tpm_object *obj);
/* Flushes every loaded key from the TPM. */
void tpm_object_flush_all_locked(struct tpm_token *tok);
/* Flushes the least recently used loaded key. Returns false when none is loaded. */
bool tpm_object_evict_one_locked(struct tpm_token *tok);

/*
 * Runs TPM2_Create under the primary key, flushing cached keys while the
 * TPM has no free transient slot.
 */
TSS2_RC tpm_create_locked(struct tpm_token *tok, const TPM2B_SENSITIVE_CREATE *sensitive,
                          const TPM2B_PUBLIC *tmpl, TPM2B_PRIVATE **priv, TPM2B_PUBLIC **pub);

/* tpm_login.c: C_InitToken, C_Login, C_Logout and the PINs. */
CK_RV tpm_login_init_token_locked(struct tpm_token *tok, const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                                  const CK_UTF8CHAR *label);
CK_RV tpm_login_locked(struct tpm_token *tok, CK_USER_TYPE user, const CK_UTF8CHAR *pin,
                       CK_ULONG pin_len);
void tpm_logout_locked(struct tpm_token *tok);
CK_RV tpm_login_init_pin_locked(struct tpm_token *tok, const CK_UTF8CHAR *pin, CK_ULONG pin_len);
CK_RV tpm_login_set_pin_locked(struct tpm_token *tok, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
                               const CK_UTF8CHAR *new_pin, CK_ULONG new_len);

#endif /* HSMUX_TPM_TOKEN_H */
