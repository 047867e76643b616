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

/* Python's Barrier(parties, action): the action runs once per round, in one
 * of the parties, before any party of that round leaves. */
typedef struct { mt_barrier_t b; int rounds; unsigned long runner[ROUNDS]; int bad; int fail_at; } act_t;

static int action(void *ud) {
  act_t *a = ud;
  int r = __atomic_load_n(&a->rounds, __ATOMIC_RELAXED);
  if (r < ROUNDS) a->runner[r] = mt_thread_ident(mt_thread_current());
  __atomic_store_n(&a->rounds, r + 1, __ATOMIC_RELEASE);
  return r == a->fail_at ? -1 : 0;
}

static void *act_party(void *p) {
  act_t *a = p;
  for (int r = 0; r < ROUNDS; r++) {
    int idx = mt_barrier_wait(&a->b, MT_FOREVER);
    /* released only after this round's action ran */
    if (idx < 0 || __atomic_load_n(&a->rounds, __ATOMIC_ACQUIRE) < r + 1) __atomic_fetch_add(&a->bad, 1, __ATOMIC_RELAXED);
    if (idx == P - 1 && a->runner[r] != mt_thread_ident(mt_thread_current()))
      __atomic_fetch_add(&a->bad, 1, __ATOMIC_RELAXED);      /* the last to arrive ran it */
  }
  return NULL;
}

static void action_runs_once_per_round(void **s) {
  static act_t a = { .fail_at = -1 };
  assert_int_equal(mt_barrier_init_action(&a.b, P, action, &a, 10, 0), 0);
  mt_thread_t *t[P];
  tu_start_n(t, P, act_party, &a);
  tu_join_n(t, P);
  assert_int_equal(a.rounds, ROUNDS);
  assert_int_equal(a.bad, 0);
  mt_barrier_destroy(&a.b);
}

static void *wait_forever(void *a) { return (void *)(intptr_t)mt_barrier_wait(a, MT_FOREVER); }

static void failing_action_breaks_the_barrier(void **s) {
  static act_t a = { .fail_at = 0 };
  mt_barrier_init_action(&a.b, 2, action, &a, MT_FOREVER, 0);
  mt_thread_t *t;
  mt_thread_start(&t, wait_forever, &a.b, NULL);
  int mine = mt_barrier_wait(&a.b, MT_FOREVER);
  void *r;
  mt_thread_join(t, MT_FOREVER, &r);
  mt_thread_free(t);
  assert_int_equal(mine, MT_EBROKEN);
  assert_int_equal((intptr_t)r, MT_EBROKEN);
  assert_int_equal(a.rounds, 1);
  assert_true(mt_barrier_broken(&a.b));
  mt_barrier_destroy(&a.b);
}

/* Barrier(parties, timeout=...): a wait given MT_FOREVER uses the default,
 * and its expiry breaks the barrier; an explicit timeout overrides it. */
static void default_timeout_applies_to_forever_waits(void **s) {
  mt_barrier_t b;
  assert_int_equal(mt_barrier_init_action(&b, 2, NULL, NULL, 0.02, 0), 0);
  assert_int_equal(mt_barrier_wait(&b, MT_FOREVER), MT_EBROKEN);
  assert_true(mt_barrier_broken(&b));
  mt_barrier_reset(&b);
  mt_thread_t *t;
  mt_thread_start(&t, wait_long, &b, NULL);                /* explicit 10 s */
  tu_eventually(mt_barrier_n_waiting(&b) == 1, 5);
  assert_int_equal(mt_barrier_n_waiting(&b), 1);
  int mine = mt_barrier_wait(&b, 10);
  void *r;
  mt_thread_join(t, MT_FOREVER, &r);
  mt_thread_free(t);
  assert_true(mine >= 0 && (intptr_t)r >= 0 && mine != (intptr_t)r);
  double nan = __builtin_nan("");
  assert_int_equal(mt_barrier_init_action(&b, 2, NULL, NULL, nan, 0), MT_EINVAL);
  mt_barrier_destroy(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(indices_are_distinct_each_round),
    cmocka_unit_test(timeout_breaks_for_everyone),
    cmocka_unit_test(abort_and_reset_wake_waiters),
    cmocka_unit_test(action_runs_once_per_round),
    cmocka_unit_test(failing_action_breaks_the_barrier),
    cmocka_unit_test(default_timeout_applies_to_forever_waits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
