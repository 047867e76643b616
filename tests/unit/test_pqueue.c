/* test_pqueue.c — the cross-process queue: FIFO messages of any length,
 * bounds by count and bytes, timeouts, task_done/join and close across
 * processes, 4 producer and 4 consumer processes moving 1M messages with
 * none lost or doubled, a named queue opened by an unrelated process, and a
 * process killed while holding the queue's lock. */
#include <signal.h>
#include <sys/mman.h>

#include "testutil.h"

void mt__pqueue_hold_lock(mt_pqueue_t *q);
void mt__pqueue_hold_mid_put(mt_pqueue_t *q);

#if defined(__SANITIZE_ADDRESS__) || defined(MT_TSAN)
#define PER 25000
#else
#define PER 250000
#endif

static void basics(void **s) {
  mt_pqueue_t *q = mt_pqueue_new(3, 1024);
  assert_non_null(q);
  assert_int_equal(mt_pqueue_put(q, "", 0, 0), 0);
  assert_int_equal(mt_pqueue_put(q, "hello", 5, 0), 0);
  assert_int_equal(mt_pqueue_put(q, "world!", 6, 0), 0);
  assert_int_equal(mt_pqueue_put(q, "x", 1, 0), MT_EFULL);          /* count bound */
  double t0 = mt_now();
  assert_int_equal(mt_pqueue_put(q, "x", 1, 0.05), MT_EFULL);
  assert_true(mt_now() - t0 >= 0.05);
  assert_int_equal(mt_pqueue_size(q), 3);
  void *m;
  size_t n;
  assert_int_equal(mt_pqueue_get(q, &m, &n, 0), 0);
  assert_null(m);
  assert_int_equal(n, 0);
  assert_int_equal(mt_pqueue_get(q, &m, &n, 0), 0);
  assert_int_equal(n, 5);
  assert_memory_equal(m, "hello", 5);
  free(m);
  assert_int_equal(mt_pqueue_get(q, &m, &n, 0), 0);
  assert_memory_equal(m, "world!", 6);
  free(m);
  assert_int_equal(mt_pqueue_get(q, &m, &n, 0), MT_EEMPTY);
  assert_int_equal(mt_pqueue_get(q, &m, &n, 0.05), MT_EEMPTY);
  mt_pqueue_free(q);

  q = mt_pqueue_new(0, 100);                                       /* byte bound */
  static char big[200];
  assert_int_equal(mt_pqueue_put(q, big, 93, 0), MT_EMSGSIZE);     /* 8 + 93 > 100: never fits */
  assert_int_equal(mt_pqueue_put(q, big, 40, 0), 0);
  assert_int_equal(mt_pqueue_put(q, big, 40, 0), 0);
  assert_int_equal(mt_pqueue_put(q, big, 10, 0), MT_EFULL);        /* 96 + 18 > 100 */
  for (int i = 0; i < 50; i++) {                                   /* wrap around the ring */
    assert_int_equal(mt_pqueue_get(q, &m, &n, 0), 0);
    assert_int_equal(n, 40);
    free(m);
    assert_int_equal(mt_pqueue_put(q, big, 40, 0), 0);
  }
  mt_pqueue_free(q);
  assert_null(mt_pqueue_new(0, 0));
  assert_int_equal(mt_last_error(), MT_EINVAL);
}

static void join_and_close_across_processes(void **s) {
  mt_pqueue_t *q = mt_pqueue_new(0, 1 << 16);
  for (int i = 0; i < 100; i++) mt_pqueue_put(q, &i, sizeof i, 0);
  assert_int_equal(mt_pqueue_join(q, 0.02), MT_ETIMEDOUT);
  pid_t pid = fork();
  if (pid == 0) {                     /* a worker: consume, mark done, until closed */
    void *m;
    size_t n;
    int r;
    while ((r = mt_pqueue_get(q, &m, &n, 10)) == 0) {
      free(m);
      mt_pqueue_task_done(q);
    }
    _exit(r == MT_ECLOSED ? 0 : 1);
  }
  assert_int_equal(mt_pqueue_join(q, 10), 0);
  assert_int_equal(mt_pqueue_task_done(q), MT_EINVAL);
  mt_pqueue_close(q);
  assert_int_equal(mt_pqueue_put(q, "x", 1, 0), MT_ECLOSED);
  int st;
  waitpid(pid, &st, 0);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  mt_pqueue_free(q);
}

