/*
 * Private data objects of the tpm backend through its ops table, on an
 * in-process libtpms TPM in a temp directory. The value of a private token
 * data object is sealed in its key file, so no run of its bytes is in any
 * file of the store. The sealed value opens with AES-256-GCM under a key
 * that `openssl kdf` derives (HKDF-SHA256) from the token secret. It is readable
 * only after a login, and it survives a restart, PIN changes,
 * C_SetAttributeValue, C_CopyObject and a backup and restore. A tampered or
 * moved file gives an error, never a wrong value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <openssl/rand.h>

#include "backends/backend.h"
#include "backends/tpm/tpm_data.h"
#include "backends/tpm/tpm_file.h"
#include "backends/tpm/tpm_token.h"
#include "module/config.h"
#include "tpm_data_check.h"
#include "tpm_test_util.h"
#include "tpm_unit.h"

static struct tpm_unit_config cfg;

static const struct hsmux_backend_ops *ops = &hsmux_tpm_backend_ops;
static struct hsmux_backend be;
static CK_UTF8CHAR so_pin[] = "so-secret";
static CK_UTF8CHAR user_pin[] = "1234";
static CK_UTF8CHAR new_pin[] = "5678";
#define PIN_LEN(p) (sizeof(p) - 1)

/* value1: first secret; value2: a public object's; value4: after C_SetAttributeValue. */
static CK_BYTE value1[200], value2[64], value3[40], value4[77], value5[50];

static void stop(void)
{
	ops->destroy(&be);
}

static CK_SESSION_HANDLE start_user(void)
{
	CK_SESSION_HANDLE s;

	tpm_unit_start(&be, &cfg.section);
	s = tpm_unit_open_rw(&be);
	CU_ASSERT_EQUAL_FATAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)), CKR_OK);
	return s;
}

static CK_RV make_data(CK_SESSION_HANDLE s, const char *label, CK_BBOOL token, CK_BBOOL private,
                       const void *value, CK_ULONG len, CK_OBJECT_HANDLE *h)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_TOKEN, &token, sizeof(token)},
	    {CKA_PRIVATE, &private, sizeof(private)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	    {CKA_APPLICATION, "test", 4},
	    {CKA_COPYABLE, &yes, sizeof(yes)},
	    {CKA_VALUE, (void *)value, len},
	};

	return ops->create_object(&be, s, tmpl, 7, h);
}

/* Finds the data objects with label; returns how many, the first in *h. */
static CK_ULONG find_label(CK_SESSION_HANDLE s, const char *label, CK_OBJECT_HANDLE *h)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_LABEL, (void *)label, strlen(label)},
	};
	CK_OBJECT_HANDLE found[8];
	CK_ULONG n = 0;

	CU_ASSERT_EQUAL_FATAL(ops->find_objects_init(&be, s, tmpl, 2), CKR_OK);
	CU_ASSERT_EQUAL(ops->find_objects(&be, s, found, 8, &n), CKR_OK);
	CU_ASSERT_EQUAL(ops->find_objects_final(&be, s), CKR_OK);
	if (h)
		*h = n > 0 ? found[0] : CK_INVALID_HANDLE;
	return n;
}

/* Asserts that h reads back as value: the size query first, then the bytes. */
static void value_is(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const CK_BYTE *value, CK_ULONG len)
{
	CK_BYTE buf[256];
	CK_ATTRIBUTE a = {CKA_VALUE, NULL, 0};

	CU_ASSERT_EQUAL(ops->get_attribute_value(&be, s, h, &a, 1), CKR_OK);
	CU_ASSERT_EQUAL(a.ulValueLen, len);
	a.pValue = buf;
	a.ulValueLen = sizeof(buf);
	CU_ASSERT_EQUAL(ops->get_attribute_value(&be, s, h, &a, 1), CKR_OK);
	CU_ASSERT_EQUAL(a.ulValueLen, len);
	CU_ASSERT(a.ulValueLen == len && memcmp(buf, value, len) == 0);
}

static struct tpm_object *object_of(CK_OBJECT_HANDLE h)
{
	struct tpm_token *tok = be.priv;

	for (size_t i = 0; i < tok->n_objects; i++) {
		if (tok->objects[i]->handle == h)
			return tok->objects[i];
	}
	return NULL;
}

