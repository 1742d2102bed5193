/*
 * The softhsm backend: the pkcs11 backend over SoftHSMv2, plus its set-up.
 * hsmux keeps SoftHSM's store in a directory of its own and writes
 * SoftHSM's config file there, so that nothing else needs setting up.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/pkcs11/pkcs11.h"
#include "backends/softhsm/store.h"
#include "backends/softhsm/store_guard.h"
#include "module/config.h"
#include "module/fileio.h"
#include "module/trace.h"

static const char *const softhsm_keys[] = {"store", "module", NULL};

/* SoftHSM reads one config per process, so one softhsm backend at a time. */
static const struct hsmux_backend *softhsm_owner;
static char softhsm_conf[PATH_MAX];
/* The tokendir of that backend, where store_guard.c keeps its good copies. */
static char softhsm_tokens[PATH_MAX];

struct softhsm_paths {
	char store[PATH_MAX - 64];
	char tokens[PATH_MAX];
	char conf[PATH_MAX];
};

static CK_RV store_paths(const struct hsmux_config_section *sec, struct softhsm_paths *paths,
			 const char *at, char *err, size_t len)
{
	const char *store = hsmux_config_get(sec, "store", NULL);
	char data[PATH_MAX];
	int n;

	if (store && *store) {
		n = snprintf(paths->store, sizeof(paths->store), "%s", store);
	} else {
		if (!hsmux_data_dir(data, sizeof(data))) {
			snprintf(err, len, "%s: no store for backend '%s' and neither "
				 "XDG_DATA_HOME nor HOME is set; set 'store = DIR'", at, sec->name);
			return CKR_GENERAL_ERROR;
		}
		n = snprintf(paths->store, sizeof(paths->store), "%s/softhsm", data);
	}
	if (n < 0 || (size_t)n >= sizeof(paths->store)) {
		snprintf(err, len, "%s: the store path is too long", at);
		return CKR_GENERAL_ERROR;
	}
	snprintf(paths->tokens, sizeof(paths->tokens), "%s/tokens", paths->store);
	snprintf(paths->conf, sizeof(paths->conf), "%s/softhsm2.conf", paths->store);
	return CKR_OK;
}

/* Makes the store and SoftHSM's config in it; both stay private to the user. */
static CK_RV prepare_store(const struct softhsm_paths *paths, const char *at, char *err,
			   size_t len)
{
	char conf[PATH_MAX + 128];
	int n;

	if (hsmux_mkdir_p(paths->tokens, 0700) != 0) {
		snprintf(err, len, "%s: cannot create the SoftHSM store '%s': %s; fix the "
			 "permissions or set 'store' to a writable directory", at, paths->tokens,
			 strerror(errno));
		return CKR_GENERAL_ERROR;
	}
	if (access(paths->tokens, R_OK | W_OK | X_OK) != 0) {
		snprintf(err, len, "%s: the SoftHSM store '%s' is not readable and writable: %s; "
			 "fix its permissions", at, paths->tokens, strerror(errno));
		return CKR_GENERAL_ERROR;
	}
	n = snprintf(conf, sizeof(conf),
		     "# Written by hsmux; changes are overwritten.\n"
		     "directories.tokendir = %s\n"
		     "objectstore.backend = file\n"
		     "log.level = ERROR\n"
		     "slots.removable = false\n",
		     paths->tokens);
	if (n < 0 || (size_t)n >= sizeof(conf) ||
	    hsmux_write_file_if_changed(paths->conf, conf, (size_t)n, 0600) != 0) {
		snprintf(err, len, "%s: cannot write SoftHSM's config '%s': %s", at, paths->conf,
			 strerror(errno));
		return CKR_GENERAL_ERROR;
	}
	return CKR_OK;
}

/*
 * SoftHSM reads SOFTHSM2_CONF in C_Initialize only; set it for that call
 * and put back what the application had.
 */
static CK_RV load_with_conf(struct hsmux_backend *be, const char *module, const char *conf,
			    const char *at, char *err, size_t len)
{
	const char *old = getenv("SOFTHSM2_CONF");
	char *saved = old ? strdup(old) : NULL;
	CK_RV rv;

	setenv("SOFTHSM2_CONF", conf, 1);
	rv = p11_backend_load(be, module, at, err, len);
	if (saved)
		setenv("SOFTHSM2_CONF", saved, 1);
	else
		unsetenv("SOFTHSM2_CONF");
	free(saved);
	return rv;
}

