/*
 * Rules on the use of existing keys: the *Init checks, C_WrapKey,
 * C_DigestKey and the operation state, and the role check of an RSA key
 * pair taken as a whole.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "module/policy/policy_internal.h"
#include "module/trace.h"

#define PAIR_SEARCH_MAX 16

/* Keeps a slow path out of its caller, so that the fast path saves no registers for it. */
#define NOINLINE __attribute__((noinline))

/* Finds the other halves of an RSA key pair by modulus, in a session of its own. */
static unsigned int search_pair_roles(const struct hsmux_session_ref *s,
                                      const struct key_info *info, CK_OBJECT_HANDLE obj)
{
	const struct hsmux_backend_ops *ops = s->be->ops;
	CK_OBJECT_CLASS other = info->cls == CKO_PUBLIC_KEY ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY;
	CK_KEY_TYPE rsa = CKK_RSA;
	CK_BYTE modulus[2048];
	CK_ATTRIBUTE get = {CKA_MODULUS, modulus, sizeof(modulus)};
	CK_ATTRIBUTE find[] = {
	    {CKA_CLASS, &other, sizeof(other)},
	    {CKA_KEY_TYPE, &rsa, sizeof(rsa)},
	    {CKA_MODULUS, modulus, 0},
	};
	CK_OBJECT_HANDLE found[PAIR_SEARCH_MAX];
	CK_ULONG n = 0;
	struct hsmux_session_ref search = *s;
	unsigned int roles = 0;

	if (!ops->open_session || !ops->find_objects_init || !ops->find_objects ||
	    !ops->close_session ||
	    ops->get_attribute_value(s->be, s->bsess, obj, &get, 1) != CKR_OK)
		return 0;
	find[2].ulValueLen = get.ulValueLen;
	/* A session of its own, so that a search the client has open is not disturbed. */
	if (ops->open_session(s->be, session_bslot(s), CKF_SERIAL_SESSION, &search.bsess) != CKR_OK)
		return 0;
	if (ops->find_objects_init(s->be, search.bsess, find, 3) == CKR_OK) {
		ops->find_objects(s->be, search.bsess, found, PAIR_SEARCH_MAX, &n);
		if (ops->find_objects_final)
			ops->find_objects_final(s->be, search.bsess);
	}
	for (CK_ULONG i = 0; i < n; i++) {
		struct key_info half;

		if (key_info_get(&search, found[i], &half) == CKR_OK)
			roles |= half.flags & (KEY_WRAP_ROLES | KEY_CRYPT_ROLES);
	}
	ops->close_session(s->be, search.bsess);
	return roles;
}

/*
 * The usage roles of the other half of an RSA key pair, from the cache
 * while no object was created since they were found.
 * NOTE: a backend without C_FindObjects or a second session gives no pair
 * roles, so only each half's own roles are checked there.
 */
static unsigned int pair_roles(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj,
                               const struct key_info *info)
{
	uint64_t generation;
	unsigned int roles;

	if (info->key_type != CKK_RSA ||
	    (info->cls != CKO_PUBLIC_KEY && info->cls != CKO_PRIVATE_KEY))
		return 0;
	generation = key_info_generation();
	if (info->pair_generation == generation)
		return info->pair_roles;
	roles = search_pair_roles(s, info, obj);
	key_info_set_pair(s, obj, roles, generation);
	return roles;
}

unsigned int key_all_roles(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj,
                           const struct key_info *info)
{
	return (info->flags & (KEY_WRAP_ROLES | KEY_CRYPT_ROLES)) | pair_roles(s, obj, info);
}

static CK_RV check_rsa_size(const struct hsmux_backend_policy *pol, const struct key_info *info,
                            CK_RV code, const char *fn, CK_OBJECT_HANDLE key)
{
	if (info->key_type != CKK_RSA || !info->bits || info->bits >= pol->min_rsa_bits)
		return CKR_OK;
	return policy_reject(code, fn, "RSA key %lu has %lu bits, under the %lu-bit minimum",
	                     (unsigned long)key, (unsigned long)info->bits,
	                     (unsigned long)pol->min_rsa_bits);
}

