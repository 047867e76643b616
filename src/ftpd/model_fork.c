/* model_fork.c — the fork model: one process per session.
 *
 * The acceptor threads (accept.c) admit a connection and queue it for the
 * forker thread, which serves it by a child started with mt_proc_start (so
 * it is reaped through a pidfd, never left a zombie, and dies with an
 * abruptly dying parent). Only the forker forks, and it lives until every
 * child is reaped: a child's parent-death signal follows the thread that
 * forked it, and acceptor threads end at SIGTERM. The
 * parent closes its copy of the connection at once. A child that finishes
 * its session writes its pid into a pipe to the parent; the monitor thread
 * reads it and releases the admission at once, so --max-clients and
 * --max-per-ip count sessions. A failed login is a message on the same
 * pipe, which the monitor charges to the address recorded at accept: the
 * ban table (ban.c) is the parent's, shared by all sessions. The monitor also reaps every 50 ms, which
 * catches children that died without a word (a crash, SIGKILL). A session
 * that crashes takes nothing else down: its peers are other processes. A
 * session process first sets no_new_privs and empties its capabilities
 * (priv.c); the parent dropped root and the bounding set before forking.
 *
 * The list of children is guarded by `lock`; nothing is held across IO.
 * A child has only the thread that forked it, so it must not inherit a lock
 * another thread held at that instant (an acceptor admitting the next
 * connection holds the server's lock): the forker takes the server's lock,
 * and log.c's pthread_atfork handler takes its own, across the fork, and
 * the child releases its copies first thing.
 *
 * Shutdown: acceptors stop, every child gets SIGTERM — its handler only sets
 * the child's stopping flag, so idle sessions say 421 within a second and
 * running transfers finish — and children still alive after shutdown-grace
 * get SIGKILL.
 */
#include <errno.h>
#include <fcntl.h>
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
  mt_lock_t lock;
  child_t *children;
  int n;
  int done[2];                   /* children write their pid here when done */
  mt_queue_t *pending;           /* accepted connections for the forker thread */
  mt_event_t reaped;             /* set when every child is reaped: the forker may go */
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
  mt_lock_release(&srv->lock);    /* held across the fork by start_child */
  mt_lock_release(&fk->lock);
  ftpd_session_confine();          /* no_new_privs, no capabilities (priv.c) */
  /* The acceptor that forked us blocks SIGTERM/SIGINT/SIGHUP (main.c);
   * here they mean "finish and leave", except SIGHUP, which the parent
   * handles. */
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

/* Starts the session process for fd (on the forker thread). 0, or <0 with
 * the connection left to the caller. */
static int start_child(forker_t *fk, int fd, const struct sockaddr_storage *peer) {
  child_t *c = malloc(sizeof *c);
  if (!c) return MT_ENOMEM;
  c->peer = *peer;
  c->released = false;
  /* The child reads fd and peer from fk; the list append is under the lock.
   * The server's lock (after ours, the order child_message uses) is held
   * across the fork so that no other thread holds it then. */
  mt_lock_acquire(&fk->lock, MT_FOREVER);
  fk->fd = fd;
  fk->peer = *peer;
  mt_proc_opts_t o = {.name = "ftp-session", .daemon = true};
  mt_lock_acquire(&fk->srv->lock, MT_FOREVER);
  int r = mt_proc_start(&c->proc, child_main, fk, &o);
  mt_lock_release(&fk->srv->lock);
  if (r == 0) {
    atomic_fetch_add(&fk->srv->next_id, 1);   /* the child numbered itself from the old value */
    c->next = fk->children;
    fk->children = c;
    fk->n++;
  }
  mt_lock_release(&fk->lock);
  if (r < 0) {
    ftpd_log(LOG_ERROR, "cannot fork a session process: %s", mt_strerror(r));
    free(c);
    return r;
  }
  mt_close(fd);                    /* the child has its own copy */
  return 0;
}

typedef struct {
  int fd;
  struct sockaddr_storage peer;
} pending_t;

/* The acceptors' hand-off: queue the connection for the forker thread. */
static int fork_handoff(void *ctx, int fd, const struct sockaddr_storage *peer) {
  forker_t *fk = ctx;
  pending_t *p = malloc(sizeof *p);
  if (!p) return MT_ENOMEM;
  p->fd = fd;
  p->peer = *peer;
  int r = mt_queue_put(fk->pending, p, 0);     /* unbounded: admission bounds it */
  if (r < 0) free(p);
  return r;
}

