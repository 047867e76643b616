/* test_timer.c — Timer: one-shot, cancel before firing, repeating on a
 * fixed schedule, cancel stops repeats, freeing from inside the callback. */
#include "testutil.h"

typedef struct { long n; long first_us; double t0; } tick_t;

static void tick(void *a) {
  tick_t *k = a;
  if (__atomic_fetch_add(&k->n, 1, __ATOMIC_SEQ_CST) == 0)
    __atomic_store_n(&k->first_us, (long)((mt_now() - k->t0) * 1e6), __ATOMIC_SEQ_CST);
}

static void one_shot_fires_once(void **s) {
  tick_t k = { .t0 = mt_now() };
  mt_timer_t *t;
  assert_int_equal(mt_timer_start(&t, 0.05, false, tick, &k), 0);
  tu_eventually(__atomic_load_n(&k.n, __ATOMIC_SEQ_CST) == 1, 5);
  assert_true(__atomic_load_n(&k.first_us, __ATOMIC_SEQ_CST) >= 50000);
  mt_sleep(0.1);
  assert_int_equal(__atomic_load_n(&k.n, __ATOMIC_SEQ_CST), 1);
  assert_int_equal(mt_timer_fired(t), 1);
  mt_timer_free(t);
}

static void cancel_before_firing_means_never(void **s) {
  tick_t k = { .t0 = mt_now() };
  mt_timer_t *t;
  assert_int_equal(mt_timer_start(&t, 0.1, false, tick, &k), 0);
  assert_int_equal(mt_timer_cancel(t), 0);
  mt_sleep(0.2);
  assert_int_equal(__atomic_load_n(&k.n, __ATOMIC_SEQ_CST), 0);
  mt_timer_free(t);
  assert_int_equal(__atomic_load_n(&k.n, __ATOMIC_SEQ_CST), 0);
}

static void repeating_fires_on_schedule_until_cancelled(void **s) {
  tick_t k = { .t0 = mt_now() };
  mt_timer_t *t;
  assert_int_equal(mt_timer_start(&t, 0.02, true, tick, &k), 0);
  tu_eventually(__atomic_load_n(&k.n, __ATOMIC_SEQ_CST) >= 5, 5);
  mt_timer_cancel(t);
  mt_sleep(0.03);   /* a call in flight may complete */
  long n = __atomic_load_n(&k.n, __ATOMIC_SEQ_CST);
  mt_sleep(0.1);
  assert_int_equal(__atomic_load_n(&k.n, __ATOMIC_SEQ_CST), n);
  mt_timer_free(t);
}

static mt_timer_t *self_t;
static void free_self(void *a) {
  mt_timer_free(self_t);
  __atomic_store_n((int *)a, 1, __ATOMIC_SEQ_CST);
}

static void free_from_callback(void **s) {
  int done = 0;
  assert_int_equal(mt_timer_start(&self_t, 0.01, false, free_self, &done), 0);
  tu_eventually(__atomic_load_n(&done, __ATOMIC_SEQ_CST) == 1, 5);
  mt_sleep(0.02);
}

static void bad_arguments(void **s) {
  mt_timer_t *t = (mt_timer_t *)1;
  assert_int_equal(mt_timer_start(&t, -1, false, tick, NULL), MT_EINVAL);
  assert_null(t);
  assert_int_equal(mt_timer_start(&t, 0, true, tick, NULL), MT_EINVAL);
  assert_int_equal(mt_timer_start(&t, 1, false, NULL, NULL), MT_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(one_shot_fires_once),
    cmocka_unit_test(cancel_before_firing_means_never),
    cmocka_unit_test(repeating_fires_on_schedule_until_cancelled),
    cmocka_unit_test(free_from_callback),
    cmocka_unit_test(bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
