/* The in-process libtpms TCTI and the NV storage callbacks behind it. */
#include "backends/tpm/tcti_libtpms.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>

#include "backends/tpm/tpm_file.h"

#define TCTI_LIBTPMS_MAGIC 0x68736d7574706d31ULL /* "hsmutpm1" */
#define LOCK_FILE          "tpm.lock"
#define LOCK_WAIT_MS       10000

struct tcti_libtpms {
	TSS2_TCTI_CONTEXT_COMMON_V2 common; /* first, so ESYS can use the context */
	unsigned char *resp;                /* libtpms's response buffer, reused across commands */
	uint32_t resp_len;                  /* bytes of the pending response; 0 when none */
	uint32_t resp_size;                 /* allocated size of resp */
	bool pending; /* a command was sent and its response not yet received */
	int lock_fd;
};

/*
 * libtpms's NV callbacks take no user pointer, so the state directory is
 * process-global. That matches libtpms itself: one TPM per process.
 */
static pthread_mutex_t libtpms_mutex = PTHREAD_MUTEX_INITIALIZER;
static char libtpms_dir[PATH_MAX];
static bool libtpms_in_use;
/* Set in a child after fork(): libtpms still holds the parent's TPM in memory. */
static bool libtpms_stale;
/* Set while that stale TPM is torn down, so that nothing of it reaches the NV files. */
static bool nv_discard;

static bool nv_name_valid(const char *name)
{
	return name && name[0] && !strchr(name, '/') && name[0] != '.';
}

static TPM_RESULT nv_init(void)
{
	return TPM_SUCCESS;
}

static TPM_RESULT nv_load(unsigned char **data, uint32_t *length, uint32_t tpm_number,
                          const char *name)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int err;

	if (!nv_name_valid(name))
		return TPM_FAIL;
	err = tpm_file_read(libtpms_dir, name, &buf, &len);
	/* TPM_RETRY means no state exists yet, so libtpms manufactures a new TPM. */
	if (err == ENOENT)
		return TPM_RETRY;
	if (err || len > UINT32_MAX) {
		free(buf);
		return TPM_FAIL;
	}
	*data = buf;
	*length = (uint32_t)len;
	return TPM_SUCCESS;
}

static TPM_RESULT nv_store(const unsigned char *data, uint32_t length, uint32_t tpm_number,
                           const char *name)
{
	if (!nv_name_valid(name))
		return TPM_FAIL;
	if (nv_discard)
		return TPM_SUCCESS;
	return tpm_file_write_atomic(libtpms_dir, name, data, length) == 0 ? TPM_SUCCESS : TPM_FAIL;
}

static TPM_RESULT nv_delete(uint32_t tpm_number, const char *name, TPM_BOOL must_exist)
{
	int err;

	if (!nv_name_valid(name))
		return TPM_FAIL;
	if (nv_discard)
		return TPM_SUCCESS;
	err = tpm_file_remove(libtpms_dir, name);
	if (err == ENOENT && !must_exist)
		return TPM_SUCCESS;
	return err == 0 ? TPM_SUCCESS : TPM_FAIL;
}

static TPM_RESULT io_init(void)
{
	return TPM_SUCCESS;
}

static TPM_RESULT io_get_locality(TPM_MODIFIER_INDICATOR *locality, uint32_t tpm_number)
{
	*locality = 0;
	return TPM_SUCCESS;
}

static TPM_RESULT io_get_physical_presence(TPM_BOOL *presence, uint32_t tpm_number)
{
	*presence = 0;
	return TPM_SUCCESS;
}

static struct libtpms_callbacks libtpms_callbacks = {
    .sizeOfStruct = sizeof(struct libtpms_callbacks),
    .tpm_nvram_init = nv_init,
    .tpm_nvram_loaddata = nv_load,
    .tpm_nvram_storedata = nv_store,
    .tpm_nvram_deletename = nv_delete,
    .tpm_io_init = io_init,
    .tpm_io_getlocality = io_get_locality,
    .tpm_io_getphysicalpresence = io_get_physical_presence,
};

