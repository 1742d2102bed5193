/* Mechanism tables, the allow-list, and key strengths. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "module/mech/mech.h"
#include "module/policy/policy_internal.h"
#include "module/trace.h"

struct mech_range {
	CK_MECHANISM_TYPE first, last;
};

static bool in_ranges(const struct mech_range *r, size_t n, CK_MECHANISM_TYPE mech)
{
	for (size_t i = 0; i < n; i++)
		if (mech >= r[i].first && mech <= r[i].last)
			return true;
	return false;
}

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* DES, DES2, DES3 and CDMF (a DES variant): key generation, ciphers, MACs, derives, PBE. */
bool mech_is_des(CK_MECHANISM_TYPE mech)
{
	static const struct mech_range des[] = {
	    {0x0120, 0x0155}, /* CKM_DES_KEY_GEN .. CKM_DES_CFB8 */
	    {0x03a0, 0x03a0}, /* CKM_PBE_MD2_DES_CBC */
	    {0x03a5, 0x03a5}, /* CKM_PBE_MD5_DES_CBC */
	    {0x03a8, 0x03a9}, /* CKM_PBE_SHA1_DES3_EDE_CBC, CKM_PBE_SHA1_DES2_EDE_CBC */
	    {0x1100, 0x1103}, /* CKM_DES_ECB_ENCRYPT_DATA .. CKM_DES3_CBC_ENCRYPT_DATA */
	};

	return in_ranges(des, N_ELEMS(des), mech);
}

/* MD5, and MD2 before it. */
bool mech_is_md5(CK_MECHANISM_TYPE mech)
{
	static const struct mech_range md5[] = {
	    {0x0004, 0x0005}, /* CKM_MD2_RSA_PKCS, CKM_MD5_RSA_PKCS */
	    {0x0200, 0x0212}, /* CKM_MD2 .. CKM_MD5_HMAC_GENERAL */
	    {0x0380, 0x0380}, /* CKM_SSL3_MD5_MAC */
	    {0x0390, 0x0391}, /* CKM_MD5_KEY_DERIVATION, CKM_MD2_KEY_DERIVATION */
	    {0x03a0, 0x03a5}, /* CKM_PBE_MD2_DES_CBC .. CKM_PBE_MD5_DES_CBC */
	};

	return in_ranges(md5, N_ELEMS(md5), mech);
}

bool mech_is_rsa(CK_MECHANISM_TYPE mech)
{
	static const struct mech_range rsa[] = {
	    {0x0000, 0x000e}, /* CKM_RSA_PKCS_KEY_PAIR_GEN .. CKM_SHA1_RSA_PKCS_PSS */
	    {0x0040, 0x0047}, /* CKM_SHA256_RSA_PKCS .. CKM_SHA224_RSA_PKCS_PSS */
	    {0x0060, 0x0067}, /* CKM_SHA3_256_RSA_PKCS .. CKM_SHA3_512_RSA_PKCS_PSS */
	    {0x1054, 0x1054}, /* CKM_RSA_AES_KEY_WRAP */
	    {0x4001, 0x4002}, /* CKM_RSA_PKCS_TPM_1_1, CKM_RSA_PKCS_OAEP_TPM_1_1 */
	};

	return in_ranges(rsa, N_ELEMS(rsa), mech);
}

bool mech_is_authenticated_wrap(CK_MECHANISM_TYPE mech)
{
	switch (mech) {
	case CKM_AES_KEY_WRAP:
	case CKM_AES_KEY_WRAP_PAD:
	case CKM_AES_KEY_WRAP_KWP:
	case CKM_RSA_PKCS_OAEP:
	case CKM_RSA_AES_KEY_WRAP:
		return true;
	default:
		return false;
	}
}

bool mech_copies_key_bytes(CK_MECHANISM_TYPE mech)
{
	switch (mech) {
	case CKM_CONCATENATE_BASE_AND_KEY:
	case CKM_CONCATENATE_BASE_AND_DATA:
	case CKM_CONCATENATE_DATA_AND_BASE:
	case CKM_XOR_BASE_AND_DATA:
	case CKM_EXTRACT_KEY_FROM_KEY:
		return true;
	default:
		return false;
	}
}

static bool in_list(const CK_MECHANISM_TYPE *list, size_t n, CK_MECHANISM_TYPE mech)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == mech)
			return true;
	return false;
}

static bool allow_list_allows(const struct hsmux_backend_policy *pol, CK_MECHANISM_TYPE mech)
{
	if (pol->n_deny && in_list(pol->deny, pol->n_deny, mech))
		return false;
	if (!mech_is_des(mech) && !mech_is_md5(mech))
		return true;
	return pol->n_allow && in_list(pol->allow, pol->n_allow, mech);
}

/*
 * The signature mechanisms that take only an EC, EdDSA or DSA key. Every
 * backend checks a key's type against the mechanism, so a sign or verify
 * *Init with one of these cannot reach a secret key or an RSA key, and
 * needs none of the key's attributes. Any other mechanism, a vendor's
 * included, might use any key.
 */
