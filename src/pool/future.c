/* future.c — futures: states, waiting, callbacks, mt_wait, as_completed.
 *
 * One word holds the state (PENDING, RUNNING, DONE, CANCELLED) and a SLOW
 * bit that says "someone is waiting, or a callback or watcher is attached".
 * State changes are CASes on that word, so a future nobody waits on goes
 * pending -> running -> done with three atomic operations and no lock.
 * Waiters, callbacks and watchers register under the future's internal lock
 * (its wait queue's), setting SLOW by a CAS that fails once the state is
 * final; a finisher that sees SLOW takes the same lock, so it finds every
 * registration made before it finished, and a later one sees the final
 * state and runs at once. Finishing writes code and result before the CAS
 * that publishes them. Watchers (mt_wait, as_completed) run under the lock
 * — unwatch can then guarantee they are not running — and user callbacks
 * after it, in registration order; each exactly once. Lock order: future
 * lock -> (watcher's) event or as_completed lock; nothing takes a future
 * lock while holding those.
 */
#include <stdlib.h>
#include <string.h>

#include "core/park.h"
#include "pool/future_internal.h"
#include "sync/sync_internal.h"

enum { PENDING = 0, RUNNING = 1, DONE = 2, CANCELLED = 3, STATE = 3, SLOW = 4 };

typedef struct cb_node {
  struct cb_node *next;
  void (*cb)(mt_future_t *, void *);
  void *ud;
} cb_node_t;

struct mt_future {
  uint32_t refs;
  uint32_t state;               /* STATE bits | SLOW */
  int code;
  void *result;
  mt__wq_t wq;                  /* waiters; wq.lk guards the lists below */
  mt__fwatch_t *watchers;
  cb_node_t *cbs, **cbs_tail;
};

static inline uint32_t st(const mt_future_t *f) { return mt__load(&f->state) & STATE; }
static inline bool final(uint32_t s) { return (s & STATE) >= DONE; }

mt_future_t *mt__future_new(unsigned refs) {
  mt_future_t *f = mt__malloc(sizeof *f);
  if (!f) return NULL;
  f->refs = refs;               /* not yet shared: plain stores */
  f->state = PENDING;
  f->code = 0;
  f->result = NULL;
  f->wq = (mt__wq_t){ 0 };
  f->watchers = NULL;
  f->cbs = NULL;
  f->cbs_tail = &f->cbs;
  return f;
}

MT_API mt_future_t *mt_future_retain(mt_future_t *f) {
  mt__fetch_add(&f->refs, 1);
  return f;
}

MT_API void mt_future_release(mt_future_t *f) {
  if (!f || mt__fetch_sub(&f->refs, 1) != 1) return;
  for (cb_node_t *c = f->cbs, *n; c; c = n) { n = c->next; mt__free(c); }
  mt__free(f);
}

/* Under the lock: marks the future SLOW unless it is final. */
static bool register_slow(mt_future_t *f) {
  uint32_t s = mt__load(&f->state);
  for (;;) {
    if (final(s)) return false;
    if ((s & SLOW) || mt__cas(&f->state, &s, s | SLOW)) return true;
  }
}

bool mt__future_start(mt_future_t *f) {
  uint32_t s = mt__load(&f->state);
  while ((s & STATE) == PENDING)
    if (mt__cas(&f->state, &s, (s & SLOW) | RUNNING)) return true;
  return false;
}

static bool finish(mt_future_t *f, uint32_t to, int code, void *result, bool only_pending) {
  uint32_t s = mt__load(&f->state);
  for (;;) {
    if (final(s) || (only_pending && (s & STATE) != PENDING)) return false;
    if (to == DONE) {           /* only the running task finishes: no rival writer */
      f->code = code;
      f->result = result;
    }
    if (mt__cas(&f->state, &s, to)) break;
  }
  if (to == CANCELLED) {
    f->code = code;             /* readers of a cancelled future never look */
    f->result = result;
  }
  if (!(s & SLOW)) return true;
  mt__ilock(&f->wq.lk);
  for (mt__fwatch_t *w = f->watchers; w; w = w->next) w->fn(f, w->ud);
  f->watchers = NULL;
  cb_node_t *cbs = f->cbs;
  f->cbs = NULL;
  f->cbs_tail = &f->cbs;
  bool waiters = !mt__wq_empty(&f->wq);
  mt__iunlock(&f->wq.lk);
  if (waiters) mt__wq_wake(&f->wq, -1, 0);
  for (cb_node_t *c = cbs, *n; c; c = n) {
    n = c->next;
    c->cb(f, c->ud);
    mt__free(c);
  }
  return true;
}

