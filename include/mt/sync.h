/* sync.h — Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition,
 * Barrier and Timer, as in Python's `threading`.
 *
 * The small primitives are values you embed and initialise:
 *
 *     mt_lock_t l;  mt_lock_init(&l, 0);
 *     MT_WITH(&l) { ...critical section... }
 *     mt_lock_destroy(&l);
 *
 * A zeroed mt_lock_t (or MT_LOCK_INIT) is a valid unlocked private lock.
 * Every blocking call takes a timeout in seconds (MT_FOREVER waits forever,
 * 0 tries once) and returns 0, MT_ETIMEDOUT, or MT_ECANCELED when the caller
 * is a coroutine that was cancelled. Called from a coroutine, a blocking call
 * parks the coroutine and its scheduler runs others meanwhile.
 *
 * MT_SHARED: placed in shared memory (mt_shm_alloc, or any MAP_SHARED
 * mapping), a primitive initialised with MT_SHARED works between processes.
 * Its mutex is robust: when a process dies holding it, the next acquirer gets
 * the lock together with MT_EOWNERDEAD and should repair what it protects.
 * Shared primitives block the calling thread (coroutines too).
 *
 * Misuse — releasing a Lock that is not locked, releasing an RLock the
 * caller does not own — is a bug in the caller: libmt prints where and
 * aborts, in release builds too.
 *
 * Deadlock detector: with MT_CHECK_LOCKS=1 in the environment, libmt records
 * the order in which each thread takes Locks and RLocks and reports the
 * first AB/BA inversion of any two of them on stderr, with both sites, even
 * when the run did not deadlock. Unset, it costs one predictable branch.
 */
#ifndef MT_SYNC_H
#define MT_SYNC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "time.h"
#include "bits/waitq.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_SHARED 0x1   /* flag: works between processes, in shared memory */

/* ---- private parts (layout only; use the functions): mt/bits/waitq.h --- */

/* ---- Lock --------------------------------------------------------------- */
typedef struct mt_lock {
  union {
    struct { uint32_t state; mt__wq_t wq; } p;   /* private: futex word + waiters */
    pthread_mutex_t m;                            /* MT_SHARED: robust, pshared */
  } u;
  int flags;
  const char *name;     /* optional, for the deadlock detector's reports */
} mt_lock_t;
#define MT_LOCK_INIT { .flags = 0 }

/* Returns 0, MT_EINVAL for unknown flags, or an error from the system. */
int  mt_lock_init(mt_lock_t *l, int flags);
/* Returns 0 (held), MT_ETIMEDOUT, MT_ECANCELED, or — MT_SHARED only —
 * MT_EOWNERDEAD: held, but the previous holder died inside. */
int  mt_lock_acquire(mt_lock_t *l, double timeout);
int  mt_lock_release(mt_lock_t *l);
bool mt_lock_locked(mt_lock_t *l);
/* Names the lock in deadlock reports; `name` must outlive the lock. */
void mt_lock_set_name(mt_lock_t *l, const char *name);
void mt_lock_destroy(mt_lock_t *l);

/* ---- RLock: re-entrant; only the owner may release ----------------------- */
typedef struct mt_rlock {
  mt_lock_t lock;
  unsigned long owner;  /* thread/coroutine id of the holder, 0 if free */
  unsigned count;
} mt_rlock_t;

int  mt_rlock_init(mt_rlock_t *r, int flags);
int  mt_rlock_acquire(mt_rlock_t *r, double timeout);
int  mt_rlock_release(mt_rlock_t *r);          /* aborts if the caller is not the owner */
bool mt_rlock_is_owned(mt_rlock_t *r);         /* by the caller */
void mt_rlock_set_name(mt_rlock_t *r, const char *name);
void mt_rlock_destroy(mt_rlock_t *r);

/* ---- Condition ------------------------------------------------------------ */
typedef struct mt_cond {
  union { mt__wq_t wq; uint32_t seq; } u;   /* private: a wait queue; MT_SHARED: a futex word */
  intptr_t lock_off;    /* the lock's address relative to this condition */
  mt_lock_t own;        /* used when no lock is given */
  int flags;
} mt_cond_t;

