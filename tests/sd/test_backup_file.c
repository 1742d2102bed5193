/* The chunked backup format: round trip, and every kind of tampering rejected. */
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <openssl/rand.h>

#include "module/admin/backup_file.h"
#include "sd_test.h"

static const char *fp_a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/* Files larger than a chunk, so the stream spans several chunks. */
static unsigned char big[3 * BK_CHUNK_SIZE + 123];
static const char *small = "token object";

/* Writes a backup into memory; returns its bytes and length. */
static unsigned char *make_backup(const unsigned char *key, size_t *len)
{
	unsigned char salt[BK_SALT_LEN] = {1, 2, 3};
	json_t *objects = json_pack("[{s:s, s:s, s:s, s:s}]", "class", "CKO_SECRET_KEY", "key_type",
	                            "CKK_AES", "label", "aes", "id", "01");
	json_t *header =
	    bk_header_build("softhsm", fp_a, salt, json_pack("{s:s}", "label", "A"), objects);
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	struct bk_writer *w = bk_writer_new(f, header, key);

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_TRUE(
	    bk_writer_file(w, "token.object", (const unsigned char *)small, strlen(small)));
	CU_ASSERT_TRUE(bk_writer_file(w, "big.object", big, sizeof(big)));
	CU_ASSERT_TRUE(bk_writer_file(w, "empty.lock", NULL, 0));
	CU_ASSERT_TRUE(bk_writer_finish(w));
	bk_writer_free(w);
	fclose(f);
	json_decref(header);
	*len = size;
	return (unsigned char *)buf;
}

/* Reads a backup; returns the number of files when it ends cleanly, or -1. */
static int read_backup(const unsigned char *data, size_t len, const unsigned char *key)
{
	FILE *f = fmemopen((void *)data, len, "rb");
	char err[256] = "", name[BK_NAME_MAX + 1];
	const unsigned char *file;
	struct bk_reader *r = bk_reader_open(f, err, sizeof(err));
	size_t file_len;
	int files = 0;
	enum bk_next next = BK_NEXT_ERROR;

	if (r && bk_reader_set_key(r, key)) {
		while ((next = bk_reader_next(r, name, &file, &file_len, err, sizeof(err))) ==
		       BK_NEXT_FILE)
			files++;
	}
	bk_reader_free(r);
	fclose(f);
	return next == BK_NEXT_END ? files : -1;
}

