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
 * lock while holding those. *
 * Memory: futures are 64 bytes, one cache line each (so a worker finishing
 * one and the caller waiting on the next never share a line), carved from
 * chunks of CHUNK_N. Each thread carves from a chunk of its own, with no
 * atomic operation; a chunk counts its live futures plus the slots not yet
 * carved, so releasing a future — from any thread — is one atomic
 * decrement, and whoever takes the count to zero frees the chunk. When the
 * owning thread releases the last live future of its current chunk, it
 * starts carving the chunk over again instead: a thread that submits and
 * collects one future at a time touches the allocator once. So each thread
 * keeps at most one chunk (4 KiB) beyond its live futures, given back when
 * it exits or frees a pool (mt__future_cache_flush); a future kept forever
 * keeps its chunk. Under ASan a released future's slot is poisoned until
 * the chunk is carved again.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/park.h"
#include "pool/future_internal.h"
#include "sync/sync_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

enum { PENDING = 0, RUNNING = 1, DONE = 2, CANCELLED = 3, STATE = 3, SLOW = 4 };

/* Watchers (mt_wait, as_completed) and done-callbacks share one list, in
 * registration order; a callback node is an mt__fwatch_t with cb set,
 * allocated here and freed once it has run. */
typedef mt__fwatch_t hook_t;

struct mt_future {
  uint32_t refs;
  uint32_t state;               /* STATE bits | SLOW */
  int code;
  uint32_t slot;                /* index in its chunk */
  void *result;
  mt__wq_t wq;                  /* waiters; wq.lk guards the list below */
  hook_t *hooks, **hooks_tail;
};
_Static_assert(sizeof(struct mt_future) == 64, "a future is one cache line");

static inline uint32_t st(const mt_future_t *f) { return mt__load(&f->state) & STATE; }
static inline bool final(uint32_t s) { return (s & STATE) >= DONE; }

/* ---- chunks of futures --------------------------------------------------------- */
#define CHUNK_BYTES 4096
#define CHUNK_N ((CHUNK_BYTES - 64) / 64)

typedef struct chunk {
  uint32_t live;                /* live futures + slots not yet carved (atomic) */
  uint32_t next;                /* next slot to carve: the owning thread's only */
  void *raw;                    /* what mt__malloc returned */
  char pad[64 - 16];
  struct mt_future f[CHUNK_N];
} chunk_t;
_Static_assert(offsetof(chunk_t, f) == 64, "futures start on a cache line");

static __thread chunk_t *t_chunk;     /* the chunk this thread carves from */
static pthread_key_t g_chunk_key;     /* its destructor gives it back at thread exit */
static pthread_once_t g_chunk_once = PTHREAD_ONCE_INIT;

static chunk_t *chunk_of(mt_future_t *f) {
  return (chunk_t *)((char *)(f - f->slot) - offsetof(chunk_t, f));
}

/* Drops n counts; the one that reaches zero frees the chunk. */
static void chunk_put(chunk_t *c, uint32_t n) {
  if (mt__fetch_sub(&c->live, n) == n) {
    UNPOISON(c->f, sizeof c->f);
    mt__free(c->raw);
  }
}

/* Gives up carving c: its uncarved slots are no longer counted. */
static void chunk_abandon(chunk_t *c) {
  uint32_t left = CHUNK_N - c->next;
  if (left) chunk_put(c, left);
}

static void chunk_key_dtor(void *arg) {
  chunk_t *c = arg;
  if (c == t_chunk) t_chunk = NULL;
  if (c) chunk_abandon(c);
}

static void chunk_key_init(void) { pthread_key_create(&g_chunk_key, chunk_key_dtor); }

void mt__future_cache_flush(void) {
  chunk_t *c = t_chunk;
  if (!c) return;
  t_chunk = NULL;
  pthread_setspecific(g_chunk_key, NULL);
  chunk_abandon(c);
}

