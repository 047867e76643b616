/* test_time.c — the monotonic clock and mt_sleep. */
#include "testutil.h"

static void now_is_monotonic(void **s) {
  double a = mt_now();
  for (int i = 0; i < 100000; i++) {
    double b = mt_now();
    assert_true(b >= a);
    a = b;
  }
}

static void sleep_lasts_at_least_its_duration(void **s) {
  double t0 = mt_now();
  assert_int_equal(mt_sleep(0.05), 0);
  double dt = mt_now() - t0;
  assert_true(dt >= 0.05);
  assert_true(dt < 1.0);
  t0 = mt_now();
  assert_int_equal(mt_sleep(0), 0);
  assert_true(mt_now() - t0 < 0.5);
}

static void sleep_rejects_bad_durations(void **s) {
  assert_int_equal(mt_sleep(-1), MT_EINVAL);
  assert_int_equal(mt_sleep(0.0 / 0.0), MT_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(now_is_monotonic),
    cmocka_unit_test(sleep_lasts_at_least_its_duration),
    cmocka_unit_test(sleep_rejects_bad_durations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
