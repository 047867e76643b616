/* test_ftpurl.c — mtftp's URL parser (users, passwords, %XX, [v6] hosts,
 * ports, directory URLs, refusals) and ~/.netrc lookups (machine, default,
 * quotes, macdef skipped, the permission refusal). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ftp/mtftp.h"

static void test_url_forms(void **st) {
  url_t u;
  const char *why;
  assert_int_equal(url_parse("ftp://host", &u, &why), 0);
  assert_string_equal(u.host, "host");
  assert_int_equal(u.port, 21);
  assert_false(u.has_user);
  assert_true(u.dir);
  assert_string_equal(u.path, "");

  assert_int_equal(url_parse("ftp://al%40ce:p%3Ass@example.org:2121/pub/a%20b.txt", &u, &why), 0);
  assert_string_equal(u.user, "al@ce");
  assert_string_equal(u.pass, "p:ss");
  assert_true(u.has_user && u.has_pass);
  assert_string_equal(u.host, "example.org");
  assert_int_equal(u.port, 2121);
  assert_string_equal(u.path, "pub/a b.txt");
  assert_false(u.dir);

  assert_int_equal(url_parse("ftp://user@[::1]:21/dir/", &u, &why), 0);
  assert_string_equal(u.host, "::1");
  assert_string_equal(u.user, "user");
  assert_false(u.has_pass);
  assert_string_equal(u.path, "dir");
  assert_true(u.dir);

  /* no scheme; a password holding '@' (the last one before the path counts) */
  assert_int_equal(url_parse("me:a@b@10.0.0.1/x", &u, &why), 0);
  assert_string_equal(u.pass, "a@b");
  assert_string_equal(u.host, "10.0.0.1");
  assert_true(url_is_url("ftp://x"));
  assert_false(url_is_url("x"));
  assert_false(u.implicit_tls);

  /* ftps://: implicit TLS, port 990 unless given */
  assert_true(url_is_url("ftps://x"));
  assert_int_equal(url_parse("ftps://h/f", &u, &why), 0);
  assert_true(u.implicit_tls);
  assert_int_equal(u.port, 990);
  assert_string_equal(u.path, "f");
  assert_int_equal(url_parse("ftps://h:2990/", &u, &why), 0);
  assert_true(u.implicit_tls);
  assert_int_equal(u.port, 2990);
}

static void test_url_refused(void **st) {
  url_t u;
  const char *why = NULL;
  const char *bad[] = {"http://host/x", "sftp://host/x", "ftps://", "ftp://", "ftp://host:0/", "ftp://host:65536", "ftp://host:12x",
                       "ftp://host:", "ftp://[::1/x", "ftp://[]/", "ftp://host/a%2", "ftp://host/a%zz",
                       "ftp://host/a%00b", "ftp://:21/"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why = NULL;
    assert_int_equal(url_parse(bad[i], &u, &why), -EINVAL);
    assert_non_null(why);
  }
}

static char dir[64];

static const char *write_netrc(const char *text, mode_t mode) {
  static char path[128];
  snprintf(path, sizeof path, "%s/netrc", dir);
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  chmod(path, mode);
  return path;
}

static void test_netrc(void **st) {
  snprintf(dir, sizeof dir, "/tmp/test_ftpurl.XXXXXX");
  assert_non_null(mkdtemp(dir));
  char login[64], pass[64];
  const char *why;
  const char *p = write_netrc("machine a.example login alice password \"s p\"\n"
                              "macdef init\ncd pub\nmachine evil login x password y\n\n"
                              "machine b.example login bob\npassword b0b\n"
                              "default login anon password guest\n",
                              0600);
  assert_int_equal(netrc_lookup(p, "a.example", login, sizeof login, pass, sizeof pass, &why), 1);
  assert_string_equal(login, "alice");
  assert_string_equal(pass, "s p");
  assert_int_equal(netrc_lookup(p, "B.EXAMPLE", login, sizeof login, pass, sizeof pass, &why), 1);
  assert_string_equal(login, "bob");
  assert_string_equal(pass, "b0b");
  /* the macro body is not read as entries */
  assert_int_equal(netrc_lookup(p, "evil", login, sizeof login, pass, sizeof pass, &why), 1);
  assert_string_equal(login, "anon");
  assert_int_equal(netrc_lookup(p, "other", login, sizeof login, pass, sizeof pass, &why), 1);
  assert_string_equal(pass, "guest");
  p = write_netrc("machine a.example login alice password x\n", 0600);
  assert_int_equal(netrc_lookup(p, "zzz", login, sizeof login, pass, sizeof pass, &why), 0);
  /* readable by others: refused, with a reason */
  p = write_netrc("machine a.example login alice password x\n", 0644);
  why = NULL;
  assert_int_equal(netrc_lookup(p, "a.example", login, sizeof login, pass, sizeof pass, &why), -EPERM);
  assert_non_null(why);
  assert_int_equal(netrc_lookup("/nonexistent/netrc", "a", login, sizeof login, pass, sizeof pass, &why), 0);
  unlink(p);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_url_forms), cmocka_unit_test(test_url_refused), cmocka_unit_test(test_netrc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
