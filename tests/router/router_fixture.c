#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "router_fixture.h"

const char *fixture_module_path;
const char *fixture_softhsm_path;
CK_FUNCTION_LIST_PTR fl;
char fixture_dir[256];

bool fixture_load(void)
{
	void *dl = dlopen(fixture_module_path, RTLD_NOW | RTLD_LOCAL);
	CK_C_GetFunctionList get;

	if (!dl) {
		fprintf(stderr, "cannot load %s: %s\n", fixture_module_path, dlerror());
		return false;
	}
	get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	return get && get(&fl) == CKR_OK;
}

void fixture_config(const char *text)
{
	char path[512];
	FILE *f;

	snprintf(fixture_dir, sizeof(fixture_dir), "/tmp/hsmux-router-XXXXXX");
	if (!mkdtemp(fixture_dir))
		abort();
	snprintf(path, sizeof(path), "%s/hsmux.conf", fixture_dir);
	f = fopen(path, "w");
	if (!f)
		abort();
	for (const char *p = text; *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			fputs(fixture_dir, f);
			p++;
		} else {
			fputc(*p, f);
		}
	}
	fclose(f);
	setenv("HSMUX_CONF", path, 1);
}

CK_RV fixture_init(void)
{
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};

	return fl->C_Initialize(&args);
}

bool fixture_slot(const char *prefix, bool want_token, CK_SLOT_ID *slot)
{
	CK_SLOT_ID slots[32];
	CK_ULONG n = 32;

	if (fl->C_GetSlotList(CK_FALSE, slots, &n) != CKR_OK)
		return false;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_SLOT_INFO si;
		CK_TOKEN_INFO ti;
		bool has_token;

		if (fl->C_GetSlotInfo(slots[i], &si) != CKR_OK)
			continue;
		if (strncmp((char *)si.slotDescription, prefix, strlen(prefix)) != 0)
			continue;
		has_token = fl->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
			    (ti.flags & CKF_TOKEN_INITIALIZED);
		if (has_token == want_token) {
			*slot = slots[i];
			return true;
		}
	}
	return false;
}

bool fixture_token(const char *backend, const char *label, CK_SLOT_ID *slot)
{
	char prefix[64], padded[32];
	CK_SESSION_HANDLE s;
	bool ok;

	snprintf(prefix, sizeof(prefix), "hsmux %s:", backend);
	if (!fixture_slot(prefix, false, slot))
		return false;
	memset(padded, ' ', sizeof(padded));
	memcpy(padded, label, strlen(label));
	if (fl->C_InitToken(*slot, (CK_UTF8CHAR_PTR) "1234", 4, (CK_UTF8CHAR_PTR)padded) != CKR_OK)
		return false;
	if (fl->C_OpenSession(*slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK)
		return false;
	ok = fl->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR) "1234", 4) == CKR_OK &&
	     fl->C_InitPIN(s, (CK_UTF8CHAR_PTR) "1111", 4) == CKR_OK;
	fl->C_CloseSession(s);
	return ok;
}

CK_SESSION_HANDLE fixture_login(CK_SLOT_ID slot)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_RV rv;

	rv = fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	CU_ASSERT_EQUAL(rv, CKR_OK);
	rv = fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "1111", 4);
	CU_ASSERT(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
	return s;
}

bool fixture_ec_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	/* DER of the OID of prime256v1 */
	static CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE pub_tmpl[] = {
		{CKA_EC_PARAMS, p256, sizeof(p256)},
		{CKA_VERIFY, &yes, sizeof(yes)},
		{CKA_TOKEN, &no, sizeof(no)},
	};
	CK_ATTRIBUTE priv_tmpl[] = {
		{CKA_SIGN, &yes, sizeof(yes)},
		{CKA_TOKEN, &no, sizeof(no)},
		{CKA_SENSITIVE, &yes, sizeof(yes)},
		{CKA_EXTRACTABLE, &no, sizeof(no)},
	};

	return fl->C_GenerateKeyPair(s, &mech, pub_tmpl, 3, priv_tmpl, 4, pub, priv) == CKR_OK;
}
