/*
 * Unit tests of the CLI helpers that parse input: slot descriptions, blank-
 * padded PKCS#11 text fields, PIN files and PIN variables, and CK_RV names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "tools/cli.h"

static char tmp_dir[] = "/tmp/hsmux-cli-units-XXXXXX";

static void set_description(CK_SLOT_INFO *info, const char *text)
{
	memset(info, 0, sizeof(*info));
	memset(info->slotDescription, ' ', sizeof(info->slotDescription));
	memcpy(info->slotDescription, text, strlen(text));
}

static void test_slot_backend_hsmux(void)
{
	CK_SLOT_INFO info;
	char name[16], rest[80];

	set_description(&info, "hsmux soft: SoftHSM slot ID 0x1");
	CU_ASSERT_TRUE(cli_slot_backend(&info, name, sizeof(name), rest, sizeof(rest)));
	CU_ASSERT_STRING_EQUAL(name, "soft");
	CU_ASSERT_STRING_EQUAL(rest, "SoftHSM slot ID 0x1");
}

static void test_slot_backend_other_module(void)
{
	CK_SLOT_INFO info;
	char name[16], rest[80];
	static const char *const others[] = {
	    "SoftHSM slot ID 0x0", "hsmux : no name",     "hsmuxsoft: no blank",
	    "hsmux a b: blank",    "hsmux soft no colon", "",
	};

	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		set_description(&info, others[i]);
		CU_ASSERT_FALSE(cli_slot_backend(&info, name, sizeof(name), rest, sizeof(rest)));
		CU_ASSERT_STRING_EQUAL(name, "");
		CU_ASSERT_STRING_EQUAL(rest, others[i]);
	}
}

static void test_slot_backend_name_too_long(void)
{
	CK_SLOT_INFO info;
	char name[8], rest[80];

	set_description(&info, "hsmux eightchr: x");
	CU_ASSERT_FALSE(cli_slot_backend(&info, name, sizeof(name), rest, sizeof(rest)));
	set_description(&info, "hsmux sevench: x");
	CU_ASSERT_TRUE(cli_slot_backend(&info, name, sizeof(name), rest, sizeof(rest)));
	CU_ASSERT_STRING_EQUAL(name, "sevench");
}

static void test_field_string_padding(void)
{
	CK_UTF8CHAR label[32];
	char buf[sizeof(label) + 1];

	memset(label, ' ', sizeof(label));
	memcpy(label, "pay ments", 9);
	cli_field_string(label, sizeof(label), buf);
	CU_ASSERT_STRING_EQUAL(buf, "pay ments");

	memset(label, 'x', sizeof(label));
	cli_field_string(label, sizeof(label), buf);
	CU_ASSERT_EQUAL(strlen(buf), 32);

	memset(label, ' ', sizeof(label));
	cli_field_string(label, sizeof(label), buf);
	CU_ASSERT_STRING_EQUAL(buf, "");
}

/* Writes content to a file in tmp_dir and returns its path in a static buffer. */
static const char *write_file(const char *name, const char *content, size_t len)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
	f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fwrite(content, 1, len, f), len);
	fclose(f);
	return path;
}

static void test_pin_file_line_ends(void)
{
	char pin[CLI_PIN_MAX + 1];

	CU_ASSERT_EQUAL(cli_read_pin("", write_file("lf", "1234\n", 5), NULL, pin, sizeof(pin)), 0);
	CU_ASSERT_STRING_EQUAL(pin, "1234");
	CU_ASSERT_EQUAL(cli_read_pin("", write_file("crlf", "1234\r\n", 6), NULL, pin, sizeof(pin)),
	                0);
	CU_ASSERT_STRING_EQUAL(pin, "1234");
	CU_ASSERT_EQUAL(cli_read_pin("", write_file("none", "1234", 4), NULL, pin, sizeof(pin)), 0);
	CU_ASSERT_STRING_EQUAL(pin, "1234");
	CU_ASSERT_EQUAL(
	    cli_read_pin("", write_file("two", "1234\n5678\n", 10), NULL, pin, sizeof(pin)), 0);
	CU_ASSERT_STRING_EQUAL(pin, "1234");
	/* Blanks inside and around a PIN are part of it. */
	CU_ASSERT_EQUAL(
	    cli_read_pin("", write_file("blank", " 12 34 \n", 8), NULL, pin, sizeof(pin)), 0);
	CU_ASSERT_STRING_EQUAL(pin, " 12 34 ");
}

