/*
 * The PKCS#11 API attack suite: each attack runs through the function list
 * of a module loaded with dlopen() and reports whether it recovered key
 * bytes that it then compared with the known value.
 */
#ifndef HSMUX_ATTACK_H
#define HSMUX_ATTACK_H

#include <stdbool.h>
#include <stddef.h>

#include "hsmux/pkcs11.h"

enum attack_verdict {
	ATTACK_SUCCEEDED, /* key bytes recovered and equal to the known value */
	ATTACK_BLOCKED,   /* a call failed; rv and the detail name the call */
	ATTACK_NA,        /* the module lacks a mechanism or function the attack needs */
};

struct attack_result {
	enum attack_verdict verdict;
	CK_RV rv;
	char detail[200];
};

struct attack_ctx {
	CK_FUNCTION_LIST_PTR fl;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session;
	CK_MECHANISM_TYPE *mechs;
	CK_ULONG n_mechs;
};

/* Key properties for the template builders: each flag requests TRUE, its absence FALSE. */
enum {
	KEY_ENCRYPT = 1u << 0,
	KEY_DECRYPT = 1u << 1,
	KEY_WRAP = 1u << 2,
	KEY_UNWRAP = 1u << 3,
	KEY_SIGN = 1u << 4,
	KEY_VERIFY = 1u << 5,
	KEY_DERIVE = 1u << 6,
	KEY_SENSITIVE = 1u << 7,
	KEY_EXTRACTABLE = 1u << 8,
	KEY_WRAP_WITH_TRUSTED = 1u << 9,
};

struct attack {
	const char *name;
	const char *what;
	void (*run)(struct attack_ctx *ctx, struct attack_result *res);
};

extern const struct attack attack_list[];
extern const size_t attack_count;

/* The spec's name of rv, for the report. */
const char *attack_rv_name(CK_RV rv);

/* Verdict setters: they fill res and return false so a caller can write `return blocked(...)`. */
bool attack_blocked(struct attack_result *res, const char *step, CK_RV rv);
bool attack_na(struct attack_result *res, CK_MECHANISM_TYPE mech);
void attack_succeeded(struct attack_result *res, const char *how);
/* Compares recovered bytes with the known key and sets SUCCEEDED, or BLOCKED on a mismatch. */
void attack_compare(struct attack_result *res, const char *how, const CK_BYTE *got,
                    CK_ULONG got_len, const CK_BYTE *known, CK_ULONG known_len);

bool attack_has_mech(const struct attack_ctx *ctx, CK_MECHANISM_TYPE mech);
/* Sets N/A in res and returns false when the module lacks mech. */
bool attack_need_mech(const struct attack_ctx *ctx, struct attack_result *res,
                      CK_MECHANISM_TYPE mech);

/*
 * Key builders. A secret key is a session object with every usage and
 * protection attribute of flags set explicitly, so that no token default
 * decides the outcome.
 */
CK_RV attack_gen_aes(struct attack_ctx *ctx, CK_ULONG bytes, unsigned int flags,
                     CK_OBJECT_HANDLE *key);
CK_RV attack_create_aes(struct attack_ctx *ctx, const CK_BYTE *value, CK_ULONG len,
                        unsigned int flags, CK_OBJECT_HANDLE *key);
CK_RV attack_gen_rsa(struct attack_ctx *ctx, CK_ULONG bits, unsigned int pub_flags,
                     unsigned int priv_flags, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv);
CK_RV attack_set_bool(struct attack_ctx *ctx, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                      CK_BBOOL value);
CK_RV attack_copy_bool(struct attack_ctx *ctx, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                       CK_BBOOL value, CK_OBJECT_HANDLE *copy);
/* Reads one attribute into buf; *len is its size on input and the value's length on output. */
CK_RV attack_get_attr(struct attack_ctx *ctx, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                      CK_BYTE *buf, CK_ULONG *len);

/*
 * Makes a sensitive AES-256 session key with a value the attacker knows
 * (written to value), asking for extractable_flags on top of SENSITIVE.
 * When the module rejects the template, it retries with the module's
 * minimum, because an attacker takes the target as it comes.
 */
