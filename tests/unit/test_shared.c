/* test_shared.c — MT_SHARED primitives between processes: mutual exclusion,
 * a robust lock surviving a holder that exits or is killed mid-critical
 * section, timeouts, Semaphore/Event/Condition/Barrier across fork, and
 * waiters killed mid-wait blocking nobody. */
#include <sys/mman.h>

#include "testutil.h"

typedef struct {
  mt_lock_t l;
  mt_rlock_t r;
  mt_cond_t c;
  mt_sem_t s;
  mt_event_t e;
  mt_barrier_t b;
  long n;
  int flag;
} shm_t;

static shm_t *shm_new(void) {
  shm_t *m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(m != MAP_FAILED);
  memset(m, 0, sizeof *m);
  assert_int_equal(mt_lock_init(&m->l, MT_SHARED), 0);
  assert_int_equal(mt_rlock_init(&m->r, MT_SHARED), 0);
  assert_int_equal(mt_cond_init(&m->c, &m->l), 0);
  assert_int_equal(mt_sem_init(&m->s, 0, 0, MT_SHARED), 0);
  assert_int_equal(mt_event_init(&m->e, MT_SHARED), 0);
  assert_int_equal(mt_barrier_init(&m->b, 3, MT_SHARED), 0);
  return m;
}

static void shm_free(shm_t *m) {
  mt_barrier_destroy(&m->b);
  mt_event_destroy(&m->e);
  mt_sem_destroy(&m->s);
  mt_cond_destroy(&m->c);
  mt_rlock_destroy(&m->r);
  mt_lock_destroy(&m->l);
  munmap(m, sizeof *m);
}

