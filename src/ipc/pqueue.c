/* pqueue.c — the cross-process queue (multiprocessing.JoinableQueue).
 *
 * Everything lives in one shared mapping: a header, then a byte ring of
 * records [u64 length][bytes] that may wrap around the end.
 *
 * Two locks, not one: producers serialise on `plock` and consumers on
 * `clock` (both robust and process-shared), and the two sides meet only
 * through two published words, `tailw` (written by producers) and `headw`
 * (written by consumers). Each word packs a ring offset (low 40 bits) and a
 * running count of records (high 24 bits), so the number of queued records
 * is the difference of the counts and a single store publishes a record or
 * consumes one. Each side keeps the other's word as it last read it and
 * reads it afresh only when that copy says full (empty): the other side
 * only ever frees room (adds records), so a stale copy errs on the safe
 * side. With one producer and one consumer each keeps its lock and its
 * copy in its own cache, and what travels between the processes is the
 * record bytes and, now and then, a word — no line moves on every message.
 *
 * Sleeping is an eventcount per side on a shared futex word (`gseq` for
 * getters, `pseq` for putters, `jseq` for joiners): a sleeper reads the
 * word, counts itself in the matching `*wait` (seq_cst RMW), looks at the
 * queue once more and sleeps only if the word is unchanged; the other side
 * publishes (seq_cst) and then bumps the word and wakes only if someone
 * counted itself. Only the holder of plock (clock) ever sleeps on pseq
 * (gseq), so the others queue on the lock.
 *
 * Crash safety: a put copies its record into free space and then
 * publishes it with one store of tailw; a get copies the record out and
 * then consumes it with one store of headw. A process that dies holding
 * either lock thus leaves the old state or the new one, and the next holder
 * (told by MT_EOWNERDEAD) only clears the dead one's sleeper count and, on
 * the producers' side, the one 64-bit put counter that runs ahead of tailw
 * (see put). A consumer that dies mid-get leaves the record queued.
 *
 * Limits: capacity up to 2^40 bytes, and at most 2^24 - 1 records queued at
 * once (the count's width); a larger maxitems is capped there.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ipc/wrapcopy.h"
#include "mt/ipc.h"
#include "sync/sync_internal.h"

#define PQ_MAGIC 0x6d74707175653202ull   /* "mtpque" v2 */
#define REC 8u                           /* framing bytes per record */
#define OFF_BITS 40
#define OFF_MASK ((UINT64_C(1) << OFF_BITS) - 1)
#define CNT_MASK ((UINT64_C(1) << (64 - OFF_BITS)) - 1)
#define LINE _Alignas(64)
#define SPIN_NS 20000

typedef struct {
  uint64_t magic;
  uint64_t maxitems, cap, map_size;
  LINE mt_lock_t plock;         /* producers' side */
  uint64_t puts;                /* records ever put; runs ahead of tailw by at most one */
  uint64_t hcache;              /* headw as producers last read it (under plock) */
  LINE uint64_t tailw;          /* published by producers */
  LINE mt_lock_t clock;         /* consumers' side */
  uint64_t tcache;              /* tailw as consumers last read it (under clock) */
  LINE uint64_t headw;          /* published by consumers */
  LINE uint32_t gseq, gwait, pseq, pwait, jseq, jwait, closed;
  uint64_t done;                /* task_done count */
  LINE unsigned char data[];
} pq_hdr_t;

struct mt_pqueue {
  pq_hdr_t *h;
  size_t map_size;
};

