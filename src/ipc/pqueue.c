/* pqueue.c — the cross-process queue (multiprocessing.JoinableQueue).
 *
 * Everything lives in one shared mapping: a header with a robust,
 * process-shared Lock and three Conditions on it, then a byte ring of
 * records [u64 length][bytes] that may wrap around the end. head and tail
 * are ever-growing byte positions; (tail - head) bytes are in use.
 *
 * Crash safety: a put copies its record into free space first and then
 * publishes it by advancing tail; a get copies the record out and then
 * advances head. A process that dies holding the lock thus leaves either
 * the old state or the new one for head and tail; `count` may be off by
 * one, so the next holder (told by MT_EOWNERDEAD) recounts the records
 * from head to tail. Waiter counters may be off too: at worst a notify
 * too many, never a lost one (waits also re-check on every wake-up).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ipc/wrapcopy.h"
#include "mt/ipc.h"
#include "sync/sync_internal.h"

#define PQ_MAGIC 0x6d74707175657565ull   /* "mtpqueue" */
#define REC 8u                           /* framing bytes per record */

typedef struct {
  uint64_t magic;
  mt_lock_t lock;
  mt_cond_t not_empty, not_full, all_done;
  uint64_t maxitems, cap;
  uint64_t head, tail;
  uint64_t count, unfinished;
  uint32_t closed, getters, putters, joiners;
  uint64_t map_size;
  unsigned char data[];
} pq_hdr_t;

struct mt_pqueue {
  pq_hdr_t *h;
  size_t map_size;
};

static void copy_in(pq_hdr_t *h, uint64_t pos, const void *src, size_t n) {
  mt__wrap_copy_in(h->data, h->cap, pos, src, n);
}

static void copy_out(pq_hdr_t *h, uint64_t pos, void *dst, size_t n) {
  mt__wrap_copy_out(h->data, h->cap, pos, dst, n);
}

/* After a holder died: rebuild count from the records themselves. */
static void repair(pq_hdr_t *h) {
  uint64_t n = 0, pos = h->head;
  while (pos < h->tail) {
    uint64_t len;
    copy_out(h, pos, &len, sizeof len);
    pos += REC + len;
    n++;
  }
  h->count = n;
  if (pos != h->tail) {            /* cannot happen with whole-record publication */
    h->head = h->tail;
    h->count = 0;
  }
}

/* Takes the lock by the deadline (0 or MT_ETIMEDOUT), repairing the ring
 * if its last holder died. */
static int pq_lock_until(pq_hdr_t *h, int64_t deadline) {
  for (;;) {
    int r = mt__lock_acquire_until(&h->lock, deadline, NULL);
    if (r == MT_EOWNERDEAD) { repair(h); return 0; }
    if (r == 0 || r == MT_ETIMEDOUT) return r;
  }
}
static void pq_lock(pq_hdr_t *h) { pq_lock_until(h, MT__NEVER); }

/* One wait round on c (lock held): MT_ETIMEDOUT when past the deadline. */
static int pq_wait(pq_hdr_t *h, mt_cond_t *c, uint32_t *waiters, int64_t deadline) {
  if (deadline != MT__NEVER && mt__now_ns() >= deadline) return MT_ETIMEDOUT;
  (*waiters)++;
  int r = mt__cond_wait_until(c, deadline);
  (*waiters)--;
  if (r == MT_EOWNERDEAD) repair(h);
  return 0;
}

static int init_hdr(pq_hdr_t *h, size_t maxitems, size_t cap, size_t map_size) {
  int e = mt_lock_init(&h->lock, MT_SHARED | MT__NOCHECK);
  if (!e) e = mt_cond_init(&h->not_empty, &h->lock);
  if (!e) e = mt_cond_init(&h->not_full, &h->lock);
  if (!e) e = mt_cond_init(&h->all_done, &h->lock);
  if (e) return e;
  h->maxitems = maxitems;
  h->cap = cap;
  h->map_size = map_size;
  __atomic_store_n(&h->magic, PQ_MAGIC, __ATOMIC_RELEASE);
  return 0;
}

static size_t size_for(size_t cap) { return sizeof(pq_hdr_t) + cap; }

/* The common end of new/open: the handle on success, or everything undone. */
static mt_pqueue_t *finish(mt_pqueue_t *q, pq_hdr_t *h, size_t sz, int e) {
  if (e) {
    if (h) mt_shm_free(h, sz);
    mt__free(q);
    mt__set_last_error(e);
    return NULL;
  }
  q->h = h;
  q->map_size = sz;
  mt__set_last_error(0);
  return q;
}

MT_API mt_pqueue_t *mt_pqueue_new(size_t maxitems, size_t capacity_bytes) {
  if (capacity_bytes < REC || capacity_bytes > ((size_t)1 << 40)) {
    mt__set_last_error(MT_EINVAL);
    return NULL;
  }
  mt_pqueue_t *q = mt__malloc(sizeof *q);
  size_t sz = size_for(capacity_bytes);
  pq_hdr_t *h = q ? mt_shm_alloc(sz) : NULL;
  return finish(q, h, sz, !q || !h ? MT_ENOMEM : init_hdr(h, maxitems, capacity_bytes, sz));
}

