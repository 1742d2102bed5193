/*
 * The mechanism list, built from what the TPM reports: only what the TPM
 * computes itself is advertised. Hash-and-sign variants hash in software
 * and sign the digest in the TPM, which is the TPM's own signing interface.
 */
#include <string.h>

#include "backends/tpm/tpm_hmac.h"
#include "backends/tpm/tpm_keygen.h"
#include "backends/tpm/tpm_mech.h"

enum mech_need {
	NEED_RSA,
	NEED_RSA_PSS,
	NEED_RSA_OAEP,
	NEED_RSA_AES_WRAP,
	NEED_RSA_ES,
	NEED_EC,
	NEED_AES,
	NEED_AES_CBC,
	NEED_AES_CFB,
	NEED_HMAC, /* a keyed-hash object with the HMAC scheme; sizes in bytes */
	NEED_NONE,
};

struct mech_entry {
	CK_MECHANISM_TYPE type;
	enum mech_need need;
	TPMI_ALG_HASH hash; /* TPM2_ALG_NULL when the mechanism has none of its own */
	CK_FLAGS flags;
};

#define EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)

static const struct mech_entry mechs[] = {
    {CKM_RSA_PKCS_KEY_PAIR_GEN, NEED_RSA, TPM2_ALG_NULL, CKF_GENERATE_KEY_PAIR},
    {CKM_RSA_PKCS, NEED_RSA, TPM2_ALG_NULL, CKF_SIGN},
    {CKM_SHA1_RSA_PKCS, NEED_RSA, TPM2_ALG_SHA1, CKF_SIGN},
    {CKM_SHA256_RSA_PKCS, NEED_RSA, TPM2_ALG_SHA256, CKF_SIGN},
    {CKM_SHA384_RSA_PKCS, NEED_RSA, TPM2_ALG_SHA384, CKF_SIGN},
    {CKM_SHA512_RSA_PKCS, NEED_RSA, TPM2_ALG_SHA512, CKF_SIGN},
    {CKM_RSA_PKCS_PSS, NEED_RSA_PSS, TPM2_ALG_NULL, CKF_SIGN},
    {CKM_SHA1_RSA_PKCS_PSS, NEED_RSA_PSS, TPM2_ALG_SHA1, CKF_SIGN},
    {CKM_SHA256_RSA_PKCS_PSS, NEED_RSA_PSS, TPM2_ALG_SHA256, CKF_SIGN},
    {CKM_SHA384_RSA_PKCS_PSS, NEED_RSA_PSS, TPM2_ALG_SHA384, CKF_SIGN},
    {CKM_SHA512_RSA_PKCS_PSS, NEED_RSA_PSS, TPM2_ALG_SHA512, CKF_SIGN},
    {CKM_RSA_PKCS_OAEP, NEED_RSA_OAEP, TPM2_ALG_NULL, CKF_DECRYPT | CKF_UNWRAP},
    {CKM_RSA_AES_KEY_WRAP, NEED_RSA_AES_WRAP, TPM2_ALG_NULL, CKF_UNWRAP},
    {CKM_EC_KEY_PAIR_GEN, NEED_EC, TPM2_ALG_NULL, CKF_GENERATE_KEY_PAIR | EC_FLAGS},
    {CKM_ECDSA, NEED_EC, TPM2_ALG_NULL, CKF_SIGN | EC_FLAGS},
    {CKM_ECDSA_SHA1, NEED_EC, TPM2_ALG_SHA1, CKF_SIGN | EC_FLAGS},
    {CKM_ECDSA_SHA256, NEED_EC, TPM2_ALG_SHA256, CKF_SIGN | EC_FLAGS},
    {CKM_ECDSA_SHA384, NEED_EC, TPM2_ALG_SHA384, CKF_SIGN | EC_FLAGS},
    {CKM_ECDSA_SHA512, NEED_EC, TPM2_ALG_SHA512, CKF_SIGN | EC_FLAGS},
    {CKM_AES_KEY_GEN, NEED_AES, TPM2_ALG_NULL, CKF_GENERATE},
    {CKM_GENERIC_SECRET_KEY_GEN, NEED_HMAC, TPM2_ALG_SHA256, CKF_GENERATE},
    {CKM_SHA256_HMAC, NEED_HMAC, TPM2_ALG_SHA256, CKF_SIGN | CKF_VERIFY},
    {CKM_AES_CBC, NEED_AES_CBC, TPM2_ALG_NULL, CKF_ENCRYPT | CKF_DECRYPT},
    {CKM_AES_CFB128, NEED_AES_CFB, TPM2_ALG_NULL, CKF_ENCRYPT | CKF_DECRYPT},
    {CKM_SHA_1, NEED_NONE, TPM2_ALG_SHA1, CKF_DIGEST},
    {CKM_SHA256, NEED_NONE, TPM2_ALG_SHA256, CKF_DIGEST},
    {CKM_SHA384, NEED_NONE, TPM2_ALG_SHA384, CKF_DIGEST},
    {CKM_SHA512, NEED_NONE, TPM2_ALG_SHA512, CKF_DIGEST},
};

