/* cond.c — Condition (Python's threading.Condition).
 *
 * Private: waiters enqueue on the condition's own wait queue *before*
 * releasing the user's lock, so a notify issued after that release always
 * finds them; notify pops waiters in FIFO order. The lock is re-acquired
 * before returning in every case, timeouts and cancellation included.
 *
 * MT_SHARED (when the bound lock is shared): a sequence word in the shared
 * mapping. A waiter reads it while it holds the lock, releases the lock and
 * sleeps on the word with a shared futex; notify (under the lock) bumps it
 * and wakes n sleepers. Nothing records who waits, so a waiter killed in its
 * wait (kill -9, the OOM killer) leaves nothing behind to block the others —
 * glibc's process-shared pthread condition does, and a later signal could
 * wait for the dead waiter forever. As POSIX allows, a notify may also end
 * the wait of a waiter that was on its way to sleep; every libmt caller
 * re-checks its predicate.
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
  return 0;
}

MT_API mt_lock_t *mt_cond_lock(mt_cond_t *c) { return cond_lock(c); }
MT_API int mt_cond_acquire(mt_cond_t *c, double timeout) {
  return mt__lock_acquire_until(cond_lock(c), mt__deadline(timeout), __builtin_return_address(0));
}
MT_API int mt_cond_release(mt_cond_t *c) { return mt_lock_release(cond_lock(c)); }

static int shared_wait(mt_cond_t *c, mt_lock_t *l, int64_t deadline) {
  uint32_t seq = __atomic_load_n(&c->u.seq, __ATOMIC_ACQUIRE);   /* under the lock */
  mt_lock_release(l);
  int r = 0;
  while (__atomic_load_n(&c->u.seq, __ATOMIC_ACQUIRE) == seq && r == 0)
    r = mt__futex_wait(&c->u.seq, seq, deadline, true);
  if (r == MT_ETIMEDOUT && __atomic_load_n(&c->u.seq, __ATOMIC_ACQUIRE) != seq) r = 0;   /* notified meanwhile */
  int lr;
  do lr = mt__lock_acquire_until(l, MT__NEVER, NULL);
  while (lr != 0 && lr != MT_EOWNERDEAD);
  return lr == MT_EOWNERDEAD ? lr : r;
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
    __atomic_add_fetch(&c->u.seq, 1, __ATOMIC_RELEASE);
    mt__futex_wake(&c->u.seq, n < 0 ? INT32_MAX : n, true);
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
  if (c->lock_off == (intptr_t)offsetof(mt_cond_t, own)) mt_lock_destroy(&c->own);
}
