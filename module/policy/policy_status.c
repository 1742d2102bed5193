/*
 * The verdict on one existing key for `hsmux status --keys`: the rules it
 * breaks, in words, so that the SO knows what to fix.
 */
#include <stdio.h>
#include <string.h>

#include "module/policy/policy_internal.h"

static void add_reason(char *buf, size_t len, const char *reason)
{
	size_t used = strlen(buf);

	if (used < len)
		snprintf(buf + used, len - used, "%s%s", used ? "; " : "", reason);
}

bool hsmux_policy_key_status(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE key, char *reason,
                             size_t reason_len)
{
	const struct hsmux_backend_policy *pol = policy_of(s->be);
	struct key_info info;

	reason[0] = '\0';
	if (key_info_get(s, key, &info) != CKR_OK) {
		add_reason(reason, reason_len, "its attributes cannot be read");
		return false;
	}
	if (key_mixes_roles(key_all_roles(s, key, &info)))
		add_reason(reason, reason_len,
		           "it (or its key pair) holds a wrap role and an "
		           "encrypt role, so it does neither");
	if (key_info_is_key_with_secret(&info) && (info.known & KEY_SENSITIVE) &&
	    !(info.flags & KEY_SENSITIVE))
		add_reason(reason, reason_len, "it is not sensitive");
	if (key_info_is_key_with_secret(&info) && (info.flags & KEY_EXTRACTABLE) &&
	    pol->extractable == HSMUX_EXTRACTABLE_NO)
		add_reason(reason, reason_len, "it is extractable");
	if (info.key_type == CKK_RSA && info.bits && info.bits < pol->min_rsa_bits)
		add_reason(reason, reason_len, "its RSA modulus is under the minimum size");
	if (key_type_denied(info.key_type))
		add_reason(reason, reason_len, "it is a DES key");
	if ((info.flags & KEY_WRAP) && !(info.flags & (KEY_LOCAL | KEY_TRUSTED)))
		add_reason(reason, reason_len,
		           "it may wrap but was imported and is not trusted, "
		           "so it wraps nothing");
	return reason[0] == '\0';
}

CK_RV hsmux_policy_key_status_session(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key,
                                      CK_BBOOL *within_rules, char *reason, size_t reason_len)
{
	struct hsmux_session_ref s;
	CK_RV rv;

	if (!within_rules || !reason || !reason_len)
		return CKR_ARGUMENTS_BAD;
	rv = hsmux_session_get(session, &s);
	if (rv != CKR_OK)
		return rv;
	*within_rules = hsmux_policy_key_status(&s, key, reason, reason_len) ? CK_TRUE : CK_FALSE;
	hsmux_session_put(&s);
	return CKR_OK;
}
