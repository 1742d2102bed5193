/*
 * The security-domain file formats, compiled into the tool as well as the
 * module: `hsmux sd recover` and `hsmux backup inspect` run offline, on
 * the custodians' side, without the module, so the tool needs its own copy
 * of that code. The tool is built from every .c file in tools/, so the shared sources
 * are included here rather than listed in tools/CMakeLists.txt.
 */
#include "module/admin/sd_util.c"
#include "module/admin/sd_share.c"
#include "module/admin/sd_file.c"
#include "module/admin/sd_upload.c"
#include "module/admin/backup_file.c"
