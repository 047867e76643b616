/* queue.c — FIFO, LIFO and priority queues (Python's queue module).
 *
 * One Lock guards everything; two Conditions on it park getters (not_empty)
 * and putters (not_full), a third parks join() callers. A call notifies a
 * condition only when someone waits on it, so an uncontended put or get is
 * one lock round trip and no wake-up. Storage grows by doubling up to the
 * bound (unbounded: without limit), so a large bound costs nothing until used.
 *
 *   FIFO      ring buffer of item pointers
 *   LIFO      array used as a stack
 *   PRIORITY  binary min-heap on (prio, seq); seq, a running counter, keeps
 *             equal priorities in FIFO order
 *
 * Bounded FIFO queues of up to RING_MAX items take a lock-free path
 * instead (ring.c): put and get are one CAS on a ring position, and the
 * queue lock is used only by join. Blocking is an eventcount: a getter about
 * to sleep counts itself in nget_wait (a seq_cst RMW) and re-tries under its
 * wait queue's lock before parking; a putter claims its position (a seq_cst
 * CAS), looks at nget_wait, and after publishing wakes one getter only if
 * someone waits. One of the two always sees the other (ring.c), so no
 * wake-up is lost; a queue in full flow makes no system call and no fence
 * beyond the CAS. The same holds with putters and getters swapped.
 *
 * Lock order: the queue's lock is taken alone; no callback runs under it.
 */
#include <sched.h>
#include <string.h>

#include "core/park.h"
#include "mt/queue.h"
#include "queue/queue_internal.h"
#include "queue/ring.h"
#include "sync/sync_internal.h"

#define RING_MAX 65536      /* larger bounds keep the growable locked storage */

typedef struct { long prio; unsigned long seq; void *item; } pslot_t;

struct mt_queue {
  mt_lock_t lock;
  mt_cond_t not_empty, not_full, all_done;
  mt_queue_kind_t kind;
  size_t maxsize;              /* 0: unbounded */
  size_t cap, head, count;
  union { void **items; pslot_t *slots; } u;
  unsigned long seq;
  size_t unfinished;
  unsigned getters, putters, joiners;
  bool closed;
  /* lock-free mode (bounded FIFO): everything below */
  bool lockfree;
  uint32_t lf_closed, nget_wait, nput_wait, njoin;
  uint64_t done;               /* task_done count; unfinished = ring.enq - done */
  mt__wq_t gwq, pwq;
  mt__ring_t ring;
};

MT_API mt_queue_t *mt_queue_new(mt_queue_kind_t kind, size_t maxsize) {
  if (kind != MT_FIFO && kind != MT_LIFO && kind != MT_PRIORITY) {
    mt__set_last_error(MT_EINVAL);
    return NULL;
  }
  mt_queue_t *q = mt__calloc(1, sizeof *q);
  if (!q) {
    mt__set_last_error(MT_ENOMEM);
    return NULL;
  }
  mt_lock_init(&q->lock, MT__NOCHECK);
  mt_cond_init(&q->not_empty, &q->lock);
  mt_cond_init(&q->not_full, &q->lock);
  mt_cond_init(&q->all_done, &q->lock);
  q->kind = kind;
  q->maxsize = maxsize;
  if (kind == MT_FIFO && maxsize > 0 && maxsize <= RING_MAX) {
    if (mt__ring_init(&q->ring, maxsize) != 0) {
      mt_queue_free(q);
      mt__set_last_error(MT_ENOMEM);
      return NULL;
    }
    q->lockfree = true;
  }
  mt__set_last_error(0);
  return q;
}

/* ---- lock-free mode ------------------------------------------------------------- */

/* Parks until `attempt` succeeds (returns 0) or fails for good (returns an
 * error); `attempt` returns 1 for "try again later". On success the other
 * side is woken (`other`) if the attempt saw a sleeper there — after this
 * side's wait-queue lock is dropped, so the two wait-queue locks are never
 * held together. */
