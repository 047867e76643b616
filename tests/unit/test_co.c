/* test_co.c — coroutines: round-robin order, join/detach, thousands of
 * concurrent sleeps, libmt primitives parking coroutines (lock, event,
 * queue, thread-pool future) with wake-ups from other threads, threads and
 * coroutines sharing a queue, cancellation of each kind of blocking call,
 * timeouts, and the guard page naming the coroutine that overflowed. */
#include <pthread.h>

#include "testutil.h"

/* ---- order ------------------------------------------------------------------------- */
static char order_log[64];
static int order_n;
static void *stepper(void *arg) {
  for (int i = 0; i < 3; i++) {
    order_log[order_n++] = *(char *)arg;
    mt_co_yield();
  }
  return arg;
}
static void *order_main(void *arg) {
  static char a = 'a', b = 'b', c = 'c';
  mt_co_t *x = mt_co_spawn(stepper, &a), *y = mt_co_spawn(stepper, &b), *z = mt_co_spawn(stepper, &c);
  void *r;
  if (mt_co_join(x, 5, &r) || r != &a) return (void *)1;
  if (mt_co_joinall((mt_co_t *[]){ y, z }, 2, 5)) return (void *)2;
  return NULL;
}
static void round_robin_and_join(void **s) {
  order_n = 0;
  assert_int_equal(mt_co_main(order_main, NULL), 0);
  order_log[order_n] = 0;
  assert_string_equal(order_log, "abcabcabc");
}

/* ---- thousands of sleepers ------------------------------------------------------------- */
/* "Together, not one after another" as a property, not a speed: the sum of
 * the time each sleeper spent asleep, over the wall time of the whole run,
 * is how many slept at once on average. One after another it would be 1;
 * a slow or loaded machine stretches both sides alike. */
static long woke;
static double slept;
static void *sleeper(void *arg) {
  double t0 = mt_now();
  if (mt_sleep(0.2) == 0) woke++;
  slept += mt_now() - t0;                    /* one scheduler thread: no race */
  return NULL;
}
static void *many_main(void *arg) {
  for (int i = 0; i < 5000; i++) {
    mt_co_t *c = mt_co_spawn_opts(sleeper, NULL, &(mt_co_opts_t){ .stack_size = 16384 });
    if (!c) return (void *)1;
    mt_co_detach(c);
  }
  return NULL;
}
static void thousands_sleep_together(void **s) {
  woke = 0;
  slept = 0;
  double t0 = mt_now();
  assert_int_equal(mt_co_main(many_main, NULL), 0);
  double dt = mt_now() - t0;
  assert_int_equal(woke, 5000);
  assert_true(slept >= 5000 * 0.2);          /* each slept its full time */
  assert_true(slept / dt > 20);              /* ... and overlapped with the others */
}

/* ---- a lock held across a yield ----------------------------------------------------------- */
static mt_lock_t clock_ = MT_LOCK_INIT;
static long ccount;
static int cinside;
static void *locker(void *arg) {
  for (int i = 0; i < 200; i++) {
    mt_lock_acquire(&clock_, MT_FOREVER);
    if (++cinside != 1) ccount = -1000000;
    mt_co_yield();                           /* others run, and park on the lock */
    ccount++;
    cinside--;
    mt_lock_release(&clock_);
  }
  return NULL;
}
static void *lock_main(void *arg) {
  mt_co_t *c[10];
  for (int i = 0; i < 10; i++) c[i] = mt_co_spawn(locker, NULL);
  return (void *)(intptr_t)mt_co_joinall(c, 10, 30);
}
static void lock_parks_coroutines(void **s) {
  ccount = 0;
  assert_int_equal(mt_co_main(lock_main, NULL), 0);
  assert_int_equal(ccount, 2000);
}

/* ---- a thread-pool future while others run ------------------------------------------------- */
/* The pool task finishes only once the ticker coroutine has ticked ten
 * times: if waiting on the future blocked the scheduler instead of parking
 * one coroutine, the ticker could not tick and the task would give up. */
