/* model_co.c — the coroutines model: one scheduler per core, disk work on a
 * thread pool.
 *
 * Each scheduler thread runs mt_co_main with one acceptor coroutine per
 * listening socket (all schedulers accept on the same sockets; the kernel
 * gives each connection to one of them). An admitted connection becomes a
 * session coroutine on the scheduler that accepted it, for good, so the
 * schedulers keep their shares even: an acceptor whose scheduler serves
 * more sessions than another one (by more than one) lets a connection wait
 * LEAN_DELAY before it takes it, time for a less loaded acceptor to take it
 * first. Left to the kernel, whichever scheduler woke first took it, and
 * 100 clients downloading at once were split 2:31 in CPU time in one run
 * (0.37 s against 0.23 s for an even split). Sessions run the same
 * code as in the other models: every socket wait in it parks the coroutine,
 * not the thread. What could hold a scheduler thread — password hashing,
 * building a listing, file reads and writes of a transfer — goes through
 * ftpd_offload() to a small thread pool (srv->offload) while the coroutine
 * parks on the future.
 *
 * An idle session gives its stack back: once it has waited PARK_AFTER for
 * a command with nothing of one buffered, ftpd_session_serve() returns
 * FTPD_SESS_PARKED, its coroutine ends (the stack goes back to the
 * scheduler's cache) and the session joins its scheduler's parked set: an
 * epoll of their control fds that one coroutine (parker_co) watches. A
 * readable fd, the session's timeout or the server's shutdown spawns a new
 * coroutine that serves it on. A parked session costs its struct, nothing
 * more (docs/perf-coroutines.md has the figures) — and, in MODE B, the
 * socket of the data connection it keeps.
 *
 * Shutdown: the listeners are shut for reading, which wakes the acceptors; idle
 * sessions say 421 within a second (parked ones are woken for it),
 * transfers finish; a scheduler returns when its last coroutine has, and the
 * schedulers get shutdown-grace.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
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

/* Waiting this long for a command on its own stack, a session parks. */
#define PARK_AFTER 0.25

/* The parked sessions of one scheduler (only its coroutines touch it). */
typedef struct {
  ftpd_server_t *srv;
  int epfd;
  ftpd_session_t *head;      /* parked, linked by park_prev/park_next */
  size_t n;
  double next_due;           /* the earliest timeout among them (or later) */
  size_t n_trimmed;          /* n at the last scan */
  mt_co_t *parker;
  bool parker_waits;         /* parker_co is in its wait: a poke (cancel) ends it */
  bool spawn_failed;         /* some stayed parked for want of memory: retry soon */
} park_set_t;

static __thread park_set_t *t_park;   /* this scheduler's, NULL: sessions never park */

/* Sessions per scheduler (t_sched indexes it): what the acceptors balance. */
#define LEAN_DELAY 0.002
static atomic_int *g_load;
static int g_nsched;
/* Written once at shutdown: in every parked set's epoll (edge-triggered,
 * data NULL), so each parker sees the stop at once, not at its next
 * one-second scan. */
static int g_stop_efd = -1;
static __thread int t_sched;

/* Whether another scheduler serves at least two sessions fewer than this one. */
static bool others_leaner(void) {
  int mine = atomic_load_explicit(&g_load[t_sched], memory_order_relaxed);
  for (int i = 0; i < g_nsched; i++)
    if (i != t_sched && atomic_load_explicit(&g_load[i], memory_order_relaxed) + 1 < mine) return true;
  return false;
}

static void *resume_co(void *p);

static mt_co_t *spawn_session(void *(*fn)(void *), void *arg) {
  /* Session code keeps path buffers on its stack: give it room. */
  mt_co_opts_t o = {.name = "ftp-session", .stack_size = 256 << 10};
  mt_co_t *co = mt_co_spawn_opts(fn, arg, &o);
  if (co) mt_co_detach(co);
  return co;
}

static void unlink_parked(park_set_t *ps, ftpd_session_t *s) {
  if (s->park_prev) s->park_prev->park_next = s->park_next;
  else ps->head = s->park_next;
  if (s->park_next) s->park_next->park_prev = s->park_prev;
  s->park_prev = s->park_next = NULL;
  ps->n--;
}

static void link_parked(park_set_t *ps, ftpd_session_t *s) {
  s->park_next = ps->head;
  if (ps->head) ps->head->park_prev = s;
  ps->head = s;
  ps->n++;
}

static bool is_parked(const park_set_t *ps, const ftpd_session_t *s) {
  return s->park_prev || ps->head == s;
}

