/* accept.c — what every concurrency model shares: admission control and
 * accepting (one connection, or a loop on acceptor threads).
 *
 * ftpd_admit() refuses an address banned for failed logins (ban.c), and
 * counts a connection against --max-clients and --max-per-ip
 * (srv->lock guards the per-IP table and the count) from accept to the end
 * of its session; over a limit the client gets its 421 and is closed at
 * once; for a model with a fixed pool (ftpd_model_t.fixed_pool) the pool's
 * size, srv->capacity, bounds admission too. ftpd_accept_one() takes one
 * connection from a listening socket, admits it and hands it to the model's
 * hand-off function. The threads model repeats it on one acceptor thread
 * per socket (ftpd_acceptors_start), noticing srv->stopping within half a
 * second; the coroutines model calls it from an acceptor coroutine per
 * scheduler (which balances the schedulers), the fork model from its own
 * poll loop.
 */
#include <errno.h>
#include <stdio.h>
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
  int rc = 0, banned = ftpd_ban_left(srv, ip);
  if (banned) {
    /* the text outlives this call: the acceptor sends it right away, on
     * this thread, without parking in between */
    static _Thread_local char msg[128];
    snprintf(msg, sizeof msg, "421 Too many failed logins from your address; try again in %d s.\r\n", banned);
    *why = msg;
    rc = -1;
  } else if (atomic_load(&srv->active) >= max || (srv->capacity && atomic_load(&srv->active) >= srv->capacity)) {
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
  ftpd_server_t *srv;
  ftpd_handoff_fn fn;
  void *ctx;
  int lfd;
} acceptor_arg_t;

int ftpd_accept_one(ftpd_server_t *srv, int lfd, double timeout, ftpd_handoff_fn fn, void *ctx) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int c = mt_accept(lfd, (struct sockaddr *)&ss, &len, timeout);
  if (c < 0) {
    if (c == MT_EMFILE || c == -ENFILE || c == MT_ENOMEM) {
      ftpd_log(LOG_ERROR, "accept: %s; pausing accepts for 100 ms", mt_strerror(c));
      mt_sleep(0.1);
    }
    return 0;             /* also EAGAIN: another acceptor on this socket took it */
  }
  const char *why;
  if (ftpd_admit(srv, &ss, &why) < 0) {
    char ip[INET6_ADDRSTRLEN];
    ftpd_addr_ip(&ss, ip, sizeof ip, NULL);
    ftpd_log(LOG_WARN, "refused %s: %.*s", ip, (int)strlen(why) - 2, why + 4);
    (void)!send(c, why, strlen(why), MSG_NOSIGNAL | MSG_DONTWAIT);
    mt_close(c);
    return 1;
  }
  if (fn(ctx, c, &ss) < 0) {
    static const char msg[] = "421 Service not available, try later.\r\n";
    (void)!send(c, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    mt_close(c);
    ftpd_release(srv, &ss);
  }
  return 1;
}

static void *acceptor(void *p) {
  acceptor_arg_t *a = p;
  while (!atomic_load(&a->srv->stopping)) ftpd_accept_one(a->srv, a->lfd, 0.5, a->fn, a->ctx);
  free(a);
  return NULL;
}

int ftpd_acceptors_start(ftpd_server_t *srv, ftpd_handoff_fn fn, void *ctx, mt_thread_t **threads) {
  for (int i = 0; i < srv->n_listen; i++) {
    acceptor_arg_t *a = malloc(sizeof *a);
    if (!a) return MT_ENOMEM;
    *a = (acceptor_arg_t){srv, fn, ctx, srv->listen_fd[i]};
    mt_thread_opts_t o = {.name = "ftp-accept", .daemon = true};
    int r = mt_thread_start(&threads[i], acceptor, a, &o);
    if (r < 0) {
      free(a);
      ftpd_log(LOG_ERROR, "cannot start an acceptor thread: %s", mt_strerror(r));
      return r;
    }
  }
  return 0;
}

void ftpd_acceptors_stop(ftpd_server_t *srv, mt_thread_t **threads) {
  atomic_store(&srv->stopping, true);
  for (int i = 0; i < srv->n_listen; i++)
    if (threads[i]) {
      mt_thread_join(threads[i], MT_FOREVER, NULL);
      mt_thread_free(threads[i]);
      threads[i] = NULL;
    }
  for (int i = 0; i < srv->n_listen; i++) mt_close(srv->listen_fd[i]);
}
