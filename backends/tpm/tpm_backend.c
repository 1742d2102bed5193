/*
 * The tpm backend's ops table: instance set-up, slot and token info,
 * sessions and login. Objects are in tpm_object_ops.c, keys and crypto in
 * tpm_keygen.c and tpm_crypto.c.
 *
 * Config keys of [backend:NAME] with type = tpm:
 *   tcti = libtpms:/DIR | device:/dev/tpmrm0 | swtpm:host=127.0.0.1,port=P
 *   store = DIR          token file and key blobs; default: the libtpms DIR,
 *                        else $XDG_DATA_HOME/hsmux/tpm-NAME
 *   da_max_tries, da_recovery_time, da_lockout_recovery
 *                        dictionary-attack settings that C_InitToken writes
 *                        to the TPM (failures; seconds; seconds)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "backends/backend.h"
#include "backends/tpm/tpm_backup.h"
#include "backends/tpm/tpm_copy.h"
#include "backends/tpm/tpm_crypto.h"
#include "backends/tpm/tpm_keygen.h"
#include "backends/tpm/tpm_mech.h"
#include "backends/tpm/tpm_file.h"
#include "backends/tpm/tpm_object_ops.h"
#include "backends/tpm/tpm_token.h"
#include "backends/tpm/tpm_verify.h"
#include "module/config.h"

#define DEFAULT_DA_MAX_TRIES        10
#define DEFAULT_DA_RECOVERY_TIME    600
#define DEFAULT_DA_LOCKOUT_RECOVERY 1800
/* Transient slots the key cache may use; TPM 2.0 guarantees at least 3 in total. */
#define KEY_CACHE_MAX 2

static const char *const tpm_keys[] = {
    "tcti", "store", "da_max_tries", "da_recovery_time", "da_lockout_recovery", NULL,
};

static CK_RV parse_u32(const struct hsmux_config_section *sec, const char *key, UINT32 def,
                       UINT32 *out, char *err, size_t err_len)
{
	unsigned int line = 0;
	const char *value = hsmux_config_get(sec, key, &line);
	unsigned long v;
	char *end;

	*out = def;
	if (!value)
		return CKR_OK;
	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno || end == value || *end || v > UINT32_MAX) {
		snprintf(err, err_len, "%s:%u: %s = '%s' is not a whole number; write e.g. %s = %u",
		         sec->file, line, key, value, key, (unsigned int)def);
		return CKR_GENERAL_ERROR;
	}
	*out = (UINT32)v;
	return CKR_OK;
}

static CK_RV read_config(struct tpm_token *tok, const struct hsmux_config_section *sec,
                         const char **tcti, char *err, size_t err_len)
{
	unsigned int line = sec->line;
	const char *store;
	CK_RV rv;

	*tcti = hsmux_config_get(sec, "tcti", &line);
	if (!*tcti) {
		snprintf(err, err_len,
		         "%s:%u: [backend:%s] has type = tpm but no tcti; add e.g. tcti = "
		         "libtpms:/var/lib/hsmux/tpm",
		         sec->file, sec->line, sec->name);
		return CKR_GENERAL_ERROR;
	}
	rv = parse_u32(sec, "da_max_tries", DEFAULT_DA_MAX_TRIES, &tok->da_max_tries, err, err_len);
	if (rv == CKR_OK)
		rv = parse_u32(sec, "da_recovery_time", DEFAULT_DA_RECOVERY_TIME,
		               &tok->da_recovery_time, err, err_len);
	if (rv == CKR_OK)
		rv = parse_u32(sec, "da_lockout_recovery", DEFAULT_DA_LOCKOUT_RECOVERY,
		               &tok->da_lockout_recovery, err, err_len);
	if (rv != CKR_OK)
		return rv;

	store = hsmux_config_get(sec, "store", NULL);
	if (store) {
		snprintf(tok->store_dir, sizeof(tok->store_dir), "%s", store);
	} else if (strncmp(*tcti, "libtpms:", 8) == 0) {
		snprintf(tok->store_dir, sizeof(tok->store_dir), "%s", *tcti + 8);
	} else {
		char data[PATH_MAX - 80];

		if (!hsmux_data_dir(data, sizeof(data))) {
			snprintf(err, err_len,
			         "%s:%u: [backend:%s] needs store = DIR, because "
			         "neither XDG_DATA_HOME nor HOME is set",
			         sec->file, line, sec->name);
			return CKR_GENERAL_ERROR;
		}
		tpm_file_mkdir(data);
		snprintf(tok->store_dir, sizeof(tok->store_dir), "%s/tpm-%s", data, sec->name);
	}
	if (tok->store_dir[0] != '/') {
		snprintf(err, err_len, "%s:%u: store '%s' of [backend:%s] must be an absolute path",
		         sec->file, line, tok->store_dir, sec->name);
		return CKR_GENERAL_ERROR;
	}
	return CKR_OK;
}