CK_RV attack_make_target(struct attack_ctx *ctx, unsigned int extra_flags, CK_BYTE value[32],
                         CK_OBJECT_HANDLE *key);

/*
 * Recovers target with a wrapping key whose value the attacker supplied
 * through C_CreateObject: AES key wrap on the token, unwrap in OpenSSL.
 * Fills res: SUCCEEDED when the bytes match known.
 */
void attack_recover_by_known_wrap(struct attack_ctx *ctx, CK_OBJECT_HANDLE target,
                                  const CK_BYTE known[32], struct attack_result *res);

/* Local crypto in OpenSSL, independent of the module. */
bool attack_aes_kw_unwrap(const CK_BYTE *kek, size_t kek_len, const CK_BYTE *in, size_t in_len,
                          CK_BYTE *out, size_t *out_len);
bool attack_aes_kw_wrap(const CK_BYTE *kek, size_t kek_len, const CK_BYTE *in, size_t in_len,
                        CK_BYTE *out, size_t *out_len);
bool attack_aes_ecb_encrypt(const CK_BYTE *key, size_t key_len, const CK_BYTE in[16],
                            CK_BYTE out[16]);
bool attack_sha256(const CK_BYTE *in, size_t len, CK_BYTE out[32]);
void attack_random(CK_BYTE *buf, size_t len);

/* The attack groups, one file each. */
void attack_wrap_decrypt_cbc(struct attack_ctx *ctx, struct attack_result *res);
void attack_wrap_decrypt_kw_ecb(struct attack_ctx *ctx, struct attack_result *res);
void attack_wrap_decrypt_oaep(struct attack_ctx *ctx, struct attack_result *res);
void attack_roles_set_later(struct attack_ctx *ctx, struct attack_result *res);
void attack_roles_copy_later(struct attack_ctx *ctx, struct attack_result *res);
void attack_roles_oaep_set_later(struct attack_ctx *ctx, struct attack_result *res);
void attack_plant_encrypt_unwrap(struct attack_ctx *ctx, struct attack_result *res);
void attack_conjure_create_object(struct attack_ctx *ctx, struct attack_result *res);
void attack_weak_wrap_aes128(struct attack_ctx *ctx, struct attack_result *res);
void attack_weak_wrap_rsa1024(struct attack_ctx *ctx, struct attack_result *res);
void attack_reimport_nonsensitive(struct attack_ctx *ctx, struct attack_result *res);

void attack_flip_sensitive_set(struct attack_ctx *ctx, struct attack_result *res);
void attack_flip_sensitive_copy(struct attack_ctx *ctx, struct attack_result *res);
void attack_flip_extractable_set(struct attack_ctx *ctx, struct attack_result *res);
void attack_flip_extractable_copy(struct attack_ctx *ctx, struct attack_result *res);
void attack_flip_wwt_set(struct attack_ctx *ctx, struct attack_result *res);
void attack_flip_wwt_copy(struct attack_ctx *ctx, struct attack_result *res);
void attack_usage_on_later_set(struct attack_ctx *ctx, struct attack_result *res);
void attack_usage_on_later_copy(struct attack_ctx *ctx, struct attack_result *res);

void attack_read_value(struct attack_ctx *ctx, struct attack_result *res);
void attack_read_value_nonextractable(struct attack_ctx *ctx, struct attack_result *res);
void attack_read_rsa_private(struct attack_ctx *ctx, struct attack_result *res);
void attack_read_ec_private(struct attack_ctx *ctx, struct attack_result *res);
void attack_derive_concat_base_key(struct attack_ctx *ctx, struct attack_result *res);
void attack_derive_concat_base_data(struct attack_ctx *ctx, struct attack_result *res);
void attack_derive_concat_data_base(struct attack_ctx *ctx, struct attack_result *res);
void attack_derive_xor_base_data(struct attack_ctx *ctx, struct attack_result *res);
void attack_derive_extract_key(struct attack_ctx *ctx, struct attack_result *res);
void attack_digest_key(struct attack_ctx *ctx, struct attack_result *res);
void attack_operation_state(struct attack_ctx *ctx, struct attack_result *res);
void attack_pkcs1_unwrap_oracle(struct attack_ctx *ctx, struct attack_result *res);

#endif /* HSMUX_ATTACK_H */