static int lf_wait(mt_queue_t *q, mt__wq_t *wq, uint32_t *nwait, mt__wq_t *other, int64_t deadline,
                   int timeout_code, int (*attempt)(mt_queue_t *q, void *ctx, bool *wake), void *ctx) {
  for (;;) {
    MT__WAITER(w);
    w->nospin = true;           /* lf_put/lf_get already gave the other side a turn */
    mt__ilock(&wq->lk);
    __atomic_fetch_add(nwait, 1, __ATOMIC_SEQ_CST);     /* then look again (ring.c) */
    bool wake = false;
    int r = attempt(q, ctx, &wake);
    if (r == 1 && deadline != MT__NEVER && mt__now_ns() >= deadline) r = timeout_code;
    if (r != 1) {
      __atomic_fetch_sub(nwait, 1, __ATOMIC_SEQ_CST);
      mt__iunlock(&wq->lk);
      if (wake) mt__wq_wake(other, 1, 0);
      return r;
    }
    mt__wq_push(wq, w);
    mt__iunlock(&wq->lk);
    /* Re-check at least every second: the eventcount cannot lose a wake-up,
     * but if it ever did, this bounds the cost (defence in depth). */
    int64_t recheck = mt__now_ns() + 1000000000;
    int p = mt__park(w, deadline < recheck ? deadline : recheck);
    if (p == MT_ETIMEDOUT && deadline > recheck) p = 0;
    mt__ilock(&wq->lk);
    bool woken = !w->queued;
    if (!woken) mt__wq_remove(wq, w);
    __atomic_fetch_sub(nwait, 1, __ATOMIC_SEQ_CST);
    mt__iunlock(&wq->lk);
    if (p == MT_ECANCELED) {
      if (woken) mt__wq_wake(wq, 1, 0);      /* pass on the wake-up we will not use */
      return p;
    }
  }
}

/* The raw attempts: 0 done, 1 not now, or MT_ECLOSED. They wake nobody; on
 * success *wake says whether the other side has a sleeper to wake. */
static int lf_put_attempt(mt_queue_t *q, void *item, bool *wake) {
  if (__atomic_load_n(&q->lf_closed, __ATOMIC_ACQUIRE)) return MT_ECLOSED;
  return mt__ring_put(&q->ring, item, &q->nget_wait, wake) ? 0 : 1;
}
static int lf_get_attempt(mt_queue_t *q, void *item, bool *wake) {
  if (mt__ring_get(&q->ring, item, &q->nput_wait, wake)) return 0;
  return __atomic_load_n(&q->lf_closed, __ATOMIC_ACQUIRE) ? MT_ECLOSED : 1;
}

/* Before parking, a full (empty) queue gives the other side a few turns:
 * on a busy machine it is often runnable on this very CPU. */
#define LF_YIELDS 2

static int lf_put(mt_queue_t *q, void *item, double timeout) {
  bool wake = false;
  int r = lf_put_attempt(q, item, &wake);
  for (int i = 0; r == 1 && timeout != 0 && i < LF_YIELDS && !mt__park_in_coroutine(); i++) {
    sched_yield();
    r = lf_put_attempt(q, item, &wake);
  }
  if (wake) mt__wq_wake(&q->gwq, 1, 0);
  if (r != 1) return r;
  if (timeout == 0) return MT_EFULL;
  return lf_wait(q, &q->pwq, &q->nput_wait, &q->gwq, mt__deadline(timeout), MT_EFULL, lf_put_attempt, item);
}

static int lf_get(mt_queue_t *q, void **item, long *prio, double timeout) {
  if (prio) *prio = 0;
  bool wake = false;
  int r = lf_get_attempt(q, item, &wake);
  for (int i = 0; r == 1 && timeout != 0 && i < LF_YIELDS && !mt__park_in_coroutine(); i++) {
    sched_yield();
    r = lf_get_attempt(q, item, &wake);
  }
  if (wake) mt__wq_wake(&q->pwq, 1, 0);
  if (r != 1) return r;
  if (timeout == 0) return MT_EEMPTY;
  return lf_wait(q, &q->gwq, &q->nget_wait, &q->pwq, mt__deadline(timeout), MT_EEMPTY, lf_get_attempt, item);
}

