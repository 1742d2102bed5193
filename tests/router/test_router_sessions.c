/* Router tests of sessions: handles, threads, fork, C_Finalize, and the trace. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "router_fixture.h"

#define SOFT_CONF "[backend:soft]\ntype = softhsm\nstore = %s/store\n"
#define SIGNS_PER_THREAD 200

static void test_session_handles(void)
{
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE a, b, c;
	CK_SESSION_INFO si;

	fixture_config(SOFT_CONF);
	CU_ASSERT_EQUAL_FATAL(fixture_init(), CKR_OK);
	CU_ASSERT_FATAL(fixture_token("soft", "handles", &slot));
	CU_ASSERT_EQUAL(fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &a), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &b), CKR_OK);
	CU_ASSERT_NOT_EQUAL(a, b);
	CU_ASSERT_EQUAL(fl->C_CloseSession(a), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_GetSessionInfo(a, &si), CKR_SESSION_HANDLE_INVALID);
	CU_ASSERT_EQUAL(fl->C_CloseSession(a), CKR_SESSION_HANDLE_INVALID);

	/* A reused table entry gets a new handle: the closed one stays dead. */
	CU_ASSERT_EQUAL(fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &c), CKR_OK);
	CU_ASSERT_NOT_EQUAL(c, a);
	CU_ASSERT_EQUAL(fl->C_GetSessionInfo(a, &si), CKR_SESSION_HANDLE_INVALID);
	CU_ASSERT_EQUAL(fl->C_GetSessionInfo(c, &si), CKR_OK);
	CU_ASSERT_EQUAL(si.slotID, slot);
	CU_ASSERT_EQUAL(si.state, CKS_RO_PUBLIC_SESSION);

	CU_ASSERT_EQUAL(fl->C_CloseAllSessions(slot), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_GetSessionInfo(b, &si), CKR_SESSION_HANDLE_INVALID);
	CU_ASSERT_EQUAL(fl->C_GetSessionInfo(c, &si), CKR_SESSION_HANDLE_INVALID);
	CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_OK);
}

/* C_Finalize with sessions and an active operation open, then a clean restart. */
static void test_finalize_open_sessions(void)
{
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s, old[4];
	CK_OBJECT_HANDLE pub, priv;
	CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0};
	CK_SESSION_INFO si;

	fixture_config(SOFT_CONF);
	CU_ASSERT_EQUAL_FATAL(fixture_init(), CKR_OK);
	CU_ASSERT_FATAL(fixture_token("soft", "final", &slot));
	for (int i = 0; i < 4; i++)
		old[i] = fixture_login(slot);
	CU_ASSERT_FATAL(fixture_ec_key(old[0], &pub, &priv));
	CU_ASSERT_EQUAL(fl->C_SignInit(old[0], &ecdsa, priv), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_FindObjectsInit(old[1], NULL, 0), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_OK);

	CU_ASSERT_EQUAL_FATAL(fixture_init(), CKR_OK);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(fl->C_GetSessionInfo(old[i], &si), CKR_SESSION_HANDLE_INVALID);
	CU_ASSERT_FATAL(fixture_slot("hsmux soft:", true, &slot));
	s = fixture_login(slot);
	CU_ASSERT_EQUAL(fl->C_GetSessionInfo(s, &si), CKR_OK);
	CU_ASSERT_EQUAL(si.state, CKS_RW_USER_FUNCTIONS);
	CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_OK);
}

/*
 * GCC 12's AddressSanitizer allocator is not fork-safe: a child forked while
 * another thread is inside malloc can wait forever for the allocator's lock.
 * Under ASan the signer therefore pauses while the test forks; the plain
 * build forks in the middle of the signing, which is the real test.
 * The runtime also takes that lock while a thread starts and while it
 * exits, so the signer is running before the first fork and stays alive
 * until the last.
 */
