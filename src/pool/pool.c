/* pool.c — the thread-pool executor.
 *
 * Two locks keep submitters and workers apart. Submitters append tasks
 * ({fn, arg, future} held by value: a fire-and-forget task costs no
 * allocation) to the inbox under `plock`. Workers take tasks from the ring
 * under `lock`, and when the ring is empty they take the whole inbox as the
 * new ring in one step (the empty ring becomes the inbox), so the two sides
 * meet once per inbox-full instead of once per task. Order is kept: the ring
 * is always older than the inbox. Lock order: lock, then plock.
 *
 * Sleeping: workers park on `work`, producers of a bounded pool on `space`.
 * A worker says "idle" and then looks at the inbox once more under plock; a
 * submitter publishes its task under plock and then reads `idle`. Whichever
 * side takes plock second sees what the other did before, so a wake-up
 * cannot be lost, and the submit path needs no memory fence of its own.
 * A submitter wakes a worker only if one is idle and not
 * already being woken (`pending`) and no worker is watching the queue
 * (`spinning`: before it sleeps, one worker at a time watches for SPIN_NS),
 * so a burst of submits costs few wake-ups; when that worker sees work
 * arrive it waits while the inbox keeps growing (a few µs, up to 64 tasks),
 * so a burst is taken in one pull rather than task by task with both sides
 * trading cache lines. A worker that takes tasks and leaves more behind
 * wakes the next idle one, so work spreads.
 *
 * Guarantees: tasks start in FIFO order; a future completes exactly once
 * (done, or cancelled while still queued); shutdown stops new work at once
 * (`closing` is set under plock first, so nothing enters the inbox after
 * it), lets workers drain the queue unless asked to cancel it, and joins
 * them if asked to wait. Workers are daemon threads named "<name>-<i>".
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mt/pool.h"
#include "mt/thread.h"
#include "pool/future_internal.h"
#include "sync/sync_internal.h"

typedef struct { mt_task_fn fn; void *arg; mt_future_t *f; } task_t;
typedef struct wbatch wbatch_t;

/* Three groups of fields, kept on separate cache lines so that a submitter
 * appending to the inbox and a worker draining the ring do not steal each
 * other's lines: what submitters write, what workers write, and the flags
 * both read on every task but write rarely. */
#define POOL_PAD(n) char pad##n[64]
struct mt_pool {
  POOL_PAD(0);
  mt_lock_t plock;              /* submitters: guards the inbox */
  task_t *in;                   /* inbox: tasks appended in order, in[0..in_count) */
  size_t in_cap, in_count;      /* in_count is also read unlocked (atomic) */
  POOL_PAD(1);
  mt_lock_t lock;
  task_t *ring;
  size_t cap, head, count;
  POOL_PAD(2);
  unsigned idle, pending, blocked;
  bool closing, joined;
  bool spinning;                /* a worker watches the queue before sleeping */
  size_t max_queue;
  mt_cond_t work, space;
  size_t nworkers;
  mt_thread_t **workers;
  wbatch_t *batches;            /* one per worker */
  uint32_t started;
  char name[24];
};

static __thread mt_pool_t *t_pool;     /* the pool this thread works for */

static void run_task(task_t *t) {
  void *res = NULL;
  if (!t->f) {
    t->fn(t->arg, &res);
    return;
  }
  if (mt__future_start(t->f)) {
    int code = t->fn(t->arg, &res);
    mt__future_finish(t->f, code, res);
  }
  mt_future_release(t->f);
}

/* A worker takes a batch when the queue is long — a fair share, at most
 * BATCH — so a burst of small tasks costs one lock round trip per batch
 * instead of one per task; a short queue is taken one task at a time, so
 * long tasks still spread over all workers. The batch sits in the pool
 * (wbatch_t), and each entry is claimed by CAS on `next`, by its worker or by
 * shutdown(cancel_pending): a queued future stays cancellable by shutdown
 * even once it is in a batch, and each entry is handled exactly once. */
#define BATCH 32
/* closing is written under plock and read under the pool lock: always atomic. */
#define CLOSING(p) __atomic_load_n(&(p)->closing, __ATOMIC_RELAXED)
#define SPIN_NS 20000          /* how long that worker watches */

