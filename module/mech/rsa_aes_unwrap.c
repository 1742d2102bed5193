/*
 * C_UnwrapKey with CKM_RSA_AES_KEY_WRAP (PKCS#11 3.0). The
 * blob is the RSA-OAEP encryption of an ephemeral AES key under the
 * unwrapping key, followed by the target key wrapped under that AES key
 * with AES key wrap with padding (RFC 5649). A backend without the
 * mechanism gets the two steps as two C_UnwrapKey calls, so the ephemeral
 * key and the target exist only as objects in the backend.
 */
#include <stdlib.h>
#include <string.h>

#include "module/mech/mech.h"
#include "module/mech/mech_internal.h"
#include "module/trace.h"

static const char *oaep_hash_name(CK_MECHANISM_TYPE hash)
{
	switch (hash) {
	case CKM_SHA_1:
		return "SHA-1";
	case CKM_SHA224:
		return "SHA-224";
	case CKM_SHA256:
		return "SHA-256";
	case CKM_SHA384:
		return "SHA-384";
	case CKM_SHA512:
		return "SHA-512";
	default:
		return NULL;
	}
}

static CK_RV check_params(const CK_MECHANISM *mech, const CK_RSA_AES_KEY_WRAP_PARAMS **out)
{
	const CK_RSA_AES_KEY_WRAP_PARAMS *params = mech->pParameter;

	if (!params || mech->ulParameterLen != sizeof(*params) || !params->pOAEPParams) {
		hsmux_trace(HSMUX_TRACE_MECH, "RSA-AES unwrap: the parameter is not a "
		                              "CK_RSA_AES_KEY_WRAP_PARAMS with OAEP parameters");
		return CKR_MECHANISM_PARAM_INVALID;
	}
	if (params->ulAESKeyBits != 128 && params->ulAESKeyBits != 192 &&
	    params->ulAESKeyBits != 256) {
		hsmux_trace(HSMUX_TRACE_MECH,
		            "RSA-AES unwrap: ulAESKeyBits %lu is not 128, 192 or 256",
		            (unsigned long)params->ulAESKeyBits);
		return CKR_MECHANISM_PARAM_INVALID;
	}
	if (!oaep_hash_name(params->pOAEPParams->hashAlg)) {
		hsmux_trace(HSMUX_TRACE_MECH,
		            "RSA-AES unwrap: OAEP hash 0x%lx is not a SHA-1 or SHA-2 "
		            "mechanism",
		            (unsigned long)params->pOAEPParams->hashAlg);
		return CKR_MECHANISM_PARAM_INVALID;
	}
	*out = params;
	return CKR_OK;
}

/* Attributes that a KEK used only for import must have false. */
static const struct {
	CK_ATTRIBUTE_TYPE type;
	const char *name;
} kek_forbidden[] = {
    {CKA_DECRYPT, "CKA_DECRYPT"},           {CKA_SIGN, "CKA_SIGN"},
    {CKA_SIGN_RECOVER, "CKA_SIGN_RECOVER"}, {CKA_DERIVE, "CKA_DERIVE"},
    {CKA_ENCRYPT, "CKA_ENCRYPT"},           {CKA_WRAP, "CKA_WRAP"},
};

/*
 * Checks that the unwrapping key is an RSA private key that can only unwrap.
 * A KEK that can also decrypt would give the ephemeral AES key away in
 * plaintext through C_Decrypt.
 */
