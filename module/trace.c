#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "module/trace.h"

unsigned int hsmux_trace_mask;
static FILE *trace_file;

static const struct {
	const char *name;
	unsigned int bit;
} trace_categories[] = {
	{"call", HSMUX_TRACE_CALL},     {"config", HSMUX_TRACE_CONFIG},
	{"backend", HSMUX_TRACE_BACKEND}, {"policy", HSMUX_TRACE_POLICY},
	{"mech", HSMUX_TRACE_MECH},     {"admin", HSMUX_TRACE_ADMIN},
};

static unsigned int parse_categories(const char *spec)
{
	unsigned int mask = 0;
	char *copy = strdup(spec);
	char *save = NULL;

	if (!copy)
		return 0;
	for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		if (strcmp(tok, "all") == 0 || strcmp(tok, "1") == 0) {
			mask = ~0u;
			continue;
		}
		for (size_t i = 0; i < sizeof(trace_categories) / sizeof(trace_categories[0]); i++)
			if (strcmp(tok, trace_categories[i].name) == 0)
				mask |= trace_categories[i].bit;
	}
	free(copy);
	return mask;
}

void hsmux_trace_init(void)
{
	const char *spec = secure_getenv("HSMUX_DEBUG");
	const char *path = secure_getenv("HSMUX_DEBUG_FILE");

	hsmux_trace_mask = 0;
	if (!spec || !*spec)
		return;
	if (strcmp(spec, "help") == 0) {
		fprintf(stderr, "HSMUX_DEBUG takes 'all' or a comma list of: call, config, "
				"backend, policy, mech, admin. HSMUX_DEBUG_FILE=PATH writes "
				"the trace to PATH instead of stderr.\n");
		return;
	}
	hsmux_trace_mask = parse_categories(spec);
	if (path && *path && !trace_file)
		trace_file = fopen(path, "ae");
}

void hsmux_trace_cleanup(void)
{
	if (trace_file)
		fclose(trace_file);
	trace_file = NULL;
	hsmux_trace_mask = 0;
}

__attribute__((format(printf, 2, 0)))
static void trace_vwrite(const char *prefix, const char *fmt, va_list ap)
{
	FILE *out = trace_file ? trace_file : stderr;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	flockfile(out);
	fprintf(out, "hsmux[%ld.%06ld] %s", (long)ts.tv_sec, ts.tv_nsec / 1000, prefix);
	vfprintf(out, fmt, ap);
	fputc('\n', out);
	funlockfile(out);
	fflush(out);
}

void hsmux_trace_printf(unsigned int category, const char *fmt, ...)
{
	const char *prefix = "";
	va_list ap;

	for (size_t i = 0; i < sizeof(trace_categories) / sizeof(trace_categories[0]); i++)
		if (trace_categories[i].bit == category)
			prefix = trace_categories[i].name;
	char buf[16];
	snprintf(buf, sizeof(buf), "%s: ", prefix);
	va_start(ap, fmt);
	trace_vwrite(buf, fmt, ap);
	va_end(ap);
}

void hsmux_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("hsmux: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (hsmux_trace_mask && trace_file) {
		va_start(ap, fmt);
		trace_vwrite("error: ", fmt, ap);
		va_end(ap);
	}
}