static void test_tpm_data_setup(void)
{
	RAND_bytes(value1, sizeof(value1));
	RAND_bytes(value2, sizeof(value2));
	RAND_bytes(value3, sizeof(value3));
	RAND_bytes(value4, sizeof(value4));
	RAND_bytes(value5, sizeof(value5));
	tpm_unit_start(&be, &cfg.section);
	tpm_unit_init_token(&be, "data", (const char *)so_pin, (const char *)user_pin);
	stop();
}

static void check_lengths(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	CK_BYTE small[sizeof(value1) - 1], label[16];
	CK_ATTRIBUTE a = {CKA_VALUE, small, sizeof(small)};
	CK_ATTRIBUTE two[] = {{CKA_LABEL, label, sizeof(label)}, {CKA_VALUE, NULL, 0}};
	CK_ATTRIBUTE hidden = {TPM_CKA_SEALED_VALUE, NULL, 0};

	CU_ASSERT_EQUAL(ops->get_attribute_value(&be, s, h, &a, 1), CKR_BUFFER_TOO_SMALL);
	CU_ASSERT_EQUAL(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CU_ASSERT_EQUAL(ops->get_attribute_value(&be, s, h, two, 2), CKR_OK);
	CU_ASSERT_EQUAL(two[0].ulValueLen, 6);
	CU_ASSERT_EQUAL(memcmp(label, "secret", 6), 0);
	CU_ASSERT_EQUAL(two[1].ulValueLen, sizeof(value1));
	CU_ASSERT_EQUAL(ops->get_attribute_value(&be, s, h, &hidden, 1), CKR_ATTRIBUTE_TYPE_INVALID);
}

static void check_find_by_value(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE by_value[] = {{CKA_CLASS, &cls, sizeof(cls)},
	                           {CKA_VALUE, value1, sizeof(value1)}};
	CK_OBJECT_HANDLE found[4];
	CK_ULONG n = 0;

	CU_ASSERT_EQUAL(ops->find_objects_init(&be, s, by_value, 2), CKR_OK);
	CU_ASSERT_EQUAL(ops->find_objects(&be, s, found, 4, &n), CKR_OK);
	CU_ASSERT_EQUAL(ops->find_objects_final(&be, s), CKR_OK);
	CU_ASSERT(n == 1 && found[0] == h);
	by_value[1].ulValueLen--;
	CU_ASSERT_EQUAL(ops->find_objects_init(&be, s, by_value, 2), CKR_OK);
	CU_ASSERT_EQUAL(ops->find_objects(&be, s, found, 4, &n), CKR_OK);
	CU_ASSERT_EQUAL(ops->find_objects_final(&be, s), CKR_OK);
	CU_ASSERT_EQUAL(n, 0);
}

static void test_tpm_data_create_and_read(void)
{
	static CK_BYTE big[TPM_DATA_VALUE_MAX + 1];
	CK_OBJECT_HANDLE h, pub, sess, hbig;
	CK_ATTRIBUTE a = {CKA_VALUE, NULL, 0};
	CK_SESSION_HANDLE s;

	tpm_unit_start(&be, &cfg.section);
	s = tpm_unit_open_rw(&be);
	CU_ASSERT_EQUAL(make_data(s, "secret", CK_TRUE, CK_TRUE, value1, sizeof(value1), &h),
	                CKR_USER_NOT_LOGGED_IN);
	CU_ASSERT_EQUAL_FATAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(make_data(s, "secret", CK_TRUE, CK_TRUE, value1, sizeof(value1), &h),
	                      CKR_OK);
	CU_ASSERT_EQUAL_FATAL(
	    make_data(s, "public", CK_TRUE, CK_FALSE, value2, sizeof(value2), &pub), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(
	    make_data(s, "session", CK_FALSE, CK_TRUE, value3, sizeof(value3), &sess), CKR_OK);
	value_is(s, h, value1, sizeof(value1));
	value_is(s, pub, value2, sizeof(value2));
	value_is(s, sess, value3, sizeof(value3));
	check_lengths(s, h);
	check_find_by_value(s, h);

	/* The public value is in the store in plaintext, which shows the search works. */
	CU_ASSERT_TRUE(data_check_dir_has(cfg.dir, value2, sizeof(value2)));
	CU_ASSERT_FALSE(data_check_dir_has(cfg.dir, value1, sizeof(value1)));
	CU_ASSERT_FALSE(data_check_dir_has(cfg.dir, value3, sizeof(value3)));
	CU_ASSERT(
	    data_check_known_answer(be.priv, object_of(h), value1, sizeof(value1), cfg.dir));

	/* A value of the maximum length fits a key file sealed, and one byte more is rejected. */
	CU_ASSERT_EQUAL(make_data(s, "big", CK_TRUE, CK_TRUE, big, sizeof(big), &hbig),
	                CKR_ATTRIBUTE_VALUE_INVALID);
	CU_ASSERT_EQUAL(make_data(s, "big", CK_TRUE, CK_TRUE, big, sizeof(big) - 1, &hbig), CKR_OK);
	CU_ASSERT_EQUAL(ops->destroy_object(&be, s, hbig), CKR_OK);

	/* Without a login the private objects are neither found nor readable. */
	CU_ASSERT_EQUAL(ops->logout(&be, s), CKR_OK);
	CU_ASSERT_EQUAL(find_label(s, "secret", NULL), 0);
	CU_ASSERT_EQUAL(find_label(s, "session", NULL), 0);
	CU_ASSERT_EQUAL(find_label(s, "public", NULL), 1);
	CU_ASSERT_EQUAL(ops->get_attribute_value(&be, s, h, &a, 1), CKR_OBJECT_HANDLE_INVALID);
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	stop();
}

/* A restart (C_Finalize, C_Initialize), C_SetPIN and C_InitPIN keep the value readable. */
static void test_tpm_data_restart_and_pins(void)
{
	CK_OBJECT_HANDLE h;
	CK_SESSION_HANDLE s;

	tpm_unit_start(&be, &cfg.section);
	s = tpm_unit_open_rw(&be);
	CU_ASSERT_EQUAL(find_label(s, "secret", NULL), 0);
	CU_ASSERT_EQUAL_FATAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(find_label(s, "secret", &h), 1);
	value_is(s, h, value1, sizeof(value1));

	CU_ASSERT_EQUAL_FATAL(
	    ops->set_pin(&be, s, user_pin, PIN_LEN(user_pin), new_pin, PIN_LEN(new_pin)), CKR_OK);
	CU_ASSERT_EQUAL(ops->logout(&be, s), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(ops->login(&be, s, CKU_USER, new_pin, PIN_LEN(new_pin)), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(find_label(s, "secret", &h), 1);
	value_is(s, h, value1, sizeof(value1));
	CU_ASSERT_EQUAL(ops->logout(&be, s), CKR_OK);

	/* The SO sets the user PIN back: the secret is sealed again, not replaced. */
	CU_ASSERT_EQUAL_FATAL(ops->login(&be, s, CKU_SO, so_pin, PIN_LEN(so_pin)), CKR_OK);
	CU_ASSERT_EQUAL(find_label(s, "secret", NULL), 0);
	CU_ASSERT_EQUAL_FATAL(ops->init_pin(&be, s, user_pin, PIN_LEN(user_pin)), CKR_OK);
	CU_ASSERT_EQUAL(ops->logout(&be, s), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(find_label(s, "secret", &h), 1);
	value_is(s, h, value1, sizeof(value1));
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	stop();
}

static void check_set_value(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	uint8_t *before = NULL, *after = NULL;
	size_t before_len = 0, after_len = 0, off1 = 0, off2 = 0, len1 = 0, len2 = 0;
	CK_ATTRIBUTE set = {CKA_VALUE, value4, sizeof(value4)};
	CK_ATTRIBUTE hidden = {TPM_CKA_SEALED_VALUE, value4, sizeof(value4)};

	CU_ASSERT_FATAL(
	    data_check_sealed(be.priv, object_of(h), &before, &before_len, &off1, &len1));
	CU_ASSERT_EQUAL(ops->set_attribute_value(&be, s, h, &hidden, 1),
	                CKR_ATTRIBUTE_TYPE_INVALID);
	CU_ASSERT_EQUAL_FATAL(ops->set_attribute_value(&be, s, h, &set, 1), CKR_OK);
	value_is(s, h, value4, sizeof(value4));
	CU_ASSERT_FATAL(data_check_sealed(be.priv, object_of(h), &after, &after_len, &off2, &len2));
	CU_ASSERT_EQUAL(len2, sizeof(value4) + TPM_DATA_OVERHEAD);
	/* A fresh nonce for the new value. */
	CU_ASSERT_NOT_EQUAL(memcmp(before + off1 + 1, after + off2 + 1, TPM_DATA_NONCE_LEN), 0);
	CU_ASSERT(
	    data_check_known_answer(be.priv, object_of(h), value4, sizeof(value4), cfg.dir));
	CU_ASSERT_FALSE(data_check_dir_has(cfg.dir, value4, sizeof(value4)));
	CU_ASSERT_FALSE(data_check_dir_has(cfg.dir, value1, sizeof(value1)));
	free(before);
	free(after);
}

static void check_copies(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
	CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
	CK_ATTRIBUTE to_token[] = {{CKA_LABEL, "copy", 4}};
	CK_ATTRIBUTE to_session[] = {{CKA_LABEL, "scopy", 5}, {CKA_TOKEN, &no, sizeof(no)}};
	CK_ATTRIBUTE from_session[] = {{CKA_LABEL, "fromsess", 8}, {CKA_TOKEN, &yes, sizeof(yes)}};
	CK_ATTRIBUTE same_value[] = {{CKA_LABEL, "copy", 4}, {CKA_VALUE, value4, sizeof(value4)}};
	CK_ATTRIBUTE other_value[] = {{CKA_VALUE, value1, sizeof(value1)}};
	CK_OBJECT_HANDLE c, sc, sess, fs, c2;

	CU_ASSERT_EQUAL_FATAL(ops->copy_object(&be, s, h, to_token, 1, &c), CKR_OK);
	value_is(s, c, value4, sizeof(value4));
	CU_ASSERT_STRING_NOT_EQUAL(object_of(c)->file, object_of(h)->file);
	CU_ASSERT(
	    data_check_known_answer(be.priv, object_of(c), value4, sizeof(value4), cfg.dir));
	CU_ASSERT_EQUAL_FATAL(ops->copy_object(&be, s, h, to_session, 2, &sc), CKR_OK);
	value_is(s, sc, value4, sizeof(value4));
	/* A copy template may name the value only as it is. */
	CU_ASSERT_EQUAL(ops->copy_object(&be, s, h, same_value, 2, &c2), CKR_OK);
	CU_ASSERT_EQUAL(ops->copy_object(&be, s, h, other_value, 1, &c2), CKR_ATTRIBUTE_READ_ONLY);

	CU_ASSERT_EQUAL_FATAL(
	    make_data(s, "sess", CK_FALSE, CK_TRUE, value5, sizeof(value5), &sess), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(ops->copy_object(&be, s, sess, from_session, 2, &fs), CKR_OK);
	value_is(s, fs, value5, sizeof(value5));
	CU_ASSERT_FALSE(data_check_dir_has(cfg.dir, value5, sizeof(value5)));
	CU_ASSERT_FALSE(data_check_dir_has(cfg.dir, value4, sizeof(value4)));
}

static void test_tpm_data_set_and_copy(void)
{
	CK_OBJECT_HANDLE h;
	CK_SESSION_HANDLE s = start_user();

	CU_ASSERT_EQUAL_FATAL(find_label(s, "secret", &h), 1);
	check_set_value(s, h);
	check_copies(s, h);
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	stop();

	s = start_user();
	CU_ASSERT_EQUAL_FATAL(find_label(s, "secret", &h), 1);
	value_is(s, h, value4, sizeof(value4));
	CU_ASSERT_EQUAL(find_label(s, "copy", &h), 2); /* "copy" and the same-value copy */
	value_is(s, h, value4, sizeof(value4));
	CU_ASSERT_EQUAL_FATAL(find_label(s, "fromsess", &h), 1);
	value_is(s, h, value5, sizeof(value5));
	CU_ASSERT_EQUAL(find_label(s, "scopy", NULL), 0);
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	stop();
}

/* Reads "secret" after a tamper, which must fail with the buffer left without plaintext. */
static void read_fails(CK_SESSION_HANDLE s, CK_RV expected)
{
	CK_BYTE buf[256] = {0}, zero[256] = {0};
	CK_ATTRIBUTE a = {CKA_VALUE, buf, sizeof(buf)};
	CK_OBJECT_HANDLE h;

	CU_ASSERT_EQUAL_FATAL(find_label(s, "secret", &h), 1);
	CU_ASSERT_EQUAL(ops->get_attribute_value(&be, s, h, &a, 1), expected);
	CU_ASSERT_EQUAL(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
	CU_ASSERT_EQUAL(memcmp(buf, zero, sizeof(buf)), 0);
}

/* Flips every byte of the file in turn: each read gives a value the test wrote, or an error. */
static void flip_every_byte(CK_SESSION_HANDLE s, const char *dir, const char *name,
                            const uint8_t *orig, size_t len)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE by_class = {CKA_CLASS, &cls, sizeof(cls)};
	uint8_t *copy = malloc(len);
	CK_OBJECT_HANDLE found[16];
	CK_BYTE buf[256];
	CK_ULONG n;
	unsigned int wrong = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	for (size_t i = 0; i < len; i++) {
		memcpy(copy, orig, len);
		copy[i] ^= 0x5a;
		CU_ASSERT_FATAL(data_check_replace(dir, name, copy, len));
		n = 0;
		CU_ASSERT_EQUAL_FATAL(ops->find_objects_init(&be, s, &by_class, 1), CKR_OK);
		CU_ASSERT_EQUAL(ops->find_objects(&be, s, found, 16, &n), CKR_OK);
		CU_ASSERT_EQUAL(ops->find_objects_final(&be, s), CKR_OK);
		for (CK_ULONG j = 0; j < n; j++) {
			CK_ATTRIBUTE a = {CKA_VALUE, buf, sizeof(buf)};

			if (ops->get_attribute_value(&be, s, found[j], &a, 1) != CKR_OK)
				continue;
			if (!(a.ulValueLen == sizeof(value4) &&
			      !memcmp(buf, value4, a.ulValueLen)) &&
			    !(a.ulValueLen == sizeof(value5) &&
			      !memcmp(buf, value5, a.ulValueLen)) &&
			    !(a.ulValueLen == sizeof(value2) && !memcmp(buf, value2, a.ulValueLen)))
				wrong++;
		}
	}
	if (wrong)
		fprintf(stderr, "%u reads of a tampered store gave a value never written\n", wrong);
	CU_ASSERT_EQUAL(wrong, 0);
	CU_ASSERT_FATAL(data_check_replace(dir, name, orig, len));
	free(copy);
}

/* Searches the data objects by value; returns how many match. */
static CK_ULONG find_value(CK_SESSION_HANDLE s, const CK_BYTE *value, CK_ULONG len)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_VALUE, (void *)value, len}};
	CK_OBJECT_HANDLE found[4];
	CK_ULONG n = 0;

	CU_ASSERT_EQUAL_FATAL(ops->find_objects_init(&be, s, t, 2), CKR_OK);
	CU_ASSERT_EQUAL(ops->find_objects(&be, s, found, 4, &n), CKR_OK);
	CU_ASSERT_EQUAL(ops->find_objects_final(&be, s), CKR_OK);
	return n;
}

/*
 * The SO never reads a private object's value, even one whose key file
 * had its CKA_PRIVATE byte cleared: the value is the user's.
 */
static void check_tampered_as_so(CK_SESSION_HANDLE s)
{
	CU_ASSERT_EQUAL_FATAL(ops->login(&be, s, CKU_SO, so_pin, PIN_LEN(so_pin)), CKR_OK);
	read_fails(s, CKR_ATTRIBUTE_SENSITIVE);
	CU_ASSERT_EQUAL(find_value(s, value4, sizeof(value4)), 0);
	CU_ASSERT_EQUAL(ops->logout(&be, s), CKR_OK);
}

/* A change of another attribute of the tampered object keeps its value sealed. */
static void check_tampered_set(CK_SESSION_HANDLE s, const char *dir)
{
	CK_ATTRIBUTE label = {CKA_LABEL, "secret", 6};
	CK_OBJECT_HANDLE h;

	CU_ASSERT_EQUAL_FATAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(find_label(s, "secret", &h), 1);
	CU_ASSERT_EQUAL(ops->set_attribute_value(&be, s, h, &label, 1), CKR_OK);
	CU_ASSERT_FALSE(data_check_dir_has(dir, value4, sizeof(value4)));
	value_is(s, h, value4, sizeof(value4));
	CU_ASSERT_EQUAL(ops->logout(&be, s), CKR_OK);
}

/* A key file whose CKA_PRIVATE byte is cleared shows the object, never its value. */
static void check_private_flag_tamper(CK_SESSION_HANDLE s, const char *dir, const char *name,
                                      const uint8_t *orig, size_t len)
{
	const uint8_t pattern[] = {0, 0, 0, 0, 0, 0, 0, CKA_PRIVATE, 0, 0, 0, 1, CK_TRUE};
	uint8_t *hit = memmem(orig, len, pattern, sizeof(pattern)), *copy = malloc(len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(hit);
	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, orig, len);
	copy[hit - orig + sizeof(pattern) - 1] = CK_FALSE;
	CU_ASSERT_FATAL(data_check_replace(dir, name, copy, len));
	CU_ASSERT_EQUAL(ops->logout(&be, s), CKR_OK);
	read_fails(s, CKR_ATTRIBUTE_SENSITIVE);
	CU_ASSERT_EQUAL(find_value(s, value4, sizeof(value4)), 0);
	check_tampered_as_so(s);
	check_tampered_set(s, dir);
	CU_ASSERT_FATAL(data_check_replace(dir, name, orig, len));
	CU_ASSERT_EQUAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)), CKR_OK);
	free(copy);
}

