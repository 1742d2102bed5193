/*
 * Shared by the files of the policy layer: the per-backend settings, the
 * attribute cache, templates and the mechanism tables.
 */
#ifndef HSMUX_POLICY_INTERNAL_H
#define HSMUX_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "module/policy/policy.h"

enum hsmux_policy_profile {
	HSMUX_PROFILE_STRICT,
	HSMUX_PROFILE_COMPAT,
};

/* The private and secret keys that may be created CKA_EXTRACTABLE=TRUE. */
enum hsmux_extractable_mode {
	HSMUX_EXTRACTABLE_NO,
	HSMUX_EXTRACTABLE_TRUSTED_WRAP, /* only with CKA_WRAP_WITH_TRUSTED=TRUE */
	HSMUX_EXTRACTABLE_YES,
};

#define HSMUX_POLICY_MAX_OVERRIDES 64

struct policy_mech_memo;

struct hsmux_backend_policy {
	enum hsmux_policy_profile profile;
	enum hsmux_extractable_mode extractable;
	bool reject_weak; /* weak-template = reject: reject instead of tightening */
	CK_ULONG min_rsa_bits;
	CK_MECHANISM_TYPE allow[HSMUX_POLICY_MAX_OVERRIDES];
	size_t n_allow;
	CK_MECHANISM_TYPE deny[HSMUX_POLICY_MAX_OVERRIDES];
	size_t n_deny;
	/*
	 * The verdicts found so far; used only while memo->owner is this
	 * policy, so that a copy of the struct (whose lists may differ) never
	 * reads the verdicts of the original.
	 */
	struct policy_mech_memo *memo;
};

extern const struct hsmux_backend_policy hsmux_policy_default;

/* The policy of a backend, or the strict default when it has none. */
static inline const struct hsmux_backend_policy *policy_of(const struct hsmux_backend *be)
{
	return be && be->policy ? be->policy : &hsmux_policy_default;
}

/* What the policy knows of a mechanism: the bits of policy_mech_verdict(). */
enum {
	MECH_ALLOWED = 1u << 0,   /* the allow-list lets it through */
	MECH_RAW_RSA = 1u << 1,   /* CKM_RSA_X_509 */
	MECH_KEY_ATTRS = 1u << 2, /* a sign or verify *Init with it reads the key's attributes */
	MECH_VERDICT_BITS = 0x7f,
	MECH_MEMO_VALID = 0x80,
};

/*
 * The verdicts of one policy, filled lazily: a direct-mapped table whose
 * words hold (mechanism << 8) | MECH_MEMO_VALID | verdict, read and written
 * with relaxed atomics, so a reader takes no lock and sees either a whole
 * word or the slow path. A mechanism of 2^56 or more never fits a word and
 * always takes the slow path.
 */
#define POLICY_MECH_MEMO_SIZE 64
struct policy_mech_memo {
	const struct hsmux_backend_policy *owner;
	uint64_t word[POLICY_MECH_MEMO_SIZE];
};

/* Allocates the memo of pol; pol keeps working without one (CKR_HOST_MEMORY otherwise). */
CK_RV policy_mech_memo_attach(struct hsmux_backend_policy *pol);
/* Computes the verdict of mech under pol and records it in the memo. */
unsigned int policy_mech_verdict_slow(const struct hsmux_backend_policy *pol,
                                      CK_MECHANISM_TYPE mech);

static inline size_t policy_mech_memo_index(CK_MECHANISM_TYPE mech)
{
	return (size_t)(((uint64_t)mech * 0x9e3779b97f4a7c15ULL) >> 58) % POLICY_MECH_MEMO_SIZE;
}

