/*
 * Parsing SoftHSM 2.6.1's object files: a big-endian u64 generation
 * counter, then attributes, each a u64 type, a u64 kind and a value whose
 * encoding the kind gives (ObjectFile.cpp and File.cpp of SoftHSMv2).
 */
#include <stdint.h>

#include "backends/softhsm/store.h"

/* SoftHSM's attribute kinds in object files (ObjectFile.cpp). */
enum {
	KIND_BOOL = 1,
	KIND_ULONG = 2,
	KIND_BYTES = 3,
	KIND_ATTRMAP = 4,
	KIND_MECHSET = 5,
};

static bool read_u64(const unsigned char *p, size_t len, size_t *pos, uint64_t *v)
{
	if (len - *pos < 8)
		return false;
	*v = 0;
	for (int i = 0; i < 8; i++)
		*v = (*v << 8) | p[(*pos)++];
	return true;
}

/* Skips one attribute value of kind; gives its byte-string value in *bytes when it has one. */
static bool skip_value(const unsigned char *p, size_t len, size_t *pos, uint64_t kind,
                       const unsigned char **bytes, size_t *bytes_len)
{
	uint64_t n;

	switch (kind) {
	case KIND_BOOL:
		if (len - *pos < 1)
			return false;
		*pos += 1;
		return true;
	case KIND_ULONG:
		return read_u64(p, len, pos, &n);
	case KIND_BYTES:
	case KIND_ATTRMAP:
		if (!read_u64(p, len, pos, &n) || n > len - *pos)
			return false;
		*bytes = p + *pos;
		*bytes_len = (size_t)n;
		*pos += (size_t)n;
		return true;
	case KIND_MECHSET:
		if (!read_u64(p, len, pos, &n) || n > (len - *pos) / 8)
			return false;
		*pos += (size_t)n * 8;
		return true;
	default:
		return false;
	}
}

long softhsm_object_walk(const unsigned char *p, size_t len, uint64_t want_type,
                         const unsigned char **value, size_t *value_len)
{
	size_t pos = 0;
	uint64_t generation, type, kind;
	long count = 0;

	if (!read_u64(p, len, &pos, &generation))
		return -1;
	while (pos < len) {
		const unsigned char *bytes = NULL;
		size_t bytes_len = 0;

		if (!read_u64(p, len, &pos, &type) || !read_u64(p, len, &pos, &kind) ||
		    !skip_value(p, len, &pos, kind, &bytes, &bytes_len))
			return -1;
		if (type == want_type && bytes && value) {
			*value = bytes;
			*value_len = bytes_len;
		}
		count++;
	}
	return count;
}

bool softhsm_object_file_valid(const unsigned char *data, size_t len)
{
	/* A file with a generation counter but no attribute is an object still being made. */
	return softhsm_object_walk(data, len, 0, NULL, NULL) > 0;
}