bool tpm_mech_hash_supported(const struct tpm_token *tok, TPMI_ALG_HASH hash)
{
	switch (hash) {
	case TPM2_ALG_SHA1:
		return tok->has_sha1;
	case TPM2_ALG_SHA256:
		return tok->has_sha256;
	case TPM2_ALG_SHA384:
		return tok->has_sha384;
	case TPM2_ALG_SHA512:
		return tok->has_sha512;
	default:
		return false;
	}
}

static bool entry_supported(const struct tpm_token *tok, const struct mech_entry *m)
{
	bool need_ok;

	switch (m->need) {
	case NEED_RSA:
		need_ok = true;
		break;
	case NEED_RSA_PSS:
		need_ok = tok->has_pss;
		break;
	case NEED_RSA_OAEP:
		need_ok = tok->has_oaep;
		break;
	case NEED_RSA_AES_WRAP:
		need_ok = tok->has_oaep && (tok->has_aes128 || tok->has_aes256);
		break;
	case NEED_RSA_ES:
		need_ok = tok->has_rsaes;
		break;
	case NEED_AES:
		need_ok = tok->has_aes128 || tok->has_aes256;
		break;
	case NEED_AES_CBC:
		need_ok = (tok->has_aes128 || tok->has_aes256) && tok->has_cbc;
		break;
	case NEED_AES_CFB:
		need_ok = (tok->has_aes128 || tok->has_aes256) && tok->has_cfb;
		break;
	case NEED_EC:
		need_ok = tok->has_p256 || tok->has_p384;
		break;
	default:
		need_ok = true;
	}
	return need_ok && (m->hash == TPM2_ALG_NULL || tpm_mech_hash_supported(tok, m->hash));
}

static bool alg_listed(const TPMS_CAPABILITY_DATA *cap, TPM2_ALG_ID alg)
{
	for (UINT32 i = 0; i < cap->data.algorithms.count; i++) {
		if (cap->data.algorithms.algProperties[i].alg == alg)
			return true;
	}
	return false;
}

static bool rsa3072_supported(struct tpm_token *tok)
{
	TPMT_PUBLIC_PARMS parms = {.type = TPM2_ALG_RSA};

	parms.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	parms.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	parms.parameters.rsaDetail.keyBits = 3072;
	return Esys_TestParms(tok->dev.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &parms) ==
	       TSS2_RC_SUCCESS;
}

static bool aes_supported(struct tpm_token *tok, TPMI_AES_KEY_BITS bits)
{
	TPMT_PUBLIC_PARMS parms = {.type = TPM2_ALG_SYMCIPHER};

	parms.parameters.symDetail.sym.algorithm = TPM2_ALG_AES;
	parms.parameters.symDetail.sym.keyBits.aes = bits;
	parms.parameters.symDetail.sym.mode.aes = TPM2_ALG_NULL;
	return Esys_TestParms(tok->dev.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &parms) ==
	       TSS2_RC_SUCCESS;
}

/* A TPM may lack TPM2_EncryptDecrypt2, so the command list is checked. */
static bool command_supported(struct tpm_token *tok, TPM2_CC cc)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	bool found = false;

	if (Esys_GetCapability(tok->dev.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	                       TPM2_CAP_COMMANDS, cc, 1, NULL, &cap) != TSS2_RC_SUCCESS)
		return false;
	found = cap->data.command.count == 1 &&
	        (cap->data.command.commandAttributes[0] & TPMA_CC_COMMANDINDEX_MASK) == cc;
	Esys_Free(cap);
	return found;
}

CK_RV tpm_mech_probe_locked(struct tpm_token *tok)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TSS2_RC rc;

	rc = Esys_GetCapability(tok->dev.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	                        TPM2_CAP_ALGS, TPM2_ALG_FIRST, TPM2_MAX_CAP_ALGS, NULL, &cap);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_to_ckr(rc);
	tok->has_sha1 = alg_listed(cap, TPM2_ALG_SHA1);
	tok->has_sha256 = alg_listed(cap, TPM2_ALG_SHA256);
	tok->has_sha384 = alg_listed(cap, TPM2_ALG_SHA384);
	tok->has_sha512 = alg_listed(cap, TPM2_ALG_SHA512);
	tok->has_oaep = alg_listed(cap, TPM2_ALG_OAEP);
	tok->has_rsaes = alg_listed(cap, TPM2_ALG_RSAES);
	tok->has_pss = alg_listed(cap, TPM2_ALG_RSAPSS);
	tok->has_cbc = alg_listed(cap, TPM2_ALG_CBC);
	tok->has_cfb = alg_listed(cap, TPM2_ALG_CFB);
	Esys_Free(cap);

	cap = NULL;
	rc =
	    Esys_GetCapability(tok->dev.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	                       TPM2_CAP_ECC_CURVES, TPM2_ECC_NONE, TPM2_MAX_ECC_CURVES, NULL, &cap);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_to_ckr(rc);
	for (UINT32 i = 0; i < cap->data.eccCurves.count; i++) {
		tok->has_p256 |= cap->data.eccCurves.eccCurves[i] == TPM2_ECC_NIST_P256;
		tok->has_p384 |= cap->data.eccCurves.eccCurves[i] == TPM2_ECC_NIST_P384;
	}
	Esys_Free(cap);
	tok->has_rsa3072 = rsa3072_supported(tok);
	if (command_supported(tok, TPM2_CC_EncryptDecrypt2)) {
		tok->has_aes128 = aes_supported(tok, 128);
		tok->has_aes256 = aes_supported(tok, 256);
	}
	return CKR_OK;
}

