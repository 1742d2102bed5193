/* Helpers shared by the policy tests: policies from config lines, and template shorthands. */
#ifndef HSMUX_TEST_POLICY_FIXTURE_H
#define HSMUX_TEST_POLICY_FIXTURE_H

#include "module/policy/policy.h"
#include "tests/policy/mock_backend.h"

extern CK_BBOOL yes, no;
extern CK_OBJECT_CLASS class_secret, class_public, class_private;
extern CK_KEY_TYPE type_aes, type_rsa, type_des3;

#define BOOL_ATTR(type, value)                                                                     \
	{                                                                                          \
		(type), &(value), sizeof(CK_BBOOL)                                                 \
	}
#define ULONG_ATTR(type, value)                                                                    \
	{                                                                                          \
		(type), &(value), sizeof(CK_ULONG)                                                 \
	}
#define N_ATTRS(t) (sizeof(t) / sizeof((t)[0]))

/*
 * Parses "key = value" lines (NULL-terminated) as one backend section into
 * a policy, or returns NULL and leaves the message in policy_fixture_error.
 */
struct hsmux_backend_policy *policy_from_lines(const char *const *lines);
extern char policy_fixture_error[512];

/* A mock backend with the policy of lines; the session on it. */
extern struct hsmux_backend fixture_be;
extern struct hsmux_backend_policy *fixture_policy;
struct hsmux_session_ref fixture_start(const char *const *lines);
void fixture_stop(void);

/* Ends the list of fixture_legacy_aes(); CKA_CLASS is never in that list. */
#define LEGACY_END ((CK_ATTRIBUTE_TYPE)0)

/* Adds a legacy AES key with the given booleans (type, value pairs, then LEGACY_END). */
CK_OBJECT_HANDLE fixture_legacy_aes(CK_ULONG bytes, ...);

#endif /* HSMUX_TEST_POLICY_FIXTURE_H */