static void token_free(struct tpm_token *tok)
{
	for (size_t i = 0; i < tok->n_sessions; i++) {
		tpm_op_end_locked(tok, tok->sessions[i]);
		free(tok->sessions[i]->found);
		free(tok->sessions[i]);
	}
	free(tok->sessions);
	for (size_t i = 0; i < tok->n_objects; i++)
		tpm_object_free(tok, tok->objects[i]);
	free(tok->objects);
	OPENSSL_cleanse(tok->secret, sizeof(tok->secret));
	tpm_device_close(&tok->dev);
	pthread_mutex_destroy(&tok->lock);
	free(tok);
}

static CK_RV tpm_create(struct hsmux_backend *be, const struct hsmux_config_section *sec, char *err,
                        size_t err_len)
{
	struct tpm_token *tok = calloc(1, sizeof(*tok));
	const char *tcti = NULL;
	char why[384] = "";
	CK_RV rv;

	if (!tok)
		return CKR_HOST_MEMORY;
	/*
	 * tss2 logs every TPM error to stderr, and a wrong PIN is one. Keep
	 * clients' output clean unless the user asked for tss2's log.
	 */
	setenv("TSS2_LOG", "all+none", 0);
	pthread_mutex_init(&tok->lock, NULL);
	tok->login = TPM_NO_LOGIN;
	tok->cache_max = KEY_CACHE_MAX;
	snprintf(tok->section, sizeof(tok->section), "%s", sec->name);
	rv = read_config(tok, sec, &tcti, err, err_len);
	if (rv != CKR_OK)
		goto fail;

	snprintf(tok->tcti, sizeof(tok->tcti), "%s", tcti);
	/* A restore that a crash cut short is finished or dropped before the TPM starts. */
	if (tpm_backup_recover(tok->store_dir, tcti) != 0) {
		snprintf(why, sizeof(why), "an interrupted restore in the store cannot be "
		                           "finished; check the store's permissions and free space");
		rv = CKR_GENERAL_ERROR;
	} else {
		rv = tpm_device_open(&tok->dev, tcti, why, sizeof(why));
	}
	if (rv == CKR_OK)
		rv = tpm_mech_probe_locked(tok);
	if (rv == CKR_OK)
		rv = tpm_store_open(tok, why, sizeof(why));
	if (rv != CKR_OK) {
		unsigned int line = sec->line;

		hsmux_config_get(sec, "tcti", &line);
		snprintf(err, err_len, "%s:%u: [backend:%s]: %s", sec->file, line, sec->name,
		         why[0] ? why : "the TPM did not answer a capability query");
		goto fail;
	}
	be->priv = tok;
	return CKR_OK;
fail:
	token_free(tok);
	return rv;
}

static void tpm_destroy(struct hsmux_backend *be)
{
	struct tpm_token *tok = be->priv;

	if (!tok)
		return;
	pthread_mutex_lock(&tok->lock);
	tpm_logout_locked(tok);
	pthread_mutex_unlock(&tok->lock);
	token_free(tok);
	be->priv = NULL;
}

/*
 * Starts the TPM again in a child after fork(). The child keeps the token
 * files but not the parent's sessions, login or loaded keys. With a device
 * or swtpm it opens its own connection. With libtpms it must not run the
 * parent's in-process TPM, because both would write the same NV files.
 */
