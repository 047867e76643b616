/* test_proc.c — processes: exit codes and signals, join timeouts,
 * terminate/kill, names and nice values seen by the OS, daemonic children
 * dying with their parent (normal exit and abrupt death), and no zombie
 * after thousands of starts whose handles are freed unjoined. */
#include <signal.h>
#include <sys/resource.h>

#include "testutil.h"

static int ret_arg(void *a) { return (int)(intptr_t)a; }
static int do_abort(void *a) { signal(SIGABRT, SIG_DFL); abort(); }
static int sleep_long(void *a) { for (;;) pause(); return 0; }

static void exit_codes_and_signals(void **s) {
  mt_proc_t *p;
  assert_int_equal(mt_proc_start(&p, ret_arg, (void *)7, NULL), 0);
  assert_true(mt_proc_pid(p) > 0);
  assert_int_equal(mt_proc_join(p, 10), 0);
  assert_int_equal(mt_proc_exitcode(p), 7);
  assert_false(mt_proc_is_alive(p));
  assert_int_equal(mt_proc_join(p, 0), 0);            /* joining again is fine */
  mt_proc_free(p);

  assert_int_equal(mt_proc_start(&p, do_abort, NULL, NULL), 0);
  assert_int_equal(mt_proc_join(p, 10), 0);
  assert_int_equal(mt_proc_exitcode(p), -SIGABRT);
  mt_proc_free(p);
}

static void join_timeout_terminate_kill(void **s) {
  mt_proc_t *p;
  assert_int_equal(mt_proc_start(&p, sleep_long, NULL, NULL), 0);
  assert_true(mt_proc_is_alive(p));
  assert_int_equal(mt_proc_exitcode(p), MT_ERUNNING);
  double t0 = mt_now();
  assert_int_equal(mt_proc_join(p, 0.05), MT_ETIMEDOUT);
  assert_true(mt_now() - t0 >= 0.05);
  assert_int_equal(mt_proc_terminate(p), 0);
  assert_int_equal(mt_proc_join(p, 10), 0);
  assert_int_equal(mt_proc_exitcode(p), -SIGTERM);
  assert_int_equal(mt_proc_kill(p), 0);                /* already gone: still 0 */
  mt_proc_free(p);

  assert_int_equal(mt_proc_start(&p, sleep_long, NULL, NULL), 0);
  assert_int_equal(mt_proc_kill(p), 0);
  assert_int_equal(mt_proc_join(p, 10), 0);
  assert_int_equal(mt_proc_exitcode(p), -SIGKILL);
  mt_proc_free(p);
}

static int check_name(void *a) {
  char comm[32] = { 0 };
  FILE *f = fopen("/proc/self/comm", "r");
  if (!f || !fgets(comm, sizeof comm, f)) return 2;
  fclose(f);
  return strcmp(comm, "worker-proc\n") == 0 ? 0 : 1;
}
static int report_nice(void *a) { return getpriority(PRIO_PROCESS, 0) + 20; }

static void name_and_nice(void **s) {
  mt_proc_t *p;
  mt_proc_opts_t o = { .name = "worker-proc" };
  assert_int_equal(mt_proc_start(&p, check_name, NULL, &o), 0);
  assert_int_equal(mt_proc_join(p, 10), 0);
  assert_int_equal(mt_proc_exitcode(p), 0);
  mt_proc_free(p);
  int mine = getpriority(PRIO_PROCESS, 0);
  mt_proc_opts_t n = { .nice = 5 };
  assert_int_equal(mt_proc_start(&p, report_nice, NULL, &n), 0);
  assert_int_equal(mt_proc_join(p, 10), 0);
  int want = mine + 5 > 19 ? 19 : mine + 5;
  assert_int_equal(mt_proc_exitcode(p), want + 20);
  mt_proc_free(p);
}

/* ---- daemonic children die with their parent ------------------------------ */
/* Dead: absent, or a zombie that its new parent (init, for an orphan) has
 * not reaped yet. */
static bool gone(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return true;
  bool zombie = false;
  if (fgets(buf, sizeof buf, f)) {
    char *rp = strrchr(buf, ')');
    zombie = rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
  }
  fclose(f);
  return zombie;     /* dead, waiting for someone else to reap it */
}

static int wpipe = -1;
static bool abrupt;

static void parent_with_daemon_child(void *a) {
  mt_proc_t *d;
  mt_proc_opts_t o = { .daemon = true };
  if (mt_proc_start(&d, sleep_long, NULL, &o) != 0) _exit(3);
  pid_t pid = mt_proc_pid(d);
  if (write(wpipe, &pid, sizeof pid) != sizeof pid) _exit(4);
  if (abrupt) kill(getpid(), SIGKILL);      /* dies without any clean-up */
  exit(0);                                  /* atexit terminates the daemon */
}

static void daemon_children_die_with_parent(void **s) {
  for (int mode = 0; mode < 2; mode++) {
    int p[2];
    assert_int_equal(pipe(p), 0);
    wpipe = p[1];
    abrupt = mode == 1;
    int st = tu_run_child(parent_with_daemon_child, NULL, NULL, 0);
    close(p[1]);
    pid_t d = 0;
    assert_int_equal(read(p[0], &d, sizeof d), sizeof d);
    close(p[0]);
    if (mode == 0) assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    else assert_true(WIFSIGNALED(st));
    tu_eventually(gone(d), 10);
  }
}