/* Serves s on this coroutine until it parks or ends. */
static void serve(ftpd_session_t *s) {
  park_set_t *ps = t_park;
  if (ftpd_session_serve(s, ps ? PARK_AFTER : 0) == FTPD_SESS_PARKED) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = s};
    if (epoll_ctl(ps->epfd, s->park_armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->ctrl, &ev) == 0) {
      s->park_armed = true;
      link_parked(ps, s);
      ftpd_log(LOG_DEBUG, "#%lu parked: idle, its stack given back (%zu parked on this scheduler)", s->id, ps->n);
      double due = ftpd_session_deadline(s);
      if (due < ps->next_due) {      /* sooner than the parker will look */
        ps->next_due = due;
        if (ps->parker_waits) mt_co_cancel(ps->parker);
      }
      return;                        /* this coroutine ends; the stack is free */
    }
    ftpd_log(LOG_WARN, "#%lu cannot park the idle session: %s", s->id, strerror(errno));
    ftpd_session_serve(s, 0);        /* then on this stack to the end */
  }
  ftpd_server_t *srv = s->srv;
  struct sockaddr_storage peer = s->peer;
  if (s->park_armed && ps) epoll_ctl(ps->epfd, EPOLL_CTL_DEL, s->ctrl, NULL);
  ftpd_session_close(s);
  ftpd_release(srv, &peer);
  atomic_fetch_sub_explicit(&g_load[t_sched], 1, memory_order_relaxed);
}

static void *resume_co(void *p) {
  serve(p);
  return NULL;
}

static void *session_co(void *p) {
  co_conn_t *cn = p;
  ftpd_session_t *s = ftpd_session_open(cn->srv, cn->fd, &cn->peer);
  if (s) {
    serve(s);
  } else {
    ftpd_release(cn->srv, &cn->peer);
    atomic_fetch_sub_explicit(&g_load[t_sched], 1, memory_order_relaxed);
  }
  free(cn);
  return NULL;
}

/* Wakes a parked session: a coroutine serves it on. False when none could
 * be spawned (it stays parked). */
static bool wake(park_set_t *ps, ftpd_session_t *s) {
  unlink_parked(ps, s);
  if (spawn_session(resume_co, s)) return true;
  link_parked(ps, s);                /* out of memory: back in the set */
  ps->spawn_failed = true;
  return false;
}

/* Watches the parked set: readable fds, expired timeouts (checked each
 * second) and shutdown, which wakes them all; returns at shutdown once the
 * set is empty. */
static void *parker_co(void *p) {
  park_set_t *ps = p;
  struct epoll_event ev[64];
  double next_scan = mt_now() + 1;
  ps->next_due = next_scan;
  for (;;) {
    bool stopping = atomic_load(&ps->srv->stopping);
    double now = mt_now();
    if (stopping || now >= next_scan || now >= ps->next_due || ps->spawn_failed) {
      ps->spawn_failed = false;
      next_scan = now + 1;           /* each second at least: shutdown is seen */
      ps->next_due = next_scan;
      for (ftpd_session_t *s = ps->head, *nx; s; s = nx) {
        nx = s->park_next;
        double due = ftpd_session_deadline(s);
        if (stopping || due <= now) wake(ps, s);
        else if (due < ps->next_due) ps->next_due = due;
      }
      if (stopping && ps->n == 0) return NULL;
      /* Many sessions parked since the last look (a burst of logins):
       * the heap holds the holes their commands and coroutine records
       * left; give whole free pages back (glibc's malloc_trim). */
      if (ps->n >= ps->n_trimmed + 256) malloc_trim(0);
      ps->n_trimmed = ps->n;
    }
    double wait = ps->spawn_failed ? 0.05 : stopping ? 0.1 : ps->next_due - now;
    ps->parker_waits = true;
    int r = mt_wait_fd(ps->epfd, MT_READ, wait > 0 ? wait : 0);
    ps->parker_waits = false;
    if (r < 0 && r != MT_ETIMEDOUT && r != MT_ECANCELED) {
      ftpd_log(LOG_ERROR, "parked sessions: %s", mt_strerror(r));
      mt_sleep(0.1);
    }
    int n = epoll_wait(ps->epfd, ev, (int)(sizeof ev / sizeof ev[0]), 0);
    for (int i = 0; i < n; i++) {
      ftpd_session_t *s = ev[i].data.ptr;
      if (s && is_parked(ps, s)) wake(ps, s);   /* else the stop, or woken already by a scan */
    }
  }
}

/* Hand-off: the session becomes a coroutine of the accepting scheduler. */
static int co_handoff(void *ctx, int fd, const struct sockaddr_storage *peer) {
  co_conn_t *cn = malloc(sizeof *cn);
  if (!cn) return MT_ENOMEM;
  *cn = (co_conn_t){ctx, fd, *peer};
  atomic_fetch_add_explicit(&g_load[t_sched], 1, memory_order_relaxed);
  if (!spawn_session(session_co, cn)) {
    atomic_fetch_sub_explicit(&g_load[t_sched], 1, memory_order_relaxed);
    free(cn);
    return MT_ENOMEM;
  }
  return 0;
}

