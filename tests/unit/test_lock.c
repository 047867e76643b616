/* test_lock.c — Lock: acquire/release, try and timed acquire, release from
 * another thread (allowed, as in Python), misuse abort, MT_WITH, stress. */
#include "testutil.h"

static void basic_and_try(void **s) {
  mt_lock_t l;
  assert_int_equal(mt_lock_init(&l, 0), 0);
  assert_false(mt_lock_locked(&l));
  assert_int_equal(mt_lock_acquire(&l, MT_FOREVER), 0);
  assert_true(mt_lock_locked(&l));
  assert_int_equal(mt_lock_acquire(&l, 0), MT_ETIMEDOUT);
  double t0 = mt_now();
  assert_int_equal(mt_lock_acquire(&l, 0.05), MT_ETIMEDOUT);
  double dt = mt_now() - t0;
  assert_true(dt >= 0.05 && dt < 2);
  assert_int_equal(mt_lock_release(&l), 0);
  assert_int_equal(mt_lock_acquire(&l, 0), 0);
  assert_int_equal(mt_lock_release(&l), 0);
  mt_lock_destroy(&l);
  mt_lock_t z = MT_LOCK_INIT;       /* static initialiser works */
  assert_int_equal(mt_lock_acquire(&z, 0), 0);
  mt_lock_release(&z);
  assert_int_equal(mt_lock_init(&l, 0x40), MT_EINVAL);
}

static void *release_other(void *a) {
  mt_lock_t *l = a;
  tu_eventually(tu_wq_len(&l->u.p.wq) == 1, 10);    /* the main thread is parked */
  mt_lock_release(l);
  return NULL;
}

static void released_by_another_thread_wakes_waiter(void **s) {
  mt_lock_t l = MT_LOCK_INIT;
  mt_lock_acquire(&l, MT_FOREVER);
  mt_thread_t *t;
  mt_thread_start(&t, release_other, &l, NULL);
  assert_int_equal(mt_lock_acquire(&l, 5), 0);   /* parked until the release */
  mt_lock_release(&l);
  mt_thread_join(t, MT_FOREVER, NULL);
  mt_thread_free(t);
}

static void release_unlocked(void *a) {
  mt_lock_t l = MT_LOCK_INIT;
  mt_lock_release(&l);
}

static void releasing_an_unlocked_lock_aborts(void **s) {
  assert_aborts(release_unlocked, NULL, "mt_lock_release: lock");
}

static int with_break(mt_lock_t *l) {
  for (int i = 0;; i++) {
    MT_WITH(l) {
      if (i == 2) return i;          /* return from inside releases */
      if (i == 1) break;             /* break inside releases */
    }
    if (i == 1 && mt_lock_locked(l)) return -1;
  }
}

static void with_releases_on_every_exit(void **s) {
  mt_lock_t l = MT_LOCK_INIT;
  MT_WITH(&l) {
    assert_true(mt_lock_locked(&l));
    mt_lock_t inner = MT_LOCK_INIT;
    MT_WITH(&inner) assert_true(mt_lock_locked(&inner) && mt_lock_locked(&l));
    assert_false(mt_lock_locked(&inner));
  }
  assert_false(mt_lock_locked(&l));
  assert_int_equal(with_break(&l), 2);   /* break leaves only the MT_WITH */
  assert_false(mt_lock_locked(&l));
}

typedef struct { mt_lock_t l; long n; long inside; long bad; } shared_t;

static void *hammer(void *a) {
  shared_t *sh = a;
  for (int i = 0; i < 100000; i++) {
    int r = (i % 3 == 0) ? mt_lock_acquire(&sh->l, 10) : mt_lock_acquire(&sh->l, MT_FOREVER);
    if (r != 0) { __atomic_fetch_add(&sh->bad, 1, __ATOMIC_RELAXED); continue; }
    if (++sh->inside != 1) sh->bad++;
    sh->n++;
    sh->inside--;
    mt_lock_release(&sh->l);
  }
  return NULL;
}

static void stress_mutual_exclusion(void **s) {
  shared_t sh = { .l = MT_LOCK_INIT };
  enum { T = 8 };
  mt_thread_t *t[T];
  tu_start_n(t, T, hammer, &sh);
  tu_join_n(t, T);
  assert_int_equal(sh.bad, 0);
  assert_int_equal(sh.n, T * 100000L);
  assert_false(mt_lock_locked(&sh.l));
}

static void *timed_contender(void *a) {
  shared_t *sh = a;
  long ok = 0;
  for (int i = 0; i < 2000; i++) {
    if (mt_lock_acquire(&sh->l, 0.0001) == 0) { ok++; sh->n++; mt_lock_release(&sh->l); }
  }
  __atomic_fetch_add(&sh->inside, ok, __ATOMIC_RELAXED);
  return NULL;
}

static void stress_timeouts_lose_no_wakeup(void **s) {
  /* Many short timed waits racing with releases: afterwards the lock must be
   * free and every success counted exactly once. */
  shared_t sh = { .l = MT_LOCK_INIT };
  enum { T = 6 };
  mt_thread_t *t[T];
  tu_start_n(t, T, timed_contender, &sh);
  tu_join_n(t, T);
  assert_int_equal(sh.n, sh.inside);
  assert_int_equal(mt_lock_acquire(&sh.l, 1), 0);
  mt_lock_release(&sh.l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(basic_and_try),
    cmocka_unit_test(released_by_another_thread_wakes_waiter),
    cmocka_unit_test(releasing_an_unlocked_lock_aborts),
    cmocka_unit_test(with_releases_on_every_exit),
    cmocka_unit_test(stress_mutual_exclusion),
    cmocka_unit_test(stress_timeouts_lose_no_wakeup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