static int lf_task_done(mt_queue_t *q) {
  uint64_t d = __atomic_load_n(&q->done, __ATOMIC_SEQ_CST);
  do {
    if (d >= __atomic_load_n(&q->ring.enq, __ATOMIC_SEQ_CST)) return MT_EINVAL;
  } while (!__atomic_compare_exchange_n(&q->done, &d, d + 1, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
  if (__atomic_load_n(&q->njoin, __ATOMIC_SEQ_CST)) {
    mt__lock_enter(&q->lock);
    mt_cond_notify_all(&q->all_done);
    mt_lock_release(&q->lock);
  }
  return 0;
}

static int lf_join(mt_queue_t *q, int64_t deadline) {
  int r = 0;
  mt__lock_enter(&q->lock);
  __atomic_fetch_add(&q->njoin, 1, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&q->done, __ATOMIC_SEQ_CST) < __atomic_load_n(&q->ring.enq, __ATOMIC_SEQ_CST)) {
    if (deadline != MT__NEVER && mt__now_ns() >= deadline) { r = MT_ETIMEDOUT; break; }
    if (mt__cond_wait_until(&q->all_done, deadline) == MT_ECANCELED) { r = MT_ECANCELED; break; }
  }
  __atomic_fetch_sub(&q->njoin, 1, __ATOMIC_SEQ_CST);
  mt_lock_release(&q->lock);
  return r;
}

static size_t elem_size(const mt_queue_t *q) { return q->kind == MT_PRIORITY ? sizeof(pslot_t) : sizeof(void *); }

/* Makes room for one more item. Under the lock. A FIFO's capacity stays a
 * power of two (it indexes with a mask); the bound is enforced by count. */
static int grow(mt_queue_t *q) {
  if (q->count < q->cap) return 0;
  size_t want = q->cap ? q->cap * 2 : 16;
  if (q->maxsize && want > q->maxsize) want = q->maxsize;
  if (q->kind == MT_FIFO) {
    size_t p2 = 16;
    while (p2 < want && p2 < SIZE_MAX / 2) p2 <<= 1;
    want = p2;
  }
  if (want <= q->cap || want > SIZE_MAX / elem_size(q)) return MT_ENOMEM;
  void *n = mt__malloc(want * elem_size(q));
  if (!n) return MT_ENOMEM;
  if (q->kind == MT_FIFO) {
    void **dst = n;
    for (size_t i = 0; i < q->count; i++) dst[i] = q->u.items[(q->head + i) & (q->cap - 1)];
    q->head = 0;
  } else if (q->count) {
    memcpy(n, q->u.items, q->count * elem_size(q));
  }
  mt__free(q->u.items);
  q->u.items = n;
  q->cap = want;
  return 0;
}

static void push(mt_queue_t *q, long prio, void *item) {
  switch (q->kind) {
    case MT_FIFO:
      q->u.items[(q->head + q->count) & (q->cap - 1)] = item;
      break;
    case MT_LIFO:
      q->u.items[q->count] = item;
      break;
    case MT_PRIORITY: {
      pslot_t s = { prio, q->seq++, item };
      size_t i = q->count;
      while (i > 0) {
        size_t parent = (i - 1) / 2;
        pslot_t *p = &q->u.slots[parent];
        if (p->prio < s.prio || (p->prio == s.prio && p->seq < s.seq)) break;
        q->u.slots[i] = *p;
        i = parent;
      }
      q->u.slots[i] = s;
      break;
    }
  }
  q->count++;
  q->unfinished++;
}

static void *pop(mt_queue_t *q, long *prio) {
  void *item;
  q->count--;
  switch (q->kind) {
    case MT_FIFO:
      item = q->u.items[q->head];
      q->head = (q->head + 1) & (q->cap - 1);
      if (prio) *prio = 0;
      return item;
    case MT_LIFO:
      if (prio) *prio = 0;
      return q->u.items[q->count];
    default: {
      pslot_t *h = q->u.slots;
      item = h[0].item;
      if (prio) *prio = h[0].prio;
      pslot_t last = h[q->count];
      size_t i = 0, n = q->count;
      for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && (h[c + 1].prio < h[c].prio || (h[c + 1].prio == h[c].prio && h[c + 1].seq < h[c].seq))) c++;
        if (last.prio < h[c].prio || (last.prio == h[c].prio && last.seq < h[c].seq)) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
      return item;
    }
  }
}