static CK_RV softhsm_create(struct hsmux_backend *be, const struct hsmux_config_section *sec,
			    char *err, size_t len)
{
	const char *module = hsmux_config_get(sec, "module", NULL);
	struct softhsm_paths paths;
	char at[512];
	CK_RV rv;

	snprintf(at, sizeof(at), "%s:%u", sec->file ? sec->file : "(built-in default config)",
		 sec->line);
	if (softhsm_owner) {
		snprintf(err, len, "%s: backend '%s' is a second softhsm backend, but one process "
			 "can load SoftHSM only once (backend '%s' has it); keep one softhsm "
			 "section", at, sec->name, softhsm_owner->name);
		return CKR_GENERAL_ERROR;
	}
	rv = store_paths(sec, &paths, at, err, len);
	if (rv == CKR_OK)
		rv = prepare_store(&paths, at, err, len);
	/* SoftHSM drops a token whose token.object is incomplete when it starts: repair first. */
	if (rv == CKR_OK)
		softhsm_guard_check_store(paths.tokens, sec->name);
	if (rv == CKR_OK)
		rv = load_with_conf(be, module ? module : HSMUX_SOFTHSM_MODULE, paths.conf, at,
				    err, len);
	if (rv != CKR_OK)
		return rv;
	if (!((struct p11_backend *)be->priv)->owns_init) {
		snprintf(err, len, "%s: SoftHSM was already initialized by the application with "
			 "its own config, so the store '%s' cannot apply; use a backend of type "
			 "pkcs11 for it", at, paths.store);
		p11_backend_unload(be);
		return CKR_GENERAL_ERROR;
	}
	softhsm_owner = be;
	snprintf(softhsm_conf, sizeof(softhsm_conf), "%s", paths.conf);
	snprintf(softhsm_tokens, sizeof(softhsm_tokens), "%s", paths.tokens);
	hsmux_trace(HSMUX_TRACE_BACKEND, "backend '%s': SoftHSM store %s", be->name, paths.store);
	return CKR_OK;
}

/* SoftHSM starts a new instance in a child after fork() and reads its config again. */
static CK_RV softhsm_reinit_after_fork(struct hsmux_backend *be)
{
	const char *old = getenv("SOFTHSM2_CONF");
	char *saved = old ? strdup(old) : NULL;
	CK_RV rv;

	setenv("SOFTHSM2_CONF", softhsm_conf, 1);
	rv = p11_backend_reinit_after_fork(be);
	if (saved)
		setenv("SOFTHSM2_CONF", saved, 1);
	else
		unsetenv("SOFTHSM2_CONF");
	free(saved);
	return rv;
}

static void softhsm_destroy(struct hsmux_backend *be)
{
	if (softhsm_owner == be) {
		softhsm_owner = NULL;
		softhsm_tokens[0] = '\0';
	}
	p11_backend_unload(be);
}

/*
 * Calls after which SoftHSM 2.6.1 may have rewritten token.object in place
 * (truncate, then write): C_InitToken, C_InitPIN and C_SetPIN write the
 * PIN blobs, label and flags; C_Login writes the token flags on success
 * and on failure. Each refreshes the good copies of token.object before
 * the call, to take in changes by processes without hsmux, and after it,
 * to take in its own. A refresh costs two stat() calls per token while
 * token.object is unchanged. After a rewrite it also reads token.object
 * and its copy (about 320 bytes each), and writes and fsyncs the copy only
 * when more than SoftHSM's generation counter changed: a PIN, the label
 * or the flags. A failed call is refreshed too, because SoftHSM writes the
 * flags of a failed login.
 *
 * What "as before" means after a kill -9 in the middle of C_SetPIN or
 * C_InitPIN: SoftHSM writes the new PIN blob with one rewrite of
 * token.object. If the kill comes before that write is complete, the
 * good copy comes back at the next start and the old PIN applies; if it
 * comes after, the new PIN applies. Once C_SetPIN has returned CKR_OK,
 * the new PIN applies. Exactly one of the two PINs works, never neither.
 * NOTE: the good copy is as new as the last refresh, so if a process
 * without hsmux changed the PIN and then a process was killed during the
 * next rewrite before any hsmux call saw the change, the PIN from before
 * that outside change comes back.
 *
 * C_InitToken on an initialized token is not made atomic: SoftHSM deletes
 * the object files one by one, then rewrites token.object. A kill in the
 * middle leaves the old token.object (old PINs, old label) or the new one,
 * and the objects that were not deleted yet.
 */