static void test_backup_round_trip(void)
{
	unsigned char key[32], *data;
	char err[256], name[BK_NAME_MAX + 1];
	const unsigned char *file;
	size_t len, file_len;
	FILE *f;
	struct bk_reader *r;

	RAND_bytes(key, sizeof(key));
	RAND_bytes(big, sizeof(big));
	data = make_backup(key, &len);
	f = fmemopen(data, len, "rb");
	r = bk_reader_open(f, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(bk_reader_header(r)->backend, "softhsm");
	CU_ASSERT_STRING_EQUAL(bk_reader_header(r)->sd_fingerprint, fp_a);
	CU_ASSERT_EQUAL(bk_reader_header(r)->object_count, 1);
	CU_ASSERT_TRUE(bk_reader_set_key(r, key));

	CU_ASSERT_EQUAL(bk_reader_next(r, name, &file, &file_len, err, sizeof(err)), BK_NEXT_FILE);
	CU_ASSERT_STRING_EQUAL(name, "token.object");
	CU_ASSERT_EQUAL(file_len, strlen(small));
	CU_ASSERT_EQUAL(bk_reader_next(r, name, &file, &file_len, err, sizeof(err)), BK_NEXT_FILE);
	CU_ASSERT_STRING_EQUAL(name, "big.object");
	CU_ASSERT_EQUAL(file_len, sizeof(big));
	CU_ASSERT_EQUAL(memcmp(file, big, sizeof(big)), 0);
	CU_ASSERT_EQUAL(bk_reader_next(r, name, &file, &file_len, err, sizeof(err)), BK_NEXT_FILE);
	CU_ASSERT_EQUAL(file_len, 0);
	CU_ASSERT_EQUAL(bk_reader_next(r, name, &file, &file_len, err, sizeof(err)), BK_NEXT_END);
	bk_reader_free(r);
	fclose(f);
	free(data);
}

static void test_backup_wrong_key_rejected(void)
{
	unsigned char key[32], other[32], *data;
	size_t len;

	RAND_bytes(key, sizeof(key));
	memcpy(other, key, sizeof(key));
	other[31] ^= 0x80;
	data = make_backup(key, &len);
	CU_ASSERT_EQUAL(read_backup(data, len, key), 3);
	CU_ASSERT_EQUAL(read_backup(data, len, other), -1);
	free(data);
}

static void test_backup_flips_and_cuts_rejected(void)
{
	unsigned char key[32], *data;
	size_t len, accepted = 0;

	RAND_bytes(key, sizeof(key));
	data = make_backup(key, &len);
	/* Every byte of the header and the chunk frames, and a stride through the data. */
	for (size_t i = 0; i < len; i += (i < 1024 || len - i < 1024) ? 1 : 97) {
		data[i] ^= 0x01;
		accepted += read_backup(data, len, key) >= 0;
		data[i] ^= 0x01;
	}
	CU_ASSERT_EQUAL(accepted, 0);

	accepted = 0;
	for (size_t cut = 0; cut < len; cut += (cut < 1024 || len - cut < 1024) ? 1 : 211)
		accepted += read_backup(data, cut, key) >= 0;
	CU_ASSERT_EQUAL(accepted, 0);
	free(data);
}

static void test_backup_reordered_chunks_rejected(void)
{
	unsigned char key[32], *data, *swapped;
	size_t len, header_len, chunk = 5 + BK_CHUNK_SIZE + 16;

	RAND_bytes(key, sizeof(key));
	data = make_backup(key, &len);
	header_len =
	    12 + ((size_t)data[8] << 24 | (size_t)data[9] << 16 | (size_t)data[10] << 8 | data[11]);
	swapped = malloc(len);
	memcpy(swapped, data, len);
	/* Chunks 0 and 1 are full, so they have the same length and can trade places. */
	memcpy(swapped + header_len, data + header_len + chunk, chunk);
	memcpy(swapped + header_len + chunk, data + header_len, chunk);
	CU_ASSERT_EQUAL(read_backup(swapped, len, key), -1);

	/* Dropping a whole chunk fails too. */
	memcpy(swapped, data, header_len);
	memcpy(swapped + header_len, data + header_len + chunk, len - header_len - chunk);
	CU_ASSERT_EQUAL(read_backup(swapped, len - chunk, key), -1);
	free(swapped);
	free(data);
}

static void test_backup_wrong_version_rejected(void)
{
	unsigned char key[32], *data;
	char err[256] = "";
	size_t len;
	FILE *f;
	char *v;

	RAND_bytes(key, sizeof(key));
	data = make_backup(key, &len);
	v = memmem(data, len, "\"version\":1", 11);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	v[10] = '2';
	f = fmemopen(data, len, "rb");
	CU_ASSERT_PTR_NULL(bk_reader_open(f, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "format version 2 is not supported"));
	fclose(f);
	free(data);
}

void backup_file_register(void)
{
	CU_pSuite s = CU_add_suite("backup_file", NULL, NULL);

	CU_add_test(s, "test_backup_round_trip", test_backup_round_trip);
	CU_add_test(s, "test_backup_wrong_key_rejected", test_backup_wrong_key_rejected);
	CU_add_test(s, "test_backup_flips_and_cuts_rejected", test_backup_flips_and_cuts_rejected);
	CU_add_test(s, "test_backup_reordered_chunks_rejected",
	            test_backup_reordered_chunks_rejected);
	CU_add_test(s, "test_backup_wrong_version_rejected", test_backup_wrong_version_rejected);
}
