/* commands/login.c — USER, PASS, REIN, QUIT: the pre-login surface.
 *
 * Always 331 after USER, whoever it names (no user enumeration); a failed
 * PASS waits FTPD_LOGIN_DELAY before its reply — parked, so other sessions
 * run on — and the last allowed failure (FTPD_MAX_LOGIN_FAILS) is answered
 * 530 like the others, then the connection closes (vsftpd, ProFTPD and
 * pure-ftpd agree). Each failure is logged in one stable line for fail2ban
 * and charged to the address (ban.c: max-login-failures). REIN never restarts the pre-login limits (the command
 * cap, the login timer) of a session that has not logged in: otherwise an
 * unauthenticated client could hold a session forever. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../session.h"

struct pw_job {
  const ftpd_user_t *u;
  const char *pass;
  bool ok;
};

static int pw_check(void *p) {
  struct pw_job *j = p;
  j->ok = ftpd_password_ok(j->u, j->pass);
  return 0;
}

static bool is_anonymous_name(const char *n) { return !strcmp(n, "anonymous") || !strcmp(n, "ftp"); }

void ftpd_cmd_user(ftpd_session_t *s, const char *arg, const char *vp) {
  if (s->logged_in) {
    ftpd_reply(s, 530, "Already logged in; use REIN to change user.");
    return;
  }
  if (!ftpd_tls_login_allowed(s)) return;          /* tls-required = login | all */
  /* An over-long name is remembered as unmatchable, and still gets 331. */
  snprintf(s->user, sizeof s->user, "%s", strlen(arg) <= FTPD_MAX_USER ? arg : "\x01");
  s->user_given = true;
  ftpd_reply(s, 331, "Please specify the password.");
}

void ftpd_cmd_pass(ftpd_session_t *s, const char *arg, const char *vp) {
  if (s->logged_in) {
    ftpd_reply(s, 230, "Already logged in.");
    return;
  }
  if (!s->user_given) {
    ftpd_reply(s, 503, "Login with USER first.");
    return;
  }
  const ftpd_config_t *c = s->cfg;
  bool ok = false, cached = false;
  const char *home = NULL;
  unsigned perms = 0;
  if (c->anonymous != ANON_OFF && is_anonymous_name(s->user)) {
    ok = true;
    s->anonymous = true;
    perms = c->anonymous == ANON_RW ? (PERM_ALL & ~(unsigned)PERM_CHMOD) : (PERM_E | PERM_L | PERM_R);
  } else {
    const ftpd_user_t *u = ftpd_users_find(&s->snap->users, s->user);
    struct pw_job j = {u, strlen(arg) <= FTPD_MAX_PASS ? arg : "", false};
    /* the login cache (auth.c), not in the fork model: a session process
     * would remember only for itself, and a shared table would undo the
     * isolation that model is for */
    double ttl = s->srv->model == &ftpd_model_fork ? 0 : c->login_cache;
    ok = cached = ftpd_login_cached(u, j.pass, ttl);
    if (!ok) {
      ftpd_offload(s->srv, pw_check, &j);    /* yescrypt: milliseconds of CPU */
      ok = j.ok;
      if (ok) ftpd_login_remember(u, j.pass, ttl);
    }
    if (ok) {
      home = u->home;
      perms = u->perms;
    }
  }
  if (!ok) {
    s->fails++;
    /* The one documented line fail2ban matches (docs/mtftpd.md): the name
     * quoted with its quotes replaced, the address last. */
    char name[FTPD_MAX_USER + 1];
    snprintf(name, sizeof name, "%s", s->user[0] == 1 ? "?" : s->user);
    for (char *q = name; *q; q++)
      if (*q == '"' || (unsigned char)*q < 32 || (unsigned char)*q == 127) *q = '?';
    ftpd_log(LOG_WARN, "#%lu login failed for user \"%s\" from %s", s->id, name, s->peer_ip);
    ftpd_login_failed(s);
    if (!s->srv->no_login_delay) mt_sleep(FTPD_LOGIN_DELAY);
    s->user_given = false;
    if (s->fails >= FTPD_MAX_LOGIN_FAILS) {
      ftpd_reply(s, 530, "Login incorrect; too many failures, closing the connection.");
      s->quit = true;
    } else {
      ftpd_reply(s, 530, "Login incorrect.");
    }
    strcpy(s->user, "-");
    return;
  }
  /* The server's root is shared, not duplicated: one descriptor per session */
  int fd = home ? open(home, O_PATH | O_DIRECTORY | O_CLOEXEC) : s->srv->root_fd;
  if (fd < 0) {
    ftpd_log(LOG_ERROR, "#%lu home of '%s' (%s) cannot be opened: %s", s->id, s->user, home ? home : "root",
             strerror(errno));
    ftpd_reply(s, 530, "Login refused: home directory unavailable.");
    s->user_given = s->anonymous = false;
    return;
  }
  s->root_fd = fd;
  s->perms = perms;
  s->logged_in = s->authenticated = true;
  ftpd_sess_set_cwd(s, "/");
  ftpd_sess_name(s);
  ftpd_log(LOG_INFO, "#%lu login %s from %s%s", s->id, s->user, s->peer_ip,
           s->anonymous ? " (anonymous)" : cached ? " (login cache)" : "");
  ftpd_reply(s, 230, "Login successful.");
}

void ftpd_cmd_rein(ftpd_session_t *s, const char *arg, const char *vp) {
  bool was_in = s->logged_in;
  ftpd_sess_logout(s);
  strcpy(s->user, "-");
  if (was_in) {                      /* a fresh pre-login window only after a real login */
    s->prelogin_cmds = 0;
    s->started = mt_now();
  }
  ftpd_reply(s, 220, "Ready for a new user.");
}

void ftpd_cmd_quit(ftpd_session_t *s, const char *arg, const char *vp) {
  ftpd_reply(s, 221, "Goodbye.");
  s->quit = true;
}
