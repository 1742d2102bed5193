/*
 * libFuzzer target for the backup reader: the manifest parser, the chunk
 * framing and the archive parser. The key is all zeros, and the seed corpus
 * contains a backup made under that key, so mutations reach the archive too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "module/admin/backup_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char key[SD_KEY_LEN];
	char err[256] = "", name[BK_NAME_MAX + 1];
	const unsigned char *file;
	struct bk_reader *r;
	size_t len;
	FILE *in;

	if (size == 0)
		return 0;
	in = fmemopen((void *)data, size, "rb");
	if (!in)
		return 0;
	r = bk_reader_open(in, err, sizeof(err));
	if (r && bk_reader_set_key(r, key)) {
		for (int i = 0; i < 1000; i++)
			if (bk_reader_next(r, name, &file, &len, err, sizeof(err)) != BK_NEXT_FILE)
				break;
	}
	bk_reader_free(r);
	fclose(in);
	return 0;
}