static inline uint64_t w_off(uint64_t w) { return w & OFF_MASK; }
static inline uint64_t w_cnt(uint64_t w) { return w >> OFF_BITS; }
static inline uint64_t mkw(uint64_t cnt, uint64_t off) { return ((cnt & CNT_MASK) << OFF_BITS) | off; }
static inline uint64_t queued(uint64_t tw, uint64_t hw) { return (w_cnt(tw) - w_cnt(hw)) & CNT_MASK; }
/* Bytes in use: the offsets alone cannot tell a full ring from an empty one. */
static inline uint64_t used(const pq_hdr_t *h, uint64_t tw, uint64_t hw) {
  if (!queued(tw, hw)) return 0;
  uint64_t d = (w_off(tw) + h->cap - w_off(hw)) % h->cap;
  return d ? d : h->cap;
}
static inline uint64_t max_items(const pq_hdr_t *h) {
  return h->maxitems && h->maxitems < CNT_MASK ? h->maxitems : CNT_MASK;
}

#define LD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)

/* After a side's lock holder died. Only the holder sleeps on its side's
 * futex word, so a left-over sleeper count is the dead one's. */
static void repair_producers(pq_hdr_t *h) {
  ST(&h->pwait, 0);
  uint64_t tc = w_cnt(LD(&h->tailw)), p = LD(&h->puts);
  if ((p & CNT_MASK) != tc) ST(&h->puts, p - 1);   /* counted, never published */
}
static void repair_consumers(pq_hdr_t *h) { ST(&h->gwait, 0); }

static int side_lock(pq_hdr_t *h, mt_lock_t *l, int64_t deadline) {
  for (;;) {
    int r = mt__lock_acquire_until(l, deadline, NULL);
    if (r == MT_EOWNERDEAD) {
      if (l == &h->plock) repair_producers(h);
      else repair_consumers(h);
      return 0;
    }
    if (r == 0 || r == MT_ETIMEDOUT) return r;
  }
}

static void wake(uint32_t *seq, uint32_t *nwait, int n) {
  if (LD(nwait)) {
    __atomic_fetch_add(seq, 1, __ATOMIC_SEQ_CST);
    mt__futex_wake(seq, n, true);
  }
}

/* One eventcount round: sleeps on *seq unless ready(h) turns true after
 * counting ourselves in *nwait. MT_ETIMEDOUT past the deadline, else 0. */
static int ec_wait(pq_hdr_t *h, uint32_t *seq, uint32_t *nwait, int64_t deadline, bool (*ready)(pq_hdr_t *, void *),
                   void *ctx) {
  int64_t now = mt__now_ns();
  if (deadline != MT__NEVER && now >= deadline) return MT_ETIMEDOUT;
  /* The other side is usually a few hundred nanoseconds away: watch for it
   * for up to SPIN_NS before the system calls of a shared-futex sleep. Look
   * only every few hundred nanoseconds: each look pulls the other side's
   * word into this cache, and its next store must then take it back — a
   * look per message would make every message pay that round trip, while
   * a slower watch finds several messages waiting. */
  int64_t until = deadline - now < SPIN_NS ? deadline : now + SPIN_NS;
  while (!ready(h, ctx)) {
    for (int i = 0; i < 16; i++) mt__cpu_relax();
    if (mt__now_ns() > until) break;
  }
  if (ready(h, ctx)) return 0;
  uint32_t v = LD(seq);
  __atomic_fetch_add(nwait, 1, __ATOMIC_SEQ_CST);
  if (!ready(h, ctx)) mt__futex_wait(seq, v, deadline, true);
  __atomic_fetch_sub(nwait, 1, __ATOMIC_SEQ_CST);
  return 0;                     /* the caller re-checks, and then the deadline */
}