struct wbatch {
  task_t t[BATCH];
  uint32_t n;                  /* written under the pool lock */
  uint32_t next;               /* next entry to claim */
};

static bool claim(wbatch_t *b, task_t *out) {
  uint32_t j = __atomic_load_n(&b->next, __ATOMIC_ACQUIRE);
  while (j < __atomic_load_n(&b->n, __ATOMIC_ACQUIRE)) {
    if (__atomic_compare_exchange_n(&b->next, &j, j + 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      *out = b->t[j];
      return true;
    }
  }
  return false;
}

/* Under the pool lock, with the ring empty: takes the whole inbox as the
 * new ring (the empty ring becomes the inbox). Submitters and workers thus
 * meet on plock once per inbox-full, not once per task. */
static void pull_inbox(mt_pool_t *p) {
  if (p->count || !__atomic_load_n(&p->in_count, __ATOMIC_RELAXED)) return;
  mt__lock_enter(&p->plock);
  size_t n = p->in_count;
  if (n) {
    task_t *ring = p->ring;
    size_t cap = p->cap;
    p->ring = p->in;
    p->cap = p->in_cap;
    p->head = 0;
    p->in = ring;
    p->in_cap = cap;
    __atomic_store_n(&p->in_count, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&p->count, n, __ATOMIC_RELAXED);
  }
  mt_lock_release(&p->plock);
}

static bool has_work(mt_pool_t *p) {
  return __atomic_load_n(&p->count, __ATOMIC_RELAXED) || __atomic_load_n(&p->in_count, __ATOMIC_RELAXED);
}

static void *worker_main(void *arg) {
  mt_pool_t *p = arg;
  wbatch_t *b = &p->batches[mt__fetch_add(&p->started, 1)];
  t_pool = p;
  mt__lock_enter(&p->lock);
  for (;;) {
    pull_inbox(p);
    if (p->count == 0 && !CLOSING(p) && !__atomic_load_n(&p->spinning, __ATOMIC_RELAXED)) {
      /* One worker at a time watches the queue for a few microseconds
       * before it sleeps: in a burst of submits the next task is usually
       * that close. While it watches, submitters wake nobody (it will see
       * their task), so a burst costs no wake-up system calls; a worker
       * that takes a task and leaves more behind wakes the next idle one. */
      __atomic_store_n(&p->spinning, true, __ATOMIC_RELAXED);
      mt_lock_release(&p->lock);
      int64_t until = mt__now_ns() + SPIN_NS;
      for (unsigned i = 1; !has_work(p) && !CLOSING(p); i++) {
        mt__cpu_relax();
        if ((i & 31) == 0 && mt__now_ns() > until) break;
      }
      /* Work arrived. If more is arriving (a burst), let it gather for a
       * moment: taking one task per pull makes submitter and worker trade
       * the same cache lines for every task. */
      size_t seen = __atomic_load_n(&p->in_count, __ATOMIC_RELAXED);
      for (int k = 0; k < 16 && seen && seen < 64; k++) {
        for (int j = 0; j < 16; j++) mt__cpu_relax();
        size_t now = __atomic_load_n(&p->in_count, __ATOMIC_RELAXED);
        if (now <= seen) break;
        seen = now;
      }
      mt__lock_enter(&p->lock);
      __atomic_store_n(&p->spinning, false, __ATOMIC_RELAXED);
      pull_inbox(p);
    }
    while (p->count == 0 && !CLOSING(p)) {
      /* Say "idle", then look at the inbox under plock (see the top). */
      __atomic_store_n(&p->idle, p->idle + 1, __ATOMIC_RELAXED);
      mt__lock_enter(&p->plock);
      size_t inbox = p->in_count;
      mt_lock_release(&p->plock);
      if (inbox) {
        __atomic_store_n(&p->idle, p->idle - 1, __ATOMIC_RELAXED);
        pull_inbox(p);
        continue;
      }
      mt__cond_wait_until(&p->work, MT__NEVER);
      __atomic_store_n(&p->idle, p->idle - 1, __ATOMIC_RELAXED);
      if (p->pending) __atomic_store_n(&p->pending, p->pending - 1, __ATOMIC_RELAXED);
      pull_inbox(p);
    }
    if (p->count == 0) pull_inbox(p);
    if (p->count == 0) break;                 /* closing, and drained */
    size_t n = p->count / (2 * p->nworkers);
    if (n < 1) n = 1;
    if (n > BATCH) n = BATCH;
    for (size_t i = 0; i < n; i++) {
      b->t[i] = p->ring[p->head];
      p->head = (p->head + 1) & (p->cap - 1);
    }
    __atomic_store_n(&p->count, p->count - n, __ATOMIC_RELAXED);   /* read unlocked by a watcher */
    __atomic_store_n(&b->next, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&b->n, (uint32_t)n, __ATOMIC_RELEASE);
    if (p->blocked) mt_cond_notify(&p->space, p->blocked < n ? (int)p->blocked : (int)n);
    bool chain = p->count > 0 && p->idle > p->pending;   /* more left: wake a peer */
    if (chain) __atomic_store_n(&p->pending, p->pending + 1, __ATOMIC_RELAXED);
    mt_lock_release(&p->lock);
    if (chain && mt__cond_wake(&p->work, 1) == 0) {
      mt__lock_enter(&p->lock);
      __atomic_store_n(&p->pending, p->pending - 1, __ATOMIC_RELAXED);
      mt_lock_release(&p->lock);
    }
    task_t t;
    while (claim(b, &t)) run_task(&t);
    mt__lock_enter(&p->lock);
    __atomic_store_n(&b->n, 0, __ATOMIC_RELAXED);
  }
  mt_lock_release(&p->lock);
  return NULL;
}

static int ring_grow(mt_pool_t *p) {
  size_t ncap = p->cap ? p->cap * 2 : 64;
  task_t *n = mt__malloc(ncap * sizeof *n);
  if (!n) return MT_ENOMEM;
  for (size_t i = 0; i < p->count; i++) n[i] = p->ring[(p->head + i) & (p->cap - 1)];
  mt__free(p->ring);
  p->ring = n;
  p->cap = ncap;
  p->head = 0;
  return 0;
}

/* Under plock. */
static int inbox_grow(mt_pool_t *p) {
  size_t ncap = p->in_cap ? p->in_cap * 2 : 64;
  task_t *n = mt__malloc(ncap * sizeof *n);
  if (!n) return MT_ENOMEM;
  if (p->in_count) memcpy(n, p->in, p->in_count * sizeof *n);
  mt__free(p->in);
  p->in = n;
  p->in_cap = ncap;
  return 0;
}

static size_t queued(mt_pool_t *p) {
  return __atomic_load_n(&p->count, __ATOMIC_RELAXED) + __atomic_load_n(&p->in_count, __ATOMIC_RELAXED);
}

static int enqueue(mt_pool_t *p, mt_task_fn fn, void *arg, mt_future_t *f) {
  /* A bounded pool that is full: wait for room under the pool lock. */
  if (p->max_queue && t_pool != p && queued(p) >= p->max_queue) {
    int r = 0;
    mt__lock_enter(&p->lock);
    while (!CLOSING(p) && queued(p) >= p->max_queue) {
      p->blocked++;
      int w = mt__cond_wait_until(&p->space, MT__NEVER);
      p->blocked--;
      if (w == MT_ECANCELED) { r = w; break; }
    }
    mt_lock_release(&p->lock);
    if (r) return r;
  }
  mt__lock_enter(&p->plock);
  if (CLOSING(p)) {   /* set under plock too */
    mt_lock_release(&p->plock);
    return MT_ECLOSED;
  }
  if (p->in_count == p->in_cap && inbox_grow(p) != 0) {
    mt_lock_release(&p->plock);
    return MT_ENOMEM;
  }
  p->in[p->in_count] = (task_t){ fn, arg, f };
  __atomic_store_n(&p->in_count, p->in_count + 1, __ATOMIC_RELAXED);
  mt_lock_release(&p->plock);
  /* A worker that looked at the inbox before we took plock said "idle"
   * before it looked, so we see it now (see the top). Wake one only if
   * someone sleeps, nobody is on the way, and nobody watches. */
  if (__atomic_load_n(&p->idle, __ATOMIC_RELAXED) > __atomic_load_n(&p->pending, __ATOMIC_RELAXED) &&
      !__atomic_load_n(&p->spinning, __ATOMIC_RELAXED)) {
    mt__lock_enter(&p->lock);
    bool wake = p->idle > p->pending && !p->spinning;
    if (wake) __atomic_store_n(&p->pending, p->pending + 1, __ATOMIC_RELAXED);
    mt_lock_release(&p->lock);
    if (wake && mt__cond_wake(&p->work, 1) == 0) {
      mt__lock_enter(&p->lock);          /* nobody left to wake: undo the count */
      __atomic_store_n(&p->pending, p->pending - 1, __ATOMIC_RELAXED);
      mt_lock_release(&p->lock);
    }
  }
  return 0;
}

MT_API mt_pool_t *mt_pool_new_opts(const mt_pool_opts_t *opts) {
  size_t n = opts ? opts->workers : 0;
  if (n == 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    n = cpus > 0 ? (size_t)cpus : 1;
  }
  mt_pool_t *p = mt__calloc(1, sizeof *p);
  if (p) {
    p->workers = mt__calloc(n, sizeof *p->workers);
    p->batches = mt__calloc(n, sizeof *p->batches);
  }
  if (!p || !p->workers || !p->batches) {
    if (p) {
      mt__free(p->workers);
      mt__free(p->batches);
      mt__free(p);
    }
    mt__set_last_error(MT_ENOMEM);
    return NULL;
  }
  mt_lock_init(&p->lock, MT__NOCHECK);
  mt_lock_init(&p->plock, MT__NOCHECK);
  mt_cond_init(&p->work, &p->lock);
  mt_cond_init(&p->space, &p->lock);
  p->max_queue = opts ? opts->max_queue : 0;
  snprintf(p->name, sizeof p->name, "%s", opts && opts->name ? opts->name : "mtpool");
  int e = ring_grow(p);
  for (size_t i = 0; e == 0 && i < n; i++) {
    char tname[48];
    snprintf(tname, sizeof tname, "%s-%zu", p->name, i);
    mt_thread_opts_t to = { .name = tname, .daemon = true };
    e = mt_thread_start(&p->workers[i], worker_main, p, &to);
    if (e == 0) p->nworkers++;
  }
  if (e) {
    mt_pool_free(p);
    mt__set_last_error(e);
    return NULL;
  }
  mt__set_last_error(0);
  return p;
}

MT_API mt_pool_t *mt_pool_new(size_t workers) {
  mt_pool_opts_t o = { .workers = workers };
  return mt_pool_new_opts(&o);
}

MT_API size_t mt_pool_workers(mt_pool_t *p) { return p->nworkers; }

MT_API int mt_pool_submit_ex(mt_pool_t *p, mt_task_fn fn, void *arg, mt_future_t **out) {
  *out = NULL;
  if (!fn) return MT_EINVAL;
  mt_future_t *f = mt__future_new(2);         /* the caller's and the pool's */
  if (!f) return MT_ENOMEM;
  int r = enqueue(p, fn, arg, f);
  if (r) {
    mt_future_release(f);
    mt_future_release(f);
    return r;
  }
  *out = f;
  return 0;
}

MT_API mt_future_t *mt_pool_submit(mt_pool_t *p, mt_task_fn fn, void *arg) {
  mt_future_t *f;
  mt__set_last_error(mt_pool_submit_ex(p, fn, arg, &f));
  return f;
}

MT_API int mt_pool_run(mt_pool_t *p, mt_task_fn fn, void *arg) {
  if (!fn) return MT_EINVAL;
  return enqueue(p, fn, arg, NULL);
}

MT_API int mt_pool_map(mt_pool_t *p, mt_task_fn fn, void **args, void **results, size_t n, double timeout) {
  if (n == 0) return 0;
  int64_t deadline = mt__deadline(timeout);
  mt_future_t **fs = mt__calloc(n, sizeof *fs);
  if (!fs) return MT_ENOMEM;
  int r = 0;
  size_t submitted = 0;
  for (; submitted < n; submitted++) {
    r = mt_pool_submit_ex(p, fn, args ? args[submitted] : NULL, &fs[submitted]);
    if (r) break;
  }
  for (size_t i = 0; r == 0 && i < n; i++) {
    int w = mt_future_wait(fs[i], deadline == MT__NEVER ? MT_FOREVER : mt__remaining(deadline));
    if (w) r = w;
  }
  if (r) {
    for (size_t i = 0; i < submitted; i++) mt_future_cancel(fs[i]);
  } else {
    for (size_t i = 0; i < n; i++) {
      void *res = NULL;
      int code = mt_future_result(fs[i], 0, &res);
      if (code == 0 && results) results[i] = res;
      if (code && !r) r = code;
    }
  }
  for (size_t i = 0; i < submitted; i++) mt_future_release(fs[i]);
  mt__free(fs);
  return r;
}

MT_API int mt_pool_shutdown(mt_pool_t *p, bool wait, bool cancel_pending) {
  task_t *ring = NULL, *inbox = NULL;
  size_t cap = 0, head = 0, count = 0, nin = 0;
  /* closing is set under plock first: no task enters the inbox after it,
   * and a worker that sees it pulls whatever entered before. */
  mt__lock_enter(&p->plock);
  __atomic_store_n(&p->closing, true, __ATOMIC_RELAXED);
  if (cancel_pending && p->in_count) {
    inbox = p->in; nin = p->in_count;
    p->in = NULL; p->in_cap = 0;
    __atomic_store_n(&p->in_count, 0, __ATOMIC_SEQ_CST);
  }
  mt_lock_release(&p->plock);
  mt__lock_enter(&p->lock);
  __atomic_store_n(&p->closing, true, __ATOMIC_RELAXED);
  if (cancel_pending && p->count) {
    ring = p->ring; cap = p->cap; head = p->head; count = p->count;
    p->ring = NULL; p->cap = 0; p->head = 0;
    __atomic_store_n(&p->count, 0, __ATOMIC_RELAXED);
  }
  mt_cond_notify_all(&p->work);
  mt_cond_notify_all(&p->space);
  mt_lock_release(&p->lock);
  for (size_t i = 0; i < count; i++) {
    task_t *t = &ring[(head + i) & (cap - 1)];
    if (t->f) {
      mt__future_cancel(t->f);
      mt_future_release(t->f);
    }
  }
  mt__free(ring);
  for (size_t i = 0; i < nin; i++) {          /* the inbox is newer than the ring */
    if (inbox[i].f) {
      mt__future_cancel(inbox[i].f);
      mt_future_release(inbox[i].f);
    }
  }
  mt__free(inbox);
  if (cancel_pending) {
    /* what workers have taken but not started: claim it from them */
    for (size_t w = 0; w < p->nworkers; w++) {
      task_t t;
      while (claim(&p->batches[w], &t)) {
        if (t.f) {
          mt__future_cancel(t.f);
          mt_future_release(t.f);
        }
      }
    }
  }
  if (wait) {
    for (size_t i = 0; i < p->nworkers; i++)
      if (mt_thread_current() != p->workers[i]) mt_thread_join(p->workers[i], MT_FOREVER, NULL);
  }
  return 0;
}

MT_API void mt_pool_free(mt_pool_t *p) {
  if (!p) return;
  MT_ASSERT(t_pool != p, "mt_pool_free: called from one of the pool's own workers");
  mt_pool_shutdown(p, true, false);
  for (size_t i = 0; i < p->nworkers; i++) mt_thread_free(p->workers[i]);
  mt_cond_destroy(&p->work);
  mt_cond_destroy(&p->space);
  mt_lock_destroy(&p->lock);
  mt_lock_destroy(&p->plock);
  mt__free(p->ring);
  mt__free(p->in);
  mt__free(p->workers);
  mt__free(p->batches);
  mt__free(p);
}