MT_API int mt_queue_put_prio(mt_queue_t *q, long prio, void *item, double timeout) {
  if (q->lockfree) return lf_put(q, item, timeout);
  int r = 0;
  int64_t deadline = 0;
  bool have_deadline = false;
  mt__lock_enter(&q->lock);
  for (;;) {
    if (q->closed) { r = MT_ECLOSED; break; }
    if (!q->maxsize || q->count < q->maxsize) {
      r = grow(q);
      if (r == 0) {
        push(q, prio, item);
        if (q->getters) mt_cond_notify(&q->not_empty, 1);
      }
      break;
    }
    if (!have_deadline) { deadline = mt__deadline(timeout); have_deadline = true; }
    r = mt__cond_wait_round(&q->not_full, &q->putters, deadline);
    if (r) { if (r == MT_ETIMEDOUT) r = MT_EFULL; break; }
  }
  mt_lock_release(&q->lock);
  return r;
}

MT_API int mt_queue_put(mt_queue_t *q, void *item, double timeout) {
  return mt_queue_put_prio(q, 0, item, timeout);
}

MT_API int mt_queue_get_prio(mt_queue_t *q, void **item, long *prio, double timeout) {
  if (q->lockfree) return lf_get(q, item, prio, timeout);
  int r = 0;
  int64_t deadline = 0;
  bool have_deadline = false;
  mt__lock_enter(&q->lock);
  for (;;) {
    if (q->count) {
      *item = pop(q, prio);
      if (q->putters) mt_cond_notify(&q->not_full, 1);
      break;
    }
    if (q->closed) { r = MT_ECLOSED; break; }
    if (!have_deadline) { deadline = mt__deadline(timeout); have_deadline = true; }
    r = mt__cond_wait_round(&q->not_empty, &q->getters, deadline);
    if (r) { if (r == MT_ETIMEDOUT) r = MT_EEMPTY; break; }
  }
  mt_lock_release(&q->lock);
  return r;
}

MT_API int mt_queue_get(mt_queue_t *q, void **item, double timeout) {
  return mt_queue_get_prio(q, item, NULL, timeout);
}

MT_API size_t mt_queue_size(mt_queue_t *q) {
  if (q->lockfree) return mt__ring_size(&q->ring);
  mt__lock_enter(&q->lock);
  size_t n = q->count;
  mt_lock_release(&q->lock);
  return n;
}

MT_API bool mt_queue_empty(mt_queue_t *q) { return mt_queue_size(q) == 0; }

MT_API bool mt_queue_full(mt_queue_t *q) {
  if (q->lockfree) return mt__ring_size(&q->ring) >= q->maxsize;
  mt__lock_enter(&q->lock);
  bool full = q->maxsize && q->count >= q->maxsize;
  mt_lock_release(&q->lock);
  return full;
}

MT_API bool mt_queue_closed(mt_queue_t *q) {
  if (q->lockfree) return __atomic_load_n(&q->lf_closed, __ATOMIC_ACQUIRE) != 0;
  mt__lock_enter(&q->lock);
  bool c = q->closed;
  mt_lock_release(&q->lock);
  return c;
}

MT_API int mt_queue_task_done(mt_queue_t *q) {
  if (q->lockfree) return lf_task_done(q);
  int r = 0;
  mt__lock_enter(&q->lock);
  if (q->unfinished == 0) r = MT_EINVAL;
  else if (--q->unfinished == 0 && q->joiners) mt_cond_notify_all(&q->all_done);
  mt_lock_release(&q->lock);
  return r;
}

