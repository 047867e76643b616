/* test_barrier.c — Barrier: distinct indices over many rounds, timeout
 * breaks it for all, abort, reset. */
#include "testutil.h"

enum { P = 5, ROUNDS = 200 };
typedef struct { mt_barrier_t b; int seen[ROUNDS][P]; int bad; } ctx_t;

static void *party(void *a) {
  ctx_t *c = a;
  for (int r = 0; r < ROUNDS; r++) {
    int idx = mt_barrier_wait(&c->b, 10);
    if (idx < 0 || idx >= P) { c->bad++; continue; }
    __atomic_fetch_add(&c->seen[r][idx], 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

static void indices_are_distinct_each_round(void **s) {
  static ctx_t c;
  assert_int_equal(mt_barrier_init(&c.b, P, 0), 0);
  assert_int_equal(mt_barrier_parties(&c.b), P);
  mt_thread_t *t[P];
  tu_start_n(t, P, party, &c);
  tu_join_n(t, P);
  assert_int_equal(c.bad, 0);
  for (int r = 0; r < ROUNDS; r++)
    for (int i = 0; i < P; i++) assert_int_equal(c.seen[r][i], 1);
  assert_false(mt_barrier_broken(&c.b));
  mt_barrier_destroy(&c.b);
}

static void *wait_long(void *a) { return (void *)(intptr_t)mt_barrier_wait(a, 10); }
static void *wait_short(void *a) { return (void *)(intptr_t)mt_barrier_wait(a, 0.05); }

static void timeout_breaks_for_everyone(void **s) {
  mt_barrier_t b;
  mt_barrier_init(&b, 3, 0);
  mt_thread_t *t1, *t2;
  mt_thread_start(&t1, wait_long, &b, NULL);
  mt_thread_start(&t2, wait_short, &b, NULL);
  void *r1, *r2;
  mt_thread_join(t1, MT_FOREVER, &r1);
  mt_thread_join(t2, MT_FOREVER, &r2);
  assert_int_equal((intptr_t)r1, MT_EBROKEN);
  assert_int_equal((intptr_t)r2, MT_EBROKEN);
  assert_true(mt_barrier_broken(&b));
  assert_int_equal(mt_barrier_wait(&b, 0), MT_EBROKEN);   /* stays broken */
  mt_barrier_reset(&b);
  assert_false(mt_barrier_broken(&b));
  mt_thread_free(t1);
  mt_thread_free(t2);
  mt_barrier_destroy(&b);
}

static void abort_and_reset_wake_waiters(void **s) {
  mt_barrier_t b;
  mt_barrier_init(&b, 3, 0);
  mt_thread_t *t[2];
  tu_start_n(t, 2, wait_long, &b);
  tu_eventually(mt_barrier_n_waiting(&b) == 2, 5);
  mt_barrier_abort(&b);
  for (int i = 0; i < 2; i++) {
    void *r;
    mt_thread_join(t[i], MT_FOREVER, &r);
    assert_int_equal((intptr_t)r, MT_EBROKEN);
    mt_thread_free(t[i]);
  }
  mt_barrier_reset(&b);
  tu_start_n(t, 2, wait_long, &b);
  tu_eventually(mt_barrier_n_waiting(&b) == 2, 5);
  mt_barrier_reset(&b);                               /* waiters get EBROKEN */
  for (int i = 0; i < 2; i++) {
    void *r;
    mt_thread_join(t[i], MT_FOREVER, &r);
    assert_int_equal((intptr_t)r, MT_EBROKEN);
    mt_thread_free(t[i]);
  }
  assert_false(mt_barrier_broken(&b));                /* usable again */
  tu_start_n(t, 2, wait_long, &b);
  int mine = mt_barrier_wait(&b, 10);
  assert_true(mine >= 0 && mine < 3);
  for (int i = 0; i < 2; i++) {
    void *r;
    mt_thread_join(t[i], MT_FOREVER, &r);
    assert_true((intptr_t)r >= 0 && (intptr_t)r < 3 && (intptr_t)r != mine);
    mt_thread_free(t[i]);
  }
  assert_int_equal(mt_barrier_init(&b, 0, 0), MT_EINVAL);
  mt_barrier_destroy(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(indices_are_distinct_each_round),
    cmocka_unit_test(timeout_breaks_for_everyone),
    cmocka_unit_test(abort_and_reset_wake_waiters),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
