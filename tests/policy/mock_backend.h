/*
 * A backend for the policy tests: objects in memory, and the defaults of the
 * worst backend the policy must survive. A key gets every usage attribute
 * TRUE, SENSITIVE FALSE and EXTRACTABLE TRUE unless its template says
 * otherwise, and the backend returns any attribute it is asked for, secret
 * or not. So each thing the tests see hidden, the policy hid.
 */
#ifndef HSMUX_TEST_MOCK_BACKEND_H
#define HSMUX_TEST_MOCK_BACKEND_H

#include <stdbool.h>

#include "backends/backend.h"
#include "module/router.h"

struct mock_calls {
	unsigned int get_attribute_value;
	unsigned int set_attribute_value;
	unsigned int create_object;
	unsigned int copy_object;
	unsigned int generate_key;
	unsigned int generate_key_pair;
	unsigned int wrap_key;
	unsigned int unwrap_key;
	unsigned int derive_key;
	unsigned int destroy_object;
};

struct mock_config {
	bool so;               /* the session is the SO's */
	bool ignore_sensitive; /* a broken backend: CKA_SENSITIVE in a template is dropped */
	CK_RV unwrap_rv;       /* what C_UnwrapKey returns; CKR_OK makes the key */
	CK_RV operation_state_rv;
};

extern struct mock_calls mock_calls;
extern struct mock_config mock_config;

/* Empties the store, the counters and the settings; returns a session on the mock. */
struct hsmux_session_ref mock_reset(struct hsmux_backend *be, struct hsmux_backend_policy *policy);

/* Adds an object as it is, as if it was on the token before hsmux. */
CK_OBJECT_HANDLE mock_add(const CK_ATTRIBUTE *tmpl, CK_ULONG count);

/* Whether obj has type, and its boolean value (false when absent). */
bool mock_has(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type);
bool mock_bool(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type);
bool mock_exists(CK_OBJECT_HANDLE obj);
/* The CKA_CLASS of obj, or CK_UNAVAILABLE_INFORMATION. */
CK_OBJECT_CLASS mock_class(CK_OBJECT_HANDLE obj);

/* Whether the last C_GetAttributeValue asked the backend for type. */
bool mock_last_get_asked(CK_ATTRIBUTE_TYPE type);

extern const struct hsmux_backend_ops mock_backend_ops;

#endif /* HSMUX_TEST_MOCK_BACKEND_H */
