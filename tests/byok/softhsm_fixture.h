/*
 * A SoftHSM token in a temporary directory. The tests reach it in one of
 * two ways. Through SoftHSM itself, a backend instance whose ops call
 * SoftHSM directly tests the mech layer without the router in front.
 * Through libhsmux.so, one softhsm backend serves the same kind of store.
 */
#ifndef HSMUX_TEST_SOFTHSM_FIXTURE_H
#define HSMUX_TEST_SOFTHSM_FIXTURE_H

#include <openssl/evp.h>

#include "backends/backend.h"
#include "hsmux/pkcs11.h"

struct fixture {
	void *dl;
	CK_FUNCTION_LIST_PTR fl;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session;
	struct hsmux_backend be;
	char dir[64];
};

extern struct fixture fx;

/*
 * Loads module (SoftHSM, or libhsmux.so when hsmux is true), creates the
 * token and logs in as user. Through hsmux, the mech trace goes to
 * fixture_trace_path(). Returns 0, or -1 after printing why.
 */
int fixture_init(const char *module, int hsmux);

/* The file that receives the module's HSMUX_DEBUG=mech trace. */
const char *fixture_trace_path(void);
void fixture_cleanup(void);

/* Counts the objects that the session can find, token and session objects alike. */
CK_ULONG fixture_count_objects(void);

/*
 * Generates an RSA key pair on the token: the private key can unwrap and,
 * with also_decrypt, decrypt too. *pub_key gets the public key for OpenSSL.
 */
CK_OBJECT_HANDLE fixture_rsa_kek(CK_ULONG bits, int also_decrypt, EVP_PKEY **pub_key);

/* Reads a variable-length attribute into a new buffer that the caller frees. */
unsigned char *fixture_get_attr(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, CK_ULONG *len);

/* Reads a CK_BBOOL attribute; returns -1 when it cannot be read. */
int fixture_get_bool(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type);

#endif /* HSMUX_TEST_SOFTHSM_FIXTURE_H */
