/* co.c — coroutines and the per-thread scheduler.
 *
 * A scheduler lives in thread-local storage while mt_co_main runs. It keeps
 * a FIFO of ready coroutines (round-robin), a min-heap of parked ones with
 * a deadline, and a "remote" list, under a small lock, of coroutines that
 * other threads woke; those threads also write an eventfd the idle
 * scheduler sleeps on (poll with the next deadline as timeout).
 *
 * Parking (the hook installed into core/park.c): the coroutine records its
 * waiter node, bumps its park number, enters the heap if it has a deadline,
 * and switches to the scheduler. A waker marks the node under its wait
 * queue's lock, takes a hold on the coroutine (a reference, and the park
 * number), and after dropping that lock asks for the wake: the coroutine is
 * made ready only if it is still parked in that same park, so a late wake
 * (the park timed out meanwhile) is dropped, never delivered to a later one.
 *
 * File descriptors: a coroutine waiting for an fd registers in the fd table
 * (one waiter per direction per fd); the fd joins the scheduler's poller
 * (poller.h; epoll in poll_epoll.c) once, edge-triggered. The loop delivers
 * readiness when it has nothing ready to run, and every 32 runs otherwise,
 * so busy coroutines cannot starve IO.
 *
 * Shared stacks: a coroutine spawned with shared_stack runs on its
 * scheduler's one shared stack. Switches to and from such a coroutine go
 * through the scheduler loop, which copies the live part of the occupant's
 * stack out to the heap and the next one's back in — lazily, only when the
 * occupant changes. A parked coroutine then costs its struct plus its live
 * frames, at the price of the copies.
 *
 * Lifetime: the struct has a reference for being alive (dropped when it
 * finishes), one for the handle (dropped by join or detach), and one per
 * pending wake. Its stack goes back to the cache as soon as it finishes.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "co/ctx.h"
#include "co/poller.h"
#include "core/park.h"
#include "mt/co.h"
#include "sync/sync_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define MT_ASAN 1
#include <sanitizer/asan_interface.h>
#endif
#ifdef MT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#define DEFAULT_STACK (64 * 1024)
#define SHARED_STACK (256 * 1024)   /* per scheduler, guard page included */
#define STACK_CACHE 64
#define STACK_CACHE_RESIDENT 8   /* cached stacks that keep their pages */

enum { READY, RUNNING, PARKED, DONE };

typedef struct sched sched_t;

struct mt_co {
  mt__ctx_t ctx;
  sched_t *s;
  void *(*fn)(void *);
  void *arg;
  void *result;
  char *stack;                 /* mapping base (guard page first) */
  size_t map_size;
  uint32_t state;
  uint32_t refs;
  uint32_t park_seq;           /* bumped at each park */
  uint32_t cancel;             /* a cancel is pending */
  mt__waiter_t *park_w;
  int64_t deadline;
  size_t heap_idx;             /* in the timer heap, or SIZE_MAX */
  mt_co_t *next;               /* ready FIFO */
  mt_co_t *rnext;              /* remote list (under the scheduler's rlock) */
  bool rqueued;
  uint32_t rseq;
  mt_co_t *tnext;              /* the scheduler's private copy of that list */
  uint32_t tseq;
  mt_event_t done;
  mt__waiter_t wnode;          /* shared: its waiter node (its stack moves) */
  bool shared;                 /* runs on the scheduler's shared stack */
  unsigned char *saved;        /* shared: its live stack while another runs */
  size_t saved_len, saved_cap;
  char name[32];
#ifdef MT_TSAN
  void *fiber;
#endif
};

/* Who waits on an fd, per direction (at most one coroutine each), and
 * readiness seen while nobody waited (edge-triggered: it would not come
 * again). */
typedef struct {
  mt__waiter_t *rw, *ww;
  mt_co_t *rco, *wco;
  bool registered;             /* watched by the poller, edge-triggered */
  uint8_t ready;               /* FD_R | FD_W seen with no waiter */
} fdslot_t;
enum { FD_R = 1, FD_W = 2 };

