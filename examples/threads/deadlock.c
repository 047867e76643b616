/* deadlock.c — a deadlock between two locks, found before it happens, and
 * its two fixes.
 *
 * 1. Thread "ab" takes A then B; later thread "ba" takes B then A. Run at
 *    the same moment, each could hold one lock and wait forever for the
 *    other (the notes' two diners and two forks). Here they run one after
 *    the other, so the program does not hang — and MT_CHECK_LOCKS=1 (set
 *    for this example's test) still reports the AB/BA inversion on stderr.
 * 2. Fix by lock ordering: every thread takes A before B.
 * 3. The notes' other deadlock: taking a plain Lock twice in one thread
 *    blocks forever (shown with a timeout); an RLock may be re-taken by its
 *    owner — the recursive lock.
 * Python: threading.Lock, threading.RLock. */
#include <stdio.h>

#include "mt.h"

static mt_lock_t a, b;

static void *ab(void *arg) {
  MT_WITH(&a) MT_WITH(&b) printf("thread ab: holds A and B\n");
  return arg;
}

static void *ba(void *arg) {
  MT_WITH(&b) MT_WITH(&a) printf("thread ba: holds B and A\n");
  return arg;
}

static void run(void *(*fn)(void *), const char *name) {
  mt_thread_t *t;
  if (mt_thread_start(&t, fn, NULL, &(mt_thread_opts_t){ .name = name })) return;
  mt_thread_join(t, MT_FOREVER, NULL);
  mt_thread_free(t);
  fflush(stdout);
}

int main(void) {
  mt_lock_init(&a, 0);
  mt_lock_init(&b, 0);
  mt_lock_set_name(&a, "A");
  mt_lock_set_name(&b, "B");
  printf("1. opposite orders (MT_CHECK_LOCKS reports them):\n");
  fflush(stdout);
  run(ab, "ab");
  run(ba, "ba");
  printf("2. one order for everyone (A before B):\n");
  run(ab, "ab");
  run(ab, "ab-again");

  printf("3. taking a Lock twice in one thread:\n");
  mt_lock_acquire(&a, MT_FOREVER);
  int r = mt_lock_acquire(&a, 0.1);           /* would block forever without the timeout */
  printf("   second acquire of a Lock: %s\n", mt_strerror(r));
  mt_lock_release(&a);
  mt_rlock_t rl;
  mt_rlock_init(&rl, 0);
  MT_WITH(&rl) MT_WITH(&rl) printf("   RLock taken twice by its owner: fine\n");
  mt_rlock_destroy(&rl);
  mt_lock_destroy(&a);
  mt_lock_destroy(&b);
  return r == MT_ETIMEDOUT ? 0 : 1;
}
// env: MT_CHECK_LOCKS=1
// expect: ^1\. opposite orders
// expect: ^thread ab: holds A and B$
// expect: lock order inversion \(possible deadlock\)
// expect: thread "ba" takes lock "A"
// expect: ^thread ba: holds B and A$
// expect: ^2\. one order for everyone
// expect: ^3\. taking a Lock twice
// expect: ^   second acquire of a Lock: timed out$
// expect: ^   RLock taken twice by its owner: fine$
