/* test_sem.c — Semaphore and BoundedSemaphore. */
#include "testutil.h"

static void counts_and_timeouts(void **s) {
  mt_sem_t sem;
  assert_int_equal(mt_sem_init(&sem, 2, 0, 0), 0);
  assert_int_equal(mt_sem_acquire(&sem, 0), 0);
  assert_int_equal(mt_sem_acquire(&sem, 0), 0);
  assert_int_equal(mt_sem_value(&sem), 0);
  assert_int_equal(mt_sem_acquire(&sem, 0), MT_ETIMEDOUT);
  double t0 = mt_now();
  assert_int_equal(mt_sem_acquire(&sem, 0.05), MT_ETIMEDOUT);
  assert_true(mt_now() - t0 >= 0.05);
  assert_int_equal(mt_sem_release_n(&sem, 5), 0);     /* unbounded: fine */
  assert_int_equal(mt_sem_value(&sem), 5);
  mt_sem_destroy(&sem);
}

static void bounded_refuses_over_release(void **s) {
  mt_sem_t sem;
  assert_int_equal(mt_sem_init(&sem, 3, 2, 0), MT_EINVAL);
  assert_int_equal(mt_sem_init(&sem, 2, 2, 0), 0);
  assert_int_equal(mt_sem_release(&sem), MT_EOVERRELEASE);
  assert_int_equal(mt_sem_acquire(&sem, 0), 0);
  assert_int_equal(mt_sem_release(&sem), 0);
  assert_int_equal(mt_sem_release(&sem), MT_EOVERRELEASE);
  assert_int_equal(mt_sem_value(&sem), 2);
  assert_int_equal(mt_sem_init(&sem, 0, 0, 0x40), MT_EINVAL);
  mt_sem_destroy(&sem);
}

typedef struct { mt_sem_t sem; long inside, max, done; mt_lock_t l; } lim_t;

static void *limited(void *a) {
  lim_t *c = a;
  for (int i = 0; i < 300; i++) {
    MT_WITH(&c->sem) {
      MT_WITH(&c->l) { if (++c->inside > c->max) c->max = c->inside; }
      if (i % 50 == 0) mt_sleep(0.0005);
      MT_WITH(&c->l) { c->inside--; c->done++; }
    }
  }
  return NULL;
}

static void limits_concurrency(void **s) {
  lim_t c = { .l = MT_LOCK_INIT };
  mt_sem_init(&c.sem, 3, 3, 0);
  enum { T = 10 };
  mt_thread_t *t[T];
  tu_start_n(t, T, limited, &c);
  tu_join_n(t, T);
  assert_true(c.max <= 3);
  assert_true(c.max >= 1);
  assert_int_equal(c.done, T * 300);
  assert_int_equal(mt_sem_value(&c.sem), 3);
  mt_sem_destroy(&c.sem);
}

static void *take_one(void *a) {
  return (void *)(intptr_t)mt_sem_acquire(a, 10);
}

static void release_n_wakes_n(void **s) {
  mt_sem_t sem;
  mt_sem_init(&sem, 0, 0, 0);
  mt_thread_t *t[4];
  tu_start_n(t, 4, take_one, &sem);
  tu_wait_parked(&sem.lock, &sem.waiters, 4);      /* all four asleep in acquire */
  mt_sem_release_n(&sem, 4);
  for (int i = 0; i < 4; i++) {
    void *r;
    mt_thread_join(t[i], MT_FOREVER, &r);
    assert_int_equal((intptr_t)r, 0);
    mt_thread_free(t[i]);
  }
  assert_int_equal(mt_sem_value(&sem), 0);
  mt_sem_destroy(&sem);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(counts_and_timeouts),
    cmocka_unit_test(bounded_refuses_over_release),
    cmocka_unit_test(limits_concurrency),
    cmocka_unit_test(release_n_wakes_n),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