bool mt__future_finish(mt_future_t *f, int code, void *result) { return finish(f, DONE, code, result, false); }
bool mt__future_cancel(mt_future_t *f) { return finish(f, CANCELLED, MT_ECANCELED, NULL, true); }
int  mt__future_code(const mt_future_t *f) { return st(f) == CANCELLED ? MT_ECANCELED : f->code; }

bool mt__future_watch(mt_future_t *f, mt__fwatch_t *w) {
  mt__ilock(&f->wq.lk);
  bool add = register_slow(f);
  if (add) {
    w->next = f->watchers;
    f->watchers = w;
  }
  mt__iunlock(&f->wq.lk);
  return add;
}

void mt__future_unwatch(mt_future_t *f, mt__fwatch_t *w) {
  mt__ilock(&f->wq.lk);
  for (mt__fwatch_t **pp = &f->watchers; *pp; pp = &(*pp)->next) {
    if (*pp == w) { *pp = w->next; break; }
  }
  mt__iunlock(&f->wq.lk);
}

MT_API bool mt_future_done(const mt_future_t *f) { return final(mt__load(&f->state)); }
MT_API bool mt_future_cancelled(const mt_future_t *f) { return st(f) == CANCELLED; }
MT_API bool mt_future_running(const mt_future_t *f) { return st(f) == RUNNING; }

MT_API int mt_future_wait(mt_future_t *f, double timeout) {
  if (mt_future_done(f)) return 0;
  int64_t deadline = mt__deadline(timeout);
  for (;;) {
    MT__WAITER(w);
    mt__ilock(&f->wq.lk);
    if (!register_slow(f)) {
      mt__iunlock(&f->wq.lk);
      return 0;
    }
    if (deadline != MT__NEVER && mt__now_ns() >= deadline) {
      mt__iunlock(&f->wq.lk);
      return MT_ETIMEDOUT;
    }
    mt__wq_push(&f->wq, w);
    mt__iunlock(&f->wq.lk);
    int r = mt__park(w, deadline);
    if (r != 0) {
      mt__ilock(&f->wq.lk);
      if (w->queued) mt__wq_remove(&f->wq, w);
      mt__iunlock(&f->wq.lk);
      if (r == MT_ECANCELED) return r;
    }
  }
}

MT_API int mt_future_result(mt_future_t *f, double timeout, void **result) {
  int r = mt_future_wait(f, timeout);
  if (r) return r;
  if (st(f) == CANCELLED) return MT_ECANCELED;
  if (result) *result = f->result;
  return f->code;
}

MT_API int mt_future_cancel(mt_future_t *f) {
  if (mt__future_cancel(f)) return 0;
  switch (st(f)) {
    case CANCELLED: return 0;
    case RUNNING: return MT_ERUNNING;
    default: return MT_EBUSY;
  }
}

MT_API int mt_future_add_done_callback(mt_future_t *f, void (*cb)(mt_future_t *, void *), void *ud) {
  if (!cb) return MT_EINVAL;
  cb_node_t *c = mt__malloc(sizeof *c);
  if (!c) return MT_ENOMEM;
  c->next = NULL;
  c->cb = cb;
  c->ud = ud;
  mt__ilock(&f->wq.lk);
  bool later = register_slow(f);
  if (later) {
    *f->cbs_tail = c;
    f->cbs_tail = &c->next;
  }
  mt__iunlock(&f->wq.lk);
  if (!later) {
    cb(f, ud);
    mt__free(c);
  }
  return 0;
}

/* ---- mt_wait ----------------------------------------------------------------- */
typedef struct {
  mt_event_t ev;
  size_t n, done;
  mt_wait_mode_t mode;
} wait_ctx_t;

static void wait_cb(mt_future_t *f, void *ud) {
  wait_ctx_t *c = ud;
  size_t done = mt__fetch_add(&c->done, 1) + 1;
  bool exc = mt__future_code(f) != 0;
  if (done == c->n || c->mode == MT_FIRST_COMPLETED || (c->mode == MT_FIRST_EXCEPTION && exc))
    mt_event_set(&c->ev);
}

MT_API int mt_wait(mt_future_t **fs, size_t n, mt_wait_mode_t mode, double timeout) {
  if (n == 0) return 0;
  /* On the heap, not the stack: other threads touch it while we wait, and a
   * shared-stack coroutine's frames are elsewhere while it is parked. */
  wait_ctx_t *c = mt__calloc(1, sizeof *c);
  mt__fwatch_t *nodes = c ? mt__calloc(n, sizeof *nodes) : NULL;
  if (!nodes) {
    mt__free(c);
    return MT_ENOMEM;
  }
  c->n = n;
  c->mode = mode;
  mt_event_init(&c->ev, 0);
  for (size_t i = 0; i < n; i++) {
    nodes[i].fn = wait_cb;
    nodes[i].ud = c;
    if (!mt__future_watch(fs[i], &nodes[i])) wait_cb(fs[i], c);
  }
  int r = mt_event_wait(&c->ev, timeout);
  for (size_t i = 0; i < n; i++) mt__future_unwatch(fs[i], &nodes[i]);
  mt_event_destroy(&c->ev);
  mt__free(c);
  mt__free(nodes);
  if (r) return r;
  int done = 0;
  for (size_t i = 0; i < n; i++) done += mt_future_done(fs[i]);
  return done;
}

