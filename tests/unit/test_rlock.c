/* test_rlock.c — RLock: re-entrancy, ownership, owner-only release. */
#include "testutil.h"

typedef struct { mt_rlock_t r; int got; } ctx_t;

static void *try_other(void *a) {
  ctx_t *c = a;
  c->got = mt_rlock_acquire(&c->r, 0.05);
  if (c->got == 0) mt_rlock_release(&c->r);
  return NULL;
}

static int run_other(ctx_t *c) {
  mt_thread_t *t;
  mt_thread_start(&t, try_other, c, NULL);
  mt_thread_join(t, MT_FOREVER, NULL);
  mt_thread_free(t);
  return c->got;
}

static void reentrant_count(void **s) {
  ctx_t c;
  assert_int_equal(mt_rlock_init(&c.r, 0), 0);
  for (int i = 0; i < 5; i++) assert_int_equal(mt_rlock_acquire(&c.r, 0), 0);
  assert_true(mt_rlock_is_owned(&c.r));
  for (int i = 0; i < 4; i++) {
    assert_int_equal(mt_rlock_release(&c.r), 0);
    assert_int_equal(run_other(&c), MT_ETIMEDOUT);   /* still held */
  }
  assert_int_equal(mt_rlock_release(&c.r), 0);
  assert_false(mt_rlock_is_owned(&c.r));
  assert_int_equal(run_other(&c), 0);
  MT_WITH(&c.r) MT_WITH(&c.r) assert_int_equal(c.r.count, 2);
  assert_int_equal(c.r.count, 0);
  mt_rlock_destroy(&c.r);
}

static void *hold_forever(void *a) {
  mt_rlock_acquire(a, MT_FOREVER);
  return NULL;
}

static void release_by_non_owner(void *a) {
  mt_rlock_t r;
  mt_rlock_init(&r, 0);
  mt_thread_t *t;
  mt_thread_opts_t o = { .daemon = true };
  mt_thread_start(&t, hold_forever, &r, &o);
  mt_thread_join(t, MT_FOREVER, NULL);
  mt_rlock_release(&r);
}

static void release_unowned(void *a) {
  mt_rlock_t r;
  mt_rlock_init(&r, 0);
  mt_rlock_release(&r);
}

static void only_the_owner_may_release(void **s) {
  assert_aborts(release_by_non_owner, NULL, "not held by the calling thread");
  assert_aborts(release_unowned, NULL, "not held by the calling thread");
}

typedef struct { mt_rlock_t r; long n; } cnt_t;

static void *nest(void *a) {
  cnt_t *c = a;
  for (int i = 0; i < 20000; i++) {
    mt_rlock_acquire(&c->r, MT_FOREVER);
    mt_rlock_acquire(&c->r, MT_FOREVER);
    c->n++;
    mt_rlock_release(&c->r);
    c->n++;
    mt_rlock_release(&c->r);
  }
  return NULL;
}

static void stress(void **s) {
  cnt_t c = { .n = 0 };
  mt_rlock_init(&c.r, 0);
  mt_thread_t *t[6];
  tu_start_n(t, 6, nest, &c);
  tu_join_n(t, 6);
  assert_int_equal(c.n, 6 * 40000L);
  mt_rlock_destroy(&c.r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(reentrant_count),
    cmocka_unit_test(only_the_owner_may_release),
    cmocka_unit_test(stress),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
