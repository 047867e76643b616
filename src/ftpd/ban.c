/* ban.c — per-address failed-login accounting and the temporary ban.
 *
 * The table lives in the server process (the one that accepts), under
 * srv->lock, in every model: admission (accept.c) asks it before a session
 * starts, so a banned address's new connections are answered 421 without a
 * session. A failed PASS reaches it through ftpd_login_failed(): directly in
 * the threads and coroutines models; in the fork model the session process
 * only says "one failure" on the done pipe and the parent charges it to the
 * address the kernel gave at accept (model_fork.c), so nothing a client
 * sends — and nothing a session process claims — picks the address.
 *
 * An address is banned for login-ban-time seconds once max-login-failures
 * failures fall within login-failure-window seconds of the first; the ban
 * expires by itself (the entry is dropped at the next look-up after it).
 * The table is bounded (FTPD_MAX_BAN_ENTRIES): when full, the entry with
 * the oldest last failure that is not banned makes room; when all are
 * banned, a new address is not counted (logged once per call).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftpd.h"

struct ban_slot {
  char ip[INET6_ADDRSTRLEN];
  int fails;                  /* within the window that started at first */
  double first, last;         /* mt_now() of the window's first and the last failure */
  double until;               /* banned until then; 0 = not banned */
};

/* Drops expired entries (caller holds srv->lock). */
static void prune(ftpd_server_t *srv, double now, double window) {
  for (size_t i = 0; i < srv->n_bans;) {
    struct ban_slot *b = &srv->bans[i];
    bool banned = b->until > now;
    bool counting = !b->until && now - b->first < window;
    if (!banned && !counting) srv->bans[i] = srv->bans[--srv->n_bans];
    else i++;
  }
}

static struct ban_slot *find(ftpd_server_t *srv, const char *ip) {
  for (size_t i = 0; i < srv->n_bans; i++)
    if (!strcmp(srv->bans[i].ip, ip)) return &srv->bans[i];
  return NULL;
}

int ftpd_ban_left(ftpd_server_t *srv, const char *ip) {
  const ftpd_config_t *c = &srv->snap->cfg;
  if (!c->max_login_failures) return 0;
  double now = mt_now();
  prune(srv, now, c->login_failure_window);
  struct ban_slot *b = find(srv, ip);
  if (!b || b->until <= now) return 0;
  return (int)(b->until - now + 0.999);
}

void ftpd_ban_failure(ftpd_server_t *srv, const struct sockaddr_storage *peer) {
  char ip[INET6_ADDRSTRLEN];
  ftpd_addr_ip(peer, ip, sizeof ip, NULL);
  mt_lock_acquire(&srv->lock, MT_FOREVER);
  const ftpd_config_t *c = &srv->snap->cfg;
  int max = c->max_login_failures;
  double window = c->login_failure_window, ban = c->login_ban_time, now = mt_now();
  if (!max || !ip[0]) {
    mt_lock_release(&srv->lock);
    return;
  }
  prune(srv, now, window);
  struct ban_slot *b = find(srv, ip);
  if (!b) {
    if (srv->n_bans == FTPD_MAX_BAN_ENTRIES) {        /* full: the stalest counter goes */
      struct ban_slot *old = NULL;
      for (size_t i = 0; i < srv->n_bans; i++)
        if (!srv->bans[i].until && (!old || srv->bans[i].last < old->last)) old = &srv->bans[i];
      if (!old) {
        mt_lock_release(&srv->lock);
        ftpd_log(LOG_WARN, "login failure from %s not counted: the ban table is full", ip);
        return;
      }
      *old = srv->bans[--srv->n_bans];
    }
    if (srv->n_bans == srv->cap_bans) {
      size_t cap = srv->cap_bans ? srv->cap_bans * 2 : 16;
      struct ban_slot *n = realloc(srv->bans, cap * sizeof *n);
      if (!n) {
        mt_lock_release(&srv->lock);
        ftpd_log(LOG_WARN, "login failure from %s not counted: out of memory", ip);
        return;
      }
      srv->bans = n;
      srv->cap_bans = cap;
    }
    b = &srv->bans[srv->n_bans++];
    memset(b, 0, sizeof *b);
    snprintf(b->ip, sizeof b->ip, "%s", ip);
    b->first = now;
  }
  b->last = now;
  bool banned_now = false;
  if (!b->until && ++b->fails >= max) {
    b->until = now + ban;
    banned_now = true;
  }
  int fails = b->fails;
  mt_lock_release(&srv->lock);
  if (banned_now)
    ftpd_log(LOG_WARN, "banned %s for %g s after %d failed logins within %g s (max-login-failures)", ip, ban, fails,
             window);
}

void ftpd_login_failed(ftpd_session_t *s) {
  if (s->srv->model && s->srv->model->login_failed) s->srv->model->login_failed();
  else ftpd_ban_failure(s->srv, &s->peer);
}
