/* test_queue.c — FIFO/LIFO/priority order, bounds and timeouts, task_done
 * and join, close waking everyone, many producers and consumers. */
#include "testutil.h"
#include "queue/queue_internal.h"

#define P(i) ((void *)(intptr_t)(i))

/* Bounded FIFOs of up to 65536 items use the lock-free ring, others the
 * locked storage: tests marked "both" run once with each. */
static const size_t LOCKFREE_BOUND = 1000, LOCKED_BOUND = 100000;

static void orders(void **s) {
  mt_queue_t *f = mt_queue_new(MT_FIFO, 0), *l = mt_queue_new(MT_LIFO, 0);
  for (int i = 1; i <= 100; i++) {
    assert_int_equal(mt_queue_put(f, P(i), 0), 0);
    assert_int_equal(mt_queue_put(l, P(i), 0), 0);
  }
  assert_int_equal(mt_queue_size(f), 100);
  for (int i = 1; i <= 100; i++) {
    void *a, *b;
    assert_int_equal(mt_queue_get(f, &a, 0), 0);
    assert_int_equal(mt_queue_get(l, &b, 0), 0);
    assert_ptr_equal(a, P(i));
    assert_ptr_equal(b, P(101 - i));
  }
  assert_true(mt_queue_empty(f));
  mt_queue_free(f);
  mt_queue_free(l);
}

static void priority_lowest_first_fifo_among_equals(void **s) {
  mt_queue_t *q = mt_queue_new(MT_PRIORITY, 0);
  srand(7);
  enum { N = 5000 };
  for (int i = 0; i < N; i++) assert_int_equal(mt_queue_put_prio(q, rand() % 50 - 25, P(i), 0), 0);
  long lastp = -1000;
  int lasti[50];
  for (int i = 0; i < 50; i++) lasti[i] = -1;
  for (int i = 0; i < N; i++) {
    void *it;
    long pr;
    assert_int_equal(mt_queue_get_prio(q, &it, &pr, 0), 0);
    assert_true(pr >= lastp);
    if (pr != lastp) lastp = pr;
    assert_true((intptr_t)it > lasti[pr + 25]);   /* FIFO among equal priorities */
    lasti[pr + 25] = (int)(intptr_t)it;
  }
  assert_int_equal(mt_queue_get(q, &(void *){0}, 0), MT_EEMPTY);
  mt_queue_free(q);
}

static void bounds_and_timeouts_lifo_and_fifo(mt_queue_kind_t kind) {
  mt_queue_t *q = mt_queue_new(kind, 3);
  assert_false(mt_queue_full(q));
  for (int i = 0; i < 3; i++) assert_int_equal(mt_queue_put(q, P(i), 0), 0);
  assert_true(mt_queue_full(q));
  assert_int_equal(mt_queue_put(q, P(9), 0), MT_EFULL);
  double t0 = mt_now();
  assert_int_equal(mt_queue_put(q, P(9), 0.05), MT_EFULL);
  assert_true(mt_now() - t0 >= 0.05);
  void *it;
  for (int i = 0; i < 3; i++) assert_int_equal(mt_queue_get(q, &it, 0), 0);
  assert_int_equal(mt_queue_get(q, &it, 0), MT_EEMPTY);
  t0 = mt_now();
  assert_int_equal(mt_queue_get(q, &it, 0.05), MT_EEMPTY);
  assert_true(mt_now() - t0 >= 0.05);
  mt_queue_free(q);
}

static void bounds_and_timeouts(void **s) {
  bounds_and_timeouts_lifo_and_fifo(MT_FIFO);      /* lock-free ring */
  bounds_and_timeouts_lifo_and_fifo(MT_LIFO);      /* locked storage */
  assert_null(mt_queue_new((mt_queue_kind_t)7, 0));
  assert_int_equal(mt_last_error(), MT_EINVAL);
}

static void *get_after(void *a) {
  tu_eventually(mt__queue_parked(a, true) == 1, 10);    /* the putter sleeps */
  void *it;
  mt_queue_get(a, &it, MT_FOREVER);
  return it;
}

static void blocked_put_wakes_when_room(void **s) {
  mt_queue_t *q = mt_queue_new(MT_LIFO, 1);
  mt_queue_put(q, P(1), 0);
  mt_thread_t *t;
  mt_thread_start(&t, get_after, q, NULL);
  assert_int_equal(mt_queue_put(q, P(2), 5), 0);
  void *got;
  mt_thread_join(t, MT_FOREVER, &got);
  assert_ptr_equal(got, P(1));
  mt_thread_free(t);
  mt_queue_free(q);
}

static void *worker_done(void *a) {
  void *it;
  while (mt_queue_get(a, &it, 1) == 0) {
    mt_sleep(0.001);
    mt_queue_task_done(a);
  }
  return NULL;
}