static void test_pin_file_length_limit(void)
{
	char pin[CLI_PIN_MAX + 1];
	char content[CLI_PIN_MAX + 2];

	memset(content, 'p', sizeof(content));
	content[CLI_PIN_MAX] = '\n';
	CU_ASSERT_EQUAL(
	    cli_read_pin("", write_file("max", content, CLI_PIN_MAX + 1), NULL, pin, sizeof(pin)),
	    0);
	CU_ASSERT_EQUAL(strlen(pin), CLI_PIN_MAX);

	memset(content, 'p', sizeof(content));
	CU_ASSERT_EQUAL(
	    cli_read_pin("", write_file("long", content, CLI_PIN_MAX + 1), NULL, pin, sizeof(pin)),
	    1);
	CU_ASSERT_EQUAL(pin[0], '\0'); /* wiped on failure */
}

static void test_pin_file_bad(void)
{
	char pin[CLI_PIN_MAX + 1];
	char missing[256];

	CU_ASSERT_EQUAL(cli_read_pin("", write_file("empty", "", 0), NULL, pin, sizeof(pin)), 1);
	CU_ASSERT_EQUAL(cli_read_pin("", write_file("nl", "\n", 1), NULL, pin, sizeof(pin)), 1);
	snprintf(missing, sizeof(missing), "%s/missing", tmp_dir);
	CU_ASSERT_EQUAL(cli_read_pin("", missing, NULL, pin, sizeof(pin)), 1);
	CU_ASSERT_EQUAL(cli_read_pin("", tmp_dir, NULL, pin, sizeof(pin)), 1);
}

static void test_pin_env_and_precedence(void)
{
	char pin[CLI_PIN_MAX + 1];
	char long_pin[CLI_PIN_MAX + 2];

	setenv("HSMUX_TEST_PIN", "from-env", 1);
	CU_ASSERT_EQUAL(cli_read_pin("", NULL, "HSMUX_TEST_PIN", pin, sizeof(pin)), 0);
	CU_ASSERT_STRING_EQUAL(pin, "from-env");

	/* A file given on the command line wins over the variable. */
	CU_ASSERT_EQUAL(cli_read_pin("", write_file("f", "from-file\n", 10), "HSMUX_TEST_PIN", pin,
	                             sizeof(pin)),
	                0);
	CU_ASSERT_STRING_EQUAL(pin, "from-file");

	setenv("HSMUX_TEST_PIN", "", 1);
	CU_ASSERT_EQUAL(cli_read_pin("", NULL, "HSMUX_TEST_PIN", pin, sizeof(pin)), 1);

	memset(long_pin, 'p', CLI_PIN_MAX + 1);
	long_pin[CLI_PIN_MAX + 1] = '\0';
	setenv("HSMUX_TEST_PIN", long_pin, 1);
	CU_ASSERT_EQUAL(cli_read_pin("", NULL, "HSMUX_TEST_PIN", pin, sizeof(pin)), 1);
	unsetenv("HSMUX_TEST_PIN");
}

static void test_rv_names(void)
{
	CU_ASSERT_STRING_EQUAL(cli_rv_name(CKR_OK), "CKR_OK");
	CU_ASSERT_STRING_EQUAL(cli_rv_name(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
	CU_ASSERT_STRING_EQUAL(cli_rv_name(0xa0), "CKR_PIN_INCORRECT");
	CU_ASSERT_STRING_EQUAL(cli_rv_name(CKR_FUNCTION_REJECTED), "CKR_FUNCTION_REJECTED");
	CU_ASSERT_STRING_EQUAL(cli_rv_name(0x80001234UL), "CKR_0x80001234");
}

static int suite_init(void)
{
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int suite_cleanup(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	CU_pSuite suite;
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("cli", suite_init, suite_cleanup);
	CU_add_test(suite, "test_cli_slot_backend_hsmux", test_slot_backend_hsmux);
	CU_add_test(suite, "test_cli_slot_backend_other_module", test_slot_backend_other_module);
	CU_add_test(suite, "test_cli_slot_backend_name_too_long", test_slot_backend_name_too_long);
	CU_add_test(suite, "test_cli_field_string_padding", test_field_string_padding);
	CU_add_test(suite, "test_cli_pin_file_line_ends", test_pin_file_line_ends);
	CU_add_test(suite, "test_cli_pin_file_length_limit", test_pin_file_length_limit);
	CU_add_test(suite, "test_cli_pin_file_bad", test_pin_file_bad);
	CU_add_test(suite, "test_cli_pin_env_and_precedence", test_pin_env_and_precedence);
	CU_add_test(suite, "test_cli_rv_names", test_rv_names);

	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return failures ? 1 : 0;
}