struct sched {
  mt__ctx_t main;              /* the scheduler loop, on the thread's stack */
  mt__poller_t *poller;        /* fd readiness, and efd kicks */
  uint32_t refs;               /* mt_co_main's, plus one per coroutine struct */
  bool exited;                 /* under rlock: the loop is gone, wakes are dropped */
  fdslot_t *fds;
  size_t nfds;
  size_t fdwaiters;
  unsigned runs;
  mt_co_t *current;
  mt_co_t *rhead, *rtail;
  mt_co_t **heap;
  size_t nheap, heap_cap;
  uint32_t rlock;              /* guards remote */
  mt_co_t *remote;
  int efd;
  size_t alive;
  struct { char *base; size_t size; } cache[STACK_CACHE];
  size_t ncache;
  char *sstack;                /* the shared stack (guard page first), on first need */
  mt_co_t *sowner;             /* whose live frames are on it now */
#ifdef MT_TSAN
  void *fiber;
#endif
#ifdef MT_ASAN
  const void *main_bottom;
  size_t main_size;
#endif
};

static __thread sched_t *t_sched;
static unsigned long g_counter;
static size_t g_page;

/* ---- sanitizer fiber annotations -------------------------------------------------- */
static void switch_to(sched_t *s, mt__ctx_t *from, mt__ctx_t *to, mt_co_t *to_co, bool from_done) {
#ifdef MT_TSAN
  __tsan_switch_to_fiber(to_co ? to_co->fiber : s->fiber, 0);
#endif
#ifdef MT_ASAN
  void *fake = NULL;
  const void *bottom = to_co ? (to_co->shared ? s->sstack : to_co->stack) + g_page : s->main_bottom;
  size_t size = to_co ? (to_co->shared ? SHARED_STACK : to_co->map_size) - g_page : s->main_size;
  __sanitizer_start_switch_fiber(from_done ? NULL : &fake, bottom, size);
  mt__ctx_jump(from, to);
  __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
  (void)from_done;
  (void)to_co;
  (void)s;
  mt__ctx_jump(from, to);
#endif
}

/* ---- stacks ------------------------------------------------------------------------ */
static char *stack_get(sched_t *s, size_t size) {
  for (size_t i = 0; i < s->ncache; i++) {
    if (s->cache[i].size == size) {
      char *b = s->cache[i].base;
      s->cache[i] = s->cache[--s->ncache];
      return b;
    }
  }
  char *b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (b == MAP_FAILED) return NULL;
  if (mprotect(b, g_page, PROT_NONE) != 0) {       /* the guard page */
    munmap(b, size);
    return NULL;
  }
  return b;
}

static void stack_put(sched_t *s, char *base, size_t size) {
  if (s->ncache < STACK_CACHE) {
    /* Past the few a steady load reuses, a cached stack keeps its address
     * range but gives its pages back: a burst of coroutines (a server's
     * sessions waking at once) leaves no resident memory behind. */
    if (s->ncache >= STACK_CACHE_RESIDENT) madvise(base + g_page, size - g_page, MADV_DONTNEED);
    s->cache[s->ncache].base = base;
    s->cache[s->ncache].size = size;
    s->ncache++;
  } else {
    munmap(base, size);
  }
}

/* ---- the guard page: name the coroutine that overflowed ------------------------------ */
static __thread void *t_altstack;          /* mapped on a thread's first mt_co_main */
#define ALTSTACK_SIZE 65536
static __thread mt_co_t *t_running;      /* for the SIGSEGV handler */
static struct sigaction g_old_segv;

static void on_segv(int sig, siginfo_t *si, void *uc) {
  mt_co_t *co = t_running;
  char *a = si->si_addr;
  char *base = co ? (co->shared ? co->s->sstack : co->stack) : NULL;
  if (co && a >= base && a < base + g_page) {
    char msg[160];
    int n = snprintf(msg, sizeof msg, "multitask: coroutine \"%s\" overflowed its %zu-byte stack\n", co->name,
                     (co->shared ? SHARED_STACK : co->map_size) - g_page);
    ssize_t w = write(2, msg, (size_t)n);
    (void)w;
  }
  /* hand over to whoever handled SIGSEGV before, or die as usual */
  if ((g_old_segv.sa_flags & SA_SIGINFO) && g_old_segv.sa_sigaction) {
    g_old_segv.sa_sigaction(sig, si, uc);
    return;
  }
  if (g_old_segv.sa_handler != SIG_DFL && g_old_segv.sa_handler != SIG_IGN && g_old_segv.sa_handler) {
    g_old_segv.sa_handler(sig);
    return;
  }
  signal(SIGSEGV, SIG_DFL);
  raise(SIGSEGV);
}

