/* session.c — one control connection, from the 220 greeting to the close.
 *
 * A plain state machine: read a line (bounded, with the login or idle
 * timeout, and command-line-timeout from its first byte), parse it (protocol.c), look the verb up in the command table
 * (commands/table.c) and run it through ftpd_cmd_run(), which enforces the
 * entry's rules — login, argument, the path resolved beneath the root and
 * the one authorization check — before the handler sees anything. Everything blocking goes through libmt's
 * parking IO, so the same code runs on a pool thread, in a forked child or
 * in a coroutine. A session owns its fds and frees everything on every exit
 * path; nothing it holds outlives ftpd_session_run().
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "session.h"
#include "tls.h"

void ftpd_addr_ip(const struct sockaddr_storage *ss, char *out, size_t n, int *port) {
  out[0] = 0;
  if (port) *port = 0;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const void *)ss;
    inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t)n);
    if (port) *port = ntohs(a->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const void *)ss;
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], out, (socklen_t)n);
    else inet_ntop(AF_INET6, &a->sin6_addr, out, (socklen_t)n);
    if (port) *port = ntohs(a->sin6_port);
  }
}

bool ftpd_addr_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  char x[INET6_ADDRSTRLEN], y[INET6_ADDRSTRLEN];
  ftpd_addr_ip(a, x, sizeof x, NULL);
  ftpd_addr_ip(b, y, sizeof y, NULL);
  return x[0] && strcmp(x, y) == 0;
}

bool ftpd_authorize(ftpd_session_t *s, unsigned perm, const char *vpath) {
  if (s->logged_in && (s->perms & perm)) return true;
  ftpd_log(LOG_INFO, "#%lu %s: %s %s refused: no permission", s->id, s->user, s->verb, vpath);
  ftpd_reply(s, 550, "Permission denied.");
  return false;
}

void ftpd_reply_err(ftpd_session_t *s, int code, int err, const char *vpath) {
  const char *why;
  switch (-err) {
  case ENOENT: why = "No such file or directory"; break;
  case EXDEV: case ELOOP: why = "Permission denied: the path leads outside the root"; break;
  case EACCES: case EPERM: why = "Permission denied"; break;
  case EEXIST: why = "File exists"; break;
  case ENOTDIR: why = "Not a directory"; break;
  case EISDIR: why = "Is a directory"; break;
  case ENOTEMPTY: why = "Directory not empty"; break;
  case ENAMETOOLONG: why = "File name too long"; break;
  case ENOSPC: case EDQUOT: why = "Insufficient storage space"; code = 452; break;
  case EROFS: why = "Read-only file system"; break;
  default: why = strerror(-err); break;
  }
  ftpd_reply(s, code, "%s: %s.", vpath, why);
}

const char ftpd_root_cwd[] = "/";

int ftpd_sess_set_cwd(ftpd_session_t *s, const char *vpath) {
  char *c = NULL;
  if (strcmp(vpath, "/") && !(c = strdup(vpath))) return -ENOMEM;
  if (s->cwd != ftpd_root_cwd) free((char *)s->cwd);
  s->cwd = c ? c : ftpd_root_cwd;
  return 0;
}

void ftpd_sess_logout(ftpd_session_t *s) {
  if (s->root_fd >= 0 && s->root_fd != s->srv->root_fd) close(s->root_fd);   /* the server's is shared */
  s->root_fd = -1;
  s->logged_in = s->user_given = s->anonymous = false;
  s->user[0] = 0;
  s->perms = 0;
  ftpd_sess_set_cwd(s, "/");
  s->ascii = false;
  s->mode_b = false;
  s->rest = 0;
  s->rang = false;
  free(s->rnfr);
  s->rnfr = NULL;
  s->epsv_all = false;
  s->mlst_facts = MLST_ALL_FACTS;
  s->hash_algo = 0;
  s->rate_user = NULL;             /* the next user has a clock of its own */
  s->rate_looked = false;
  ftpd_data_reset(s);
}

