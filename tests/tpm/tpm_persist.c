/*
 * The process side of the persistence test (test_tpm_persist.sh), through
 * libhsmux.so on a libtpms TPM in DIR/tpm:
 *
 *   tpm_persist gen MODULE DIR N     generate N key pairs, then exit
 *   tpm_persist genloop MODULE DIR   generate RSA key pairs until killed
 *   tpm_persist check MODULE DIR     sign with every key and verify (RSA
 *                                    keys also with CKM_RSA_PKCS of raw data)
 *   tpm_persist fork MODULE DIR      generate a key, fork, C_Finalize in the
 *                                    parent, and sign in the child
 *   tpm_persist wrongpin MODULE DIR  a wrong user PIN, then the right one and
 *                                    check, all in one process
 *
 * gen and genloop print "generated LABEL" once C_GenerateKeyPair has
 * returned. check prints "keys N" and fails when a private key lacks its
 * public key, a key does not sign, or OpenSSL rejects a signature.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tpm_p11.h"
#include "tpm_test_util.h"

static CK_SESSION_HANDLE start(const char *module, const char *dir)
{
	CK_SLOT_ID slot;

	if (!tpm_p11_load(module) || !tpm_p11_config(dir, NULL))
		return CK_INVALID_HANDLE;
	if (p11->C_Initialize(NULL) != CKR_OK || !tpm_p11_slot(&slot) ||
	    !tpm_p11_token(slot, "persist"))
		return CK_INVALID_HANDLE;
	return tpm_p11_login(slot);
}

static int generate(CK_SESSION_HANDLE s, long count, bool rsa_only)
{
	CK_OBJECT_HANDLE pub, priv;
	char label[64];

	for (long i = 0; count < 0 || i < count; i++) {
		bool rsa = rsa_only || i % 2 == 1;

		/* The pid keeps labels unique across the runs that share the store. */
		snprintf(label, sizeof(label), "%s%ld-%ld", rsa ? "rsa" : "ec", (long)getpid(), i);
		if (tpm_p11_keygen(s, rsa, rsa ? 2048 : 256, label, label, &pub, &priv) != CKR_OK) {
			fprintf(stderr, "C_GenerateKeyPair failed for %s\n", label);
			return 1;
		}
		printf("generated %s\n", label);
		fflush(stdout);
	}
	return 0;
}

static EVP_PKEY *public_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, bool *ec)
{
	CK_BYTE buf[600];
	CK_ATTRIBUTE a = {CKA_MODULUS, buf, sizeof(buf)};

	*ec = false;
	if (p11->C_GetAttributeValue(s, pub, &a, 1) == CKR_OK)
		return tpm_test_rsa_key(buf, a.ulValueLen);
	a.type = CKA_EC_POINT;
	a.ulValueLen = sizeof(buf);
	*ec = true;
	if (p11->C_GetAttributeValue(s, pub, &a, 1) == CKR_OK)
		return tpm_test_ec_key(buf, a.ulValueLen, a.ulValueLen > 70);
	return NULL;
}

/* Signs 36 bytes that are no DigestInfo (TLS 1.1's form) with CKM_RSA_PKCS. */
static bool check_raw_sign(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, EVP_PKEY *key)
{
	CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
	CK_BYTE in[36], sig[512];
	CK_ULONG sig_len = sizeof(sig);

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (CK_BYTE)(i * 7 + 3);
	return p11->C_SignInit(s, &mech, priv) == CKR_OK &&
	       p11->C_Sign(s, in, sizeof(in), sig, &sig_len) == CKR_OK &&
	       tpm_test_rsa_recovers(key, sig, sig_len, in, sizeof(in));
}

static bool check_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv)
{
	static const CK_BYTE data[] = "persistence";
	CK_BYTE label[64], sig[512];
	CK_ATTRIBUTE a = {CKA_LABEL, label, sizeof(label) - 1};
	CK_OBJECT_HANDLE pub;
	CK_ULONG sig_len = sizeof(sig);
	CK_MECHANISM mech;
	EVP_PKEY *key;
	bool ec, ok;

	if (p11->C_GetAttributeValue(s, priv, &a, 1) != CKR_OK)
		return false;
	label[a.ulValueLen] = '\0';
	if (tpm_p11_find(s, CKO_PUBLIC_KEY, (char *)label, &pub) != 1) {
		fprintf(stderr, "private key %s has no public key\n", label);
		return false;
	}
	key = public_key(s, pub, &ec);
	if (!key)
		return false;
	mech = (CK_MECHANISM){ec ? CKM_ECDSA_SHA256 : CKM_SHA256_RSA_PKCS, NULL, 0};
	ok = p11->C_SignInit(s, &mech, priv) == CKR_OK &&
	     p11->C_Sign(s, (CK_BYTE *)data, sizeof(data) - 1, sig, &sig_len) == CKR_OK &&
	     tpm_test_verify(key, EVP_sha256(), false, data, sizeof(data) - 1, sig, sig_len) &&
	     (ec || check_raw_sign(s, priv, key));
	if (!ok)
		fprintf(stderr, "key %s does not sign or verify\n", label);
	EVP_PKEY_free(key);
	return ok;
}