static long ticks;
static int stop_ticker;
static void *ticker(void *arg) {
  while (!__atomic_load_n(&stop_ticker, __ATOMIC_ACQUIRE)) {
    __atomic_fetch_add(&ticks, 1, __ATOMIC_RELEASE);
    mt_sleep(0.005);
  }
  return NULL;
}
static int slow_task(void *arg, void **res) {  /* a plain pool thread */
  double give_up = mt_now() + 30;
  while (__atomic_load_n(&ticks, __ATOMIC_ACQUIRE) < 10 && mt_now() < give_up) mt_sleep(0.001);
  *res = (void *)0x77;
  return __atomic_load_n(&ticks, __ATOMIC_ACQUIRE) >= 10 ? 0 : MT_ETIMEDOUT;
}
static void *future_main(void *arg) {
  mt_pool_t *p = mt_pool_new(1);
  mt_co_t *t = mt_co_spawn(ticker, NULL);
  mt_future_t *f = mt_pool_submit(p, slow_task, NULL);
  void *r = NULL;
  int code = mt_future_result(f, 60, &r);     /* parks this coroutine only */
  __atomic_store_n(&stop_ticker, 1, __ATOMIC_RELEASE);
  mt_co_join(t, 5, NULL);
  mt_future_release(f);
  mt_pool_free(p);
  return (void *)(intptr_t)(code == 0 && r == (void *)0x77 ? 0 : 1);
}
static void waits_on_a_pool_future(void **s) {
  ticks = 0;
  stop_ticker = 0;
  assert_int_equal(mt_co_main(future_main, NULL), 0);   /* the ticker ran meanwhile */
  assert_true(ticks >= 10);
}

/* ---- threads and coroutines through one queue ----------------------------------------------- */
enum { NPROD = 3, PER = 3000 };
static mt_queue_t *to_co, *from_co;
static void *thread_producer(void *arg) {
  for (intptr_t i = 1; i <= PER; i++) mt_queue_put(to_co, (void *)i, MT_FOREVER);
  return NULL;
}
static void *co_worker(void *arg) {
  void *it;
  while (mt_queue_get(to_co, &it, MT_FOREVER) == 0) mt_queue_put(from_co, it, MT_FOREVER);
  return NULL;
}
static void *queue_main(void *arg) {
  mt_co_t *w[4];
  for (int i = 0; i < 4; i++) w[i] = mt_co_spawn(co_worker, NULL);
  return (void *)(intptr_t)mt_co_joinall(w, 4, 60);
}
static void *run_sched_thread(void *arg) { return (void *)(intptr_t)mt_co_main(queue_main, NULL); }
static void threads_and_coroutines_share_a_queue(void **s) {
  to_co = mt_queue_new(MT_FIFO, 16);
  from_co = mt_queue_new(MT_FIFO, 0);
  mt_thread_t *sched, *prod[NPROD];
  mt_thread_start(&sched, run_sched_thread, NULL, NULL);
  for (int i = 0; i < NPROD; i++) mt_thread_start(&prod[i], thread_producer, NULL, NULL);
  long sum = 0;
  for (int i = 0; i < NPROD * PER; i++) {
    void *it;
    assert_int_equal(mt_queue_get(from_co, &it, 30), 0);
    sum += (intptr_t)it;
  }
  tu_join_n(prod, NPROD);
  mt_queue_close(to_co);
  void *r;
  mt_thread_join(sched, MT_FOREVER, &r);
  mt_thread_free(sched);
  assert_int_equal((intptr_t)r, 0);
  assert_int_equal(sum, (long)NPROD * PER * (PER + 1) / 2);
  mt_queue_free(to_co);
  mt_queue_free(from_co);
}

