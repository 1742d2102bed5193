/* sd.json, upload.json, Shamir shares and the keyed derivation, without a token. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "module/admin/sd_file.h"
#include "module/admin/sd_share.h"
#include "sd_test.h"

static const struct sd_token_id test_token = {.label = "payments",
                                              .manufacturer = "SoftHSM project",
                                              .model = "SoftHSM v2",
                                              .serial = "0e15059753eaea20"};

/* HKDF-Expand as OpenSSL's own KDF computes it: the independent check of sd_prf(). */
static void hkdf_expand(const unsigned char *prk, size_t prk_len, const unsigned char *info,
                        size_t info_len, unsigned char *out, size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
	    OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)prk, prk_len),
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len),
	    OSSL_PARAM_construct_end()};

	CU_ASSERT_EQUAL(EVP_KDF_derive(ctx, out, out_len, params), 1);
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
}

static void test_sd_prf_rfc5869_vector(void)
{
	/* RFC 5869 test case 1: PRK, info and the first 32 bytes of OKM. */
	static const unsigned char prk[] = {0x07, 0x77, 0x09, 0x36, 0x2c, 0x2e, 0x32, 0xdf,
	                                    0x0d, 0xdc, 0x3f, 0x0d, 0xc4, 0x7b, 0xba, 0x63,
	                                    0x90, 0xb6, 0xc7, 0x3b, 0xb5, 0x0f, 0x9c, 0x31,
	                                    0x22, 0xec, 0x84, 0x4a, 0xd7, 0xc2, 0xb3, 0xe5};
	static const unsigned char info[] = {0xf0, 0xf1, 0xf2, 0xf3, 0xf4,
	                                     0xf5, 0xf6, 0xf7, 0xf8, 0xf9};
	static const unsigned char okm[] = {0x3c, 0xb2, 0x5f, 0x25, 0xfa, 0xac, 0xd5, 0x7a,
	                                    0x90, 0x43, 0x4f, 0x64, 0xd0, 0x36, 0x2f, 0x2a,
	                                    0x2d, 0x2d, 0x0a, 0x90, 0xcf, 0x1a, 0x5a, 0x4c,
	                                    0x5d, 0xb0, 0x2d, 0x56, 0xec, 0xc4, 0xc5, 0xbf};
	unsigned char out[32];

	hkdf_expand(prk, sizeof(prk), info, sizeof(info), out, sizeof(out));
	CU_ASSERT_EQUAL(memcmp(out, okm, sizeof(okm)), 0);
}

static void test_sd_prf_equals_hkdf_expand(void)
{
	unsigned char key[32], data[40], ours[32], theirs[32], info[128];
	const char *label = SD_LABEL_BACKUP_KEY;
	size_t label_len = strlen(label);

	RAND_bytes(key, sizeof(key));
	RAND_bytes(data, sizeof(data));
	memcpy(info, label, label_len);
	info[label_len] = 0;
	memcpy(info + label_len + 1, data, sizeof(data));

	CU_ASSERT_TRUE(sd_prf(key, sizeof(key), label, data, sizeof(data), ours));
	hkdf_expand(key, sizeof(key), info, label_len + 1 + sizeof(data), theirs, sizeof(theirs));
	CU_ASSERT_EQUAL(memcmp(ours, theirs, 32), 0);
}