/* The same file under another name: its sealed value is bound to the first name. */
static void check_moved(CK_SESSION_HANDLE s, const char *dir, const uint8_t *orig, size_t len)
{
	static const char moved[] = "00112233aabbccdd.key";
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, "secret", 6}};
	CK_OBJECT_HANDLE found[4];
	CK_BYTE buf[256];
	CK_ULONG n = 0;
	int ok = 0, failed = 0;

	CU_ASSERT_FATAL(data_check_replace(dir, moved, orig, len));
	CU_ASSERT_EQUAL(ops->find_objects_init(&be, s, t, 2), CKR_OK);
	CU_ASSERT_EQUAL(ops->find_objects(&be, s, found, 4, &n), CKR_OK);
	CU_ASSERT_EQUAL(ops->find_objects_final(&be, s), CKR_OK);
	CU_ASSERT_EQUAL(n, 2);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_ATTRIBUTE a = {CKA_VALUE, buf, sizeof(buf)};
		CK_RV rv = ops->get_attribute_value(&be, s, found[i], &a, 1);

		ok += rv == CKR_OK && a.ulValueLen == sizeof(value4) &&
		      !memcmp(buf, value4, sizeof(value4));
		failed += rv == CKR_DEVICE_ERROR;
	}
	CU_ASSERT(ok == 1 && failed == 1);
	CU_ASSERT_EQUAL(tpm_file_remove(dir, moved), 0);
}

