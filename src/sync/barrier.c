/* barrier.c — Barrier (Python's threading.Barrier), on an internal Lock +
 * Condition. States: 0 filling, 2 acting (the last party runs the action,
 * with the lock released: the internal lock never covers user code),
 * 1 draining (the round is complete and its parties are leaving),
 * -1 resetting, -2 broken. Arrivals wait while the barrier acts, drains or
 * resets, so rounds never mix. A timeout or cancellation of any party breaks
 * the barrier for every party, as in Python — except while the action runs:
 * Python holds the lock then, so nobody's timeout can break that round. */
#include "sync/sync_internal.h"

enum { FILLING = 0, DRAINING = 1, ACTING = 2, RESETTING = -1, BROKEN = -2 };

MT_API int mt_barrier_init(mt_barrier_t *b, unsigned parties, int flags) {
  return mt_barrier_init_action(b, parties, NULL, NULL, MT_FOREVER, flags);
}

MT_API int mt_barrier_init_action(mt_barrier_t *b, unsigned parties, int (*action)(void *ud), void *ud,
                                  double timeout, int flags) {
  if (parties == 0 || (flags & ~MT_SHARED) || timeout != timeout) return MT_EINVAL;
  int e = mt_lock_init(&b->lock, flags | MT__NOCHECK);
  if (e) return e;
  e = mt_cond_init(&b->cond, &b->lock);
  if (e) { mt_lock_destroy(&b->lock); return e; }
  b->parties = parties;
  b->count = 0;
  b->state = FILLING;
  b->action = action;
  b->ud = ud;
  b->timeout = timeout < 0 ? MT_FOREVER : timeout;
  return 0;
}

static void brk(mt_barrier_t *b) {
  b->state = BROKEN;
  mt_cond_notify_all(&b->cond);
}

MT_API int mt_barrier_wait(mt_barrier_t *b, double timeout) {
  if (timeout < 0) timeout = b->timeout;
  int64_t deadline = mt__deadline(timeout);
  int ret = 0;
  mt__lock_enter(&b->lock);
  while (b->state == DRAINING || b->state == ACTING || b->state == RESETTING) {
    int64_t dl = b->state == ACTING ? MT__NEVER : deadline;
    if ((dl != MT__NEVER && mt__now_ns() >= dl) || mt__cond_wait_until(&b->cond, dl) == MT_ECANCELED) {
      brk(b);
      break;
    }
  }
  if (b->state < 0) {
    mt_lock_release(&b->lock);
    return MT_EBROKEN;
  }
  unsigned index = b->count++;
  if (index + 1 == b->parties) {
    ret = (int)index;
    if (b->action) {
      b->state = ACTING;
      mt_lock_release(&b->lock);
      int failed = b->action(b->ud);
      mt__lock_enter(&b->lock);
      if (failed) {
        brk(b);
        ret = MT_EBROKEN;
      }
    }
    if (b->state == FILLING || b->state == ACTING) {
      b->state = DRAINING;
      mt_cond_notify_all(&b->cond);
    } else if (b->state < 0) {
      ret = MT_EBROKEN;              /* aborted while acting */
    }
  } else {
    while (b->state == FILLING || b->state == ACTING) {
      int64_t dl = b->state == ACTING ? MT__NEVER : deadline;
      if (dl != MT__NEVER && mt__now_ns() >= dl) { brk(b); break; }
      if (mt__cond_wait_until(&b->cond, dl) == MT_ECANCELED) { brk(b); ret = MT_ECANCELED; break; }
    }
    if (ret == 0) ret = b->state < 0 ? MT_EBROKEN : (int)index;
  }
  if (--b->count == 0 && (b->state == DRAINING || b->state == RESETTING)) {
    b->state = FILLING;
    mt_cond_notify_all(&b->cond);
  }
  mt_lock_release(&b->lock);
  return ret;
}

MT_API void mt_barrier_abort(mt_barrier_t *b) {
  mt__lock_enter(&b->lock);
  brk(b);
  mt_lock_release(&b->lock);
}

MT_API void mt_barrier_reset(mt_barrier_t *b) {
  mt__lock_enter(&b->lock);
  if (b->count > 0) {
    if (b->state == FILLING || b->state == BROKEN) b->state = RESETTING;
  } else {
    b->state = FILLING;
  }
  mt_cond_notify_all(&b->cond);
  mt_lock_release(&b->lock);
}

MT_API unsigned mt_barrier_parties(mt_barrier_t *b) { return b->parties; }

MT_API unsigned mt_barrier_n_waiting(mt_barrier_t *b) {
  mt__lock_enter(&b->lock);
  unsigned n = b->state == FILLING ? b->count : 0;
  mt_lock_release(&b->lock);
  return n;
}

MT_API bool mt_barrier_broken(mt_barrier_t *b) {
  mt__lock_enter(&b->lock);
  bool broken = b->state == BROKEN;
  mt_lock_release(&b->lock);
  return broken;
}

MT_API void mt_barrier_destroy(mt_barrier_t *b) {
  mt_cond_destroy(&b->cond);
  mt_lock_destroy(&b->lock);
}
