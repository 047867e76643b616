/* test_signal.c — handlers in normal context (they take a lock and
 * allocate), ignore/default, alarm + pause, the shutdown event and its
 * second-signal escape, and argument checks. */
#include <signal.h>

#include "testutil.h"

static mt_lock_t lk = MT_LOCK_INIT;
static mt_event_t got;
static char where[32];
static long count;

static void on_usr1(int signum, void *ud) {
  MT_WITH(&lk) {                                   /* locks: fine here */
    char *p = malloc(64);                          /* so is allocating */
    snprintf(p, 64, "%s", mt_thread_name(mt_thread_current()));
    snprintf(where, sizeof where, "%s", p);
    free(p);
    count++;
  }
  mt_event_set(ud);
}

static void handler_runs_in_normal_context(void **s) {
  mt_event_init(&got, 0);
  assert_int_equal(mt_signal_handle(SIGUSR1, on_usr1, &got), 0);
  for (int i = 0; i < 50; i++) {
    mt_event_clear(&got);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(mt_event_wait(&got, 5), 0);
  }
  MT_WITH(&lk) {
    assert_string_equal(where, "mt-signals");
    assert_int_equal(count, 50);
  }
  mt_signal_default(SIGUSR1);
}

static void ignore_and_default(void **s) {
  assert_int_equal(mt_signal_ignore(SIGUSR2), 0);
  assert_int_equal(raise(SIGUSR2), 0);            /* still alive */
  assert_int_equal(mt_signal_default(SIGUSR2), 0);
  pid_t pid = fork();
  if (pid == 0) { raise(SIGUSR2); _exit(0); }
  int st;
  waitpid(pid, &st, 0);
  assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR2);
}

static void on_alarm(int signum, void *ud) { (void)ud; }

static void alarm_and_pause(void **s) {
  assert_int_equal(mt_signal_handle(SIGALRM, on_alarm, NULL), 0);
  double t0 = mt_now();
  assert_int_equal(mt_alarm(0.05), 0);
  assert_int_equal(mt_signal_pause(), SIGALRM);
  assert_true(mt_now() - t0 >= 0.04);
  assert_int_equal(mt_alarm(0), 0);
  mt_signal_default(SIGALRM);
}

static void child_shutdown(void *a) {
  mt_event_t stop;
  mt_event_init(&stop, 0);
  if (mt_signal_shutdown_event(&stop) != 0) _exit(10);
  raise(SIGTERM);
  if (mt_event_wait(&stop, 5) != 0) _exit(11);  /* orderly shutdown requested */
  raise(SIGTERM);                                /* the second one ends us */
  mt_sleep(5);
  _exit(12);
}

static void shutdown_event_then_forceful_second_signal(void **s) {
  int st = tu_run_child(child_shutdown, NULL, NULL, 0);
  assert_true(WIFSIGNALED(st));
  assert_int_equal(WTERMSIG(st), SIGTERM);
}

static void handler_in_forked_child(void *a) {
  mt_event_t ev;
  mt_event_init(&ev, 0);
  if (mt_signal_handle(SIGUSR1, on_usr1, &ev) != 0) _exit(20);   /* restarts dispatch here */
  raise(SIGUSR1);
  _exit(mt_event_wait(&ev, 5) == 0 ? 0 : 21);
}

static void works_again_after_fork(void **s) {
  mt_event_t ev;
  mt_event_init(&ev, 0);
  assert_int_equal(mt_signal_handle(SIGUSR1, on_usr1, &ev), 0);
  int st = tu_run_child(handler_in_forked_child, NULL, NULL, 0);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
  raise(SIGUSR1);                                 /* and still in the parent */
  assert_int_equal(mt_event_wait(&ev, 5), 0);
  mt_signal_default(SIGUSR1);
}

static void bad_arguments(void **s) {
  assert_int_equal(mt_signal_handle(SIGKILL, on_alarm, NULL), MT_EINVAL);
  assert_int_equal(mt_signal_handle(SIGSTOP, on_alarm, NULL), MT_EINVAL);
  assert_int_equal(mt_signal_handle(0, on_alarm, NULL), MT_EINVAL);
  assert_int_equal(mt_signal_handle(SIGUSR1, NULL, NULL), MT_EINVAL);
  assert_int_equal(mt_signal_ignore(999), MT_EINVAL);
  assert_int_equal(mt_alarm(-1), MT_EINVAL);
  assert_int_equal(mt_signal_shutdown_event(NULL), MT_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(handler_runs_in_normal_context),
    cmocka_unit_test(ignore_and_default),
    cmocka_unit_test(alarm_and_pause),
    cmocka_unit_test(shutdown_event_then_forceful_second_signal),
    cmocka_unit_test(works_again_after_fork),
    cmocka_unit_test(bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