/* ---- cancellation --------------------------------------------------------------------------- */
static mt_event_t never;
static mt_lock_t held = MT_LOCK_INIT;
static mt_cond_t cnd;
static mt_sem_t empty_sem;
static mt_future_t *pending_future;
static int got_event, got_sleep, got_lock, got_queue, got_after, got_cond, got_sem, got_future;
static void *block_cond(void *a) {
  mt_cond_acquire(&cnd, MT_FOREVER);
  got_cond = mt_cond_wait(&cnd, 30);
  got_cond = got_cond * 10 + (mt_lock_locked(mt_cond_lock(&cnd)) ? 1 : 0);   /* lock held again */
  mt_cond_release(&cnd);
  return NULL;
}
static void *block_sem(void *a) { got_sem = mt_sem_acquire(&empty_sem, 30); return NULL; }
static void *block_future(void *a) { got_future = mt_future_wait(pending_future, 30); return NULL; }
static int long_task(void *arg, void **res) { mt_event_wait(arg, 30); return 0; }
static void *block_event(void *a) { got_event = mt_event_wait(&never, 30); return NULL; }
static void *block_sleep(void *a) { got_sleep = mt_sleep(30); return NULL; }
static void *block_lock(void *a) { got_lock = mt_lock_acquire(&held, 30); return NULL; }
static void *block_queue(void *a) {
  void *it;
  got_queue = mt_queue_get(a, &it, 30);
  got_after = mt_event_wait(&never, 0.01);   /* one-shot: the next call blocks normally */
  return NULL;
}
static void *cancel_main(void *arg) {
  mt_queue_t *q = mt_queue_new(MT_LIFO, 0);
  mt_cond_init(&cnd, NULL);
  mt_sem_init(&empty_sem, 0, 0, 0);
  mt_pool_t *p = mt_pool_new(1);
  mt_event_t release_task;
  mt_event_init(&release_task, 0);
  pending_future = mt_pool_submit(p, long_task, &release_task);
  mt_lock_acquire(&held, 0);
  mt_co_t *c[7] = { mt_co_spawn(block_event, NULL), mt_co_spawn(block_sleep, NULL),
                    mt_co_spawn(block_lock, NULL), mt_co_spawn(block_queue, q),
                    mt_co_spawn(block_cond, NULL), mt_co_spawn(block_sem, NULL),
                    mt_co_spawn(block_future, NULL) };
  mt_sleep(0.02);                             /* let them all park */
  double t0 = mt_now();
  for (int i = 0; i < 7; i++) mt_co_cancel(c[i]);
  int r = mt_co_joinall(c, 7, 5);
  mt_lock_release(&held);
  mt_event_set(&release_task);
  mt_future_release(pending_future);
  mt_pool_free(p);
  mt_event_destroy(&release_task);
  mt_sem_destroy(&empty_sem);
  mt_cond_destroy(&cnd);
  mt_queue_free(q);
  return (void *)(intptr_t)(r == 0 && mt_now() - t0 < 1 ? 0 : 1);
}
static void cancel_every_kind_of_blocking_call(void **s) {
  mt_event_init(&never, 0);
  assert_int_equal(mt_co_main(cancel_main, NULL), 0);
  assert_int_equal(got_event, MT_ECANCELED);
  assert_int_equal(got_sleep, MT_ECANCELED);
  assert_int_equal(got_lock, MT_ECANCELED);
  assert_int_equal(got_queue, MT_ECANCELED);
  assert_int_equal(got_after, MT_ETIMEDOUT);
  assert_int_equal(got_cond, MT_ECANCELED * 10 + 1);
  assert_int_equal(got_sem, MT_ECANCELED);
  assert_int_equal(got_future, MT_ECANCELED);
  mt_event_destroy(&never);
}

/* ---- timeouts, misuse ------------------------------------------------------------------------ */
static void *timeout_main(void *arg) {
  mt_event_t e;
  mt_event_init(&e, 0);
  double t0 = mt_now();
  int r = mt_event_wait(&e, 0.05);
  double dt = mt_now() - t0;
  mt_event_destroy(&e);
  if (r != MT_ETIMEDOUT || dt < 0.05 || dt > 2) return (void *)1;
  if (mt_co_main(timeout_main, NULL) != MT_EBUSY) return (void *)2;
  if (mt_co_join(mt_co_current(), 0, NULL) != MT_EDEADLK) return (void *)3;
  mt_co_t *x = mt_co_spawn_opts(timeout_main, NULL, &(mt_co_opts_t){ .shared_stack = true, .stack_size = 1 << 20 });
  if (x || mt_last_error() != MT_EINVAL) return (void *)4;    /* larger than the shared stack */
  return NULL;
}
static void timeouts_and_misuse(void **s) {
  assert_int_equal(mt_co_main(timeout_main, NULL), 0);
  assert_null(mt_co_spawn(timeout_main, NULL));
  assert_int_equal(mt_last_error(), MT_EPERM);
  assert_null(mt_co_current());
}

