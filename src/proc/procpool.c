/* procpool.c — the process pool.
 *
 * Workers are processes started with mt_proc_start (daemonic: they die with
 * the parent), each joined to the parent by a duplex message pipe. A task
 * message is [fn pointer][input bytes] — the worker is a fork of the parent,
 * so the function's address is valid there — and a result message is
 * [int32 code][output bytes].
 *
 * Results come back through shared memory: each worker has a byte ring
 * (rring_t) it appends [len][code][bytes] records to and publishes by its
 * tail counter, so a tiny task costs the worker no system call; a result
 * too big for the ring goes through the pipe behind a marker record. The
 * manager sleeps in epoll; a worker that publishes while the manager says it
 * sleeps (the shared `sleeping` word, Dekker-style with the tail) writes the
 * eventfd. Tasks go out in batches, one sendmsg(2) per batch.
 *
 * One manager thread ("mt-procpool") owns the workers: it hands queued
 * tasks to workers, reads results and completes the futures, notices a
 * worker's death by end-of-stream on its pipe, reaps it and starts a
 * replacement. Tasks are pipelined: under load a worker has up to DEPTH
 * tasks in flight (1 + the backlog's fair share), so it never waits for a
 * round trip through the manager. A worker runs its tasks in order and
 * publishes each answer before starting the next, so when one dies, the
 * oldest unanswered task is the one it was running — that future fails with
 * MT_EBROKEN — and the others, never started, go back to the front of the
 * line. A future becomes "running" when its task is handed to a worker (as
 * in ProcessPoolExecutor); until then it can be cancelled.
 *
 * Users talk to the manager through `tasks` (an mt_queue) and an eventfd
 * that wakes its epoll — written only when the manager says it is about to
 * sleep. Only the manager touches the worker table and the retry list.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ipc/wrapcopy.h"
#include "mt/ipc.h"
#include "mt/proc.h"
#include "mt/queue.h"
#include "mt/thread.h"
#include "pool/future_internal.h"
#include "sync/sync_internal.h"

#define DEPTH 128
#define RING (128u << 10)        /* result bytes in flight per worker */
#define BIG (RING / 4)           /* a larger result goes through the pipe */
/* Input bytes sent to a worker and not yet answered, beyond its first task.
 * Kept well under a socket buffer, so sending never waits on a worker that
 * is itself waiting for the manager to drain its result ring. */
#define INFLIGHT_MAX (64u << 10)
#define VIA_PIPE UINT32_MAX      /* record length meaning "the bytes follow on the pipe" */

typedef struct {
  uint64_t tail;                 /* bytes published: written by the worker */
  char pad1[56];
  uint64_t head;                 /* bytes consumed: written by the manager */
  char pad2[56];
  unsigned char data[RING];
} rring_t;

typedef struct {
  uint32_t sleeping;             /* the manager is (about to be) in epoll_wait */
  char pad[60];
  rring_t ring[];                /* one per worker slot */
} shared_t;

typedef struct {
  mt_ptask_fn fn;
  mt_future_t *f;
  bool started;                  /* its future is already "running" */
  size_t len;
  unsigned char msg[];           /* [fn][input] as sent */
} ptask_t;

typedef struct {
  mt_proc_t *proc;
  mt_pipe_t *pipe;               /* the parent's end */
  ptask_t *fly[DEPTH];           /* in flight, oldest first (a ring) */
  unsigned head, n;
  size_t sent;                   /* tasks given to this process */
  size_t inflight;               /* input bytes sent, not yet answered */
  bool alive;
} worker_t;

struct mt_procpool {
  mt_queue_t *tasks;
  int evfd, epfd;
  size_t nworkers;
  worker_t *w;
  mt_procpool_opts_t opts;
  char name[24];
  uint32_t closed;               /* no more submissions */
  uint32_t terminating;
  shared_t *sh;                  /* in shared memory, inherited by the workers */
  size_t shsize;
  mt_thread_t *manager;
  ptask_t *held;                 /* taken from the line, waiting for room (first out) */
  ptask_t **retry;               /* tasks to hand out before the queue's */
  size_t nretry, rpos, retry_cap;
};

