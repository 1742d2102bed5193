#include "tools/byok_wrap.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

/* The ephemeral AES key of CKM_RSA_AES_KEY_WRAP: AES-256. */
#define BYOK_EPHEMERAL_LEN 32

/* The largest key file read: a PEM RSA-4096 key is about 3.3 KiB. */
#define BYOK_KEY_FILE_MAX (64 * 1024)

static void set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

static const EVP_CIPHER *kwp_cipher(size_t kek_len)
{
	switch (kek_len) {
	case 16:
		return EVP_aes_128_wrap_pad();
	case 24:
		return EVP_aes_192_wrap_pad();
	case 32:
		return EVP_aes_256_wrap_pad();
	default:
		return NULL;
	}
}

/* Runs one wrap or unwrap; OpenSSL's wrap-pad ciphers use the RFC 5649 IV by default. */
static int kwp_run(int encrypt, const unsigned char *kek, size_t kek_len, const unsigned char *in,
                   size_t in_len, unsigned char *out, size_t *out_len)
{
	const EVP_CIPHER *cipher = kwp_cipher(kek_len);
	EVP_CIPHER_CTX *ctx;
	int n = 0, fin = 0, ret = -1;

	if (!cipher || in_len == 0 || in_len > INT_MAX - 16)
		return -1;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -1;
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex(ctx, cipher, NULL, kek, NULL, encrypt) != 1)
		goto out;
	if (EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) != 1 || n <= 0)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + n, &fin) != 1)
		goto out;
	*out_len = (size_t)n + (size_t)fin;
	ret = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	return ret;
}

int byok_kwp_wrap(const unsigned char *kek, size_t kek_len, const unsigned char *in, size_t in_len,
                  unsigned char *out, size_t *out_len)
{
	return kwp_run(1, kek, kek_len, in, in_len, out, out_len);
}

int byok_kwp_unwrap(const unsigned char *kek, size_t kek_len, const unsigned char *in,
                    size_t in_len, unsigned char *out, size_t *out_len)
{
	if (in_len < 16 || in_len % 8 != 0)
		return -1;
	return kwp_run(0, kek, kek_len, in, in_len, out, out_len);
}

bool byok_oaep_hash_parse(const char *name, enum byok_oaep_hash *hash)
{
	if (strcmp(name, "sha1") == 0)
		*hash = BYOK_OAEP_SHA1;
	else if (strcmp(name, "sha256") == 0)
		*hash = BYOK_OAEP_SHA256;
	else
		return false;
	return true;
}

const char *byok_key_type_name(enum byok_key_type type)
{
	switch (type) {
	case BYOK_KEY_RSA:
		return "RSA";
	case BYOK_KEY_EC:
		return "EC";
	case BYOK_KEY_ED25519:
		return "Ed25519";
	case BYOK_KEY_AES:
		return "AES";
	}
	return "unknown";
}