CK_RV tpm_mech_list(const struct tpm_token *tok, CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
	CK_ULONG n = 0;
	CK_RV rv = CKR_OK;

	for (size_t i = 0; i < ARRAY_LEN(mechs); i++) {
		if (!entry_supported(tok, &mechs[i]))
			continue;
		if (list && n < *count)
			list[n] = mechs[i].type;
		else if (list)
			rv = CKR_BUFFER_TOO_SMALL;
		n++;
	}
	*count = n;
	return rv;
}

CK_RV tpm_mech_info(const struct tpm_token *tok, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
	for (size_t i = 0; i < ARRAY_LEN(mechs); i++) {
		const struct mech_entry *m = &mechs[i];

		if (m->type != type || !entry_supported(tok, m))
			continue;
		memset(info, 0, sizeof(*info));
		info->flags = m->flags | CKF_HW;
		if (type == CKM_RSA_PKCS && tok->has_rsaes)
			info->flags |= CKF_DECRYPT | CKF_ENCRYPT;
		/* The TPM verifies RSA and ECDSA signatures and encrypts with RSA public keys. */
		if ((m->flags & CKF_SIGN) &&
		    (m->need == NEED_RSA || m->need == NEED_RSA_PSS || m->need == NEED_EC))
			info->flags |= CKF_VERIFY;
		if (type == CKM_RSA_PKCS_OAEP)
			info->flags |= CKF_ENCRYPT;
		/* OAEP unwraps into AES keys, so that needs the TPM's AES. */
		if (type == CKM_RSA_PKCS_OAEP && !(tok->has_aes128 || tok->has_aes256))
			info->flags &= ~CKF_UNWRAP;
		if (m->need == NEED_AES || m->need == NEED_AES_CBC || m->need == NEED_AES_CFB) {
			/* AES key sizes are in bytes. */
			info->ulMinKeySize = tok->has_aes128 ? 16 : 32;
			info->ulMaxKeySize = tok->has_aes256 ? 32 : 16;
		} else if (m->need == NEED_HMAC) {
			bool gen = type == CKM_GENERIC_SECRET_KEY_GEN;

			info->ulMinKeySize = gen ? TPM_HMAC_KEY_GEN : 1;
			info->ulMaxKeySize = gen ? TPM_HMAC_KEY_GEN : TPM_HMAC_KEY_MAX;
		} else if (m->need == NEED_EC) {
			info->ulMinKeySize = tok->has_p256 ? 256 : 384;
			info->ulMaxKeySize = tok->has_p384 ? 384 : 256;
		} else if (m->need != NEED_NONE) {
			info->ulMinKeySize = 2048;
			info->ulMaxKeySize = tok->has_rsa3072 ? 3072 : 2048;
		}
		return CKR_OK;
	}
	return CKR_MECHANISM_INVALID;
}

TPMI_ALG_HASH tpm_mech_hash_of_ckm(CK_MECHANISM_TYPE mech)
{
	for (size_t i = 0; i < ARRAY_LEN(mechs); i++) {
		if (mechs[i].type == mech)
			return mechs[i].hash;
	}
	return TPM2_ALG_NULL;
}

TPMI_ALG_HASH tpm_mech_hash_of_mgf(CK_RSA_PKCS_MGF_TYPE mgf)
{
	switch (mgf) {
	case CKG_MGF1_SHA1:
		return TPM2_ALG_SHA1;
	case CKG_MGF1_SHA256:
		return TPM2_ALG_SHA256;
	case CKG_MGF1_SHA384:
		return TPM2_ALG_SHA384;
	case CKG_MGF1_SHA512:
		return TPM2_ALG_SHA512;
	default:
		return TPM2_ALG_NULL;
	}
}

const EVP_MD *tpm_mech_evp_md(TPMI_ALG_HASH hash)
{
	switch (hash) {
	case TPM2_ALG_SHA1:
		return EVP_sha1();
	case TPM2_ALG_SHA256:
		return EVP_sha256();
	case TPM2_ALG_SHA384:
		return EVP_sha384();
	case TPM2_ALG_SHA512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

size_t tpm_mech_hash_size(TPMI_ALG_HASH hash)
{
	const EVP_MD *md = tpm_mech_evp_md(hash);

	return md ? (size_t)EVP_MD_get_size(md) : 0;
}
