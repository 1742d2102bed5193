/* libFuzzer target for the .byok parser: any input must parse or fail cleanly. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/byok_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct byok_file f;
	char err[256];

	if (byok_file_parse((const char *)data, size, &f, err, sizeof(err)) == 0) {
		/* A parsed file must format to text that parses to the same file. */
		char *text = byok_file_format(&f);
		struct byok_file again;

		if (!text)
			abort();
		if (byok_file_parse(text, strlen(text), &again, err, sizeof(err)) != 0 ||
		    strcmp(again.kid, f.kid) != 0 || again.ciphertext_len != f.ciphertext_len ||
		    memcmp(again.ciphertext, f.ciphertext, f.ciphertext_len) != 0)
			abort();
		byok_file_cleanup(&again);
		free(text);
		byok_file_cleanup(&f);
	}
	return 0;
}
