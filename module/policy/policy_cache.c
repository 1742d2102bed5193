/*
 * The attribute cache: the attributes the policy uses of each object, keyed by
 * backend, slot and object handle, so that a sign-init costs one look-up
 * instead of a C_GetAttributeValue.
 *
 * An entry is dropped when hsmux sets, copies or destroys the object, when
 * the router reports that session objects ended, and at C_Finalize. A
 * change made around hsmux (another process on the same token) is not
 * seen; the rules keep such a change harmless only where they are sticky.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "module/policy/policy_internal.h"

#define CACHE_BUCKETS     1024
#define CACHE_MAX_ENTRIES 16384

const struct key_flag_attr key_flag_attrs[] = {
    {KEY_SENSITIVE, CKA_SENSITIVE},
    {KEY_EXTRACTABLE, CKA_EXTRACTABLE},
    {KEY_WRAP_WITH_TRUSTED, CKA_WRAP_WITH_TRUSTED},
    {KEY_TRUSTED, CKA_TRUSTED},
    {KEY_LOCAL, CKA_LOCAL},
    {KEY_TOKEN, CKA_TOKEN},
    {KEY_ENCRYPT, CKA_ENCRYPT},
    {KEY_DECRYPT, CKA_DECRYPT},
    {KEY_WRAP, CKA_WRAP},
    {KEY_UNWRAP, CKA_UNWRAP},
    {KEY_SIGN, CKA_SIGN},
    {KEY_VERIFY, CKA_VERIFY},
    {KEY_SIGN_RECOVER, CKA_SIGN_RECOVER},
    {KEY_VERIFY_RECOVER, CKA_VERIFY_RECOVER},
    {KEY_DERIVE, CKA_DERIVE},
};
const size_t key_flag_attr_count = sizeof(key_flag_attrs) / sizeof(key_flag_attrs[0]);

unsigned int key_flag_of(CK_ATTRIBUTE_TYPE type)
{
	for (size_t i = 0; i < key_flag_attr_count; i++)
		if (key_flag_attrs[i].type == type)
			return key_flag_attrs[i].flag;
	return 0;
}

bool key_info_protected(const struct key_info *k)
{
	bool known_not_sensitive = (k->known & KEY_SENSITIVE) && !(k->flags & KEY_SENSITIVE);
	bool known_extractable = (k->known & KEY_EXTRACTABLE) && (k->flags & KEY_EXTRACTABLE);

	return !(known_not_sensitive && known_extractable);
}

struct cache_entry {
	struct cache_entry *next;
	const struct hsmux_backend *be;
	CK_SLOT_ID bslot;
	CK_OBJECT_HANDLE obj;
	struct key_info info;
};

static struct {
	pthread_mutex_t lock;
	struct cache_entry *buckets[CACHE_BUCKETS];
	size_t n_entries;
	uint64_t generation;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER, .generation = 1};

/*
 * fork() with the lock held by another thread would leave the child's
 * lock taken forever; holding it across fork() keeps it consistent.
 */
static void cache_atfork_prepare(void)
{
	pthread_mutex_lock(&cache.lock);
}

static void cache_atfork_release(void)
{
	pthread_mutex_unlock(&cache.lock);
}

static pthread_once_t cache_atfork_once = PTHREAD_ONCE_INIT;

static void cache_register_atfork(void)
{
	pthread_atfork(cache_atfork_prepare, cache_atfork_release, cache_atfork_release);
}

static void cache_lock(void)
{
	pthread_once(&cache_atfork_once, cache_register_atfork);
	pthread_mutex_lock(&cache.lock);
}

static size_t bucket_of(const struct hsmux_backend *be, CK_SLOT_ID bslot, CK_OBJECT_HANDLE obj)
{
	uint64_t h = (uint64_t)(uintptr_t)be ^ ((uint64_t)bslot << 20) ^ (uint64_t)obj;

	h *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 54) % CACHE_BUCKETS;
}

static struct cache_entry **find_locked(const struct hsmux_backend *be, CK_SLOT_ID bslot,
                                        CK_OBJECT_HANDLE obj)
{
	struct cache_entry **p = &cache.buckets[bucket_of(be, bslot, obj)];

	for (; *p; p = &(*p)->next)
		if ((*p)->be == be && (*p)->bslot == bslot && (*p)->obj == obj)
			return p;
	return p;
}

/* Drops entries that match; a NULL be matches every entry. */
static void drop_matching(const struct hsmux_backend *be, CK_SLOT_ID bslot, bool whole_slot,
                          bool session_objects_only)
{
	cache_lock();
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		struct cache_entry **p = &cache.buckets[i];

		while (*p) {
			struct cache_entry *e = *p;
			bool match = !be || (e->be == be && (whole_slot || e->bslot == bslot));

			if (match && session_objects_only && (e->info.flags & KEY_TOKEN))
				match = false;
			if (!match) {
				p = &e->next;
				continue;
			}
			*p = e->next;
			free(e);
			cache.n_entries--;
		}
	}
	pthread_mutex_unlock(&cache.lock);
}

void key_info_forget(const struct hsmux_backend *be, CK_SLOT_ID bslot, CK_OBJECT_HANDLE obj)
{
	struct cache_entry **p, *e;

	cache_lock();
	p = find_locked(be, bslot, obj);
	e = *p;
	if (e) {
		*p = e->next;
		free(e);
		cache.n_entries--;
	}
	pthread_mutex_unlock(&cache.lock);
}

void hsmux_policy_forget_session_objects(const struct hsmux_backend *be, CK_SLOT_ID bslot)
{
	drop_matching(be, bslot, false, true);
}