static CK_RV check_kek(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE kek,
                       CK_ULONG *modulus_len)
{
	CK_ATTRIBUTE modulus = {CKA_MODULUS, NULL, 0};
	CK_ULONG type = 0;
	CK_BBOOL value = CK_FALSE;
	CK_RV rv;

	rv = mech_get_ulong(be, s, kek, CKA_KEY_TYPE, &type);
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		return CKR_UNWRAPPING_KEY_HANDLE_INVALID;
	if (rv != CKR_OK)
		return rv;
	if (type != CKK_RSA)
		return CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
	rv = be->ops->get_attribute_value(be, s, kek, &modulus, 1);
	if (rv != CKR_OK)
		return rv;
	if (modulus.ulValueLen == 0 || modulus.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
		hsmux_trace(HSMUX_TRACE_MECH, "RSA-AES unwrap: KEK %lu does not show its modulus",
		            (unsigned long)kek);
		return CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
	}
	*modulus_len = modulus.ulValueLen;

	for (size_t i = 0; i < sizeof(kek_forbidden) / sizeof(kek_forbidden[0]); i++) {
		rv = mech_get_bool(be, s, kek, kek_forbidden[i].type, &value);
		if (rv == CKR_ATTRIBUTE_TYPE_INVALID)
			continue;
		if (rv != CKR_OK)
			return rv;
		if (value) {
			hsmux_trace(HSMUX_TRACE_MECH,
			            "RSA-AES unwrap: KEK %lu has %s true, but a KEK must be "
			            "import-only (CKA_UNWRAP only)",
			            (unsigned long)kek, kek_forbidden[i].name);
			return CKR_KEY_FUNCTION_NOT_PERMITTED;
		}
	}
	return CKR_OK;
}

/*
 * Copies the caller's template and makes the key sensitive and
 * non-extractable: a key imported under a KEK must stay inside the HSM.
 * An explicit CKA_SENSITIVE false or CKA_EXTRACTABLE true is rejected.
 */
static CK_RV tighten_template(const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_ATTRIBUTE **out,
                              CK_ULONG *out_count)
{
	static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	bool have_sensitive = false, have_extractable = false;
	CK_ATTRIBUTE *copy;
	CK_ULONG n = count;

	for (CK_ULONG i = 0; i < count; i++) {
		const CK_BBOOL *b = tmpl[i].pValue;
		bool is_bool = b && tmpl[i].ulValueLen == sizeof(CK_BBOOL);

		if (tmpl[i].type != CKA_SENSITIVE && tmpl[i].type != CKA_EXTRACTABLE)
			continue;
		if (!is_bool)
			return CKR_ATTRIBUTE_VALUE_INVALID;
		if ((tmpl[i].type == CKA_SENSITIVE && !*b) ||
		    (tmpl[i].type == CKA_EXTRACTABLE && *b)) {
			hsmux_trace(HSMUX_TRACE_MECH,
			            "RSA-AES unwrap: a template that asks for a "
			            "non-sensitive or extractable key is rejected");
			return CKR_TEMPLATE_INCONSISTENT;
		}
		have_sensitive |= tmpl[i].type == CKA_SENSITIVE;
		have_extractable |= tmpl[i].type == CKA_EXTRACTABLE;
	}

	copy = calloc(count + 2, sizeof(*copy));
	if (!copy)
		return CKR_HOST_MEMORY;
	if (count)
		memcpy(copy, tmpl, count * sizeof(*copy));
	if (!have_sensitive)
		copy[n++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &yes, sizeof(yes)};
	if (!have_extractable)
		copy[n++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &no, sizeof(no)};
	*out = copy;
	*out_count = n;
	return CKR_OK;
}

/*
 * Step 1: the ephemeral AES key. It is a session object that can only
 * unwrap, so it also dies with the session if hsmux never gets to destroy it.
 */
