#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module/config.h"
#include "module/gate.h"
#include "module/policy/policy.h"
#include "module/router.h"
#include "module/trace.h"

#define SESSION_PAGE_SIZE HSMUX_SESSION_PAGE_SIZE
#define SESSION_PAGES HSMUX_SESSION_PAGES
#define SESSION_INDEX_BITS HSMUX_SESSION_INDEX_BITS
#define SESSION_INDEX_MASK HSMUX_SESSION_INDEX_MASK

struct hsmux_session_table hsmux_sessions;

struct slot_entry {
	CK_SLOT_ID vslot;
	struct hsmux_backend *be;
	CK_SLOT_ID bslot;
};

static struct {
	pthread_mutex_t lock;
	struct hsmux_config *cfg;
	struct hsmux_backend *backends;
	size_t n_backends;
	struct slot_entry *slots;
	size_t n_slots;
	size_t n_entries; /* entries handed out so far, used or free */
	size_t free_hint;
	bool forked;
} router = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Serializes C_Initialize and C_Finalize against each other. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/*
 * Before fork(): let the calls inside backends finish, so that the child
 * copies no backend lock in the locked state, then hold the router's locks.
 */
static void atfork_prepare(void)
{
	if (!hsmux_gate_close())
		hsmux_trace(HSMUX_TRACE_BACKEND, "fork: a backend call did not finish within 5 s; "
			    "the child may find its lock taken");
	pthread_mutex_lock(&init_lock);
	pthread_mutex_lock(&router.lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&router.lock);
	pthread_mutex_unlock(&init_lock);
	hsmux_gate_open();
}

/* The child must call C_Initialize again; until then every call is refused. */
static void atfork_child(void)
{
	pthread_mutex_unlock(&router.lock);
	pthread_mutex_unlock(&init_lock);
	hsmux_gate_open();
	if (atomic_load(&hsmux_sessions.ready)) {
		atomic_store(&hsmux_sessions.ready, false);
		router.forked = true;
	}
}