static const char *use_fn(enum hsmux_key_use use)
{
	static const char *const names[] = {
	    [HSMUX_USE_ENCRYPT] = "C_EncryptInit",
	    [HSMUX_USE_DECRYPT] = "C_DecryptInit",
	    [HSMUX_USE_SIGN] = "C_SignInit",
	    [HSMUX_USE_VERIFY] = "C_VerifyInit",
	    [HSMUX_USE_SIGN_RECOVER] = "C_SignRecoverInit",
	    [HSMUX_USE_VERIFY_RECOVER] = "C_VerifyRecoverInit",
	};

	return names[use];
}

CK_RV hsmux_policy_check_mechanism(const struct hsmux_session_ref *s, const CK_MECHANISM *mech)
{
	if (policy_mech_verdict(policy_of(s->be), mech->mechanism) & MECH_ALLOWED)
		return CKR_OK;
	return policy_reject(CKR_MECHANISM_INVALID, "C_DigestInit",
	                     "mechanism %s (0x%lx) is denied", hsmux_mech_name(mech->mechanism),
	                     (unsigned long)mech->mechanism);
}

/* The rules of check_key_attrs() that only RSA keys and security-domain objects can break. */
static CK_RV check_key_rsa_sd(const struct hsmux_session_ref *s, enum hsmux_key_use use,
                              unsigned int verdict, CK_OBJECT_HANDLE key,
                              const struct key_info *info)
{
	bool crypt = use == HSMUX_USE_ENCRYPT || use == HSMUX_USE_DECRYPT;
	CK_RV rv;

	if (info->sd)
		return policy_reject(CKR_KEY_FUNCTION_NOT_PERMITTED, use_fn(use),
		                     "key %lu is the security domain's; only the admin "
		                     "interface uses it",
		                     (unsigned long)key);
	rv = check_rsa_size(policy_of(s->be), info, CKR_KEY_SIZE_RANGE, use_fn(use), key);
	if (rv != CKR_OK)
		return rv;
	if (crypt && key_mixes_roles(key_all_roles(s, key, info)))
		return policy_reject(CKR_KEY_FUNCTION_NOT_PERMITTED, use_fn(use),
		                     "key %lu, or its key pair, also holds WRAP or UNWRAP",
		                     (unsigned long)key);
	/* Raw RSA with a key that decrypts or unwraps is a decryption oracle. */
	if ((verdict & MECH_RAW_RSA) && info->cls == CKO_PRIVATE_KEY &&
	    (use == HSMUX_USE_DECRYPT || (info->flags & (KEY_DECRYPT | KEY_UNWRAP))))
		return policy_reject(CKR_KEY_FUNCTION_NOT_PERMITTED, use_fn(use),
		                     "raw RSA on key %lu, which decrypts or unwraps",
		                     (unsigned long)key);
	return CKR_OK;
}

/* The rules that need the key's attributes; see hsmux_policy_check_key_use(). */
static CK_RV check_key_attrs(const struct hsmux_session_ref *s, enum hsmux_key_use use,
                             unsigned int verdict, CK_OBJECT_HANDLE key)
{
	bool crypt = use == HSMUX_USE_ENCRYPT || use == HSMUX_USE_DECRYPT;
	struct key_info info;
	CK_RV rv = key_info_get(s, key, &info);

	if (rv != CKR_OK)
		return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv;
	/* The other keys can break only the role rule, checked here in short. */
	if (info.sd || info.key_type == CKK_RSA || (verdict & MECH_RAW_RSA))
		return check_key_rsa_sd(s, use, verdict, key, &info);
	if (crypt && key_mixes_roles(info.flags))
		return policy_reject(CKR_KEY_FUNCTION_NOT_PERMITTED, use_fn(use),
		                     "key %lu also holds WRAP or UNWRAP", (unsigned long)key);
	return CKR_OK;
}

/*
 * The last *Init of each use that passed, per backend session: a session
 * that signs again with the same key and mechanism gets its result here, as
 * long as no object was forgotten or created since (the epoch), which is
 * when the checks could return otherwise. Sessions map to entries by hash;
 * two sessions that share an entry only evict each other.
 *
 * An entry's sequence number is odd while a writer fills it. A writer takes
 * it with a compare-and-swap and gives up if another one holds it, and a
 * reader that finds it odd, or changed after the read, checks in full. So
 * no thread ever waits here, and an entry left odd by fork() only costs
 * the child the full check.
 */
