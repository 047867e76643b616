/* park.h — the one parking mechanism under every blocking primitive.
 *
 * A waiter is a thread or a coroutine. A primitive puts a mt__waiter_t (on
 * the waiter's own stack: blocking costs no allocation) into a wait queue,
 * drops the queue's short internal lock, and calls mt__park(). A waker pops
 * the waiter under the queue's lock, marks it (mt__wake_mark, still under
 * the lock: once marked, the waiter may return and its node vanish), then
 * drops the lock and calls mt__wake() with the token the mark returned.
 *
 * A thread parks on a futex (after a short spin). A coroutine parks in its
 * scheduler: the coroutine layer installs mt__park_ops_t once, so the
 * primitives never depend on it.
 *
 * Timeouts: mt__park returns MT_ETIMEDOUT (or MT_ECANCELED, for a cancelled
 * coroutine) without dequeuing. The waiter must then take the queue lock
 * and check w->queued: still queued -> remove itself, the wait failed;
 * not queued -> a waker marked it concurrently and it owns that wake-up.
 */
#ifndef MT_CORE_PARK_H
#define MT_CORE_PARK_H

#include <stdbool.h>
#include <stdint.h>

#include "mt/bits/waitq.h"

typedef struct mt__waiter {
  struct mt__waiter *next, *prev;
  uint32_t flag;      /* 0 parked, 1 marked by a waker, 2 a thread asleep in futex_wait */
  int result;         /* primitive-specific, written by the waker before marking */
  bool queued;        /* protected by the queue's lock */
  bool nospin;        /* sleep at once: the waker is likely not running */
  void *co;           /* the coroutine parked here, NULL for a thread */
} mt__waiter_t;

typedef struct { uint32_t *futex; void *co; uint32_t seq; bool sleeping; } mt__wake_t;

typedef struct mt__park_ops {
  void *(*current)(void);                         /* running coroutine or NULL */
  int  (*park)(mt__waiter_t *w, int64_t deadline); /* until w->flag or deadline */
  /* Called by mt__wake_mark under the queue lock while co waits on w:
   * hold keeps co alive until the matching wake (before w is marked), seq
   * says which park of co's the wake is for (read after marking, so a
   * coroutine still on its way into park is seen with its new number). */
  void (*hold)(void *co);
  uint32_t (*seq)(void *co);
  /* Makes co runnable if it is still in park number `seq`; drops the hold.
   * Any thread. */
  void (*wake)(void *co, uint32_t seq);
  /* Parks the running coroutine until fd is ready (POLLIN/POLLOUT) or the
   * deadline: 0, MT_ETIMEDOUT, MT_ECANCELED, MT_EBUSY (another coroutine of
   * this scheduler already waits on fd in that direction). */
  int (*wait_fd)(int fd, short events, int64_t deadline);
  /* fd is closed, or new: drop what the scheduler remembers about it. */
  void (*fd_forget)(int fd);
  /* The waiter node a coroutine must use instead of one on its stack (a
   * shared-stack coroutine's frames are elsewhere while it is parked), or
   * NULL when its stack is fine. */
  mt__waiter_t *(*node)(void *co);
} mt__park_ops_t;

/* Installed once by the coroutine layer. */
void mt__park_set_ops(const mt__park_ops_t *ops);
const mt__park_ops_t *mt__park_ops(void);
bool mt__park_in_coroutine(void);

void mt__waiter_init(mt__waiter_t *w);
/* Returns an initialised waiter node: `local` (on the caller's stack), or
 * the node a shared-stack coroutine keeps in its struct. */
mt__waiter_t *mt__waiter_begin(mt__waiter_t *local);
#define MT__WAITER(w) mt__waiter_t w##_local_, *w = mt__waiter_begin(&w##_local_)
int  mt__park(mt__waiter_t *w, int64_t deadline);
mt__wake_t mt__wake_mark(mt__waiter_t *w);        /* under the queue lock */
void mt__wake(mt__wake_t token);                  /* after dropping it */

/* The queue's internal lock: a three-state futex mutex for short sections. */
void mt__ilock(uint32_t *lk);
void mt__iunlock(uint32_t *lk);

/* FIFO wait queue; all calls under q->lk. */
void mt__wq_push(mt__wq_t *q, mt__waiter_t *w);
mt__waiter_t *mt__wq_pop(mt__wq_t *q);
void mt__wq_remove(mt__wq_t *q, mt__waiter_t *w);
static inline bool mt__wq_empty(const mt__wq_t *q) { return q->head == NULL; }

/* Wakes up to n (n < 0: all) waiters, setting their result; returns how many. */
int mt__wq_wake(mt__wq_t *q, int n, int result);

#endif