static CK_RV tpm_reinit_after_fork(struct hsmux_backend *be)
{
	struct tpm_token *tok = be->priv;
	char why[384];

	pthread_mutex_init(&tok->lock, NULL);
	tpm_device_forget(&tok->dev);
	for (size_t i = 0; i < tok->n_sessions; i++) {
		free(tok->sessions[i]->found);
		free(tok->sessions[i]);
	}
	tok->n_sessions = 0;
	tok->login = TPM_NO_LOGIN;
	OPENSSL_cleanse(tok->secret, sizeof(tok->secret));
	for (size_t i = tok->n_objects; i > 0; i--) {
		struct tpm_object *obj = tok->objects[i - 1];

		obj->loaded = ESYS_TR_NONE;
		if (!obj->file[0]) {
			tpm_object_unregister_locked(tok, obj);
			tpm_object_free(tok, obj);
		}
	}
	/*
	 * A libtpms child waits for the state lock: it gets the TPM once the
	 * parent has called C_Finalize or exited, as a daemon's parent does.
	 */
	return tpm_device_open(&tok->dev, tok->tcti, why, sizeof(why));
}

static CK_RV tpm_get_slot_list(struct hsmux_backend *be, CK_BBOOL token_present,
                               CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	if (list && *count < 1) {
		*count = 1;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (list)
		list[0] = TPM_SLOT_ID;
	*count = 1;
	return CKR_OK;
}

static void pad_copy(CK_UTF8CHAR *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	memset(dst, ' ', len);
	memcpy(dst, src, n < len ? n : len);
}

static const char *kind_name(const struct tpm_token *tok)
{
	switch (tok->dev.kind) {
	case TPM_TCTI_LIBTPMS:
		return "TPM 2.0 (libtpms)";
	case TPM_TCTI_DEVICE:
		return "TPM 2.0 (device)";
	default:
		return "TPM 2.0 (swtpm)";
	}
}

static CK_RV tpm_get_slot_info(struct hsmux_backend *be, CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
	struct tpm_token *tok = be->priv;

	if (slot != TPM_SLOT_ID)
		return CKR_SLOT_ID_INVALID;
	memset(info, 0, sizeof(*info));
	pad_copy(info->slotDescription, sizeof(info->slotDescription), kind_name(tok));
	pad_copy(info->manufacturerID, sizeof(info->manufacturerID), "hsmux");
	info->flags = CKF_TOKEN_PRESENT | CKF_HW_SLOT;
	return CKR_OK;
}

/* Reads the TPM's failed-authorization counter and its limit. */
static void read_lockout(struct tpm_token *tok, UINT32 *counter, UINT32 *max)
{
	TPMS_CAPABILITY_DATA *cap = NULL;

	*counter = 0;
	*max = 0;
	if (Esys_GetCapability(tok->dev.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	                       TPM2_CAP_TPM_PROPERTIES, TPM2_PT_LOCKOUT_COUNTER, 2, NULL,
	                       &cap) != TSS2_RC_SUCCESS)
		return;
	for (UINT32 i = 0; i < cap->data.tpmProperties.count; i++) {
		TPMS_TAGGED_PROPERTY *p = &cap->data.tpmProperties.tpmProperty[i];

		if (p->property == TPM2_PT_LOCKOUT_COUNTER)
			*counter = p->value;
		else if (p->property == TPM2_PT_MAX_AUTH_FAIL)
			*max = p->value;
	}
	Esys_Free(cap);
}

static void fill_token_info(struct tpm_token *tok, CK_TOKEN_INFO_PTR info)
{
	UINT32 counter, max;
	char serial[2 * TPM_SERIAL_LEN + 1];

	memset(info, 0, sizeof(*info));
	if (tok->initialized)
		memcpy(info->label, tok->label, sizeof(info->label));
	else
		pad_copy(info->label, sizeof(info->label), "");
	pad_copy(info->manufacturerID, sizeof(info->manufacturerID), "hsmux");
	pad_copy(info->model, sizeof(info->model), "TPM 2.0");
	for (size_t i = 0; i < TPM_SERIAL_LEN; i++)
		snprintf(serial + 2 * i, 3, "%02x", tok->serial[i]);
	pad_copy(info->serialNumber, sizeof(info->serialNumber), tok->initialized ? serial : "");

	info->flags = CKF_RNG | CKF_LOGIN_REQUIRED;
	if (tok->initialized)
		info->flags |= CKF_TOKEN_INITIALIZED;
	if (tok->initialized && tok->user_private.size > 0)
		info->flags |= CKF_USER_PIN_INITIALIZED;
	read_lockout(tok, &counter, &max);
	if (max > 0 && counter >= max)
		info->flags |= CKF_USER_PIN_LOCKED;
	else if (counter > 0)
		info->flags |= CKF_USER_PIN_COUNT_LOW;

	info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
	info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
	info->ulSessionCount = tok->n_sessions;
	for (size_t i = 0; i < tok->n_sessions; i++)
		info->ulRwSessionCount += (tok->sessions[i]->flags & CKF_RW_SESSION) != 0;
	info->ulMaxPinLen = TPM_PIN_MAX;
	info->ulMinPinLen = TPM_PIN_MIN;
	info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->hardwareVersion.major = 2;
	info->firmwareVersion.major = 0;
}

static CK_RV tpm_get_token_info(struct hsmux_backend *be, CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	struct tpm_token *tok = be->priv;

	if (slot != TPM_SLOT_ID)
		return CKR_SLOT_ID_INVALID;
	pthread_mutex_lock(&tok->lock);
	tpm_store_refresh_locked(tok);
	fill_token_info(tok, info);
	pthread_mutex_unlock(&tok->lock);
	return CKR_OK;
}

static CK_RV tpm_get_mechanism_list(struct hsmux_backend *be, CK_SLOT_ID slot,
                                    CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	if (slot != TPM_SLOT_ID)
		return CKR_SLOT_ID_INVALID;
	return tpm_mech_list(be->priv, list, count);
}

static CK_RV tpm_get_mechanism_info(struct hsmux_backend *be, CK_SLOT_ID slot,
                                    CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	if (slot != TPM_SLOT_ID)
		return CKR_SLOT_ID_INVALID;
	return tpm_mech_info(be->priv, type, info);
}

static CK_RV tpm_init_token(struct hsmux_backend *be, CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin,
                            CK_ULONG pin_len, CK_UTF8CHAR_PTR label)
{
	struct tpm_token *tok = be->priv;
	CK_RV rv;

	if (slot != TPM_SLOT_ID)
		return CKR_SLOT_ID_INVALID;
	pthread_mutex_lock(&tok->lock);
	if (tok->n_sessions > 0)
		rv = CKR_SESSION_EXISTS;
	else
		rv = tpm_login_init_token_locked(tok, pin, pin_len, label);
	pthread_mutex_unlock(&tok->lock);
	return rv;
}

struct tpm_session *tpm_session_find_locked(struct tpm_token *tok, CK_SESSION_HANDLE h)
{
	for (size_t i = 0; i < tok->n_sessions; i++) {
		if (tok->sessions[i]->handle == h)
			return tok->sessions[i];
	}
	return NULL;
}

static CK_RV tpm_init_pin(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR pin,
                          CK_ULONG pin_len)
{
	struct tpm_token *tok = be->priv;
	struct tpm_session *sess;
	CK_RV rv;

	pthread_mutex_lock(&tok->lock);
	sess = tpm_session_find_locked(tok, s);
	if (!sess)
		rv = CKR_SESSION_HANDLE_INVALID;
	else if (!(sess->flags & CKF_RW_SESSION))
		rv = CKR_SESSION_READ_ONLY;
	else
		rv = tpm_login_init_pin_locked(tok, pin, pin_len);
	pthread_mutex_unlock(&tok->lock);
	return rv;
}

static CK_RV tpm_set_pin(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR old_pin,
                         CK_ULONG old_len, CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len)
{
	struct tpm_token *tok = be->priv;
	struct tpm_session *sess;
	CK_RV rv;

	pthread_mutex_lock(&tok->lock);
	sess = tpm_session_find_locked(tok, s);
	if (!sess)
		rv = CKR_SESSION_HANDLE_INVALID;
	else if (!(sess->flags & CKF_RW_SESSION))
		rv = CKR_SESSION_READ_ONLY;
	else
		rv = tpm_login_set_pin_locked(tok, old_pin, old_len, new_pin, new_len);
	pthread_mutex_unlock(&tok->lock);
	return rv;
}

static CK_RV add_session_locked(struct tpm_token *tok, CK_FLAGS flags, CK_SESSION_HANDLE *h)
{
	struct tpm_session *sess = calloc(1, sizeof(*sess));
	struct tpm_session **v;

	if (!sess)
		return CKR_HOST_MEMORY;
	v = realloc(tok->sessions, (tok->n_sessions + 1) * sizeof(*v));
	if (!v) {
		free(sess);
		return CKR_HOST_MEMORY;
	}
	tok->sessions = v;
	sess->handle = ++tok->next_session;
	sess->flags = flags;
	sess->sequence = ESYS_TR_NONE;
	tok->sessions[tok->n_sessions++] = sess;
	*h = sess->handle;
	return CKR_OK;
}

static CK_RV tpm_open_session(struct hsmux_backend *be, CK_SLOT_ID slot, CK_FLAGS flags,
                              CK_SESSION_HANDLE_PTR s)
{
	struct tpm_token *tok = be->priv;
	CK_RV rv;

	if (slot != TPM_SLOT_ID)
		return CKR_SLOT_ID_INVALID;
	if (!(flags & CKF_SERIAL_SESSION))
		return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	pthread_mutex_lock(&tok->lock);
	tpm_store_refresh_locked(tok);
	if (!tok->initialized)
		rv = CKR_TOKEN_NOT_RECOGNIZED;
	else if (tok->login == CKU_SO && !(flags & CKF_RW_SESSION))
		rv = CKR_SESSION_READ_WRITE_SO_EXISTS;
	else
		rv = add_session_locked(tok, flags, s);
	pthread_mutex_unlock(&tok->lock);
	return rv;
}

static void close_session_locked(struct tpm_token *tok, struct tpm_session *sess)
{
	tpm_op_end_locked(tok, sess);
	for (size_t i = tok->n_objects; i > 0; i--) {
		struct tpm_object *obj = tok->objects[i - 1];

		if (!obj->file[0] && obj->session == sess->handle) {
			tpm_object_unregister_locked(tok, obj);
			tpm_object_free(tok, obj);
		}
	}
	for (size_t i = 0; i < tok->n_sessions; i++) {
		if (tok->sessions[i] == sess) {
			tok->sessions[i] = tok->sessions[--tok->n_sessions];
			break;
		}
	}
	free(sess->found);
	free(sess);
	/* The login state belongs to the application and ends with its last session. */
	if (tok->n_sessions == 0)
		tpm_logout_locked(tok);
}

static CK_RV tpm_close_session(struct hsmux_backend *be, CK_SESSION_HANDLE s)
{
	struct tpm_token *tok = be->priv;
	struct tpm_session *sess;
	CK_RV rv = CKR_OK;

	pthread_mutex_lock(&tok->lock);
	sess = tpm_session_find_locked(tok, s);
	if (sess)
		close_session_locked(tok, sess);
	else
		rv = CKR_SESSION_HANDLE_INVALID;
	pthread_mutex_unlock(&tok->lock);
	return rv;
}

static CK_RV tpm_close_all_sessions(struct hsmux_backend *be, CK_SLOT_ID slot)
{
	struct tpm_token *tok = be->priv;

	if (slot != TPM_SLOT_ID)
		return CKR_SLOT_ID_INVALID;
	pthread_mutex_lock(&tok->lock);
	while (tok->n_sessions > 0)
		close_session_locked(tok, tok->sessions[tok->n_sessions - 1]);
	pthread_mutex_unlock(&tok->lock);
	return CKR_OK;
}

static CK_STATE session_state(const struct tpm_token *tok, const struct tpm_session *sess)
{
	bool rw = sess->flags & CKF_RW_SESSION;

	if (tok->login == CKU_SO)
		return CKS_RW_SO_FUNCTIONS;
	if (tok->login == CKU_USER)
		return rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
	return rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
}

static CK_RV tpm_get_session_info(struct hsmux_backend *be, CK_SESSION_HANDLE s,
                                  CK_SESSION_INFO_PTR info)
{
	struct tpm_token *tok = be->priv;
	struct tpm_session *sess;
	CK_RV rv = CKR_OK;

	pthread_mutex_lock(&tok->lock);
	sess = tpm_session_find_locked(tok, s);
	if (sess) {
		info->slotID = TPM_SLOT_ID;
		info->state = session_state(tok, sess);
		info->flags = sess->flags;
		info->ulDeviceError = 0;
	} else {
		rv = CKR_SESSION_HANDLE_INVALID;
	}
	pthread_mutex_unlock(&tok->lock);
	return rv;
}

static bool read_only_session_exists(const struct tpm_token *tok)
{
	for (size_t i = 0; i < tok->n_sessions; i++) {
		if (!(tok->sessions[i]->flags & CKF_RW_SESSION))
			return true;
	}
	return false;
}

static CK_RV tpm_login(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_USER_TYPE user,
                       CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
	struct tpm_token *tok = be->priv;
	CK_RV rv;

	pthread_mutex_lock(&tok->lock);
	if (!tpm_session_find_locked(tok, s))
		rv = CKR_SESSION_HANDLE_INVALID;
	else if (user == CKU_SO && tok->login == TPM_NO_LOGIN && read_only_session_exists(tok))
		rv = CKR_SESSION_READ_ONLY_EXISTS;
	else
		rv = tpm_login_locked(tok, user, pin, pin_len);
	pthread_mutex_unlock(&tok->lock);
	return rv;
}

static CK_RV tpm_logout(struct hsmux_backend *be, CK_SESSION_HANDLE s)
{
	struct tpm_token *tok = be->priv;
	CK_RV rv = CKR_OK;

	pthread_mutex_lock(&tok->lock);
	if (!tpm_session_find_locked(tok, s))
		rv = CKR_SESSION_HANDLE_INVALID;
	else if (tok->login == TPM_NO_LOGIN)
		rv = CKR_USER_NOT_LOGGED_IN;
	else
		tpm_logout_locked(tok);
	pthread_mutex_unlock(&tok->lock);
	return rv;
}

const struct hsmux_backend_ops hsmux_tpm_backend_ops = {
    .type = "tpm",
    .keys = tpm_keys,
    .create = tpm_create,
    .destroy = tpm_destroy,
    .reinit_after_fork = tpm_reinit_after_fork,
    .get_slot_list = tpm_get_slot_list,
    .get_slot_info = tpm_get_slot_info,
    .get_token_info = tpm_get_token_info,
    .get_mechanism_list = tpm_get_mechanism_list,
    .get_mechanism_info = tpm_get_mechanism_info,
    .init_token = tpm_init_token,
    .init_pin = tpm_init_pin,
    .set_pin = tpm_set_pin,
    .open_session = tpm_open_session,
    .close_session = tpm_close_session,
    .close_all_sessions = tpm_close_all_sessions,
    .get_session_info = tpm_get_session_info,
    .login = tpm_login,
    .logout = tpm_logout,
    .create_object = tpm_create_object,
    .copy_object = tpm_copy_object,
    .destroy_object = tpm_destroy_object,
    .get_object_size = tpm_get_object_size,
    .get_attribute_value = tpm_get_attribute_value,
    .set_attribute_value = tpm_set_attribute_value,
    .find_objects_init = tpm_find_objects_init,
    .find_objects = tpm_find_objects,
    .find_objects_final = tpm_find_objects_final,
    .encrypt_init = tpm_pub_encrypt_init,
    .encrypt = tpm_pub_encrypt,
    .encrypt_update = tpm_encrypt_update,
    .encrypt_final = tpm_encrypt_final,
    .decrypt_init = tpm_decrypt_init,
    .decrypt = tpm_decrypt,
    .decrypt_update = tpm_decrypt_update,
    .decrypt_final = tpm_decrypt_final,
    .digest_init = tpm_digest_init,
    .digest = tpm_digest,
    .digest_update = tpm_digest_update,
    .digest_final = tpm_digest_final,
    .sign_init = tpm_sign_init,
    .sign = tpm_sign,
    .sign_update = tpm_sign_update,
    .sign_final = tpm_sign_final,
    .verify_init = tpm_verify_init,
    .verify = tpm_verify,
    .verify_update = tpm_verify_update,
    .verify_final = tpm_verify_final,
    .generate_key = tpm_generate_key,
    .generate_key_pair = tpm_generate_key_pair,
    .unwrap_key = tpm_unwrap_key,
    .seed_random = tpm_seed_random,
    .generate_random = tpm_generate_random,
    .backup_export = tpm_backup_export,
    .backup_import = tpm_backup_import,
};