static void task_done_and_join_one(size_t bound) {
  mt_queue_t *q = mt_queue_new(MT_FIFO, bound);
  assert_int_equal(mt_queue_join(q, 0), 0);
  assert_int_equal(mt_queue_task_done(q), MT_EINVAL);
  for (int i = 0; i < 50; i++) mt_queue_put(q, P(i), 0);
  assert_int_equal(mt_queue_join(q, 0.01), MT_ETIMEDOUT);
  mt_thread_t *t;
  mt_thread_start(&t, worker_done, q, NULL);
  assert_int_equal(mt_queue_join(q, 10), 0);
  assert_int_equal(mt_queue_task_done(q), MT_EINVAL);   /* more than items */
  mt_queue_close(q);
  mt_thread_join(t, MT_FOREVER, NULL);
  mt_thread_free(t);
  mt_queue_free(q);
}

static void task_done_and_join(void **s) {     /* both */
  task_done_and_join_one(0);
  task_done_and_join_one(LOCKFREE_BOUND);
}

static void *blocked_get(void *a) {
  void *it;
  return (void *)(intptr_t)mt_queue_get(a, &it, 10);
}
static void *blocked_put(void *a) { return (void *)(intptr_t)mt_queue_put(a, P(1), 10); }

static void close_wakes_everyone_and_drains_one(size_t bound) {
  mt_queue_t *q = mt_queue_new(MT_FIFO, bound);
  mt_thread_t *g[4];
  for (int i = 0; i < 4; i++) mt_thread_start(&g[i], blocked_get, q, NULL);
  tu_eventually(mt__queue_parked(q, false) == 4, 10);     /* all four asleep */
  double t0 = mt_now();
  mt_queue_close(q);
  for (int i = 0; i < 4; i++) {
    void *r;
    mt_thread_join(g[i], MT_FOREVER, &r);
    assert_int_equal((intptr_t)r, MT_ECLOSED);
    mt_thread_free(g[i]);
  }
  assert_true(mt_now() - t0 < 5);
  assert_true(mt_queue_closed(q));
  assert_int_equal(mt_queue_put(q, P(1), 0), MT_ECLOSED);
  mt_queue_free(q);

  q = mt_queue_new(bound == LOCKED_BOUND ? MT_LIFO : MT_FIFO, 2);
  mt_queue_put(q, P(1), 0);
  mt_queue_put(q, P(2), 0);
  mt_thread_t *p[2];
  for (int i = 0; i < 2; i++) mt_thread_start(&p[i], blocked_put, q, NULL);
  tu_eventually(mt__queue_parked(q, true) == 2, 10);
  mt_queue_close(q);
  for (int i = 0; i < 2; i++) {
    void *r;
    mt_thread_join(p[i], MT_FOREVER, &r);
    assert_int_equal((intptr_t)r, MT_ECLOSED);
    mt_thread_free(p[i]);
  }
  void *it;
  assert_int_equal(mt_queue_get(q, &it, 0), 0);          /* drains what is left */
  assert_ptr_equal(it, bound == LOCKED_BOUND ? P(2) : P(1));
  assert_int_equal(mt_queue_get(q, &it, MT_FOREVER), 0);
  assert_int_equal(mt_queue_get(q, &it, MT_FOREVER), MT_ECLOSED);   /* at once */
  mt_queue_free(q);
}

static void count_drop(void *item, void *ud) { *(intptr_t *)ud += (intptr_t)item; }
static void *joiner(void *a) { return (void *)(intptr_t)mt_queue_join(a, 10); }

/* Python 3.13's shutdown(immediate=True): queued items dropped (each handed
 * to drop, and counted as done), blocked getters and putters woken with
 * MT_ECLOSED, join released. */