static mt_future_t *carve(void) {
  chunk_t *c = t_chunk;
  if (!c) {
    pthread_once(&g_chunk_once, chunk_key_init);
    void *raw = mt__malloc(sizeof(chunk_t) + 63);
    if (!raw) return NULL;
    c = (chunk_t *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    c->raw = raw;
    c->next = 0;
    c->live = CHUNK_N;          /* not yet shared: a plain store */
    t_chunk = c;
    pthread_setspecific(g_chunk_key, c);
  }
  uint32_t i = c->next++;
  if (c->next == CHUNK_N) {     /* all carved: the chunk lives on its futures alone */
    t_chunk = NULL;
    pthread_setspecific(g_chunk_key, NULL);
  }
  mt_future_t *f = &c->f[i];
  UNPOISON(f, sizeof *f);
  f->slot = i;
  return f;
}

static void uncarve(mt_future_t *f) {
  chunk_t *c = chunk_of(f);
  POISON(f, sizeof *f);
  if (c == t_chunk) {
    /* Ours and still carved from: if this was its last live future, carve
     * it over again. Nobody else holds one of its futures, so nobody else
     * touches the count meanwhile. */
    uint32_t left = mt__fetch_sub(&c->live, 1) - 1;
    if (left == CHUNK_N - c->next) {
      mt__fetch_add(&c->live, c->next);
      c->next = 0;
    }
    return;
  }
  chunk_put(c, 1);
}

mt_future_t *mt__future_new(unsigned refs) {
  mt_future_t *f = carve();
  if (!f) return NULL;
  f->refs = refs;               /* not yet shared: plain stores */
  f->state = PENDING;
  f->code = 0;
  f->result = NULL;
  f->wq = (mt__wq_t){ 0 };
  f->hooks = NULL;
  f->hooks_tail = &f->hooks;
  return f;
}

MT_API mt_future_t *mt_future_retain(mt_future_t *f) {
  mt__fetch_add(&f->refs, 1);
  return f;
}

MT_API void mt_future_release(mt_future_t *f) {
  if (!f || mt__fetch_sub(&f->refs, 1) != 1) return;
  for (hook_t *h = f->hooks, *n; h; h = n) {     /* only callbacks can be left */
    n = h->next;
    if (h->cb) mt__free(h);
  }
  uncarve(f);
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
  hook_t *cbs = NULL, **cbs_tail = &cbs;
  for (hook_t *h = f->hooks, *n; h; h = n) {
    n = h->next;                /* a watcher's node may be gone once we unlock */
    if (h->cb) {
      *cbs_tail = h;
      cbs_tail = &h->next;
    } else {
      h->fn(f, h->ud);
    }
  }
  *cbs_tail = NULL;
  f->hooks = NULL;
  f->hooks_tail = &f->hooks;
  bool waiters = !mt__wq_empty(&f->wq);
  mt__iunlock(&f->wq.lk);
  if (waiters) mt__wq_wake(&f->wq, -1, 0);
  for (hook_t *c = cbs, *n; c; c = n) {
    n = c->next;
    c->fn(f, c->ud);
    mt__free(c);
  }
  return true;
}

bool mt__future_finish(mt_future_t *f, int code, void *result) { return finish(f, DONE, code, result, false); }
bool mt__future_cancel(mt_future_t *f) { return finish(f, CANCELLED, MT_ECANCELED, NULL, true); }
int  mt__future_code(const mt_future_t *f) { return st(f) == CANCELLED ? MT_ECANCELED : f->code; }

/* Under the lock: appends h to the hooks. */
static void hook_append(mt_future_t *f, hook_t *h) {
  h->next = NULL;
  *f->hooks_tail = h;
  f->hooks_tail = &h->next;
}

bool mt__future_watch(mt_future_t *f, mt__fwatch_t *w) {
  w->cb = false;
  mt__ilock(&f->wq.lk);
  bool add = register_slow(f);
  if (add) hook_append(f, w);
  mt__iunlock(&f->wq.lk);
  return add;
}

void mt__future_unwatch(mt_future_t *f, mt__fwatch_t *w) {
  mt__ilock(&f->wq.lk);
  for (hook_t **pp = &f->hooks; *pp; pp = &(*pp)->next) {
    if (*pp == w) {
      *pp = w->next;
      if (f->hooks_tail == &w->next) f->hooks_tail = pp;
      break;
    }
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

/* The cancel hook (mt__future_set_cancel_hook) rides in the hook list as a
 * callback node whose function does nothing when the future finishes (and
 * is freed with the others), so a future stays one cache line. */
typedef struct {
  hook_t h;
  int (*fn)(mt_future_t *f, void *ud, uint64_t tag);
  void *ud;
  uint64_t tag;
} cancel_node_t;

static void cancel_node_done(mt_future_t *f, void *ud) { (void)f; (void)ud; }

void mt__future_set_cancel_hook(mt_future_t *f, int (*fn)(mt_future_t *f, void *ud, uint64_t tag), void *ud,
                                uint64_t tag) {
  cancel_node_t *c = mt__malloc(sizeof *c);
  if (!c) return;                       /* no hook: the cancel is decided here alone */
  c->h.fn = cancel_node_done;
  c->h.ud = NULL;
  c->h.cb = true;
  c->fn = fn;
  c->ud = ud;
  c->tag = tag;
  mt__ilock(&f->wq.lk);
  bool add = register_slow(f);
  if (add) hook_append(f, &c->h);
  mt__iunlock(&f->wq.lk);
  if (!add) mt__free(c);
}

MT_API int mt_future_cancel(mt_future_t *f) {
  if ((mt__load(&f->state) & (STATE | SLOW)) == (PENDING | SLOW)) {
    cancel_node_t hook = { .fn = NULL };
    mt__ilock(&f->wq.lk);
    for (hook_t *h = f->hooks; h; h = h->next)
      if (h->fn == cancel_node_done) {
        hook = *(cancel_node_t *)h;
        break;
      }
    mt__iunlock(&f->wq.lk);
    if (hook.fn) {                        /* outside the lock: it may talk to a server */
      int r = hook.fn(f, hook.ud, hook.tag);
      if (r) return r;
    }
  }
  if (mt__future_cancel(f)) return 0;
  switch (st(f)) {
    case CANCELLED: return 0;
    case RUNNING: return MT_ERUNNING;
    default: return MT_EBUSY;
  }
}

MT_API int mt_future_add_done_callback(mt_future_t *f, void (*cb)(mt_future_t *, void *), void *ud) {
  if (!cb) return MT_EINVAL;
  hook_t *c = mt__malloc(sizeof *c);
  if (!c) return MT_ENOMEM;
  c->fn = cb;
  c->ud = ud;
  c->cb = true;
  mt__ilock(&f->wq.lk);
  bool later = register_slow(f);
  if (later) hook_append(f, c);
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