static struct tcti_libtpms *tcti_cast(TSS2_TCTI_CONTEXT *ctx)
{
	struct tcti_libtpms *t = (struct tcti_libtpms *)ctx;

	return (t && t->common.v1.magic == TCTI_LIBTPMS_MAGIC) ? t : NULL;
}

static TSS2_RC tcti_transmit(TSS2_TCTI_CONTEXT *ctx, size_t size, const uint8_t *command)
{
	struct tcti_libtpms *t = tcti_cast(ctx);
	unsigned char *cmd;
	TPM_RESULT res;

	if (!t || !command)
		return TSS2_TCTI_RC_BAD_REFERENCE;
	if (t->pending)
		return TSS2_TCTI_RC_BAD_SEQUENCE;
	if (size == 0 || size > UINT32_MAX)
		return TSS2_TCTI_RC_BAD_VALUE;

	/* TPMLIB_Process takes a non-const command buffer. */
	cmd = malloc(size);
	if (!cmd)
		return TSS2_TCTI_RC_MEMORY;
	memcpy(cmd, command, size);
	res = TPMLIB_Process(&t->resp, &t->resp_len, &t->resp_size, cmd, (uint32_t)size);
	free(cmd);
	if (res != TPM_SUCCESS)
		return TSS2_TCTI_RC_IO_ERROR;
	t->pending = true;
	return TSS2_RC_SUCCESS;
}

static TSS2_RC tcti_receive(TSS2_TCTI_CONTEXT *ctx, size_t *size, uint8_t *response,
                            int32_t timeout)
{
	struct tcti_libtpms *t = tcti_cast(ctx);

	if (!t || !size)
		return TSS2_TCTI_RC_BAD_REFERENCE;
	if (!t->pending)
		return TSS2_TCTI_RC_BAD_SEQUENCE;
	if (!response) {
		*size = t->resp_len;
		return TSS2_RC_SUCCESS;
	}
	if (*size < t->resp_len)
		return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
	memcpy(response, t->resp, t->resp_len);
	*size = t->resp_len;
	t->pending = false;
	return TSS2_RC_SUCCESS;
}

static TSS2_RC tcti_cancel(TSS2_TCTI_CONTEXT *ctx)
{
	return TSS2_TCTI_RC_NOT_IMPLEMENTED;
}

static TSS2_RC tcti_set_locality(TSS2_TCTI_CONTEXT *ctx, uint8_t locality)
{
	return locality == 0 ? TSS2_RC_SUCCESS : TSS2_TCTI_RC_BAD_VALUE;
}

static void tcti_finalize(TSS2_TCTI_CONTEXT *ctx)
{
	tcti_libtpms_free(ctx);
}

static TSS2_RC start_tpm_locked(const char *dir, char *err, size_t err_len)
{
	TPM_RESULT res;

	if (snprintf(libtpms_dir, sizeof(libtpms_dir), "%s", dir) >= (int)sizeof(libtpms_dir)) {
		snprintf(err, err_len, "TPM state directory '%s' is too long", dir);
		return TSS2_TCTI_RC_BAD_VALUE;
	}
	res = TPMLIB_ChooseTPMVersion(TPMLIB_TPM_VERSION_2);
	if (res == TPM_SUCCESS)
		res = TPMLIB_RegisterCallbacks(&libtpms_callbacks);
	if (res == TPM_SUCCESS)
		res = TPMLIB_MainInit();
	if (res != TPM_SUCCESS) {
		snprintf(err, err_len,
		         "libtpms failed to start with the state in '%s' (error 0x%x); "
		         "check that its files are readable and not damaged",
		         dir, (unsigned int)res);
		return TSS2_TCTI_RC_IO_ERROR;
	}
	return TSS2_RC_SUCCESS;
}

