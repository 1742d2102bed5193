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
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hsmux/admin.h"

#include "module/policy/policy_internal.h"

#define CACHE_BUCKETS 1024
#define CACHE_WAYS    4

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

/*
 * The cache is a table of buckets that never move, each with a few ways and
 * a sequence number that is odd while a writer changes the bucket. A hit
 * copies the entry and re-reads the number, retrying if it moved, so it
 * takes no lock. Writers (a miss, a forget, the pair roles) hold the mutex.
 * A full bucket gives up its oldest way: an entry is only a copy, read
 * again on the next miss.
 */
struct cache_entry {
	const struct hsmux_backend *be; /* NULL: the way is free */
	CK_SLOT_ID bslot;
	CK_OBJECT_HANDLE obj;
	struct key_info info;
};

struct cache_bucket {
	_Atomic unsigned int seq;
	unsigned int victim; /* the way a full bucket gives up next */
	struct cache_entry way[CACHE_WAYS];
};

static struct {
	pthread_mutex_t lock;
	struct cache_bucket buckets[CACHE_BUCKETS];
	size_t n_entries;         /* ways in use */
	size_t n_session_entries; /* of them, those of session objects (no CKA_TOKEN) */
	uint64_t generation;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER, .generation = 1};

/*
 * Counts the objects dropped from the cache and those created through
 * hsmux. A result computed from the cache before the last of them may be stale. It starts at 1 so
 * that a zeroed memo never matches.
 */
uint64_t policy_key_epoch = 1;

static void epoch_bump(void)
{
	__atomic_add_fetch(&policy_key_epoch, 1, __ATOMIC_ACQ_REL);
}

/*
 * fork() with the lock held by another thread would leave the child's
 * lock taken forever, or a bucket half written. Holding the lock across
 * fork() keeps both consistent. Readers take no lock and need nothing.
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

static void cache_unlock(void)
{
	pthread_mutex_unlock(&cache.lock);
}

static struct cache_bucket *bucket_of(const struct hsmux_backend *be, CK_SLOT_ID bslot,
                                      CK_OBJECT_HANDLE obj)
{
	uint64_t h = (uint64_t)(uintptr_t)be ^ ((uint64_t)bslot << 20) ^ (uint64_t)obj;

	h *= 0x9e3779b97f4a7c15ULL;
	return &cache.buckets[(size_t)(h >> 54) % CACHE_BUCKETS];
}

static bool entry_is(const struct cache_entry *e, const struct hsmux_backend *be, CK_SLOT_ID bslot,
                     CK_OBJECT_HANDLE obj)
{
	return e->obj == obj && e->be == be && e->bslot == bslot;
}

static void bucket_write_begin(struct cache_bucket *b)
{
	atomic_fetch_add_explicit(&b->seq, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void bucket_write_end(struct cache_bucket *b)
{
	atomic_fetch_add_explicit(&b->seq, 1, memory_order_release);
}

/* The lock-free read: copies the entry of (be, bslot, obj) into *info; false on a miss. */
static bool cache_read(const struct hsmux_backend *be, CK_SLOT_ID bslot, CK_OBJECT_HANDLE obj,
                       struct key_info *info)
{
	struct cache_bucket *b = bucket_of(be, bslot, obj);
	unsigned int seq;
	bool found;

	do {
		seq = atomic_load_explicit(&b->seq, memory_order_acquire);
		found = false;
		for (size_t w = 0; w < CACHE_WAYS; w++) {
			if (entry_is(&b->way[w], be, bslot, obj)) {
				*info = b->way[w].info;
				found = true;
				break;
			}
		}
		atomic_thread_fence(memory_order_acquire);
	} while ((seq & 1) || seq != atomic_load_explicit(&b->seq, memory_order_relaxed));
	return found;
}

static struct cache_entry *find_locked(struct cache_bucket *b, const struct hsmux_backend *be,
                                       CK_SLOT_ID bslot, CK_OBJECT_HANDLE obj)
{
	for (size_t w = 0; w < CACHE_WAYS; w++)
		if (entry_is(&b->way[w], be, bslot, obj))
			return &b->way[w];
	return NULL;
}

static bool is_session_entry(const struct cache_entry *e)
{
	return !(e->info.flags & KEY_TOKEN);
}

/* Frees a way in use, so that readers no longer find it. */
static void entry_clear_locked(struct cache_bucket *b, struct cache_entry *e)
{
	bucket_write_begin(b);
	e->be = NULL;
	bucket_write_end(b);
	cache.n_entries--;
	if (is_session_entry(e))
		cache.n_session_entries--;
}

/* Drops entries that match; a NULL be matches every entry. */
static void drop_matching(const struct hsmux_backend *be, CK_SLOT_ID bslot, bool whole_slot,
                          bool session_objects_only)
{
	size_t *left = session_objects_only ? &cache.n_session_entries : &cache.n_entries;

	cache_lock();
	epoch_bump();
	/* C_CloseSession comes here each time: skip the walk when nothing can match. */
	for (size_t i = 0; i < CACHE_BUCKETS && *left; i++) {
		struct cache_bucket *b = &cache.buckets[i];

		for (size_t w = 0; w < CACHE_WAYS; w++) {
			struct cache_entry *e = &b->way[w];
			bool match =
			    e->be && (!be || (e->be == be && (whole_slot || e->bslot == bslot)));

			if (match && (!session_objects_only || is_session_entry(e)))
				entry_clear_locked(b, e);
		}
	}
	cache_unlock();
}