/* The one thread that starts session processes, and outlives them all: a
 * daemonic child's PR_SET_PDEATHSIG fires when the *thread* that forked it
 * exits, so children forked by the acceptor threads were killed the moment
 * SIGTERM stopped those threads — their transfers cut short. This thread
 * returns only once fork_run() has reaped every child (fk->reaped). */
static void *forker(void *arg) {
  forker_t *fk = arg;
  void *item;
  while (mt_queue_get(fk->pending, &item, MT_FOREVER) == 0) {
    pending_t *p = item;
    if (start_child(fk, p->fd, &p->peer) < 0) {
      static const char msg[] = "421 Service not available, try later.\r\n";
      (void)!send(p->fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      mt_close(p->fd);
      ftpd_release(fk->srv, &p->peer);
    }
    free(p);
    mt_queue_task_done(fk->pending);
  }
  mt_event_wait(&fk->reaped, MT_FOREVER);
  return NULL;
}

/* Reaps the children that ended; with kill, sends them sig first. */
static int reap(forker_t *fk, int sig) {
  mt_lock_acquire(&fk->lock, MT_FOREVER);
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
  int left = fk->n;
  mt_lock_release(&fk->lock);
  return left;
}

/* A child's message: its session is over (give its admission back now),
 * or a login failed (charge it to the child's address). */
static void child_message(forker_t *fk, const child_msg_t *m) {
  mt_lock_acquire(&fk->lock, MT_FOREVER);
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
  mt_lock_release(&fk->lock);
}

static void *monitor(void *p) {
  forker_t *fk = p;
  double next_reap = 0;
  while (!atomic_load(&fk->srv->stopping)) {
    child_msg_t msgs[64];
    ssize_t n = mt_read(fk->done[0], msgs, sizeof msgs, 0.05);
    for (ssize_t i = 0; n > 0 && i < n / (ssize_t)sizeof msgs[0]; i++) child_message(fk, &msgs[i]);
    if (mt_now() >= next_reap) {
      reap(fk, 0);
      next_reap = mt_now() + 0.05;
    }
  }
  return NULL;
}

static int fork_run(ftpd_server_t *srv, mt_event_t *stop) {
  forker_t fk = {.srv = srv};
  if (pipe2(fk.done, O_CLOEXEC | O_NONBLOCK) < 0) {
    ftpd_log(LOG_ERROR, "fork model: pipe: %s", strerror(errno));
    return -1;
  }
  mt_lock_init(&fk.lock, 0);
  mt_event_init(&fk.reaped, 0);
  fk.pending = mt_queue_new(MT_FIFO, 0);
  mt_thread_t *acc[FTPD_MAX_LISTENERS] = {0}, *mon = NULL, *fth = NULL;
  mt_thread_opts_t o = {.name = "ftp-reaper", .daemon = true};
  mt_thread_opts_t fo = {.name = "ftp-forker", .daemon = true};
  int rc = fk.pending && mt_thread_start(&mon, monitor, &fk, &o) == 0 ? 0 : -1;
  if (rc == 0 && mt_thread_start(&fth, forker, &fk, &fo) < 0) rc = -1;
  if (rc == 0 && ftpd_acceptors_start(srv, fork_handoff, &fk, acc) < 0) rc = -1;
  if (rc == 0) mt_event_wait(stop, MT_FOREVER);

  ftpd_acceptors_stop(srv, acc);
  if (fk.pending) {                /* what was accepted is forked (and told 421) first */
    mt_queue_close(fk.pending);
    if (fth) mt_queue_join(fk.pending, MT_FOREVER);
  }
  if (mon) {
    mt_thread_join(mon, MT_FOREVER, NULL);
    mt_thread_free(mon);
  }
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
  mt_event_set(&fk.reaped);
  if (fth) {
    mt_thread_join(fth, MT_FOREVER, NULL);
    mt_thread_free(fth);
  }
  for (void *item; fk.pending && mt_queue_get(fk.pending, &item, 0) == 0;) {   /* only if the forker never ran */
    pending_t *p = item;
    mt_close(p->fd);
    ftpd_release(srv, &p->peer);
    free(p);
  }
  mt_queue_free(fk.pending);
  mt_event_destroy(&fk.reaped);
  mt_lock_destroy(&fk.lock);
  close(fk.done[0]);
  close(fk.done[1]);
  return rc;
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