void ftpd_sess_name(ftpd_session_t *s) {
  if (!s->srv->model || !s->srv->model->session_named) return;
  char name[16];
  if (s->logged_in) snprintf(name, sizeof name, "ftp#%lu %s", s->id, s->user);
  else snprintf(name, sizeof name, "ftp#%lu", s->id);
  s->srv->model->session_named(name);
}

/* The path text of arg for a table entry's PATH_* kind; NULL when the
 * argument has none where it must (PATH_AFTER_WORD). */
static const char *path_text(int kind, const char *arg) {
  switch (kind) {
  case PATH_LIST:
    while (*arg == '-') {            /* "LIST -la dir": ls options, ignored */
      while (*arg && *arg != ' ') arg++;
      while (*arg == ' ') arg++;
    }
    return arg;
  case PATH_UP: return "..";
  case PATH_UNIQUE: return *arg ? arg : "ftp-upload";
  case PATH_AFTER_WORD: {
    const char *sp = strchr(arg, ' ');
    return sp && sp[1] ? sp + 1 : NULL;
  }
  default: return arg;
  }
}

void ftpd_cmd_run(ftpd_session_t *s, const ftpd_cmd_def_t *d, const char *arg) {
  bool has_arg = arg[0] != 0;
  bool login = (d->flags & CMD_LOGIN) || ((d->flags & CMD_LOGIN_WITH_ARG) && has_arg);
  if (login && !s->logged_in) {
    ftpd_reply(s, 530, "Please login with USER and PASS.");
    return;
  }
  if ((d->flags & CMD_ARG) && !has_arg) {
    ftpd_reply(s, 501, "Syntax: %s", d->help);
    return;
  }
  if (d->path == PATH_NONE || ((d->flags & CMD_LOGIN_WITH_ARG) && !has_arg)) {
    d->fn(s, arg, NULL);
    return;
  }
  const char *p = path_text(d->path, arg);
  if (!p) {
    ftpd_reply(s, 501, "Syntax: %s", d->help);
    return;
  }
  char vpath[FTPD_MAX_PATH + 1];
  bool clamp = d->path == PATH_CWD || d->path == PATH_UP;
  int r = clamp ? ftpd_path_resolve_clamped(s->cwd, p, vpath, sizeof vpath)
                : ftpd_path_resolve(s->cwd, p, vpath, sizeof vpath);
  if (r == -EACCES) ftpd_reply(s, 550, "Permission denied: outside the root.");
  else if (r < 0) ftpd_reply(s, 550, "File name too long.");
  else if (ftpd_authorize(s, d->perm, vpath)) d->fn(s, arg, vpath);
}

/* Parses and runs one line. */
static void dispatch(ftpd_session_t *s, const char *line, size_t len) {
  ftpd_cmd_t *cmd = malloc(sizeof *cmd);
  if (!cmd) {
    ftpd_reply(s, 451, "Out of memory.");
    return;
  }
  int r = ftpd_parse_command(line, len, cmd);
  s->last_cmd = mt_now();
  strcpy(s->verb, r == FTPD_PARSE_OK ? cmd->verb : "?");
  ftpd_data_next_command(s);
  if (r == FTPD_PARSE_OK && !strcmp(cmd->verb, "PASS")) strcpy(s->logarg, "****");
  else snprintf(s->logarg, sizeof s->logarg, "%s", r == FTPD_PARSE_OK ? cmd->arg : "");
  if (r == FTPD_PARSE_NUL) ftpd_reply(s, 501, "NUL byte in command.");
  else if (r == FTPD_PARSE_TOOLONG) { ftpd_reply(s, 500, "Command line too long."); s->quit = true; }
  else if (r != FTPD_PARSE_OK) ftpd_reply(s, 500, "Syntax error, command unrecognized.");
  else {
    const ftpd_cmd_def_t *d = ftpd_cmd_lookup(cmd->verb);
    if (!s->logged_in && ++s->prelogin_cmds > s->cfg->max_prelogin_cmds) {
      ftpd_reply(s, 421, "Too many commands before login.");
      s->quit = true;
    } else if (!d) {
      ftpd_reply(s, 500, "Unknown command '%s'.", cmd->verb);
    } else {
      if (s->rnfr && strcmp(cmd->verb, "RNTO") != 0) {   /* RNTO must come right after RNFR */
        free(s->rnfr);
        s->rnfr = NULL;
      }
      ftpd_cmd_run(s, d, cmd->arg);
      if (!s->logged_in) ftpd_sess_name(s);
    }
  }
  free(cmd);
}

