/* main.c — mtftpd's entry: subcommands, start-up order, signals.
 *
 * Start-up order matters for safety: read the configuration, open the root
 * and bind the listeners (may need root), detach if asked, drop privileges
 * (uid, gid, groups, every capability and the bounding set), and only then
 * start threads and accept clients — by calling the chosen
 * model's run function (ftpd_model_t), the only place a model is picked.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "ftpd.h"
#include "tls.h"

static int saved_argc;
static char **saved_argv;
static char startup_cwd[PATH_MAX];

/* Relative paths are taken from the directory mtftpd started in, also after
 * --daemon moved to "/" and on SIGHUP. */
static void absolutize(char **p) {
  if (!*p || (*p)[0] == '/' || !startup_cwd[0]) return;
  char *a;
  if (asprintf(&a, "%s/%s", startup_cwd, *p) < 0) return;
  free(*p);
  *p = a;
}

/* Builds a snapshot from the saved command line. NULL after printing why. */
static ftpd_snapshot_t *load_snapshot(bool quiet_help) {
  ftpd_config_t cfg;
  ftpd_config_defaults(&cfg);
  int r = ftpd_config_from_args(&cfg, saved_argc, saved_argv);
  if (r != 0) {
    ftpd_config_free(&cfg);
    if (r == 1 && quiet_help) exit(0);
    return NULL;
  }
  ftpd_snapshot_t *s = ftpd_snapshot_new(&cfg, NULL);
  if (!s) return NULL;
  if (!s->cfg.n_listen && !s->cfg.n_listen_tls) s->cfg.listen[s->cfg.n_listen++] = strdup(FTPD_DEFAULT_LISTEN);
  absolutize(&s->cfg.root);
  absolutize(&s->cfg.users_file);
  absolutize(&s->cfg.xferlog);
  absolutize(&s->cfg.pidfile);
  absolutize(&s->cfg.tls_cert);
  absolutize(&s->cfg.tls_key);
  char err[600];
  if (ftpd_users_load(&s->users, s->cfg.users_file, err, sizeof err) ||
      ftpd_config_check(&s->cfg, err, sizeof err)) {
    fprintf(stderr, "mtftpd: %s\n", err);
    ftpd_snapshot_put(s);
    return NULL;
  }
  if (s->cfg.tls_cert) {         /* read now: a broken certificate stops the start, or a SIGHUP */
    ftls_opts_t o = {.cert_file = s->cfg.tls_cert, .key_file = s->cfg.tls_key,
                     .min_version = s->cfg.tls_min_version, .ciphers = s->cfg.tls_ciphers};
    if (ftls_server_ctx(&s->tls, &o, err, sizeof err)) {
      fprintf(stderr, "mtftpd: tls: %s\n", err);
      ftpd_snapshot_put(s);
      return NULL;
    }
  }
  return s;
}

static void on_hup(int sig, void *ud) {
  ftpd_server_t *srv = ud;
  mt_lock_acquire(&srv->reload_lock, MT_FOREVER);
  ftpd_snapshot_t *n = load_snapshot(false);
  if (!n) {
    mt_lock_release(&srv->reload_lock);
    ftpd_log(LOG_ERROR, "SIGHUP: reload failed (see above); keeping the running configuration");
    return;
  }
  ftpd_log_level = n->cfg.log_level;
  size_t users = n->users.n;
  ftpd_snapshot_swap(srv, n);
  ftpd_login_forget_all();       /* the login cache starts afresh with the new users */
  mt_lock_release(&srv->reload_lock);
  ftpd_log(LOG_INFO, "SIGHUP: configuration and %zu user(s) reloaded for new sessions", users);
}

/* A start that fails before serving: what it had opened goes (no leak
 * reported by ASan for a port already taken, say). 1. */
static int start_failed(ftpd_server_t *srv) {
  for (int i = 0; i < srv->n_listen; i++) close(srv->listen_fd[i]);
  if (srv->root_fd >= 0) close(srv->root_fd);
  if (srv->xferlog_fd >= 0) close(srv->xferlog_fd);
  ftpd_snapshot_put(srv->snap);
  return 1;
}