static void test_sd_b64_rejects_noncanonical(void)
{
	size_t len;
	unsigned char *p = sd_b64_decode("aGVsbG8=", &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(len, 5);
	CU_ASSERT_EQUAL(memcmp(p, "hello", 5), 0);
	free(p);
	CU_ASSERT_PTR_NULL(sd_b64_decode("aGVsbG9=", &len)); /* stray low bits */
	CU_ASSERT_PTR_NULL(sd_b64_decode("aGVs bG8=", &len));
	CU_ASSERT_PTR_NULL(sd_b64_decode("aGVsbG8", &len));
	CU_ASSERT_PTR_NULL(sd_b64_decode("aG=sbG8=", &len));
}

static void test_sd_share_any_quorum_rebuilds(void)
{
	struct sd_secret key = {0}, shares[5] = {{0}}, pick[3] = {{0}}, out = {0};
	unsigned char xs[3] = {5, 2, 4};

	CU_ASSERT_TRUE_FATAL(sd_secret_init(&key, 32) && sd_secret_init(&out, 32));
	RAND_bytes(key.data, 32);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_TRUE_FATAL(sd_secret_init(&shares[i], 32));
	CU_ASSERT_TRUE_FATAL(sd_share_split(&key, 3, 5, shares));
	for (int i = 0; i < 3; i++)
		pick[i] = shares[xs[i] - 1];
	CU_ASSERT_TRUE(sd_share_combine(xs, pick, 3, &out));
	CU_ASSERT_EQUAL(memcmp(out.data, key.data, 32), 0);

	/* Two shares of a 3-of-5 split give some other value. */
	CU_ASSERT_TRUE(sd_share_combine(xs, pick, 2, &out));
	CU_ASSERT_NOT_EQUAL(memcmp(out.data, key.data, 32), 0);

	xs[1] = 5; /* a repeated x coordinate is refused */
	CU_ASSERT_FALSE(sd_share_combine(xs, pick, 3, &out));
	for (int i = 0; i < 5; i++)
		sd_secret_cleanup(&shares[i]);
	sd_secret_cleanup(&key);
	sd_secret_cleanup(&out);
}

/* Makes sd.json for a random key with custodians 0..2 and quorum 2. */
static char *make_doc(struct sd_secret *key)
{
	EVP_PKEY *c[3] = {sd_test_rsa_key(0), sd_test_rsa_key(1), sd_test_rsa_key(2)};
	char err[256] = "", *text = NULL;

	CU_ASSERT_TRUE(sd_secret_init(key, 32));
	RAND_bytes(key->data, 32);
	CU_ASSERT_TRUE(sd_doc_create(key, &test_token, c, 3, 2, &text, err, sizeof(err)));
	return text;
}

static bool recover_with(const char *text, size_t len, const int *which, size_t n,
                         struct sd_secret *out, char *report, size_t report_len)
{
	EVP_PKEY *keys[4];
	const char *names[4] = {"k1.pem", "k2.pem", "k3.pem", "k4.pem"};
	const char *picked[4];
	struct sd_doc doc;
	bool ok;

	report[0] = '\0';
	if (!sd_doc_parse(text, len, &doc, report, report_len))
		return false;
	for (size_t i = 0; i < n; i++) {
		keys[i] = sd_test_rsa_key(which[i]);
		picked[i] = names[which[i]];
	}
	ok = sd_doc_recover(&doc, keys, picked, n, out, report, report_len);
	sd_doc_cleanup(&doc);
	return ok;
}

static void test_sd_doc_recover_round_trip(void)
{
	struct sd_secret key = {0}, out = {0};
	char *text = make_doc(&key), report[1024];
	int which[2] = {2, 0};
	struct sd_doc doc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_TRUE_FATAL(sd_doc_parse(text, strlen(text), &doc, report, sizeof(report)));
	CU_ASSERT_EQUAL(doc.quorum, 2);
	CU_ASSERT_EQUAL(doc.custodian_count, 3);
	CU_ASSERT_STRING_EQUAL(doc.token.label, "payments");
	sd_doc_cleanup(&doc);

	CU_ASSERT_TRUE(recover_with(text, strlen(text), which, 2, &out, report, sizeof(report)));
	CU_ASSERT_EQUAL(out.len, 32);
	CU_ASSERT_TRUE(out.data && memcmp(out.data, key.data, 32) == 0);
	sd_secret_cleanup(&out);
	sd_secret_cleanup(&key);
	free(text);
}

static void test_sd_doc_one_key_fails(void)
{
	struct sd_secret key = {0}, out = {0};
	char *text = make_doc(&key), report[1024];
	int which[1] = {1};

	CU_ASSERT_FALSE(recover_with(text, strlen(text), which, 1, &out, report, sizeof(report)));
	CU_ASSERT_PTR_NOT_NULL(strstr(report, "only 1 valid share of the 2 needed"));
	CU_ASSERT_PTR_NULL(out.data);
	sd_secret_cleanup(&key);
	free(text);
}

static void test_sd_doc_foreign_key_named(void)
{
	struct sd_secret key = {0}, out = {0};
	char *text = make_doc(&key), report[1024];
	int which[2] = {0, 3};

	CU_ASSERT_FALSE(recover_with(text, strlen(text), which, 2, &out, report, sizeof(report)));
	CU_ASSERT_PTR_NOT_NULL(strstr(report, "custodian key 'k4.pem'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(report, "is not a custodian of this security domain"));
	sd_secret_cleanup(&key);
	free(text);
}

/* Moves custodian 2's encrypted share into custodian 1's entry, keeping the fingerprints. */
static char *swap_share(const char *text)
{
	json_t *root = json_loads(text, 0, NULL), *list = json_object_get(root, "custodians");
	json_t *a = json_array_get(list, 0), *b = json_array_get(list, 1);
	const char *fields[] = {"encrypted_key", "iv", "ciphertext", "tag"};
	char *out;

	for (int i = 0; i < 4; i++)
		json_object_set(a, fields[i], json_object_get(b, fields[i]));
	out = sd_json_canonical(root, true);
	json_decref(root);
	return out;
}

static void test_sd_doc_share_of_other_custodian(void)
{
	struct sd_secret key = {0}, out = {0};
	char *text = make_doc(&key), *swapped, report[1024];
	int which[2] = {0, 2};

	swapped = swap_share(text);
	CU_ASSERT_FALSE(
	    recover_with(swapped, strlen(swapped), which, 2, &out, report, sizeof(report)));
	CU_ASSERT_PTR_NOT_NULL(strstr(report, "custodian key 'k1.pem'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(report, "does not open the share of custodian 1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(report, "only 1 valid share"));
	sd_secret_cleanup(&key);
	free(swapped);
	free(text);
}

static void test_sd_doc_every_flipped_byte_rejected(void)
{
	struct sd_secret key = {0}, out = {0};
	char *text = make_doc(&key), report[1024];
	size_t len = strlen(text), accepted = 0;
	int which[2] = {0, 1};

	for (size_t i = 0; i < len; i++) {
		text[i] ^= 0x01;
		if (recover_with(text, len, which, 2, &out, report, sizeof(report))) {
			accepted++;
			sd_secret_cleanup(&out);
		}
		text[i] ^= 0x01;
	}
	CU_ASSERT_EQUAL(accepted, 0);
	CU_ASSERT_TRUE(recover_with(text, len, which, 2, &out, report, sizeof(report)));
	sd_secret_cleanup(&out);
	sd_secret_cleanup(&key);
	free(text);
}

static void test_sd_doc_rejects_bad_parameters(void)
{
	EVP_PKEY *c[3] = {sd_test_rsa_key(0), sd_test_rsa_key(1), sd_test_rsa_key(0)};
	struct sd_secret key = {0};
	char err[256] = "", *text = NULL;

	CU_ASSERT_TRUE_FATAL(sd_secret_init(&key, 32));
	CU_ASSERT_FALSE(sd_doc_create(&key, &test_token, c, 2, 2, &text, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "give 3 to 10"));
	err[0] = '\0';
	CU_ASSERT_FALSE(sd_doc_create(&key, &test_token, c, 3, 1, &text, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "quorum 1 is invalid"));
	err[0] = '\0';
	CU_ASSERT_FALSE(sd_doc_create(&key, &test_token, c, 3, 2, &text, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "are the same key"));
	CU_ASSERT_PTR_NULL(text);
	sd_secret_cleanup(&key);
}

/* Verifies an upload the way the module does, with the exchange private key in place of the token.
 */
static bool upload_verify(const char *text, size_t len, EVP_PKEY *exchange,
                          const unsigned char *want_key)
{
	struct sd_upload up;
	struct sd_secret key = {0};
	unsigned char mac[32];
	char err[256], fp[SD_FP_HEX_LEN];
	bool ok = false;

	if (!sd_upload_parse(text, len, &up, err, sizeof(err)))
		return false;
	if (!sd_rsa_oaep_decrypt(exchange, EVP_sha1(), up.wrapped_key, up.wrapped_key_len, &key))
		goto out;
	ok = key.len == 32 && sd_fingerprint(&key, fp) && strcmp(fp, up.sd_fingerprint) == 0 &&
	     sd_prf(key.data, 32, SD_LABEL_UPLOAD_MAC, (unsigned char *)up.mac_body,
	            up.mac_body_len, mac) &&
	     memcmp(mac, up.mac, 32) == 0 && memcmp(key.data, want_key, 32) == 0;
out:
	sd_secret_cleanup(&key);
	sd_upload_cleanup(&up);
	return ok;
}

static void test_sd_upload_round_trip_and_flips(void)
{
	struct sd_secret key = {0};
	char *text = make_doc(&key), *upload = NULL, err[256] = "";
	EVP_PKEY *exchange = sd_test_rsa_key(3);
	struct sd_doc doc;
	size_t len, accepted = 0;

	CU_ASSERT_TRUE_FATAL(sd_doc_parse(text, strlen(text), &doc, err, sizeof(err)));
	CU_ASSERT_TRUE_FATAL(sd_upload_create(&doc, &key, exchange, &upload, err, sizeof(err)));
	len = strlen(upload);
	CU_ASSERT_TRUE(upload_verify(upload, len, exchange, key.data));
	for (size_t i = 0; i < len; i++) {
		upload[i] ^= 0x01;
		accepted += upload_verify(upload, len, exchange, key.data);
		upload[i] ^= 0x01;
	}
	CU_ASSERT_EQUAL(accepted, 0);
	sd_doc_cleanup(&doc);
	sd_secret_cleanup(&key);
	free(upload);
	free(text);
}

static void test_sd_write_file_new_keeps_existing(void)
{
	char path[] = "/tmp/hsmux-sd-new-XXXXXX";
	int fd = mkstemp(path);
	char *text;
	size_t len;

	CU_ASSERT_TRUE_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, "old", 3), 3);
	close(fd);
	CU_ASSERT_EQUAL(sd_write_file_new(path, "new", 3, 0600), -1);
	CU_ASSERT_EQUAL(errno, EEXIST);
	text = sd_read_file(path, 100, &len);
	CU_ASSERT_TRUE(text && len == 3 && memcmp(text, "old", 3) == 0);
	free(text);
	CU_ASSERT_EQUAL(sd_write_file_atomic(path, "new", 3, 0600), 0);
	text = sd_read_file(path, 100, &len);
	CU_ASSERT_TRUE(text && len == 3 && memcmp(text, "new", 3) == 0);
	free(text);
	unlink(path);
	CU_ASSERT_EQUAL(sd_write_file_new(path, "first", 5, 0600), 0);
	unlink(path);
}

void sd_files_register(void)
{
	CU_pSuite s = CU_add_suite("sd_files", NULL, NULL);

	CU_add_test(s, "test_sd_prf_rfc5869_vector", test_sd_prf_rfc5869_vector);
	CU_add_test(s, "test_sd_prf_equals_hkdf_expand", test_sd_prf_equals_hkdf_expand);
	CU_add_test(s, "test_sd_b64_rejects_noncanonical", test_sd_b64_rejects_noncanonical);
	CU_add_test(s, "test_sd_share_any_quorum_rebuilds", test_sd_share_any_quorum_rebuilds);
	CU_add_test(s, "test_sd_doc_recover_round_trip", test_sd_doc_recover_round_trip);
	CU_add_test(s, "test_sd_doc_one_key_fails", test_sd_doc_one_key_fails);
	CU_add_test(s, "test_sd_doc_foreign_key_named", test_sd_doc_foreign_key_named);
	CU_add_test(s, "test_sd_doc_share_of_other_custodian",
	            test_sd_doc_share_of_other_custodian);
	CU_add_test(s, "test_sd_doc_every_flipped_byte_rejected",
	            test_sd_doc_every_flipped_byte_rejected);
	CU_add_test(s, "test_sd_doc_rejects_bad_parameters", test_sd_doc_rejects_bad_parameters);
	CU_add_test(s, "test_sd_upload_round_trip_and_flips", test_sd_upload_round_trip_and_flips);
	CU_add_test(s, "test_sd_write_file_new_keeps_existing",
	            test_sd_write_file_new_keeps_existing);
}
