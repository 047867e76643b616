/* model_threads.c — the threads model the course notes ask for.
 *
 * The acceptor threads (accept.c) admit a connection (--max-clients and
 * --max-per-ip; over either limit the client gets its 421 and is closed at
 * once) and put it into a bounded mt_queue. A pool of
 * --max-clients session threads takes connections from the queue and runs
 * each to its end. Admission counts a connection from accept to the end of
 * its session, so the queue (sized max-clients) can never be full and an
 * acceptor never blocks on it. Sessions share nothing but the server struct,
 * whose mutable parts are under srv->lock (snapshot pointer, per-IP table,
 * active count); no lock is held across IO.
 *
 * Shutdown: acceptors stop, the queue is closed (sessions still queued are
 * served a 421), idle sessions notice srv->stopping within a second and say
 * 421, running transfers finish within shutdown-grace.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ftpd.h"

typedef struct {
  int fd;
  struct sockaddr_storage peer;
} conn_t;

typedef struct {
  ftpd_server_t *srv;
  mt_queue_t *q;
} worker_arg_t;

static void *worker(void *p) {
  worker_arg_t *w = p;
  for (;;) {
    void *item;
    if (mt_queue_get(w->q, &item, MT_FOREVER) < 0) break;   /* closed and drained */
    conn_t *cn = item;
    ftpd_session_run(w->srv, cn->fd, &cn->peer);
    ftpd_release(w->srv, &cn->peer);
    free(cn);
  }
  return NULL;
}

static int queue_handoff(void *ctx, int fd, const struct sockaddr_storage *peer) {
  conn_t *cn = malloc(sizeof *cn);
  if (!cn) return MT_ENOMEM;
  cn->fd = fd;
  cn->peer = *peer;
  int r = mt_queue_put(ctx, cn, MT_FOREVER);   /* never full: admission bounds it */
  if (r < 0) free(cn);
  return r;
}

static void name_thread(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }
static void back_to_idle(void) { prctl(PR_SET_NAME, "ftp-idle", 0, 0, 0); }

static int threads_run(ftpd_server_t *srv, mt_event_t *stop) {
  int n = srv->snap->cfg.max_clients;   /* the pool is sized once; a reload cannot grow it */
  srv->capacity = n;
  mt_queue_t *q = mt_queue_new(MT_FIFO, (size_t)n);
  mt_thread_t **workers = calloc((size_t)n, sizeof *workers);
  mt_thread_t *acc[FTPD_MAX_LISTEN] = {0};
  worker_arg_t warg = {srv, q};
  if (!q || !workers) {
    ftpd_log(LOG_ERROR, "out of memory starting %d session threads", n);
    mt_queue_free(q);
    free(workers);
    return -1;
  }
  int started = 0, rc = 0;
  for (; started < n; started++) {
    mt_thread_opts_t o = {.name = "ftp-idle", .daemon = true, .stack_size = 256 << 10};
    int r = mt_thread_start(&workers[started], worker, &warg, &o);
    if (r < 0) {
      ftpd_log(LOG_ERROR, "cannot start session thread %d of %d: %s", started + 1, n, mt_strerror(r));
      rc = -1;
      break;
    }
  }
  if (rc == 0 && ftpd_acceptors_start(srv, queue_handoff, q, acc) < 0) rc = -1;
  if (rc == 0) mt_event_wait(stop, MT_FOREVER);

  /* Orderly stop. */
  ftpd_acceptors_stop(srv, acc);
  mt_queue_close(q);
  int busy = atomic_load(&srv->active);
  if (busy) ftpd_log(LOG_INFO, "stopping: waiting up to %g s for %d session(s)", srv->snap->cfg.shutdown_grace, busy);
  double deadline = mt_now() + srv->snap->cfg.shutdown_grace + 1.5;   /* idle ones need up to 1 s to see the flag */
  int left = 0;
  for (int i = 0; i < started; i++) {
    double t = deadline - mt_now();
    if (mt_thread_join(workers[i], t > 0 ? t : 0, NULL) == 0) mt_thread_free(workers[i]);
    else left++;
  }
  if (left) {
    ftpd_log(LOG_WARN, "%d session(s) still running after the grace period; exiting anyway", atomic_load(&srv->active));
    /* Their threads are daemonic: exit() does not wait for them, and the
     * queue and worker array stay allocated for them until then. */
    return rc;
  }
  mt_queue_free(q);
  free(workers);
  return rc;
}

const ftpd_model_t ftpd_model_threads = {
  .name = "threads",
  .what = "a pool of session threads fed by a bounded queue",
  .run = threads_run,
  .session_named = name_thread,
  .session_end = back_to_idle,
};