MT_API int mt_queue_join(mt_queue_t *q, double timeout) {
  int64_t deadline = mt__deadline(timeout);
  if (q->lockfree) return lf_join(q, deadline);
  int r = 0;
  mt__lock_enter(&q->lock);
  while (q->unfinished && (r = mt__cond_wait_round(&q->all_done, &q->joiners, deadline)) == 0) {
  }
  mt_lock_release(&q->lock);
  return r;
}

MT_API void mt_queue_close(mt_queue_t *q) {
  if (q->lockfree) {
    __atomic_store_n(&q->lf_closed, 1, __ATOMIC_SEQ_CST);
    mt__wq_wake(&q->gwq, -1, 0);
    mt__wq_wake(&q->pwq, -1, 0);
    return;
  }
  mt__lock_enter(&q->lock);
  q->closed = true;
  mt_cond_notify_all(&q->not_empty);
  mt_cond_notify_all(&q->not_full);
  mt_lock_release(&q->lock);
}

/* Immediate shutdown of the lock-free ring: no more puts, then every item
 * still in the ring goes to drop and counts as done for join. A put that
 * claimed its slot before the close and publishes after the drain leaves
 * its item for a getter, as a put that won the race would. */
static size_t lf_shutdown_now(mt_queue_t *q, void (*drop)(void *item, void *ud), void *ud) {
  __atomic_store_n(&q->lf_closed, 1, __ATOMIC_SEQ_CST);
  size_t n = 0;
  void *item;
  bool wake = false;
  while (mt__ring_get(&q->ring, &item, &q->nput_wait, &wake)) {
    if (drop) drop(item, ud);
    n++;
  }
  __atomic_fetch_add(&q->done, n, __ATOMIC_SEQ_CST);
  mt__wq_wake(&q->gwq, -1, 0);
  mt__wq_wake(&q->pwq, -1, 0);
  mt__lock_enter(&q->lock);
  mt_cond_notify_all(&q->all_done);
  mt_lock_release(&q->lock);
  return n;
}

static unsigned wq_len(mt__wq_t *wq) {
  unsigned n = 0;
  mt__ilock(&wq->lk);
  for (mt__waiter_t *w = wq->head; w; w = w->next) n++;
  mt__iunlock(&wq->lk);
  return n;
}

unsigned mt__queue_parked(mt_queue_t *q, bool putters) {
  if (q->lockfree) return wq_len(putters ? &q->pwq : &q->gwq);
  mt__lock_enter(&q->lock);
  unsigned n = putters ? q->putters : q->getters;
  mt_lock_release(&q->lock);
  return n;
}

MT_API size_t mt_queue_shutdown(mt_queue_t *q, bool immediate, void (*drop)(void *item, void *ud), void *ud) {
  if (!immediate) {
    mt_queue_close(q);
    return 0;
  }
  if (q->lockfree) return lf_shutdown_now(q, drop, ud);
  /* Take the storage out under the lock; hand the items to drop after it
   * (no user code runs under the queue's lock). */
  mt__lock_enter(&q->lock);
  q->closed = true;
  void **items = q->u.items;
  size_t cap = q->cap, head = q->head, n = q->count;
  q->u.items = NULL;
  q->cap = q->head = q->count = 0;
  q->unfinished = q->unfinished > n ? q->unfinished - n : 0;
  mt_cond_notify_all(&q->not_empty);
  mt_cond_notify_all(&q->not_full);
  mt_cond_notify_all(&q->all_done);
  mt_lock_release(&q->lock);
  for (size_t i = 0; drop && i < n; i++) {
    switch (q->kind) {
      case MT_FIFO: drop(items[(head + i) & (cap - 1)], ud); break;
      case MT_LIFO: drop(items[n - 1 - i], ud); break;
      default: drop(((pslot_t *)(void *)items)[i].item, ud); break;
    }
  }
  mt__free(items);
  return n;
}

MT_API void mt_queue_free(mt_queue_t *q) {
  if (!q) return;
  mt_cond_destroy(&q->not_empty);
  mt_cond_destroy(&q->not_full);
  mt_cond_destroy(&q->all_done);
  mt_lock_destroy(&q->lock);
  if (q->lockfree) mt__ring_free(&q->ring);
  mt__free(q->u.items);
  mt__free(q);
}
