/*
 * Helpers shared by the files that hold the exported C_* functions:
 * argument-check shorthands, the backend call, and the call trace.
 */
#ifndef HSMUX_ENTRY_H
#define HSMUX_ENTRY_H

#include "module/router.h"
#include "module/trace.h"

/* Calls op of the session's backend, or gives CKR_FUNCTION_NOT_SUPPORTED when it lacks op. */
#define BACKEND_CALL(s, op, ...)                                                                   \
	((s).be->ops->op ? (s).be->ops->op((s).be, (s).bsess __VA_OPT__(,) __VA_ARGS__)                         \
			 : CKR_FUNCTION_NOT_SUPPORTED)

/* The same, for ops that take a backend slot. */
#define BACKEND_SLOT_CALL(sl, op, ...)                                                             \
	((sl).be->ops->op ? (sl).be->ops->op((sl).be, (sl).bslot __VA_OPT__(,) __VA_ARGS__)                     \
			  : CKR_FUNCTION_NOT_SUPPORTED)

/* Traces a finished call when call tracing is on, and gives rv back. */
static inline CK_RV traced(const char *fn, unsigned long handle, CK_RV rv)
{
	if (hsmux_trace_mask & HSMUX_TRACE_CALL)
		hsmux_trace_printf(HSMUX_TRACE_CALL, "%s(%lu) = %s", fn, handle,
				   hsmux_rv_name(rv));
	return rv;
}

/* Leaves the fork gate that hsmux_session_get() entered, then traces. */
static inline CK_RV session_done(struct hsmux_session_ref *s, const char *fn, unsigned long handle,
				 CK_RV rv)
{
	hsmux_session_put(s);
	return traced(fn, handle, rv);
}

/* Leaves the fork gate that hsmux_slot_get() entered, then traces. */
static inline CK_RV slot_done(struct hsmux_slot_ref *sl, const char *fn, unsigned long handle,
			      CK_RV rv)
{
	hsmux_slot_put(sl);
	return traced(fn, handle, rv);
}

/* A (pointer, length) pair is bad when the length promises data and the pointer is NULL. */
static inline bool bad_buf(const void *p, CK_ULONG len)
{
	return !p && len;
}

/* The 3.0 C_GetInfo, reachable only through the 3.0 function list. */
CK_RV hsmux_get_info_30(CK_INFO_PTR info);

#endif /* HSMUX_ENTRY_H */
