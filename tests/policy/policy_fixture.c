/* Helpers shared by the policy tests; see policy_fixture.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module/config.h"
#include "tests/policy/policy_fixture.h"

CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
CK_OBJECT_CLASS class_secret = CKO_SECRET_KEY, class_public = CKO_PUBLIC_KEY,
                class_private = CKO_PRIVATE_KEY;
CK_KEY_TYPE type_aes = CKK_AES, type_rsa = CKK_RSA, type_des3 = CKK_DES3;

char policy_fixture_error[512];
struct hsmux_backend fixture_be;
struct hsmux_backend_policy *fixture_policy;

struct hsmux_backend_policy *policy_from_lines(const char *const *lines)
{
	struct hsmux_config_entry entries[16];
	struct hsmux_config_section sec = {
	    .name = "mock", .file = "test.conf", .line = 1, .entries = entries};
	char keys[16][64], values[16][128];
	struct hsmux_backend_policy *policy = NULL;

	for (size_t i = 0; lines && lines[i] && i < 16; i++) {
		if (sscanf(lines[i], "%63s = %127[^\n]", keys[i], values[i]) != 2)
			return NULL;
		entries[i] = (struct hsmux_config_entry){keys[i], values[i], (unsigned int)i + 2};
		sec.n_entries++;
	}
	policy_fixture_error[0] = '\0';
	if (hsmux_policy_config(&policy, &sec, policy_fixture_error,
	                        sizeof(policy_fixture_error)) != CKR_OK)
		return NULL;
	return policy;
}

struct hsmux_session_ref fixture_start(const char *const *lines)
{
	fixture_policy = policy_from_lines(lines);
	if (!fixture_policy) {
		fprintf(stderr, "bad test policy: %s\n", policy_fixture_error);
		abort();
	}
	return mock_reset(&fixture_be, fixture_policy);
}

void fixture_stop(void)
{
	hsmux_policy_free(fixture_policy);
	fixture_policy = NULL;
}

CK_OBJECT_HANDLE fixture_legacy_aes(CK_ULONG bytes, ...)
{
	static const CK_BYTE value[32] = {0x17};
	CK_BBOOL values[16];
	CK_ATTRIBUTE t[24] = {
	    {CKA_CLASS, &class_secret, sizeof(class_secret)},
	    {CKA_KEY_TYPE, &type_aes, sizeof(type_aes)},
	    {CKA_VALUE_LEN, &bytes, sizeof(bytes)},
	    {CKA_VALUE, (CK_VOID_PTR)value, bytes},
	};
	CK_ULONG n = 4;
	va_list ap;

	va_start(ap, bytes);
	for (CK_ATTRIBUTE_TYPE type = va_arg(ap, CK_ATTRIBUTE_TYPE); type && n < 20;
	     type = va_arg(ap, CK_ATTRIBUTE_TYPE)) {
		values[n - 4] = (CK_BBOOL)va_arg(ap, int);
		t[n] = (CK_ATTRIBUTE){type, &values[n - 4], sizeof(CK_BBOOL)};
		n++;
	}
	va_end(ap);
	return mock_add(t, n);
}