static CK_RV unwrap_ephemeral(struct hsmux_backend *be, CK_SESSION_HANDLE s,
                              const CK_RSA_AES_KEY_WRAP_PARAMS *params, CK_OBJECT_HANDLE kek,
                              CK_BYTE_PTR wrapped, CK_ULONG len, CK_OBJECT_HANDLE *eph)
{
	static CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	static CK_KEY_TYPE type = CKK_AES;
	static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG value_len = 0;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},     {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_TOKEN, &no, sizeof(no)},       {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)}, {CKA_EXTRACTABLE, &no, sizeof(no)},
	    {CKA_UNWRAP, &yes, sizeof(yes)},    {CKA_WRAP, &no, sizeof(no)},
	    {CKA_ENCRYPT, &no, sizeof(no)},     {CKA_DECRYPT, &no, sizeof(no)},
	    {CKA_SIGN, &no, sizeof(no)},        {CKA_VERIFY, &no, sizeof(no)},
	    {CKA_DERIVE, &no, sizeof(no)},
	};
	CK_MECHANISM oaep = {CKM_RSA_PKCS_OAEP, params->pOAEPParams,
	                     sizeof(CK_RSA_PKCS_OAEP_PARAMS)};
	CK_MECHANISM_TYPE hash = params->pOAEPParams->hashAlg;
	CK_RV rv;

	rv = be->ops->unwrap_key(be, s, &oaep, kek, wrapped, len, tmpl,
	                         sizeof(tmpl) / sizeof(tmpl[0]), eph);
	if ((rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID) && hash != CKM_SHA_1) {
		hsmux_trace(HSMUX_TRACE_MECH,
		            "RSA-AES unwrap: backend '%s' rejected RSA-OAEP with %s (%s); it may "
		            "support OAEP with SHA-1 only, as SoftHSM 2.6.1 does",
		            be->name ? be->name : "?", oaep_hash_name(hash), hsmux_rv_name(rv));
		return CKR_MECHANISM_PARAM_INVALID;
	}
	if (rv != CKR_OK) {
		hsmux_trace(HSMUX_TRACE_MECH, "RSA-AES unwrap: RSA-OAEP step failed: %s",
		            hsmux_rv_name(rv));
		return rv;
	}

	/*
	 * The RSA part may hold a key of another length than ulAESKeyBits.
	 * SoftHSM 2.6.1 rejects CKA_VALUE_LEN in an unwrap template and then
	 * reports 0 for it, so the length is checked only when the backend
	 * reports one.
	 */
	rv = mech_get_ulong(be, s, *eph, CKA_VALUE_LEN, &value_len);
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID || (rv == CKR_OK && value_len == 0))
		return CKR_OK;
	if (rv == CKR_OK && value_len * 8 != params->ulAESKeyBits) {
		hsmux_trace(HSMUX_TRACE_MECH,
		            "RSA-AES unwrap: the AES key has %lu bytes, not %lu bits",
		            (unsigned long)value_len, (unsigned long)params->ulAESKeyBits);
		rv = CKR_WRAPPED_KEY_INVALID;
	}
	if (rv != CKR_OK) {
		be->ops->destroy_object(be, s, *eph);
		*eph = CK_INVALID_HANDLE;
	}
	return rv;
}

/* Steps 1 to 3 on a backend without CKM_RSA_AES_KEY_WRAP. */
static CK_RV unwrap_composed(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_SLOT_ID slot,
                             const CK_RSA_AES_KEY_WRAP_PARAMS *params, CK_OBJECT_HANDLE kek,
                             CK_ULONG modulus_len, CK_BYTE_PTR wrapped, CK_ULONG wrapped_len,
                             CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
	CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, NULL, 0};
	CK_OBJECT_HANDLE eph = CK_INVALID_HANDLE;
	CK_RV rv, destroy_rv;

	if (!mech_backend_kwp_type(be, slot, &kwp.mechanism, NULL))
		return CKR_MECHANISM_INVALID;

	/* RFC 5649 output is at least 16 bytes and a multiple of 8. */
	if (wrapped_len < modulus_len + 16 || (wrapped_len - modulus_len) % 8 != 0) {
		hsmux_trace(HSMUX_TRACE_MECH,
		            "RSA-AES unwrap: %lu bytes is not a %lu-byte RSA part and an RFC 5649 "
		            "part",
		            (unsigned long)wrapped_len, (unsigned long)modulus_len);
		return CKR_WRAPPED_KEY_LEN_RANGE;
	}

	rv = unwrap_ephemeral(be, s, params, kek, wrapped, modulus_len, &eph);
	if (rv != CKR_OK)
		return rv;

	/*
	 * NOTE: SoftHSM 2.6.1 fails this step with CKR_FUNCTION_FAILED for
	 * Ed25519 (CKK_EC_EDWARDS) targets because its C_UnwrapKey lacks them.
	 */
	rv = be->ops->unwrap_key(be, s, &kwp, eph, wrapped + modulus_len, wrapped_len - modulus_len,
	                         tmpl, count, key);
	if (rv != CKR_OK)
		hsmux_trace(HSMUX_TRACE_MECH,
		            "RSA-AES unwrap: %s step failed: %s (a tampered blob, a blob for "
		            "another KEK, a key type other than the template's, or a key type "
		            "that backend '%s' cannot unwrap)",
		            hsmux_mech_name(kwp.mechanism), hsmux_rv_name(rv),
		            be->name ? be->name : "?");

	destroy_rv = be->ops->destroy_object(be, s, eph);
	if (destroy_rv != CKR_OK)
		hsmux_trace(HSMUX_TRACE_MECH,
		            "RSA-AES unwrap: destroying the ephemeral key %lu failed: %s",
		            (unsigned long)eph, hsmux_rv_name(destroy_rv));
	return rv;
}