/* Binds the condition to `lock` (NULL: a private lock of its own). The
 * condition is process-shared exactly when the lock is; both must then be
 * in the same shared mapping. Returns 0 or an error from the system. */
int  mt_cond_init(mt_cond_t *c, mt_lock_t *lock);
mt_lock_t *mt_cond_lock(mt_cond_t *c);
int  mt_cond_acquire(mt_cond_t *c, double timeout);
int  mt_cond_release(mt_cond_t *c);
/* The caller holds the lock. Releases it, waits for a notify or the timeout,
 * re-acquires it. Returns 0 when notified, MT_ETIMEDOUT, MT_ECANCELED; the
 * lock is held again in every case. Spurious wake-ups are possible: wait in
 * a loop, or use mt_cond_wait_for. */
int  mt_cond_wait(mt_cond_t *c, double timeout);
/* Waits until pred(arg) is true (checked with the lock held) or the timeout
 * passes, with one deadline for all waits. Returns 0 or MT_ETIMEDOUT. */
int  mt_cond_wait_for(mt_cond_t *c, bool (*pred)(void *arg), void *arg, double timeout);
/* Wakes up to n waiters (or all). Returns how many were woken (private
 * conditions; shared ones return 0). Call with the lock held: a notify
 * without it is a misuse that aborts with a message (Python raises
 * RuntimeError), as releasing a lock one does not hold does. */
int  mt_cond_notify(mt_cond_t *c, int n);
int  mt_cond_notify_all(mt_cond_t *c);
void mt_cond_destroy(mt_cond_t *c);

/* ---- Semaphore / BoundedSemaphore ----------------------------------------- */
typedef struct mt_sem {
  mt_lock_t lock;
  mt_cond_t cond;
  unsigned value, bound;
  unsigned waiters;
} mt_sem_t;

/* bound 0: unbounded (Semaphore); bound >= value: BoundedSemaphore, whose
 * release past the bound fails with MT_EOVERRELEASE. */
int  mt_sem_init(mt_sem_t *s, unsigned value, unsigned bound, int flags);
int  mt_sem_acquire(mt_sem_t *s, double timeout);
int  mt_sem_release(mt_sem_t *s);
int  mt_sem_release_n(mt_sem_t *s, unsigned n);
unsigned mt_sem_value(mt_sem_t *s);
void mt_sem_destroy(mt_sem_t *s);

/* ---- Event ---------------------------------------------------------------- */
typedef struct mt_event {
  mt_lock_t lock;
  mt_cond_t cond;
  uint32_t flag;
  unsigned waiters;
} mt_event_t;

int  mt_event_init(mt_event_t *e, int flags);
void mt_event_set(mt_event_t *e);
void mt_event_clear(mt_event_t *e);
bool mt_event_is_set(mt_event_t *e);
/* Returns 0 once the flag is set, MT_ETIMEDOUT, or MT_ECANCELED. */
int  mt_event_wait(mt_event_t *e, double timeout);
void mt_event_destroy(mt_event_t *e);

/* ---- Barrier ---------------------------------------------------------------- */
typedef struct mt_barrier {
  mt_lock_t lock;
  mt_cond_t cond;
  unsigned parties, count;
  int state;            /* 0 filling, 1 draining, 2 acting, -1 resetting, -2 broken */
  int (*action)(void *ud);
  void *ud;
  double timeout;       /* the default for waits given MT_FOREVER */
} mt_barrier_t;

int  mt_barrier_init(mt_barrier_t *b, unsigned parties, int flags);
/* Python's Barrier(parties, action, timeout). Each time the barrier trips,
 * exactly one of the parties — the last to arrive — calls action(ud) before
 * any party is released; a non-zero return breaks the barrier, and every
 * party of that round gets MT_EBROKEN. `timeout` is the default for a wait
 * given MT_FOREVER (Python's wait() with no timeout); MT_FOREVER here means
 * no default. action may be NULL. In a MT_SHARED barrier, action must be a
 * function every process has at the same address (forked children do). */
int  mt_barrier_init_action(mt_barrier_t *b, unsigned parties, int (*action)(void *ud), void *ud,
                            double timeout, int flags);
