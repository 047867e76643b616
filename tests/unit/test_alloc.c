/* test_alloc.c — the allocation hook: all-or-nothing installation, and every
 * allocating constructor failing cleanly (MT_ENOMEM or NULL, nothing leaked)
 * at each of its allocations in turn. New constructors join the table. */
#include "testutil.h"

static void partial_sets_are_refused(void **s) {
  assert_int_equal(mt_set_allocator(malloc, NULL, NULL, NULL), MT_EINVAL);
  assert_int_equal(mt_set_allocator(malloc, realloc, calloc, NULL), MT_EINVAL);
  assert_int_equal(mt_set_allocator(NULL, NULL, NULL, NULL), 0);
}

static void *noop(void *a) { return a; }
static void tick(void *a) { (void)a; }

/* Each constructor: try once; on success undo and return 0. On failure the
 * out-pointer must be NULL and the code is returned. */
static int make_thread(void) {
  mt_thread_t *t = (mt_thread_t *)1;
  int r = mt_thread_start(&t, noop, NULL, NULL);
  if (r) { assert_null(t); return r; }
  mt_thread_join(t, MT_FOREVER, NULL);
  mt_thread_free(t);
  return 0;
}
static int make_timer(void) {
  mt_timer_t *t = (mt_timer_t *)1;
  int r = mt_timer_start(&t, 100, false, tick, NULL);
  if (r) { assert_null(t); return r; }
  mt_timer_free(t);
  return 0;
}
static int make_queue(void) {
  mt_queue_t *q = mt_queue_new(MT_PRIORITY, 0);
  if (!q) return mt_last_error();
  int r = mt_queue_put_prio(q, 1, NULL, 0);   /* first put allocates storage */
  mt_queue_free(q);
  return r;
}
static int make_ring_queue(void) {
  mt_queue_t *q = mt_queue_new(MT_FIFO, 100);      /* lock-free: the ring is allocated here */
  if (!q) return mt_last_error();
  int r = mt_queue_put(q, NULL, 0);
  mt_queue_free(q);
  return r;
}
static int child_fn(void *arg) { return 0; }
static int make_proc(void) {
  mt_proc_t *p = (mt_proc_t *)1;
  int r = mt_proc_start(&p, child_fn, NULL, NULL);
  if (r) { assert_null(p); return r; }
  mt_proc_join(p, MT_FOREVER);
  mt_proc_free(p);
  return 0;
}
static int make_pipe(void) {
  mt_pipe_t *a, *b;
  int r = mt_pipe_new(&a, &b, true);
  if (r) return r;
  r = mt_pipe_send(a, "x", 1, 0);
  void *m = NULL;
  size_t n;
  if (!r) r = mt_pipe_recv(b, &m, &n, 1);
  free(m);                          /* recv's buffer comes from the hook too */
  mt_pipe_close(a);
  mt_pipe_close(b);
  return r;
}
static int make_pqueue(void) {
  mt_pqueue_t *q = mt_pqueue_new(4, 1024);
  if (!q) return mt_last_error();
  int r = mt_pqueue_put(q, "abc", 3, 0);
  void *m = NULL;
  size_t n;
  if (!r) r = mt_pqueue_get(q, &m, &n, 0);
  free(m);
  mt_pqueue_free(q);
  return r;
}
static int task(void *arg, void **res) { return 0; }
static int make_pool_and_future(void) {
  mt_pool_t *p = mt_pool_new(2);
  if (!p) return mt_last_error();
  mt_future_t *f = mt_pool_submit(p, task, NULL);
  int r = f ? 0 : mt_last_error();
  mt_as_completed_t *it = f ? mt_as_completed_new(&f, 1) : NULL;
  if (f && !it) r = mt_last_error();
  if (it) {
    mt_as_completed_next(it, MT_FOREVER);
    mt_as_completed_free(it);
  }
  if (f && r == 0) {
    int w = mt_wait(&f, 1, MT_ALL_COMPLETED, MT_FOREVER);
    if (w < 0) r = w;
  }
  mt_future_release(f);
  mt_pool_free(p);
  return r;
}

static const struct { const char *name; int (*make)(void); } ctors[] = {
  { "mt_thread_start", make_thread },
  { "mt_timer_start", make_timer },
  { "mt_queue_new + put", make_queue },
  { "mt_queue_new (bounded FIFO) + put", make_ring_queue },
  { "mt_pool_new + submit + as_completed + mt_wait", make_pool_and_future },
  { "mt_proc_start", make_proc },
  { "mt_pipe_new + send + recv", make_pipe },
  { "mt_pqueue_new + put + get", make_pqueue },
};

static void every_constructor_fails_cleanly(void **s) {
  for (size_t c = 0; c < sizeof ctors / sizeof ctors[0]; c++) {
    long k;
    for (k = 0; k < 1000; k++) {
      tu_alloc_install(k);
      int r = ctors[c].make();
      long used = tu_nalloc;
      tu_alloc_restore();
      if (r != 0) {
        if (r != MT_ENOMEM) print_error("%s: allocation %ld failed with %s\n", ctors[c].name, k, mt_err_name(r));
        assert_int_equal(r, MT_ENOMEM);
      }
      assert_int_equal(tu_live, 0);      /* nothing leaked, success or not */
      if (r == 0 && used <= k) break;    /* every allocation has been failed once */
    }
    assert_true(k < 1000);
  }
}

static void hook_sees_library_allocations(void **s) {
  tu_alloc_install(-1);
  assert_int_equal(make_thread(), 0);
  tu_alloc_restore();
  assert_true(tu_nalloc >= 1);
  assert_int_equal(tu_live, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(partial_sets_are_refused),
    cmocka_unit_test(every_constructor_fails_cleanly),
    cmocka_unit_test(hook_sees_library_allocations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
