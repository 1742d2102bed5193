/* Shamir split and join through libgfshare, and share encryption with RSA-OAEP and AES-GCM. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libgfshare.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "module/admin/sd_share.h"

/*
 * libgfshare draws polynomial coefficients through a global callback that
 * returns nothing, and also calls it to scrub a context when it is freed.
 * A failure of the generator is recorded here and fails the split.
 */
static __thread bool rand_failed;

static void sd_gfshare_rand(unsigned char *buf, unsigned int len)
{
	if (RAND_priv_bytes(buf, (int)len) != 1) {
		rand_failed = true;
		memset(buf, 0, len);
	}
}

bool sd_share_split(const struct sd_secret *key, unsigned int quorum, size_t n,
                    struct sd_secret *shares)
{
	unsigned char xs[255];
	gfshare_ctx *ctx;

	if (n == 0 || n > 255 || quorum < 1 || quorum > n)
		return false;
	for (size_t i = 0; i < n; i++)
		xs[i] = (unsigned char)(i + 1);

	gfshare_fill_rand = sd_gfshare_rand;
	rand_failed = false;
	ctx = gfshare_ctx_init_enc(xs, (unsigned int)n, (unsigned char)quorum,
	                           (unsigned int)key->len);
	if (!ctx)
		return false;
	/*
	 * NOTE: libgfshare copies the key into its own heap buffer, which is
	 * not locked in memory; gfshare_ctx_free() overwrites it before free.
	 */
	gfshare_ctx_enc_setsecret(ctx, key->data);
	for (size_t i = 0; i < n; i++)
		gfshare_ctx_enc_getshare(ctx, (unsigned char)i, shares[i].data);
	gfshare_ctx_free(ctx);
	return !rand_failed;
}

bool sd_share_combine(const unsigned char *xs, const struct sd_secret *shares, size_t n,
                      struct sd_secret *key)
{
	unsigned char xcopy[255];
	gfshare_ctx *ctx;

	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (xs[i] == 0 || shares[i].len != key->len)
			return false;
		for (size_t j = 0; j < i; j++)
			if (xs[j] == xs[i])
				return false;
		xcopy[i] = xs[i];
	}

	gfshare_fill_rand = sd_gfshare_rand;
	ctx = gfshare_ctx_init_dec(xcopy, (unsigned int)n, (unsigned int)key->len);
	if (!ctx)
		return false;
	for (size_t i = 0; i < n; i++)
		gfshare_ctx_dec_giveshare(ctx, (unsigned char)i, shares[i].data);
	gfshare_ctx_dec_extract(ctx, key->data);
	gfshare_ctx_free(ctx);
	return true;
}

static bool gcm_run(bool enc, const unsigned char *key, const unsigned char *iv,
                    const unsigned char *aad, size_t aad_len, const unsigned char *in, size_t len,
                    unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;
	bool ok = false;

	if (!ctx || len > INT32_MAX || aad_len > INT32_MAX)
		goto out;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv, enc ? 1 : 0) != 1)
		goto out;
	if (aad_len && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
		goto out;
	if (len && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SD_GCM_TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + (len ? n : 0), &n) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SD_GCM_TAG_LEN, tag) != 1)
		goto out;
	ok = true;
out:
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

bool sd_gcm_encrypt(const unsigned char *key, const unsigned char *iv, const unsigned char *aad,
                    size_t aad_len, const unsigned char *in, size_t len, unsigned char *out,
                    unsigned char *tag)
{
	return gcm_run(true, key, iv, aad, aad_len, in, len, out, tag);
}

bool sd_gcm_decrypt(const unsigned char *key, const unsigned char *iv, const unsigned char *aad,
                    size_t aad_len, const unsigned char *in, size_t len, unsigned char *out,
                    const unsigned char *tag)
{
	unsigned char tag_copy[SD_GCM_TAG_LEN];

	memcpy(tag_copy, tag, sizeof(tag_copy));
	if (gcm_run(false, key, iv, aad, aad_len, in, len, out, tag_copy))
		return true;
	OPENSSL_cleanse(out, len);
	return false;
}

