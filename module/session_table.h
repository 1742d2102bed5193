/*
 * The session table, read on every call without a lock. Only router.c
 * writes it; this header exists so that the look-up is inlined into each
 * C_* function.
 *
 * Sessions live in pages that are never moved. Each entry carries a
 * sequence number, odd while a writer changes it: a reader copies the entry
 * and retries if the number moved meanwhile. Writers hold the router lock.
 */
#ifndef HSMUX_SESSION_TABLE_H
#define HSMUX_SESSION_TABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "module/gate.h"

#define HSMUX_SESSION_PAGE_SIZE 256
#define HSMUX_SESSION_PAGES 4096
#define HSMUX_SESSION_INDEX_BITS 24
#define HSMUX_SESSION_INDEX_MASK ((1UL << HSMUX_SESSION_INDEX_BITS) - 1)

struct hsmux_session_entry {
	_Atomic unsigned int seq;
	bool used;
	unsigned long gen;
	struct hsmux_session_ref ref;
};

struct hsmux_session_page {
	struct hsmux_session_entry entries[HSMUX_SESSION_PAGE_SIZE];
};

struct hsmux_session_table {
	atomic_bool ready;
	_Atomic(struct hsmux_session_page *) pages[HSMUX_SESSION_PAGES];
};

extern struct hsmux_session_table hsmux_sessions;

static inline bool hsmux_router_ready(void)
{
	return atomic_load_explicit(&hsmux_sessions.ready, memory_order_acquire);
}

static inline struct hsmux_session_entry *hsmux_session_entry_at(size_t idx)
{
	struct hsmux_session_page *page;

	if (idx >= (size_t)HSMUX_SESSION_PAGES * HSMUX_SESSION_PAGE_SIZE)
		return NULL;
	page = atomic_load_explicit(&hsmux_sessions.pages[idx / HSMUX_SESSION_PAGE_SIZE],
				    memory_order_acquire);
	if (!page)
		return NULL;
	return &page->entries[idx % HSMUX_SESSION_PAGE_SIZE];
}

static inline CK_RV hsmux_session_get(CK_SESSION_HANDLE h, struct hsmux_session_ref *ref)
{
	struct hsmux_session_entry *e;
	unsigned int seq;
	unsigned long gen;
	bool used;

	ref->gate = NULL;
	if (!hsmux_router_ready())
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	e = hsmux_session_entry_at((h & HSMUX_SESSION_INDEX_MASK) - 1);
	if (!e)
		return CKR_SESSION_HANDLE_INVALID;
	do {
		seq = atomic_load_explicit(&e->seq, memory_order_acquire);
		used = e->used;
		gen = e->gen;
		*ref = e->ref;
		atomic_thread_fence(memory_order_acquire);
	} while ((seq & 1) || seq != atomic_load_explicit(&e->seq, memory_order_relaxed));
	if (!used || gen != h >> HSMUX_SESSION_INDEX_BITS)
		return CKR_SESSION_HANDLE_INVALID;
	ref->gate = hsmux_gate_enter(h);
	return CKR_OK;
}

static inline void hsmux_session_put(struct hsmux_session_ref *ref)
{
	if (ref->gate)
		hsmux_gate_leave(ref->gate);
	ref->gate = NULL;
}

#endif /* HSMUX_SESSION_TABLE_H */