/* ---- as_completed --------------------------------------------------------------- */
struct mt_as_completed {
  mt_cond_t cond;               /* with its own lock: guards ready/w */
  size_t n, r, w;
  mt_future_t **fs;
  mt_future_t **ready;
  mt__fwatch_t *nodes;
};

static void ac_cb(mt_future_t *f, void *ud) {
  mt_as_completed_t *it = ud;
  mt_cond_acquire(&it->cond, MT_FOREVER);
  it->ready[it->w++] = f;
  mt_cond_notify(&it->cond, 1);
  mt_cond_release(&it->cond);
}

static int ptr_cmp(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)*(mt_future_t *const *)a, y = (uintptr_t)*(mt_future_t *const *)b;
  return x < y ? -1 : x > y;
}

/* fs without repeats, in the order of first appearance (Python's
 * as_completed takes a set): *n becomes the count of distinct futures. */
static mt_future_t **distinct(mt_future_t **fs, size_t *n) {
  size_t m = *n;
  mt_future_t **sorted = mt__calloc(m ? m : 1, sizeof *sorted);
  mt_future_t **out = mt__calloc(m ? m : 1, sizeof *out);
  bool *taken = mt__calloc(m ? m : 1, sizeof *taken);
  if (!sorted || !out || !taken) {
    mt__free(sorted); mt__free(out); mt__free(taken);
    return NULL;
  }
  memcpy(sorted, fs, m * sizeof *fs);
  qsort(sorted, m, sizeof *sorted, ptr_cmp);
  size_t k = 0;
  for (size_t i = 0; i < m; i++) {
    mt_future_t **hit = bsearch(&fs[i], sorted, m, sizeof *sorted, ptr_cmp);
    while (hit > sorted && hit[-1] == fs[i]) hit--;     /* the first of equal keys */
    size_t slot = (size_t)(hit - sorted);
    if (!taken[slot]) {
      taken[slot] = true;
      out[k++] = fs[i];
    }
  }
  mt__free(sorted);
  mt__free(taken);
  *n = k;
  return out;
}

MT_API mt_as_completed_t *mt_as_completed_new(mt_future_t **fs, size_t n) {
  mt_as_completed_t *it = mt__calloc(1, sizeof *it);
  if (it) {
    it->fs = distinct(fs, &n);
    it->ready = mt__calloc(n ? n : 1, sizeof *it->ready);
    it->nodes = mt__calloc(n ? n : 1, sizeof *it->nodes);
  }
  if (!it || !it->fs || !it->ready || !it->nodes) {
    if (it) { mt__free(it->fs); mt__free(it->ready); mt__free(it->nodes); mt__free(it); }
    mt__set_last_error(MT_ENOMEM);
    return NULL;
  }
  mt_cond_init(&it->cond, NULL);
  it->n = n;
  for (size_t i = 0; i < n; i++) {
    mt_future_retain(it->fs[i]);
    it->nodes[i].fn = ac_cb;
    it->nodes[i].ud = it;
    if (!mt__future_watch(it->fs[i], &it->nodes[i])) ac_cb(it->fs[i], it);
  }
  mt__set_last_error(0);
  return it;
}

MT_API mt_future_t *mt_as_completed_next(mt_as_completed_t *it, double timeout) {
  int64_t deadline = mt__deadline(timeout);
  mt_future_t *f = NULL;
  int err = 0;
  mt_cond_acquire(&it->cond, MT_FOREVER);
  while (it->r < it->n && it->r == it->w) {
    if (deadline != MT__NEVER && mt__now_ns() >= deadline) { err = MT_ETIMEDOUT; break; }
    if (mt__cond_wait_until(&it->cond, deadline) == MT_ECANCELED) { err = MT_ECANCELED; break; }
  }
  if (!err && it->r < it->w) f = it->ready[it->r++];
  mt_cond_release(&it->cond);
  mt__set_last_error(err);
  return f;
}

MT_API void mt_as_completed_free(mt_as_completed_t *it) {
  if (!it) return;
  for (size_t i = 0; i < it->n; i++) {
    mt__future_unwatch(it->fs[i], &it->nodes[i]);
    mt_future_release(it->fs[i]);
  }
  mt_cond_destroy(&it->cond);
  mt__free(it->fs);
  mt__free(it->ready);
  mt__free(it->nodes);
  mt__free(it);
}