/* The MECH_* bits of mech under pol: from the memo, else computed once. */
static inline unsigned int policy_mech_verdict(const struct hsmux_backend_policy *pol,
                                               CK_MECHANISM_TYPE mech)
{
	const struct policy_mech_memo *m = pol->memo;

	if (m && m->owner == pol) {
		uint64_t w =
		    __atomic_load_n(&m->word[policy_mech_memo_index(mech)], __ATOMIC_RELAXED);

		if ((w & MECH_MEMO_VALID) && (w >> 8) == (uint64_t)mech)
			return (unsigned int)(w & MECH_VERDICT_BITS);
	}
	return policy_mech_verdict_slow(pol, mech);
}

static inline CK_SLOT_ID session_bslot(const struct hsmux_session_ref *s)
{
	return s->vslot & 0xFFFFFFFFUL;
}

/* Boolean attributes of a key, as bits of key_info.flags and key_info.known. */
enum {
	KEY_SENSITIVE = 1u << 0,
	KEY_EXTRACTABLE = 1u << 1,
	KEY_WRAP_WITH_TRUSTED = 1u << 2,
	KEY_TRUSTED = 1u << 3,
	KEY_LOCAL = 1u << 4,
	KEY_TOKEN = 1u << 5,
	KEY_ENCRYPT = 1u << 6,
	KEY_DECRYPT = 1u << 7,
	KEY_WRAP = 1u << 8,
	KEY_UNWRAP = 1u << 9,
	KEY_SIGN = 1u << 10,
	KEY_VERIFY = 1u << 11,
	KEY_SIGN_RECOVER = 1u << 12,
	KEY_VERIFY_RECOVER = 1u << 13,
	KEY_DERIVE = 1u << 14,
};

#define KEY_WRAP_ROLES  (KEY_WRAP | KEY_UNWRAP)
#define KEY_CRYPT_ROLES (KEY_ENCRYPT | KEY_DECRYPT)
#define KEY_USAGES                                                                                 \
	(KEY_ENCRYPT | KEY_DECRYPT | KEY_WRAP | KEY_UNWRAP | KEY_SIGN | KEY_VERIFY |               \
	 KEY_SIGN_RECOVER | KEY_VERIFY_RECOVER | KEY_DERIVE)

/* The attribute behind each flag bit. */
struct key_flag_attr {
	unsigned int flag;
	CK_ATTRIBUTE_TYPE type;
};
extern const struct key_flag_attr key_flag_attrs[];
extern const size_t key_flag_attr_count;
unsigned int key_flag_of(CK_ATTRIBUTE_TYPE type);

/* The attributes of an object that the policy uses: read once, then cached. */
struct key_info {
	CK_OBJECT_CLASS cls;  /* CK_UNAVAILABLE_INFORMATION when unknown */
	CK_KEY_TYPE key_type; /* CK_UNAVAILABLE_INFORMATION when unknown */
	unsigned int flags;   /* the KEY_* bits that are TRUE */
	unsigned int known;   /* the KEY_* bits that the backend returned */
	CK_ULONG
	bits; /* key size: AES and generic secret value, RSA modulus, EC curve; 0 unknown */
	unsigned int pair_roles;  /* KEY_* usage bits of the other half of an RSA pair */
	uint64_t pair_generation; /* pair_roles is valid while this equals the creation count */
	bool sd; /* labelled as the security-domain key or exchange key: no client may use it */
};

/* The classes whose value the creation and read rules protect: private, secret and OTP keys. */
static inline bool class_has_secret(CK_OBJECT_CLASS cls)
{
	return cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY || cls == CKO_OTP_KEY;
}

static inline bool key_info_is_key_with_secret(const struct key_info *k)
{
	return class_has_secret(k->cls);
}

/*
 * Whether a key's secret parts must stay inside: SENSITIVE or not
 * EXTRACTABLE. An attribute that the backend did not return counts as the
 * safe value.
 */
bool key_info_protected(const struct key_info *k);

/*
 * Fills *info for obj from the cache, or reads it from the backend and
 * caches it. Returns the backend's CK_RV when it cannot read the object
 * (CKR_OBJECT_HANDLE_INVALID, CKR_SESSION_HANDLE_INVALID...).
 */