/* Handles a line that arrives while a transfer runs (data.c calls it).
 * ABOR and STAT act at once; so do QUIT (221 now, the close after the
 * transfer's final reply: RFC 959 4.1.1) and REIN (the login state goes,
 * the running transfer finishes). Anything else waits for the transfer. */
void ftpd_sess_during_xfer(ftpd_session_t *s, const char *line, size_t len) {
  ftpd_cmd_t *cmd = malloc(sizeof *cmd);
  if (!cmd) return;
  int r = ftpd_parse_command(line, len, cmd);
  if (r == FTPD_PARSE_OK && !strcmp(cmd->verb, "ABOR")) {
    s->abort_req = true;
  } else if (r == FTPD_PARSE_OK && !strcmp(cmd->verb, "STAT") && !cmd->has_arg) {
    ftpd_reply(s, 213, "Status: %lld bytes transferred so far.", (long long)s->xfer_bytes);
  } else if (r == FTPD_PARSE_OK && !strcmp(cmd->verb, "QUIT")) {
    ftpd_reply(s, 221, "Goodbye; closing after the transfer's result.");
    s->quit = s->quit_in_xfer = true;
  } else if (r == FTPD_PARSE_OK && !strcmp(cmd->verb, "REIN")) {
    ftpd_cmd_rein(s, "", NULL);
  } else if (s->n_deferred < FTPD_MAX_DEFERRED && (s->deferred[s->n_deferred] = malloc(len + 1))) {
    memcpy(s->deferred[s->n_deferred], line, len);     /* run after the transfer, in order */
    s->deferred[s->n_deferred][len] = 0;
    s->deferred_len[s->n_deferred++] = len;
  } else {
    ftpd_reply(s, 503, "Too many commands during a transfer.");
  }
  free(cmd);
}

/* The next deferred command and its length, or NULL. The caller frees it. */
static char *pop_deferred(ftpd_session_t *s, size_t *len) {
  if (!s->n_deferred) return NULL;
  char *c = s->deferred[0];
  *len = s->deferred_len[0];
  s->n_deferred--;
  memmove(s->deferred, s->deferred + 1, (size_t)s->n_deferred * sizeof s->deferred[0]);
  memmove(s->deferred_len, s->deferred_len + 1, (size_t)s->n_deferred * sizeof s->deferred_len[0]);
  return c;
}

/* Session structs come from slabs of their own, not from the heap where
 * each command's short-lived allocations land: ten thousand idle sessions
 * are then ten thousand structs side by side, and the heap holds no live
 * object that keeps its freed pages from going back. A slab is never
 * unmapped (its structs are reused). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SLAB_OFF 1        /* the sanitizers watch heap objects: keep them there */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SLAB_OFF 1
#endif
#endif

#ifdef SLAB_OFF
static ftpd_session_t *sess_alloc(void) { return calloc(1, sizeof(ftpd_session_t)); }
static void sess_free(ftpd_session_t *s) { free(s); }
#else
#define SLAB_SESSIONS 60
typedef union slot {
  ftpd_session_t s;
  union slot *next_free;
} slot_t;
static pthread_mutex_t g_slab_mu = PTHREAD_MUTEX_INITIALIZER;
static slot_t *g_free_slots;
static slot_t *g_bump, *g_bump_end;   /* the newest slab's slots never used yet */