static int serve(void) {
  ftpd_snapshot_t *snap = load_snapshot(true);
  if (!snap) return 2;
  ftpd_config_t *c = &snap->cfg;
  ftpd_log_level = c->log_level;

  ftpd_server_t srv = {0};
  mt_lock_init(&srv.lock, 0);
  mt_lock_init(&srv.reload_lock, 0);
  srv.snap = snap;
  srv.xferlog_fd = -1;
  srv.model = ftpd_model_get(c->model);
  srv.capacity = srv.model->fixed_pool ? c->max_clients : 0;
  srv.root_fd = open(c->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (srv.root_fd < 0) {
    fprintf(stderr, "mtftpd: root %s: %s\n", c->root, strerror(errno));
    return start_failed(&srv);
  }
  for (int i = 0; i < c->n_listen + c->n_listen_tls; i++) {
    bool tls = i >= c->n_listen;
    const char *spec = tls ? c->listen_tls[i - c->n_listen] : c->listen[i];
    char host[256];
    int port;
    ftpd_parse_hostport(spec, host, sizeof host, &port);
    /* An IPv6 listener is IPv6-only unless dual-stack is asked for. */
    int fd = mt_tcp_listen(host[0] ? host : NULL, port, 128, strchr(host, ':') && !c->dual_stack ? MT_V6ONLY : 0);
    if (fd < 0) {
      fprintf(stderr, "mtftpd: cannot listen on %s: %s\n", spec, mt_strerror(fd));
      return start_failed(&srv);
    }
    if (tls) {
      socklen_t sl = sizeof srv.implicit[0];
      getsockname(fd, (struct sockaddr *)&srv.implicit[srv.n_implicit++], &sl);
    }
    srv.listen_fd[srv.n_listen++] = fd;
  }
  if (c->xferlog) {
    srv.xferlog_fd = open(c->xferlog, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (srv.xferlog_fd < 0) {
      fprintf(stderr, "mtftpd: xferlog %s: %s\n", c->xferlog, strerror(errno));
      return start_failed(&srv);
    }
  }
  if (c->daemon) {
    int r = mt_daemonize(c->pidfile);
    if (r < 0) {
      fprintf(stderr, "mtftpd: cannot daemonize%s%s: %s\n", c->pidfile ? " with pidfile " : "",
              c->pidfile ? c->pidfile : "", r == MT_EBUSY ? "another instance is running" : mt_strerror(r));
      return start_failed(&srv);
    }
  }
  if (ftpd_drop_privileges(c->run_as) < 0) return start_failed(&srv);
  srv.rates = ftpd_rates_new();       /* before any session process is forked */
  if (!srv.rates) ftpd_log(LOG_WARN, "max-rate-per-user: no shared memory (%s); only max-rate applies", strerror(errno));
  srv.digests = ftpd_digests_new((size_t)c->hash_cache);   /* shared the same way */
  if (c->hash_cache && !srv.digests)
    ftpd_log(LOG_WARN, "hash-cache: no shared memory (%s); every HASH reads its file", strerror(errno));

  mt_event_t stop;
  mt_event_init(&stop, 0);
  mt_signal_ignore(SIGPIPE);
  mt_signal_shutdown_event(&stop);
  mt_signal_handle(SIGHUP, on_hup, &srv);
  /* From here on only libmt's signal thread (started above) takes these
   * signals; threads started later inherit the mask. Sessions are never
   * interrupted, and under TSan, which runs a handler only when the thread
   * it landed on calls into an intercepted function, a signal cannot land
   * on a thread parked in a futex and wait there forever. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  for (int i = 0; i < c->n_listen + c->n_listen_tls; i++) {
    bool tls = i >= c->n_listen;
    char host[256];
    int port;
    ftpd_parse_hostport(tls ? c->listen_tls[i - c->n_listen] : c->listen[i], host, sizeof host, &port);
    if (tls)
      ftpd_log(LOG_INFO, "mtftpd %s listening for implicit FTPS on %s port %d", FTPD_VERSION, host[0] ? host : "*",
               mt_tcp_port(srv.listen_fd[i]));
    else
      ftpd_log(LOG_INFO, "mtftpd %s listening on %s port %d (%s model: %s; up to %d sessions)", FTPD_VERSION,
               host[0] ? host : "*", mt_tcp_port(srv.listen_fd[i]), srv.model->name, srv.model->what, c->max_clients);
  }
  int rc = srv.model->run(&srv, &stop);
  ftpd_log(LOG_INFO, "mtftpd stopped");
  mt_signal_default(SIGHUP);
  if (atomic_load(&srv.active) == 0) {     /* nobody uses the server any more */
    free(srv.ips);
    free(srv.bans);
    ftpd_rates_free(srv.rates);
    ftpd_digests_free(srv.digests);
    ftpd_snapshot_put(srv.snap);
    close(srv.root_fd);
    if (srv.xferlog_fd >= 0) close(srv.xferlog_fd);
  }
  return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  if (!getcwd(startup_cwd, sizeof startup_cwd)) startup_cwd[0] = 0;
  if (argc > 1 && !strcmp(argv[1], "passwd")) return ftpd_passwd_main(argc - 1, argv + 1);
  bool check = argc > 1 && !strcmp(argv[1], "check-config");
  saved_argc = check ? argc - 1 : argc;
  saved_argv = check ? argv + 1 : argv;
  if (check) {
    ftpd_snapshot_t *s = load_snapshot(true);
    if (!s) return 1;
    printf("# configuration OK (%zu user(s))\n", s->users.n);
    ftpd_config_dump(&s->cfg, stdout);
    ftpd_snapshot_put(s);
    return 0;
  }
  return serve();
}
