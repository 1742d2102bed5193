/* Store inspection and an independent decryption for test_tpm_data. */
#include "tpm_data_check.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "backends/tpm/tpm_attr.h"
#include "backends/tpm/tpm_file.h"

#define RUN 8

bool data_check_buf_has(const uint8_t *buf, size_t buf_len, const uint8_t *value, size_t len)
{
	size_t run = len < RUN ? len : RUN;

	for (size_t off = 0; run > 0 && off + run <= len; off++) {
		if (memmem(buf, buf_len, value + off, run))
			return true;
	}
	return false;
}

static bool file_has(const char *path, const uint8_t *value, size_t len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long size;
	bool found = false;

	if (!f)
		return false;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)size);
		if (buf && fread(buf, 1, (size_t)size, f) == (size_t)size)
			found = data_check_buf_has(buf, (size_t)size, value, len);
	}
	free(buf);
	fclose(f);
	return found;
}

bool data_check_dir_has(const char *dir, const uint8_t *value, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	struct stat st;
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			found = data_check_dir_has(path, value, len);
		else if (S_ISREG(st.st_mode))
			found = file_has(path, value, len);
	}
	closedir(d);
	return found;
}

bool data_check_sealed(const struct tpm_token *tok, const struct tpm_object *obj, uint8_t **file,
                       size_t *file_len, size_t *off, size_t *len)
{
	struct tpm_attrs a = {0};
	const CK_ATTRIBUTE *sealed;
	size_t pos = 8 + TPM_SERIAL_LEN;
	uint8_t *hit = NULL;

	if (tpm_file_read(tok->objects_dir, obj->file, file, file_len) != 0)
		return false;
	if (tpm_attrs_parse(*file, *file_len, &pos, &a) == CKR_OK) {
		sealed = tpm_attrs_find(&a, TPM_CKA_SEALED_VALUE);
		if (sealed && sealed->ulValueLen > 0)
			hit = memmem(*file, *file_len, sealed->pValue, sealed->ulValueLen);
		if (hit) {
			*off = (size_t)(hit - *file);
			*len = sealed->ulValueLen;
		}
	}
	tpm_attrs_cleanup(&a);
	if (!hit) {
		free(*file);
		*file = NULL;
	}
	return hit != NULL;
}

static void hex(char *out, const uint8_t *in, size_t len)
{
	for (size_t i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", in[i]);
}

/* The data key from the openssl command line, which prints it as "AB:CD:...". */
static bool kdf_from_cli(const struct tpm_token *tok, uint8_t key[32])
{
	char secret[2 * TPM_SECRET_LEN + 1], serial[2 * TPM_SERIAL_LEN + 1], cmd[512], line[256];
	unsigned int byte;
	FILE *p;
	bool ok;

	hex(secret, tok->secret, TPM_SECRET_LEN);
	hex(serial, tok->serial, TPM_SERIAL_LEN);
	snprintf(cmd, sizeof(cmd),
	         "openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:%s "
	         "-kdfopt hexsalt:%s -kdfopt 'info:hsmux tpm data object v1' HKDF",
	         secret, serial);
	p = popen(cmd, "r");
	if (!p)
		return false;
	ok = fgets(line, sizeof(line), p) != NULL;
	pclose(p);
	for (int i = 0; ok && i < 32; i++) {
		ok = sscanf(line + 3 * i, "%2x", &byte) == 1;
		key[i] = (uint8_t)byte;
	}
	OPENSSL_cleanse(line, sizeof(line));
	return ok;
}

/* AES-256-GCM open of: version | nonce(12) | ciphertext | tag(16), with the AAD of tpm_data.h. */
static bool gcm_open(const uint8_t key[32], const uint8_t *blob, size_t blob_len, const char *file,
                     uint8_t *out)
{
	static const uint8_t aad_head[] = {1, 0, 0, 0, 0, 0, 0, 0, 0x11}; /* v1, CKA_VALUE */
	size_t ct_len = blob_len - 29;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t last[16];
	int n = 0;
	bool ok;

	ok =
	    ctx && blob[0] == 1 &&
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, blob + 1) == 1 &&
	    EVP_DecryptUpdate(ctx, NULL, &n, aad_head, sizeof(aad_head)) == 1 &&
	    EVP_DecryptUpdate(ctx, NULL, &n, (const uint8_t *)file, (int)strlen(file)) == 1 &&
	    EVP_DecryptUpdate(ctx, out, &n, blob + 13, (int)ct_len) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)(blob + 13 + ct_len)) == 1 &&
	    EVP_DecryptFinal_ex(ctx, last, &n) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

bool data_check_known_answer(const struct tpm_token *tok, const struct tpm_object *obj,
                             const uint8_t *value, size_t len, const char *dir)
{
	uint8_t key[32], *file = NULL, *plain = NULL;
	size_t file_len = 0, off = 0, blob_len = 0;
	bool ok = false;

	if (!kdf_from_cli(tok, key) ||
	    !data_check_sealed(tok, obj, &file, &file_len, &off, &blob_len))
		goto out;
	if (blob_len != len + 29) {
		fprintf(stderr, "sealed value of %zu bytes for a value of %zu\n", blob_len, len);
		goto out;
	}
	plain = malloc(len + 1);
	ok = plain && gcm_open(key, file + off, blob_len, obj->file, plain) &&
	     memcmp(plain, value, len) == 0;
	if (!ok)
		fprintf(stderr,
		        "the sealed value does not open with the HKDF key of openssl kdf\n");
	if (data_check_dir_has(dir, key, sizeof(key)) ||
	    data_check_dir_has(dir, tok->secret, TPM_SECRET_LEN)) {
		fprintf(stderr, "the data key or the token secret is in the store\n");
		ok = false;
	}
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(plain);
	free(file);
	return ok;
}

bool data_check_replace(const char *dir, const char *name, const uint8_t *data, size_t len)
{
	char tmp[4096], path[4096];
	FILE *f;
	bool ok;

	snprintf(tmp, sizeof(tmp), "%s/.test-%s", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(tmp, "wb");
	if (!f)
		return false;
	ok = fwrite(data, 1, len, f) == len;
	ok = fclose(f) == 0 && ok;
	return ok && rename(tmp, path) == 0;
}
