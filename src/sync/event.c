/* event.c — Event (Python's threading.Event): a flag guarded by an internal
 * Lock + Condition. is_set and the already-set fast path of wait are a
 * single acquire load; set wakes every waiter.
 *
 * The word holds the flag in bit 0 and, above it, a count of the sets that
 * found it clear. A waiter remembers the count it saw on arrival and returns
 * success once the flag is set *or* the count moved: an event set and
 * cleared again before the waiter runs still ends its wait (as in CPython
 * since bpo-13502). */
#include "sync/sync_internal.h"

MT_API int mt_event_init(mt_event_t *e, int flags) {
  if (flags & ~MT_SHARED) return MT_EINVAL;
  int r = mt_lock_init(&e->lock, flags | MT__NOCHECK);
  if (r) return r;
  r = mt_cond_init(&e->cond, &e->lock);
  if (r) { mt_lock_destroy(&e->lock); return r; }
  e->flag = 0;
  e->waiters = 0;
  return 0;
}

#define SET 1u

MT_API void mt_event_set(mt_event_t *e) {
  mt__lock_enter(&e->lock);
  uint32_t v = mt__load_relaxed(&e->flag);
  if (!(v & SET)) {
    mt__store(&e->flag, (v + 2) | SET);      /* a new generation, set */
    if (e->waiters) mt_cond_notify_all(&e->cond);
  }
  mt_lock_release(&e->lock);
}

MT_API void mt_event_clear(mt_event_t *e) {
  mt__lock_enter(&e->lock);
  mt__store(&e->flag, mt__load_relaxed(&e->flag) & ~SET);
  mt_lock_release(&e->lock);
}

MT_API bool mt_event_is_set(mt_event_t *e) { return (mt__load(&e->flag) & SET) != 0; }

MT_API int mt_event_wait(mt_event_t *e, double timeout) {
  if (mt__load(&e->flag) & SET) return 0;
  int64_t deadline = mt__deadline(timeout);
  int r = 0;
  mt__lock_enter(&e->lock);
  uint32_t seen = mt__load_relaxed(&e->flag);
  while (mt__load_relaxed(&e->flag) == seen && !(seen & SET) &&
         (r = mt__cond_wait_round(&e->cond, &e->waiters, deadline)) == 0) {
  }
  mt_lock_release(&e->lock);
  return r;
}

MT_API void mt_event_destroy(mt_event_t *e) {
  mt_cond_destroy(&e->cond);
  mt_lock_destroy(&e->lock);
}