static void test_tpm_data_tamper(void)
{
	struct tpm_token *tok;
	uint8_t *orig = NULL, *copy;
	size_t len = 0, off = 0, blob = 0;
	const size_t at[] = {0, 1, 13, 20, 0};
	CK_OBJECT_HANDLE h;
	CK_SESSION_HANDLE s = start_user();
	char name[40], dir[PATH_MAX];

	tok = be.priv;
	snprintf(dir, sizeof(dir), "%s", tok->objects_dir);
	CU_ASSERT_EQUAL_FATAL(find_label(s, "secret", &h), 1);
	snprintf(name, sizeof(name), "%s", object_of(h)->file);
	CU_ASSERT_FATAL(data_check_sealed(tok, object_of(h), &orig, &len, &off, &blob));
	copy = malloc(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);

	/* The version byte, the nonce, the ciphertext, the tag. */
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		size_t pos = off + (i == 4 ? blob - 1 : at[i]);

		memcpy(copy, orig, len);
		copy[pos] ^= 0x01;
		CU_ASSERT_FATAL(data_check_replace(dir, name, copy, len));
		read_fails(s, CKR_DEVICE_ERROR);
	}

	CU_ASSERT_FATAL(data_check_replace(dir, name, orig, len));
	check_moved(s, dir, orig, len);
	check_private_flag_tamper(s, dir, name, orig, len);
	flip_every_byte(s, dir, name, orig, len);
	CU_ASSERT_EQUAL_FATAL(find_label(s, "secret", &h), 1);
	value_is(s, h, value4, sizeof(value4));
	free(copy);
	free(orig);
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	stop();
}

