/* test_cond.c — Condition: wait/notify/notify_all, timeouts with the lock
 * re-held, wait_for with one deadline, a bounded producer/consumer. */
#include "testutil.h"

typedef struct { mt_lock_t l; mt_cond_t c; int ready; int woke; } ctx_t;

static void *waiter(void *a) {
  ctx_t *x = a;
  mt_lock_acquire(&x->l, MT_FOREVER);
  __atomic_fetch_add(&x->ready, 1, __ATOMIC_SEQ_CST);
  int r = mt_cond_wait(&x->c, 10);
  if (r == 0) __atomic_fetch_add(&x->woke, 1, __ATOMIC_SEQ_CST);
  mt_lock_release(&x->l);
  return NULL;
}

static void notify_counts(void **s) {
  ctx_t x = { .l = MT_LOCK_INIT };
  assert_int_equal(mt_cond_init(&x.c, &x.l), 0);
  assert_ptr_equal(mt_cond_lock(&x.c), &x.l);
  enum { T = 6 };
  mt_thread_t *t[T];
  tu_start_n(t, T, waiter, &x);
  tu_eventually(__atomic_load_n(&x.ready, __ATOMIC_SEQ_CST) == T, 5);
  mt_lock_acquire(&x.l, MT_FOREVER);
  assert_int_equal(mt_cond_notify(&x.c, 1), 1);
  mt_lock_release(&x.l);
  tu_eventually(__atomic_load_n(&x.woke, __ATOMIC_SEQ_CST) == 1, 5);
  mt_lock_acquire(&x.l, MT_FOREVER);
  assert_int_equal(tu_wq_len(&x.c.u.wq), T - 1);     /* the other five still wait */
  mt_lock_release(&x.l);
  assert_int_equal(x.woke, 1);
  mt_lock_acquire(&x.l, MT_FOREVER);
  assert_int_equal(mt_cond_notify(&x.c, 2), 2);
  assert_int_equal(mt_cond_notify_all(&x.c), T - 3);
  assert_int_equal(mt_cond_notify_all(&x.c), 0);
  mt_lock_release(&x.l);
  tu_join_n(t, T);
  assert_int_equal(x.woke, T);
  mt_cond_destroy(&x.c);
}

static void notify_unlocked(void *a) {
  mt_cond_t c;
  mt_cond_init(&c, NULL);
  mt_cond_notify(&c, 1);
}
static void notify_all_unlocked(void *a) {
  mt_cond_t c;
  mt_cond_init(&c, NULL);
  mt_cond_notify_all(&c);
}

/* Python raises RuntimeError("cannot notify on un-acquired lock"). */
static void notify_without_the_lock_aborts(void **s) {
  assert_aborts(notify_unlocked, NULL, "mt_cond_notify: the condition's lock is not held");
  assert_aborts(notify_all_unlocked, NULL, "mt_cond_notify_all: the condition's lock is not held");
}

static void wait_timeout_reholds_lock(void **s) {
  mt_cond_t c;
  assert_int_equal(mt_cond_init(&c, NULL), 0);       /* its own lock */
  assert_int_equal(mt_cond_acquire(&c, 0), 0);
  double t0 = mt_now();
  assert_int_equal(mt_cond_wait(&c, 0.05), MT_ETIMEDOUT);
  assert_true(mt_now() - t0 >= 0.05);
  assert_true(mt_lock_locked(mt_cond_lock(&c)));
  assert_int_equal(mt_cond_wait(&c, 0), MT_ETIMEDOUT);
  assert_int_equal(mt_cond_release(&c), 0);
  mt_cond_destroy(&c);
}

static bool is_three(void *a) { return *(int *)a == 3; }

static void wait_for_uses_one_deadline(void **s) {
  mt_cond_t c;
  mt_cond_init(&c, NULL);
  int v = 0;
  mt_cond_acquire(&c, MT_FOREVER);
  double t0 = mt_now();
  assert_int_equal(mt_cond_wait_for(&c, is_three, &v, 0.1), MT_ETIMEDOUT);
  double dt = mt_now() - t0;
  assert_true(dt >= 0.1 && dt < 2);
  v = 3;
  assert_int_equal(mt_cond_wait_for(&c, is_three, &v, 0), 0);
  mt_cond_release(&c);
  mt_cond_destroy(&c);
}

/* A bounded buffer with two conditions, as in the notes' producer/consumer. */
typedef struct {
  mt_lock_t l; mt_cond_t not_full, not_empty;
  int buf[8]; int head, n; long sum_in, sum_out;
} bb_t;

static bool has_room(void *a) { return ((bb_t *)a)->n < 8; }
static bool has_item(void *a) { return ((bb_t *)a)->n > 0; }

static void *producer(void *a) {
  bb_t *b = a;
  for (int i = 1; i <= 20000; i++) {
    mt_lock_acquire(&b->l, MT_FOREVER);
    mt_cond_wait_for(&b->not_full, has_room, b, MT_FOREVER);
    b->buf[(b->head + b->n++) % 8] = i;
    b->sum_in += i;
    mt_cond_notify(&b->not_empty, 1);
    mt_lock_release(&b->l);
  }
  return NULL;
}

static void *consumer(void *a) {
  bb_t *b = a;
  for (int i = 0; i < 20000; i++) {
    mt_lock_acquire(&b->l, MT_FOREVER);
    mt_cond_wait_for(&b->not_empty, has_item, b, MT_FOREVER);
    b->sum_out += b->buf[b->head];
    b->head = (b->head + 1) % 8;
    b->n--;
    mt_cond_notify(&b->not_full, 1);
    mt_lock_release(&b->l);
  }
  return NULL;
}

static void producer_consumer(void **s) {
  bb_t b = { .l = MT_LOCK_INIT };
  mt_cond_init(&b.not_full, &b.l);
  mt_cond_init(&b.not_empty, &b.l);
  mt_thread_t *t[6];
  tu_start_n(t, 3, producer, &b);
  for (int i = 3; i < 6; i++) mt_thread_start(&t[i], consumer, &b, NULL);
  tu_join_n(t, 6);
  assert_int_equal(b.n, 0);
  assert_int_equal(b.sum_in, b.sum_out);
  assert_int_equal(b.sum_in, 3L * 20000 * 20001 / 2);
  mt_cond_destroy(&b.not_full);
  mt_cond_destroy(&b.not_empty);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(notify_counts),
    cmocka_unit_test(notify_without_the_lock_aborts),
    cmocka_unit_test(wait_timeout_reholds_lock),
    cmocka_unit_test(wait_for_uses_one_deadline),
    cmocka_unit_test(producer_consumer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
