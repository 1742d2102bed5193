/*
 * The router: backends, virtual slots and session handles.
 *
 * Virtual slot IDs are (backend index << 32) | backend slot ID, so the
 * first backend's slots keep their own IDs and every ID is stable for as
 * long as the backend keeps its own. Session handles are hsmux's: an index
 * into the session table plus a generation, so that a closed handle never
 * reaches a backend. Object handles pass through unchanged within a slot.
 *
 * The table lock is held only while a handle is translated or changed;
 * every backend call runs unlocked. Session look-ups take no lock at all.
 */
#ifndef HSMUX_ROUTER_H
#define HSMUX_ROUTER_H

#include <stdbool.h>

#include "backends/backend.h"
#include "hsmux/pkcs11.h"
#include "module/gate.h"

#define HSMUX_SLOT_BACKEND_SHIFT 32

/* A session, as the router's look-up hands it out: a copy, safe to use unlocked. */
struct hsmux_session_ref {
	struct hsmux_backend *be;
	CK_SESSION_HANDLE bsess;
	CK_SLOT_ID vslot;
	struct hsmux_gate_shard *gate; /* entered by the look-up; left by hsmux_session_put() */
};

/* A virtual slot, as the router's look-up hands it out. */
struct hsmux_slot_ref {
	struct hsmux_backend *be;
	CK_SLOT_ID bslot;
	struct hsmux_gate_shard *gate; /* entered by the look-up; left by hsmux_slot_put() */
};

/*
 * Reads the config, creates every backend and enumerates their slots.
 * Called by C_Initialize; a second call without C_Finalize returns
 * CKR_CRYPTOKI_ALREADY_INITIALIZED. A bad config gives CKR_GENERAL_ERROR and
 * one line on stderr and in the trace.
 */
CK_RV hsmux_router_init(void);

/* Ends every backend. Sessions still open are closed by the backends. */
CK_RV hsmux_router_finalize(void);

/*
 * hsmux_router_ready() and hsmux_session_get(), the look-ups on every call,
 * are inline in session_table.h. hsmux_session_get() translates a session
 * handle and returns CKR_CRYPTOKI_NOT_INITIALIZED or CKR_SESSION_HANDLE_INVALID.
 */
#include "module/session_table.h"

/*
 * Translates a virtual slot ID. Returns CKR_CRYPTOKI_NOT_INITIALIZED or
 * CKR_SLOT_ID_INVALID. On success the caller is inside the fork gate
 * (module/gate.h) until hsmux_slot_put(); the same holds for
 * hsmux_session_get() and hsmux_session_put(). Every backend call happens
 * between the two.
 */
CK_RV hsmux_slot_get(CK_SLOT_ID vslot, struct hsmux_slot_ref *ref);

static inline void hsmux_slot_put(struct hsmux_slot_ref *ref)
{
	if (ref->gate)
		hsmux_gate_leave(ref->gate);
	ref->gate = NULL;
}

/* Records a new backend session and returns its hsmux handle in *h. */
CK_RV hsmux_session_add(const struct hsmux_session_ref *ref, CK_SESSION_HANDLE *h);

/* Forgets a session handle; *ref gets what it mapped to. */
CK_RV hsmux_session_remove(CK_SESSION_HANDLE h, struct hsmux_session_ref *ref);

/* Forgets every session of a virtual slot. */
void hsmux_session_remove_slot(CK_SLOT_ID vslot);

/*
 * Lists the virtual slots of every backend, asking the backends again, as
 * C_GetSlotList does. *count is in/out as in the spec.
 */
CK_RV hsmux_router_slot_list(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count);

/* The backends, for the admin interface and status. Valid until C_Finalize. */
size_t hsmux_router_backend_count(void);
struct hsmux_backend *hsmux_router_backend(size_t i);

static inline CK_SLOT_ID hsmux_vslot(const struct hsmux_backend *be, CK_SLOT_ID bslot)
{
	return ((CK_SLOT_ID)be->index << HSMUX_SLOT_BACKEND_SHIFT) | (bslot & 0xFFFFFFFFUL);
}

#endif /* HSMUX_ROUTER_H */