struct backup {
	char *names[64];
	unsigned char *data[64];
	CK_ULONG lens[64];
	size_t n, next;
};

static void backup_clear(struct backup *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->names[i]);
		free(b->data[i]);
	}
	b->n = b->next = 0;
}

static CK_RV backup_begin(void *ctx)
{
	backup_clear(ctx);
	return CKR_OK;
}

static CK_RV backup_file(void *ctx, const char *name, const unsigned char *data, CK_ULONG len)
{
	struct backup *b = ctx;

	if (b->n == 64)
		return CKR_HOST_MEMORY;
	b->names[b->n] = strdup(name);
	b->data[b->n] = malloc(len ? len : 1);
	if (!b->names[b->n] || !b->data[b->n])
		return CKR_HOST_MEMORY;
	memcpy(b->data[b->n], data, len);
	b->lens[b->n++] = len;
	return CKR_OK;
}

static CK_RV backup_next(void *ctx, const char **name, const unsigned char **data, CK_ULONG *len)
{
	struct backup *b = ctx;

	*name = NULL;
	if (b->next < b->n) {
		*name = b->names[b->next];
		*data = b->data[b->next];
		*len = b->lens[b->next++];
	}
	return CKR_OK;
}

/* tpm_backup.c copies the key files under their names, so a restored value opens. */
static void test_tpm_data_backup_restore(void)
{
	struct backup b = {0};
	CK_ATTRIBUTE set = {CKA_VALUE, value1, sizeof(value1)};
	CK_OBJECT_HANDLE h;
	CK_SESSION_HANDLE s = start_user();

	CU_ASSERT_EQUAL_FATAL(ops->backup_export(&be, 0, backup_begin, backup_file, &b), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(find_label(s, "secret", &h), 1);
	CU_ASSERT_EQUAL(ops->set_attribute_value(&be, s, h, &set, 1), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(find_label(s, "fromsess", &h), 1);
	CU_ASSERT_EQUAL(ops->destroy_object(&be, s, h), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(ops->backup_import(&be, 0, backup_next, &b), CKR_OK);

	s = tpm_unit_open_rw(&be);
	CU_ASSERT_EQUAL(find_label(s, "secret", NULL), 0);
	CU_ASSERT_EQUAL_FATAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)), CKR_OK);
	CU_ASSERT_EQUAL_FATAL(find_label(s, "secret", &h), 1);
	value_is(s, h, value4, sizeof(value4));
	CU_ASSERT_EQUAL_FATAL(find_label(s, "fromsess", &h), 1);
	value_is(s, h, value5, sizeof(value5));
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	backup_clear(&b);
	stop();
}

