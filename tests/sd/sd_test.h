/* Shared pieces of the security-domain unit tests. */
#ifndef HSMUX_TEST_SD_H
#define HSMUX_TEST_SD_H

#include <openssl/evp.h>

/* Each file adds its suites to the CUnit registry. */
void sd_files_register(void);
void backup_file_register(void);

/* A 2048-bit RSA key made by OpenSSL; cached, so the same n keys come back each time. */
EVP_PKEY *sd_test_rsa_key(int n);

#endif
