/* The "hsmux admin" vendor interface that C_GetInterface hands out. */
#include "hsmux/admin.h"
#include "module/admin/admin.h"

static const struct hsmux_admin_functions admin_functions = {
    .version = {HSMUX_ADMIN_VERSION_MAJOR, HSMUX_ADMIN_VERSION_MINOR},
    .sd_activate = admin_sd_activate,
    .sd_fingerprint = admin_sd_fingerprint,
    .sd_init_recovery = admin_sd_init_recovery,
    .sd_upload = admin_sd_upload,
    .backup = admin_backup,
    .restore = admin_restore,
};

static const CK_INTERFACE admin_interface = {
    .pInterfaceName = (CK_CHAR *)HSMUX_ADMIN_INTERFACE,
    .pFunctionList = (void *)&admin_functions,
    .flags = 0,
};

const CK_INTERFACE *hsmux_admin_interface(void)
{
	return &admin_interface;
}