/* A daemonic child outlives the thread that started it (PR_SET_PDEATHSIG
 * would have killed it when that thread ended: the fork model of mtftpd cut
 * running sessions so when its acceptor threads stopped). */
static int wait_for_word(void *a) {
  int fd = (int)(intptr_t)a;
  char c = 0;
  return read(fd, &c, 1) == 1 ? c : 99;
}
static int gofd[2];
static void *start_daemon_then_end(void *a) {
  mt_proc_t **d = a;
  mt_proc_opts_t o = { .daemon = true };
  return (void *)(intptr_t)mt_proc_start(d, wait_for_word, (void *)(intptr_t)gofd[0], &o);
}
static void daemon_child_outlives_its_thread(void **s) {
  assert_int_equal(pipe(gofd), 0);
  mt_proc_t *d = NULL;
  mt_thread_t *t;
  assert_int_equal(mt_thread_start(&t, start_daemon_then_end, &d, NULL), 0);
  void *r;
  assert_int_equal(mt_thread_join(t, MT_FOREVER, &r), 0);   /* the starting thread has ended */
  mt_thread_free(t);
  assert_int_equal((intptr_t)r, 0);
  assert_int_equal(write(gofd[1], "\x07", 1), 1);          /* only now may the child finish */
  assert_int_equal(mt_proc_join(d, 10), 0);
  assert_int_equal(mt_proc_exitcode(d), 7);                 /* not -SIGKILL */
  mt_proc_free(d);
  close(gofd[0]);
  close(gofd[1]);
}

static void no_zombies_after_thousands_of_starts(void **s) {
  enum { N = 2000 };
  static pid_t pids[N];
  for (int i = 0; i < N; i++) {
    mt_proc_t *p;
    assert_int_equal(mt_proc_start(&p, ret_arg, (void *)(intptr_t)(i & 0x7f), NULL), 0);
    pids[i] = mt_proc_pid(p);
    if (i % 3 == 0) {
      assert_int_equal(mt_proc_join(p, 10), 0);
      assert_int_equal(mt_proc_exitcode(p), i & 0x7f);
    }
    mt_proc_free(p);                       /* two thirds never joined */
  }
  char path[64];
  for (int i = 0; i < N; i++) {
    snprintf(path, sizeof path, "/proc/%d", (int)pids[i]);
    tu_eventually(access(path, F_OK) != 0, 10);        /* reaped: not even a zombie */
  }
  /* and none is left for us to reap: they were reaped, not orphaned */
  assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
  assert_int_equal(errno, ECHILD);
}

static void daemon_body(void *a) {
  int r = mt_daemonize(a);
  if (r != 0) _exit(r == MT_EBUSY ? 42 : 43);   /* the original process, refused */
  for (int i = 0; i < 200; i++) mt_sleep(0.05);  /* the daemon: until killed (10 s at most) */
  _exit(0);
}

static void daemonize_with_pidfile(void **s) {
  char pidfile[128], lockfile[160], link[256];
  snprintf(pidfile, sizeof pidfile, "/tmp/mt-test-%d.pid", (int)getpid());
  snprintf(lockfile, sizeof lockfile, "%s.lock", pidfile);
  int st = tu_run_child(daemon_body, pidfile, NULL, 0);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);  /* returned only once ready */
  FILE *f = fopen(pidfile, "r");
  assert_non_null(f);
  int d = 0;
  assert_int_equal(fscanf(f, "%d", &d), 1);
  fclose(f);
  assert_true(d > 0 && !gone(d));
  assert_int_not_equal(getsid(d), getsid(0));          /* its own session */
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/cwd", d);
  ssize_t n = readlink(path, link, sizeof link - 1);
  assert_true(n > 0);
  link[n] = 0;
  assert_string_equal(link, "/");
  snprintf(path, sizeof path, "/proc/%d/fd/1", d);
  n = readlink(path, link, sizeof link - 1);
  assert_true(n > 0);
  link[n] = 0;
  assert_string_equal(link, "/dev/null");
  /* a second instance is refused while the first lives */
  st = tu_run_child(daemon_body, pidfile, NULL, 0);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 42);
  kill(d, SIGTERM);
  tu_eventually(gone(d), 10);
  unlink(pidfile);
  unlink(lockfile);
}

static void bad_arguments(void **s) {
  mt_proc_t *p = (mt_proc_t *)1;
  assert_int_equal(mt_proc_start(&p, NULL, NULL, NULL), MT_EINVAL);
  assert_null(p);
  assert_int_equal(mt_proc_start(NULL, ret_arg, NULL, NULL), MT_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(exit_codes_and_signals),
    cmocka_unit_test(join_timeout_terminate_kill),
    cmocka_unit_test(name_and_nice),
    cmocka_unit_test(daemon_children_die_with_parent),
    cmocka_unit_test(daemon_child_outlives_its_thread),
    cmocka_unit_test(no_zombies_after_thousands_of_starts),
    cmocka_unit_test(daemonize_with_pidfile),
    cmocka_unit_test(bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