static int check(CK_SESSION_HANDLE s)
{
	CK_OBJECT_CLASS priv_cls = CKO_PRIVATE_KEY, pub_cls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE by_priv = {CKA_CLASS, &priv_cls, sizeof(priv_cls)};
	CK_ATTRIBUTE by_pub = {CKA_CLASS, &pub_cls, sizeof(pub_cls)};
	CK_OBJECT_HANDLE keys[512];
	CK_ULONG n_priv = 0, n_pub = 0;
	CK_OBJECT_HANDLE pubs[512];

	if (p11->C_FindObjectsInit(s, &by_priv, 1) != CKR_OK ||
	    p11->C_FindObjects(s, keys, 512, &n_priv) != CKR_OK ||
	    p11->C_FindObjectsFinal(s) != CKR_OK)
		return 1;
	if (p11->C_FindObjectsInit(s, &by_pub, 1) != CKR_OK ||
	    p11->C_FindObjects(s, pubs, 512, &n_pub) != CKR_OK ||
	    p11->C_FindObjectsFinal(s) != CKR_OK)
		return 1;
	if (n_pub != n_priv) {
		fprintf(stderr, "%lu private keys but %lu public keys\n", n_priv, n_pub);
		return 1;
	}
	for (CK_ULONG i = 0; i < n_priv; i++) {
		if (!check_key(s, keys[i]))
			return 1;
	}
	printf("keys %lu\n", n_priv);
	return 0;
}

/*
 * The daemon pattern: the parent initializes and forks, then finalizes;
 * the child calls C_Initialize again and must get the TPM and the keys.
 */
static int fork_and_sign(CK_SESSION_HANDLE s, const char *dir)
{
	int done[2], status = 0;
	char byte;
	pid_t pid;

	if (generate(s, 1, false) != 0 || pipe(done) != 0)
		return 1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		CK_SLOT_ID slot;

		close(done[1]);
		/* EOF on the pipe: the parent has finalized and released the TPM. */
		while (read(done[0], &byte, 1) > 0)
			;
		if (p11->C_Initialize(NULL) != CKR_OK || !tpm_p11_slot(&slot)) {
			fprintf(stderr, "C_Initialize failed in the child of fork()\n");
			_exit(1);
		}
		s = tpm_p11_login(slot);
		_exit(s != CK_INVALID_HANDLE && check(s) == 0 ? 0 : 1);
	}
	close(done[0]);
	p11->C_CloseSession(s);
	p11->C_Finalize(NULL);
	close(done[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 1;
	printf("child signed after fork\n");
	return 0;
}

/* A failed authorization must leave the TPM session usable for the next login. */
static int wrong_then_right(CK_SESSION_HANDLE s)
{
	static CK_UTF8CHAR wrong[] = "not-the-pin";
	CK_RV rv;

	p11->C_Logout(s);
	rv = p11->C_Login(s, CKU_USER, wrong, sizeof(wrong) - 1);
	if (rv != CKR_PIN_INCORRECT) {
		fprintf(stderr, "a wrong PIN gave 0x%lx, not CKR_PIN_INCORRECT\n", rv);
		return 1;
	}
	rv = p11->C_Login(s, CKU_USER, (CK_UTF8CHAR *)TPM_P11_USER_PIN, strlen(TPM_P11_USER_PIN));
	if (rv != CKR_OK) {
		fprintf(stderr, "the right PIN after a wrong one gave 0x%lx\n", rv);
		return 1;
	}
	return check(s);
}

int main(int argc, char **argv)
{
	CK_SESSION_HANDLE s;
	int rc;

	if (argc < 4) {
		fprintf(stderr, "usage: %s gen|genloop|check|fork|wrongpin MODULE DIR [N]\n",
		        argv[0]);
		return 2;
	}
	s = start(argv[2], argv[3]);
	if (s == CK_INVALID_HANDLE) {
		fprintf(stderr, "cannot open and log in to the tpm token in %s\n", argv[3]);
		return 1;
	}
	if (strcmp(argv[1], "gen") == 0)
		rc = generate(s, argc > 4 ? strtol(argv[4], NULL, 10) : 2, false);
	else if (strcmp(argv[1], "genloop") == 0)
		rc = generate(s, -1, true);
	else if (strcmp(argv[1], "wrongpin") == 0)
		rc = wrong_then_right(s);
	else if (strcmp(argv[1], "fork") == 0)
		return fork_and_sign(s, argv[3]);
	else
		rc = check(s);
	p11->C_CloseSession(s);
	p11->C_Finalize(NULL);
	return rc;
}
