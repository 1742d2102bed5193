/*
 * The "hsmux admin" vendor interface that C_GetInterface hands out, in
 * each version the module still serves.
 */
#include "hsmux/admin.h"
#include "module/admin/admin.h"
#include "module/policy/policy.h"

static const struct hsmux_admin_functions admin_functions = {
    .version = {HSMUX_ADMIN_VERSION_MAJOR, HSMUX_ADMIN_VERSION_MINOR},
    .sd_activate = admin_sd_activate,
    .sd_fingerprint = admin_sd_fingerprint,
    .sd_init_recovery = admin_sd_init_recovery,
    .sd_upload = admin_sd_upload,
    .backup = admin_backup,
    .restore = admin_restore,
    .key_status = hsmux_policy_key_status_session,
};

/*
 * C_GetInterface matches versions exactly, so a caller built for 1.0 finds
 * this one. It contains the same functions: a 1.0 caller never reads past
 * restore, because members are only ever added at the end.
 */
static const struct hsmux_admin_functions admin_functions_1_0 = {
    .version = {1, 0},
    .sd_activate = admin_sd_activate,
    .sd_fingerprint = admin_sd_fingerprint,
    .sd_init_recovery = admin_sd_init_recovery,
    .sd_upload = admin_sd_upload,
    .backup = admin_backup,
    .restore = admin_restore,
    .key_status = hsmux_policy_key_status_session,
};

static const CK_INTERFACE admin_interfaces[] = {
    {
        .pInterfaceName = (CK_CHAR *)HSMUX_ADMIN_INTERFACE,
        .pFunctionList = (void *)&admin_functions,
        .flags = 0,
    },
    {
        .pInterfaceName = (CK_CHAR *)HSMUX_ADMIN_INTERFACE,
        .pFunctionList = (void *)&admin_functions_1_0,
        .flags = 0,
    },
};

const CK_INTERFACE *hsmux_admin_interface(void)
{
	return &admin_interfaces[0];
}

size_t hsmux_admin_interface_count(void)
{
	return sizeof(admin_interfaces) / sizeof(admin_interfaces[0]);
}

const CK_INTERFACE *hsmux_admin_interface_at(size_t i)
{
	return i < hsmux_admin_interface_count() ? &admin_interfaces[i] : NULL;
}
