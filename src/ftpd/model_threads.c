/* model_threads.c — the threads model the course notes ask for.
 *
 * One acceptor thread per listening socket admits a connection (ftpd_admit:
 * --max-clients and --max-per-ip; over either limit the client gets its 421
 * and is closed at once) and puts it into a bounded mt_queue. A pool of
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
#include <unistd.h>

#include "ftpd.h"

struct ip_slot {
  char ip[INET6_ADDRSTRLEN];
  int n;
};

int ftpd_admit(ftpd_server_t *srv, const struct sockaddr_storage *peer, const char **why) {
  char ip[INET6_ADDRSTRLEN];
  ftpd_addr_ip(peer, ip, sizeof ip, NULL);
  mt_lock_acquire(&srv->lock, MT_FOREVER);
  int max = srv->snap->cfg.max_clients, per_ip = srv->snap->cfg.max_per_ip;
  struct ip_slot *slot = NULL;
  for (size_t i = 0; i < srv->n_ips; i++)
    if (!strcmp(srv->ips[i].ip, ip)) slot = &srv->ips[i];
  int rc = 0;
  if (atomic_load(&srv->active) >= max || (srv->pool_size && atomic_load(&srv->active) >= srv->pool_size)) {
    *why = "421 Too many users, try later.\r\n";
    rc = -1;
  } else if (per_ip && slot && slot->n >= per_ip) {
    *why = "421 Too many connections from your address, try later.\r\n";
    rc = -1;
  } else {
    if (!slot) {
      if (srv->n_ips == srv->cap_ips) {
        size_t cap = srv->cap_ips ? srv->cap_ips * 2 : 16;
        struct ip_slot *n = realloc(srv->ips, cap * sizeof *n);
        if (!n) {
          mt_lock_release(&srv->lock);
          *why = "421 Out of memory, try later.\r\n";
          return -1;
        }
        srv->ips = n;
        srv->cap_ips = cap;
      }
      slot = &srv->ips[srv->n_ips++];
      strcpy(slot->ip, ip);
      slot->n = 0;
    }
    slot->n++;
    atomic_fetch_add(&srv->active, 1);
  }
  mt_lock_release(&srv->lock);
  return rc;
}

void ftpd_release(ftpd_server_t *srv, const struct sockaddr_storage *peer) {
  char ip[INET6_ADDRSTRLEN];
  ftpd_addr_ip(peer, ip, sizeof ip, NULL);
  mt_lock_acquire(&srv->lock, MT_FOREVER);
  for (size_t i = 0; i < srv->n_ips; i++)
    if (!strcmp(srv->ips[i].ip, ip)) {
      if (--srv->ips[i].n == 0) srv->ips[i] = srv->ips[--srv->n_ips];
      break;
    }
  atomic_fetch_sub(&srv->active, 1);
  mt_lock_release(&srv->lock);
}

typedef struct {
  int fd;
  struct sockaddr_storage peer;
} conn_t;

typedef struct {
  ftpd_server_t *srv;
  mt_queue_t *q;
  int lfd;
} acceptor_arg_t;

static void *acceptor(void *p) {
  acceptor_arg_t *a = p;
  ftpd_server_t *srv = a->srv;
  while (!atomic_load(&srv->stopping)) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int c = mt_accept(a->lfd, (struct sockaddr *)&ss, &len, 0.5);
    if (c == MT_ETIMEDOUT) continue;
    if (c < 0) {
      if (c == MT_EMFILE || c == -ENFILE || c == MT_ENOMEM) {
        ftpd_log(LOG_ERROR, "accept: %s; pausing accepts for 100 ms", mt_strerror(c));
        mt_sleep(0.1);
      }
      continue;
    }
    const char *why;
    if (ftpd_admit(srv, &ss, &why) < 0) {
      char ip[INET6_ADDRSTRLEN];
      ftpd_addr_ip(&ss, ip, sizeof ip, NULL);
      ftpd_log(LOG_WARN, "refused %s: %.*s", ip, (int)strlen(why) - 2, why + 4);
      (void)!send(c, why, strlen(why), MSG_NOSIGNAL | MSG_DONTWAIT);
      mt_close(c);
      continue;
    }
    conn_t *cn = malloc(sizeof *cn);
    if (cn) {
      cn->fd = c;
      cn->peer = ss;
    }
    if (!cn || mt_queue_put(a->q, cn, MT_FOREVER) < 0) {
      static const char msg[] = "421 Service not available.\r\n";
      (void)!send(c, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      mt_close(c);
      ftpd_release(srv, &ss);
      free(cn);
    }
  }
  return NULL;
}

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

int ftpd_model_threads_run(ftpd_server_t *srv, mt_event_t *stop) {
  int n = srv->pool_size;
  mt_queue_t *q = mt_queue_new(MT_FIFO, (size_t)n);
  mt_thread_t **workers = calloc((size_t)n, sizeof *workers);
  mt_thread_t *acc[FTPD_MAX_LISTEN] = {0};
  acceptor_arg_t aargs[FTPD_MAX_LISTEN];
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
  for (int i = 0; rc == 0 && i < srv->n_listen; i++) {
    aargs[i] = (acceptor_arg_t){srv, q, srv->listen_fd[i]};
    mt_thread_opts_t o = {.name = "ftp-accept", .daemon = true};
    if (mt_thread_start(&acc[i], acceptor, &aargs[i], &o) < 0) {
      ftpd_log(LOG_ERROR, "cannot start the acceptor thread");
      rc = -1;
    }
  }
  if (rc == 0) mt_event_wait(stop, MT_FOREVER);

  /* Orderly stop. */
  atomic_store(&srv->stopping, true);
  for (int i = 0; i < srv->n_listen; i++)
    if (acc[i]) {
      mt_thread_join(acc[i], MT_FOREVER, NULL);
      mt_thread_free(acc[i]);
    }
  for (int i = 0; i < srv->n_listen; i++) mt_close(srv->listen_fd[i]);
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