#define PASS_SESSIONS 128
#define PASS_USES     (HSMUX_USE_VERIFY_RECOVER + 1)

struct pass_entry {
	_Atomic unsigned int seq;
	const struct hsmux_backend *be;
	CK_SLOT_ID vslot;
	CK_SESSION_HANDLE bsess;
	CK_OBJECT_HANDLE key;
	CK_MECHANISM_TYPE mech;
	uint64_t epoch; /* key_info_epoch() before the checks; 0 while empty */
} __attribute__((aligned(64)));

static struct pass_entry pass_memo[PASS_SESSIONS][PASS_USES];

/* Backend session handles are mostly small counters, so their low bits spread well. */
static struct pass_entry *pass_entry_of(const struct hsmux_session_ref *s, enum hsmux_key_use use)
{
	return &pass_memo[(size_t)s->bsess % PASS_SESSIONS][use];
}

static void pass_record(const struct hsmux_session_ref *s, enum hsmux_key_use use,
                        CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE key, uint64_t epoch)
{
	struct pass_entry *e = pass_entry_of(s, use);
	unsigned int seq = atomic_load_explicit(&e->seq, memory_order_relaxed);

	if ((seq & 1) || !atomic_compare_exchange_strong_explicit(
	                     &e->seq, &seq, seq + 1, memory_order_acquire, memory_order_relaxed))
		return;
	atomic_thread_fence(memory_order_release);
	e->be = s->be;
	e->vslot = s->vslot;
	e->bsess = s->bsess;
	e->key = key;
	e->mech = mech;
	e->epoch = epoch;
	atomic_store_explicit(&e->seq, seq + 2, memory_order_release);
}

/* Every check of a key-based *Init; records a pass in pass_memo. */
static NOINLINE CK_RV check_key_use(const struct hsmux_session_ref *s, enum hsmux_key_use use,
                                    const CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	uint64_t epoch = key_info_epoch();
	unsigned int verdict = policy_mech_verdict(policy_of(s->be), mech->mechanism);
	CK_RV rv;

	if (!(verdict & MECH_ALLOWED))
		return policy_reject(
		    CKR_MECHANISM_INVALID, use_fn(use), "mechanism %s (0x%lx) is denied",
		    hsmux_mech_name(mech->mechanism), (unsigned long)mech->mechanism);
	/*
	 * Sign and verify with an EC or DSA mechanism need no attribute. Every
	 * other mechanism might reach an RSA key, whose size is checked, or a
	 * security-domain key.
	 */
	if ((verdict & MECH_KEY_ATTRS) || use == HSMUX_USE_ENCRYPT || use == HSMUX_USE_DECRYPT) {
		rv = check_key_attrs(s, use, verdict, key);
		if (rv != CKR_OK)
			return rv;
	}
	pass_record(s, use, mech->mechanism, key, epoch);
	return CKR_OK;
}

CK_RV hsmux_policy_check_key_use(const struct hsmux_session_ref *s, enum hsmux_key_use use,
                                 const CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	const struct pass_entry *e = pass_entry_of(s, use);
	unsigned int seq = atomic_load_explicit(&e->seq, memory_order_acquire);
	bool hit = !(seq & 1) && e->key == key && e->mech == mech->mechanism && e->be == s->be &&
	           e->bsess == s->bsess && e->vslot == s->vslot && e->epoch == key_info_epoch();

	atomic_thread_fence(memory_order_acquire);
	if (hit && atomic_load_explicit(&e->seq, memory_order_relaxed) == seq)
		return CKR_OK;
	return check_key_use(s, use, mech, key);
}

CK_RV hsmux_policy_check_digest_key(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE key)
{
	struct key_info info;
	CK_RV rv = key_info_get(s, key, &info);

	if (rv != CKR_OK)
		return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv;
	if (info.sd)
		return policy_reject(CKR_KEY_INDIGESTIBLE, "C_DigestKey",
		                     "key %lu is the security domain's", (unsigned long)key);
	if ((key_info_is_key_with_secret(&info) || info.cls == CK_UNAVAILABLE_INFORMATION) &&
	    key_info_protected(&info))
		return policy_reject(CKR_KEY_INDIGESTIBLE, "C_DigestKey",
		                     "key %lu is sensitive or not extractable", (unsigned long)key);
	return CKR_OK;
}