static void four_by_four_processes_lose_nothing(void **s) {
  enum { NP = 4, NC = 4 };
  mt_pqueue_t *q = mt_pqueue_new(1024, 1 << 16);
  unsigned char *seen = mt_shm_alloc(NP * PER);
  long *dups = mt_shm_alloc(sizeof(long) * NC);
  pid_t pids[NP + NC];
  for (int c = 0; c < NC; c++) {
    if ((pids[NP + c] = fork()) == 0) {
      void *m;
      size_t n;
      while (mt_pqueue_get(q, &m, &n, 30) == 0) {
        int v;
        memcpy(&v, m, sizeof v);
        free(m);
        if (__atomic_exchange_n(&seen[v], 1, __ATOMIC_RELAXED)) dups[c]++;
      }
      _exit(0);
    }
  }
  for (int p = 0; p < NP; p++) {
    if ((pids[p] = fork()) == 0) {
      char msg[64] = { 0 };
      for (int i = 0; i < PER; i++) {
        int v = p * PER + i;
        memcpy(msg, &v, sizeof v);
        if (mt_pqueue_put(q, msg, sizeof msg, 30) != 0) _exit(1);
      }
      _exit(0);
    }
  }
  for (int p = 0; p < NP; p++) {
    int st;
    waitpid(pids[p], &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  mt_pqueue_close(q);
  for (int c = 0; c < NC; c++) waitpid(pids[NP + c], NULL, 0);
  for (int c = 0; c < NC; c++) assert_int_equal(dups[c], 0);
  for (int i = 0; i < NP * PER; i++) assert_int_equal(seen[i], 1);
  mt_shm_free(seen, NP * PER);
  mt_shm_free(dups, sizeof(long) * NC);
  mt_pqueue_free(q);
}

static void named_queue_between_unrelated_processes(void **s) {
  char name[64];
  snprintf(name, sizeof name, "/mt-pq-%d", (int)getpid());
  mt_pqueue_t *q = mt_pqueue_open(name, 0, 4096, MT_SHM_CREATE);
  assert_non_null(q);
  pid_t pid = fork();
  if (pid == 0) {
    /* behave like an unrelated process: drop the inherited view first */
    mt_pqueue_free(q);
    mt_pqueue_t *o = mt_pqueue_open(name, 0, 4096, 0);
    if (!o) _exit(1);
    int r = mt_pqueue_put(o, "from afar", 9, 5);
    mt_pqueue_free(o);
    _exit(r ? 2 : 0);
  }
  void *m;
  size_t n;
  assert_int_equal(mt_pqueue_get(q, &m, &n, 10), 0);
  assert_memory_equal(m, "from afar", 9);
  free(m);
  int st;
  waitpid(pid, &st, 0);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  assert_null(mt_pqueue_open(name, 0, 4096, MT_SHM_CREATE | MT_SHM_EXCL));
  assert_int_equal(mt_last_error(), MT_EEXIST);
  mt_pqueue_free(q);
  assert_int_equal(mt_shm_unlink(name), 0);
}

/* Forks a child that runs `stick` on the queue (a test hook that takes a
 * lock and keeps it) and then waits to be killed; returns once it holds. */
static pid_t fork_stuck_in(mt_pqueue_t *q, void (*stick)(mt_pqueue_t *)) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  if (pid == 0) {
    stick(q);
    ssize_t w = write(p[1], "x", 1);
    (void)w;
    for (;;) pause();
  }
  char c;
  assert_int_equal(read(p[0], &c, 1), 1);
  close(p[0]);
  close(p[1]);
  return pid;
}

static void killed_lock_holder_does_not_wedge(void **s) {
  mt_pqueue_t *q = mt_pqueue_new(0, 4096);
  mt_pqueue_put(q, "keep", 4, 0);
  pid_t pid = fork_stuck_in(q, mt__pqueue_hold_lock);
  assert_int_equal(mt_pqueue_put(q, "blocked", 7, 0.05), MT_EFULL);   /* lock held: times out */
  void *m0;
  size_t n0;
  assert_int_equal(mt_pqueue_get(q, &m0, &n0, 0.05), MT_EEMPTY);      /* both sides' locks */
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  assert_int_equal(mt_pqueue_put(q, "after", 5, 1), 0);               /* recovered */
  assert_int_equal(mt_pqueue_size(q), 2);
  void *m;
  size_t n;
  assert_int_equal(mt_pqueue_get(q, &m, &n, 1), 0);
  assert_memory_equal(m, "keep", 4);
  free(m);
  assert_int_equal(mt_pqueue_get(q, &m, &n, 1), 0);
  assert_memory_equal(m, "after", 5);
  free(m);
  mt_pqueue_free(q);
}

/* A producer killed after counting its put and before publishing it: the
 * next producer undoes the count, so join does not wait for a message that
 * never came. */
static void producer_killed_mid_put_does_not_hang_join(void **s) {
  mt_pqueue_t *q = mt_pqueue_new(0, 1 << 12);
  assert_int_equal(mt_pqueue_put(q, "keep", 4, 0), 0);
  pid_t pid = fork_stuck_in(q, mt__pqueue_hold_mid_put);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  void *m0;
  size_t n0;
  assert_int_equal(mt_pqueue_get(q, &m0, &n0, 1), 0);
  free(m0);
  assert_int_equal(mt_pqueue_task_done(q), 0);
  assert_int_equal(mt_pqueue_join(q, 2), 0);     /* no producer came: the joiner repairs */
  assert_int_equal(mt_pqueue_put(q, "keep", 4, 0), 0);
  assert_int_equal(mt_pqueue_put(q, "after", 5, 1), 0);               /* repairs the count */
  for (int i = 0; i < 2; i++) {
    void *m;
    size_t n;
    assert_int_equal(mt_pqueue_get(q, &m, &n, 1), 0);
    free(m);
    assert_int_equal(mt_pqueue_task_done(q), 0);
  }
  assert_int_equal(mt_pqueue_task_done(q), MT_EINVAL);                /* nothing more was put */
  assert_int_equal(mt_pqueue_join(q, 1), 0);
  assert_int_equal(mt_pqueue_size(q), 0);
  mt_pqueue_free(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(basics),
    cmocka_unit_test(join_and_close_across_processes),
    cmocka_unit_test(four_by_four_processes_lose_nothing),
    cmocka_unit_test(named_queue_between_unrelated_processes),
    cmocka_unit_test(killed_lock_holder_does_not_wedge),
    cmocka_unit_test(producer_killed_mid_put_does_not_hang_join),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