/* ---- the worker process ------------------------------------------------------------ */
typedef struct { mt_procpool_t *pp; mt_pipe_t *child_end, *parent_end; size_t idx; } wstart_t;

static size_t rec_size(size_t n) { return 8 + ((n + 7) & ~(size_t)7); }

static void wake_manager(mt_procpool_t *pp) {
  if (!__atomic_load_n(&pp->sh->sleeping, __ATOMIC_SEQ_CST)) return;
  uint64_t one = 1;
  ssize_t w = write(pp->evfd, &one, sizeof one);
  (void)w;
}

/* Publishes one result record (worker side). Waits while the ring is full,
 * nudging the manager. */
static int publish(mt_procpool_t *pp, rring_t *r, mt_pipe_t *pipe, int32_t code, const void *out, size_t outlen) {
  bool big = outlen > BIG;
  size_t need = rec_size(big ? 0 : outlen);
  uint64_t tail = r->tail;
  while (RING - (tail - __atomic_load_n(&r->head, __ATOMIC_ACQUIRE)) < need) {
    uint64_t one = 1;                          /* full: the manager must drain */
    ssize_t w = write(pp->evfd, &one, sizeof one);
    (void)w;
    usleep(50);
  }
  uint32_t hdr[2] = { big ? VIA_PIPE : (uint32_t)outlen, (uint32_t)code };
  mt__wrap_copy_in(r->data, RING, tail, hdr, sizeof hdr);
  if (!big && outlen) mt__wrap_copy_in(r->data, RING, tail + 8, out, outlen);
  __atomic_store_n(&r->tail, tail + need, __ATOMIC_SEQ_CST);
  wake_manager(pp);
  if (big && mt_pipe_send(pipe, out, outlen, MT_FOREVER) != 0) return -1;
  return 0;
}

static int worker_process(void *arg) {
  wstart_t *ws = arg;
  mt_procpool_t *pp = ws->pp;
  mt_pipe_t *pipe = ws->child_end;
  rring_t *ring = &pp->sh->ring[ws->idx];
  /* Keep no parent end open here — ours or the siblings' — or the end of
   * stream that tells a worker to stop would never come. */
  close(mt_pipe_fileno(ws->parent_end));
  for (size_t i = 0; i < pp->nworkers; i++)
    if (pp->w[i].pipe) close(mt_pipe_fileno(pp->w[i].pipe));
  if (pp->opts.initializer) pp->opts.initializer(pp->opts.initarg);
  for (size_t done = 0; !pp->opts.maxtasksperchild || done < pp->opts.maxtasksperchild; done++) {
    void *msg;
    size_t len;
    if (mt_pipe_recv(pipe, &msg, &len, MT_FOREVER) != 0 || len < sizeof(mt_ptask_fn)) return 0;
    mt_ptask_fn fn;
    memcpy(&fn, msg, sizeof fn);
    void *out = NULL;
    size_t outlen = 0;
    int32_t code = fn((char *)msg + sizeof fn, len - sizeof fn, &out, &outlen);
    free(msg);
    if (!out) outlen = 0;
    int r = publish(pp, ring, pipe, code, out, outlen);
    free(out);
    if (r) return 0;
  }
  return 0;
}

/* ---- the manager ------------------------------------------------------------------- */
static int spawn(mt_procpool_t *pp, size_t i) {
  worker_t *w = &pp->w[i];
  mt_pipe_t *mine, *theirs;
  int e = mt_pipe_new(&mine, &theirs, true);
  if (e) return e;
  char name[40];
  snprintf(name, sizeof name, "%s-%zu", pp->name, i);
  mt_proc_opts_t o = { .name = name, .daemon = true };
  wstart_t ws = { pp, theirs, mine, i };
  pp->sh->ring[i].head = pp->sh->ring[i].tail = 0;   /* the slot's old worker is gone */
  w->pipe = NULL;                                   /* not ours to close in the child */
  e = mt_proc_start(&w->proc, worker_process, &ws, &o);
  mt_pipe_close(theirs);
  if (e) {
    mt_pipe_close(mine);
    return e;
  }
  w->pipe = mine;
  w->head = w->n = 0;
  w->sent = 0;
  w->inflight = 0;
  w->alive = true;
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = i };
  epoll_ctl(pp->epfd, EPOLL_CTL_ADD, mt_pipe_fileno(mine), &ev);
  return 0;
}

