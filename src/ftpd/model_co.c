/* model_co.c — the coroutines model: one scheduler per core, disk work on a
 * thread pool.
 *
 * Each scheduler thread runs mt_co_main with one acceptor coroutine per
 * listening socket (all schedulers accept on the same sockets; the kernel
 * gives each connection to one of them). An admitted connection becomes a
 * session coroutine on the scheduler that accepted it. Sessions run the same
 * code as in the other models: every socket wait in it parks the coroutine,
 * not the thread. What could hold a scheduler thread — password hashing,
 * building a listing, file reads and writes of a transfer — goes through
 * ftpd_offload() to a small thread pool (srv->offload) while the coroutine
 * parks on the future.
 *
 * Shutdown: acceptors leave within half a second of srv->stopping, idle
 * sessions say 421 within a second, transfers finish; a scheduler returns
 * when its last coroutine has, and the schedulers get shutdown-grace.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftpd.h"

typedef struct {
  ftpd_server_t *srv;
  int fd;
  struct sockaddr_storage peer;
} co_conn_t;

typedef struct {
  ftpd_server_t *srv;
  int lfd;
} co_acc_t;

static void *session_co(void *p) {
  co_conn_t *cn = p;
  ftpd_session_run(cn->srv, cn->fd, &cn->peer);
  ftpd_release(cn->srv, &cn->peer);
  free(cn);
  return NULL;
}

/* Hand-off: the session becomes a coroutine of the accepting scheduler. */
static int co_handoff(void *ctx, int fd, const struct sockaddr_storage *peer) {
  co_conn_t *cn = malloc(sizeof *cn);
  if (!cn) return MT_ENOMEM;
  *cn = (co_conn_t){ctx, fd, *peer};
  /* Session code keeps path buffers on its stack: give it room. */
  mt_co_opts_t o = {.name = "ftp-session", .stack_size = 256 << 10};
  mt_co_t *co = mt_co_spawn_opts(session_co, cn, &o);
  if (!co) {
    free(cn);
    return MT_ENOMEM;
  }
  mt_co_detach(co);
  return 0;
}

static void *acceptor_co(void *p) {
  co_acc_t *a = p;
  ftpd_accept_loop(a->srv, a->lfd, co_handoff, a->srv);
  return NULL;
}

/* Spawns the acceptors of one scheduler (concurrently) and waits for them. */
static void *sched_main(void *p) {
  ftpd_server_t *srv = p;
  co_acc_t acc[FTPD_MAX_LISTEN];
  mt_co_t *cos[FTPD_MAX_LISTEN];
  int n = 0;
  for (int i = 0; i < srv->n_listen; i++) {
    acc[i] = (co_acc_t){srv, srv->listen_fd[i]};
    if ((cos[n] = mt_co_spawn(acceptor_co, &acc[i]))) n++;
  }
  mt_co_joinall(cos, (size_t)n, MT_FOREVER);
  return NULL;
}

static void *sched_thread(void *p) {
  int r = mt_co_main(sched_main, p);
  if (r < 0) ftpd_log(LOG_ERROR, "scheduler: %s", mt_strerror(r));
  return NULL;
}

static int co_run(ftpd_server_t *srv, mt_event_t *stop) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int n = cpus > 0 ? (int)cpus : 1;
  mt_pool_opts_t po = {.workers = (size_t)(n < 4 ? 4 : n), .name = "ftp-disk"};
  srv->offload = mt_pool_new_opts(&po);
  if (!srv->offload) {
    ftpd_log(LOG_ERROR, "cannot start the disk thread pool: %s", mt_strerror(mt_last_error()));
    return -1;
  }
  mt_thread_t **th = calloc((size_t)n, sizeof *th);
  int started = 0, rc = 0;
  for (; th && started < n; started++) {
    char name[16];
    snprintf(name, sizeof name, "ftp-sched-%d", started);
    mt_thread_opts_t o = {.name = name, .daemon = true};
    if (mt_thread_start(&th[started], sched_thread, srv, &o) < 0) {
      rc = -1;
      break;
    }
  }
  if (!th) rc = -1;
  if (rc == 0) mt_event_wait(stop, MT_FOREVER);
  atomic_store(&srv->stopping, true);
  int busy = atomic_load(&srv->active);
  if (busy) ftpd_log(LOG_INFO, "stopping: waiting up to %g s for %d session(s)", srv->snap->cfg.shutdown_grace, busy);
  double deadline = mt_now() + srv->snap->cfg.shutdown_grace + 1.5;
  int left = 0;
  for (int i = 0; i < started; i++) {
    double t = deadline - mt_now();
    if (mt_thread_join(th[i], t > 0 ? t : 0, NULL) == 0) mt_thread_free(th[i]);
    else left++;
  }
  for (int i = 0; i < srv->n_listen; i++) mt_close(srv->listen_fd[i]);
  if (left) {
    ftpd_log(LOG_WARN, "%d session(s) still running after the grace period; exiting anyway", atomic_load(&srv->active));
    return rc;
  }
  free(th);
  mt_pool_free(srv->offload);
  srv->offload = NULL;
  return rc;
}

/* Sessions share their scheduler's thread: nothing of theirs to name. */
const ftpd_model_t ftpd_model_co = {
  .name = "coroutines",
  .what = "coroutines on one scheduler per core, disk work on a thread pool",
  .run = co_run,
  .session_named = NULL,
  .session_end = NULL,
};
