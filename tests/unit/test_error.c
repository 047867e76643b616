/* test_error.c — the error table: values, messages, names. */
#include "testutil.h"

static void codes_are_negative_errno(void **s) {
  assert_int_equal(MT_ENOMEM, -ENOMEM);
  assert_int_equal(MT_ETIMEDOUT, -ETIMEDOUT);
  assert_int_equal(MT_ECANCELED, -ECANCELED);
  assert_int_equal(MT_EOWNERDEAD, -EOWNERDEAD);
  assert_true(MT_EFULL < -4000 && MT_EEMPTY < -4000 && MT_ECLOSED < -4000);
  assert_true(MT_EBROKEN < -4000 && MT_ERUNNING < -4000 && MT_EOVERRELEASE < -4000);
}

static void every_code_has_message_and_name(void **s) {
  static const int codes[] = {
#define C(name, value, msg) name,
    MT_ERROR_MAP(C)
#undef C
  };
  static const char *names[] = {
#define N(name, value, msg) #name,
    MT_ERROR_MAP(N)
#undef N
  };
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    assert_true(codes[i] < 0);
    assert_string_not_equal(mt_strerror(codes[i]), "unknown error");
    assert_string_equal(mt_err_name(codes[i]), names[i]);
    for (size_t j = 0; j < i; j++) assert_int_not_equal(codes[i], codes[j]);
  }
  assert_string_equal(mt_strerror(MT_EFULL), "queue is full");
  assert_string_equal(mt_strerror(MT_ETIMEDOUT), "timed out");
}

static void other_errno_values_fall_back(void **s) {
  assert_string_not_equal(mt_strerror(-ENOTSOCK), "unknown error");
  assert_string_equal(mt_err_name(-ENOTSOCK), "ENOTSOCK");
  assert_string_equal(mt_strerror(-3999), "unknown error");
  assert_string_equal(mt_strerror(12345), "unknown error");
  assert_string_equal(mt_err_name(-4999), "UNKNOWN");
  assert_string_equal(mt_strerror(0), "success");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(codes_are_negative_errno),
    cmocka_unit_test(every_code_has_message_and_name),
    cmocka_unit_test(other_errno_values_fall_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
