/* test_future.c — futures: states, cancel rules, results and codes,
 * callbacks exactly once, mt_wait modes, as_completed order and timeouts. */
#include "testutil.h"

static int slow_task(void *arg, void **res) {
  mt_event_wait(arg, 10);
  *res = arg;
  return 0;
}
static int code_task(void *arg, void **res) {
  *res = (void *)0x55;
  return (int)(intptr_t)arg;
}
static int sleep_task(void *arg, void **res) {
  mt_sleep((double)(intptr_t)arg / 1000.0);
  *res = arg;
  return 0;
}

static void result_and_codes(void **s) {
  mt_pool_t *p = mt_pool_new(2);
  mt_future_t *ok = mt_pool_submit(p, code_task, (void *)0);
  mt_future_t *bad = mt_pool_submit(p, code_task, (void *)(intptr_t)-77);
  void *r = NULL;
  assert_int_equal(mt_future_result(ok, 5, &r), 0);
  assert_ptr_equal(r, (void *)0x55);
  assert_int_equal(mt_future_result(bad, 5, &r), -77);   /* the "re-raised exception" */
  assert_true(mt_future_done(ok) && !mt_future_cancelled(ok));
  mt_future_release(ok);
  mt_future_release(bad);
  mt_pool_free(p);
}

static void cancel_rules(void **s) {
  mt_pool_t *p = mt_pool_new(1);
  mt_event_t ev;
  mt_event_init(&ev, 0);
  mt_future_t *running = mt_pool_submit(p, slow_task, &ev);
  mt_future_t *pending = mt_pool_submit(p, code_task, NULL);
  tu_eventually(mt_future_running(running), 5);
  assert_int_equal(mt_future_result(running, 0.01, NULL), MT_ETIMEDOUT);
  assert_int_equal(mt_future_cancel(running), MT_ERUNNING);
  assert_int_equal(mt_future_cancel(pending), 0);
  assert_int_equal(mt_future_cancel(pending), 0);          /* again: still true */
  assert_true(mt_future_cancelled(pending) && mt_future_done(pending));
  assert_int_equal(mt_future_result(pending, 0, NULL), MT_ECANCELED);
  mt_event_set(&ev);
  assert_int_equal(mt_future_result(running, 5, NULL), 0);
  assert_int_equal(mt_future_cancel(running), MT_EBUSY);  /* finished */
  mt_future_release(running);
  mt_future_release(pending);
  mt_pool_free(p);
  mt_event_destroy(&ev);
}

typedef struct { long calls; mt_thread_t *where; } cbinfo_t;
static void cb_count(mt_future_t *f, void *ud) {
  cbinfo_t *c = ud;
  __atomic_fetch_add(&c->calls, 1, __ATOMIC_SEQ_CST);
  __atomic_store_n(&c->where, mt_thread_current(), __ATOMIC_SEQ_CST);
}

static void callbacks_once_now_or_later(void **s) {
  mt_pool_t *p = mt_pool_new(1);
  mt_event_t ev;
  mt_event_init(&ev, 0);
  mt_future_t *f = mt_pool_submit(p, slow_task, &ev);
  cbinfo_t later = { 0 }, now = { 0 };
  assert_int_equal(mt_future_add_done_callback(f, cb_count, &later), 0);
  assert_int_equal(later.calls, 0);
  mt_event_set(&ev);
  mt_future_wait(f, 5);
  tu_eventually(__atomic_load_n(&later.calls, __ATOMIC_SEQ_CST) == 1, 5);
  assert_ptr_not_equal(__atomic_load_n(&later.where, __ATOMIC_SEQ_CST), mt_thread_current());
  assert_int_equal(mt_future_add_done_callback(f, cb_count, &now), 0);
  assert_int_equal(now.calls, 1);                           /* at once, in the caller */
  assert_ptr_equal(now.where, mt_thread_current());
  mt_sleep(0.01);
  assert_int_equal(later.calls, 1);
  mt_future_release(f);
  mt_pool_free(p);
  mt_event_destroy(&ev);
}

static void wait_modes(void **s) {
  mt_pool_t *p = mt_pool_new(3);
  mt_future_t *fs[3] = {
    mt_pool_submit(p, sleep_task, (void *)(intptr_t)300),
    mt_pool_submit(p, sleep_task, (void *)(intptr_t)10),
    mt_pool_submit(p, code_task, (void *)(intptr_t)-5),
  };
  int r = mt_wait(fs, 3, MT_FIRST_EXCEPTION, 5);
  assert_true(r >= 1 && r < 3);
  assert_true(mt_future_done(fs[2]));
  r = mt_wait(fs, 2, MT_FIRST_COMPLETED, 5);
  assert_true(r >= 1);
  assert_true(mt_future_done(fs[1]));
  assert_int_equal(mt_wait(fs, 3, MT_ALL_COMPLETED, 0.01), MT_ETIMEDOUT);
  assert_int_equal(mt_wait(fs, 3, MT_ALL_COMPLETED, 5), 3);
  assert_int_equal(mt_wait(fs, 0, MT_ALL_COMPLETED, 0), 0);
  for (int i = 0; i < 3; i++) mt_future_release(fs[i]);
  mt_pool_free(p);
}

