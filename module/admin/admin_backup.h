/* Shared by the backup and restore functions of the admin interface. */
#ifndef HSMUX_ADMIN_ADMIN_BACKUP_H
#define HSMUX_ADMIN_ADMIN_BACKUP_H

#include <jansson.h>

#include "module/admin/sd_token.h"

/*
 * Lists the token's objects for the manifest: an array of
 * {"class", "key_type", "label", "id"} objects (labels that are not UTF-8
 * are left out). NULL when out of memory or the search fails.
 */
json_t *admin_manifest_objects(struct sd_tok *t);

#endif /* HSMUX_ADMIN_ADMIN_BACKUP_H */
