/* model_fork.c — the fork model: one process per session.
 *
 * Everything the parent does runs on one thread, the main one, in one poll
 * loop: it accepts and admits connections (ftpd_accept_one), forks a child
 * for each with mt_proc_start (so it is reaped through a pidfd, never left
 * a zombie, and, forked by the main thread, dies with an abruptly dying
 * parent), reads the children's messages and reaps them. One thread is
 * also what keeps a session process small: a child shares every page with
 * the parent until one of them writes it, and each page the parent writes
 * after a fork becomes the child's own. Acceptor, forker and reaper threads,
 * each with its own stack and malloc arena, dirtied 72 KiB of the parent
 * between two forks; this loop dirties a few pages of one stack and one
 * heap. The parent closes its copy of the connection at once. A child that
 * finishes its session writes its pid into a pipe to the parent, which
 * releases the admission at once, so --max-clients and --max-per-ip count
 * sessions. A failed login is a message on the same pipe, which the parent
 * charges to the address recorded at accept: the ban table (ban.c) is the
 * parent's, shared by all sessions. The loop also reaps every 50 ms, which
 * catches children that died without a word (a crash, SIGKILL). A session
 * that crashes takes nothing else down: its peers are other processes. A
 * session process first sets no_new_privs and empties its capabilities
 * (priv.c); the parent dropped root and the bounding set before forking.
 *
 * The list of children is the loop's alone. A child has only the thread
 * that forked it, so it must not inherit a lock another thread held at that
 * instant (libmt's signal thread reloading the configuration holds the
 * reload lock from reading the files to the swap, OpenSSL's locks while it
 * builds a TLS context, and the server's lock for the swap): the loop takes
 * the reload lock and the server's lock, and log.c's pthread_atfork handler
 * takes its own, across the fork, and the child initialises its copies
 * afresh first thing (a waiter queued on them is a thread it does not have).
 *
 * Shutdown: the loop stops accepting, every child gets SIGTERM — its
 * handler only sets the child's stopping flag, so idle sessions say 421
 * within a second and running transfers finish — and children still alive
 * after shutdown-grace get SIGKILL.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ftpd.h"

typedef struct child {
  struct child *next;
  mt_proc_t *proc;
  struct sockaddr_storage peer;
  bool released;                 /* its admission is already given back */
} child_t;

typedef struct {
  ftpd_server_t *srv;
  child_t *children;
  int n;
  int done[2];                   /* children write their pid here when done */
  /* what the next child serves (read by it right after the fork) */
  int fd;
  struct sockaddr_storage peer;
} forker_t;

static ftpd_server_t *child_srv;   /* in a child: its copy of the server */
static int child_done_fd = -1;     /* in a child: its end of the done pipe */

/* What a child writes on the done pipe: one write(2) each, < PIPE_BUF, so
 * messages never interleave. The parent attributes a message to the child
 * by pid and to an address by what it recorded at accept — the child
 * never names an address. */
enum { MSG_DONE = 0, MSG_LOGIN_FAILED = 1 };
typedef struct {
  pid_t pid;
  int what;
} child_msg_t;

static void child_say(int what) {
  child_msg_t m = {getpid(), what};
  (void)!write(child_done_fd, &m, sizeof m);
}

static void child_login_failed(void) { child_say(MSG_LOGIN_FAILED); }

static void child_on_term(int sig) { atomic_store(&child_srv->stopping, true); }

