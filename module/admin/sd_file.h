/*
 * The security-domain documents: sd.json, which contains one share of the
 * security-domain key per custodian, and upload.json, which carries the
 * rebuilt key to a new token wrapped under that token's exchange key.
 *
 * sd.json: the key is split M-of-N with Shamir's scheme (libgfshare, over
 * GF(2^8)). Each share is encrypted under a fresh AES-256-GCM key, and that
 * key under the custodian's RSA public key with RSA-OAEP (SHA-256, MGF1
 * SHA-256). The associated data of each share binds it to the format
 * version, the token identity, the quorum, the custodian count, the share
 * index, the custodian's key fingerprint and the security domain's
 * fingerprint. A MAC under the security-domain key covers the whole
 * document, so that a change to any custodian's entry is found once the key
 * is rebuilt.
 *
 * Both files must stay byte for byte as written: the parsers reject any
 * text that is not in the canonical form (sd_json_parse_canonical()).
 */
#ifndef HSMUX_ADMIN_SD_FILE_H
#define HSMUX_ADMIN_SD_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "module/admin/sd_util.h"

#define SD_FORMAT_VERSION 1
#define SD_CUSTODIANS_MIN 3
#define SD_CUSTODIANS_MAX 10
#define SD_QUORUM_MIN     2
/* Custodian and exchange RSA keys must have at least this many bits. */
#define SD_RSA_BITS_MIN 2048

/* Labels of sd_prf(): each derived value has its own. */
#define SD_LABEL_FINGERPRINT "hsmux-sd-v1 fingerprint"
#define SD_LABEL_SD_MAC      "hsmux-sd-v1 sd.json"
#define SD_LABEL_UPLOAD_MAC  "hsmux-sd-v1 upload.json"
#define SD_LABEL_BACKUP_KEY  "hsmux-sd-v1 backup key"

/* "sha256:" and 64 hex digits */
#define SD_KEY_FP_LEN 72
/* 64 hex digits */
#define SD_FP_HEX_LEN 65

/* The identity of the token that a security domain was created on (C_GetTokenInfo, trimmed). */
struct sd_token_id {
	char label[33];
	char manufacturer[33];
	char model[17];
	char serial[17];
};

/* A parsed sd.json. */
struct sd_doc {
	json_t *root;
	unsigned int version;
	unsigned int quorum;
	size_t custodian_count;
	struct sd_token_id token;
	char sd_fingerprint[SD_FP_HEX_LEN];
};

/* A parsed upload.json. */
struct sd_upload {
	json_t *root;
	struct sd_token_id token; /* the token the security domain was created on */
	char sd_fingerprint[SD_FP_HEX_LEN];
	char exchange_fingerprint[SD_KEY_FP_LEN];
	unsigned char *wrapped_key;
	size_t wrapped_key_len;
	unsigned char mac[SD_MAC_LEN];
	char *mac_body; /* the compact canonical text that the MAC covers */
	size_t mac_body_len;
};

/* Fills id from a token's info, without the blank padding. */
void sd_token_id_from_info(const unsigned char label[32], const unsigned char manufacturer[32],
                           const unsigned char model[16], const unsigned char serial[16],
                           struct sd_token_id *id);

/* The fingerprint "sha256:<hex of the DER SubjectPublicKeyInfo>" of a public key. */
bool sd_key_fingerprint(EVP_PKEY *key, char out[SD_KEY_FP_LEN]);

/* The security domain's fingerprint: hex of sd_prf(key, SD_LABEL_FINGERPRINT, ""). */
bool sd_fingerprint(const struct sd_secret *key, char out[SD_FP_HEX_LEN]);

/*
 * Checks that key is an RSA public key that a custodian or exchange key may
 * be. Returns false with a reason in err.
 */
bool sd_check_rsa_key(EVP_PKEY *key, char *err, size_t err_len);

/*
 * Builds sd.json for key: splits it quorum-of-n and encrypts share i to
 * custodians[i]. Returns the canonical text in *text (the caller frees it),
 * or false with a reason in err. The key is only read.
 */
bool sd_doc_create(const struct sd_secret *key, const struct sd_token_id *token,
                   EVP_PKEY *const *custodians, size_t n, unsigned int quorum, char **text,
                   char *err, size_t err_len);

/* Parses sd.json. Returns false with a reason in err. sd_doc_cleanup() frees it. */
bool sd_doc_parse(const char *text, size_t len, struct sd_doc *doc, char *err, size_t err_len);
void sd_doc_cleanup(struct sd_doc *doc);

/*
 * Decrypts the shares of the given custodian private keys, rebuilds the
 * key, and checks it against the fingerprint and the MAC of sd.json. names
 * name the keys in messages (file names). report gets one line per key that
 * did not give a valid share, and the reason for a failure. Returns true
 * with *key initialized, or false with *key untouched.
 */
bool sd_doc_recover(const struct sd_doc *doc, EVP_PKEY *const *keys, const char *const *names,
                    size_t n, struct sd_secret *key, char *report, size_t report_len);

/*
 * Builds upload.json: key wrapped under the exchange public key with
 * RSA-OAEP (SHA-1, MGF1 SHA-1) and a MAC under key. The text is canonical;
 * the caller frees it.
 */
bool sd_upload_create(const struct sd_doc *doc, const struct sd_secret *key, EVP_PKEY *exchange,
                      char **text, char *err, size_t err_len);

/* Parses upload.json. Returns false with a reason in err. sd_upload_cleanup() frees it. */
bool sd_upload_parse(const char *text, size_t len, struct sd_upload *up, char *err, size_t err_len);
void sd_upload_cleanup(struct sd_upload *up);

/* Fills a JSON object with the token identity; returns NULL when out of memory. */
json_t *sd_token_id_json(const struct sd_token_id *id);

#endif /* HSMUX_ADMIN_SD_FILE_H */