#if defined(__SANITIZE_ADDRESS__)
#define FORK_PAUSES_SIGNER 1
#else
#define FORK_PAUSES_SIGNER 0
#endif
static pthread_mutex_t fork_pause = PTHREAD_MUTEX_INITIALIZER;

struct signer {
	CK_SESSION_HANDLE session;
	CK_OBJECT_HANDLE priv, pub;
	int good;
	sem_t *started; /* if set, posted once the thread runs */
	sem_t *hold;    /* if set, waited on before the thread exits */
};

static void *sign_loop(void *arg)
{
	struct signer *sg = arg;
	CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0};
	CK_BYTE hash[32], sig[64];
	CK_ULONG len;

	if (sg->started)
		sem_post(sg->started);
	for (int i = 0; i < SIGNS_PER_THREAD; i++) {
		if (FORK_PAUSES_SIGNER)
			pthread_mutex_lock(&fork_pause);
		memset(hash, i, sizeof(hash));
		len = sizeof(sig);
		if (fl->C_SignInit(sg->session, &ecdsa, sg->priv) == CKR_OK &&
		    fl->C_Sign(sg->session, hash, sizeof(hash), sig, &len) == CKR_OK &&
		    fl->C_VerifyInit(sg->session, &ecdsa, sg->pub) == CKR_OK &&
		    fl->C_Verify(sg->session, hash, sizeof(hash), sig, len) == CKR_OK)
			sg->good++;
		if (FORK_PAUSES_SIGNER)
			pthread_mutex_unlock(&fork_pause);
	}
	if (sg->hold)
		sem_wait(sg->hold);
	return NULL;
}

/* Opens and closes sessions while the signers run, to stir the session table. */
static void *churn_loop(void *arg)
{
	CK_SLOT_ID slot = *(CK_SLOT_ID *)arg;
	CK_SESSION_HANDLE s;

	for (int i = 0; i < 300; i++) {
		if (fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) == CKR_OK)
			fl->C_CloseSession(s);
	}
	return NULL;
}

static void test_threads_sign(void)
{
	struct signer sg[2] = {0};
	pthread_t th[3];
	CK_SLOT_ID slot;

	fixture_config(SOFT_CONF);
	CU_ASSERT_EQUAL_FATAL(fixture_init(), CKR_OK);
	CU_ASSERT_FATAL(fixture_token("soft", "threads", &slot));
	for (int i = 0; i < 2; i++) {
		sg[i].session = fixture_login(slot);
		CU_ASSERT_FATAL(fixture_ec_key(sg[i].session, &sg[i].pub, &sg[i].priv));
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, sign_loop, &sg[i]);
	pthread_create(&th[2], NULL, churn_loop, &slot);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	CU_ASSERT_EQUAL(sg[0].good, SIGNS_PER_THREAD);
	CU_ASSERT_EQUAL(sg[1].good, SIGNS_PER_THREAD);
	CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_OK);
}

/* What the child of fork() does; its exit code is the test's verdict. */
static int child_after_fork(CK_SESSION_HANDLE parent_session)
{
	CK_SESSION_INFO si;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE pub, priv;
	CK_RV rv;

	if (fl->C_GetSessionInfo(parent_session, &si) != CKR_CRYPTOKI_NOT_INITIALIZED)
		return 10;
	if (fl->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_CRYPTOKI_NOT_INITIALIZED)
		return 18;
	if (fixture_init() != CKR_OK)
		return 11;
	if (fl->C_GetSessionInfo(parent_session, &si) != CKR_SESSION_HANDLE_INVALID)
		return 12;
	if (!fixture_slot("hsmux soft:", true, &slot))
		return 13;
	if (fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK)
		return 14;
	rv = fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "1111", 4);
	if (rv != CKR_OK) {
		fprintf(stderr, "login in child: 0x%lx\n", rv);
		return 15;
	}
	if (!fixture_ec_key(s, &pub, &priv))
		return 16;
	return fl->C_Finalize(NULL) == CKR_OK ? 0 : 17;
}