static CK_RV softhsm_init_token(struct hsmux_backend *be, CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin,
                                CK_ULONG pin_len, CK_UTF8CHAR_PTR label)
{
	CK_RV rv;

	softhsm_guard_refresh_store(softhsm_tokens, false);
	rv = p11_init_token(be, slot, pin, pin_len, label);
	softhsm_guard_refresh_store(softhsm_tokens, false);
	return rv;
}

static CK_RV softhsm_init_pin(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR pin,
                              CK_ULONG pin_len)
{
	CK_RV rv;

	softhsm_guard_refresh_store(softhsm_tokens, false);
	rv = p11_init_pin(be, s, pin, pin_len);
	softhsm_guard_refresh_store(softhsm_tokens, false);
	return rv;
}

static CK_RV softhsm_set_pin(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_UTF8CHAR_PTR old_pin,
                             CK_ULONG old_len, CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len)
{
	CK_RV rv;

	softhsm_guard_refresh_store(softhsm_tokens, false);
	rv = p11_set_pin(be, s, old_pin, old_len, new_pin, new_len);
	softhsm_guard_refresh_store(softhsm_tokens, false);
	return rv;
}

static CK_RV softhsm_login(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_USER_TYPE user,
                           CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
	CK_RV rv;

	softhsm_guard_refresh_store(softhsm_tokens, false);
	rv = p11_login(be, s, user, pin, pin_len);
	softhsm_guard_refresh_store(softhsm_tokens, false);
	return rv;
}

static CK_RV softhsm_login_user(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_USER_TYPE user,
                                CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR username,
                                CK_ULONG username_len)
{
	CK_RV rv;

	softhsm_guard_refresh_store(softhsm_tokens, false);
	rv = p11_login_user(be, s, user, pin, pin_len, username, username_len);
	softhsm_guard_refresh_store(softhsm_tokens, false);
	return rv;
}

static CK_RV softhsm_logout(struct hsmux_backend *be, CK_SESSION_HANDLE s)
{
	CK_RV rv = p11_logout(be, s);

	softhsm_guard_refresh_store(softhsm_tokens, false);
	return rv;
}

/*
 * C_SetAttributeValue on a token object makes SoftHSM rewrite that
 * object's file in place. The handle does not name the file, so every
 * object file of the store gets a good copy before the call (objects made
 * since C_Initialize have none yet) and the rewritten one is refreshed
 * after it: two stat() calls per object file each time, and only for
 * objects with CKA_TOKEN set.
 */
static CK_RV softhsm_set_attribute_value(struct hsmux_backend *be, CK_SESSION_HANDLE s,
                                         CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                                         CK_ULONG count)
{
	CK_BBOOL token = CK_TRUE;
	CK_ATTRIBUTE attr = {CKA_TOKEN, &token, sizeof(token)};
	bool guard = p11_get_attribute_value(be, s, obj, &attr, 1) != CKR_OK || token == CK_TRUE;
	CK_RV rv;

	if (guard)
		softhsm_guard_refresh_store(softhsm_tokens, true);
	rv = p11_set_attribute_value(be, s, obj, tmpl, count);
	if (guard)
		softhsm_guard_refresh_store(softhsm_tokens, true);
	return rv;
}

/* The table overrides a few of P11_BACKEND_FORWARDERS, which GCC warns about. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
const struct hsmux_backend_ops hsmux_softhsm_backend_ops = {
	.type = "softhsm",
	.keys = softhsm_keys,
	.create = softhsm_create,
	.destroy = softhsm_destroy,
	.reinit_after_fork = softhsm_reinit_after_fork,
	.backup_export = softhsm_backup_export, .backup_import = softhsm_backup_import,
	P11_BACKEND_FORWARDERS,
	/* These replace the plain forwarders of the same ops, set just above. */
	.init_token = softhsm_init_token, .init_pin = softhsm_init_pin, .set_pin = softhsm_set_pin,
	.login = softhsm_login, .login_user = softhsm_login_user, .logout = softhsm_logout,
	.set_attribute_value = softhsm_set_attribute_value,
};
#pragma GCC diagnostic pop
