/*
 * Backup and restore of a libtpms token: the TPM's permanent NV state
 * (which contains the seed of the primary key that wraps every key) plus the
 * token file and the key files. See tpm_backup.c for the restore protocol.
 */
#ifndef HSMUX_TPM_BACKUP_H
#define HSMUX_TPM_BACKUP_H

#include "backends/backend.h"
#include "backends/tpm/tpm_token.h"

/* The backup_export op (backends/backend.h). Only a libtpms TPM can be backed up. */
CK_RV tpm_backup_export(struct hsmux_backend *be, CK_SLOT_ID slot, CK_RV (*begin)(void *ctx),
                        CK_RV (*file)(void *ctx, const char *name, const unsigned char *data,
                                      CK_ULONG len),
                        void *ctx);

/* The backup_import op: closes every session of the token and restarts its TPM. */
CK_RV tpm_backup_import(struct hsmux_backend *be, CK_SLOT_ID slot,
                        CK_RV (*next)(void *ctx, const char **name, const unsigned char **data,
                                      CK_ULONG *len),
                        void *ctx);

/*
 * Finishes or drops a restore that a crash interrupted, before the TPM of
 * tcti (a "libtpms:DIR" value; others are left alone) starts on store_dir.
 * Returns 0 or an errno value.
 */
int tpm_backup_recover(const char *store_dir, const char *tcti);

#endif /* HSMUX_TPM_BACKUP_H */