static void shutdown_immediate_one(mt_queue_kind_t kind, size_t bound) {
  mt_queue_t *q = mt_queue_new(kind, bound);
  mt_thread_t *g[3], *j;
  for (int i = 0; i < 3; i++) mt_thread_start(&g[i], blocked_get, q, NULL);
  tu_eventually(mt__queue_parked(q, false) == 3, 10);
  assert_int_equal(mt_queue_shutdown(q, true, NULL, NULL), 0);
  for (int i = 0; i < 3; i++) {
    void *r;
    mt_thread_join(g[i], MT_FOREVER, &r);
    assert_int_equal((intptr_t)r, MT_ECLOSED);
    mt_thread_free(g[i]);
  }
  mt_queue_free(q);

  q = mt_queue_new(kind, bound);
  for (intptr_t i = 1; i <= 2; i++) assert_int_equal(mt_queue_put(q, P(i), 0), 0);
  mt_thread_t *p[2];
  if (bound == 2) {                      /* full: two putters block */
    for (int i = 0; i < 2; i++) mt_thread_start(&p[i], blocked_put, q, NULL);
    tu_eventually(mt__queue_parked(q, true) == 2, 10);
  }
  mt_thread_start(&j, joiner, q, NULL);
  void *it;
  assert_int_equal(mt_queue_put(q, P(4), 0), bound == 2 ? MT_EFULL : 0);
  intptr_t sum = 0;
  size_t dropped = mt_queue_shutdown(q, true, count_drop, &sum);
  assert_int_equal(dropped, bound == 2 ? 2 : 3);
  assert_int_equal(sum, bound == 2 ? 3 : 7);                   /* each item exactly once */
  void *r;
  assert_int_equal(mt_thread_join(j, 10, &r), 0);               /* join released */
  assert_int_equal((intptr_t)r, 0);
  mt_thread_free(j);
  if (bound == 2) {
    for (int i = 0; i < 2; i++) {
      mt_thread_join(p[i], MT_FOREVER, &r);
      assert_int_equal((intptr_t)r, MT_ECLOSED);
      mt_thread_free(p[i]);
    }
  }
  assert_int_equal(mt_queue_size(q), 0);
  assert_int_equal(mt_queue_get(q, &it, MT_FOREVER), MT_ECLOSED);   /* nothing to drain */
  assert_int_equal(mt_queue_put(q, P(5), MT_FOREVER), MT_ECLOSED);
  assert_int_equal(mt_queue_join(q, 0), 0);
  assert_int_equal(mt_queue_task_done(q), MT_EINVAL);               /* dropped items are done */
  mt_queue_free(q);

  /* an item taken before the shutdown keeps join waiting for its task_done */
  q = mt_queue_new(kind, bound);
  mt_queue_put(q, P(1), 0);
  mt_queue_put(q, P(2), 0);
  assert_int_equal(mt_queue_get(q, &it, 0), 0);
  assert_int_equal(mt_queue_shutdown(q, true, NULL, NULL), 1);
  assert_int_equal(mt_queue_join(q, 0), MT_ETIMEDOUT);
  assert_int_equal(mt_queue_task_done(q), 0);
  assert_int_equal(mt_queue_join(q, 0), 0);
  mt_queue_free(q);

  /* not immediate: the same as close, the items stay to be drained */
  q = mt_queue_new(kind, bound);
  mt_queue_put(q, P(1), 0);
  assert_int_equal(mt_queue_shutdown(q, false, count_drop, &sum), 0);
  assert_int_equal(mt_queue_get(q, &it, 0), 0);
  assert_ptr_equal(it, P(1));
  assert_int_equal(mt_queue_get(q, &it, 0), MT_ECLOSED);
  mt_queue_free(q);
}

static void shutdown_immediate(void **s) {
  shutdown_immediate_one(MT_FIFO, 2);             /* lock-free ring */
  shutdown_immediate_one(MT_FIFO, LOCKFREE_BOUND);
  shutdown_immediate_one(MT_FIFO, 0);             /* locked, growable */
  shutdown_immediate_one(MT_LIFO, 2);
  shutdown_immediate_one(MT_LIFO, 0);
  shutdown_immediate_one(MT_PRIORITY, 2);
  shutdown_immediate_one(MT_PRIORITY, 0);
}

static void close_wakes_everyone_and_drains(void **s) {     /* both */
  close_wakes_everyone_and_drains_one(LOCKFREE_BOUND);
  close_wakes_everyone_and_drains_one(LOCKED_BOUND);
}

enum { PER = 50000, NP = 4, NC = 4 };
typedef struct { mt_queue_t *q; int id; unsigned char *seen; long dup, got; } mp_t;