/* Installed at each mt_co_main unless already in place; whatever handled
 * SIGSEGV before is remembered and called after the message. */
static pthread_mutex_t g_segv_mu = PTHREAD_MUTEX_INITIALIZER;
static void segv_install(void) {
  pthread_mutex_lock(&g_segv_mu);
  struct sigaction cur;
  sigaction(SIGSEGV, NULL, &cur);
  if (!((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_segv)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_old_segv);
  }
  pthread_mutex_unlock(&g_segv_mu);
}

/* The overflow handler needs a stack of its own; keep any the thread has
 * (the user's, or a sanitizer's). */
static void altstack_on(void) {
  stack_t old;
  if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE)) return;
  if (!t_altstack) {
    void *m = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return;                 /* an overflow then dies unnamed */
    t_altstack = m;
  }
  stack_t ss = { .ss_sp = t_altstack, .ss_size = ALTSTACK_SIZE, .ss_flags = 0 };
  sigaltstack(&ss, NULL);
}

/* ---- references ----------------------------------------------------------------------- */
/* The scheduler struct outlives its loop while coroutine structs (held by
 * handles or by wakers in flight on other threads) still point to it: a
 * late waker may still write its eventfd. */
static void sched_unref(sched_t *s) {
  if (mt__fetch_sub(&s->refs, 1) != 1) return;
  mt__poller_free(s->poller);
  close(s->efd);
  mt__free(s->fds);
  mt__free(s->heap);
  mt__free(s);
}

static void co_unref(mt_co_t *co) {
  if (mt__fetch_sub(&co->refs, 1) == 1) {
    sched_t *s = co->s;
#ifdef MT_TSAN
    if (co->fiber) __tsan_destroy_fiber(co->fiber);
#endif
    mt_event_destroy(&co->done);
    mt__free(co);
    sched_unref(s);
  }
}

/* ---- the ready FIFO and the timer heap (scheduler thread only) ------------------------ */
static void ready_push(sched_t *s, mt_co_t *co) {
  __atomic_store_n(&co->state, READY, __ATOMIC_RELEASE);
  co->next = NULL;
  if (s->rtail) s->rtail->next = co; else s->rhead = co;
  s->rtail = co;
}

static mt_co_t *ready_pop(sched_t *s) {
  mt_co_t *co = s->rhead;
  if (co) {
    s->rhead = co->next;
    if (!s->rhead) s->rtail = NULL;
  }
  return co;
}

static void heap_swap(sched_t *s, size_t a, size_t b) {
  mt_co_t *t = s->heap[a];
  s->heap[a] = s->heap[b];
  s->heap[b] = t;
  s->heap[a]->heap_idx = a;
  s->heap[b]->heap_idx = b;
}

