/* test_lockdep.c — the MT_CHECK_LOCKS deadlock detector. Each scenario runs
 * in a fresh copy of this program (so the environment variable is read at
 * start-up, as for users) and the test reads what it printed on stderr. */
#include <spawn.h>

#include "testutil.h"

extern char **environ;

static mt_lock_t A, B;
static mt_rlock_t R;

void *take_ab(void *a);
void *take_ba(void *a);
void *take_ab(void *a) {
  (void)a;
  mt_lock_acquire(&A, MT_FOREVER);
  mt_lock_acquire(&B, MT_FOREVER);
  mt_lock_release(&B);
  mt_lock_release(&A);
  return NULL;
}
void *take_ba(void *a) {
  (void)a;
  mt_lock_acquire(&B, MT_FOREVER);
  mt_lock_acquire(&A, MT_FOREVER);
  mt_lock_release(&A);
  mt_lock_release(&B);
  return NULL;
}
static void *take_r_then_a(void *a) {
  MT_WITH(&R) MT_WITH(&R) MT_WITH(&A) {}
  return NULL;
}
static void *take_a_then_r(void *a) {
  MT_WITH(&A) MT_WITH(&R) {}
  return NULL;
}

static void run(const char *name, void *(*fn)(void *)) {
  mt_thread_t *t;
  mt_thread_opts_t o = { .name = name };
  mt_thread_start(&t, fn, NULL, &o);
  mt_thread_join(t, MT_FOREVER, NULL);
  mt_thread_free(t);
}

static int child(const char *scenario) {
  mt_lock_init(&A, 0);
  mt_lock_init(&B, 0);
  mt_rlock_init(&R, 0);
  mt_lock_set_name(&A, "lock-A");
  mt_lock_set_name(&B, "lock-B");
  mt_rlock_set_name(&R, "rlock-R");
  if (!strcmp(scenario, "inversion")) {
    run("alpha", take_ab);
    run("beta", take_ba);
    run("gamma", take_ba);        /* the same pair again: reported once only */
  } else if (!strcmp(scenario, "consistent")) {
    run("alpha", take_ab);
    run("beta", take_ab);
  } else if (!strcmp(scenario, "rlock")) {
    run("alpha", take_r_then_a);
    run("beta", take_a_then_r);
  } else if (!strcmp(scenario, "forgotten")) {
    run("alpha", take_ab);
    mt_lock_destroy(&A);          /* a new lock at the same address */
    mt_lock_destroy(&B);
    mt_lock_init(&A, 0);
    mt_lock_init(&B, 0);
    run("beta", take_ba);
  }
  return 0;
}

static char self_path[4096];

/* Runs this program's scenario with MT_CHECK_LOCKS set to `env` (NULL:
 * unset) and returns what it wrote to stderr. */
static char *spawn_scenario(const char *scenario, const char *env) {
  static char out[8192];
  int p[2];
  assert_int_equal(pipe(p), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 2);
  posix_spawn_file_actions_addclose(&fa, p[0]);
  char *envp[256];
  int n = 0;
  for (char **e = environ; *e && n < 250; e++)
    if (strncmp(*e, "MT_CHECK_LOCKS=", 15) != 0) envp[n++] = *e;
  char kv[64];
  if (env) {
    snprintf(kv, sizeof kv, "MT_CHECK_LOCKS=%s", env);
    envp[n++] = kv;
  }
  envp[n] = NULL;
  char *argv[] = { self_path, (char *)"child", (char *)scenario, NULL };
  pid_t pid;
  assert_int_equal(posix_spawn(&pid, self_path, &fa, NULL, argv, envp), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  size_t len = 0;
  ssize_t r;
  while ((r = read(p[0], out + len, sizeof out - 1 - len)) > 0) len += (size_t)r;
  out[len] = 0;
  close(p[0]);
  int st;
  waitpid(pid, &st, 0);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  return out;
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
  return n;
}

static void reports_ab_ba_inversion_once(void **s) {
  char *err = spawn_scenario("inversion", "1");
  assert_int_equal(count(err, "lock order inversion"), 1);
  assert_non_null(strstr(err, "\"lock-A\""));
  assert_non_null(strstr(err, "\"lock-B\""));
  assert_non_null(strstr(err, "thread \"beta\""));
  assert_non_null(strstr(err, "thread \"alpha\""));
  assert_non_null(strstr(err, "take_ab"));     /* both acquisition sites named */
  assert_non_null(strstr(err, "take_ba"));
}

static void silent_for_a_consistent_order(void **s) {
  assert_string_equal(spawn_scenario("consistent", "1"), "");
}

static void silent_when_not_enabled(void **s) {
  assert_string_equal(spawn_scenario("inversion", NULL), "");
  assert_string_equal(spawn_scenario("inversion", "0"), "");
}

static void rlocks_are_checked_too(void **s) {
  char *err = spawn_scenario("rlock", "1");
  assert_int_equal(count(err, "lock order inversion"), 1);
  assert_non_null(strstr(err, "\"rlock-R\""));
}

static void destroyed_locks_are_forgotten(void **s) {
  assert_string_equal(spawn_scenario("forgotten", "1"), "");
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "child")) return child(argv[2]);
  ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
  if (n <= 0) return 1;
  self_path[n] = 0;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(reports_ab_ba_inversion_once),
    cmocka_unit_test(silent_for_a_consistent_order),
    cmocka_unit_test(silent_when_not_enabled),
    cmocka_unit_test(rlocks_are_checked_too),
    cmocka_unit_test(destroyed_locks_are_forgotten),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
