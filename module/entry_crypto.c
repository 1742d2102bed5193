/* The exported C_* functions for encryption, digests and signatures. */
#include "module/entry.h"
#include "module/policy/policy.h"

/* Some backends answer a bad key handle as a bad object handle; the spec wants the key code. */
static inline CK_RV key_rv(CK_RV rv)
{
	return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv;
}

CK_RV C_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && !mech)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_check_key_use(&s, HSMUX_USE_ENCRYPT, mech, key);
	if (rv == CKR_OK)
		rv = key_rv(BACKEND_CALL(s, encrypt_init, mech, key));
	return session_done(&s, "C_EncryptInit", h, rv);
}

CK_RV C_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
	CK_ULONG_PTR out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(in, in_len) || !out_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, encrypt, in, in_len, out, out_len);
	return session_done(&s, "C_Encrypt", h, rv);
}

CK_RV C_EncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
	CK_ULONG_PTR out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(in, in_len) || !out_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, encrypt_update, in, in_len, out, out_len);
	return session_done(&s, "C_EncryptUpdate", h, rv);
}

CK_RV C_EncryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && !out_len)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, encrypt_final, out, out_len);
	return session_done(&s, "C_EncryptFinal", h, rv);
}

CK_RV C_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && !mech)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_check_key_use(&s, HSMUX_USE_DECRYPT, mech, key);
	if (rv == CKR_OK)
		rv = key_rv(BACKEND_CALL(s, decrypt_init, mech, key));
	return session_done(&s, "C_DecryptInit", h, rv);
}

CK_RV C_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
	CK_ULONG_PTR out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(in, in_len) || !out_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, decrypt, in, in_len, out, out_len);
	return session_done(&s, "C_Decrypt", h, rv);
}

CK_RV C_DecryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
	CK_ULONG_PTR out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(in, in_len) || !out_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, decrypt_update, in, in_len, out, out_len);
	return session_done(&s, "C_DecryptUpdate", h, rv);
}

CK_RV C_DecryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && !out_len)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, decrypt_final, out, out_len);
	return session_done(&s, "C_DecryptFinal", h, rv);
}

CK_RV C_DigestInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && !mech)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_check_mechanism(&s, mech);
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, digest_init, mech);
	return session_done(&s, "C_DigestInit", h, rv);
}

CK_RV C_Digest(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
	CK_ULONG_PTR out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(in, in_len) || !out_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, digest, in, in_len, out, out_len);
	return session_done(&s, "C_Digest", h, rv);
}

CK_RV C_DigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && bad_buf(in, in_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, digest_update, in, in_len);
	return session_done(&s, "C_DigestUpdate", h, rv);
}

CK_RV C_DigestKey(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK)
		rv = hsmux_policy_check_digest_key(&s, key);
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, digest_key, key);
	return session_done(&s, "C_DigestKey", h, rv);
}

CK_RV C_DigestFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && !out_len)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, digest_final, out, out_len);
	return session_done(&s, "C_DigestFinal", h, rv);
}

CK_RV C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && !mech)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_check_key_use(&s, HSMUX_USE_SIGN, mech, key);
	if (rv == CKR_OK)
		rv = key_rv(BACKEND_CALL(s, sign_init, mech, key));
	return session_done(&s, "C_SignInit", h, rv);
}

CK_RV C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
	CK_ULONG_PTR out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(in, in_len) || !out_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, sign, in, in_len, out, out_len);
	return session_done(&s, "C_Sign", h, rv);
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && bad_buf(in, in_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, sign_update, in, in_len);
	return session_done(&s, "C_SignUpdate", h, rv);
}

CK_RV C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && !out_len)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, sign_final, out, out_len);
	return session_done(&s, "C_SignFinal", h, rv);
}

CK_RV C_SignRecoverInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && !mech)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_check_key_use(&s, HSMUX_USE_SIGN_RECOVER, mech, key);
	if (rv == CKR_OK)
		rv = key_rv(BACKEND_CALL(s, sign_recover_init, mech, key));
	return session_done(&s, "C_SignRecoverInit", h, rv);
}

CK_RV C_SignRecover(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
	CK_ULONG_PTR out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(in, in_len) || !out_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, sign_recover, in, in_len, out, out_len);
	return session_done(&s, "C_SignRecover", h, rv);
}

CK_RV C_VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && !mech)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_check_key_use(&s, HSMUX_USE_VERIFY, mech, key);
	if (rv == CKR_OK)
		rv = key_rv(BACKEND_CALL(s, verify_init, mech, key));
	return session_done(&s, "C_VerifyInit", h, rv);
}

CK_RV C_Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR sig,
	CK_ULONG sig_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(in, in_len) || bad_buf(sig, sig_len)))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, verify, in, in_len, sig, sig_len);
	return session_done(&s, "C_Verify", h, rv);
}

CK_RV C_VerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && bad_buf(in, in_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, verify_update, in, in_len);
	return session_done(&s, "C_VerifyUpdate", h, rv);
}

CK_RV C_VerifyFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && bad_buf(sig, sig_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, verify_final, sig, sig_len);
	return session_done(&s, "C_VerifyFinal", h, rv);
}

CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && !mech)
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = hsmux_policy_check_key_use(&s, HSMUX_USE_VERIFY_RECOVER, mech, key);
	if (rv == CKR_OK)
		rv = key_rv(BACKEND_CALL(s, verify_recover_init, mech, key));
	return session_done(&s, "C_VerifyRecoverInit", h, rv);
}

CK_RV C_VerifyRecover(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
	CK_ULONG_PTR out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(in, in_len) || !out_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, verify_recover, in, in_len, out, out_len);
	return session_done(&s, "C_VerifyRecover", h, rv);
}

CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
	CK_ULONG_PTR out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(in, in_len) || !out_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, digest_encrypt_update, in, in_len, out, out_len);
	return session_done(&s, "C_DigestEncryptUpdate", h, rv);
}

CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
	CK_ULONG_PTR out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(in, in_len) || !out_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, decrypt_digest_update, in, in_len, out, out_len);
	return session_done(&s, "C_DecryptDigestUpdate", h, rv);
}

CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
	CK_ULONG_PTR out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(in, in_len) || !out_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, sign_encrypt_update, in, in_len, out, out_len);
	return session_done(&s, "C_SignEncryptUpdate", h, rv);
}

CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
	CK_ULONG_PTR out_len)
{
	struct hsmux_session_ref s;
	CK_RV rv = hsmux_session_get(h, &s);

	if (rv == CKR_OK && (bad_buf(in, in_len) || !out_len))
		rv = CKR_ARGUMENTS_BAD;
	if (rv == CKR_OK)
		rv = BACKEND_CALL(s, decrypt_verify_update, in, in_len, out, out_len);
	return session_done(&s, "C_DecryptVerifyUpdate", h, rv);
}