static void *mp_prod(void *a) {
  mp_t *m = a;
  for (int i = 0; i < PER; i++) mt_queue_put(m->q, P(m->id * PER + i + 1), MT_FOREVER);
  return NULL;
}
static void *mp_cons(void *a) {
  mp_t *m = a;
  void *it;
  while (mt_queue_get(m->q, &it, MT_FOREVER) == 0) {
    intptr_t v = (intptr_t)it - 1;
    if (__atomic_exchange_n(&m->seen[v], 1, __ATOMIC_RELAXED)) __atomic_fetch_add(&m->dup, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&m->got, 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

static void many_producers_consumers_lose_nothing(void **s) {
  for (int kind = 0; kind < 4; kind++) {   /* FIFO lock-free, LIFO, PRIORITY, FIFO locked */
    mt_queue_t *nq = kind == 3 ? mt_queue_new(MT_FIFO, LOCKED_BOUND) : mt_queue_new((mt_queue_kind_t)kind, 64);
    mp_t shared = { .q = nq, .seen = calloc(NP * PER, 1) };
    mp_t pa[NP];
    memset(pa, 0, sizeof pa);
    mt_thread_t *t[NP + NC];
    for (int i = 0; i < NC; i++) mt_thread_start(&t[NP + i], mp_cons, &shared, NULL);
    for (int i = 0; i < NP; i++) {
      pa[i].q = shared.q;          /* not a copy of `shared`: consumers write it */
      pa[i].id = i;
      mt_thread_start(&t[i], mp_prod, &pa[i], NULL);
    }
    tu_join_n(t, NP);
    mt_queue_close(shared.q);
    for (int i = 0; i < NC; i++) { mt_thread_join(t[NP + i], MT_FOREVER, NULL); mt_thread_free(t[NP + i]); }
    assert_int_equal(shared.dup, 0);
    assert_int_equal(shared.got, NP * PER);
    for (int i = 0; i < NP * PER; i++) assert_int_equal(shared.seen[i], 1);
    free(shared.seen);
    mt_queue_free(shared.q);
  }
}

static void out_of_memory_is_clean(void **s) {
  for (long k = 0; k < 100; k++) {
    tu_alloc_install(k);
    mt_queue_t *q = mt_queue_new(MT_PRIORITY, 0);
    int r = 0, i;
    for (i = 0; q && i < 100 && r == 0; i++) r = mt_queue_put_prio(q, i, P(i), 0);
    if (q) {
      assert_true(r == 0 || r == MT_ENOMEM);
      size_t n = mt_queue_size(q);
      assert_int_equal(n, r ? (size_t)i - 1 : 100);   /* a failed put adds nothing */
      mt_queue_free(q);
    } else {
      assert_int_equal(mt_last_error(), MT_ENOMEM);
    }
    tu_alloc_restore();
    assert_int_equal(tu_live, 0);
  }
}

/* Sleepers are woken, never left to the queue's 1-second safety re-check:
 * two producers and two consumers pass items through a 2-slot lock-free
 * queue with random gaps (none, inside the yield window, long enough to
 * park). A lost wake-up costs its operation about a second; a missing wake
 * path costs most of them that. Two slow operations are forgiven (a busy
 * machine may stall a thread), not more. */
typedef struct { mt_queue_t *q; unsigned seed; double worst; int slow; bool put; } wake_ctx_t;

static void *wake_side(void *arg) {
  wake_ctx_t *c = arg;
  static const long gaps_ns[] = { 0, 0, 2000, 50000, 300000 };
  for (int i = 0; i < 2000; i++) {
    double t0 = mt_now();
    void *it = P(i + 1);
    int r = c->put ? mt_queue_put(c->q, it, 5) : mt_queue_get(c->q, &it, 5);
    double dt = mt_now() - t0;
    if (r) dt = 99;
    if (dt > c->worst) c->worst = dt;
    if (dt >= 0.9) c->slow++;
    c->seed = c->seed * 1103515245u + 12345u;
    long gap = gaps_ns[(c->seed >> 16) % 5];
    if (gap) nanosleep(&(struct timespec){ 0, gap }, NULL);
  }
  return NULL;
}

static void sleepers_are_woken_promptly(void **s) {
  mt_queue_t *q = mt_queue_new(MT_FIFO, 2);
  wake_ctx_t c[4];
  mt_thread_t *t[4];
  for (int i = 0; i < 4; i++) {
    c[i] = (wake_ctx_t){ q, (unsigned)i + 7, 0, 0, i < 2 };
    assert_int_equal(mt_thread_start(&t[i], wake_side, &c[i], NULL), 0);
  }
  tu_join_n(t, 4);
  int slow = 0;
  for (int i = 0; i < 4; i++) slow += c[i].slow;
  for (int i = 0; i < 4; i++) {
    if (slow > 2 || c[i].worst >= 5)
      fail_msg("%d slow operations; %s %d waited %.3f s", slow, c[i].put ? "putter" : "getter", i, c[i].worst);
  }
  assert_true(mt_queue_empty(q));
  mt_queue_free(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(orders),
    cmocka_unit_test(priority_lowest_first_fifo_among_equals),
    cmocka_unit_test(bounds_and_timeouts),
    cmocka_unit_test(blocked_put_wakes_when_room),
    cmocka_unit_test(task_done_and_join),
    cmocka_unit_test(close_wakes_everyone_and_drains),
    cmocka_unit_test(shutdown_immediate),
    cmocka_unit_test(many_producers_consumers_lose_nothing),
    cmocka_unit_test(out_of_memory_is_clean),
    cmocka_unit_test(sleepers_are_woken_promptly),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
