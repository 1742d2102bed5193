/* The session and admin-interface set-up that every security-domain command shares. */
#include <dlfcn.h>

#include "sd_cli.h"

int sd_cli_open(struct cli *cli, const char *token, const char *pin_file, struct sd_cli_session *s)
{
	CK_VERSION v = {HSMUX_ADMIN_VERSION_MAJOR, HSMUX_ADMIN_VERSION_MINOR};
	CK_C_GetInterface get_interface;
	CK_INTERFACE_PTR iface = NULL;
	CK_RV rv;

	s->session = CK_INVALID_HANDLE;
	if (cli_find_token(cli, token, &s->slot) != 0)
		return 1;
	get_interface = (CK_C_GetInterface)dlsym(cli->dl, "C_GetInterface");
	rv = get_interface ? get_interface((CK_UTF8CHAR_PTR)HSMUX_ADMIN_INTERFACE, &v, &iface, 0)
	                   : CKR_FUNCTION_NOT_SUPPORTED;
	if (rv != CKR_OK || !iface || !iface->pFunctionList) {
		cli_error("module '%s' has no \"%s\" interface %d.%d (%s); use libhsmux.so with "
		          "--module PATH",
		          cli->module_path, HSMUX_ADMIN_INTERFACE, HSMUX_ADMIN_VERSION_MAJOR,
		          HSMUX_ADMIN_VERSION_MINOR, cli_rv_name(rv));
		return 1;
	}
	s->admin = iface->pFunctionList;
	return cli_login(cli, s->slot, CKU_USER, pin_file, &s->session);
}

void sd_cli_close(struct cli *cli, struct sd_cli_session *s)
{
	if (s->session != CK_INVALID_HANDLE && cli->fl)
		cli->fl->C_CloseSession(s->session);
	s->session = CK_INVALID_HANDLE;
}

void sd_cli_fail(const char *action, CK_RV rv, const char *err)
{
	if (err && err[0])
		cli_error("%s: %s", action, err);
	else
		cli_error("%s failed with %s", action, cli_rv_name(rv));
}