/* C_InitToken makes a new token secret and removes every object. */
static void test_tpm_data_init_token(void)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE h;

	tpm_unit_start(&be, &cfg.section);
	tpm_unit_init_token(&be, "again", (const char *)so_pin, (const char *)user_pin);
	s = tpm_unit_open_rw(&be);
	CU_ASSERT_EQUAL_FATAL(ops->login(&be, s, CKU_USER, user_pin, PIN_LEN(user_pin)), CKR_OK);
	CU_ASSERT_EQUAL(find_label(s, "secret", NULL), 0);
	CU_ASSERT_EQUAL_FATAL(make_data(s, "secret", CK_TRUE, CK_TRUE, value3, sizeof(value3), &h),
	                      CKR_OK);
	value_is(s, h, value3, sizeof(value3));
	CU_ASSERT(
	    data_check_known_answer(be.priv, object_of(h), value3, sizeof(value3), cfg.dir));
	CU_ASSERT_EQUAL(ops->close_session(&be, s), CKR_OK);
	stop();
}

int main(void)
{
	CU_pSuite suite;
	unsigned int failures;

	if (!tpm_unit_config_init(&cfg, "hsmux-tpm-data", 32))
		return 1;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("tpm_data", NULL, NULL);
	CU_add_test(suite, "test_tpm_data_setup", test_tpm_data_setup);
	CU_add_test(suite, "test_tpm_data_create_and_read", test_tpm_data_create_and_read);
	CU_add_test(suite, "test_tpm_data_restart_and_pins", test_tpm_data_restart_and_pins);
	CU_add_test(suite, "test_tpm_data_set_and_copy", test_tpm_data_set_and_copy);
	CU_add_test(suite, "test_tpm_data_tamper", test_tpm_data_tamper);
	CU_add_test(suite, "test_tpm_data_backup_restore", test_tpm_data_backup_restore);
	CU_add_test(suite, "test_tpm_data_init_token", test_tpm_data_init_token);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	tpm_test_remove_tree(cfg.dir);
	return failures ? 1 : 0;
}