/* Returns this caller's index in [0, parties) — distinct for each party of a
 * round, parties-1 for the last to arrive — or MT_EBROKEN when the barrier
 * is or becomes broken (abort, reset while waiting, a party's timeout, which
 * breaks it for everyone, or a failed action), or MT_EINVAL. */
int  mt_barrier_wait(mt_barrier_t *b, double timeout);
void mt_barrier_abort(mt_barrier_t *b);
void mt_barrier_reset(mt_barrier_t *b);
unsigned mt_barrier_parties(mt_barrier_t *b);
unsigned mt_barrier_n_waiting(mt_barrier_t *b);
bool mt_barrier_broken(mt_barrier_t *b);
void mt_barrier_destroy(mt_barrier_t *b);

/* ---- Timer ------------------------------------------------------------------ */
typedef struct mt_timer mt_timer_t;

/* Calls fn(arg) on a thread of its own after `interval` seconds; with
 * `repeat`, every `interval` seconds on a fixed schedule (no drift). The
 * timer's thread is a daemon thread named "Timer-N". On success *t is the
 * caller's to mt_timer_free(); on error *t is NULL and fn never runs. */
int  mt_timer_start(mt_timer_t **t, double interval, bool repeat, void (*fn)(void *), void *arg);
/* Stops the timer: if it has not fired yet, it never will; a repeating
 * timer fires no more (a call already running completes). Returns 0. */
int  mt_timer_cancel(mt_timer_t *t);
/* Number of times fn has been called. */
unsigned long mt_timer_fired(mt_timer_t *t);
/* Cancels, waits for a running call to finish (unless called from fn
 * itself) and frees. */
void mt_timer_free(mt_timer_t *t);

/* ---- MT_WITH: scoped locking, like Python's `with lock:` --------------------
 *   MT_WITH(&lock) { ... }     works with mt_lock_t*, mt_rlock_t*, mt_sem_t*
 * The lock is released when the block ends, including by break, return or
 * goto out of it. If acquiring fails (a cancelled coroutine) the block is
 * skipped. */
typedef struct { void *obj; int (*rel)(void *); } mt__guard_t;
static inline void mt__guard_end(mt__guard_t *g) { if (g->obj) { g->rel(g->obj); g->obj = NULL; } }
static inline int mt__rel_lock(void *p) { return mt_lock_release((mt_lock_t *)p); }
static inline int mt__rel_rlock(void *p) { return mt_rlock_release((mt_rlock_t *)p); }
static inline int mt__rel_sem(void *p) { return mt_sem_release((mt_sem_t *)p); }
static inline mt__guard_t mt__guard_lock(mt_lock_t *l) {
  int r = mt_lock_acquire(l, MT_FOREVER);
  mt__guard_t g = { (r == 0 || r == MT_EOWNERDEAD) ? (void *)l : NULL, mt__rel_lock };
  return g;
}
static inline mt__guard_t mt__guard_rlock(mt_rlock_t *l) {
  int r = mt_rlock_acquire(l, MT_FOREVER);
  mt__guard_t g = { (r == 0 || r == MT_EOWNERDEAD) ? (void *)l : NULL, mt__rel_rlock };
  return g;
}
static inline mt__guard_t mt__guard_sem(mt_sem_t *s) {
  mt__guard_t g = { mt_sem_acquire(s, MT_FOREVER) == 0 ? (void *)s : NULL, mt__rel_sem };
  return g;
}
#define MT__CAT2(a, b) a##b
#define MT__CAT(a, b) MT__CAT2(a, b)
#define MT__WITH(l, g)                                                        \
  for (mt__guard_t g __attribute__((cleanup(mt__guard_end))) =                \
           _Generic((l), mt_lock_t *: mt__guard_lock, mt_rlock_t *: mt__guard_rlock, \
                         mt_sem_t *: mt__guard_sem)(l);                       \
       g.obj; mt__guard_end(&g))
#define MT_WITH(l) MT__WITH(l, MT__CAT(mt__guard_, __COUNTER__))

#ifdef __cplusplus
}
#endif
#endif
