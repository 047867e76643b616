/* lock.c — Lock (Python's threading.Lock), private and process-shared.
 *
 * Private: a three-state word (0 free, 1 held, 2 held and maybe waited on)
 * with a FIFO queue of parked waiters beside it. Acquire is one CAS when
 * free; release is one exchange, and wakes a waiter only when the word was
 * 2. A waiter sets the word to 2 under the queue lock before it enqueues, so
 * a release after that always sees 2 and finds it queued. A woken waiter
 * competes again (barging), and always re-marks the word 2, so a lock taken
 * by a barger still wakes the remaining waiters on release.
 *
 * MT_SHARED: a robust, process-shared pthread mutex; a holder's death is
 * reported to the next acquirer as MT_EOWNERDEAD with the lock held and the
 * mutex already marked consistent. A shared lock must be released by the
 * thread that holds it.
 */
#include <errno.h>
#include <string.h>

#include "core/park.h"
#include "sync/sync_internal.h"

MT_API int mt_lock_init(mt_lock_t *l, int flags) {
  if (flags & ~(MT_SHARED | MT__NOCHECK)) return MT_EINVAL;
  memset(l, 0, sizeof *l);
  l->flags = flags;
  if (!(flags & MT_SHARED)) return 0;
  pthread_mutexattr_t a;
  int e = pthread_mutexattr_init(&a);
  if (e) return -e;
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  e = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
  if (!e) e = pthread_mutex_init(&l->u.m, &a);
  pthread_mutexattr_destroy(&a);
  return -e;
}

static int shared_acquire(mt_lock_t *l, int64_t deadline) {
  /* Critical sections under shared locks are short (libmt's own are a few
   * stores): spin a little before the kernel's robust-futex path, whose
   * shared-futex lookups cost far more than the wait. */
  int e = pthread_mutex_trylock(&l->u.m);
  if (e == EBUSY && (deadline == MT__NEVER || deadline > mt__now_ns())) {
    for (int i = 0; e == EBUSY && i < 200; i++) {
      mt__cpu_relax();
      e = pthread_mutex_trylock(&l->u.m);
    }
  }
  if (e != EBUSY) goto done;
  if (deadline == MT__NEVER) {
    e = pthread_mutex_lock(&l->u.m);
  } else {
    e = pthread_mutex_trylock(&l->u.m);
    if (e == EBUSY && deadline > mt__now_ns()) {
#ifdef MT_TSAN
      /* TSan does not intercept clocklock: use timedlock on the wall clock. */
      struct timespec ts = mt__ts(deadline - mt__now_ns() + ({
        struct timespec rt; clock_gettime(CLOCK_REALTIME, &rt); (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec; }));
      e = pthread_mutex_timedlock(&l->u.m, &ts);
#else
      struct timespec ts = mt__ts(deadline);
      e = pthread_mutex_clocklock(&l->u.m, CLOCK_MONOTONIC, &ts);
#endif
    }
  }
done:
  switch (e) {
    case 0: return 0;
    case EBUSY: case ETIMEDOUT: return MT_ETIMEDOUT;
    case EOWNERDEAD: pthread_mutex_consistent(&l->u.m); return MT_EOWNERDEAD;
    default: return -e;
  }
}

static int private_slow(mt_lock_t *l, int64_t deadline) {
  uint32_t *st = &l->u.p.state;
  mt__wq_t *q = &l->u.p.wq;
  if (!mt__park_in_coroutine()) {
    for (int i = 0; i < 100; i++) {      /* short holds are common: spin first */
      mt__cpu_relax();
      uint32_t c = 0;
      if (mt__load_relaxed(st) == 0 && mt__cas(st, &c, 1)) return 0;
    }
  }
  for (;;) {
    MT__WAITER(w);
    mt__ilock(&q->lk);
    if (mt__xchg(st, 2) == 0) {
      mt__iunlock(&q->lk);
      return 0;
    }
    mt__wq_push(q, w);
    mt__iunlock(&q->lk);
    int r = mt__park(w, deadline);
    if (r == 0) continue;                /* woken: compete again */
    mt__ilock(&q->lk);
    bool was_queued = w->queued;
    if (was_queued) mt__wq_remove(q, w);
    mt__iunlock(&q->lk);
    /* Marked by a release while timing out: that wake-up is ours; use it,
     * or leave the word at 2 so the holder wakes the next waiter. */
    if (!was_queued && mt__xchg(st, 2) == 0) return 0;
    return r;
  }
}

int mt__lock_acquire_until(mt_lock_t *l, int64_t deadline, void *site) {
  int r;
  bool check = mt__lockdep_on && !(l->flags & MT__NOCHECK);
  if (__builtin_expect(check, 0)) mt__lockdep_acquire(l, site, deadline == MT__NEVER || deadline > mt__now_ns());
  if (l->flags & MT_SHARED) {
    r = shared_acquire(l, deadline);
  } else {
    uint32_t c = 0;
    if (mt__cas(&l->u.p.state, &c, 1)) r = 0;
    else if (deadline != MT__NEVER && deadline <= mt__now_ns()) r = MT_ETIMEDOUT;
    else r = private_slow(l, deadline);
  }
  if (__builtin_expect(check, 0) && (r == 0 || r == MT_EOWNERDEAD)) mt__lockdep_acquired(l, site);
  return r;
}

MT_API int mt_lock_acquire(mt_lock_t *l, double timeout) {
  if (__builtin_expect(!(l->flags & MT_SHARED) && !mt__lockdep_on, 1)) {
    uint32_t c = 0;
    if (__builtin_expect(mt__cas(&l->u.p.state, &c, 1), 1)) return 0;
    if (timeout == 0) return MT_ETIMEDOUT;
  }
  return mt__lock_acquire_until(l, mt__deadline(timeout), __builtin_return_address(0));
}

void mt__lock_enter(mt_lock_t *l) {
  int r;
  do r = mt__lock_acquire_until(l, MT__NEVER, NULL);
  while (r != 0 && r != MT_EOWNERDEAD);
}

MT_API int mt_lock_release(mt_lock_t *l) {
  if (__builtin_expect(mt__lockdep_on, 0) && !(l->flags & MT__NOCHECK)) mt__lockdep_released(l);
  if (__builtin_expect(!(l->flags & MT_SHARED), 1)) {
    uint32_t old = mt__xchg(&l->u.p.state, 0);
    MT_ASSERT(old != 0, "mt_lock_release: lock %p is not locked", (void *)l);
    if (old == 2) mt__wq_wake(&l->u.p.wq, 1, 0);
    return 0;
  }
  int e = pthread_mutex_unlock(&l->u.m);
  MT_ASSERT(e == 0, "mt_lock_release: shared lock %p is not held by this thread", (void *)l);
  return 0;
}

MT_API bool mt_lock_locked(mt_lock_t *l) {
  if (!(l->flags & MT_SHARED)) return mt__load(&l->u.p.state) != 0;
  int e = pthread_mutex_trylock(&l->u.m);
  if (e == 0 || e == EOWNERDEAD) {
    if (e == EOWNERDEAD) pthread_mutex_consistent(&l->u.m);
    pthread_mutex_unlock(&l->u.m);
    return false;
  }
  return true;      /* EBUSY, or EDEADLK: held by the caller */
}

MT_API void mt_lock_set_name(mt_lock_t *l, const char *name) { l->name = name; }

MT_API void mt_lock_destroy(mt_lock_t *l) {
  if (mt__lockdep_on) mt__lockdep_forget(l);
  if (l->flags & MT_SHARED) pthread_mutex_destroy(&l->u.m);
}