static EVP_PKEY_CTX *oaep_ctx(EVP_PKEY *key, const EVP_MD *md, bool enc)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);

	if (!ctx)
		return NULL;
	if ((enc ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

bool sd_rsa_oaep_encrypt(EVP_PKEY *key, const EVP_MD *md, const unsigned char *in, size_t len,
                         unsigned char **out, size_t *out_len)
{
	EVP_PKEY_CTX *ctx = oaep_ctx(key, md, true);
	unsigned char *buf = NULL;
	size_t n = 0;
	bool ok = false;

	if (!ctx || EVP_PKEY_encrypt(ctx, NULL, &n, in, len) != 1)
		goto out;
	buf = malloc(n);
	if (!buf || EVP_PKEY_encrypt(ctx, buf, &n, in, len) != 1)
		goto out;
	*out = buf;
	*out_len = n;
	buf = NULL;
	ok = true;
out:
	free(buf);
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

bool sd_rsa_oaep_decrypt(EVP_PKEY *key, const EVP_MD *md, const unsigned char *in, size_t len,
                         struct sd_secret *out)
{
	EVP_PKEY_CTX *ctx = NULL;
	struct sd_secret buf = {0};
	size_t n = 0;
	bool ok = false;

	/* Decryption needs the private half; a public key alone must fail cleanly. */
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		return false;
	ctx = oaep_ctx(key, md, false);
	if (!ctx || EVP_PKEY_decrypt(ctx, NULL, &n, in, len) != 1)
		goto out;
	if (!sd_secret_init(&buf, n))
		goto out;
	if (EVP_PKEY_decrypt(ctx, buf.data, &n, in, len) != 1)
		goto out;
	if (!sd_secret_init(out, n))
		goto out;
	memcpy(out->data, buf.data, n);
	ok = true;
out:
	sd_secret_cleanup(&buf);
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

bool sd_share_seal(EVP_PKEY *custodian, const struct sd_secret *share, const unsigned char *aad,
                   size_t aad_len, struct sd_sealed_share *out)
{
	struct sd_secret cek = {0};
	bool ok = false;

	memset(out, 0, sizeof(*out));
	if (!sd_secret_init(&cek, SD_KEY_LEN) || RAND_priv_bytes(cek.data, SD_KEY_LEN) != 1 ||
	    RAND_bytes(out->iv, SD_GCM_IV_LEN) != 1)
		goto out;
	out->ciphertext = malloc(share->len);
	out->ciphertext_len = share->len;
	if (!out->ciphertext)
		goto out;
	if (!sd_gcm_encrypt(cek.data, out->iv, aad, aad_len, share->data, share->len,
	                    out->ciphertext, out->tag))
		goto out;
	if (!sd_rsa_oaep_encrypt(custodian, EVP_sha256(), cek.data, cek.len, &out->encrypted_key,
	                         &out->encrypted_key_len))
		goto out;
	ok = true;
out:
	sd_secret_cleanup(&cek);
	if (!ok)
		sd_sealed_share_cleanup(out);
	return ok;
}

bool sd_share_open(EVP_PKEY *custodian, const struct sd_sealed_share *in, const unsigned char *aad,
                   size_t aad_len, struct sd_secret *share)
{
	struct sd_secret cek = {0};
	bool ok = false;

	if (share->len != in->ciphertext_len)
		return false;
	ERR_set_mark();
	if (!sd_rsa_oaep_decrypt(custodian, EVP_sha256(), in->encrypted_key, in->encrypted_key_len,
	                         &cek))
		goto out;
	if (cek.len != SD_KEY_LEN)
		goto out;
	ok = sd_gcm_decrypt(cek.data, in->iv, aad, aad_len, in->ciphertext, in->ciphertext_len,
	                    share->data, in->tag);
out:
	ERR_pop_to_mark();
	sd_secret_cleanup(&cek);
	return ok;
}

void sd_sealed_share_cleanup(struct sd_sealed_share *s)
{
	free(s->encrypted_key);
	free(s->ciphertext);
	memset(s, 0, sizeof(*s));
}
