/* procpool.c — the process pool.
 *
 * Workers are processes started with mt_proc_start (daemonic: they die with
 * the parent), each joined to the parent by a duplex message pipe. A task
 * message is [fn pointer][input bytes] — the worker is a fork of the parent,
 * so the function's address is valid there — and a result message is
 * [int32 code][output bytes].
 *
 * One manager thread ("mt-procpool") owns the workers: it hands queued
 * tasks to workers, reads results and completes the futures, notices a
 * worker's death by end-of-stream on its pipe, reaps it and starts a
 * replacement. Tasks are pipelined: under load a worker has up to DEPTH
 * tasks in flight (1 + the backlog's fair share), so it never waits for a
 * round trip through the manager. A worker runs its tasks in order and
 * answers each before starting the next, so when one dies, the oldest
 * unanswered task is the one it was running — that future fails with
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

#include "mt/ipc.h"
#include "mt/proc.h"
#include "mt/queue.h"
#include "mt/thread.h"
#include "pool/future_internal.h"
#include "sync/sync_internal.h"

#define DEPTH 32

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
  uint32_t sleeping;             /* the manager is (about to be) in epoll_wait */
  mt_thread_t *manager;
  ptask_t **retry;               /* tasks to hand out before the queue's */
  size_t nretry, rpos, retry_cap;
};

/* ---- the worker process ------------------------------------------------------------ */
typedef struct { mt_procpool_t *pp; mt_pipe_t *child_end, *parent_end; } wstart_t;

static int worker_process(void *arg) {
  wstart_t *ws = arg;
  mt_procpool_t *pp = ws->pp;
  mt_pipe_t *pipe = ws->child_end;
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
    unsigned char *res = malloc(sizeof code + outlen);
    if (!res) return 3;
    memcpy(res, &code, sizeof code);
    if (outlen) memcpy(res + sizeof code, out, outlen);
    free(out);
    int r = mt_pipe_send(pipe, res, sizeof code + outlen, MT_FOREVER);
    free(res);
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
  wstart_t ws = { pp, theirs, mine };
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
  if (pp->rpos < pp->nretry) {
    ptask_t *t = pp->retry[pp->rpos++];
    if (pp->rpos == pp->nretry) pp->rpos = pp->nretry = 0;
    return t;
  }
  void *item;
  return mt_queue_get(pp->tasks, &item, 0) == 0 ? item : NULL;
}

static size_t backlog(mt_procpool_t *pp) { return pp->nretry - pp->rpos + mt_queue_size(pp->tasks); }

/* The worker's pipe ended: it died (or finished maxtasksperchild). The
 * oldest task in flight was running: it fails; the rest go back in line. */
static int take_results(mt_procpool_t *pp, size_t i);

static void bury(mt_procpool_t *pp, size_t i) {
  worker_t *w = &pp->w[i];
  /* Results it wrote before dying are still in the pipe: they count. */
  while (take_results(pp, i) == 0 && mt_pipe_poll(w->pipe, 0.001)) {
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
  mt_proc_join(w->proc, MT_FOREVER);
  mt_proc_free(w->proc);
  w->proc = NULL;
  w->alive = false;
}

/* Completes the futures of every result waiting on worker i's pipe.
 * Returns 0 once it would block, or the error that ended the stream. */
static int take_results(mt_procpool_t *pp, size_t i) {
  worker_t *w = &pp->w[i];
  for (;;) {
    void *msg;
    size_t len;
    int r = mt_pipe_recv(w->pipe, &msg, &len, 0);
    if (r == MT_ETIMEDOUT) return 0;
    if (r || w->n == 0 || len < sizeof(int32_t)) {
      free(msg);
      return r ? r : MT_EIO;
    }
    int32_t code;
    memcpy(&code, msg, sizeof code);
    size_t n = len - sizeof code;
    mt_buf_t *res = malloc(sizeof *res + n);     /* the caller frees it with free() */
    if (res) {
      res->len = n;
      memcpy(res->data, (char *)msg + sizeof code, n);
    }
    free(msg);
    ptask_t *t = w->fly[w->head];
    w->head = (w->head + 1) % DEPTH;
    w->n--;
    finish_task(t, res ? code : MT_ENOMEM, res);
  }
}

static void read_results(mt_procpool_t *pp, size_t i) {
  if (take_results(pp, i) != 0) bury(pp, i);
}

/* How many tasks worker i may have in flight now: 1, plus its fair share of
 * the backlog, at most DEPTH; none past maxtasksperchild. */
static bool has_room(mt_procpool_t *pp, size_t i) {
  worker_t *w = &pp->w[i];
  size_t depth = 1 + backlog(pp) / pp->nworkers;
  if (depth > DEPTH) depth = DEPTH;
  return w->alive && w->n < depth && (!pp->opts.maxtasksperchild || w->sent < pp->opts.maxtasksperchild);
}

/* Hands worker i what it may take now. */
static void feed(mt_procpool_t *pp, size_t i) {
  while (has_room(pp, i)) {
    ptask_t *t = next_task(pp);
    if (!t) return;
    if (!t->started && !mt__future_start(t->f)) {   /* cancelled while queued */
      mt_future_release(t->f);
      free(t);
      continue;
    }
    t->started = true;
    worker_t *w = &pp->w[i];
    w->fly[(w->head + w->n) % DEPTH] = t;
    w->n++;
    w->sent++;
    if (mt_pipe_send(w->pipe, t->msg, t->len, MT_FOREVER) != 0) {
      bury(pp, i);                                  /* it died: t was "running" there */
      return;
    }
  }
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
    __atomic_store_n(&pp->sleeping, 1, __ATOMIC_SEQ_CST);
    bool more = false;                              /* work arrived that a worker can take */
    for (size_t i = 0; backlog(pp) && !more && i < pp->nworkers; i++) more = has_room(pp, i);
    /* anything kick() would have told us about since the top of the loop */
    bool news = __atomic_load_n(&pp->closed, __ATOMIC_SEQ_CST) != closed ||
                __atomic_load_n(&pp->terminating, __ATOMIC_SEQ_CST) != terminating;
    struct epoll_event ev[16];
    /* a worker that could not be restarted is retried every 100 ms */
    int n = epoll_wait(pp->epfd, ev, 16, more || news ? 0 : alive < pp->nworkers ? 100 : -1);
    __atomic_store_n(&pp->sleeping, 0, __ATOMIC_SEQ_CST);
    for (int k = 0; k < n; k++) {
      if (ev[k].data.u64 == UINT64_MAX) {
        uint64_t v;
        ssize_t rd = read(pp->evfd, &v, sizeof v);
        (void)rd;
      } else if (pp->w[ev[k].data.u64].alive) {
        read_results(pp, (size_t)ev[k].data.u64);
      }
    }
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
  if (!__atomic_load_n(&pp->sleeping, __ATOMIC_SEQ_CST)) return;   /* it will look anyway */
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
    if (!pp->w || !pp->tasks) e = MT_ENOMEM;
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
  mt__free(pp->w);
  mt__free(pp);
}