static ftpd_session_t *sess_alloc(void) {
  pthread_mutex_lock(&g_slab_mu);
  slot_t *t = g_free_slots;
  if (t) {
    g_free_slots = t->next_free;
  } else {
    if (g_bump == g_bump_end) {    /* slots are touched only when first used (a forked
                                      session process uses one, not a slab's worth) */
      slot_t *slab = mmap(NULL, SLAB_SESSIONS * sizeof(slot_t), PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (slab != MAP_FAILED) g_bump = slab, g_bump_end = slab + SLAB_SESSIONS;
    }
    if (g_bump != g_bump_end) t = g_bump++;
  }
  pthread_mutex_unlock(&g_slab_mu);
  if (t) memset(t, 0, sizeof *t);
  return t ? &t->s : NULL;
}

static void sess_free(ftpd_session_t *s) {
  slot_t *t = (slot_t *)s;
  pthread_mutex_lock(&g_slab_mu);
  t->next_free = g_free_slots;
  g_free_slots = t;
  pthread_mutex_unlock(&g_slab_mu);
}
#endif

ftpd_session_t *ftpd_session_open(ftpd_server_t *srv, int fd, const struct sockaddr_storage *peer) {
  ftpd_session_t *s = sess_alloc();
  mt_linereader_t *lr = s ? mt_linereader_new(fd, FTPD_MAX_LINE) : NULL;
  if (!lr) {
    static const char msg[] = "421 Out of memory, try later.\r\n";
    (void)!write(fd, msg, sizeof msg - 1);
    mt_close(fd);
    if (s) sess_free(s);
    return NULL;
  }
  s->srv = srv;
  s->snap = ftpd_snapshot_get(srv);
  s->cfg = &s->snap->cfg;
  s->id = atomic_fetch_add(&srv->next_id, 1) + 1;
  s->ctrl = fd;
  s->lr = lr;
  s->peer = *peer;
  socklen_t sl = sizeof s->local;
  getsockname(fd, (struct sockaddr *)&s->local, &sl);
  ftpd_addr_ip(peer, s->peer_ip, sizeof s->peer_ip, &s->peer_port);
  s->root_fd = s->pasv_fd = s->kept_dfd = -1;
  s->cwd = ftpd_root_cwd;
  strcpy(s->user, "-");
  s->mlst_facts = MLST_ALL_FACTS;
  s->started = s->last_cmd = mt_now();
  sbuf_init(&s->out, 0);
  int one = 1;
  /* Urgent data (Telnet Synch before ABOR, as ftplib sends it) stays in the
   * stream where the parser drops the Telnet bytes. */
  setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ftpd_sess_name(s);
  ftpd_log(LOG_INFO, "#%lu connect from %s port %d", s->id, s->peer_ip, s->peer_port);

  s->why = "quit";
  if (ftpd_tls_implicit(s) < 0) {
    s->why = "TLS handshake failed";
    s->quit = true;
  } else if (ftpd_reply(s, 220, "%s", s->cfg->banner ? s->cfg->banner : "mtftpd " FTPD_VERSION " ready.") < 0) {
    s->why = "gone before the greeting";
    s->quit = true;
  }
  return s;
}

/* A parking session gives back what it does not need while it waits: the
 * line reader (nothing is pending in it, and no TLS reads through it) and
 * the reply buffer. */
static void trim(ftpd_session_t *s) {
  mt_linereader_free(s->lr);
  s->lr = NULL;
  sbuf_free(&s->out);
  sbuf_init(&s->out, 0);
}

int ftpd_session_serve(ftpd_session_t *s, double park_after) {
  ftpd_server_t *srv = s->srv;
  if (!s->lr && !(s->lr = mt_linereader_new(s->ctrl, FTPD_MAX_LINE))) {   /* back from parking */
    ftpd_reply(s, 421, "Out of memory, try later.");
    s->why = "out of memory";
    return FTPD_SESS_DONE;
  }
  mt_linereader_t *lr = s->lr;
  while (!s->quit) {
    if (atomic_load(&srv->stopping)) {
      ftpd_reply(s, 421, "Server shutting down.");
      s->why = "server shutdown";
      break;
    }
    double now = mt_now();
    double limit = ftpd_session_deadline(s);
    double left = limit - now;
    if (left <= 0) {
      ftpd_reply(s, 421, s->logged_in ? "Idle timeout, closing control connection." : "Login timeout.");
      s->why = "timeout";
      break;
    }
    /* When the first byte of the line not yet complete was seen (0: none
     * buffered): a line must end within command-line-timeout of it, so a
     * client dribbling bytes without CRLF (slowloris) cannot hold a session
     * for the whole idle or login timeout. */
    if (!s->line_start && mt_linereader_pending(lr)) s->line_start = now;
    if (s->line_start) {
      double line_left = s->line_start + s->cfg->command_line_timeout - now;
      if (line_left <= 0) {
        ftpd_reply(s, 421, "Command line not completed within %g s, closing control connection.",
                   s->cfg->command_line_timeout);
        s->why = "command line timeout";
        break;
      }
      if (line_left < left) left = line_left;
    }
    size_t hlen;
    char *held = pop_deferred(s, &hlen);
    if (held) {
      dispatch(s, held, hlen);
      free(held);
      continue;
    }
    /* 1 s slices: see stopping. A session that may park waits at most
     * park_after on its own stack before it parks. */
    double slice = left < 1.0 ? left : 1.0;
    bool may_park = park_after > 0 && park_after < slice && !s->tls && !s->line_start;
    if (may_park) slice = park_after;   /* a wait that ends at the deadline parks not */
    char *line;
    size_t len;
    int r = mt_readline(lr, &line, &len, slice);
    if (r == MT_ETIMEDOUT) {
      ftpd_data_idle(s);
      if (may_park && !mt_linereader_pending(lr) && !atomic_load(&srv->stopping)) {
        trim(s);
        return FTPD_SESS_PARKED;
      }
      continue;
    }
    if (r == MT_EMSGSIZE) {
      ftpd_reply(s, 500, "Command line too long (limit %d bytes).", FTPD_MAX_LINE);
      s->why = "line too long";
      break;
    }
    if (r < 0) {
      s->why = r == MT_ECLOSED ? "client closed" : mt_strerror(r);
      break;
    }
    dispatch(s, line, len);
    s->line_start = mt_linereader_pending(lr) ? mt_now() : 0;   /* the next line's bytes came with it */
  }
  return FTPD_SESS_DONE;
}

double ftpd_session_deadline(const ftpd_session_t *s) {
  return s->logged_in ? s->last_cmd + s->cfg->idle_timeout : s->started + s->cfg->login_timeout;
}

void ftpd_session_close(ftpd_session_t *s) {
  ftpd_server_t *srv = s->srv;
  ftpd_log(LOG_INFO, "#%lu disconnect %s (%s), %.1f s", s->id, s->user, s->why, mt_now() - s->started);
  ftpd_sess_logout(s);
  size_t hlen;
  for (char *c; (c = pop_deferred(s, &hlen));) free(c);
  mt_linereader_free(s->lr);
  if (s->tls) {
    ftls_shutdown(s->tls, false, 1);      /* close_notify, without waiting for the client's */
    ftls_free(s->tls);
  }
  mt_close(s->ctrl);
  sbuf_free(&s->out);
  ftpd_snapshot_put(s->snap);
  sess_free(s);
  if (srv->model && srv->model->session_end) srv->model->session_end();
}

void ftpd_session_run(ftpd_server_t *srv, int fd, const struct sockaddr_storage *peer) {
  ftpd_session_t *s = ftpd_session_open(srv, fd, peer);
  if (!s) return;
  ftpd_session_serve(s, 0);
  ftpd_session_close(s);
}
