/* test_pool.c — the thread-pool executor: sizing, run/submit/map, shutdown
 * (wait, cancel pending, submit after), tasks submitting to their own pool,
 * the bounded work queue, and a million tasks with random cancels. */
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__) || defined(MT_TSAN)
#define BIG 100000      /* sanitizers are 5-20x slower: same code paths, fewer rounds */
#else
#define BIG 1000000
#endif

static int add_one(void *arg, void **res) {
  __atomic_fetch_add((long *)arg, 1, __ATOMIC_RELAXED);
  return 0;
}
static int square(void *arg, void **res) {
  intptr_t v = (intptr_t)arg;
  if (v == 13) return -13;
  *res = (void *)(v * v);
  return 0;
}
static int wait_ev(void *arg, void **res) { return mt_event_wait(arg, 10); }

static void sizing_and_run(void **s) {
  mt_pool_t *p = mt_pool_new(0);
  assert_non_null(p);
  assert_int_equal(mt_pool_workers(p), (size_t)sysconf(_SC_NPROCESSORS_ONLN));
  long n = 0;
  for (int i = 0; i < 10000; i++) assert_int_equal(mt_pool_run(p, add_one, &n), 0);
  mt_pool_free(p);                       /* waits for the queued work */
  assert_int_equal(n, 10000);
}

static void map_in_order_with_first_error(void **s) {
  mt_pool_t *p = mt_pool_new(3);
  enum { N = 200 };
  void *args[N], *res[N];
  for (int i = 0; i < N; i++) args[i] = (void *)(intptr_t)(i + 20);
  assert_int_equal(mt_pool_map(p, square, args, res, N, 10), 0);
  for (int i = 0; i < N; i++) assert_int_equal((intptr_t)res[i], (intptr_t)(i + 20) * (i + 20));
  args[50] = (void *)13;
  args[60] = (void *)13;
  assert_int_equal(mt_pool_map(p, square, args, res, N, 10), -13);
  assert_int_equal((intptr_t)res[49], 69 * 69);
  mt_event_t ev;
  mt_event_init(&ev, 0);
  void *evs[8];
  for (int i = 0; i < 8; i++) evs[i] = &ev;
  double t0 = mt_now();
  assert_int_equal(mt_pool_map(p, wait_ev, evs, NULL, 8, 0.05), MT_ETIMEDOUT);
  assert_true(mt_now() - t0 < 5);
  mt_event_set(&ev);
  mt_pool_free(p);
  mt_event_destroy(&ev);
}

static void shutdown_rules(void **s) {
  mt_pool_t *p = mt_pool_new(1);
  mt_event_t ev;
  mt_event_init(&ev, 0);
  mt_future_t *busy = mt_pool_submit(p, wait_ev, &ev);
  mt_future_t *queued[5];
  for (int i = 0; i < 5; i++) queued[i] = mt_pool_submit(p, square, (void *)2);
  tu_eventually(mt_future_running(busy), 5);
  mt_pool_shutdown(p, false, true);
  for (int i = 0; i < 5; i++) assert_int_equal(mt_future_result(queued[i], 0, NULL), MT_ECANCELED);
  assert_null(mt_pool_submit(p, square, (void *)2));
  assert_int_equal(mt_last_error(), MT_ECLOSED);
  assert_int_equal(mt_pool_run(p, square, NULL), MT_ECLOSED);
  mt_event_set(&ev);
  assert_int_equal(mt_future_result(busy, 5, NULL), 0);    /* running work finishes */
  mt_pool_shutdown(p, true, false);
  for (int i = 0; i < 5; i++) mt_future_release(queued[i]);
  mt_future_release(busy);
  mt_pool_free(p);
  mt_event_destroy(&ev);
}

static mt_pool_t *self_pool;
static int fan_out(void *arg, void **res) {
  long *n = arg;
  for (int i = 0; i < 100; i++) mt_pool_run(self_pool, add_one, n);   /* own pool, even when full */
  return 0;
}

static void tasks_submit_to_their_own_pool(void **s) {
  mt_pool_opts_t o = { .workers = 2, .max_queue = 4 };
  self_pool = mt_pool_new_opts(&o);
  long n = 0;
  mt_future_t *fs[20];
  for (int i = 0; i < 20; i++) fs[i] = mt_pool_submit(self_pool, fan_out, &n);
  assert_int_equal(mt_wait(fs, 20, MT_ALL_COMPLETED, 20), 20);
  for (int i = 0; i < 20; i++) mt_future_release(fs[i]);
  mt_pool_free(self_pool);
  assert_int_equal(n, 2000);
}

typedef struct { long running, max_seen, done; } bq_t;
static int slow_count(void *arg, void **res) {
  mt_sleep(0.0005);
  __atomic_fetch_add(&((bq_t *)arg)->done, 1, __ATOMIC_RELAXED);
  return 0;
}

