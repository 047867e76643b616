/* sync_internal.h — what the sync modules share: the internal-lock flag,
 * deadline-based waits, and the deadlock detector's hooks. */
#ifndef MT_SYNC_INTERNAL_H
#define MT_SYNC_INTERNAL_H

#include "core/internal.h"
#include "mt/sync.h"

/* Lock flag: a lock inside a libmt primitive, held only for short sections
 * that call no user code, so the deadlock detector leaves it out. */
#define MT__NOCHECK 0x100

/* Deadline-based forms used by the primitives built on Lock + Condition. */
int mt__lock_acquire_until(mt_lock_t *l, int64_t deadline, void *site);
int mt__cond_wait_until(mt_cond_t *c, int64_t deadline);
/* One round of "wait while the predicate is false", with the lock held:
 * MT_ETIMEDOUT once the deadline has passed, MT_ECANCELED, else 0 (re-check).
 * *waiters counts the sleepers so notifiers can skip empty conditions. */
int mt__cond_wait_round(mt_cond_t *c, unsigned *waiters, int64_t deadline);
/* mt_cond_notify without the held-lock check (n < 0: all), for libmt's own
 * code that wakes after dropping the lock on purpose (pool.c). */
int mt__cond_wake(mt_cond_t *c, int n);
/* Acquires for internal use: retried through cancellation, EOWNERDEAD = held. */
void mt__lock_enter(mt_lock_t *l);

/* ---- deadlock detector (lockdep.c) ------------------------------------------ */
extern bool mt__lockdep_on;
void mt__lockdep_acquire(const mt_lock_t *l, void *site, bool blocking);  /* before */
void mt__lockdep_acquired(const mt_lock_t *l, void *site);                /* after */
void mt__lockdep_released(const mt_lock_t *l);
void mt__lockdep_forget(const mt_lock_t *l);

#endif