CK_RV key_info_get(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj, struct key_info *info);
/* Stores the pair roles found for obj. */
void key_info_set_pair(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj,
                       unsigned int pair_roles, uint64_t generation);
void key_info_forget(const struct hsmux_backend *be, CK_SLOT_ID bslot, CK_OBJECT_HANDLE obj);
/* See policy_cache.c; read it with key_info_epoch(). Hidden: no GOT load on the fast path. */
extern uint64_t policy_key_epoch __attribute__((visibility("hidden")));

/* Moves on every forget and every creation through hsmux: answers older than it may be stale. */
static inline uint64_t key_info_epoch(void)
{
	return __atomic_load_n(&policy_key_epoch, __ATOMIC_ACQUIRE);
}

/* The number of objects created through hsmux so far; cached pair roles older than it are stale. */
uint64_t key_info_generation(void);
void key_info_bump_generation(void);

/*
 * A template under construction: the client's attributes (borrowed, never
 * written) plus the ones the policy adds or overrides.
 */
struct policy_template {
	CK_ATTRIBUTE *attrs;
	CK_ULONG count;
	CK_ULONG capacity;
};

#define POLICY_TEMPLATE_MAX 256

/*
 * Copies a client template after checking its form: non-NULL values where
 * a length is given, CK_BBOOL and CK_ULONG attributes of the right size,
 * and well-formed nested templates. No attribute may appear twice, because
 * a backend might use a different copy than the policy read. Returns CKR_OK,
 * CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT or CKR_HOST_MEMORY.
 */
CK_RV policy_template_init(struct policy_template *t, const CK_ATTRIBUTE *tmpl, CK_ULONG count);
void policy_template_cleanup(struct policy_template *t);
/* The attribute of type in t, or NULL. */
CK_ATTRIBUTE *policy_template_find(const struct policy_template *t, CK_ATTRIBUTE_TYPE type);
/* Reads a boolean; returns false when the attribute is absent. */
bool policy_template_bool(const struct policy_template *t, CK_ATTRIBUTE_TYPE type, CK_BBOOL *value);
bool policy_template_ulong(const struct policy_template *t, CK_ATTRIBUTE_TYPE type,
                           CK_ULONG *value);
/* Sets or adds a boolean attribute. Returns CKR_HOST_MEMORY when it cannot grow. */
CK_RV policy_template_set_bool(struct policy_template *t, CK_ATTRIBUTE_TYPE type, CK_BBOOL value);

/*
 * Rejects nested templates (CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE,
 * CKA_DERIVE_TEMPLATE) that would let a later unwrap or derive make a
 * readable key. tmpl must have passed policy_check_template_form().
 */
CK_RV policy_check_nested(const struct hsmux_backend_policy *pol, const char *fn,
                          const CK_ATTRIBUTE *tmpl, CK_ULONG count);

/* Checks the form of a raw attribute array; the same rules as policy_template_init(). */
CK_RV policy_check_template_form(const CK_ATTRIBUTE *tmpl, CK_ULONG count, int depth);

/* The kinds of call that make a key. */
enum policy_create_kind {
	CREATE_GENERATE,
	CREATE_GENERATE_PAIR,
	CREATE_OBJECT,
	CREATE_UNWRAP,
	CREATE_DERIVE,
	CREATE_COPY,
};

/* The context of the creation rules, beyond the template. */
struct policy_create_ctx {
	const struct hsmux_backend_policy *pol;
	enum policy_create_kind kind;
	const char *fn;                    /* the C_* name, for traces */
	CK_OBJECT_CLASS default_class;     /* the class when the template has none */
	const struct hsmux_session_ref *s; /* for the SO check; NULL means not the SO */
	const struct key_info *source;     /* the key copied or derived from, or NULL */
};

/*
 * Applies the creation rules to one template: checks read-only and
 * SO-only attributes, then makes a private or secret key SENSITIVE and
 * (per the profile) not EXTRACTABLE, tightening or rejecting weak values.
 */