static void *acceptor_co(void *p) {
  co_acc_t *a = p;
  while (!atomic_load(&a->srv->stopping)) {
    if (mt_wait_fd(a->lfd, MT_READ, 0.5) < 0) continue;
    /* a connection waits; a leaner scheduler's acceptor, woken with us,
     * may take it meanwhile (then ours finds nothing and waits again) */
    if (others_leaner()) mt_sleep(LEAN_DELAY);
    for (int k = 0; k < 16 && ftpd_accept_one(a->srv, a->lfd, 0, co_handoff, a->srv); k++)   /* a burst, in turns */
      if (others_leaner() || atomic_load(&a->srv->stopping)) break;
    mt_co_yield();                   /* the sessions just spawned start */
  }
  return NULL;
}

/* Spawns the acceptors of one scheduler (concurrently) and its parker, and
 * waits for them. */
static void *sched_main(void *p) {
  ftpd_server_t *srv = p;
  co_acc_t acc[FTPD_MAX_LISTENERS];
  mt_co_t *cos[FTPD_MAX_LISTENERS + 1];
  int n = 0;
  if (t_park && !(cos[n] = mt_co_spawn(parker_co, t_park))) t_park = NULL;   /* no parking then */
  else if (t_park) t_park->parker = cos[n++];
  int accepting = 0;
  for (int i = 0; i < srv->n_listen; i++) {
    acc[i] = (co_acc_t){srv, srv->listen_fd[i]};
    if ((cos[n] = mt_co_spawn(acceptor_co, &acc[i]))) n++, accepting++;
  }
  /* a scheduler short of acceptors is never the leaner one: the others
   * would wait for it before every accept */
  if (accepting < srv->n_listen) atomic_fetch_add(&g_load[t_sched], 1 << 20);
  mt_co_joinall(cos, (size_t)n, MT_FOREVER);
  return NULL;
}

typedef struct {
  ftpd_server_t *srv;
  int idx;                   /* t_sched */
} sched_arg_t;

/* The parked set outlives sched_main: sessions still running after it has
 * returned (a transfer finishing at shutdown) remove themselves from its
 * epoll. It goes when the scheduler has no coroutine left. */
static void *sched_thread(void *p) {
  sched_arg_t *sa = p;
  ftpd_server_t *srv = sa->srv;
  t_sched = sa->idx;
  park_set_t *ps = calloc(1, sizeof *ps);
  if (ps) {
    ps->srv = srv;
    ps->epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.ptr = NULL};
    if (ps->epfd >= 0 && g_stop_efd >= 0) epoll_ctl(ps->epfd, EPOLL_CTL_ADD, g_stop_efd, &ev);
    if (ps->epfd >= 0) t_park = ps;
    else ftpd_log(LOG_WARN, "scheduler: no epoll for idle sessions (%s): they keep their stacks", strerror(errno));
  }
  int r = mt_co_main(sched_main, srv);
  if (r < 0) ftpd_log(LOG_ERROR, "scheduler: %s", mt_strerror(r));
  t_park = NULL;
  if (ps && ps->epfd >= 0) close(ps->epfd);
  free(ps);
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
  sched_arg_t *args = calloc((size_t)n, sizeof *args);
  g_load = calloc((size_t)n, sizeof *g_load);
  g_nsched = n;
  g_stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);   /* without it, the scans see the stop */
  int started = 0, rc = 0;
  for (; th && args && g_load && started < n; started++) {
    char name[16];
    snprintf(name, sizeof name, "ftp-sched-%d", started);
    mt_thread_opts_t o = {.name = name, .daemon = true};
    args[started] = (sched_arg_t){srv, started};
    if (mt_thread_start(&th[started], sched_thread, &args[started], &o) < 0) {
      rc = -1;
      break;
    }
  }
  if (!th || !args || !g_load) rc = -1;
  if (rc == 0) mt_event_wait(stop, MT_FOREVER);
  atomic_store(&srv->stopping, true);
  /* wakes the acceptors waiting on the listeners at once (a listener shut
   * for reading is readable, and accepts no more), not at the end of their
   * half-second slices */
  for (int i = 0; i < srv->n_listen; i++) shutdown(srv->listen_fd[i], SHUT_RD);
  if (g_stop_efd >= 0) (void)!eventfd_write(g_stop_efd, 1);
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
  free(args);
  free(g_load);
  g_load = NULL;
  if (g_stop_efd >= 0) close(g_stop_efd);
  g_stop_efd = -1;
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