static int wait_child(pid_t pid) {
  int st;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void add_many(shm_t *m) {
  for (int i = 0; i < 50000; i++) {
    mt_lock_acquire(&m->l, MT_FOREVER);
    m->n++;
    mt_lock_release(&m->l);
  }
}

static void mutual_exclusion_between_processes(void **s) {
  shm_t *m = shm_new();
  pid_t pid = fork();
  if (pid == 0) { add_many(m); _exit(0); }
  add_many(m);
  assert_int_equal(wait_child(pid), 0);
  assert_int_equal(m->n, 100000);
  shm_free(m);
}

static void lock_survives_holder_that_exits(void **s) {
  shm_t *m = shm_new();
  pid_t pid = fork();
  if (pid == 0) {
    mt_lock_acquire(&m->l, MT_FOREVER);
    m->n = 42;
    _exit(0);                          /* dies holding the lock */
  }
  assert_int_equal(wait_child(pid), 0);
  assert_int_equal(mt_lock_acquire(&m->l, 1), MT_EOWNERDEAD);
  assert_int_equal(m->n, 42);
  mt_lock_release(&m->l);
  assert_int_equal(mt_lock_acquire(&m->l, 1), 0);   /* consistent again */
  mt_lock_release(&m->l);
  shm_free(m);
}

static void lock_survives_holder_killed_mid_section(void **s) {
  shm_t *m = shm_new();
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  if (pid == 0) {
    mt_lock_acquire(&m->l, MT_FOREVER);
    m->n = 1;                          /* half-way through an update */
    ssize_t w = write(p[1], "x", 1);
    (void)w;
    for (;;) pause();
  }
  char c;
  assert_int_equal(read(p[0], &c, 1), 1);
  assert_int_equal(mt_lock_acquire(&m->l, 0.05), MT_ETIMEDOUT);   /* held elsewhere */
  assert_true(mt_lock_locked(&m->l));
  kill(pid, SIGKILL);
  assert_int_equal(wait_child(pid), 128 + SIGKILL);
  assert_int_equal(mt_lock_acquire(&m->l, 5), MT_EOWNERDEAD);
  m->n = 0;                            /* repair */
  mt_lock_release(&m->l);
  assert_false(mt_lock_locked(&m->l));
  close(p[0]);
  close(p[1]);
  shm_free(m);
}

static void rlock_is_reentrant_and_shared(void **s) {
  shm_t *m = shm_new();
  assert_int_equal(mt_rlock_acquire(&m->r, 0), 0);
  assert_int_equal(mt_rlock_acquire(&m->r, 0), 0);
  pid_t pid = fork();
  if (pid == 0) _exit(mt_rlock_acquire(&m->r, 0.05) == MT_ETIMEDOUT ? 0 : 1);
  assert_int_equal(wait_child(pid), 0);
  mt_rlock_release(&m->r);
  mt_rlock_release(&m->r);
  pid = fork();
  if (pid == 0) _exit(mt_rlock_acquire(&m->r, 1) == 0 ? 0 : 1);
  assert_int_equal(wait_child(pid), 0);
  shm_free(m);
}

static void sem_event_cond_across_fork(void **s) {
  shm_t *m = shm_new();
  pid_t pid = fork();
  if (pid == 0) {
    int ok = mt_sem_acquire(&m->s, 10) == 0;                  /* parent releases */
    ok = ok && mt_event_wait(&m->e, 10) == 0;                 /* parent sets */
    mt_lock_acquire(&m->l, MT_FOREVER);
    while (ok && !m->flag) ok = mt_cond_wait(&m->c, 10) == 0; /* parent notifies */
    mt_lock_release(&m->l);
    _exit(ok ? 0 : 1);
  }
  mt_sleep(0.02);
  assert_int_equal(mt_sem_release(&m->s), 0);
  mt_sleep(0.02);
  mt_event_set(&m->e);
  mt_sleep(0.02);
  mt_lock_acquire(&m->l, MT_FOREVER);
  m->flag = 1;
  mt_cond_notify_all(&m->c);
  mt_lock_release(&m->l);
  assert_int_equal(wait_child(pid), 0);
  assert_int_equal(mt_sem_acquire(&m->s, 0), MT_ETIMEDOUT);
  mt_lock_acquire(&m->l, MT_FOREVER);
  assert_int_equal(mt_cond_wait(&m->c, 0.01), MT_ETIMEDOUT);
  mt_lock_release(&m->l);
  shm_free(m);
}

/* Waits until the condition has `n` waiters parked: each waiter counts
 * itself in m->n under the lock before it waits, and the wait releases the
 * lock only once the waiter is queued, so holding the lock and seeing n
 * means they are all inside the wait. */
static void until_parked(shm_t *m, long n) {
  for (;;) {
    mt_lock_acquire(&m->l, MT_FOREVER);
    long k = m->n;
    mt_lock_release(&m->l);
    if (k >= n) return;
    mt_sleep(0.001);
  }
}

static _Noreturn void cond_waiter(shm_t *m, double timeout) {
  mt_lock_acquire(&m->l, MT_FOREVER);
  m->n++;
  long seen = m->flag;
  int r = 0;
  while (m->flag == seen && r == 0) r = mt_cond_wait(&m->c, timeout);
  mt_lock_release(&m->l);
  _exit(r == 0 ? 0 : 1);
}

/* A waiter killed while it waits (kill -9, the OOM killer) must not stop
 * the others: notify and wait go on working for every process after it,
 * for a Condition and for the Event built on one. glibc's process-shared
 * pthread condition does not survive that — a later signal can wait
 * forever for the dead waiter — so the check runs in a child with a
 * watchdog alarm. */
static void killed_waiters_block_nobody(void **s) {
  shm_t *m = shm_new();
  pid_t dead[3];
  for (int i = 0; i < 3; i++) {
    dead[i] = fork();
    if (dead[i] == 0) cond_waiter(m, MT_FOREVER);
  }
  until_parked(m, 3);
  pid_t ev = fork();
  if (ev == 0) _exit(mt_event_wait(&m->e, MT_FOREVER));
  for (;;) {                                   /* the event waiter is parked */
    mt_lock_acquire(&m->e.lock, MT_FOREVER);
    unsigned w = m->e.waiters;
    mt_lock_release(&m->e.lock);
    if (w) break;
    mt_sleep(0.001);
  }
  for (int i = 0; i < 3; i++) kill(dead[i], SIGKILL);
  kill(ev, SIGKILL);
  for (int i = 0; i < 3; i++) assert_int_equal(wait_child(dead[i]), 128 + SIGKILL);
  assert_int_equal(wait_child(ev), 128 + SIGKILL);
  pid_t check = fork();
  if (check == 0) {
    alarm(10);                                 /* a hang ends as SIGALRM */
    for (int round = 0; round < 20; round++) { /* notify/wait cycles: group switches and all */
      mt_lock_acquire(&m->l, MT_FOREVER);
      m->n = 0;
      mt_lock_release(&m->l);
      pid_t w = fork();
      if (w == 0) cond_waiter(m, 10);
      until_parked(m, 1);
      mt_lock_acquire(&m->l, MT_FOREVER);
      m->flag++;
      if (round % 2) mt_cond_notify(&m->c, 1);
      else mt_cond_notify_all(&m->c);
      mt_lock_release(&m->l);
      if (wait_child(w) != 0) _exit(2);
      pid_t e = fork();
      if (e == 0) _exit(mt_event_wait(&m->e, 10) == 0 ? 0 : 1);
      mt_event_set(&m->e);
      if (wait_child(e) != 0) _exit(3);
      mt_event_clear(&m->e);
    }
    _exit(0);
  }
  assert_int_equal(wait_child(check), 0);
  shm_free(m);
}

static void barrier_across_processes(void **s) {
  shm_t *m = shm_new();
  pid_t a = fork();
  if (a == 0) _exit(mt_barrier_wait(&m->b, 10));
  pid_t b = fork();
  if (b == 0) _exit(mt_barrier_wait(&m->b, 10));
  int mine = mt_barrier_wait(&m->b, 10);
  int ia = wait_child(a), ib = wait_child(b);
  assert_true(mine >= 0 && mine < 3 && ia < 3 && ib < 3);
  assert_int_equal(mine + ia + ib, 0 + 1 + 2);
  shm_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(mutual_exclusion_between_processes),
    cmocka_unit_test(lock_survives_holder_that_exits),
    cmocka_unit_test(lock_survives_holder_killed_mid_section),
    cmocka_unit_test(rlock_is_reentrant_and_shared),
    cmocka_unit_test(sem_event_cond_across_fork),
    cmocka_unit_test(killed_waiters_block_nobody),
    cmocka_unit_test(barrier_across_processes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
