/* rlock.c — RLock (Python's threading.RLock): a Lock plus an owner and a
 * recursion count. Only the owner touches `count`; `owner` is written by
 * the holder and read by others only to learn "not me", so relaxed atomics
 * suffice. The owner is a thread or coroutine id (mt__self_id). */
#include "sync/sync_internal.h"

MT_API int mt_rlock_init(mt_rlock_t *r, int flags) {
  int e = mt_lock_init(&r->lock, flags);
  r->owner = 0;
  r->count = 0;
  return e;
}

MT_API int mt_rlock_acquire(mt_rlock_t *r, double timeout) {
  unsigned long me = mt__self_id();
  if (__atomic_load_n(&r->owner, __ATOMIC_RELAXED) == me) {
    r->count++;
    return 0;
  }
  int e = mt__lock_acquire_until(&r->lock, mt__deadline(timeout), __builtin_return_address(0));
  if (e == 0 || e == MT_EOWNERDEAD) {
    __atomic_store_n(&r->owner, me, __ATOMIC_RELAXED);
    r->count = 1;
  }
  return e;
}

MT_API int mt_rlock_release(mt_rlock_t *r) {
  MT_ASSERT(__atomic_load_n(&r->owner, __ATOMIC_RELAXED) == mt__self_id() && r->count > 0,
            "mt_rlock_release: rlock %p is not held by the calling thread", (void *)r);
  if (--r->count == 0) {
    __atomic_store_n(&r->owner, 0, __ATOMIC_RELAXED);
    return mt_lock_release(&r->lock);
  }
  return 0;
}

MT_API bool mt_rlock_is_owned(mt_rlock_t *r) {
  return __atomic_load_n(&r->owner, __ATOMIC_RELAXED) == mt__self_id();
}

MT_API void mt_rlock_set_name(mt_rlock_t *r, const char *name) { mt_lock_set_name(&r->lock, name); }

MT_API void mt_rlock_destroy(mt_rlock_t *r) { mt_lock_destroy(&r->lock); }
