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
#include "module/config.h"
#include "module/fileio.h"
#include "module/trace.h"

static const char *const softhsm_keys[] = {"store", "module", NULL};

/* SoftHSM reads one config per process, so one softhsm backend at a time. */
static const struct hsmux_backend *softhsm_owner;
static char softhsm_conf[PATH_MAX];

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
	if (softhsm_owner == be)
		softhsm_owner = NULL;
	p11_backend_unload(be);
}

const struct hsmux_backend_ops hsmux_softhsm_backend_ops = {
	.type = "softhsm",
	.keys = softhsm_keys,
	.create = softhsm_create,
	.destroy = softhsm_destroy,
	.reinit_after_fork = softhsm_reinit_after_fork,
	.backup_export = softhsm_backup_export, .backup_import = softhsm_backup_import,
	P11_BACKEND_FORWARDERS,
};