static void finish_task(ptask_t *t, int code, mt_buf_t *res) {
  mt__future_finish(t->f, code, res);
  mt_future_release(t->f);
  free(t);
}

static void fail_task(ptask_t *t, int code) {
  if (!mt__future_cancel(t->f)) mt__future_finish(t->f, code, NULL);
  mt_future_release(t->f);
  free(t);
}

static void retry_push(mt_procpool_t *pp, ptask_t *t) {
  if (pp->nretry == pp->retry_cap) {
    size_t ncap = pp->retry_cap ? pp->retry_cap * 2 : 64;
    ptask_t **n = realloc(pp->retry, ncap * sizeof *n);
    if (!n) {                          /* cannot keep it: it fails rather than vanish */
      fail_task(t, MT_ENOMEM);
      return;
    }
    pp->retry = n;
    pp->retry_cap = ncap;
  }
  pp->retry[pp->nretry++] = t;
}

static ptask_t *next_task(mt_procpool_t *pp) {
  if (pp->held) {
    ptask_t *t = pp->held;
    pp->held = NULL;
    return t;
  }
  if (pp->rpos < pp->nretry) {
    ptask_t *t = pp->retry[pp->rpos++];
    if (pp->rpos == pp->nretry) pp->rpos = pp->nretry = 0;
    return t;
  }
  void *item;
  return mt_queue_get(pp->tasks, &item, 0) == 0 ? item : NULL;
}

static size_t backlog(mt_procpool_t *pp) {
  return (pp->held != NULL) + pp->nretry - pp->rpos + mt_queue_size(pp->tasks);
}

/* The worker's pipe ended: it died (or finished maxtasksperchild). The
 * oldest task in flight was running: it fails; the rest go back in line. */
static int take_results(mt_procpool_t *pp, size_t i, bool probe);

static void bury(mt_procpool_t *pp, size_t i) {
  worker_t *w = &pp->w[i];
  /* Results it wrote before dying are still in the pipe: they count. */
  while (take_results(pp, i, true) == 0 && mt_pipe_poll(w->pipe, 0.001) == 0) {
  }
  epoll_ctl(pp->epfd, EPOLL_CTL_DEL, mt_pipe_fileno(w->pipe), NULL);
  mt_pipe_close(w->pipe);
  w->pipe = NULL;
  for (unsigned k = 0; k < w->n; k++) {
    ptask_t *t = w->fly[(w->head + k) % DEPTH];
    if (k == 0) fail_task(t, MT_EBROKEN);
    else retry_push(pp, t);
  }
  w->n = 0;
  w->inflight = 0;
  mt_proc_join(w->proc, MT_FOREVER);
  mt_proc_free(w->proc);
  w->proc = NULL;
  w->alive = false;
}

/* Completes the futures of every result worker i has published; with
 * probe, also looks at its pipe for the end of stream. Returns 0, or the
 * error that ended the stream (the caller buries the worker). */
static int take_results(mt_procpool_t *pp, size_t i, bool probe) {
  worker_t *w = &pp->w[i];
  rring_t *r = &pp->sh->ring[i];
  uint64_t head = r->head;
  for (;;) {
    uint64_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
    if (head == tail) break;
    uint32_t hdr[2];
    mt__wrap_copy_out(r->data, RING, head, hdr, sizeof hdr);
    if (w->n == 0 || (hdr[0] != VIA_PIPE && rec_size(hdr[0]) > tail - head)) return MT_EIO;
    mt_buf_t *res;
    size_t rec;
    if (hdr[0] == VIA_PIPE) {                      /* the bytes follow on the pipe */
      void *msg;
      size_t len;
      int e = mt_pipe_recv(w->pipe, &msg, &len, MT_FOREVER);
      if (e) return e;
      res = malloc(sizeof *res + len);
      if (res) {
        res->len = len;
        memcpy(res->data, msg, len);
      }
      free(msg);
      rec = rec_size(0);
    } else {
      res = malloc(sizeof *res + hdr[0]);          /* the caller frees it with free() */
      if (res) {
        res->len = hdr[0];
        mt__wrap_copy_out(r->data, RING, head + 8, res->data, hdr[0]);
      }
      rec = rec_size(hdr[0]);
    }
    head += rec;
    __atomic_store_n(&r->head, head, __ATOMIC_RELEASE);   /* room for the worker */
    ptask_t *t = w->fly[w->head];
    w->head = (w->head + 1) % DEPTH;
    w->n--;
    w->inflight -= t->len;
    finish_task(t, res ? (int32_t)hdr[1] : MT_ENOMEM, res);
  }
  if (!probe) return 0;
  void *msg;
  size_t len;
  int e = mt_pipe_recv(w->pipe, &msg, &len, 0);
  if (e == MT_ETIMEDOUT) return 0;
  if (e == 0) {                                    /* bytes with no marker: broken */
    free(msg);
    return MT_EIO;
  }
  return e;
}

