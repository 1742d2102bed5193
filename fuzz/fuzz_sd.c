/*
 * libFuzzer target for the parsers of sd.json and upload.json. The first
 * byte selects the parser. A parsed sd.json also goes through recovery with
 * a fixed RSA key, so the custodian entries and their base64 are decoded.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/rsa.h>

#include "module/admin/sd_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *fixed_key(void)
{
	static EVP_PKEY *key;

	if (!key)
		key = EVP_RSA_gen(2048);
	return key;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "", report[2048];
	const char *names[1] = {"fuzz.key"};
	struct sd_secret key = {0};
	EVP_PKEY *keys[1];

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		struct sd_upload up;

		if (sd_upload_parse((const char *)data + 1, size - 1, &up, err, sizeof(err)))
			sd_upload_cleanup(&up);
	} else {
		struct sd_doc doc;

		if (sd_doc_parse((const char *)data + 1, size - 1, &doc, err, sizeof(err))) {
			keys[0] = fixed_key();
			if (sd_doc_recover(&doc, keys, names, 1, &key, report, sizeof(report)))
				sd_secret_cleanup(&key);
			sd_doc_cleanup(&doc);
		}
	}
	return 0;
}
