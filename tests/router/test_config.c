/* Unit tests of the config parser: values, line numbers and messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "module/config.h"

static char dir[64];

static const char *write_conf(const char *name, const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_config_values(void)
{
	struct hsmux_config *cfg;
	char err[512];
	unsigned int line = 0;
	const char *path = write_conf("ok.conf", "; comment\n[backend:soft]\ntype = softhsm\n"
						 "store = /x/y\n\n[backend:v]\ntype=pkcs11\n"
						 "module = /m.so ; trailing comment\n");

	CU_ASSERT_EQUAL_FATAL(hsmux_config_parse_file(path, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg->n_sections, 2);
	CU_ASSERT_STRING_EQUAL(cfg->sections[0].name, "soft");
	CU_ASSERT_STRING_EQUAL(hsmux_config_get(&cfg->sections[0], "store", &line), "/x/y");
	CU_ASSERT_EQUAL(line, 4);
	CU_ASSERT_STRING_EQUAL(hsmux_config_get(&cfg->sections[1], "module", &line), "/m.so");
	CU_ASSERT_EQUAL(line, 8);
	CU_ASSERT_PTR_NULL(hsmux_config_get(&cfg->sections[1], "store", NULL));
	hsmux_config_free(cfg);
}

static void check_error(const char *text, const char *expect)
{
	struct hsmux_config *cfg = NULL;
	char err[512] = "";
	char want[256];
	const char *path = write_conf("bad.conf", text);

	snprintf(want, sizeof(want), "%s:%s", path, expect);
	CU_ASSERT_EQUAL(hsmux_config_parse_file(path, &cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NULL(cfg);
	if (!strstr(err, want))
		fprintf(stderr, "\n  got: %s\n  want: %s\n", err, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
}

static void test_config_errors(void)
{
	check_error("[backend:a]\ntype = softhsm\n[other]\nx = 1\n", "4: unknown section '[other]'");
	check_error("[backend:a]\ntype = softhsm\ntype = pkcs11\n", "3: key 'type' is set twice");
	check_error("[backend:a]\ntype = softhsm\nno equals sign here\n", "3: syntax error");
	check_error("[backend:]\ntype = softhsm\n", "2: unknown section '[backend:]'");
	check_error("; nothing\n", " no [backend:NAME] section");
}

static void test_config_missing_file(void)
{
	struct hsmux_config *cfg = NULL;
	char err[512] = "";

	CU_ASSERT_EQUAL(hsmux_config_parse_file("/nonexistent/h.conf", &cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/h.conf: cannot read the config"));
}

/* With no file anywhere, the default is one softhsm backend. */
static void test_config_default(void)
{
	struct hsmux_config *cfg = NULL;
	char err[512], data[512];

	unsetenv("HSMUX_CONF");
	setenv("XDG_CONFIG_HOME", dir, 1);
	CU_ASSERT_EQUAL_FATAL(hsmux_config_load(&cfg, err, sizeof(err)), 0);
	if (access("/etc/hsmux/hsmux.conf", F_OK) != 0) {
		CU_ASSERT_PTR_NULL(cfg->path);
		CU_ASSERT_EQUAL(cfg->n_sections, 1);
		CU_ASSERT_STRING_EQUAL(hsmux_config_get(&cfg->sections[0], "type", NULL),
				       "softhsm");
	}
	hsmux_config_free(cfg);
	setenv("XDG_DATA_HOME", "/d", 1);
	CU_ASSERT(hsmux_data_dir(data, sizeof(data)));
	CU_ASSERT_STRING_EQUAL(data, "/d/hsmux");
	unsetenv("XDG_DATA_HOME");
	setenv("HOME", "/home/u", 1);
	CU_ASSERT(hsmux_data_dir(data, sizeof(data)));
	CU_ASSERT_STRING_EQUAL(data, "/home/u/.local/share/hsmux");
}

int main(void)
{
	CU_pSuite suite;
	unsigned int failed;

	snprintf(dir, sizeof(dir), "/tmp/hsmux-config-XXXXXX");
	if (!mkdtemp(dir) || CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite = CU_add_suite("config", NULL, NULL);
	CU_add_test(suite, "config values", test_config_values);
	CU_add_test(suite, "config errors", test_config_errors);
	CU_add_test(suite, "config missing file", test_config_missing_file);
	CU_add_test(suite, "config default", test_config_default);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