/* Reads a whole small file into a buffer that the caller frees with OPENSSL_clear_free(). */
static int read_small_file(const char *path, unsigned char **data, size_t *len, char *err,
                           size_t err_len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf;
	size_t n;

	if (!fp) {
		set_err(err, err_len, "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	buf = OPENSSL_malloc(BYOK_KEY_FILE_MAX + 1);
	n = buf ? fread(buf, 1, BYOK_KEY_FILE_MAX + 1, fp) : 0;
	if (!buf || ferror(fp) || n > BYOK_KEY_FILE_MAX) {
		set_err(err, err_len, "cannot read '%s': %s", path,
		        n > BYOK_KEY_FILE_MAX ? "larger than 64 KiB" : strerror(errno));
		fclose(fp);
		OPENSSL_clear_free(buf, BYOK_KEY_FILE_MAX + 1);
		return -1;
	}
	fclose(fp);
	*data = buf;
	*len = n;
	return 0;
}

/* Decodes a PEM or DER key of the given selection (EVP_PKEY_KEYPAIR or EVP_PKEY_PUBLIC_KEY). */
static EVP_PKEY *decode_key(const unsigned char *data, size_t len, int selection)
{
	OSSL_DECODER_CTX *dctx;
	EVP_PKEY *pkey = NULL;

	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, NULL, NULL, NULL, selection, NULL, NULL);
	if (!dctx)
		return NULL;
	if (OSSL_DECODER_from_data(dctx, &data, &len) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	OSSL_DECODER_CTX_free(dctx);
	ERR_clear_error();
	return pkey;
}

EVP_PKEY *byok_kek_public_load(const char *path, char *err, size_t err_len)
{
	unsigned char *data;
	EVP_PKEY *kek;
	size_t len;
	int bits;

	if (read_small_file(path, &data, &len, err, err_len) != 0)
		return NULL;
	kek = decode_key(data, len, EVP_PKEY_PUBLIC_KEY);
	OPENSSL_clear_free(data, BYOK_KEY_FILE_MAX + 1);
	if (!kek || !EVP_PKEY_is_a(kek, "RSA")) {
		set_err(err, err_len,
		        "'%s' is not an RSA public key in PEM or DER; export the KEK with "
		        "`hsmux byok kek export`",
		        path);
		EVP_PKEY_free(kek);
		return NULL;
	}
	bits = EVP_PKEY_get_bits(kek);
	if (bits < BYOK_RSA_MIN_BITS || bits > BYOK_RSA_MAX_BITS) {
		set_err(err, err_len, "KEK '%s' is RSA-%d; a KEK must have %d to %d bits", path,
		        bits, BYOK_RSA_MIN_BITS, BYOK_RSA_MAX_BITS);
		EVP_PKEY_free(kek);
		return NULL;
	}
	return kek;
}

/* Checks that pkey is a key type and size that BYOK imports. */
static int check_target(EVP_PKEY *pkey, const char *path, enum byok_key_type *type, char *err,
                        size_t err_len)
{
	static const char *const curves[] = {"prime256v1", "secp384r1", "secp521r1", "secp256k1"};
	char curve[64] = "";
	int bits = EVP_PKEY_get_bits(pkey);

	if (EVP_PKEY_is_a(pkey, "RSA")) {
		*type = BYOK_KEY_RSA;
		if (bits >= BYOK_RSA_MIN_BITS && bits <= BYOK_RSA_MAX_BITS)
			return 0;
		set_err(err, err_len, "'%s' is RSA-%d; RSA keys must have %d to %d bits", path,
		        bits, BYOK_RSA_MIN_BITS, BYOK_RSA_MAX_BITS);
		return -1;
	}
	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		*type = BYOK_KEY_ED25519;
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "EC")) {
		*type = BYOK_KEY_EC;
		EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, curve,
		                               sizeof(curve), NULL);
		for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
			if (strcmp(curve, curves[i]) == 0)
				return 0;
		set_err(err, err_len,
		        "'%s' is an EC key on curve '%s'; use P-256, P-384, P-521 or secp256k1",
		        path, curve[0] ? curve : "(explicit parameters)");
		return -1;
	}
	set_err(err, err_len, "'%s' is a %s key; BYOK imports RSA, EC, Ed25519 and AES keys", path,
	        EVP_PKEY_get0_type_name(pkey));
	return -1;
}