static int lock_state_dir(const char *dir, char *err, size_t err_len)
{
	int fd;

	if (tpm_file_mkdir(dir) != 0) {
		snprintf(err, err_len, "cannot create the TPM state directory '%s': %s", dir,
		         strerror(errno));
		return -1;
	}
	fd = tpm_file_lock(dir, LOCK_FILE, true, LOCK_WAIT_MS);
	if (fd == -EWOULDBLOCK) {
		snprintf(err, err_len,
		         "the TPM state in '%s' is in use by another process; libtpms runs one "
		         "TPM per state directory, so use a swtpm: tcti to share a TPM",
		         dir);
		return -1;
	}
	if (fd < 0) {
		snprintf(err, err_len, "cannot lock '%s/%s': %s", dir, LOCK_FILE, strerror(-fd));
		return -1;
	}
	tpm_file_remove_temporaries(dir);
	return fd;
}

TSS2_RC tcti_libtpms_new(const char *dir, TSS2_TCTI_CONTEXT **tcti, char *err, size_t err_len)
{
	struct tcti_libtpms *t;
	TSS2_RC rc;

	pthread_mutex_lock(&libtpms_mutex);
	if (libtpms_in_use) {
		snprintf(err, err_len,
		         "a libtpms TPM already runs in this process (state in '%s'); libtpms "
		         "holds one TPM per process, so give the other tpm backends a device: "
		         "or swtpm: tcti",
		         libtpms_dir);
		pthread_mutex_unlock(&libtpms_mutex);
		return TSS2_TCTI_RC_BAD_SEQUENCE;
	}

	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, err_len, "out of memory");
		rc = TSS2_TCTI_RC_MEMORY;
		goto out;
	}
	t->lock_fd = lock_state_dir(dir, err, err_len);
	if (t->lock_fd < 0) {
		free(t);
		rc = TSS2_TCTI_RC_IO_ERROR;
		goto out;
	}
	if (libtpms_stale) {
		nv_discard = true;
		TPMLIB_Terminate();
		nv_discard = false;
		libtpms_stale = false;
	}
	rc = start_tpm_locked(dir, err, err_len);
	if (rc != TSS2_RC_SUCCESS) {
		close(t->lock_fd);
		free(t);
		goto out;
	}

	t->common.v1.magic = TCTI_LIBTPMS_MAGIC;
	t->common.v1.version = 2;
	t->common.v1.transmit = tcti_transmit;
	t->common.v1.receive = tcti_receive;
	t->common.v1.finalize = tcti_finalize;
	t->common.v1.cancel = tcti_cancel;
	t->common.v1.setLocality = tcti_set_locality;
	libtpms_in_use = true;
	*tcti = (TSS2_TCTI_CONTEXT *)t;
out:
	pthread_mutex_unlock(&libtpms_mutex);
	return rc;
}

void tcti_libtpms_free(TSS2_TCTI_CONTEXT *ctx)
{
	struct tcti_libtpms *t = tcti_cast(ctx);

	if (!t)
		return;
	pthread_mutex_lock(&libtpms_mutex);
	TPMLIB_Terminate();
	libtpms_in_use = false;
	pthread_mutex_unlock(&libtpms_mutex);

	/* libtpms allocated resp with malloc and leaves it to us. */
	free(t->resp);
	close(t->lock_fd);
	t->common.v1.magic = 0;
	free(t);
}

void tcti_libtpms_forget(TSS2_TCTI_CONTEXT *ctx)
{
	struct tcti_libtpms *t = tcti_cast(ctx);

	if (!t)
		return;
	/* The lock fd shares the parent's open file; closing it in the child keeps the lock. */
	close(t->lock_fd);
	t->common.v1.magic = 0;
	free(t->resp);
	free(t);
	libtpms_in_use = false;
	libtpms_stale = true;
	pthread_mutex_init(&libtpms_mutex, NULL);
}