static void read_results(mt_procpool_t *pp, size_t i, bool probe) {
  if (take_results(pp, i, probe) != 0) bury(pp, i);
}

static bool has_results(mt_procpool_t *pp, size_t i) {
  rring_t *r = &pp->sh->ring[i];
  return __atomic_load_n(&r->tail, __ATOMIC_SEQ_CST) != r->head;
}

/* How many tasks worker i may have in flight now: 1, plus its fair share of
 * the backlog, at most DEPTH; none past maxtasksperchild. */
static bool has_room(mt_procpool_t *pp, size_t i) {
  worker_t *w = &pp->w[i];
  size_t depth = 1 + backlog(pp) / pp->nworkers;
  if (depth > DEPTH) depth = DEPTH;
  if (pp->held && w->n > 0 && w->inflight + pp->held->len > INFLIGHT_MAX) return false;
  return w->alive && w->n < depth && (!pp->opts.maxtasksperchild || w->sent < pp->opts.maxtasksperchild);
}

int mt__pipe_sendv(mt_pipe_t *p, const void *const *bufs, const size_t *lens, size_t n, double timeout);

/* Hands worker i what it may take now, in one write: under load a batch of
 * tiny tasks costs one system call. The tasks are in `fly` before they are
 * sent, so if the worker is found dead, bury() sees them. */
static void feed(mt_procpool_t *pp, size_t i) {
  const void *bufs[DEPTH];
  size_t lens[DEPTH], k = 0;
  worker_t *w = &pp->w[i];
  while (k < DEPTH && has_room(pp, i)) {
    ptask_t *t = next_task(pp);
    if (!t) break;
    if (w->n > 0 && w->inflight + t->len > INFLIGHT_MAX) {
      pp->held = t;                                 /* next time, first in line */
      break;
    }
    if (!t->started && !mt__future_start(t->f)) {   /* cancelled while queued */
      mt_future_release(t->f);
      free(t);
      continue;
    }
    t->started = true;
    w->fly[(w->head + w->n) % DEPTH] = t;
    w->n++;
    w->sent++;
    w->inflight += t->len;
    bufs[k] = t->msg;
    lens[k++] = t->len;
  }
  if (k && mt__pipe_sendv(w->pipe, bufs, lens, k, MT_FOREVER) != 0)
    bury(pp, i);                                    /* it died: the oldest was "running" there */
}

