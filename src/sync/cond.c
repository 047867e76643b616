/* cond.c — Condition (Python's threading.Condition).
 *
 * Private: waiters enqueue on the condition's own wait queue *before*
 * releasing the user's lock, so a notify issued after that release always
 * finds them; notify pops waiters in FIFO order. The lock is re-acquired
 * before returning in every case, timeouts and cancellation included.
 *
 * MT_SHARED (when the bound lock is shared): a process-shared pthread
 * condition on CLOCK_MONOTONIC over the lock's robust mutex.
 *
 * The lock is found through an offset from the condition, so a condition and
 * its lock in one shared mapping work at any address the mapping gets.
 */
#include <errno.h>
#include <string.h>

#include "core/park.h"
#include "sync/sync_internal.h"

static inline mt_lock_t *cond_lock(mt_cond_t *c) { return (mt_lock_t *)((char *)c + c->lock_off); }

MT_API int mt_cond_init(mt_cond_t *c, mt_lock_t *lock) {
  memset(c, 0, sizeof *c);
  if (!lock) {
    mt_lock_init(&c->own, 0);
    lock = &c->own;
  }
  c->lock_off = (intptr_t)((char *)lock - (char *)c);
  c->flags = lock->flags & MT_SHARED;
  if (!(c->flags & MT_SHARED)) return 0;
  pthread_condattr_t a;
  int e = pthread_condattr_init(&a);
  if (e) return -e;
  pthread_condattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  e = pthread_cond_init(&c->u.c, &a);
  pthread_condattr_destroy(&a);
  return -e;
}

MT_API mt_lock_t *mt_cond_lock(mt_cond_t *c) { return cond_lock(c); }
MT_API int mt_cond_acquire(mt_cond_t *c, double timeout) {
  return mt__lock_acquire_until(cond_lock(c), mt__deadline(timeout), __builtin_return_address(0));
}
MT_API int mt_cond_release(mt_cond_t *c) { return mt_lock_release(cond_lock(c)); }

static int shared_wait(mt_cond_t *c, mt_lock_t *l, int64_t deadline) {
  int e;
  if (deadline == MT__NEVER) {
    e = pthread_cond_wait(&c->u.c, &l->u.m);
  } else {
    struct timespec ts = mt__ts(deadline);
    e = pthread_cond_timedwait(&c->u.c, &l->u.m, &ts);   /* the condition's clock: monotonic */
  }
  if (e == EOWNERDEAD) {
    pthread_mutex_consistent(&l->u.m);
    return MT_EOWNERDEAD;
  }
  return e == ETIMEDOUT ? MT_ETIMEDOUT : -e;
}

int mt__cond_wait_until(mt_cond_t *c, int64_t deadline) {
  mt_lock_t *l = cond_lock(c);
  if (c->flags & MT_SHARED) return shared_wait(c, l, deadline);
  MT__WAITER(w);
  mt__ilock(&c->u.wq.lk);
  mt__wq_push(&c->u.wq, w);
  mt__iunlock(&c->u.wq.lk);
  mt_lock_release(l);
  int r = mt__park(w, deadline);
  if (r != 0) {
    mt__ilock(&c->u.wq.lk);
    if (w->queued) mt__wq_remove(&c->u.wq, w);
    else r = 0;                /* notified while timing out: count it */
    mt__iunlock(&c->u.wq.lk);
  }
  mt__lock_enter(l);
  return r;
}

int mt__cond_wait_round(mt_cond_t *c, unsigned *waiters, int64_t deadline) {
  if (deadline != MT__NEVER && mt__now_ns() >= deadline) return MT_ETIMEDOUT;
  (*waiters)++;
  int r = mt__cond_wait_until(c, deadline);
  (*waiters)--;
  return r == MT_ECANCELED ? r : 0;
}

MT_API int mt_cond_wait(mt_cond_t *c, double timeout) {
  return mt__cond_wait_until(c, mt__deadline(timeout));
}

MT_API int mt_cond_wait_for(mt_cond_t *c, bool (*pred)(void *arg), void *arg, double timeout) {
  int64_t deadline = mt__deadline(timeout);
  while (!pred(arg)) {
    if (deadline != MT__NEVER && mt__now_ns() >= deadline) return MT_ETIMEDOUT;
    int r = mt__cond_wait_until(c, deadline);
    if (r == MT_ECANCELED) return r;
  }
  return 0;
}

int mt__cond_wake(mt_cond_t *c, int n) {
  if (n == 0) return 0;
  if (c->flags & MT_SHARED) {
    if (n < 0) pthread_cond_broadcast(&c->u.c);
    else for (int i = 0; i < n; i++) pthread_cond_signal(&c->u.c);
    return 0;
  }
  return mt__wq_wake(&c->u.wq, n < 0 ? -1 : n, 0);
}

/* Python raises RuntimeError for a notify without the lock; here it is the
 * same misuse as releasing a lock one does not hold: the always-on assert.
 * (As Python can for a plain Lock, it checks that the lock is held, not by
 * whom.) */
#define NEED_LOCK(c, fn) \
  MT_ASSERT(mt_lock_locked(cond_lock(c)), fn ": the condition's lock is not held")

MT_API int mt_cond_notify(mt_cond_t *c, int n) {
  NEED_LOCK(c, "mt_cond_notify");
  return mt__cond_wake(c, n);
}

MT_API int mt_cond_notify_all(mt_cond_t *c) {
  NEED_LOCK(c, "mt_cond_notify_all");
  return mt__cond_wake(c, -1);
}

MT_API void mt_cond_destroy(mt_cond_t *c) {
  if (c->flags & MT_SHARED) pthread_cond_destroy(&c->u.c);
  if (c->lock_off == (intptr_t)offsetof(mt_cond_t, own)) mt_lock_destroy(&c->own);
}
