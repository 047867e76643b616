/* auth.h — helpers of auth.c beyond ftpd.h (passwd.c, tests and fuzzers use them). */
#ifndef FTPD_AUTH_H
#define FTPD_AUTH_H
#include "ftpd.h"
int ftpd_users_parse(ftpd_users_t *u, const char *text, size_t len, const char *name, char *err, size_t errlen);
int ftpd_hash_password(const char *pass, char *out, size_t outsz);
/* 1-FTPD_MAX_USER letters, digits, '.', '_' or '-'. */
bool ftpd_user_name_ok(const char *name);
/* Reads a whole file of at most max bytes into *out (NUL-terminated; the
 * caller frees it). 0 or -errno (-EFBIG when larger). */
int ftpd_slurp(const char *path, char **out, size_t *len, size_t max);
#endif