static void *manager_main(void *arg) {
  mt_procpool_t *pp = arg;
  for (;;) {
    bool terminating = __atomic_load_n(&pp->terminating, __ATOMIC_ACQUIRE);
    bool closed = __atomic_load_n(&pp->closed, __ATOMIC_ACQUIRE);
    size_t busy = 0, alive = 0;
    for (size_t i = 0; i < pp->nworkers; i++) {
      worker_t *w = &pp->w[i];
      if (!w->alive && !terminating && (!closed || backlog(pp))) spawn(pp, i);
      if (!w->alive) continue;
      alive++;
      if (!terminating) feed(pp, i);
      busy += w->n;
    }
    if (terminating || (closed && backlog(pp) == 0 && busy == 0)) break;
    /* Say we are going to sleep, then look once more (pairs with kick). */
    __atomic_store_n(&pp->sh->sleeping, 1, __ATOMIC_SEQ_CST);
    bool more = false;                              /* work arrived that a worker can take */
    for (size_t i = 0; backlog(pp) && !more && i < pp->nworkers; i++) more = has_room(pp, i);
    for (size_t i = 0; !more && i < pp->nworkers; i++) more = pp->w[i].alive && has_results(pp, i);
    /* anything kick() would have told us about since the top of the loop */
    bool news = __atomic_load_n(&pp->closed, __ATOMIC_SEQ_CST) != closed ||
                __atomic_load_n(&pp->terminating, __ATOMIC_SEQ_CST) != terminating;
    struct epoll_event ev[16];
    /* a worker that could not be restarted is retried every 100 ms */
    int n = epoll_wait(pp->epfd, ev, 16, more || news ? 0 : alive < pp->nworkers ? 100 : -1);
    __atomic_store_n(&pp->sh->sleeping, 0, __ATOMIC_SEQ_CST);
    for (int k = 0; k < n; k++) {
      if (ev[k].data.u64 == UINT64_MAX) {
        uint64_t v;
        ssize_t rd = read(pp->evfd, &v, sizeof v);
        (void)rd;
      } else if (pp->w[ev[k].data.u64].alive) {
        read_results(pp, (size_t)ev[k].data.u64, true);
      }
    }
    for (size_t i = 0; i < pp->nworkers; i++)        /* results published in shared memory */
      if (pp->w[i].alive && has_results(pp, i)) read_results(pp, i, false);
  }
  /* Stop the workers: closing their pipes ends them; terminate kills. */
  bool kill_them = __atomic_load_n(&pp->terminating, __ATOMIC_ACQUIRE);
  for (size_t i = 0; i < pp->nworkers; i++) {
    worker_t *w = &pp->w[i];
    if (!w->alive) continue;
    if (kill_them) mt_proc_kill(w->proc);
    epoll_ctl(pp->epfd, EPOLL_CTL_DEL, mt_pipe_fileno(w->pipe), NULL);
    mt_pipe_close(w->pipe);
    w->pipe = NULL;
    for (unsigned k = 0; k < w->n; k++) {
      ptask_t *t = w->fly[(w->head + k) % DEPTH];
      fail_task(t, k == 0 ? MT_EBROKEN : MT_ECANCELED);
    }
    w->n = 0;
    mt_proc_join(w->proc, MT_FOREVER);
    mt_proc_free(w->proc);
    w->proc = NULL;
    w->alive = false;
  }
  ptask_t *t;
  while ((t = next_task(pp))) fail_task(t, MT_ECANCELED);
  return NULL;
}

static void kick(mt_procpool_t *pp) {
  if (!__atomic_load_n(&pp->sh->sleeping, __ATOMIC_SEQ_CST)) return;   /* it will look anyway */
  uint64_t one = 1;
  ssize_t w = write(pp->evfd, &one, sizeof one);
  (void)w;
}