MT_API mt_pqueue_t *mt_pqueue_open(const char *name, size_t maxitems, size_t capacity_bytes, int flags) {
  if (capacity_bytes < REC || capacity_bytes > ((size_t)1 << 40)) {
    mt__set_last_error(MT_EINVAL);
    return NULL;
  }
  size_t sz = size_for(capacity_bytes);
  mt_pqueue_t *q = mt__malloc(sizeof *q);
  if (!q) {
    mt__set_last_error(MT_ENOMEM);
    return NULL;
  }
  /* Whoever creates the segment initialises it; the others wait for that. */
  pq_hdr_t *h = (flags & MT_SHM_CREATE) ? mt_shm_open(name, sz, MT_SHM_CREATE | MT_SHM_EXCL) : NULL;
  int e = 0;
  if (h) {
    e = init_hdr(h, maxitems, capacity_bytes, sz);
  } else if (!(flags & MT_SHM_CREATE) || mt_last_error() == -EEXIST) {
    if (flags & MT_SHM_EXCL) e = MT_EEXIST;
    else if (!(h = mt_shm_open(name, sz, 0))) e = mt_last_error();
    for (int i = 0; !e && __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != PQ_MAGIC; i++) {
      if (i > 2000) e = MT_EINVAL;        /* not a queue, or its creator died first */
      else mt_sleep(0.001);
    }
    if (!e && (h->cap != capacity_bytes)) e = MT_EINVAL;
  } else {
    e = mt_last_error();
  }
  return finish(q, h, sz, e);
}

MT_API int mt_pqueue_put(mt_pqueue_t *q, const void *buf, size_t len, double timeout) {
  pq_hdr_t *h = q->h;
  if (len > h->cap - REC) return MT_EMSGSIZE;
  if (len && !buf) return MT_EINVAL;
  uint64_t need = REC + len;
  int64_t deadline = mt__deadline(timeout);
  if (pq_lock_until(h, deadline)) return MT_EFULL;
  int r = 0;
  for (;;) {
    if (h->closed) { r = MT_ECLOSED; break; }
    if (h->tail - h->head + need <= h->cap && (!h->maxitems || h->count < h->maxitems)) break;
    if (pq_wait(h, &h->not_full, &h->putters, deadline)) { r = MT_EFULL; break; }
  }
  if (r == 0) {
    uint64_t l = len;
    copy_in(h, h->tail, &l, sizeof l);
    if (len) copy_in(h, h->tail + REC, buf, len);
    h->tail += need;                     /* publishes the record */
    h->count++;
    h->unfinished++;
    if (h->getters) mt_cond_notify(&h->not_empty, 1);
  }
  mt_lock_release(&h->lock);
  return r;
}

MT_API int mt_pqueue_get(mt_pqueue_t *q, void **buf, size_t *len, double timeout) {
  pq_hdr_t *h = q->h;
  *buf = NULL;
  *len = 0;
  int64_t deadline = mt__deadline(timeout);
  if (pq_lock_until(h, deadline)) return MT_EEMPTY;
  int r = 0;
  for (;;) {
    if (h->tail != h->head) break;
    if (h->closed) { r = MT_ECLOSED; break; }
    if (pq_wait(h, &h->not_empty, &h->getters, deadline)) { r = MT_EEMPTY; break; }
  }
  if (r == 0) {
    uint64_t l;
    copy_out(h, h->head, &l, sizeof l);
    void *b = l ? malloc((size_t)l) : NULL;   /* the caller frees it with free() */
    if (l && !b) {
      r = MT_ENOMEM;                     /* the message stays queued */
    } else {
      if (l) copy_out(h, h->head + REC, b, (size_t)l);
      h->head += REC + l;                /* consumes it */
      h->count--;
      *buf = b;
      *len = (size_t)l;
      if (h->putters) mt_cond_notify(&h->not_full, 1);
    }
  }
  mt_lock_release(&h->lock);
  return r;
}

MT_API size_t mt_pqueue_size(mt_pqueue_t *q) {
  pq_lock(q->h);
  size_t n = (size_t)q->h->count;
  mt_lock_release(&q->h->lock);
  return n;
}

MT_API int mt_pqueue_task_done(mt_pqueue_t *q) {
  pq_hdr_t *h = q->h;
  int r = 0;
  pq_lock(h);
  if (h->unfinished == 0) r = MT_EINVAL;
  else if (--h->unfinished == 0 && h->joiners) mt_cond_notify_all(&h->all_done);
  mt_lock_release(&h->lock);
  return r;
}

MT_API int mt_pqueue_join(mt_pqueue_t *q, double timeout) {
  pq_hdr_t *h = q->h;
  int64_t deadline = mt__deadline(timeout);
  if (pq_lock_until(h, deadline)) return MT_ETIMEDOUT;
  int r = 0;
  while (h->unfinished && (r = pq_wait(h, &h->all_done, &h->joiners, deadline)) == 0) {
  }
  mt_lock_release(&h->lock);
  return r;
}

MT_API void mt_pqueue_close(mt_pqueue_t *q) {
  pq_hdr_t *h = q->h;
  pq_lock(h);
  h->closed = 1;
  mt_cond_notify_all(&h->not_empty);
  mt_cond_notify_all(&h->not_full);
  mt_lock_release(&h->lock);
}

MT_API void mt_pqueue_free(mt_pqueue_t *q) {
  if (!q) return;
  mt_shm_free(q->h, q->map_size);
  mt__free(q);
}

/* Test hook: takes the queue's lock and keeps it (to be killed holding it). */
void mt__pqueue_hold_lock(mt_pqueue_t *q) { pq_lock(q->h); }