static CK_RV unwrap_rsa_aes(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                            CK_OBJECT_HANDLE kek, CK_BYTE_PTR wrapped, CK_ULONG wrapped_len,
                            CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
	const CK_RSA_AES_KEY_WRAP_PARAMS *params = NULL;
	CK_ATTRIBUTE *tight = NULL;
	CK_ULONG tight_count = 0, modulus_len = 0;
	CK_SLOT_ID slot;
	CK_RV rv;

	rv = check_params(mech, &params);
	if (rv == CKR_OK)
		rv = mech_session_slot(be, s, &slot);
	if (rv == CKR_OK)
		rv = check_kek(be, s, kek, &modulus_len);
	if (rv == CKR_OK)
		rv = tighten_template(tmpl, count, &tight, &tight_count);
	if (rv != CKR_OK)
		return rv;

	if (mech_backend_has(be, slot, CKM_RSA_AES_KEY_WRAP, CKF_UNWRAP, NULL))
		rv = be->ops->unwrap_key(be, s, mech, kek, wrapped, wrapped_len, tight, tight_count,
		                         key);
	else
		rv = unwrap_composed(be, s, slot, params, kek, modulus_len, wrapped, wrapped_len,
		                     tight, tight_count, key);
	free(tight);
	if (rv != CKR_OK)
		return rv;

	rv = mech_check_imported_key(be, s, *key,
	                             wrapped_len > modulus_len ? wrapped_len - modulus_len : 0);
	if (rv != CKR_OK) {
		be->ops->destroy_object(be, s, *key);
		*key = CK_INVALID_HANDLE;
	}
	return rv;
}

/* AES key wrap with padding under the id that the backend has. */
static CK_RV unwrap_kwp(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                        CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped, CK_ULONG wrapped_len,
                        CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key)
{
	CK_MECHANISM mapped = *mech;
	CK_SLOT_ID slot;
	CK_RV rv;

	rv = mech_session_slot(be, s, &slot);
	if (rv != CKR_OK)
		return rv;
	if (!mech_backend_has(be, slot, mech->mechanism, CKF_UNWRAP, NULL) &&
	    !mech_backend_kwp_type(be, slot, &mapped.mechanism, NULL))
		return CKR_MECHANISM_INVALID;
	return be->ops->unwrap_key(be, s, &mapped, unwrapping_key, wrapped, wrapped_len, tmpl,
	                           count, key);
}

CK_RV hsmux_mech_unwrap_key(struct hsmux_backend *be, CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                            CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped,
                            CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                            CK_OBJECT_HANDLE_PTR key)
{
	if (!be->ops->unwrap_key)
		return CKR_FUNCTION_NOT_SUPPORTED;

	switch (mech->mechanism) {
	case CKM_RSA_AES_KEY_WRAP:
		if (!be->ops->destroy_object || !be->ops->get_attribute_value)
			return CKR_MECHANISM_INVALID;
		return unwrap_rsa_aes(be, s, mech, unwrapping_key, wrapped, wrapped_len, tmpl,
		                      count, key);
	case CKM_AES_KEY_WRAP_PAD:
	case CKM_AES_KEY_WRAP_KWP:
		return unwrap_kwp(be, s, mech, unwrapping_key, wrapped, wrapped_len, tmpl, count,
		                  key);
	default:
		return be->ops->unwrap_key(be, s, mech, unwrapping_key, wrapped, wrapped_len, tmpl,
		                           count, key);
	}
}