/* Forks while another thread is inside the module, so a lock may be held at fork time. */
static void test_fork(void)
{
	struct signer sg = {0};
	sem_t started, forks_done;
	CK_SLOT_ID slot;
	pthread_t th;
	int status = -1;
	pid_t pid;

	sem_init(&started, 0, 0);
	sem_init(&forks_done, 0, 0);
	sg.started = &started;
	sg.hold = &forks_done;

	fixture_config(SOFT_CONF);
	CU_ASSERT_EQUAL_FATAL(fixture_init(), CKR_OK);
	CU_ASSERT_FATAL(fixture_token("soft", "fork", &slot));
	sg.session = fixture_login(slot);
	CU_ASSERT_FATAL(fixture_ec_key(sg.session, &sg.pub, &sg.priv));
	pthread_create(&th, NULL, sign_loop, &sg);
	sem_wait(&started);
	for (int i = 0; i < 5; i++) {
		if (FORK_PAUSES_SIGNER)
			pthread_mutex_lock(&fork_pause);
		pid = fork();
		if (FORK_PAUSES_SIGNER && pid != 0)
			pthread_mutex_unlock(&fork_pause);
		if (pid == 0) {
			int rc;

			alarm(60);
			rc = child_after_fork(sg.session);
			if (rc)
				fprintf(stderr, "child exit code %d\n", rc);
			_exit(rc);
		}
		CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
		CU_ASSERT(WIFEXITED(status));
		CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
	}
	sem_post(&forks_done);
	pthread_join(th, NULL);
	sem_destroy(&started);
	sem_destroy(&forks_done);
	CU_ASSERT_EQUAL(sg.good, SIGNS_PER_THREAD);
	CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_OK);
}

/* With every trace category on, a login and an InitPIN never print the PIN. */
static void test_trace_hides_pins(void)
{
	char path[512], line[1024];
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
	FILE *f;
	int lines = 0, leaks = 0;

	fixture_config(SOFT_CONF);
	snprintf(path, sizeof(path), "%s/trace.log", fixture_dir);
	setenv("HSMUX_DEBUG", "all", 1);
	setenv("HSMUX_DEBUG_FILE", path, 1);
	CU_ASSERT_EQUAL_FATAL(fixture_init(), CKR_OK);
	CU_ASSERT_FATAL(fixture_slot("hsmux soft:", false, &slot));
	CU_ASSERT_EQUAL(fl->C_InitToken(slot, (CK_UTF8CHAR_PTR) "S0pinX77", 8,
					(CK_UTF8CHAR_PTR) "trace                           "),
			CKR_OK);
	CU_ASSERT_EQUAL(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
					  &s),
			CKR_OK);
	CU_ASSERT_EQUAL(fl->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR) "S0pinX77", 8), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_InitPIN(s, (CK_UTF8CHAR_PTR) "Us3rPinQ", 8), CKR_OK);
	CU_ASSERT_EQUAL(fl->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "WrongPin", 8),
			CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
	CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_OK);
	unsetenv("HSMUX_DEBUG");
	unsetenv("HSMUX_DEBUG_FILE");

	f = fopen(path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (fgets(line, sizeof(line), f)) {
		lines++;
		if (strstr(line, "S0pinX77") || strstr(line, "Us3rPinQ") || strstr(line, "WrongPin"))
			leaks++;
	}
	fclose(f);
	CU_ASSERT(lines >= 6);
	CU_ASSERT_EQUAL(leaks, 0);
}

void fixture_register_sessions(void)
{
	CU_pSuite suite = CU_add_suite("sessions", NULL, NULL);

	CU_add_test(suite, "session handles", test_session_handles);
	CU_add_test(suite, "finalize with open sessions", test_finalize_open_sessions);
	CU_add_test(suite, "two threads sign", test_threads_sign);
	CU_add_test(suite, "fork", test_fork);
	CU_add_test(suite, "trace hides pins", test_trace_hides_pins);
}
