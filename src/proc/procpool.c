/* procpool.c — the process pool.
 *
 * Workers are processes started with mt_proc_start (daemonic: they die with
 * the parent), each joined to the parent by a duplex message pipe. A task
 * message is [fn pointer][input bytes] — the worker is a fork of the parent,
 * so the function's address is valid there — and a result message is
 * [int32 code][output bytes].
 *
 * One manager thread ("mt-procpool") owns the workers: it hands queued
 * tasks to idle workers, reads results and completes the futures, notices a
 * worker's death by end-of-stream on its pipe (the future of the task it was
 * running fails with MT_EBROKEN), reaps it and starts a replacement. Users
 * talk to it through `tasks` (an mt_queue) and an eventfd that wakes its
 * epoll. Only the manager touches the worker table, so it needs no lock.
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

typedef struct {
  mt_ptask_fn fn;
  mt_future_t *f;
  size_t len;
  unsigned char msg[];           /* [fn][input] as sent */
} ptask_t;

typedef struct {
  mt_proc_t *proc;
  mt_pipe_t *pipe;               /* the parent's end */
  ptask_t *task;                 /* running here, or NULL: idle */
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
  mt_thread_t *manager;
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
  w->task = NULL;
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

/* The worker's pipe ended: it died (or finished maxtasksperchild). */
static void bury(mt_procpool_t *pp, size_t i) {
  worker_t *w = &pp->w[i];
  epoll_ctl(pp->epfd, EPOLL_CTL_DEL, mt_pipe_fileno(w->pipe), NULL);
  mt_pipe_close(w->pipe);
  w->pipe = NULL;
  if (w->task) {
    ptask_t *t = w->task;
    w->task = NULL;
    mt__future_finish(t->f, MT_EBROKEN, NULL);
    mt_future_release(t->f);
    free(t);
  }
  mt_proc_join(w->proc, MT_FOREVER);
  mt_proc_free(w->proc);
  w->proc = NULL;
  w->alive = false;
}

static void read_result(mt_procpool_t *pp, size_t i) {
  worker_t *w = &pp->w[i];
  void *msg;
  size_t len;
  int r = mt_pipe_recv(w->pipe, &msg, &len, 0);
  if (r == MT_ETIMEDOUT) return;
  if (r || !w->task || len < sizeof(int32_t)) {
    free(msg);
    bury(pp, i);
    return;
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
  ptask_t *t = w->task;
  w->task = NULL;
  finish_task(t, res ? code : MT_ENOMEM, res);
}

static void *manager_main(void *arg) {
  mt_procpool_t *pp = arg;
  for (;;) {
    bool terminating = __atomic_load_n(&pp->terminating, __ATOMIC_ACQUIRE);
    size_t busy = 0, alive = 0;
    for (size_t i = 0; i < pp->nworkers; i++) {
      worker_t *w = &pp->w[i];
      if (!w->alive && !terminating && (!__atomic_load_n(&pp->closed, __ATOMIC_ACQUIRE) || mt_queue_size(pp->tasks)))
        spawn(pp, i);                               /* (re)start; retried next round on failure */
      if (!w->alive) continue;
      alive++;
      if (w->task) { busy++; continue; }
      /* A worker at maxtasksperchild is about to exit: give it nothing more
       * (its end of stream will come, and a replacement with it). */
      if (pp->opts.maxtasksperchild && w->sent >= pp->opts.maxtasksperchild) continue;
      void *item;
      if (terminating || mt_queue_get(pp->tasks, &item, 0) != 0) continue;
      ptask_t *t = item;
      if (!mt__future_start(t->f)) {                /* cancelled while queued */
        mt_future_release(t->f);
        free(t);
        i--;                                        /* this worker is still idle */
        continue;
      }
      if (mt_pipe_send(w->pipe, t->msg, t->len, MT_FOREVER) != 0) {
        w->task = t;                                /* it died: bury fails the task */
        bury(pp, i);
        continue;
      }
      w->task = t;
      w->sent++;
      busy++;
    }
    bool drained = mt_queue_size(pp->tasks) == 0 && mt_queue_closed(pp->tasks);
    if (terminating || (drained && busy == 0)) break;
    struct epoll_event ev[16];
    /* a worker that could not be restarted is retried every 100 ms */
    int n = epoll_wait(pp->epfd, ev, 16, alive < pp->nworkers ? 100 : -1);
    for (int k = 0; k < n; k++) {
      if (ev[k].data.u64 == UINT64_MAX) {
        uint64_t v;
        ssize_t rd = read(pp->evfd, &v, sizeof v);
        (void)rd;
      } else {
        read_result(pp, (size_t)ev[k].data.u64);
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
    if (w->task) {
      fail_task(w->task, MT_EBROKEN);
      w->task = NULL;
    }
    mt_proc_join(w->proc, MT_FOREVER);
    mt_proc_free(w->proc);
    w->proc = NULL;
    w->alive = false;
  }
  void *item;
  while (mt_queue_get(pp->tasks, &item, 0) == 0) fail_task(item, MT_ECANCELED);
  return NULL;
}

static void kick(mt_procpool_t *pp) {
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
  mt__free(pp->w);
  mt__free(pp);
}