CK_RV policy_tighten_protection(const struct policy_create_ctx *c, struct policy_template *t);

/*
 * Applies role separation across one or two templates (a key, or the
 * public and private halves of a pair): absent usages get the value that
 * keeps the roles apart, and a template that requests both roles is
 * tightened (WRAP and UNWRAP dropped) or rejected.
 */
CK_RV policy_separate_roles(const struct policy_create_ctx *c, struct policy_template *a,
                            struct policy_template *b);

/*
 * Checks a Set or Copy template against obj's current attributes: the
 * sticky attributes, the usages that cannot be switched on, the SO-only
 * CKA_TRUSTED, and the attributes that define what a key is. Returns
 * CKR_ATTRIBUTE_READ_ONLY for a change the rules forbid.
 */
CK_RV policy_check_sticky(const struct hsmux_session_ref *s, const char *fn,
                          const struct key_info *k, const CK_ATTRIBUTE *tmpl, CK_ULONG count);

/* Checks C_UnwrapKey's mechanism and unwrapping key, before the template and the data. */
CK_RV policy_check_unwrapping_key(const struct hsmux_session_ref *s, const CK_MECHANISM *mech,
                                  CK_OBJECT_HANDLE uk);

/* The usage roles of a key and of the rest of its RSA pair together (KEY_* bits). */
unsigned int key_all_roles(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj,
                           const struct key_info *info);
/* Whether roles hold a wrap role and an encrypt role together. */
static inline bool key_mixes_roles(unsigned int roles)
{
	return (roles & KEY_WRAP_ROLES) && (roles & KEY_CRYPT_ROLES);
}

/* Mechanism tables. */
bool mech_is_des(CK_MECHANISM_TYPE mech);
bool mech_is_md5(CK_MECHANISM_TYPE mech);
bool mech_is_rsa(CK_MECHANISM_TYPE mech);
/* AES-KW, AES-KWP (both ids), RSA-OAEP and RSA-AES-KW. */
bool mech_is_authenticated_wrap(CK_MECHANISM_TYPE mech);
/* Derive mechanisms that copy bytes of the base key into the new key. */
bool mech_copies_key_bytes(CK_MECHANISM_TYPE mech);
/* Whether the backend's policy allows mech (allow-list, overrides), through the memo. */
static inline bool policy_mechanism_allowed(const struct hsmux_backend_policy *pol,
                                            CK_MECHANISM_TYPE mech)
{
	return policy_mech_verdict(pol, mech) & MECH_ALLOWED;
}
/* Whether a sign or verify with mech may use a key that is neither EC nor DSA. */
bool mech_may_use_any_key(CK_MECHANISM_TYPE mech);
/* Parses "CKM_NAME" or a number (0x...) into *mech. */
bool mech_parse(const char *text, CK_MECHANISM_TYPE *mech);

/* Security strength in bits (NIST SP 800-57 Part 1, table 2) of a key; 0 when unknown. */
CK_ULONG key_strength(const struct key_info *k);
/* Key types whose keys the policy rejects at creation. */
bool key_type_denied(CK_KEY_TYPE type);

/*
 * Whether a CKA_LABEL value names the security-domain key or exchange key
 * (include/hsmux/admin.h). Only the admin interface, which calls the
 * backend directly, makes and uses such objects.
 */
bool policy_label_is_sd(const void *label, CK_ULONG len);

/* Rejects a template whose CKA_LABEL is a security-domain label; CKR_ATTRIBUTE_VALUE_INVALID. */
CK_RV policy_check_label(const char *fn, const CK_ATTRIBUTE *tmpl, CK_ULONG count);

/* Whether the session is logged in as the SO. */
bool session_is_so(const struct hsmux_session_ref *s);

/* Traces a rejection under the "policy" category and returns rv. */
CK_RV policy_reject(CK_RV rv, const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* HSMUX_POLICY_INTERNAL_H */