static void bounded_queue_slows_the_producer(void **s) {
  mt_pool_opts_t o = { .workers = 2, .max_queue = 8, .name = "bounded" };
  mt_pool_t *p = mt_pool_new_opts(&o);
  bq_t b = { 0 };
  for (int i = 0; i < 400; i++) {
    assert_int_equal(mt_pool_run(p, slow_count, &b), 0);
    long outstanding = i + 1 - __atomic_load_n(&b.done, __ATOMIC_RELAXED);
    if (outstanding > b.max_seen) b.max_seen = outstanding;
  }
  /* queued (8) + taken by workers in fair-share batches (<= 8/2) + 1 being counted */
  assert_true(b.max_seen <= 8 + 8 / 2 + 1);
  mt_pool_free(p);
  assert_int_equal(b.done, 400);
}

/* BIG tasks; a third of the futures cancelled from another thread while the
 * pool runs; every future must end done-with-its-result or cancelled, and
 * its callback must run exactly once. */
static mt_future_t **bf;
static unsigned char *cbs;
static void big_cb(mt_future_t *f, void *ud) { __atomic_fetch_add(&cbs[(intptr_t)ud], 1, __ATOMIC_RELAXED); }
static int echo(void *arg, void **res) { *res = arg; return 0; }
static void *canceller(void *a) {
  unsigned seed = 99;
  for (long i = 0; i < BIG; i++)
    if (rand_r(&seed) % 3 == 0) mt_future_cancel(bf[i]);
  return NULL;
}

static void million_tasks_with_random_cancels(void **s) {
  mt_pool_t *p = mt_pool_new(2);
  bf = calloc(BIG, sizeof *bf);
  cbs = calloc(BIG, 1);
  for (long i = 0; i < BIG; i++) {
    bf[i] = mt_pool_submit(p, echo, (void *)(i + 1));
    assert_non_null(bf[i]);
    assert_int_equal(mt_future_add_done_callback(bf[i], big_cb, (void *)i), 0);
  }
  mt_thread_t *t;
  mt_thread_start(&t, canceller, NULL, NULL);
  mt_thread_join(t, MT_FOREVER, NULL);
  mt_thread_free(t);
  mt_pool_free(p);
  long cancelled = 0;
  for (long i = 0; i < BIG; i++) {
    void *r = NULL;
    int code = mt_future_result(bf[i], 0, &r);
    if (code == MT_ECANCELED) cancelled++;
    else { assert_int_equal(code, 0); assert_ptr_equal(r, (void *)(i + 1)); }
    assert_int_equal(cbs[i], 1);
    mt_future_release(bf[i]);
  }
  assert_true(cancelled <= BIG / 3 + BIG / 50);
  free(bf);
  free(cbs);
}

static void out_of_memory_is_clean(void **s) {
  for (long k = 0; k < 40; k++) {
    tu_alloc_install(k);
    mt_pool_t *p = mt_pool_new(2);
    if (p) {
      long n = 0;
      mt_future_t *f = mt_pool_submit(p, add_one, &n);
      if (f) { mt_future_wait(f, 5); mt_future_release(f); }
      else assert_int_equal(mt_last_error(), MT_ENOMEM);
      mt_pool_free(p);
    } else {
      assert_int_equal(mt_last_error(), MT_ENOMEM);
    }
    tu_alloc_restore();
    assert_int_equal(tu_live, 0);
  }
}

/* Lone submits at every spacing — back to back, inside the workers' watch
 * window, just past it, long enough for them to sleep — from two threads at
 * once: each task must run within the timeout, so no wake-up is lost
 * between a worker going idle and a submit. */
typedef struct { mt_pool_t *p; unsigned seed; int lost; } lone_ctx_t;

static void *lone_submitter(void *arg) {
  lone_ctx_t *c = arg;
  static const long gaps_ns[] = { 0, 300, 5000, 30000, 200000 };
  for (int i = 0; i < 3000; i++) {
    long n = 0;
    mt_future_t *f = mt_pool_submit(c->p, add_one, &n);
    if (!f || mt_future_wait(f, 5) != 0) c->lost++;
    mt_future_release(f);
    c->seed = c->seed * 1103515245u + 12345u;
    long gap = gaps_ns[(c->seed >> 16) % 5];
    if (gap) nanosleep(&(struct timespec){ 0, gap }, NULL);
  }
  return NULL;
}

static void no_lost_wakeup_at_any_spacing(void **s) {
  mt_pool_t *p = mt_pool_new(2);
  lone_ctx_t c[2] = { { p, 1, 0 }, { p, 2, 0 } };
  mt_thread_t *t;
  assert_int_equal(mt_thread_start(&t, lone_submitter, &c[1], NULL), 0);
  lone_submitter(&c[0]);
  assert_int_equal(mt_thread_join(t, 30, NULL), 0);
  mt_thread_free(t);
  assert_int_equal(c[0].lost + c[1].lost, 0);
  mt_pool_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(sizing_and_run),
    cmocka_unit_test(map_in_order_with_first_error),
    cmocka_unit_test(shutdown_rules),
    cmocka_unit_test(tasks_submit_to_their_own_pool),
    cmocka_unit_test(bounded_queue_slows_the_producer),
    cmocka_unit_test(million_tasks_with_random_cancels),
    cmocka_unit_test(out_of_memory_is_clean),
    cmocka_unit_test(no_lost_wakeup_at_any_spacing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
