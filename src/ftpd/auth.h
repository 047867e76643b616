/* auth.h — helpers of auth.c beyond ftpd.h (tests and fuzzers use them). */
#ifndef FTPD_AUTH_H
#define FTPD_AUTH_H
#include "ftpd.h"
int ftpd_users_parse(ftpd_users_t *u, const char *text, size_t len, const char *name, char *err, size_t errlen);
int ftpd_hash_password(const char *pass, char *out, size_t outsz);
#endif
