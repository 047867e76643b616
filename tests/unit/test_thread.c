/* test_thread.c — threads: start/join/results, timeouts, names visible to
 * the OS, identity, enumerate, foreign threads, daemon semantics at exit. */
#include <pthread.h>
#include <sys/syscall.h>

#include "testutil.h"

static void *ret_arg(void *a) { return a; }

static void start_join_returns_result(void **s) {
  mt_thread_t *t;
  assert_int_equal(mt_thread_start(&t, ret_arg, (void *)0x1234, NULL), 0);
  void *res = NULL;
  assert_int_equal(mt_thread_join(t, MT_FOREVER, &res), 0);
  assert_ptr_equal(res, (void *)0x1234);
  assert_false(mt_thread_is_alive(t));
  /* joining twice is fine */
  assert_int_equal(mt_thread_join(t, 0, &res), 0);
  mt_thread_free(t);
}

static void bad_arguments(void **s) {
  mt_thread_t *t = (mt_thread_t *)1;
  assert_int_equal(mt_thread_start(&t, NULL, NULL, NULL), MT_EINVAL);
  assert_null(t);
  assert_int_equal(mt_thread_start(NULL, ret_arg, NULL, NULL), MT_EINVAL);
  assert_int_equal(mt_thread_join(mt_thread_current(), 0, NULL), MT_EINVAL);  /* main */
  mt_thread_opts_t huge = { .stack_size = (size_t)1 << 62 };
  assert_true(mt_thread_start(&t, ret_arg, NULL, &huge) < 0);
  assert_null(t);
}

static void *wait_event(void *a) {
  mt_event_wait(a, MT_FOREVER);
  return NULL;
}

static void join_times_out_while_running(void **s) {
  mt_event_t ev;
  mt_event_init(&ev, 0);
  mt_thread_t *t;
  assert_int_equal(mt_thread_start(&t, wait_event, &ev, NULL), 0);
  assert_true(mt_thread_is_alive(t));
  double t0 = mt_now();
  assert_int_equal(mt_thread_join(t, 0.05, NULL), MT_ETIMEDOUT);
  assert_true(mt_now() - t0 >= 0.05);
  assert_int_equal(mt_thread_join(t, 0, NULL), MT_ETIMEDOUT);
  mt_event_set(&ev);
  assert_int_equal(mt_thread_join(t, 5, NULL), 0);
  mt_thread_free(t);
  mt_event_destroy(&ev);
}

static void *join_self(void *a) {
  *(int *)a = mt_thread_join(mt_thread_current(), 0, NULL);
  return NULL;
}

static void join_self_is_deadlock(void **s) {
  int r = 0;
  mt_thread_t *t;
  assert_int_equal(mt_thread_start(&t, join_self, &r, NULL), 0);
  mt_thread_join(t, MT_FOREVER, NULL);
  mt_thread_free(t);
  assert_int_equal(r, MT_EDEADLK);
}

typedef struct { unsigned long tid; char comm[32]; mt_event_t go, seen; } seen_t;

static void *observe(void *a) {
  seen_t *o = a;
  o->tid = (unsigned long)syscall(SYS_gettid);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%lu/comm", o->tid);
  FILE *f = fopen(path, "r");
  if (f) {
    if (!fgets(o->comm, sizeof o->comm, f)) o->comm[0] = 0;
    fclose(f);
  }
  mt_event_set(&o->seen);
  mt_event_wait(&o->go, MT_FOREVER);
  return NULL;
}

static void names_and_ident_are_the_os_view(void **s) {
  seen_t o = { 0 };
  mt_event_init(&o.go, 0);
  mt_event_init(&o.seen, 0);
  mt_thread_opts_t opts = { .name = "a-rather-long-thread-name" };
  mt_thread_t *t;
  assert_int_equal(mt_thread_start(&t, observe, &o, &opts), 0);
  assert_string_equal(mt_thread_name(t), "a-rather-long-thread-name");
  unsigned long id = mt_thread_ident(t);
  assert_int_equal(mt_event_wait(&o.seen, 5), 0);
  assert_int_equal(id, o.tid);
  assert_string_equal(o.comm, "a-rather-long-t\n");   /* the kernel's 15 bytes */
  mt_event_set(&o.go);
  mt_thread_join(t, MT_FOREVER, NULL);
  mt_thread_free(t);

  mt_thread_t *d;
  assert_int_equal(mt_thread_start(&d, ret_arg, NULL, NULL), 0);
  assert_int_equal(strncmp(mt_thread_name(d), "Thread-", 7), 0);
  mt_thread_join(d, MT_FOREVER, NULL);
  mt_thread_free(d);
  mt_event_destroy(&o.go);
  mt_event_destroy(&o.seen);
}

