/*
 * Backup and restore of a SoftHSM 2.6.1 token through its file store.
 *
 * The store of one token is a directory, <tokendir>/<uuid>/, of files that
 * SoftHSM writes in place: token.object (label, serial, flags and the
 * PIN-wrapped token key), one <uuid>.object per object (its attributes,
 * values encrypted under the token key), a <uuid>.lock beside each, and a
 * generation counter. SoftHSM guards each write with an fcntl() lock on
 * the object file and each create-and-fill transaction with one on the
 * .lock file, so holding write locks on every file stops every writer.
 */
#ifndef HSMUX_SOFTHSM_STORE_H
#define HSMUX_SOFTHSM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/backend.h"

/* Where SoftHSM keeps the token of slot: <tokendir>/<uuid>, found by its serial number. */
CK_RV softhsm_token_dir(struct hsmux_backend *be, CK_SLOT_ID slot, char *dir, size_t len);

/* The store directory (parent of tokendir) and SoftHSM's config file in it. */
CK_RV softhsm_store_paths(struct hsmux_backend *be, char *store, size_t store_len, char *conf,
                          size_t conf_len);

/*
 * Walks a SoftHSM object file. Returns its number of attributes, or -1 when
 * it is malformed; when value is not NULL it gets the byte-string value of
 * the attribute want_type, if the file has one (it points into data).
 */
long softhsm_object_walk(const unsigned char *data, size_t len, uint64_t want_type,
                         const unsigned char **value, size_t *value_len);

/*
 * Checks that data is a whole SoftHSM object file: a generation counter,
 * then attributes that end exactly at the end of the data, at least one.
 */
bool softhsm_object_file_valid(const unsigned char *data, size_t len);

/* Snapshot of one token directory, the core of the backup op (no backend needed). */
CK_RV softhsm_snapshot_dir(const char *dir, CK_RV (*begin)(void *ctx),
                           CK_RV (*file)(void *ctx, const char *name, const unsigned char *data,
                                         CK_ULONG len),
                           void *ctx);

/*
 * Builds a new token directory from next() in a temporary directory under
 * stage_parent (same file system as dir), then swaps it with dir in one
 * rename. swap_hook runs just before the swap (the backend stops SoftHSM
 * there); it may be NULL.
 */
CK_RV softhsm_replace_dir(const char *dir, const char *stage_parent,
                          CK_RV (*next)(void *ctx, const char **name, const unsigned char **data,
                                        CK_ULONG *len),
                          void *ctx, void (*swap_hook)(void *hook_ctx), void *hook_ctx);

CK_RV softhsm_backup_export(struct hsmux_backend *be, CK_SLOT_ID slot, CK_RV (*begin)(void *ctx),
                            CK_RV (*file)(void *ctx, const char *name, const unsigned char *data,
                                          CK_ULONG len),
                            void *ctx);
CK_RV softhsm_backup_import(struct hsmux_backend *be, CK_SLOT_ID slot,
                            CK_RV (*next)(void *ctx, const char **name, const unsigned char **data,
                                          CK_ULONG *len),
                            void *ctx);

#endif /* HSMUX_SOFTHSM_STORE_H */