static int encode_pkcs8(EVP_PKEY *pkey, unsigned char **der, size_t *der_len)
{
	OSSL_ENCODER_CTX *ectx;
	int ret = -1;

	ectx = OSSL_ENCODER_CTX_new_for_pkey(pkey, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", NULL);
	if (ectx && OSSL_ENCODER_CTX_get_num_encoders(ectx) > 0 &&
	    OSSL_ENCODER_to_data(ectx, der, der_len) == 1)
		ret = 0;
	OSSL_ENCODER_CTX_free(ectx);
	ERR_clear_error();
	return ret;
}

static int load_aes(unsigned char *data, size_t len, const char *path, unsigned char **key,
                    size_t *key_len, char *err, size_t err_len)
{
	if (len != 16 && len != 24 && len != 32) {
		set_err(err, err_len,
		        "'%s' has %zu bytes; an AES key file holds 16, 24 or 32 raw bytes", path,
		        len);
		return -1;
	}
	*key = OPENSSL_memdup(data, len);
	*key_len = len;
	return *key ? 0 : -1;
}

static int load_private(unsigned char *data, size_t len, const char *path, unsigned char **key,
                        size_t *key_len, enum byok_key_type *type, EVP_PKEY **pub, char *err,
                        size_t err_len)
{
	EVP_PKEY *pkey = decode_key(data, len, EVP_PKEY_KEYPAIR);
	int ret = -1;

	if (!pkey) {
		set_err(err, err_len,
		        "'%s' is not an unencrypted private key in PEM or DER; give raw AES keys "
		        "with --aes",
		        path);
		return -1;
	}
	if (check_target(pkey, path, type, err, err_len) != 0)
		goto out;
	if (encode_pkcs8(pkey, key, key_len) != 0) {
		set_err(err, err_len, "cannot encode '%s' as PKCS#8", path);
		goto out;
	}
	if (pub) {
		*pub = pkey;
		pkey = NULL;
	}
	ret = 0;
out:
	EVP_PKEY_free(pkey);
	return ret;
}

int byok_target_load(const char *path, bool aes, unsigned char **key, size_t *key_len,
                     enum byok_key_type *type, EVP_PKEY **pub, char *err, size_t err_len)
{
	unsigned char *data;
	size_t len;
	int ret;

	*key = NULL;
	*key_len = 0;
	if (pub)
		*pub = NULL;
	if (read_small_file(path, &data, &len, err, err_len) != 0)
		return -1;
	if (aes) {
		*type = BYOK_KEY_AES;
		ret = load_aes(data, len, path, key, key_len, err, err_len);
	} else {
		ret = load_private(data, len, path, key, key_len, type, pub, err, err_len);
	}
	OPENSSL_clear_free(data, BYOK_KEY_FILE_MAX + 1);
	return ret;
}

/* Encrypts the ephemeral key with RSA-OAEP; MGF1 uses the OAEP hash. */
static int oaep_encrypt(EVP_PKEY *kek, enum byok_oaep_hash hash, const unsigned char *in,
                        size_t in_len, unsigned char *out, size_t *out_len)
{
	const EVP_MD *md = hash == BYOK_OAEP_SHA256 ? EVP_sha256() : EVP_sha1();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, kek, NULL);
	int ret = -1;

	if (!ctx)
		return -1;
	if (EVP_PKEY_encrypt_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) == 1 &&
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1 &&
	    EVP_PKEY_encrypt(ctx, out, out_len, in, in_len) == 1)
		ret = 0;
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ret;
}

int byok_rsa_aes_wrap(EVP_PKEY *kek, enum byok_oaep_hash hash, const unsigned char *target,
                      size_t target_len, unsigned char **blob, size_t *blob_len, char *err,
                      size_t err_len)
{
	size_t rsa_len = (size_t)EVP_PKEY_get_size(kek), kwp_len = 0;
	unsigned char aes[BYOK_EPHEMERAL_LEN];
	unsigned char *out;
	int ret = -1;

	*blob = NULL;
	*blob_len = 0;
	out = malloc(rsa_len + BYOK_KWP_WRAPPED_LEN(target_len));
	if (!out)
		return -1;
	if (RAND_priv_bytes(aes, sizeof(aes)) != 1) {
		set_err(err, err_len, "the random generator failed");
		goto out;
	}
	if (oaep_encrypt(kek, hash, aes, sizeof(aes), out, &rsa_len) != 0) {
		set_err(err, err_len, "RSA-OAEP encryption under the KEK failed");
		goto out;
	}
	if (byok_kwp_wrap(aes, sizeof(aes), target, target_len, out + rsa_len, &kwp_len) != 0) {
		set_err(err, err_len, "AES key wrap with padding failed");
		goto out;
	}
	*blob = out;
	*blob_len = rsa_len + kwp_len;
	out = NULL;
	ret = 0;
out:
	OPENSSL_cleanse(aes, sizeof(aes));
	free(out);
	return ret;
}