/* Checks the wrapping key of C_WrapKey: its roles, its origin and its size. */
static CK_RV check_wrapping_key(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE wk,
                                const struct key_info *w)
{
	const char *fn = "C_WrapKey";

	if (!(w->flags & KEY_WRAP))
		return policy_reject(CKR_KEY_FUNCTION_NOT_PERMITTED, fn,
		                     "wrapping key %lu has no CKA_WRAP", (unsigned long)wk);
	if (key_mixes_roles(key_all_roles(s, wk, w)))
		return policy_reject(CKR_KEY_FUNCTION_NOT_PERMITTED, fn,
		                     "wrapping key %lu, or its key pair, also encrypts or "
		                     "decrypts",
		                     (unsigned long)wk);
	/* A key whose value a client knows must not wrap, until the SO trusts it. */
	if (!(w->flags & KEY_LOCAL) && !(w->flags & KEY_TRUSTED))
		return policy_reject(CKR_KEY_FUNCTION_NOT_PERMITTED, fn,
		                     "wrapping key %lu was imported, not generated, and is not "
		                     "trusted",
		                     (unsigned long)wk);
	return check_rsa_size(policy_of(s->be), w, CKR_WRAPPING_KEY_SIZE_RANGE, fn, wk);
}

/* The strength a wrap gives: the wrapping key's, capped by RSA-AES-KW's AES key. */
static CK_ULONG wrap_strength(const CK_MECHANISM *mech, const struct key_info *w)
{
	CK_ULONG strength = key_strength(w);
	CK_RSA_AES_KEY_WRAP_PARAMS params;

	if (mech->mechanism == CKM_RSA_AES_KEY_WRAP && mech->pParameter &&
	    mech->ulParameterLen == sizeof(params)) {
		memcpy(&params, mech->pParameter, sizeof(params));
		if (params.ulAESKeyBits < strength)
			strength = params.ulAESKeyBits;
	}
	return strength;
}

static CK_RV check_wrap(const struct hsmux_session_ref *s, const CK_MECHANISM *mech,
                        CK_OBJECT_HANDLE wk, CK_OBJECT_HANDLE key)
{
	const char *fn = "C_WrapKey";
	struct key_info w, t;
	CK_RV rv;

	if (!mech_is_authenticated_wrap(mech->mechanism) ||
	    !policy_mechanism_allowed(policy_of(s->be), mech->mechanism))
		return policy_reject(CKR_MECHANISM_INVALID, fn,
		                     "mechanism %s (0x%lx) is not an authenticated key wrap",
		                     hsmux_mech_name(mech->mechanism),
		                     (unsigned long)mech->mechanism);
	rv = key_info_get(s, wk, &w);
	if (rv != CKR_OK)
		return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_WRAPPING_KEY_HANDLE_INVALID : rv;
	rv = key_info_get(s, key, &t);
	if (rv != CKR_OK)
		return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv;
	if (w.sd)
		return policy_reject(CKR_KEY_FUNCTION_NOT_PERMITTED, fn,
		                     "wrapping key %lu is the security domain's",
		                     (unsigned long)wk);
	if (t.sd)
		return policy_reject(CKR_KEY_NOT_WRAPPABLE, fn, "key %lu is the security domain's",
		                     (unsigned long)key);
	rv = check_wrapping_key(s, wk, &w);
	if (rv != CKR_OK)
		return rv;
	if (!(t.flags & KEY_EXTRACTABLE))
		return policy_reject(CKR_KEY_UNEXTRACTABLE, fn, "key %lu is not extractable",
		                     (unsigned long)key);
	if ((t.flags & KEY_WRAP_WITH_TRUSTED) && !(w.flags & KEY_TRUSTED))
		return policy_reject(CKR_KEY_NOT_WRAPPABLE, fn,
		                     "key %lu needs a trusted wrapping key", (unsigned long)key);
	if (wrap_strength(mech, &w) < key_strength(&t))
		return policy_reject(CKR_WRAPPING_KEY_SIZE_RANGE, fn,
		                     "wrapping key %lu (%lu-bit strength) is weaker than key %lu "
		                     "(%lu-bit)",
		                     (unsigned long)wk, (unsigned long)wrap_strength(mech, &w),
		                     (unsigned long)key, (unsigned long)key_strength(&t));
	return CKR_OK;
}

