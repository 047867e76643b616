/* test_ftpurl.c — mtftp's URL parser (users, passwords, %XX, [v6] hosts,
 * ports, directory URLs, ftps://, refusals), ~/.netrc lookups (machine,
 * default, quotes, macdef skipped, the permission refusal) and the --pin
 * store (known_servers: records, lookups, comments kept, [v6] names, modes,
 * a malformed line refused). */
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

static void test_pins(void **st) {
  char base[64];
  snprintf(base, sizeof base, "/tmp/test_pins.XXXXXX");
  assert_non_null(mkdtemp(base));
  setenv("XDG_DATA_HOME", base, 1);   /* read once, at the first pins_path() */
  char want[128];
  snprintf(want, sizeof want, "%s/mtftp/known_servers", base);
  assert_string_equal(pins_path(), want);
  unsigned char k1[32], k2[32], got[32];
  for (int i = 0; i < 32; i++) k1[i] = (unsigned char)i, k2[i] = (unsigned char)(0xf0 ^ i);
  int line = 0;
  const char *why = NULL;
  assert_int_equal(pins_lookup("h", 21, got, &line, &why), 0);   /* no file yet */
  assert_int_equal(pins_record("h", 21, k1, &why), 0);
  assert_int_equal(pins_record("::1", 990, k2, &why), 0);
  assert_int_equal(pins_lookup("h", 21, got, &line, &why), 1);
  assert_memory_equal(got, k1, 32);
  assert_int_equal(line, 1);
  assert_int_equal(pins_lookup("::1", 990, got, &line, &why), 1);
  assert_memory_equal(got, k2, 32);
  assert_int_equal(line, 2);
  assert_int_equal(pins_lookup("h", 2121, got, &line, &why), 0);   /* host:port, not host */
  struct stat sb;
  assert_int_equal(stat(want, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  char pdir[128];
  snprintf(pdir, sizeof pdir, "%s/mtftp", base);
  assert_int_equal(stat(pdir, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0700);
  FILE *f = fopen(want, "r");
  char text[512] = "";
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  assert_string_equal(text, "h:21 sha256 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
                            "[::1]:990 sha256 f0f1f2f3f4f5f6f7f8f9fafbfcfdfeffe0e1e2e3e4e5e6e7e8e9eaebecedeeef\n");
  /* the same key recorded again (a parallel worker) is fine; another is not */
  assert_int_equal(pins_record("h", 21, k1, &why), 0);
  assert_int_equal(pins_record("h", 21, k2, &why), -EEXIST);
  /* comments and hand edits are kept; a malformed line of a host is refused */
  f = fopen(want, "w");
  fputs("# pins\n\nbad:1 sha256 zz\nh:21 sha256 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", f);
  fclose(f);
  assert_int_equal(pins_lookup("bad", 1, got, &line, &why), -EINVAL);
  assert_int_equal(line, 3);
  assert_non_null(strstr(why, "line 3"));
  assert_int_equal(pins_lookup("h", 21, got, &line, &why), 1);
  assert_int_equal(line, 4);
  assert_int_equal(pins_record("n", 1, k2, &why), 0);   /* after a last line without '\n' */
  assert_int_equal(pins_lookup("n", 1, got, &line, &why), 1);
  assert_int_equal(line, 5);
  assert_int_equal(pins_lookup("h", 21, got, &line, &why), 1);
  assert_memory_equal(got, k1, 32);
  unlink(want);
  rmdir(pdir);
  rmdir(base);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_url_forms), cmocka_unit_test(test_url_refused), cmocka_unit_test(test_netrc), cmocka_unit_test(test_pins),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