void hsmux_policy_forget_slot(const struct hsmux_backend *be, CK_SLOT_ID bslot)
{
	drop_matching(be, bslot, false, false);
}

void hsmux_policy_forget_all(void)
{
	drop_matching(NULL, 0, true, false);
}

uint64_t key_info_generation(void)
{
	return __atomic_load_n(&cache.generation, __ATOMIC_ACQUIRE);
}

void key_info_bump_generation(void)
{
	__atomic_add_fetch(&cache.generation, 1, __ATOMIC_ACQ_REL);
}

/* Curve size in bits from a DER CKA_EC_PARAMS (named curve OID or edwards name); 0 unknown. */
static CK_ULONG ec_curve_bits(const CK_BYTE *der, CK_ULONG len)
{
	static const struct {
		CK_BYTE der[16];
		CK_ULONG len, bits;
	} curves[] = {
	    {{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, 10, 256},
	    {{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}, 7, 384},
	    {{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}, 7, 521},
	    {{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a}, 7, 256},
	    {{0x06, 0x03, 0x2b, 0x65, 0x6e}, 5, 256}, /* X25519 */
	    {{0x06, 0x03, 0x2b, 0x65, 0x6f}, 5, 448}, /* X448 */
	    {{0x06, 0x03, 0x2b, 0x65, 0x70}, 5, 256}, /* Ed25519 */
	    {{0x06, 0x03, 0x2b, 0x65, 0x71}, 5, 456}, /* Ed448 */
	    {{0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'}, 14, 256},
	};

	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (len == curves[i].len && memcmp(der, curves[i].der, len) == 0)
			return curves[i].bits;
	return 0;
}

/* A CK_BBOOL that the backend left alone keeps this value, so it counts as unknown. */
#define BOOL_UNSET 0xa5

static CK_RV read_key_info(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj,
                           struct key_info *info)
{
	CK_ULONG cls = CK_UNAVAILABLE_INFORMATION, key_type = CK_UNAVAILABLE_INFORMATION;
	CK_ULONG value_len = 0;
	CK_BYTE bools[16], ec_params[64];
	CK_ATTRIBUTE t[32] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &key_type, sizeof(key_type)},
	    {CKA_VALUE_LEN, &value_len, sizeof(value_len)},
	    {CKA_MODULUS, NULL, 0},
	    {CKA_EC_PARAMS, ec_params, sizeof(ec_params)},
	};
	const size_t fixed = 5;
	CK_RV rv;

	if (!s->be->ops->get_attribute_value)
		return CKR_FUNCTION_NOT_SUPPORTED;
	memset(bools, BOOL_UNSET, sizeof(bools));
	for (size_t i = 0; i < key_flag_attr_count; i++)
		t[fixed + i] = (CK_ATTRIBUTE){key_flag_attrs[i].type, &bools[i], 1};
	rv = s->be->ops->get_attribute_value(s->be, s->bsess, obj, t, fixed + key_flag_attr_count);
	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE &&
	    rv != CKR_BUFFER_TOO_SMALL)
		return rv;

	memset(info, 0, sizeof(*info));
	info->cls = t[0].ulValueLen == sizeof(CK_ULONG) ? cls : CK_UNAVAILABLE_INFORMATION;
	info->key_type =
	    t[1].ulValueLen == sizeof(CK_ULONG) ? key_type : CK_UNAVAILABLE_INFORMATION;
	for (size_t i = 0; i < key_flag_attr_count; i++) {
		if (t[fixed + i].ulValueLen != 1 || bools[i] == BOOL_UNSET)
			continue;
		info->known |= key_flag_attrs[i].flag;
		if (bools[i])
			info->flags |= key_flag_attrs[i].flag;
	}
	if (info->key_type == CKK_RSA && t[3].ulValueLen != CK_UNAVAILABLE_INFORMATION)
		info->bits = t[3].ulValueLen * 8;
	else if (t[4].ulValueLen != CK_UNAVAILABLE_INFORMATION && t[4].ulValueLen <= 64)
		info->bits = ec_curve_bits(ec_params, t[4].ulValueLen);
	else if (t[2].ulValueLen == sizeof(CK_ULONG))
		info->bits = value_len * 8;
	return CKR_OK;
}

CK_RV key_info_get(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj, struct key_info *info)
{
	CK_SLOT_ID bslot = session_bslot(s);
	struct cache_entry **p, *e;
	CK_RV rv;

	cache_lock();
	e = *find_locked(s->be, bslot, obj);
	if (e)
		*info = e->info;
	pthread_mutex_unlock(&cache.lock);
	if (e)
		return CKR_OK;

	rv = read_key_info(s, obj, info);
	if (rv != CKR_OK)
		return rv;
	e = calloc(1, sizeof(*e));
	if (!e)
		return CKR_OK; /* the result is right, only not cached */
	*e = (struct cache_entry){.be = s->be, .bslot = bslot, .obj = obj, .info = *info};

	cache_lock();
	p = find_locked(s->be, bslot, obj);
	if (*p || cache.n_entries >= CACHE_MAX_ENTRIES) {
		/* Another thread cached it first, or the cache is full: keep what is there. */
		free(e);
	} else {
		*p = e;
		cache.n_entries++;
	}
	pthread_mutex_unlock(&cache.lock);
	return CKR_OK;
}

void key_info_set_pair(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj,
                       unsigned int pair_roles, uint64_t generation)
{
	struct cache_entry *e;

	cache_lock();
	e = *find_locked(s->be, session_bslot(s), obj);
	if (e) {
		e->info.pair_roles = pair_roles;
		e->info.pair_generation = generation;
	}
	pthread_mutex_unlock(&cache.lock);
}