/* ---- shared-stack coroutines ---------------------------------------------------------------- */
static long shared_bad, shared_done;
static mt_event_t shared_gate;
static void *stack_keeper(void *arg) {
  intptr_t id = (intptr_t)arg;
  volatile long local[64];                  /* lives on the (shared) stack across switches */
  for (int i = 0; i < 64; i++) local[i] = id * 1000 + i;
  for (int round = 0; round < 50; round++) {
    if (round % 10 == 5) mt_sleep(0.001);    /* park */
    else if (round == 25) mt_event_wait(&shared_gate, 5);
    else mt_co_yield();
    for (int i = 0; i < 64; i++)
      if (local[i] != id * 1000 + i) shared_bad++;
  }
  shared_done++;
  return (void *)id;
}
static void *shared_main(void *arg) {
  enum { NC = 200 };
  mt_co_t *c[NC];
  for (intptr_t i = 0; i < NC; i++)         /* shared and own stacks, interleaved */
    c[i] = mt_co_spawn_opts(stack_keeper, (void *)i, &(mt_co_opts_t){ .shared_stack = i % 3 != 0 });
  mt_sleep(0.02);
  mt_event_set(&shared_gate);
  for (intptr_t i = 0; i < NC; i++) {
    void *r;
    if (mt_co_join(c[i], 30, &r) || r != (void *)i) shared_bad += 1000;
  }
  return NULL;
}
static void shared_stack_keeps_each_coroutines_frames(void **s) {
  mt_event_init(&shared_gate, 0);
  shared_bad = shared_done = 0;
  assert_int_equal(mt_co_main(shared_main, NULL), 0);
  assert_int_equal(shared_bad, 0);
  assert_int_equal(shared_done, 200);
  mt_event_destroy(&shared_gate);
}

/* ---- the guard page --------------------------------------------------------------------------- */
static int deep(int n) {
  volatile char pad[512];
  pad[0] = (char)n;
  return n ? deep(n - 1) + pad[0] : 0;
}
static void *overflow(void *arg) { return (void *)(intptr_t)deep(1 << 20); }
static void *overflow_main(void *arg) {
  mt_co_t *c = mt_co_spawn_opts(overflow, NULL, &(mt_co_opts_t){ .name = "greedy", .stack_size = 32768 });
  mt_co_join(c, MT_FOREVER, NULL);
  return NULL;
}
static void overflow_child(void *a) {
  signal(SIGSEGV, SIG_DFL);     /* as in a plain program (not under cmocka's handler) */
  mt_co_main(overflow_main, NULL);
}
static void stack_overflow_names_the_coroutine(void **s) {
  char err[2048];
  int st = tu_run_child(overflow_child, NULL, err, sizeof err);
  assert_true(WIFSIGNALED(st));
  assert_int_equal(WTERMSIG(st), SIGSEGV);
  assert_non_null(strstr(err, "coroutine \"greedy\" overflowed"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(round_robin_and_join),
    cmocka_unit_test(thousands_sleep_together),
    cmocka_unit_test(lock_parks_coroutines),
    cmocka_unit_test(waits_on_a_pool_future),
    cmocka_unit_test(threads_and_coroutines_share_a_queue),
    cmocka_unit_test(cancel_every_kind_of_blocking_call),
    cmocka_unit_test(timeouts_and_misuse),
    cmocka_unit_test(shared_stack_keeps_each_coroutines_frames),
    cmocka_unit_test(stack_overflow_names_the_coroutine),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