static void register_atfork(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static void entry_write_begin(struct hsmux_session_entry *e)
{
	atomic_fetch_add_explicit(&e->seq, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void entry_write_end(struct hsmux_session_entry *e)
{
	atomic_fetch_add_explicit(&e->seq, 1, memory_order_release);
}

/* Finds a free entry, adding a page when all are taken. */
static struct hsmux_session_entry *entry_alloc_locked(size_t *idx)
{
	struct hsmux_session_entry *e;
	struct hsmux_session_page *page;

	for (size_t i = 0; i < router.n_entries; i++) {
		size_t at = (router.free_hint + i) % router.n_entries;

		e = hsmux_session_entry_at(at);
		if (!e->used) {
			router.free_hint = at + 1;
			*idx = at;
			return e;
		}
	}
	if (router.n_entries >= (size_t)SESSION_PAGES * SESSION_PAGE_SIZE)
		return NULL;
	page = calloc(1, sizeof(*page));
	if (!page)
		return NULL;
	atomic_store_explicit(&hsmux_sessions.pages[router.n_entries / SESSION_PAGE_SIZE], page,
			      memory_order_release);
	*idx = router.n_entries;
	router.n_entries += SESSION_PAGE_SIZE;
	router.free_hint = *idx + 1;
	return &page->entries[0];
}

CK_RV hsmux_session_add(const struct hsmux_session_ref *ref, CK_SESSION_HANDLE *h)
{
	struct hsmux_session_entry *e;
	size_t idx;

	pthread_mutex_lock(&router.lock);
	e = entry_alloc_locked(&idx);
	if (!e) {
		pthread_mutex_unlock(&router.lock);
		return CKR_HOST_MEMORY;
	}
	entry_write_begin(e);
	e->used = true;
	e->gen = (e->gen + 1) & ((1UL << (64 - SESSION_INDEX_BITS)) - 1);
	if (e->gen == 0)
		e->gen = 1;
	e->ref = *ref;
	e->ref.gate = NULL;
	entry_write_end(e);
	*h = (e->gen << SESSION_INDEX_BITS) | (idx + 1);
	pthread_mutex_unlock(&router.lock);
	return CKR_OK;
}

CK_RV hsmux_session_remove(CK_SESSION_HANDLE h, struct hsmux_session_ref *ref)
{
	struct hsmux_session_entry *e;
	CK_RV rv = CKR_SESSION_HANDLE_INVALID;

	if (!hsmux_router_ready())
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	if ((h & SESSION_INDEX_MASK) == 0)
		return CKR_SESSION_HANDLE_INVALID;
	pthread_mutex_lock(&router.lock);
	e = hsmux_session_entry_at((h & SESSION_INDEX_MASK) - 1);
	if (e && e->used && e->gen == h >> SESSION_INDEX_BITS) {
		*ref = e->ref;
		entry_write_begin(e);
		e->used = false;
		entry_write_end(e);
		rv = CKR_OK;
	}
	pthread_mutex_unlock(&router.lock);
	return rv;
}

void hsmux_session_remove_slot(CK_SLOT_ID vslot)
{
	pthread_mutex_lock(&router.lock);
	for (size_t i = 0; i < router.n_entries; i++) {
		struct hsmux_session_entry *e = hsmux_session_entry_at(i);

		if (e->used && e->ref.vslot == vslot) {
			entry_write_begin(e);
			e->used = false;
			entry_write_end(e);
		}
	}
	pthread_mutex_unlock(&router.lock);
	/* The slot's handles may name other objects now (a restore starts the backend again). */
	if ((vslot >> HSMUX_SLOT_BACKEND_SHIFT) < router.n_backends)
		hsmux_policy_forget_slot(&router.backends[vslot >> HSMUX_SLOT_BACKEND_SHIFT],
		                         vslot & 0xFFFFFFFFUL);
}

/*
 * Marks every session closed. The pages stay, with their generations, so
 * that a handle from before C_Finalize never matches a later session.
 */
static void sessions_clear_locked(void)
{
	for (size_t i = 0; i < router.n_entries; i++) {
		struct hsmux_session_entry *e = hsmux_session_entry_at(i);

		if (e->used) {
			entry_write_begin(e);
			e->used = false;
			entry_write_end(e);
		}
	}
}

/*
 * The pages outlive C_Finalize on purpose (see sessions_clear_locked); they
 * go when the module is unloaded.
 */
static void __attribute__((destructor)) sessions_free_on_unload(void)
{
	for (size_t p = 0; p < SESSION_PAGES; p++)
		free(atomic_load(&hsmux_sessions.pages[p]));
}

/* Keys every backend section may set, whatever its type. */
static const char *const common_keys[] = {"type", "tokens", NULL};

/* The policy layer's keys, when it is linked in. */
extern const char *const hsmux_policy_config_keys[] __attribute__((weak));

static const struct hsmux_backend_ops *const backend_types[] = {
	&hsmux_pkcs11_backend_ops,
	&hsmux_softhsm_backend_ops,
#ifdef HSMUX_HAVE_TPM
	&hsmux_tpm_backend_ops,
#endif
};

static const struct hsmux_backend_ops *find_type(const char *type)
{
	for (size_t i = 0; i < sizeof(backend_types) / sizeof(backend_types[0]); i++)
		if (strcmp(backend_types[i]->type, type) == 0)
			return backend_types[i];
	return NULL;
}

static bool key_in(const char *key, const char *const *keys)
{
	for (size_t i = 0; keys && keys[i]; i++)
		if (strcmp(keys[i], key) == 0)
			return true;
	return false;
}

static const char *section_file(const struct hsmux_config_section *sec)
{
	return sec->file ? sec->file : "(built-in default config)";
}

/* Rejects keys that are neither common to every backend nor defined by this type. */
static CK_RV check_keys(const struct hsmux_config_section *sec,
			const struct hsmux_backend_ops *ops, char *err, size_t len)
{
	for (size_t i = 0; i < sec->n_entries; i++) {
		const char *key = sec->entries[i].key;

		if (key_in(key, common_keys) || key_in(key, ops->keys) ||
		    key_in(key, hsmux_policy_config_keys))
			continue;
		snprintf(err, len, "%s:%u: unknown key '%s' for a backend of type '%s'; remove it "
			 "or check its spelling", section_file(sec), sec->entries[i].line, key,
			 ops->type);
		return CKR_GENERAL_ERROR;
	}
	return CKR_OK;
}

static CK_RV create_backend(struct hsmux_backend *be, const struct hsmux_config_section *sec,
			    char *err, size_t len)
{
	unsigned int line = sec->line;
	const char *type = hsmux_config_get(sec, "type", &line);
	CK_RV rv;

	be->name = strdup(sec->name);
	if (!be->name)
		return CKR_HOST_MEMORY;
	if (!type) {
		snprintf(err, len, "%s:%u: backend '%s' has no 'type'; add 'type = softhsm', "
			 "'type = pkcs11' or 'type = tpm'", section_file(sec), sec->line,
			 sec->name);
		return CKR_GENERAL_ERROR;
	}
	be->ops = find_type(type);
	if (!be->ops) {
		snprintf(err, len, "%s:%u: backend '%s' has unknown type '%s'; use softhsm, "
			 "pkcs11 or tpm", section_file(sec), line, sec->name, type);
		return CKR_GENERAL_ERROR;
	}
	rv = check_keys(sec, be->ops, err, len);
	if (rv != CKR_OK)
		return rv;
	rv = hsmux_policy_config(&be->policy, sec, err, len);
	if (rv != CKR_OK)
		return rv;
	hsmux_trace(HSMUX_TRACE_CONFIG, "backend '%s' of type %s", be->name, type);
	return be->ops->create(be, sec, err, len);
}

static void destroy_backends(struct hsmux_backend *backends, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		if (backends[i].ops && backends[i].priv)
			backends[i].ops->destroy(&backends[i]);
		hsmux_policy_free(backends[i].policy);
		free(backends[i].name);
	}
	free(backends);
}

static CK_RV create_backends(struct hsmux_config *cfg, struct hsmux_backend **out, size_t *n_out)
{
	struct hsmux_backend *backends = calloc(cfg->n_sections, sizeof(*backends));
	char err[512] = "";
	CK_RV rv = CKR_OK;
	size_t n;

	if (!backends)
		return CKR_HOST_MEMORY;
	for (n = 0; n < cfg->n_sections; n++) {
		backends[n].index = (unsigned int)n;
		rv = create_backend(&backends[n], &cfg->sections[n], err, sizeof(err));
		if (rv != CKR_OK)
			break;
	}
	if (rv != CKR_OK) {
		if (err[0])
			hsmux_error("%s", err);
		destroy_backends(backends, n + 1);
		return rv == CKR_HOST_MEMORY ? rv : CKR_GENERAL_ERROR;
	}
	*out = backends;
	*n_out = n;
	return CKR_OK;
}

/* A backend section's token filter: "tokens = A, B". NULL when unset. */
static bool token_allowed(struct hsmux_backend *be, const struct hsmux_config_section *sec,
			  CK_SLOT_ID bslot)
{
	const char *filter = hsmux_config_get(sec, "tokens", NULL);
	CK_TOKEN_INFO info;
	char label[33];
	char *copy, *save = NULL;
	bool found = false;
	size_t len;

	if (!filter)
		return true;
	if (be->ops->get_token_info(be, bslot, &info) != CKR_OK)
		return false;
	memcpy(label, info.label, 32);
	len = 32;
	while (len > 0 && label[len - 1] == ' ')
		len--;
	label[len] = '\0';
	copy = strdup(filter);
	if (!copy)
		return false;
	for (char *tok = strtok_r(copy, ",", &save); tok && !found;
	     tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		size_t n = strlen(tok);
		while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
			tok[--n] = '\0';
		found = strcmp(tok, label) == 0;
	}
	free(copy);
	return found;
}

/* Asks one backend for its slots, unlocked; *out is malloc'd. */
static CK_RV backend_slots(struct hsmux_backend *be, CK_BBOOL present, CK_SLOT_ID **out,
			   CK_ULONG *n_out)
{
	CK_SLOT_ID *list = NULL;
	CK_ULONG n = 0;
	CK_RV rv;

	for (int tries = 0; tries < 4; tries++) {
		rv = be->ops->get_slot_list(be, present, NULL, &n);
		if (rv != CKR_OK)
			return rv;
		free(list);
		list = calloc(n ? n : 1, sizeof(*list));
		if (!list)
			return CKR_HOST_MEMORY;
		rv = be->ops->get_slot_list(be, present, list, &n);
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;
	}
	if (rv != CKR_OK) {
		free(list);
		return rv;
	}
	*out = list;
	*n_out = n;
	return CKR_OK;
}

static bool slot_known_locked(CK_SLOT_ID vslot)
{
	for (size_t i = 0; i < router.n_slots; i++)
		if (router.slots[i].vslot == vslot)
			return true;
	return false;
}

static CK_RV slot_remember(struct hsmux_backend *be, CK_SLOT_ID bslot)
{
	CK_SLOT_ID vslot = hsmux_vslot(be, bslot);
	struct slot_entry *grown;
	CK_RV rv = CKR_OK;

	pthread_mutex_lock(&router.lock);
	if (!slot_known_locked(vslot)) {
		grown = realloc(router.slots, (router.n_slots + 1) * sizeof(*grown));
		if (grown) {
			router.slots = grown;
			router.slots[router.n_slots++] =
				(struct slot_entry){.vslot = vslot, .be = be, .bslot = bslot};
		} else {
			rv = CKR_HOST_MEMORY;
		}
	}
	pthread_mutex_unlock(&router.lock);
	return rv;
}

/* Appends one backend's visible slots to list (when not NULL) and counts them. */
static CK_RV collect_slots(struct hsmux_backend *be, const struct hsmux_config_section *sec,
			   CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG cap, CK_ULONG *n)
{
	CK_SLOT_ID *bslots;
	CK_ULONG nb;
	CK_RV rv = backend_slots(be, present, &bslots, &nb);

	if (rv != CKR_OK)
		return rv;
	for (CK_ULONG i = 0; i < nb && rv == CKR_OK; i++) {
		if (bslots[i] > 0xFFFFFFFFUL) {
			hsmux_trace(HSMUX_TRACE_BACKEND, "backend '%s': slot %lu does not fit a "
				    "virtual slot ID; skipped", be->name, bslots[i]);
			continue;
		}
		if (!token_allowed(be, sec, bslots[i]))
			continue;
		rv = slot_remember(be, bslots[i]);
		if (list && *n < cap)
			list[*n] = hsmux_vslot(be, bslots[i]);
		(*n)++;
	}
	free(bslots);
	return rv;
}

CK_RV hsmux_router_slot_list(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	struct hsmux_gate_shard *gate;
	CK_ULONG n = 0;
	CK_RV rv = CKR_OK;

	if (!hsmux_router_ready())
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	gate = hsmux_gate_enter(0);
	for (size_t i = 0; i < router.n_backends; i++) {
		rv = collect_slots(&router.backends[i], &router.cfg->sections[i], present, list,
				   list ? *count : 0, &n);
		if (rv != CKR_OK)
			break;
	}
	hsmux_gate_leave(gate);
	if (rv != CKR_OK)
		return rv;
	if (list && n > *count) {
		*count = n;
		return CKR_BUFFER_TOO_SMALL;
	}
	*count = n;
	return CKR_OK;
}

CK_RV hsmux_slot_get(CK_SLOT_ID vslot, struct hsmux_slot_ref *ref)
{
	CK_RV rv = CKR_SLOT_ID_INVALID;

	/* Set first: the caller's hsmux_slot_put() reads it on every path. */
	ref->gate = NULL;
	if (!hsmux_router_ready())
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	pthread_mutex_lock(&router.lock);
	for (size_t i = 0; i < router.n_slots; i++) {
		if (router.slots[i].vslot == vslot) {
			ref->be = router.slots[i].be;
			ref->bslot = router.slots[i].bslot;
			rv = CKR_OK;
			break;
		}
	}
	pthread_mutex_unlock(&router.lock);
	if (rv == CKR_OK)
		ref->gate = hsmux_gate_enter(vslot);
	return rv;
}

size_t hsmux_router_backend_count(void)
{
	return router.n_backends;
}

struct hsmux_backend *hsmux_router_backend(size_t i)
{
	return i < router.n_backends ? &router.backends[i] : NULL;
}

/* In a child after fork(): the backends stay loaded and start again. */
static CK_RV reinit_after_fork_locked(void)
{
	CK_RV rv;

	router.forked = false;
	sessions_clear_locked();
	hsmux_policy_forget_all();
	for (size_t i = 0; i < router.n_backends; i++) {
		struct hsmux_backend *be = &router.backends[i];

		if (!be->ops->reinit_after_fork)
			continue;
		rv = be->ops->reinit_after_fork(be);
		if (rv != CKR_OK) {
			hsmux_error("backend '%s' failed to start again after fork(): %s",
				    be->name, hsmux_rv_name(rv));
			return rv;
		}
	}
	return CKR_OK;
}

static CK_RV first_init_locked(void)
{
	struct hsmux_config *cfg;
	char err[512];
	CK_ULONG n;
	CK_RV rv;

	if (hsmux_config_load(&cfg, err, sizeof(err)) != 0) {
		hsmux_error("%s", err);
		return CKR_GENERAL_ERROR;
	}
	hsmux_trace(HSMUX_TRACE_CONFIG, "config %s, %zu backends",
		    cfg->path ? cfg->path : "(built-in default)", cfg->n_sections);
	rv = create_backends(cfg, &router.backends, &router.n_backends);
	if (rv != CKR_OK) {
		hsmux_config_free(cfg);
		return rv;
	}
	router.cfg = cfg;

	/* The ready flag must be up for the slot walk; drop it again if the walk fails. */
	atomic_store(&hsmux_sessions.ready, true);
	rv = hsmux_router_slot_list(CK_FALSE, NULL, &n);
	if (rv != CKR_OK) {
		atomic_store(&hsmux_sessions.ready, false);
		hsmux_error("listing the slots of the backends failed: %s", hsmux_rv_name(rv));
		destroy_backends(router.backends, router.n_backends);
		hsmux_policy_forget_all();
		router.backends = NULL;
		router.n_backends = 0;
		hsmux_config_free(cfg);
		router.cfg = NULL;
	}
	return rv;
}

CK_RV hsmux_router_init(void)
{
	CK_RV rv;

	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&init_lock);
	if (hsmux_router_ready()) {
		rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
	} else if (router.forked) {
		hsmux_trace_init();
		rv = reinit_after_fork_locked();
		if (rv == CKR_OK)
			atomic_store(&hsmux_sessions.ready, true);
	} else {
		hsmux_trace_init();
		rv = first_init_locked();
	}
	pthread_mutex_unlock(&init_lock);
	return rv;
}

CK_RV hsmux_router_finalize(void)
{
	pthread_mutex_lock(&init_lock);
	if (!hsmux_router_ready()) {
		pthread_mutex_unlock(&init_lock);
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	}
	atomic_store(&hsmux_sessions.ready, false);
	router.forked = false;

	pthread_mutex_lock(&router.lock);
	sessions_clear_locked();
	free(router.slots);
	router.slots = NULL;
	router.n_slots = 0;
	pthread_mutex_unlock(&router.lock);

	destroy_backends(router.backends, router.n_backends);
	hsmux_policy_forget_all();
	router.backends = NULL;
	router.n_backends = 0;
	hsmux_config_free(router.cfg);
	router.cfg = NULL;
	hsmux_trace_cleanup();
	pthread_mutex_unlock(&init_lock);
	return CKR_OK;
}
