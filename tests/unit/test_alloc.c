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

/* Each constructor: try once; on success undo and return 0. */
static int make_thread(void) {
  mt_thread_t *t;
  int r = mt_thread_start(&t, noop, NULL, NULL);
  if (r) return r;
  mt_thread_join(t, MT_FOREVER, NULL);
  mt_thread_free(t);
  return 0;
}
static int make_timer(void) {
  mt_timer_t *t;
  int r = mt_timer_start(&t, 100, false, tick, NULL);
  if (r) return r;
  mt_timer_free(t);
  return 0;
}

static const struct { const char *name; int (*make)(void); } ctors[] = {
  { "mt_thread_start", make_thread },
  { "mt_timer_start", make_timer },
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
