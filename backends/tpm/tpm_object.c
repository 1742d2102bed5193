/* The in-memory object table and the cache of keys loaded in the TPM. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <tss2/tss2_mu.h>

#include "backends/tpm/tpm_token.h"

struct tpm_object *tpm_object_new(void)
{
	struct tpm_object *obj = calloc(1, sizeof(*obj));

	if (obj)
		obj->loaded = ESYS_TR_NONE;
	return obj;
}

void tpm_object_free(struct tpm_token *tok, struct tpm_object *obj)
{
	if (!obj)
		return;
	if (obj->loaded != ESYS_TR_NONE && tok->dev.esys)
		Esys_FlushContext(tok->dev.esys, obj->loaded);
	tpm_attrs_cleanup(&obj->attrs);
	free(obj);
}

CK_RV tpm_object_register_locked(struct tpm_token *tok, struct tpm_object *obj)
{
	struct tpm_object **v = realloc(tok->objects, (tok->n_objects + 1) * sizeof(*v));

	if (!v)
		return CKR_HOST_MEMORY;
	tok->objects = v;
	obj->handle = ++tok->next_object;
	tok->objects[tok->n_objects++] = obj;
	return CKR_OK;
}

void tpm_object_unregister_locked(struct tpm_token *tok, struct tpm_object *obj)
{
	for (size_t i = 0; i < tok->n_objects; i++) {
		if (tok->objects[i] == obj) {
			tok->objects[i] = tok->objects[--tok->n_objects];
			return;
		}
	}
}

bool tpm_object_visible(const struct tpm_token *tok, const struct tpm_object *obj)
{
	if (!tpm_attrs_bool(&obj->attrs, CKA_PRIVATE, false))
		return true;
	return tok->login == CKU_USER;
}

struct tpm_object *tpm_object_get_locked(struct tpm_token *tok, CK_OBJECT_HANDLE h)
{
	for (size_t i = 0; i < tok->n_objects; i++) {
		struct tpm_object *obj = tok->objects[i];

		if (obj->handle == h)
			return tpm_object_visible(tok, obj) ? obj : NULL;
	}
	return NULL;
}

static size_t count_loaded(const struct tpm_token *tok)
{
	size_t n = 0;

	for (size_t i = 0; i < tok->n_objects; i++)
		n += tok->objects[i]->loaded != ESYS_TR_NONE;
	return n;
}

bool tpm_object_evict_one_locked(struct tpm_token *tok)
{
	struct tpm_object *oldest = NULL;

	for (size_t i = 0; i < tok->n_objects; i++) {
		struct tpm_object *obj = tok->objects[i];

		if (obj->loaded != ESYS_TR_NONE && (!oldest || obj->last_use < oldest->last_use))
			oldest = obj;
	}
	if (!oldest)
		return false;
	Esys_FlushContext(tok->dev.esys, oldest->loaded);
	oldest->loaded = ESYS_TR_NONE;
	return true;
}

void tpm_object_flush_all_locked(struct tpm_token *tok)
{
	while (tpm_object_evict_one_locked(tok))
		;
}

static CK_RV unmarshal_blobs(const struct tpm_object *obj, TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv)
{
	const CK_ATTRIBUTE *a = tpm_attrs_find(&obj->attrs, TPM_CKA_TPM_PUBLIC);
	const CK_ATTRIBUTE *b = tpm_attrs_find(&obj->attrs, TPM_CKA_TPM_PRIVATE);
	size_t off = 0;

	if (!a || !b)
		return CKR_KEY_TYPE_INCONSISTENT;
	memset(pub, 0, sizeof(*pub));
	memset(priv, 0, sizeof(*priv));
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(a->pValue, a->ulValueLen, &off, pub) != TSS2_RC_SUCCESS)
		return CKR_DEVICE_ERROR;
	off = 0;
	if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(b->pValue, b->ulValueLen, &off, priv) !=
	    TSS2_RC_SUCCESS)
		return CKR_DEVICE_ERROR;
	return CKR_OK;
}

/*
 * The cache keeps up to cache_max keys loaded. A TPM with fewer free
 * transient slots (another process's objects on a shared swtpm) returns
 * TPM2_RC_OBJECT_MEMORY, and then the least recently used key goes first.
 */
CK_RV tpm_object_load_locked(struct tpm_token *tok, struct tpm_object *obj)
{
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
	TPM2B_AUTH auth = {.size = TPM_SECRET_LEN};
	TSS2_RC rc;
	CK_RV rv;

	obj->last_use = ++tok->use_clock;
	if (obj->loaded != ESYS_TR_NONE)
		return CKR_OK;
	if (tok->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	rv = unmarshal_blobs(obj, &pub, &priv);
	if (rv != CKR_OK)
		return rv;

	while (count_loaded(tok) >= tok->cache_max && tpm_object_evict_one_locked(tok))
		;
	for (;;) {
		rc = Esys_Load(tok->dev.esys, tok->dev.primary, tok->dev.session, ESYS_TR_NONE,
		               ESYS_TR_NONE, &priv, &pub, &obj->loaded);
		if (tpm_rc_base(rc) != TPM2_RC_OBJECT_MEMORY || !tpm_object_evict_one_locked(tok))
			break;
	}
	if (rc != TSS2_RC_SUCCESS) {
		obj->loaded = ESYS_TR_NONE;
		return tpm_rc_to_ckr(rc);
	}
	memcpy(auth.buffer, tok->secret, TPM_SECRET_LEN);
	Esys_TR_SetAuth(tok->dev.esys, obj->loaded, &auth);
	OPENSSL_cleanse(&auth, sizeof(auth));
	return CKR_OK;
}

TSS2_RC tpm_create_locked(struct tpm_token *tok, const TPM2B_SENSITIVE_CREATE *sensitive,
                          const TPM2B_PUBLIC *tmpl, TPM2B_PRIVATE **priv, TPM2B_PUBLIC **pub)
{
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION pcrs = {0};
	TSS2_RC rc;

	/* TPM2_Create builds the new object in a free transient slot, then flushes it. */
	for (;;) {
		rc = Esys_Create(tok->dev.esys, tok->dev.primary, tok->dev.session, ESYS_TR_NONE,
		                 ESYS_TR_NONE, sensitive, tmpl, &outside, &pcrs, priv, pub, NULL,
		                 NULL, NULL);
		if (tpm_rc_base(rc) != TPM2_RC_OBJECT_MEMORY || !tpm_object_evict_one_locked(tok))
			return rc;
	}
}
