/*
 * The trace functions that module/mech calls, for unit tests that link the
 * mech layer without the rest of the module. The last line is kept in
 * trace_last for the tests to check; HSMUX_DEBUG=mech also prints it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module/trace.h"

unsigned int hsmux_trace_mask = HSMUX_TRACE_MECH;
char trace_last[512];

void hsmux_trace_printf(unsigned int category, const char *fmt, ...)
{
	const char *debug = getenv("HSMUX_DEBUG");
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(trace_last, sizeof(trace_last), fmt, ap);
	va_end(ap);
	if (debug && (strstr(debug, "mech") || strstr(debug, "all")))
		fprintf(stderr, "hsmux: %s\n", trace_last);
}

const char *hsmux_rv_name(CK_RV rv)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "CKR_0x%lx", (unsigned long)rv);
	return buf;
}

const char *hsmux_mech_name(CK_MECHANISM_TYPE mech)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "CKM_0x%lx", (unsigned long)mech);
	return buf;
}