/* ---- the API ---------------------------------------------------------------------- */
MT_API mt_procpool_t *mt_procpool_new(size_t workers, const mt_procpool_opts_t *opts) {
  if (workers == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    workers = n > 0 ? (size_t)n : 1;
  }
  mt_procpool_t *pp = mt__calloc(1, sizeof *pp);
  int e = pp ? 0 : MT_ENOMEM;
  if (!e) {
    pp->evfd = pp->epfd = -1;
    pp->nworkers = workers;
    if (opts) pp->opts = *opts;
    snprintf(pp->name, sizeof pp->name, "%s", opts && opts->name ? opts->name : "mtppool");
    pp->w = mt__calloc(workers, sizeof *pp->w);
    pp->tasks = mt_queue_new(MT_FIFO, 0);
    pp->shsize = sizeof(shared_t) + workers * sizeof(rring_t);
    pp->sh = mt_shm_alloc(pp->shsize);
    if (!pp->w || !pp->tasks || !pp->sh) e = MT_ENOMEM;
  }
  if (!e && ((pp->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 || (pp->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0))
    e = -errno;
  if (!e) {
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
    epoll_ctl(pp->epfd, EPOLL_CTL_ADD, pp->evfd, &ev);
    for (size_t i = 0; !e && i < workers; i++) e = spawn(pp, i);
  }
  if (!e) {
    mt_thread_opts_t to = { .name = "mt-procpool", .daemon = true };
    e = mt_thread_start(&pp->manager, manager_main, pp, &to);
  }
  if (e) {
    if (pp) {
      for (size_t i = 0; pp->w && i < workers; i++) {
        if (!pp->w[i].alive) continue;
        mt_proc_kill(pp->w[i].proc);
        mt_proc_join(pp->w[i].proc, MT_FOREVER);
        mt_proc_free(pp->w[i].proc);
        mt_pipe_close(pp->w[i].pipe);
      }
      if (pp->evfd >= 0) close(pp->evfd);
      if (pp->epfd >= 0) close(pp->epfd);
      mt_queue_free(pp->tasks);
      if (pp->sh) mt_shm_free(pp->sh, pp->shsize);
      mt__free(pp->w);
      mt__free(pp);
    }
    mt__set_last_error(e);
    return NULL;
  }
  mt__set_last_error(0);
  return pp;
}

MT_API mt_future_t *mt_procpool_submit(mt_procpool_t *pp, mt_ptask_fn fn, const void *in, size_t inlen) {
  if (!fn || (inlen && !in)) {
    mt__set_last_error(MT_EINVAL);
    return NULL;
  }
  if (__atomic_load_n(&pp->closed, __ATOMIC_ACQUIRE)) {
    mt__set_last_error(MT_ECLOSED);
    return NULL;
  }
  ptask_t *t = malloc(sizeof *t + sizeof fn + inlen);
  mt_future_t *f = t ? mt__future_new(2) : NULL;    /* the caller's and the task's */
  if (!f) {
    free(t);
    mt__set_last_error(MT_ENOMEM);
    return NULL;
  }
  t->fn = fn;
  t->f = f;
  t->started = false;
  t->len = sizeof fn + inlen;
  memcpy(t->msg, &fn, sizeof fn);
  if (inlen) memcpy(t->msg + sizeof fn, in, inlen);
  int e = mt_queue_put(pp->tasks, t, MT_FOREVER);
  if (e) {
    free(t);
    mt_future_release(f);
    mt_future_release(f);
    mt__set_last_error(e);
    return NULL;
  }
  kick(pp);
  mt__set_last_error(0);
  return f;
}

MT_API int mt_procpool_map(mt_procpool_t *pp, mt_ptask_fn fn, const void *const *ins, const size_t *inlens,
                           size_t n, mt_future_t **out) {
  for (size_t i = 0; i < n; i++) out[i] = NULL;
  for (size_t i = 0; i < n; i++) {
    out[i] = mt_procpool_submit(pp, fn, ins ? ins[i] : NULL, inlens ? inlens[i] : 0);
    if (!out[i]) return mt_last_error();
  }
  return 0;
}

MT_API int mt_procpool_close(mt_procpool_t *pp) {
  __atomic_store_n(&pp->closed, 1, __ATOMIC_RELEASE);
  mt_queue_close(pp->tasks);
  kick(pp);
  return 0;
}

MT_API int mt_procpool_join(mt_procpool_t *pp, double timeout) {
  if (!__atomic_load_n(&pp->closed, __ATOMIC_ACQUIRE)) return MT_EINVAL;
  return mt_thread_join(pp->manager, timeout, NULL);
}

MT_API int mt_procpool_terminate(mt_procpool_t *pp) {
  mt_procpool_close(pp);
  __atomic_store_n(&pp->terminating, 1, __ATOMIC_RELEASE);
  kick(pp);
  return mt_thread_join(pp->manager, MT_FOREVER, NULL);
}

MT_API void mt_procpool_free(mt_procpool_t *pp) {
  if (!pp) return;
  if (mt_thread_join(pp->manager, 0, NULL) != 0) mt_procpool_terminate(pp);
  mt_thread_free(pp->manager);
  close(pp->evfd);
  close(pp->epfd);
  mt_queue_free(pp->tasks);
  free(pp->retry);
  mt_shm_free(pp->sh, pp->shsize);
  mt__free(pp->w);
  mt__free(pp);
}