CK_RV hsmux_policy_wrap_key(const struct hsmux_session_ref *s, CK_MECHANISM_PTR mech,
                            CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key,
                            CK_BYTE_PTR wrapped, CK_ULONG_PTR wrapped_len)
{
	CK_RV rv;

	if (!s->be->ops->wrap_key)
		return CKR_FUNCTION_NOT_SUPPORTED;
	rv = check_wrap(s, mech, wrapping_key, key);
	if (rv != CKR_OK)
		return rv;
	return s->be->ops->wrap_key(s->be, s->bsess, mech, wrapping_key, key, wrapped, wrapped_len);
}

/* Checks the unwrapping key of C_UnwrapKey, before the template and the data. */
CK_RV policy_check_unwrapping_key(const struct hsmux_session_ref *s, const CK_MECHANISM *mech,
                                  CK_OBJECT_HANDLE uk)
{
	const char *fn = "C_UnwrapKey";
	struct key_info u;
	CK_RV rv;

	if (!mech_is_authenticated_wrap(mech->mechanism) ||
	    !policy_mechanism_allowed(policy_of(s->be), mech->mechanism))
		return policy_reject(CKR_MECHANISM_INVALID, fn,
		                     "mechanism %s (0x%lx) is not an authenticated key wrap",
		                     hsmux_mech_name(mech->mechanism),
		                     (unsigned long)mech->mechanism);
	rv = key_info_get(s, uk, &u);
	if (rv != CKR_OK)
		return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_UNWRAPPING_KEY_HANDLE_INVALID : rv;
	if (u.sd)
		return policy_reject(CKR_KEY_FUNCTION_NOT_PERMITTED, fn,
		                     "unwrapping key %lu is the security domain's; only the admin "
		                     "interface unwraps with it",
		                     (unsigned long)uk);
	if (!(u.flags & KEY_UNWRAP))
		return policy_reject(CKR_KEY_FUNCTION_NOT_PERMITTED, fn,
		                     "unwrapping key %lu has no CKA_UNWRAP", (unsigned long)uk);
	if (key_mixes_roles(key_all_roles(s, uk, &u)))
		return policy_reject(CKR_KEY_FUNCTION_NOT_PERMITTED, fn,
		                     "unwrapping key %lu, or its key pair, also encrypts or "
		                     "decrypts",
		                     (unsigned long)uk);
	return check_rsa_size(policy_of(s->be), &u, CKR_UNWRAPPING_KEY_SIZE_RANGE, fn, uk);
}

CK_RV hsmux_policy_get_operation_state(const struct hsmux_session_ref *s, CK_BYTE_PTR state,
                                       CK_ULONG_PTR state_len)
{
	CK_ULONG len = 0;
	CK_RV rv;

	(void)state;
	(void)state_len;
	if (!s->be->ops->get_operation_state)
		return policy_reject(CKR_STATE_UNSAVEABLE, "C_GetOperationState",
		                     "hsmux exports no operation state");
	/* Only the length is asked for, to learn whether an operation is active. */
	rv = s->be->ops->get_operation_state(s->be, s->bsess, NULL, &len);
	switch (rv) {
	case CKR_OPERATION_NOT_INITIALIZED:
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_DEVICE_ERROR:
	case CKR_DEVICE_MEMORY:
	case CKR_DEVICE_REMOVED:
	case CKR_HOST_MEMORY:
		return rv;
	default:
		return policy_reject(CKR_STATE_UNSAVEABLE, "C_GetOperationState",
		                     "hsmux exports no operation state");
	}
}

CK_RV hsmux_policy_set_operation_state(const struct hsmux_session_ref *s)
{
	(void)s;
	return policy_reject(CKR_SAVED_STATE_INVALID, "C_SetOperationState",
	                     "hsmux exports no operation state, so it takes none");
}
