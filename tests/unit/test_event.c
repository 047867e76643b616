/* test_event.c — Event: flag, timeouts, waking every waiter. */
#include "testutil.h"

static void flag_and_timeout(void **s) {
  mt_event_t e;
  assert_int_equal(mt_event_init(&e, 0), 0);
  assert_false(mt_event_is_set(&e));
  assert_int_equal(mt_event_wait(&e, 0), MT_ETIMEDOUT);
  double t0 = mt_now();
  assert_int_equal(mt_event_wait(&e, 0.05), MT_ETIMEDOUT);
  assert_true(mt_now() - t0 >= 0.05);
  mt_event_set(&e);
  assert_true(mt_event_is_set(&e));
  assert_int_equal(mt_event_wait(&e, 0), 0);
  assert_int_equal(mt_event_wait(&e, MT_FOREVER), 0);
  mt_event_clear(&e);
  assert_false(mt_event_is_set(&e));
  assert_int_equal(mt_event_init(&e, 0x40), MT_EINVAL);
  mt_event_destroy(&e);
}

typedef struct { mt_event_t e; long woke; } ctx_t;

static void *waiter(void *a) {
  ctx_t *c = a;
  if (mt_event_wait(&c->e, 10) == 0) __atomic_fetch_add(&c->woke, 1, __ATOMIC_RELAXED);
  return NULL;
}

static void set_wakes_all_waiters(void **s) {
  ctx_t c = { .woke = 0 };
  mt_event_init(&c.e, 0);
  enum { T = 50 };
  mt_thread_t *t[T];
  tu_start_n(t, T, waiter, &c);
  tu_wait_parked(&c.e.lock, &c.e.waiters, T);      /* every one asleep in wait */
  assert_int_equal(c.woke, 0);
  mt_event_set(&c.e);
  tu_join_n(t, T);
  assert_int_equal(c.woke, T);
  mt_event_destroy(&c.e);
}

/* CPython bpo-13502: a waiter asleep when the event is set returns success,
 * even if the event is cleared again before the waiter gets to run. */
static void set_then_clear_still_wakes_waiters(void **s) {
  ctx_t c = { .woke = 0 };
  mt_event_init(&c.e, 0);
  enum { T = 8 };
  mt_thread_t *t[T];
  tu_start_n(t, T, waiter, &c);
  tu_wait_parked(&c.e.lock, &c.e.waiters, T);
  mt_event_set(&c.e);
  mt_event_clear(&c.e);
  tu_join_n(t, T);
  assert_int_equal(c.woke, T);                     /* none timed out */
  assert_false(mt_event_is_set(&c.e));
  /* and a wait that begins after the clear waits for the next set */
  assert_int_equal(mt_event_wait(&c.e, 0.01), MT_ETIMEDOUT);
  /* set twice, clear once: cleared */
  mt_event_set(&c.e);
  mt_event_set(&c.e);
  assert_true(mt_event_is_set(&c.e));
  mt_event_clear(&c.e);
  assert_false(mt_event_is_set(&c.e));
  mt_event_destroy(&c.e);
}

typedef struct { mt_event_t ping, pong; int rounds; } pp_t;

static void *ponger(void *a) {
  pp_t *p = a;
  for (int i = 0; i < p->rounds; i++) {
    mt_event_wait(&p->ping, MT_FOREVER);
    mt_event_clear(&p->ping);
    mt_event_set(&p->pong);
  }
  return NULL;
}

static void ping_pong_loses_nothing(void **s) {
  pp_t p = { .rounds = 20000 };
  mt_event_init(&p.ping, 0);
  mt_event_init(&p.pong, 0);
  mt_thread_t *t;
  mt_thread_start(&t, ponger, &p, NULL);
  for (int i = 0; i < p.rounds; i++) {
    mt_event_set(&p.ping);
    assert_int_equal(mt_event_wait(&p.pong, 10), 0);
    mt_event_clear(&p.pong);
  }
  mt_thread_join(t, MT_FOREVER, NULL);
  mt_thread_free(t);
  mt_event_destroy(&p.ping);
  mt_event_destroy(&p.pong);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(flag_and_timeout),
    cmocka_unit_test(set_wakes_all_waiters),
    cmocka_unit_test(set_then_clear_still_wakes_waiters),
    cmocka_unit_test(ping_pong_loses_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
