/*
 * The tools/cli.h functions that byok_p11.c calls, for unit tests of its
 * pure functions (URIs, kids, hex). None of them may be reached.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "tools/cli.h"

int cli_find_token(struct cli *cli, const char *token, CK_SLOT_ID *slot)
{
	abort();
}

int cli_login(struct cli *cli, CK_SLOT_ID slot, CK_USER_TYPE user, const char *pin_file,
              CK_SESSION_HANDLE *session)
{
	abort();
}

void cli_field_string(const CK_UTF8CHAR *field, size_t field_len, char *buf)
{
	abort();
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *cli_rv_name(CK_RV rv)
{
	return "CKR_?";
}