bool mech_may_use_any_key(CK_MECHANISM_TYPE mech)
{
	static const struct mech_range ec_dsa_only[] = {
	    {0x0011, 0x0016}, /* CKM_DSA .. CKM_DSA_SHA512 */
	    {0x1041, 0x1046}, /* CKM_ECDSA .. CKM_ECDSA_SHA512 */
	    {0x1057, 0x1057}, /* CKM_EDDSA */
	};

	return !in_ranges(ec_dsa_only, N_ELEMS(ec_dsa_only), mech);
}

CK_RV policy_mech_memo_attach(struct hsmux_backend_policy *pol)
{
	pol->memo = calloc(1, sizeof(*pol->memo));
	if (!pol->memo)
		return CKR_HOST_MEMORY;
	pol->memo->owner = pol;
	return CKR_OK;
}

unsigned int policy_mech_verdict_slow(const struct hsmux_backend_policy *pol,
                                      CK_MECHANISM_TYPE mech)
{
	struct policy_mech_memo *m = pol->memo;
	unsigned int v = 0;

	if (allow_list_allows(pol, mech))
		v |= MECH_ALLOWED;
	if (mech == CKM_RSA_X_509)
		v |= MECH_RAW_RSA;
	if (mech_is_rsa(mech) || mech_may_use_any_key(mech))
		v |= MECH_KEY_ATTRS;
	/* The verdict depends only on pol's lists, which never change after the config is read. */
	if (m && m->owner == pol && ((uint64_t)mech >> 56) == 0)
		__atomic_store_n(&m->word[policy_mech_memo_index(mech)],
		                 ((uint64_t)mech << 8) | MECH_MEMO_VALID | v, __ATOMIC_RELAXED);
	return v;
}

bool hsmux_policy_mechanism_allowed(const struct hsmux_backend *be, CK_MECHANISM_TYPE mech)
{
	return policy_mechanism_allowed(policy_of(be), mech);
}

static CK_ULONG filter_list(const struct hsmux_backend_policy *pol, CK_MECHANISM_TYPE_PTR list,
                            CK_ULONG count)
{
	CK_ULONG kept = 0;

	for (CK_ULONG i = 0; i < count; i++)
		if (policy_mechanism_allowed(pol, list[i]))
			list[kept++] = list[i];
	return kept;
}

CK_RV hsmux_policy_get_mechanism_list(struct hsmux_backend *be, CK_SLOT_ID bslot,
                                      CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	CK_MECHANISM_TYPE_PTR all = NULL;
	CK_ULONG n = 0, kept;
	CK_RV rv;

	/* The whole list every time, so that the length query counts what the list holds. */
	rv = hsmux_mech_get_mechanism_list(be, bslot, NULL, &n);
	while (rv == CKR_OK) {
		free(all);
		all = calloc(n + 1, sizeof(*all));
		if (!all)
			return CKR_HOST_MEMORY;
		rv = hsmux_mech_get_mechanism_list(be, bslot, all, &n);
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;
		rv = CKR_OK; /* the list grew between the two calls: ask again */
	}
	if (rv != CKR_OK)
		goto out;
	kept = filter_list(policy_of(be), all, n);
	if (list && *count < kept)
		rv = CKR_BUFFER_TOO_SMALL;
	else if (list)
		memcpy(list, all, kept * sizeof(*all));
	*count = kept;
out:
	free(all);
	return rv;
}

/*
 * Parses a mechanism: a number (decimal or 0x hex), or a CKM_ name from the
 * module's name table (module/names.c). The table covers the standard range only, so
 * a vendor mechanism is given as a number.
 */
bool mech_parse(const char *text, CK_MECHANISM_TYPE *mech)
{
	char *end;
	unsigned long value;

	if (strncmp(text, "CKM_", 4) == 0) {
		for (CK_MECHANISM_TYPE m = 0; m < 0x5000; m++) {
			if (strcmp(hsmux_mech_name(m), text) == 0) {
				*mech = m;
				return true;
			}
		}
		return false;
	}
	errno = 0;
	value = strtoul(text, &end, 0);
	if (errno || end == text || *end)
		return false;
	*mech = value;
	return true;
}

static CK_ULONG rsa_strength(CK_ULONG bits)
{
	if (bits >= 15360)
		return 256;
	if (bits >= 7680)
		return 192;
	if (bits >= 3072)
		return 128;
	if (bits >= 2048)
		return 112;
	if (bits >= 1024)
		return 80;
	return 0;
}

CK_ULONG key_strength(const struct key_info *k)
{
	switch (k->key_type) {
	case CKK_AES:
		return k->bits;
	case CKK_RSA:
		return rsa_strength(k->bits);
	case CKK_EC:
	case CKK_EC_EDWARDS:
	case CKK_EC_MONTGOMERY:
		return k->bits / 2 > 256 ? 256 : k->bits / 2;
	case CKK_DES:
		return 56;
	case CKK_DES2:
		return 80;
	case CKK_DES3:
		return 112;
	default:
		/* Generic secrets and HMAC keys: their length, up to the largest strength. */
		return k->bits > 256 ? 256 : k->bits;
	}
}

bool key_type_denied(CK_KEY_TYPE type)
{
	return type == CKK_DES || type == CKK_DES2 || type == CKK_DES3 || type == CKK_CDMF;
}
