/*
 * An in-process TCTI over libtpms: transmit runs the command through
 * TPMLIB_Process, receive returns the response. tss2 3.2.1 ships no such
 * TCTI, and ESYS accepts any context that starts with
 * TSS2_TCTI_CONTEXT_COMMON_V2.
 *
 * libtpms runs one TPM per process, so only one context may exist at a
 * time. Its NV state lives in a directory: the files permall, volatilestate
 * and savestate are written atomically, and an exclusive flock on
 * DIR/tpm.lock keeps a second process off the same state.
 */
#ifndef HSMUX_TCTI_LIBTPMS_H
#define HSMUX_TCTI_LIBTPMS_H

#include <stddef.h>

#include <tss2/tss2_tcti.h>

/*
 * Starts the libtpms TPM with its NV state in dir (created if missing) and
 * returns a TCTI context for it in *tcti. On failure it writes a one-line
 * reason to err and returns a TSS2_TCTI_RC_* code. The caller still has to
 * send TPM2_Startup. Free with tcti_libtpms_free(), which stops the TPM.
 */
TSS2_RC tcti_libtpms_new(const char *dir, TSS2_TCTI_CONTEXT **tcti, char *err, size_t err_len);

/* Stops the TPM and frees the context. Send TPM2_Shutdown first. */
void tcti_libtpms_free(TSS2_TCTI_CONTEXT *tcti);

/*
 * Drops the parent's TPM in a child after fork(), without writing its
 * state, so that the child never overwrites the parent's NV files. The next
 * tcti_libtpms_new() in the child tears the stale copy down, with NV writes
 * discarded, once it holds the state lock.
 */
void tcti_libtpms_forget(TSS2_TCTI_CONTEXT *tcti);

#endif /* HSMUX_TCTI_LIBTPMS_H */
