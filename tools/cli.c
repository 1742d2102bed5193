/* Loading the PKCS#11 module and the small helpers every command shares. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The prefix the hsmux router puts before each backend's slot description. */
#define HSMUX_SLOT_PREFIX "hsmux "

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("hsmux: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int module_open(struct cli *cli)
{
	CK_C_GetFunctionList get_function_list;
	CK_RV rv;

	cli->dl = dlopen(cli->module_path, RTLD_NOW | RTLD_LOCAL);
	if (!cli->dl) {
		cli_error("cannot load the PKCS#11 module '%s': %s; choose a module with "
		          "--module PATH or HSMUX_MODULE",
		          cli->module_path, dlerror());
		return 1;
	}

	get_function_list = (CK_C_GetFunctionList)dlsym(cli->dl, "C_GetFunctionList");
	if (!get_function_list) {
		cli_error("'%s' is not a PKCS#11 module: it has no C_GetFunctionList; choose "
		          "a module with --module PATH or HSMUX_MODULE",
		          cli->module_path);
		return 1;
	}

	rv = get_function_list(&cli->fl);
	if (rv != CKR_OK || !cli->fl) {
		cli_error("C_GetFunctionList of module '%s' failed with %s", cli->module_path,
		          cli_rv_name(rv));
		cli->fl = NULL;
		return 1;
	}
	return 0;
}

int cli_module_load(struct cli *cli)
{
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_RV rv;

	if (cli->fl)
		return 0;

	if (module_open(cli) != 0) {
		cli_module_unload(cli);
		return 1;
	}

	rv = cli->fl->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		cli_error("module '%s' failed to start: C_Initialize returned %s; check its "
		          "configuration (for hsmux: the file in HSMUX_CONF, and HSMUX_DEBUG=all "
		          "for a trace)",
		          cli->module_path, cli_rv_name(rv));
		cli->fl = NULL;
		cli_module_unload(cli);
		return 1;
	}
	return 0;
}

void cli_module_unload(struct cli *cli)
{
	if (cli->fl) {
		cli->fl->C_Finalize(NULL);
		cli->fl = NULL;
	}
	if (cli->dl) {
		dlclose(cli->dl);
		cli->dl = NULL;
	}
}

void cli_field_string(const CK_UTF8CHAR *field, size_t field_len, char *buf)
{
	size_t len = field_len;

	while (len > 0 && (field[len - 1] == ' ' || field[len - 1] == '\0'))
		len--;
	memcpy(buf, field, len);
	buf[len] = '\0';
}

bool cli_slot_backend(const CK_SLOT_INFO *info, char *name, size_t name_len, char *rest,
                      size_t rest_len)
{
	char desc[sizeof(info->slotDescription) + 1];
	const char *colon;
	size_t prefix_len = strlen(HSMUX_SLOT_PREFIX);
	size_t n;

	cli_field_string(info->slotDescription, sizeof(info->slotDescription), desc);
	name[0] = '\0';
	snprintf(rest, rest_len, "%s", desc);

	if (strncmp(desc, HSMUX_SLOT_PREFIX, prefix_len) != 0)
		return false;
	colon = strchr(desc + prefix_len, ':');
	if (!colon || colon == desc + prefix_len)
		return false;

	n = (size_t)(colon - (desc + prefix_len));
	if (n >= name_len || memchr(desc + prefix_len, ' ', n))
		return false;
	memcpy(name, desc + prefix_len, n);
	name[n] = '\0';

	colon++;
	while (*colon == ' ')
		colon++;
	snprintf(rest, rest_len, "%s", colon);
	return true;
}

int cli_slot_list(struct cli *cli, CK_SLOT_ID **slots, CK_ULONG *count)
{
	CK_SLOT_ID *list = NULL;
	CK_ULONG n = 0;
	CK_RV rv;

	*slots = NULL;
	*count = 0;
	if (cli_module_load(cli) != 0)
		return 1;

	/* The list can grow between the two calls; then ask again. */
	for (;;) {
		rv = cli->fl->C_GetSlotList(CK_FALSE, NULL, &n);
		if (rv != CKR_OK || n == 0)
			break;
		free(list);
		list = calloc(n, sizeof(*list));
		if (!list) {
			rv = CKR_HOST_MEMORY;
			break;
		}
		rv = cli->fl->C_GetSlotList(CK_FALSE, list, &n);
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;
	}

	if (rv != CKR_OK) {
		free(list);
		cli_error("cannot list the slots of module '%s': C_GetSlotList returned %s",
		          cli->module_path, cli_rv_name(rv));
		return 1;
	}
	if (n == 0) {
		free(list);
		list = NULL;
	}
	*slots = list;
	*count = n;
	return 0;
}
