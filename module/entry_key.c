/* The exported C_* functions for key generation, wrapping, derivation and random numbers. */
#include "module/entry.h"
#include "module/policy/policy.h"
#include "module/mech/mech.h"

CK_RV C_GenerateKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR tmpl,
		    CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (!mech || bad_buf(tmpl, count) || !key))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_generate_key(&s, mech, tmpl, count, key);
	return session_done(&s, "C_GenerateKey", h, rv);
}

CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub_tmpl,
			CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG priv_count,
			CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (!mech || bad_buf(pub_tmpl, pub_count) ||
			     bad_buf(priv_tmpl, priv_count) || !pub || !priv))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_generate_key_pair(&s, mech, pub_tmpl, pub_count, priv_tmpl,
						    priv_count, pub, priv);
	return session_done(&s, "C_GenerateKeyPair", h, rv);
}

CK_RV C_WrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE wrapping_key,
		CK_OBJECT_HANDLE key, CK_BYTE_PTR wrapped, CK_ULONG_PTR wrapped_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (!mech || !wrapped_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_wrap_key(&s, mech, wrapping_key, key, wrapped, wrapped_len);
	return session_done(&s, "C_WrapKey", h, rv);
}

CK_RV C_UnwrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE unwrapping_key,
		  CK_BYTE_PTR wrapped, CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR tmpl,
		  CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK &&
	    (!mech || bad_buf(wrapped, wrapped_len) || bad_buf(tmpl, count) || !key))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_unwrap_key(&s, mech, unwrapping_key, wrapped, wrapped_len, tmpl,
					     count, key);
	return session_done(&s, "C_UnwrapKey", h, rv);
}

CK_RV C_DeriveKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE base_key,
		  CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (!mech || bad_buf(tmpl, count)))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_derive_key(&s, mech, base_key, tmpl, count, key);
	return session_done(&s, "C_DeriveKey", h, rv);
}

CK_RV C_SeedRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG seed_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && bad_buf(seed, seed_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, seed_random, seed, seed_len);
	return session_done(&s, "C_SeedRandom", h, rv);
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && bad_buf(out, out_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, generate_random, out, out_len);
	return session_done(&s, "C_GenerateRandom", h, rv);
}
