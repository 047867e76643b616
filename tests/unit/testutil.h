/* testutil.h — helpers shared by the unit tests: cmocka includes, running a
 * function in a child process (for aborts and exit-time behaviour), and a
 * counting allocator that fails the Nth allocation. */
#ifndef MT_TESTUTIL_H
#define MT_TESTUTIL_H

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "mt.h"
#include "core/park.h"

/* Runs fn() in a forked child with stderr captured into `err` (if not NULL)
 * and returns the raw wait status. The child exits 0 when fn returns. */
static inline int tu_run_child(void (*fn)(void *), void *arg, char *err, size_t errlen) {
  int p[2];
  if (pipe(p) != 0) return -1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    dup2(p[1], 2);
    close(p[1]);            /* or a daemon started by fn would hold the pipe open */
    fn(arg);
    exit(0);
  }
  close(p[1]);
  size_t n = 0;
  ssize_t r;
  char sink[256];
  while ((r = read(p[0], err && n < errlen - 1 ? err + n : sink,
                   err && n < errlen - 1 ? errlen - 1 - n : sizeof sink)) > 0)
    if (err && n < errlen - 1) n += (size_t)r;
  if (err) err[n] = 0;
  close(p[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return st;
}

#define assert_aborts(fn, arg, needle)                                       \
  do {                                                                       \
    char tu_err_[2048];                                                      \
    int tu_st_ = tu_run_child((fn), (arg), tu_err_, sizeof tu_err_);         \
    assert_true(WIFSIGNALED(tu_st_));                                        \
    assert_int_equal(WTERMSIG(tu_st_), SIGABRT);                             \
    assert_non_null(strstr(tu_err_, (needle)));                              \
  } while (0)

/* ---- failing allocator: allocation number `tu_fail_at` (0-based) fails --- */
static long tu_fail_at = -1, tu_nalloc, tu_live;
static void *tu_malloc(size_t n) {
  long k = __atomic_fetch_add(&tu_nalloc, 1, __ATOMIC_RELAXED);
  if (k == tu_fail_at) return NULL;
  void *p = malloc(n);
  if (p) __atomic_fetch_add(&tu_live, 1, __ATOMIC_RELAXED);
  return p;
}
static void *tu_calloc(size_t n, size_t s) {
  long k = __atomic_fetch_add(&tu_nalloc, 1, __ATOMIC_RELAXED);
  if (k == tu_fail_at) return NULL;
  void *p = calloc(n, s);
  if (p) __atomic_fetch_add(&tu_live, 1, __ATOMIC_RELAXED);
  return p;
}
static void *tu_realloc(void *o, size_t n) {
  long k = __atomic_fetch_add(&tu_nalloc, 1, __ATOMIC_RELAXED);
  if (k == tu_fail_at) return NULL;
  void *p = realloc(o, n);
  if (p && !o) __atomic_fetch_add(&tu_live, 1, __ATOMIC_RELAXED);
  return p;
}
static void tu_free(void *p) {
  if (p) __atomic_fetch_sub(&tu_live, 1, __ATOMIC_RELAXED);
  free(p);
}
static inline void tu_alloc_install(long fail_at) {
  tu_fail_at = fail_at;
  tu_nalloc = 0;
  tu_live = 0;
  mt_set_allocator(tu_malloc, tu_realloc, tu_calloc, tu_free);
}
static inline void tu_alloc_restore(void) { mt_set_allocator(NULL, NULL, NULL, NULL); }

/* Starts n threads running fn(arg) into t[0..n), failing the test if one
 * cannot start; tu_join_n joins and frees them. */
static inline void tu_start_n(mt_thread_t **t, int n, void *(*fn)(void *), void *arg) {
  for (int i = 0; i < n; i++) assert_int_equal(mt_thread_start(&t[i], fn, arg, NULL), 0);
}
static inline void tu_join_n(mt_thread_t **t, int n) {
  for (int i = 0; i < n; i++) {
    assert_int_equal(mt_thread_join(t[i], MT_FOREVER, NULL), 0);
    mt_thread_free(t[i]);
  }
}

/* Busy-wait helper with a hard limit, for "eventually" assertions. */
#define tu_eventually(cond, secs)                                        \
  do {                                                                   \
    double tu_d_ = mt_now() + (secs);                                    \
    while (!(cond) && mt_now() < tu_d_) mt_sleep(0.001);                 \
    assert_true(cond);                                                   \
  } while (0)

/* How many waiters sit in a libmt wait queue (a lock's, a condition's):
 * queued there means parked or about to park, and a wake must reach them. */
static inline unsigned tu_wq_len(mt__wq_t *wq) {
  unsigned n = 0;
  mt__ilock(&wq->lk);
  for (mt__waiter_t *w = wq->head; w; w = w->next) n++;
  mt__iunlock(&wq->lk);
  return n;
}

/* The value of a counter a primitive keeps under its lock (a waiter count),
 * read under that lock: a test waits on it instead of sleeping and hoping. */
static inline unsigned tu_locked_count(mt_lock_t *l, const unsigned *count) {
  mt_lock_acquire(l, MT_FOREVER);
  unsigned n = *count;
  mt_lock_release(l);
  return n;
}
/* Waits until `n` callers are parked on the condition-based primitive whose
 * lock is `l` and whose waiter counter is `count`. */
#define tu_wait_parked(l, count, n) tu_eventually(tu_locked_count((l), (count)) >= (unsigned)(n), 10)

#endif
