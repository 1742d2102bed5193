#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "tpm_unit.h"

bool tpm_unit_config_init(struct tpm_unit_config *c, const char *prefix,
                          unsigned int da_max_tries)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "/tmp/%s-XXXXXX", prefix);
	if (!mkdtemp(c->dir))
		return false;
	snprintf(c->tcti, sizeof(c->tcti), "libtpms:%s", c->dir);
	snprintf(c->da_max_tries, sizeof(c->da_max_tries), "%u", da_max_tries);
	c->entries[0] = (struct hsmux_config_entry){.key = "type", .value = "tpm", .line = 2};
	c->entries[1] = (struct hsmux_config_entry){.key = "tcti", .value = c->tcti, .line = 3};
	c->entries[2] = (struct hsmux_config_entry){
	    .key = "da_max_tries", .value = c->da_max_tries, .line = 4};
	c->entries[3] = (struct hsmux_config_entry){
	    .key = "da_lockout_recovery", .value = "1", .line = 5};
	c->section = (struct hsmux_config_section){
	    .name = "tpm", .file = "test.conf", .line = 1, .entries = c->entries, .n_entries = 4};
	return true;
}

void tpm_unit_start(struct hsmux_backend *be, const struct hsmux_config_section *section)
{
	char err[512] = "";
	CK_RV rv;

	memset(be, 0, sizeof(*be));
	be->ops = &hsmux_tpm_backend_ops;
	be->name = "tpm";
	rv = be->ops->create(be, section, err, sizeof(err));
	if (rv != CKR_OK)
		fprintf(stderr, "create: %s\n", err);
	CU_ASSERT_FATAL(rv == CKR_OK);
}

CK_SESSION_HANDLE tpm_unit_open_rw(struct hsmux_backend *be)
{
	CK_SESSION_HANDLE s = 0;

	CU_ASSERT_EQUAL_FATAL(
	    be->ops->open_session(be, 0, CKF_SERIAL_SESSION | CKF_RW_SESSION, &s), CKR_OK);
	return s;
}

void tpm_unit_init_token(struct hsmux_backend *be, const char *label, const char *so_pin,
                         const char *user_pin)
{
	CK_UTF8CHAR padded[32];
	CK_SESSION_HANDLE s;

	memset(padded, ' ', sizeof(padded));
	memcpy(padded, label, strnlen(label, sizeof(padded)));
	CU_ASSERT_EQUAL_FATAL(be->ops->init_token(be, 0, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin),
	                                          padded),
	                      CKR_OK);
	s = tpm_unit_open_rw(be);
	CU_ASSERT_EQUAL_FATAL(
	    be->ops->login(be, s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin)), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(
	    be->ops->init_pin(be, s, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin)), CKR_OK);
	CU_ASSERT_EQUAL(be->ops->close_session(be, s), CKR_OK);
}
