/* park.c — parking and wait queues (see park.h for the protocol).
 *
 * Guarantees: a wake-up is never lost (the waker marks under the queue lock
 * the waiter enqueued under); a waiter node is never touched after its
 * owner may have returned (only a futex_wake on its address, which writes
 * nothing). Wait queues are FIFO. Lock order: a queue's lock is a leaf; no
 * other lock is taken while holding it. */
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/park.h"

#define MT__SPIN 400     /* pause loops before a parked thread sleeps in the kernel */
#ifndef MT__ISPIN
#define MT__ISPIN 20      /* ...and before a thread waiting for an internal lock does */
#endif

static const mt__park_ops_t *g_ops;

void mt__park_set_ops(const mt__park_ops_t *ops) { __atomic_store_n(&g_ops, ops, __ATOMIC_RELEASE); }

const mt__park_ops_t *mt__park_ops(void) { return __atomic_load_n(&g_ops, __ATOMIC_ACQUIRE); }

static inline void *current_co(void) {
  const mt__park_ops_t *ops = __atomic_load_n(&g_ops, __ATOMIC_ACQUIRE);
  return ops ? ops->current() : NULL;
}

bool mt__park_in_coroutine(void) { return current_co() != NULL; }

/* Cached kernel tid; a forked child gets a new one. */
static __thread unsigned long t_tid;
static void forget_tid(void) { t_tid = 0; }
__attribute__((constructor)) static void park_init(void) { pthread_atfork(NULL, NULL, forget_tid); }

unsigned long mt__self_id(void) {
  void *co = current_co();
  if (co) return (unsigned long)(uintptr_t)co;
  if (!t_tid) t_tid = (unsigned long)syscall(SYS_gettid);
  return t_tid;
}

void mt__waiter_init(mt__waiter_t *w) {
  w->next = w->prev = NULL;
  w->flag = 0;
  w->result = 0;
  w->queued = false;
  w->nospin = false;
  w->co = current_co();
}

/* Spinning pays only while the waker can run on another CPU. At most half
 * the CPUs (at least one) spin at a time; the other waiters sleep at once,
 * so an oversubscribed machine does not burn the time slices its wakers
 * need. */
static uint32_t g_spinners, g_max_spinners;

__attribute__((constructor)) static void spin_init(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  g_max_spinners = n > 2 ? (uint32_t)(n / 2) : 1;
}

mt__waiter_t *mt__waiter_begin(mt__waiter_t *local) {
  void *co = current_co();
  mt__waiter_t *w = co ? __atomic_load_n(&g_ops, __ATOMIC_ACQUIRE)->node(co) : NULL;
  if (!w) w = local;
  mt__waiter_init(w);
  return w;
}

int mt__park(mt__waiter_t *w, int64_t deadline) {
  if (w->co) return __atomic_load_n(&g_ops, __ATOMIC_ACQUIRE)->park(w, deadline);
  if (!w->nospin && (deadline == MT__NEVER || deadline > mt__now_ns()) &&
      __atomic_load_n(&g_spinners, __ATOMIC_RELAXED) < g_max_spinners) {
    __atomic_fetch_add(&g_spinners, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < MT__SPIN; i++) {
      if (mt__load(&w->flag)) break;
      if ((i & 63) == 63) sched_yield();    /* the waker may share this CPU */
      else mt__cpu_relax();
    }
    __atomic_fetch_sub(&g_spinners, 1, __ATOMIC_RELAXED);
    if (mt__load(&w->flag)) return 0;
  }
  /* Say "asleep" (2) before sleeping: a waker that finds 0 knows this thread
   * will see its mark before sleeping and skips the futex_wake system call. */
  uint32_t z = 0;
  if (!mt__cas(&w->flag, &z, 2)) return 0;   /* marked meanwhile */
  while (mt__load(&w->flag) != 1) {
    if (mt__futex_wait(&w->flag, 2, deadline, false) == MT_ETIMEDOUT)
      return mt__load(&w->flag) == 1 ? 0 : MT_ETIMEDOUT;
  }
  return 0;
}

mt__wake_t mt__wake_mark(mt__waiter_t *w) {
  mt__wake_t k = { &w->flag, w->co, 0, false };
  const mt__park_ops_t *ops = __atomic_load_n(&g_ops, __ATOMIC_ACQUIRE);
  if (k.co) ops->hold(k.co);
  k.sleeping = __atomic_exchange_n(&w->flag, 1, __ATOMIC_SEQ_CST) == 2;
  if (k.co) k.seq = ops->seq(k.co);
  return k;
}

void mt__wake(mt__wake_t k) {
  if (k.co)
    __atomic_load_n(&g_ops, __ATOMIC_ACQUIRE)->wake(k.co, k.seq);
  else if (k.sleeping)
    mt__futex_wake(k.futex, 1, false);
}

/* ---- internal lock: 0 free, 1 held, 2 held with sleepers ------------------ */
void mt__ilock(uint32_t *lk) {
  uint32_t c = 0;
  if (__builtin_expect(mt__cas(lk, &c, 1), 1)) return;
  for (int i = 0; i < MT__ISPIN; i++) {
    mt__cpu_relax();
    c = 0;
    if (mt__load_relaxed(lk) == 0 && mt__cas(lk, &c, 1)) return;
  }
  if (c != 2) c = mt__xchg(lk, 2);
  while (c != 0) {
    mt__futex_wait(lk, 2, MT__NEVER, false);
    c = mt__xchg(lk, 2);
  }
}

void mt__iunlock(uint32_t *lk) {
  if (mt__xchg(lk, 0) == 2) mt__futex_wake(lk, 1, false);
}

/* ---- FIFO wait queue ---------------------------------------------------------- */
void mt__wq_push(mt__wq_t *q, mt__waiter_t *w) {
  w->next = NULL;
  w->prev = q->tail;
  if (q->tail) q->tail->next = w; else q->head = w;
  q->tail = w;
  w->queued = true;
}

void mt__wq_remove(mt__wq_t *q, mt__waiter_t *w) {
  if (w->prev) w->prev->next = w->next; else q->head = w->next;
  if (w->next) w->next->prev = w->prev; else q->tail = w->prev;
  w->next = w->prev = NULL;
  w->queued = false;
}

mt__waiter_t *mt__wq_pop(mt__wq_t *q) {
  mt__waiter_t *w = q->head;
  if (w) mt__wq_remove(q, w);
  return w;
}

int mt__wq_wake(mt__wq_t *q, int n, int result) {
  enum { BATCH = 32 };
  int woken = 0;
  for (;;) {
    mt__wake_t tok[BATCH];
    int k = 0;
    mt__ilock(&q->lk);
    while (k < BATCH && (n < 0 || woken + k < n)) {
      mt__waiter_t *w = mt__wq_pop(q);
      if (!w) break;
      w->result = result;
      tok[k++] = mt__wake_mark(w);
    }
    bool more = !mt__wq_empty(q);
    mt__iunlock(&q->lk);
    for (int i = 0; i < k; i++) mt__wake(tok[i]);
    woken += k;
    if (k < BATCH || !more || (n >= 0 && woken >= n)) return woken;
  }
}