void key_info_forget(const struct hsmux_backend *be, CK_SLOT_ID bslot, CK_OBJECT_HANDLE obj)
{
	struct cache_bucket *b = bucket_of(be, bslot, obj);
	struct cache_entry *e;

	cache_lock();
	epoch_bump();
	e = find_locked(b, be, bslot, obj);
	if (e)
		entry_clear_locked(b, e);
	cache_unlock();
}

void hsmux_policy_forget_session_objects(const struct hsmux_backend *be, CK_SLOT_ID bslot)
{
	drop_matching(be, bslot, false, true);
}

void hsmux_policy_forget_slot(const struct hsmux_backend *be, CK_SLOT_ID bslot)
{
	drop_matching(be, bslot, false, false);
}

void hsmux_policy_forget_object(const struct hsmux_backend *be, CK_SLOT_ID bslot,
                                CK_OBJECT_HANDLE obj)
{
	key_info_forget(be, bslot, obj);
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
	epoch_bump();
}

bool policy_label_is_sd(const void *label, CK_ULONG len)
{
	static const char sd_key[] = HSMUX_SD_KEY_LABEL, exchange[] = HSMUX_SD_EXCHANGE_LABEL;

	return (len == sizeof(sd_key) - 1 && memcmp(label, sd_key, len) == 0) ||
	       (len == sizeof(exchange) - 1 && memcmp(label, exchange, len) == 0);
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
	CK_BYTE bools[16], ec_params[64], label[64];
	CK_ATTRIBUTE t[32] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &key_type, sizeof(key_type)},
	    {CKA_VALUE_LEN, &value_len, sizeof(value_len)},
	    {CKA_MODULUS, NULL, 0},
	    {CKA_EC_PARAMS, ec_params, sizeof(ec_params)},
	    {CKA_LABEL, label, sizeof(label)},
	};
	const size_t fixed = 6;
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
	/* A longer label is no security-domain label; the backend then gives no length. */
	if (t[5].ulValueLen <= sizeof(label))
		info->sd = policy_label_is_sd(label, t[5].ulValueLen);
	return CKR_OK;
}

/* Caches info unless it is cached already, or the epoch moved since the read began. */
static void cache_insert(const struct hsmux_backend *be, CK_SLOT_ID bslot, CK_OBJECT_HANDLE obj,
                         const struct key_info *info, uint64_t epoch_before)
{
	struct cache_bucket *b = bucket_of(be, bslot, obj);
	struct cache_entry *e = NULL;

	cache_lock();
	if (key_info_epoch() != epoch_before || find_locked(b, be, bslot, obj)) {
		cache_unlock();
		return;
	}
	for (size_t w = 0; w < CACHE_WAYS && !e; w++)
		if (!b->way[w].be)
			e = &b->way[w];
	if (!e) {
		e = &b->way[b->victim];
		b->victim = (b->victim + 1) % CACHE_WAYS;
		entry_clear_locked(b, e);
	}
	bucket_write_begin(b);
	*e = (struct cache_entry){.be = be, .bslot = bslot, .obj = obj, .info = *info};
	bucket_write_end(b);
	cache.n_entries++;
	if (is_session_entry(e))
		cache.n_session_entries++;
	cache_unlock();
}

/* A miss: reads the backend and caches what it gives. Out of line, to keep the hit short. */
static __attribute__((noinline)) CK_RV key_info_miss(const struct hsmux_session_ref *s,
                                                     CK_OBJECT_HANDLE obj, struct key_info *info)
{
	CK_SLOT_ID bslot = session_bslot(s);
	uint64_t epoch = key_info_epoch();
	CK_RV rv;

	rv = read_key_info(s, obj, info);
	if (rv != CKR_OK)
		return rv;
	cache_insert(s->be, bslot, obj, info, epoch);
	return CKR_OK;
}

CK_RV key_info_get(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj, struct key_info *info)
{
	if (cache_read(s->be, session_bslot(s), obj, info))
		return CKR_OK;
	return key_info_miss(s, obj, info);
}

void key_info_set_pair(const struct hsmux_session_ref *s, CK_OBJECT_HANDLE obj,
                       unsigned int pair_roles, uint64_t generation)
{
	CK_SLOT_ID bslot = session_bslot(s);
	struct cache_bucket *b = bucket_of(s->be, bslot, obj);
	struct cache_entry *e;

	cache_lock();
	e = find_locked(b, s->be, bslot, obj);
	if (e) {
		bucket_write_begin(b);
		e->info.pair_roles = pair_roles;
		e->info.pair_generation = generation;
		bucket_write_end(b);
	}
	cache_unlock();
}