static void as_completed_yields_in_finish_order(void **s) {
  mt_pool_t *p = mt_pool_new(4);
  int ms[4] = { 200, 50, 120, 10 };
  mt_future_t *fs[4];
  for (int i = 0; i < 4; i++) fs[i] = mt_pool_submit(p, sleep_task, (void *)(intptr_t)ms[i]);
  mt_as_completed_t *it = mt_as_completed_new(fs, 4);
  assert_non_null(it);
  int order[4] = { 3, 1, 2, 0 };
  for (int i = 0; i < 4; i++) {
    mt_future_t *f = mt_as_completed_next(it, 5);
    assert_ptr_equal(f, fs[order[i]]);
  }
  assert_null(mt_as_completed_next(it, 5));
  assert_int_equal(mt_last_error(), 0);
  mt_as_completed_free(it);
  for (int i = 0; i < 4; i++) mt_future_release(fs[i]);

  mt_event_t ev;
  mt_event_init(&ev, 0);
  mt_future_t *slow = mt_pool_submit(p, slow_task, &ev);
  it = mt_as_completed_new(&slow, 1);
  mt_future_release(slow);                /* the iterator keeps its own reference */
  assert_null(mt_as_completed_next(it, 0.02));
  assert_int_equal(mt_last_error(), MT_ETIMEDOUT);
  mt_as_completed_free(it);               /* before it finishes: no callback after free */
  mt_event_set(&ev);
  mt_pool_free(p);
  mt_event_destroy(&ev);
}

/* A future passed more than once is yielded once (Python's as_completed
 * takes a set), whether it is done already or finishes later. */
static void as_completed_yields_each_future_once(void **s) {
  mt_pool_t *p = mt_pool_new(2);
  mt_event_t ev;
  mt_event_init(&ev, 0);
  mt_future_t *done = mt_pool_submit(p, code_task, NULL);
  assert_int_equal(mt_future_wait(done, 5), 0);
  mt_future_t *slow = mt_pool_submit(p, slow_task, &ev);
  mt_future_t *fs[6] = { done, slow, done, slow, slow, done };
  mt_as_completed_t *it = mt_as_completed_new(fs, 6);
  assert_non_null(it);
  assert_ptr_equal(mt_as_completed_next(it, 5), done);
  assert_null(mt_as_completed_next(it, 0.01));           /* slow is still pending */
  assert_int_equal(mt_last_error(), MT_ETIMEDOUT);
  mt_event_set(&ev);
  assert_ptr_equal(mt_as_completed_next(it, 5), slow);
  assert_null(mt_as_completed_next(it, 5));              /* and nothing twice */
  assert_int_equal(mt_last_error(), 0);
  mt_as_completed_free(it);
  it = mt_as_completed_new(fs, 0);                       /* empty: ends at once */
  assert_non_null(it);
  assert_null(mt_as_completed_next(it, 0));
  assert_int_equal(mt_last_error(), 0);
  mt_as_completed_free(it);
  mt_future_release(done);
  mt_future_release(slow);
  mt_pool_free(p);
  mt_event_destroy(&ev);
}

/* Callbacks added from several threads while the futures complete: each
 * runs exactly once. */
enum { NF = 2000, ADDERS = 3 };
static mt_future_t *sfs[NF];
static long scount[NF][ADDERS];
static void cb_slot(mt_future_t *f, void *ud) { __atomic_fetch_add((long *)ud, 1, __ATOMIC_RELAXED); }
static void *adder(void *a) {
  intptr_t k = (intptr_t)a;
  for (int i = 0; i < NF; i++) mt_future_add_done_callback(sfs[i], cb_slot, &scount[i][k]);
  return NULL;
}

static void callbacks_exactly_once_under_stress(void **s) {
  mt_pool_t *p = mt_pool_new(2);
  for (int i = 0; i < NF; i++) sfs[i] = mt_pool_submit(p, code_task, NULL);
  mt_thread_t *t[ADDERS];
  for (intptr_t k = 0; k < ADDERS; k++) mt_thread_start(&t[k], adder, (void *)k, NULL);
  tu_join_n(t, ADDERS);
  assert_int_equal(mt_wait(sfs, NF, MT_ALL_COMPLETED, 10), NF);
  mt_pool_free(p);                        /* workers joined: every callback has run */
  for (int i = 0; i < NF; i++) {
    for (int k = 0; k < ADDERS; k++) assert_int_equal(scount[i][k], 1);
    mt_future_release(sfs[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(result_and_codes),
    cmocka_unit_test(cancel_rules),
    cmocka_unit_test(callbacks_once_now_or_later),
    cmocka_unit_test(wait_modes),
    cmocka_unit_test(as_completed_yields_in_finish_order),
    cmocka_unit_test(as_completed_yields_each_future_once),
    cmocka_unit_test(callbacks_exactly_once_under_stress),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