static void main_thread_is_listed(void **s) {
  mt_thread_t *me = mt_thread_current();
  assert_non_null(me);
  assert_string_equal(mt_thread_name(me), "MainThread");
  assert_int_equal(mt_thread_ident(me), (unsigned long)getpid());
  assert_true(mt_thread_is_alive(me));
  mt_event_t ev;
  mt_event_init(&ev, 0);
  mt_thread_t *t[3];
  size_t base = mt_thread_active_count();
  for (int i = 0; i < 3; i++) assert_int_equal(mt_thread_start(&t[i], wait_event, &ev, NULL), 0);
  assert_int_equal(mt_thread_active_count(), base + 3);
  mt_thread_t *all[64];
  size_t n = mt_thread_enumerate(all, 64);
  assert_int_equal(n, base + 3);
  int found_main = 0, found_t = 0;
  for (size_t i = 0; i < n; i++) {
    if (all[i] == me) found_main++;
    for (int j = 0; j < 3; j++) if (all[i] == t[j]) found_t++;
    mt_thread_free(all[i]);
  }
  assert_int_equal(found_main, 1);
  assert_int_equal(found_t, 3);
  assert_int_equal(mt_thread_enumerate(all, 1), base + 3);   /* count beyond cap */
  mt_thread_free(all[0]);
  mt_event_set(&ev);
  tu_join_n(t, 3);
  assert_int_equal(mt_thread_active_count(), base);
  mt_event_destroy(&ev);
}

static void *foreign(void *a) {
  mt_thread_t *me = mt_thread_current();
  *(int *)a = me && strncmp(mt_thread_name(me), "Dummy-", 6) == 0 && mt_thread_current() == me;
  return NULL;
}

static void foreign_thread_gets_a_dummy(void **s) {
  size_t base = mt_thread_active_count();
  int ok = 0;
  pthread_t pt;
  pthread_create(&pt, NULL, foreign, &ok);
  pthread_join(pt, NULL);
  assert_true(ok);
  assert_int_equal(mt_thread_active_count(), base);   /* gone with its thread */
}

static void *nap_then_write(void *a) {
  mt_sleep(0.3);
  ssize_t w = write(*(int *)a, "done", 4);
  (void)w;
  return NULL;
}

static void child_exits_with_non_daemon(void *a) {
  mt_thread_t *t;
  mt_thread_start(&t, nap_then_write, a, NULL);
  exit(7);          /* must first join the non-daemon thread */
}

static void exit_joins_non_daemon_threads(void **s) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  int st = tu_run_child(child_exits_with_non_daemon, &p[1], NULL, 0);
  close(p[1]);
  char buf[8] = { 0 };
  assert_int_equal(read(p[0], buf, sizeof buf), 4);
  assert_string_equal(buf, "done");
  close(p[0]);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 7);
}

static void *sleep_forever(void *a) {
  for (;;) mt_sleep(100);
  return NULL;
}

static void child_exits_with_daemon(void *a) {
  mt_thread_t *t;
  mt_thread_opts_t o = { .daemon = true };
  mt_thread_start(&t, sleep_forever, NULL, &o);
  exit(3);
}

static void daemon_threads_do_not_hold_up_exit(void **s) {
  double t0 = mt_now();
  int st = tu_run_child(child_exits_with_daemon, NULL, NULL, 0);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 3);
  assert_true(mt_now() - t0 < 5);
}

static void *count_up(void *a) {
  __atomic_fetch_add((long *)a, 1, __ATOMIC_RELAXED);
  return NULL;
}

static void many_threads_stress(void **s) {
  long n = 0;
  enum { N = 200 };
  mt_thread_t *t[N];
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < N; i++) {
      mt_thread_opts_t o = { .stack_size = 64 * 1024 };
      assert_int_equal(mt_thread_start(&t[i], count_up, &n, &o), 0);
    }
    for (int i = 0; i < N; i++) {
      if (i % 2) mt_thread_join(t[i], MT_FOREVER, NULL);
      mt_thread_free(t[i]);              /* half freed while maybe running */
    }
  }
  tu_eventually(__atomic_load_n(&n, __ATOMIC_RELAXED) == 5 * N, 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(start_join_returns_result),
    cmocka_unit_test(bad_arguments),
    cmocka_unit_test(join_times_out_while_running),
    cmocka_unit_test(join_self_is_deadlock),
    cmocka_unit_test(names_and_ident_are_the_os_view),
    cmocka_unit_test(main_thread_is_listed),
    cmocka_unit_test(foreign_thread_gets_a_dummy),
    cmocka_unit_test(exit_joins_non_daemon_threads),
    cmocka_unit_test(daemon_threads_do_not_hold_up_exit),
    cmocka_unit_test(many_threads_stress),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
