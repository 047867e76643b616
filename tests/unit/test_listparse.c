/* test_listparse.c — LIST lines: UNIX forms (with and without links and
 * group, a year or a time), symlinks, DOS forms (12 and 24 hour, <DIR>),
 * and the refusals (headers, garbage, an oversized size). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "listparse.h"

/* 2024-06-15 12:00:00 UTC */
#define NOW ((time_t)1718452800)

static int parse(const char *s, ftpp_list_entry_t *e) { return ftpp_list_parse(s, strlen(s), NOW, e); }

static void assert_name(const ftpp_list_entry_t *e, const char *name) {
  assert_int_equal(e->name_len, strlen(name));
  assert_memory_equal(e->name, name, e->name_len);
}

static void test_unix(void **st) {
  ftpp_list_entry_t e;
  assert_int_equal(parse("-rw-r--r--    1 ftp      ftp          1234 Jan 02  2023 a file.txt", &e), 0);
  assert_int_equal(e.type, FTPP_LIST_FILE);
  assert_int_equal(e.size, 1234);
  assert_int_equal(e.mode, 0644);
  assert_int_equal(e.mtime, (time_t)1672617600);   /* 2023-01-02 00:00 UTC */
  assert_int_equal(e.mtime_exact, 0);
  assert_name(&e, "a file.txt");

  assert_int_equal(parse("drwxr-xr-x 2 user group 4096 Jun 10 08:30 pub", &e), 0);
  assert_int_equal(e.type, FTPP_LIST_DIR);
  assert_int_equal(e.mode, 0755);
  assert_int_equal(e.mtime, (time_t)1718008200);   /* 2024-06-10 08:30 UTC */
  assert_int_equal(e.mtime_exact, 1);
  assert_name(&e, "pub");

  /* A time more than a day ahead of now is last year's. */
  assert_int_equal(parse("-rw------- 1 u g 5 Dec 31 23:59 late", &e), 0);
  assert_int_equal(e.mtime, (time_t)1704067140);   /* 2023-12-31 23:59 UTC */

  /* No link count, no group (some servers), a '+' ACL marker. */
  assert_int_equal(parse("-rwxr-x---+ owner 77 Mar 3 2021 x", &e), 0);
  assert_int_equal(e.size, 77);
  assert_int_equal(e.mode, 0750);
  assert_name(&e, "x");

  assert_int_equal(parse("lrwxrwxrwx 1 u g 7 Feb 29 2024 link -> target", &e), 0);
  assert_int_equal(e.type, FTPP_LIST_LINK);
  assert_name(&e, "link");

  /* A name that holds a month and spaces. */
  assert_int_equal(parse("-rw-r--r-- 1 u g 10 Jan 01 2020 Jan 01 2020 notes", &e), 0);
  assert_name(&e, "Jan 01 2020 notes");
}

static void test_dos(void **st) {
  ftpp_list_entry_t e;
  assert_int_equal(parse("06-15-24  03:04PM       <DIR>          My Dir", &e), 0);
  assert_int_equal(e.type, FTPP_LIST_DIR);
  assert_int_equal(e.mtime, (time_t)(1718409600 + 15 * 3600 + 4 * 60));
  assert_name(&e, "My Dir");
  assert_int_equal(parse("01-02-1999 00:01 123456 data.bin", &e), 0);
  assert_int_equal(e.type, FTPP_LIST_FILE);
  assert_int_equal(e.size, 123456);
  assert_name(&e, "data.bin");
  assert_int_equal(parse("12-01-24  12:30AM 5 midnight", &e), 0);
  assert_int_equal(e.mtime % 86400, 30 * 60);
}

static void test_refused(void **st) {
  ftpp_list_entry_t e;
  assert_int_equal(parse("total 12", &e), -EINVAL);
  assert_int_equal(parse("", &e), -EINVAL);
  assert_int_equal(parse("-rw-r--r-- 1 u g 10 Jan 01 2020", &e), -EINVAL);    /* no name */
  assert_int_equal(parse("-rw-r--r-- 1 u g ten Jan 01 2020 x", &e), -EINVAL);
  assert_int_equal(parse("?rw-r--r-- 1 u g 10 Jan 01 2020 x", &e), -EINVAL);
  assert_int_equal(parse("-rw-r--r-- 1 u g 10 Jan 32 2020 x", &e), -EINVAL);
  assert_int_equal(parse("-rw-r--r-- 1 u g 99999999999999999999 Jan 01 2020 x", &e), -EINVAL);
  assert_int_equal(parse("13-01-24 03:04PM 1 x", &e), -EINVAL);
  assert_int_equal(parse("01-01-24 13:04PM 1 x", &e), -EINVAL);
  assert_int_equal(parse("01-01-24 03:04PM 1", &e), -EINVAL);
  assert_int_equal(parse("01-01-24 03:04PM 99999999999999999999 x", &e), -ERANGE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_unix), cmocka_unit_test(test_dos), cmocka_unit_test(test_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