static int init_hdr(pq_hdr_t *h, size_t maxitems, size_t cap, size_t map_size) {
  int e = mt_lock_init(&h->plock, MT_SHARED | MT__NOCHECK);
  if (!e) e = mt_lock_init(&h->clock, MT_SHARED | MT__NOCHECK);
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

typedef struct { uint64_t need; } put_ctx_t;

static bool has_room(pq_hdr_t *h, void *ctx) {
  uint64_t need = ((put_ctx_t *)ctx)->need;
  uint64_t tw = LD(&h->tailw), hw = LD(&h->headw);
  return LD(&h->closed) || (h->cap - used(h, tw, hw) >= need && queued(tw, hw) < max_items(h));
}

MT_API int mt_pqueue_put(mt_pqueue_t *q, const void *buf, size_t len, double timeout) {
  pq_hdr_t *h = q->h;
  if (len > h->cap - REC) return MT_EMSGSIZE;
  if (len && !buf) return MT_EINVAL;
  put_ctx_t c = { REC + len };
  int64_t deadline = mt__deadline(timeout);
  if (side_lock(h, &h->plock, deadline)) return MT_EFULL;
  int r = 0;
  for (;;) {
    if (LD(&h->closed)) { r = MT_ECLOSED; break; }
    uint64_t tw = h->tailw, hw = h->hcache;
    if (h->cap - used(h, tw, hw) >= c.need && queued(tw, hw) < max_items(h)) break;
    h->hcache = hw = LD(&h->headw);
    if (h->cap - used(h, tw, hw) >= c.need && queued(tw, hw) < max_items(h)) break;
    if (ec_wait(h, &h->pseq, &h->pwait, deadline, has_room, &c)) { r = MT_EFULL; break; }
  }
  if (r == 0) {
    uint64_t tw = h->tailw, l = len;
    mt__wrap_copy_in(h->data, h->cap, w_off(tw), &l, sizeof l);
    if (len) mt__wrap_copy_in(h->data, h->cap, w_off(tw) + REC, buf, len);
    /* Counted first, so a consumer's task_done never outruns it; a death
     * between the two is undone by repair_producers. */
    __atomic_store_n(&h->puts, h->puts + 1, __ATOMIC_RELEASE);   /* ordered by the next store */
    ST(&h->tailw, mkw(w_cnt(tw) + 1, (w_off(tw) + c.need) % h->cap));    /* publishes */
    wake(&h->gseq, &h->gwait, 1);
  }
  mt_lock_release(&h->plock);
  return r;
}

static bool has_record(pq_hdr_t *h, void *ctx) {
  (void)ctx;
  return LD(&h->closed) || queued(LD(&h->tailw), LD(&h->headw));
}

/* A getter that found the queue empty and then saw a record arrive lets
 * a few more gather (while they keep coming: at most GATHER records or a
 * couple of microseconds) and takes them from its copy of tailw without
 * looking again. Taken one by one, each record would cost the producer's
 * next store a cache-line round trip: the two would run in lockstep. */
#define GATHER 32
static void gather(pq_hdr_t *h) {
  uint64_t n = queued(h->tcache, h->headw);
  for (int k = 0; k < 8 && n < GATHER; k++) {
    for (int i = 0; i < 16; i++) mt__cpu_relax();
    uint64_t tw = LD(&h->tailw), m = queued(tw, h->headw);
    if (m <= n) break;
    h->tcache = tw;
    n = m;
  }
}

MT_API int mt_pqueue_get(mt_pqueue_t *q, void **buf, size_t *len, double timeout) {
  pq_hdr_t *h = q->h;
  *buf = NULL;
  *len = 0;
  int64_t deadline = mt__deadline(timeout);
  if (side_lock(h, &h->clock, deadline)) return MT_EEMPTY;
  int r = 0;
  for (bool waited = false;; waited = true) {
    if (queued(h->tcache, h->headw)) break;
    if (queued(h->tcache = LD(&h->tailw), h->headw)) {
      if (waited) gather(h);
      break;
    }
    if (LD(&h->closed)) { r = MT_ECLOSED; break; }
    if (ec_wait(h, &h->gseq, &h->gwait, deadline, has_record, NULL)) { r = MT_EEMPTY; break; }
  }
  if (r == 0) {
    uint64_t hw = h->headw, l;
    mt__wrap_copy_out(h->data, h->cap, w_off(hw), &l, sizeof l);
    void *b = l ? malloc((size_t)l) : NULL;   /* the caller frees it with free() */
    if (l && !b) {
      r = MT_ENOMEM;                     /* the message stays queued */
    } else {
      if (l) mt__wrap_copy_out(h->data, h->cap, w_off(hw) + REC, b, (size_t)l);
      ST(&h->headw, mkw(w_cnt(hw) + 1, (w_off(hw) + REC + l) % h->cap));   /* consumes it */
      *buf = b;
      *len = (size_t)l;
      wake(&h->pseq, &h->pwait, 1);
    }
  }
  mt_lock_release(&h->clock);
  return r;
}

MT_API size_t mt_pqueue_size(mt_pqueue_t *q) {
  uint64_t hw = LD(&q->h->headw);
  return (size_t)queued(LD(&q->h->tailw), hw);
}

MT_API int mt_pqueue_task_done(mt_pqueue_t *q) {
  pq_hdr_t *h = q->h;
  uint64_t d = LD(&h->done);
  do {
    if (d >= LD(&h->puts)) return MT_EINVAL;
  } while (!__atomic_compare_exchange_n(&h->done, &d, d + 1, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
  if (d + 1 == LD(&h->puts)) wake(&h->jseq, &h->jwait, INT_MAX);
  return 0;
}

static bool all_done(pq_hdr_t *h, void *ctx) {
  (void)ctx;
  return LD(&h->done) >= LD(&h->puts);
}

/* A producer that died between counting a put and publishing it leaves
 * `puts` one ahead until the next producer repairs it; a joiner cannot
 * wait for that, so it looks at the producers' lock itself now and then. */
static void probe_producers(pq_hdr_t *h) {
  int r = mt__lock_acquire_until(&h->plock, 0, NULL);    /* a try: the deadline has passed */
  if (r != 0 && r != MT_EOWNERDEAD) return;              /* a live producer holds it */
  if (r == MT_EOWNERDEAD) repair_producers(h);
  mt_lock_release(&h->plock);
}

#define JOIN_PROBE_NS 100000000   /* 100 ms */

MT_API int mt_pqueue_join(mt_pqueue_t *q, double timeout) {
  pq_hdr_t *h = q->h;
  int64_t deadline = mt__deadline(timeout);
  while (!all_done(h, NULL)) {
    int64_t slice = mt__now_ns() + JOIN_PROBE_NS;
    if (ec_wait(h, &h->jseq, &h->jwait, deadline < slice ? deadline : slice, all_done, NULL) &&
        deadline <= slice)
      return MT_ETIMEDOUT;
    probe_producers(h);
  }
  return 0;
}

MT_API void mt_pqueue_close(mt_pqueue_t *q) {
  pq_hdr_t *h = q->h;
  ST(&h->closed, 1);
  /* Everyone: sleepers re-check and see `closed`. */
  __atomic_fetch_add(&h->gseq, 1, __ATOMIC_SEQ_CST);
  __atomic_fetch_add(&h->pseq, 1, __ATOMIC_SEQ_CST);
  mt__futex_wake(&h->gseq, INT_MAX, true);
  mt__futex_wake(&h->pseq, INT_MAX, true);
}

MT_API void mt_pqueue_free(mt_pqueue_t *q) {
  if (!q) return;
  mt_shm_free(q->h, q->map_size);
  mt__free(q);
}

/* Test hook: a producer that has counted its put and dies before it
 * publishes it — takes the producers' lock, counts, and keeps the lock. */
void mt__pqueue_hold_mid_put(mt_pqueue_t *q) {
  side_lock(q->h, &q->h->plock, MT__NEVER);
  __atomic_store_n(&q->h->puts, q->h->puts + 1, __ATOMIC_RELEASE);
}

/* Test hook: takes both of the queue's locks and keeps them (to be killed
 * holding them). */
void mt__pqueue_hold_lock(mt_pqueue_t *q) {
  side_lock(q->h, &q->h->plock, MT__NEVER);
  side_lock(q->h, &q->h->clock, MT__NEVER);
}