static void heap_up(sched_t *s, size_t i) {
  while (i > 0 && s->heap[(i - 1) / 2]->deadline > s->heap[i]->deadline) {
    heap_swap(s, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static void heap_down(sched_t *s, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < s->nheap && s->heap[l]->deadline < s->heap[m]->deadline) m = l;
    if (l + 1 < s->nheap && s->heap[l + 1]->deadline < s->heap[m]->deadline) m = l + 1;
    if (m == i) return;
    heap_swap(s, i, m);
    i = m;
  }
}

static bool heap_add(sched_t *s, mt_co_t *co) {
  if (s->nheap == s->heap_cap) {
    size_t ncap = s->heap_cap ? s->heap_cap * 2 : 64;
    mt_co_t **n = mt__realloc(s->heap, ncap * sizeof *n);
    if (!n) return false;
    s->heap = n;
    s->heap_cap = ncap;
  }
  co->heap_idx = s->nheap;
  s->heap[s->nheap++] = co;
  heap_up(s, co->heap_idx);
  return true;
}

static void heap_del(sched_t *s, mt_co_t *co) {
  size_t i = co->heap_idx;
  if (i == SIZE_MAX) return;
  co->heap_idx = SIZE_MAX;
  if (--s->nheap == i) return;
  s->heap[i] = s->heap[s->nheap];
  s->heap[i]->heap_idx = i;
  heap_down(s, i);
  heap_up(s, i);
}

/* ---- the park hook ------------------------------------------------------------------------ */
static void *hook_current(void) {
  sched_t *s = t_sched;
  return s ? s->current : NULL;
}

static int hook_park(mt__waiter_t *w, int64_t deadline) {
  sched_t *s = t_sched;
  mt_co_t *co = s->current;
  if (__atomic_exchange_n(&co->cancel, 0, __ATOMIC_ACQ_REL)) return MT_ECANCELED;
  co->park_w = w;
  __atomic_store_n(&co->park_seq, co->park_seq + 1, __ATOMIC_SEQ_CST);
  __atomic_store_n(&co->state, PARKED, __ATOMIC_SEQ_CST);
  /* Marked already (by a waker that may have read the old park number)?
   * Then do not sleep at all; its wake, if stale, is dropped. */
  if (__atomic_load_n(&w->flag, __ATOMIC_SEQ_CST)) {
    __atomic_store_n(&co->state, RUNNING, __ATOMIC_RELEASE);
    co->park_w = NULL;
    return 0;
  }
  co->deadline = deadline;
  if (deadline != MT__NEVER && !heap_add(s, co)) {
    /* no room to remember the deadline: poll instead of sleeping */
    ready_push(s, co);
  }
  switch_to(s, &co->ctx, &s->main, NULL, false);
  heap_del(s, co);
  co->park_w = NULL;
  if (mt__load(&w->flag)) return 0;
  if (__atomic_exchange_n(&co->cancel, 0, __ATOMIC_ACQ_REL)) return MT_ECANCELED;
  if (deadline != MT__NEVER && mt__now_ns() >= deadline) return MT_ETIMEDOUT;
  return 0;                                   /* a spurious wake-up: callers re-check */
}

static void hook_hold(void *p) { mt__fetch_add(&((mt_co_t *)p)->refs, 1); }
static uint32_t hook_seq(void *p) { return __atomic_load_n(&((mt_co_t *)p)->park_seq, __ATOMIC_SEQ_CST); }

/* Makes co ready if it is still in park `seq`. Scheduler thread. */
static void wake_local(sched_t *s, mt_co_t *co, uint32_t seq) {
  if (__atomic_load_n(&co->state, __ATOMIC_ACQUIRE) == PARKED && __atomic_load_n(&co->park_seq, __ATOMIC_ACQUIRE) == seq) {
    heap_del(s, co);
    ready_push(s, co);
  }
}

static void hook_wake(void *p, uint32_t seq) {
  mt_co_t *co = p;
  sched_t *s = co->s;
  if (t_sched == s) {
    wake_local(s, co, seq);
    co_unref(co);
    return;
  }
  mt__ilock(&s->rlock);
  if (s->exited) {                            /* nothing to wake any more */
    mt__iunlock(&s->rlock);
    co_unref(co);
    return;
  }
  /* Our own reference on the scheduler for the kick below: once the lock is
   * dropped, an exiting loop may drop the entry's (and so the last) one. */
  mt__fetch_add(&s->refs, 1);
  bool dup = co->rqueued;
  if (dup) {
    co->rseq = seq;                           /* the newer park is the one that counts */
  } else {
    co->rqueued = true;
    co->rseq = seq;
    co->rnext = s->remote;
    __atomic_store_n(&s->remote, co, __ATOMIC_RELEASE);
  }
  mt__iunlock(&s->rlock);
  if (dup) co_unref(co);                      /* the queued entry keeps its own hold */
  uint64_t one = 1;
  ssize_t w = write(s->efd, &one, sizeof one);
  (void)w;
  sched_unref(s);
}

/* ---- fd waits on the scheduler's poller ----------------------------------------------
 * An fd is added once, edge-triggered for both directions; afterwards a
 * wait costs no system call: it parks until the next edge, or returns at
 * once if an edge came while nobody waited. A closed fd leaves the poller
 * by itself, so before its number is reused the slot must be forgotten:
 * libmt's calls that create fds (mt_accept, mt_tcp_*) and mt_close do it. */
static bool fd_table(sched_t *s, int fd) {
  if ((size_t)fd < s->nfds) return true;
  size_t n = s->nfds ? s->nfds : 64;
  while (n <= (size_t)fd) n *= 2;
  fdslot_t *t = mt__realloc(s->fds, n * sizeof *t);
  if (!t) return false;
  memset(t + s->nfds, 0, (n - s->nfds) * sizeof *t);
  s->fds = t;
  s->nfds = n;
  return true;
}

static void fd_forget(int fd) {
  sched_t *s = t_sched;
  if (!s || fd < 0 || (size_t)fd >= s->nfds) return;
  fdslot_t *f = &s->fds[fd];
  if (f->registered) mt__poller_del(s->poller, fd);
  f->registered = false;
  f->ready = 0;
}

static int hook_wait_fd(int fd, short events, int64_t deadline) {
  sched_t *s = t_sched;
  mt_co_t *co = s->current;
  if (fd < 0) return MT_EBADF;
  if (!fd_table(s, fd)) return MT_ENOMEM;
  uint8_t want = (uint8_t)(((events & POLLIN) ? FD_R : 0) | ((events & POLLOUT) ? FD_W : 0));
  fdslot_t *f = &s->fds[fd];
  if (((want & FD_R) && f->rw) || ((want & FD_W) && f->ww)) return MT_EBUSY;
  if (!f->registered) {
    int a = mt__poller_add(s->poller, fd);
    if (a == 1) return 0;                     /* a regular file: always ready */
    if (a < 0) return a;
    f->registered = true;
    f->ready = 0;                             /* the add reports what is ready now */
  }
  if (f->ready & want) {                      /* an edge came while nobody waited */
    f->ready &= (uint8_t)~want;
    return 0;
  }
  MT__WAITER(w);
  if (want & FD_R) { f->rw = w; f->rco = co; }
  if (want & FD_W) { f->ww = w; f->wco = co; }
  s->fdwaiters++;
  int r = hook_park(w, deadline);
  s->fdwaiters--;
  f = &s->fds[fd];                            /* the table may have grown meanwhile */
  if (f->rw == w) f->rw = NULL;
  if (f->ww == w) f->ww = NULL;
  return r;
}

static void fd_ready(sched_t *s, mt__waiter_t **wp, mt_co_t *co) {
  mt__waiter_t *w = *wp;
  *wp = NULL;
  __atomic_store_n(&w->flag, 1, __ATOMIC_SEQ_CST);
  wake_local(s, co, __atomic_load_n(&co->park_seq, __ATOMIC_ACQUIRE));
}

static void on_ready(void *ctx, int fd, unsigned what) {
  sched_t *s = ctx;
  if ((size_t)fd >= s->nfds) return;
  fdslot_t *f = &s->fds[fd];
  if (what & MT__POLL_R) {
    if (f->rw) fd_ready(s, &f->rw, f->rco);
    else f->ready |= FD_R;
  }
  if (what & MT__POLL_W) {
    if (f->ww) fd_ready(s, &f->ww, f->wco);
    else f->ready |= FD_W;
  }
}

/* Delivers fd readiness (and eventfd kicks); timeout_ms as for poll(2). */
static void poll_events(sched_t *s, int timeout_ms) { mt__poller_wait(s->poller, timeout_ms, on_ready, s); }

static mt__waiter_t *hook_node(void *p) {
  mt_co_t *co = p;
  return co->shared ? &co->wnode : NULL;
}

static const mt__park_ops_t g_ops = { hook_current, hook_park, hook_hold, hook_seq, hook_wake, hook_wait_fd,
                                       fd_forget, hook_node };

/* ---- coroutines ---------------------------------------------------------------------------- */
void mt__co_entry(void *p) {
  mt_co_t *co = p;
  sched_t *s = co->s;
#ifdef MT_ASAN
  __sanitizer_finish_switch_fiber(NULL, &s->main_bottom, &s->main_size);
#endif
  co->result = co->fn(co->arg);
  __atomic_store_n(&co->state, DONE, __ATOMIC_RELEASE);
  mt_event_set(&co->done);
  switch_to(s, &co->ctx, &s->main, NULL, true);
  abort();                                    /* a finished coroutine is never resumed */
}

MT_API mt_co_t *mt_co_spawn_opts(void *(*fn)(void *), void *arg, const mt_co_opts_t *opts) {
  sched_t *s = t_sched;
  int e = 0;
  if (!s) e = MT_EPERM;
  else if (!fn) e = MT_EINVAL;
#ifndef MT_CTX_ASM
  else if (opts && opts->shared_stack) e = MT_ENOSYS;     /* needs the assembly switch */
#endif
  else if (opts && opts->shared_stack && opts->stack_size > SHARED_STACK - g_page) e = MT_EINVAL;
  mt_co_t *co = e ? NULL : mt__calloc(1, sizeof *co);
  if (!e && !co) e = MT_ENOMEM;
  if (e) {
    mt__set_last_error(e);
    return NULL;
  }
  if (opts && opts->shared_stack) {
    if (!s->sstack) s->sstack = stack_get(s, SHARED_STACK);
    if (!s->sstack) {
      mt__free(co);
      mt__set_last_error(MT_ENOMEM);
      return NULL;
    }
    co->shared = true;
  } else {
    size_t size = opts && opts->stack_size ? opts->stack_size : DEFAULT_STACK;
    size = (size + g_page - 1) / g_page * g_page + g_page;       /* + the guard page */
    co->stack = stack_get(s, size);
    if (!co->stack) {
      mt__free(co);
      mt__set_last_error(MT_ENOMEM);
      return NULL;
    }
    co->map_size = size;
#ifdef MT_ASAN
    /* a recycled stack keeps the shadow of frames that never returned */
    ASAN_UNPOISON_MEMORY_REGION(co->stack + g_page, size - g_page);
#endif
  }
  co->s = s;
  co->fn = fn;
  co->arg = arg;
  co->refs = 2;                               /* alive + the handle */
  co->heap_idx = SIZE_MAX;
  mt_event_init(&co->done, 0);
  if (opts && opts->name) snprintf(co->name, sizeof co->name, "%s", opts->name);
  else snprintf(co->name, sizeof co->name, "co-%lu", mt__fetch_add(&g_counter, 1) + 1);
#ifdef MT_TSAN
  co->fiber = __tsan_create_fiber(0);
#endif
  if (co->shared) {
#ifdef MT_CTX_ASM
    /* Its first frame is built aside and is its saved image: it lands on the
     * shared stack (at the same offset from the top) when it first runs. */
    _Alignas(16) unsigned char frame[256];        /* > any first frame (aarch64: 176) */
    mt__ctx_t tmp;
    mt__ctx_make(&tmp, frame, sizeof frame, co);
    size_t live = (size_t)(frame + sizeof frame - (unsigned char *)tmp.sp);
    co->saved = mt__malloc(live);
    if (!co->saved) {
      mt_event_destroy(&co->done);
      mt__free(co);
      mt__set_last_error(MT_ENOMEM);
      return NULL;
    }
    memcpy(co->saved, tmp.sp, live);
    co->saved_len = co->saved_cap = live;
    co->ctx.sp = s->sstack + SHARED_STACK - live;
#endif
  } else {
    mt__ctx_make(&co->ctx, co->stack + g_page, co->map_size - g_page, co);
  }
  s->alive++;
  mt__fetch_add(&s->refs, 1);                 /* co->s */
  ready_push(s, co);
  mt__set_last_error(0);
  return co;
}

MT_API mt_co_t *mt_co_spawn(void *(*fn)(void *), void *arg) { return mt_co_spawn_opts(fn, arg, NULL); }

MT_API int mt_co_join(mt_co_t *co, double timeout, void **result) {
  if (co == mt_co_current()) return MT_EDEADLK;
  int r = mt_event_wait(&co->done, timeout);
  if (r) return r;
  if (result) *result = co->result;
  co_unref(co);
  return 0;
}

MT_API int mt_co_joinall(mt_co_t **cos, size_t n, double timeout) {
  int64_t deadline = mt__deadline(timeout);
  for (size_t i = 0; i < n; i++) {
    int r = mt_co_join(cos[i], deadline == MT__NEVER ? MT_FOREVER : mt__remaining(deadline), NULL);
    if (r) return r;
  }
  return 0;
}

MT_API void mt_co_detach(mt_co_t *co) {
  if (co) co_unref(co);
}

static void take_remote(sched_t *s);
static void fire_timers(sched_t *s);
static void poll_events(sched_t *s, int timeout_ms);

/* Yield hands the CPU straight to the next ready coroutine, without a trip
 * through the scheduler loop; every 32 yields — or when nothing else is
 * ready — it first does the loop's housekeeping (wake-ups from other
 * threads, expired timers, ready fds). */
MT_API void mt_co_yield(void) {
  sched_t *s = t_sched;
  if (!s || !s->current) {
    sched_yield();
    return;
  }
  mt_co_t *co = s->current;
  if (!s->rhead || (++s->runs & 31) == 0) {
    take_remote(s);
    fire_timers(s);
    if (s->fdwaiters) poll_events(s, 0);
    if (!s->rhead) return;                    /* nobody else to run */
  }
  if (co->shared || s->rhead->shared) {      /* the shared stack is swapped by the loop */
    ready_push(s, co);
    switch_to(s, &co->ctx, &s->main, NULL, false);
    return;
  }
  mt_co_t *next = ready_pop(s);
  ready_push(s, co);
  s->current = next;
  t_running = next;
  __atomic_store_n(&next->state, RUNNING, __ATOMIC_RELEASE);
  switch_to(s, &co->ctx, &next->ctx, next, false);
}

MT_API int mt_co_cancel(mt_co_t *co) {
  if (__atomic_load_n(&co->state, __ATOMIC_ACQUIRE) == DONE) return MT_EINVAL;
  __atomic_store_n(&co->cancel, 1, __ATOMIC_RELEASE);
  /* a parked target is woken; its park sees the cancel */
  hook_hold(co);
  uint32_t seq = hook_seq(co);
  if (__atomic_load_n(&co->state, __ATOMIC_ACQUIRE) == PARKED) hook_wake(co, seq);
  else co_unref(co);
  return 0;
}

MT_API mt_co_t *mt_co_current(void) { return hook_current(); }
MT_API const char *mt_co_name(const mt_co_t *co) { return co->name; }

/* ---- the scheduler loop --------------------------------------------------------------------- */
static void take_remote(sched_t *s) {
  if (!__atomic_load_n(&s->remote, __ATOMIC_ACQUIRE)) return;   /* the common case: no lock */
  /* Copy the list under the lock: once it is released, a waker may queue
   * one of these again and rewrite rnext/rseq. */
  mt__ilock(&s->rlock);
  mt_co_t *list = s->remote;
  __atomic_store_n(&s->remote, NULL, __ATOMIC_RELAXED);
  for (mt_co_t *c = list; c; c = c->rnext) {
    c->tnext = c->rnext;
    c->tseq = c->rseq;
    c->rqueued = false;
  }
  mt__iunlock(&s->rlock);
  while (list) {
    mt_co_t *next = list->tnext;
    wake_local(s, list, list->tseq);
    co_unref(list);
    list = next;
  }
}

static void fire_timers(sched_t *s) {
  int64_t now = mt__now_ns();
  while (s->nheap && s->heap[0]->deadline <= now) {
    mt_co_t *co = s->heap[0];
    heap_del(s, co);
    ready_push(s, co);
  }
}

/* Sleeps until an fd event, a kick, or the next deadline — at most a second:
 * a defence in depth, so that a wake-up lost on its way (none is known)
 * would cost a second, not a hang. */
static void idle_wait(sched_t *s) {
  int ms = 1000;
  if (s->nheap) {
    int64_t left = s->heap[0]->deadline - mt__now_ns();
    ms = left <= 0 ? 0 : left / 1000000 >= 1000 ? 1000 : (int)((left + 999999) / 1000000);
  }
  poll_events(s, ms);
}

#ifdef MT_CTX_ASM
/* Puts co's frames on the shared stack, saving those of its occupant. */
static bool shared_swap_in(sched_t *s, mt_co_t *co) {
  char *top = s->sstack + SHARED_STACK;
  mt_co_t *o = s->sowner;
  if (o == co) return true;
  if (o) {
    size_t live = (size_t)(top - (char *)o->ctx.sp);
    if (live > o->saved_cap) {
      unsigned char *b = mt__realloc(o->saved, live);
      if (!b) return false;                     /* retried on a later round */
      o->saved = b;
      o->saved_cap = live;
    }
#ifdef MT_ASAN
    ASAN_UNPOISON_MEMORY_REGION(o->ctx.sp, live);
#endif
    memcpy(o->saved, o->ctx.sp, live);
    o->saved_len = live;
  }
#ifdef MT_ASAN
  ASAN_UNPOISON_MEMORY_REGION(s->sstack + g_page, SHARED_STACK - g_page);
#endif
  memcpy(top - co->saved_len, co->saved, co->saved_len);
  s->sowner = co;
  return true;
}
#endif

static void run(sched_t *s, mt_co_t *co) {
#ifdef MT_CTX_ASM
  if (co->shared && !shared_swap_in(s, co)) {
    ready_push(s, co);
    return;
  }
#endif
  s->current = co;
  t_running = co;
  __atomic_store_n(&co->state, RUNNING, __ATOMIC_RELEASE);
  switch_to(s, &s->main, &co->ctx, co, false);
  co = s->current;               /* yields hand over directly: it may be another one */
  s->current = NULL;
  t_running = NULL;
  if (co->state == DONE) {
    if (co->shared) {
      if (s->sowner == co) s->sowner = NULL;
      mt__free(co->saved);
      co->saved = NULL;
    } else {
      stack_put(s, co->stack, co->map_size);
    }
    co->stack = NULL;
    s->alive--;
    co_unref(co);                             /* the "alive" reference */
  }
}

__attribute__((constructor)) static void co_init(void) {
  g_page = (size_t)sysconf(_SC_PAGESIZE);
  mt__park_set_ops(&g_ops);
}

MT_API int mt_co_main(void *(*fn)(void *), void *arg) {
  if (t_sched) return MT_EBUSY;
  sched_t *s = mt__calloc(1, sizeof *s);
  if (!s) return MT_ENOMEM;
  s->refs = 1;
  s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int pe = s->efd < 0 ? -errno : mt__poller_new(&s->poller, s->efd);
  if (pe) {
    if (s->efd >= 0) close(s->efd);
    mt__free(s);
    return pe;
  }
  segv_install();
  altstack_on();
#ifdef MT_TSAN
  s->fiber = __tsan_get_current_fiber();
#endif
  t_sched = s;
  mt_co_t *first = mt_co_spawn(fn, arg);
  if (!first) {
    int e = mt_last_error();
    t_sched = NULL;
    mt__poller_free(s->poller);
    close(s->efd);
    mt__free(s);
    return e;
  }
  mt_co_detach(first);
  while (s->alive) {
    take_remote(s);
    fire_timers(s);
    /* with coroutines ready, still look at the fds now and then */
    if (s->fdwaiters && s->rhead && (++s->runs & 31) == 0) poll_events(s, 0);
    mt_co_t *co = ready_pop(s);
    if (co) run(s, co);
    else idle_wait(s);
  }
  /* Stop taking wakes, and drop those that came in too late to matter. */
  mt__ilock(&s->rlock);
  s->exited = true;
  mt_co_t *late = s->remote;
  __atomic_store_n(&s->remote, NULL, __ATOMIC_RELAXED);
  for (mt_co_t *c = late; c; c = c->rnext) c->tnext = c->rnext;
  mt__iunlock(&s->rlock);
  while (late) {
    mt_co_t *next = late->tnext;
    co_unref(late);
    late = next;
  }
  t_sched = NULL;
  for (size_t i = 0; i < s->ncache; i++) munmap(s->cache[i].base, s->cache[i].size);
  s->ncache = 0;
  if (s->sstack) munmap(s->sstack, SHARED_STACK);
  s->sstack = NULL;
  sched_unref(s);
  return 0;
}
