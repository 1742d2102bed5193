/* Finding a SoftHSM token's directory and checking its object files. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backends/softhsm/store.h"
#include "module/config.h"
#include "module/trace.h"

/* SoftHSM's own attribute of token.object that contains the serial number (OSAttributes.h). */
#define SOFTHSM_ATTR_TOKEN_SERIAL 0x8000534AUL

CK_RV softhsm_store_paths(struct hsmux_backend *be, char *store, size_t store_len, char *conf,
                          size_t conf_len)
{
	struct hsmux_config *cfg = NULL;
	char err[256], data[PATH_MAX];
	const char *dir = NULL;
	CK_RV rv = CKR_GENERAL_ERROR;
	int n = -1;

	/* The backend keeps its paths private, so read them again from the same config. */
	if (hsmux_config_load(&cfg, err, sizeof(err)) != 0)
		return CKR_GENERAL_ERROR;
	for (size_t i = 0; i < cfg->n_sections; i++)
		if (strcmp(cfg->sections[i].name, be->name) == 0)
			dir = hsmux_config_get(&cfg->sections[i], "store", NULL);
	if (dir && *dir)
		n = snprintf(store, store_len, "%s", dir);
	else if (hsmux_data_dir(data, sizeof(data)))
		n = snprintf(store, store_len, "%s/softhsm", data);
	if (n > 0 && (size_t)n < store_len &&
	    snprintf(conf, conf_len, "%s/softhsm2.conf", store) < (int)conf_len)
		rv = CKR_OK;
	hsmux_config_free(cfg);
	return rv;
}

static bool serial_matches(const char *path, const char *serial)
{
	unsigned char buf[65536];
	const unsigned char *value = NULL;
	size_t len, value_len = 0;
	FILE *f = fopen(path, "rb");

	if (!f)
		return false;
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (softhsm_object_walk(buf, len, SOFTHSM_ATTR_TOKEN_SERIAL, &value, &value_len) <= 0 ||
	    !value)
		return false;
	while (value_len > 0 && value[value_len - 1] == ' ')
		value_len--;
	return value_len == strlen(serial) && memcmp(value, serial, value_len) == 0;
}

static CK_RV scan_tokens(const char *tokens, const char *serial, char *dir, size_t len)
{
	DIR *d = opendir(tokens);
	struct dirent *e;
	char path[PATH_MAX];
	CK_RV rv = CKR_TOKEN_NOT_PRESENT;

	if (!d)
		return CKR_GENERAL_ERROR;
	while ((e = readdir(d)) != NULL && rv == CKR_TOKEN_NOT_PRESENT) {
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s/token.object", tokens, e->d_name) >=
		    (int)sizeof(path))
			continue;
		if (serial_matches(path, serial) &&
		    snprintf(dir, len, "%s/%s", tokens, e->d_name) < (int)len)
			rv = CKR_OK;
	}
	closedir(d);
	return rv;
}

CK_RV softhsm_token_dir(struct hsmux_backend *be, CK_SLOT_ID slot, char *dir, size_t len)
{
	char store[PATH_MAX - 16], conf[PATH_MAX], tokens[PATH_MAX], serial[17];
	CK_TOKEN_INFO info;
	size_t n = sizeof(info.serialNumber);
	CK_RV rv;

	rv = be->ops->get_token_info(be, slot, &info);
	if (rv != CKR_OK)
		return rv;
	while (n > 0 && info.serialNumber[n - 1] == ' ')
		n--;
	memcpy(serial, info.serialNumber, n);
	serial[n] = '\0';
	rv = softhsm_store_paths(be, store, sizeof(store), conf, sizeof(conf));
	if (rv != CKR_OK)
		return rv;
	snprintf(tokens, sizeof(tokens), "%s/tokens", store);
	rv = scan_tokens(tokens, serial, dir, len);
	if (rv != CKR_OK)
		hsmux_trace(HSMUX_TRACE_BACKEND,
		            "backend '%s': no token directory with serial %s "
		            "under %s",
		            be->name, serial, tokens);
	return rv;
}