static int child_main(void *arg) {
  forker_t *fk = arg;
  ftpd_server_t *srv = fk->srv;
  child_srv = srv;
  mt_lock_init(&srv->lock, 0);    /* held across the fork by start_child */
  mt_lock_init(&srv->reload_lock, 0);
  ftpd_session_confine();          /* no_new_privs, no capabilities (priv.c) */
  /* main.c blocks SIGTERM/SIGINT/SIGHUP for every thread but libmt's
   * signal thread; here they mean "finish and leave", except SIGHUP,
   * which the parent handles. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = child_on_term;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGHUP, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  for (int i = 0; i < srv->n_listen; i++) close(srv->listen_fd[i]);
  close(fk->done[0]);
  child_done_fd = fk->done[1];
  ftpd_session_run(srv, fk->fd, &fk->peer);
  child_say(MSG_DONE);
  return 0;
}

/* The hand-off (ftpd_accept_one, on the loop's thread): starts the session
 * process for fd. 0, or <0 with the connection left to the caller. */
static int start_child(void *ctx, int fd, const struct sockaddr_storage *peer) {
  forker_t *fk = ctx;
  child_t *c = malloc(sizeof *c);
  if (!c) return MT_ENOMEM;
  c->peer = *peer;
  c->released = false;
  fk->fd = fd;
  fk->peer = *peer;
  mt_proc_opts_t o = {.name = "ftp-session", .daemon = true};
  /* held across the fork, so that no other thread holds them then */
  mt_lock_acquire(&fk->srv->reload_lock, MT_FOREVER);
  mt_lock_acquire(&fk->srv->lock, MT_FOREVER);
  int r = mt_proc_start(&c->proc, child_main, fk, &o);
  mt_lock_release(&fk->srv->lock);
  mt_lock_release(&fk->srv->reload_lock);
  if (r < 0) {
    ftpd_log(LOG_ERROR, "cannot fork a session process: %s", mt_strerror(r));
    free(c);
    return r;
  }
  atomic_fetch_add(&fk->srv->next_id, 1);   /* the child numbered itself from the old value */
  c->next = fk->children;
  fk->children = c;
  fk->n++;
  mt_close(fd);                    /* the child has its own copy */
  return 0;
}

/* Reaps the children that ended; with sig, sends them sig first. */
static int reap(forker_t *fk, int sig) {
  for (child_t **pp = &fk->children; *pp;) {
    child_t *c = *pp;
    if (sig) mt_proc_signal(c->proc, sig);
    if (!mt_proc_is_alive(c->proc)) {
      int code = mt_proc_exitcode(c->proc);
      if (code != 0)
        ftpd_log(LOG_WARN, "session process %d ended with %s %d", (int)mt_proc_pid(c->proc),
                 code < 0 ? "signal" : "status", code < 0 ? -code : code);
      *pp = c->next;
      fk->n--;
      if (!c->released) ftpd_release(fk->srv, &c->peer);
      mt_proc_free(c->proc);
      free(c);
    } else {
      pp = &c->next;
    }
  }
  return fk->n;
}

/* A child's message: its session is over (give its admission back now),
 * or a login failed (charge it to the child's address). */
static void child_message(forker_t *fk, const child_msg_t *m) {
  for (child_t *c = fk->children; c; c = c->next)
    if (mt_proc_pid(c->proc) == m->pid && !c->released) {
      if (m->what == MSG_LOGIN_FAILED) {
        ftpd_ban_failure(fk->srv, &c->peer);
      } else {
        c->released = true;
        ftpd_release(fk->srv, &c->peer);
      }
      break;
    }
}

static void read_messages(forker_t *fk) {
  child_msg_t msgs[64];
  ssize_t n;
  while ((n = read(fk->done[0], msgs, sizeof msgs)) > 0)
    for (ssize_t i = 0; i < n / (ssize_t)sizeof msgs[0]; i++) child_message(fk, &msgs[i]);
}

static int fork_run(ftpd_server_t *srv, mt_event_t *stop) {
  forker_t fk = {.srv = srv};
  if (pipe2(fk.done, O_CLOEXEC | O_NONBLOCK) < 0) {
    ftpd_log(LOG_ERROR, "fork model: pipe: %s", strerror(errno));
    return -1;
  }
  struct pollfd pfd[FTPD_MAX_LISTENERS + 1];
  int np = 0;
  for (int i = 0; i < srv->n_listen; i++) pfd[np++] = (struct pollfd){.fd = srv->listen_fd[i], .events = POLLIN};
  pfd[np++] = (struct pollfd){.fd = fk.done[0], .events = POLLIN};
  double next_reap = 0;
  /* The shutdown event is set by libmt's signal thread; the 50 ms tick
   * that reaps notices it too. */
  while (!mt_event_is_set(stop)) {
    int n = poll(pfd, (nfds_t)np, 50);
    if (n < 0 && errno != EINTR) {
      ftpd_log(LOG_ERROR, "fork model: poll: %s", strerror(errno));
      mt_sleep(0.1);
    }
    if (n > 0) {
      if (pfd[np - 1].revents) read_messages(&fk);
      for (int i = 0; i < np - 1; i++)   /* a burst of connections, in turns */
        if (pfd[i].revents & POLLIN)
          for (int k = 0; k < 16 && ftpd_accept_one(srv, pfd[i].fd, 0, start_child, &fk); k++) {}
    }
    if (mt_now() >= next_reap) {
      reap(&fk, 0);
      next_reap = mt_now() + 0.05;
    }
  }

  mt_thread_t *none[FTPD_MAX_LISTENERS] = {0};
  ftpd_acceptors_stop(srv, none);  /* stopping set, listening sockets closed */
  read_messages(&fk);
  int left = reap(&fk, SIGTERM);
  if (left) ftpd_log(LOG_INFO, "stopping: waiting up to %g s for %d session process(es)", srv->snap->cfg.shutdown_grace, left);
  double deadline = mt_now() + srv->snap->cfg.shutdown_grace + 1.5;
  while (left && mt_now() < deadline) {
    mt_sleep(0.05);
    left = reap(&fk, 0);
  }
  if (left) {
    ftpd_log(LOG_WARN, "%d session process(es) still running after the grace period; killing them", left);
    reap(&fk, SIGKILL);
    while (reap(&fk, 0)) mt_sleep(0.01);
  }
  close(fk.done[0]);
  close(fk.done[1]);
  return 0;
}

static void name_process(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

const ftpd_model_t ftpd_model_fork = {
  .name = "fork",
  .what = "a process per session",
  .run = fork_run,
  .session_named = name_process,
  .session_end = NULL,             /* the process exits */
  .login_failed = child_login_failed,
};
