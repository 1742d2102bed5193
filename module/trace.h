/*
 * Tracing and user-facing errors. HSMUX_DEBUG is read once, at
 * C_Initialize: "all", "help", or a comma list of categories (call, config,
 * backend, policy, mech, admin). HSMUX_DEBUG_FILE sends the trace to a file
 * instead of stderr. A trace line never holds a PIN or a key byte: callers
 * pass handles, lengths, mechanism types and return values only.
 */
#ifndef HSMUX_TRACE_H
#define HSMUX_TRACE_H

#include "hsmux/pkcs11.h"

enum hsmux_trace_category {
	HSMUX_TRACE_CALL = 1u << 0,
	HSMUX_TRACE_CONFIG = 1u << 1,
	HSMUX_TRACE_BACKEND = 1u << 2,
	HSMUX_TRACE_POLICY = 1u << 3,
	HSMUX_TRACE_MECH = 1u << 4,
	HSMUX_TRACE_ADMIN = 1u << 5,
};

extern unsigned int hsmux_trace_mask;

/* Reads HSMUX_DEBUG and HSMUX_DEBUG_FILE. */
void hsmux_trace_init(void);
void hsmux_trace_cleanup(void);

void hsmux_trace_printf(unsigned int category, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Costs one load and a branch when the category is off. */
#define hsmux_trace(category, ...)                                                                 \
	do {                                                                                       \
		if (hsmux_trace_mask & (category))                                                 \
			hsmux_trace_printf((category), __VA_ARGS__);                               \
	} while (0)

/* One line for a failure the user must fix: to stderr, and to the trace. */
void hsmux_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Spec names, for trace lines and tool messages. Unknown values give "unknown". */
const char *hsmux_rv_name(CK_RV rv);
const char *hsmux_mech_name(CK_MECHANISM_TYPE mech);

#endif /* HSMUX_TRACE_H */
