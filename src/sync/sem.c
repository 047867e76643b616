/* sem.c — Semaphore and BoundedSemaphore (Python's threading.Semaphore),
 * a counter guarded by an internal Lock + Condition, so the same code runs
 * privately (parking threads and coroutines) and process-shared. */
#include "sync/sync_internal.h"

MT_API int mt_sem_init(mt_sem_t *s, unsigned value, unsigned bound, int flags) {
  if (flags & ~MT_SHARED) return MT_EINVAL;
  if (bound && value > bound) return MT_EINVAL;
  int e = mt_lock_init(&s->lock, flags | MT__NOCHECK);
  if (e) return e;
  e = mt_cond_init(&s->cond, &s->lock);
  if (e) { mt_lock_destroy(&s->lock); return e; }
  s->value = value;
  s->bound = bound;
  s->waiters = 0;
  return 0;
}

MT_API int mt_sem_acquire(mt_sem_t *s, double timeout) {
  int64_t deadline = mt__deadline(timeout);
  int r = 0;
  mt__lock_enter(&s->lock);
  while (s->value == 0 && (r = mt__cond_wait_round(&s->cond, &s->waiters, deadline)) == 0) {
  }
  if (r == 0) s->value--;
  mt_lock_release(&s->lock);
  return r;
}

MT_API int mt_sem_release_n(mt_sem_t *s, unsigned n) {
  int r = 0;
  mt__lock_enter(&s->lock);
  if (s->bound && (s->value + (unsigned long long)n > s->bound)) {
    r = MT_EOVERRELEASE;
  } else {
    s->value += n;
    if (s->waiters) mt_cond_notify(&s->cond, n > (unsigned)s->waiters ? (int)s->waiters : (int)n);
  }
  mt_lock_release(&s->lock);
  return r;
}

MT_API int mt_sem_release(mt_sem_t *s) { return mt_sem_release_n(s, 1); }

MT_API unsigned mt_sem_value(mt_sem_t *s) {
  mt__lock_enter(&s->lock);
  unsigned v = s->value;
  mt_lock_release(&s->lock);
  return v;
}

MT_API void mt_sem_destroy(mt_sem_t *s) {
  mt_cond_destroy(&s->cond);
  mt_lock_destroy(&s->lock);
}
