/* proc.c — child processes watched through pidfds.
 *
 * Every child libmt starts is on one registry (g_mu, a leaf lock) until it
 * is reaped. join/is_alive/exitcode reap through waitid(P_PIDFD), under g_mu
 * so a child is reaped once. A handle freed before its child was reaped
 * hands the pidfd to the reaper: a daemon thread ("mt-reaper", started on
 * first need) sleeping in epoll on such pidfds, which reaps each child as it
 * ends — so no child of libmt's stays a zombie, with no SIGCHLD handler.
 * At exit(), daemonic children still running get SIGTERM and those whose
 * handle is still held are waited for, as in Python; PR_SET_PDEATHSIG
 * covers a parent that dies abruptly — for children of the main thread
 * only, since the kernel fires it when the forking thread ends.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h"
#include "mt/proc.h"
#include "mt/thread.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

struct mt_proc {
  pid_t pid;
  int pidfd;              /* -1 once reaped */
  int exitcode;           /* valid once reaped */
  bool daemon;
  bool orphan;            /* handle freed: the reaper owns it */
  struct mt_proc *next, *prev;
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static mt_proc_t *g_head;
static int g_epfd = -1;
static mt_thread_t *g_reaper;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void reg_del(mt_proc_t *p) {
  if (p->prev) p->prev->next = p->next; else g_head = p->next;
  if (p->next) p->next->prev = p->prev;
  p->next = p->prev = NULL;
}

/* Reaps p if it has ended (blocking only if `block`). Under g_mu. */
static bool reap_locked(mt_proc_t *p, bool block) {
  if (p->pidfd < 0) return true;
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int r;
  do r = waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, WEXITED | (block ? 0 : WNOHANG));
  while (r < 0 && errno == EINTR);
  if (r < 0 || si.si_pid == 0) return false;
  p->exitcode = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
  /* Deregister explicitly: a child forked meanwhile shares the pidfd's open
   * file, so closing our descriptor would not drop it from the epoll set. */
  if (p->orphan && g_epfd >= 0) epoll_ctl(g_epfd, EPOLL_CTL_DEL, p->pidfd, NULL);
  close(p->pidfd);
  p->pidfd = -1;
  reg_del(p);
  return true;
}

static void atexit_daemons(void) {
  /* Python terminates daemonic children, then joins them. */
  pthread_mutex_lock(&g_mu);
  for (mt_proc_t *p = g_head; p; p = p->next)
    if (p->daemon && p->pidfd >= 0) syscall(SYS_pidfd_send_signal, p->pidfd, SIGTERM, NULL, 0);
  mt_proc_t *p = g_head;
  while (p) {
    mt_proc_t *next = p->next;
    /* An orphan (handle freed) belongs to the reaper, which may be about to
     * look at it: signal it only; the reaper, or init after we exit, reaps. */
    if (p->daemon && !p->orphan) reap_locked(p, true);
    p = next;
  }
  pthread_mutex_unlock(&g_mu);
}

static void atfork_prepare(void) { pthread_mutex_lock(&g_mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&g_mu); }
static void atfork_child(void) {
  /* The parent's children are not ours; its reaper thread does not exist. */
  g_head = NULL;
  if (g_epfd >= 0) close(g_epfd);
  g_epfd = -1;
  g_reaper = NULL;
  pthread_mutex_unlock(&g_mu);
}

static void init_once(void) {
  atexit(atexit_daemons);
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

MT_API int mt_proc_start(mt_proc_t **out, int (*fn)(void *), void *arg, const mt_proc_opts_t *opts) {
  if (!out) return MT_EINVAL;
  *out = NULL;
  if (!fn) return MT_EINVAL;
  pthread_once(&g_once, init_once);
  mt_proc_t *p = mt__calloc(1, sizeof *p);
  if (!p) return MT_ENOMEM;
  p->daemon = opts && opts->daemon;
  pid_t parent = p->daemon ? getpid() : 0;   /* getpid() is a system call */
  /* The death signal follows the forking thread: only the main thread's
   * end is the process's. */
  bool deathsig = p->daemon && (pid_t)syscall(SYS_gettid) == parent;
  fflush(NULL);                         /* no buffered output written twice */
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    mt__free(p);
    return -e;
  }
  if (pid == 0) {
    if (deathsig) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);   /* the parent died before prctl */
    }
    if (opts && opts->name) prctl(PR_SET_NAME, opts->name);
    if (opts && opts->nice) {
      errno = 0;
      int cur = getpriority(PRIO_PROCESS, 0);
      if (errno == 0) setpriority(PRIO_PROCESS, 0, cur + opts->nice);
    }
    int code = fn(arg);
    fflush(NULL);
    _exit(code & 0xff);
  }
  p->pid = pid;
  p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (p->pidfd < 0) {
    int e = errno;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    mt__free(p);
    return e == ENOSYS ? MT_ENOSYS : -e;
  }
  pthread_mutex_lock(&g_mu);
  p->next = g_head;
  if (g_head) g_head->prev = p;
  g_head = p;
  pthread_mutex_unlock(&g_mu);
  *out = p;
  return 0;
}

MT_API int mt_proc_join(mt_proc_t *p, double timeout) {
  int64_t deadline = mt__deadline(timeout);
  for (;;) {
    pthread_mutex_lock(&g_mu);
    bool done = reap_locked(p, false);
    int fd = p->pidfd;
    pthread_mutex_unlock(&g_mu);
    if (done) return 0;
    int ms = -1;
    if (deadline != MT__NEVER) {
      int64_t left = deadline - mt__now_ns();
      if (left <= 0) return MT_ETIMEDOUT;
      ms = (int)((left + 999999) / 1000000);
    }
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    if (poll(&pfd, 1, ms) < 0 && errno != EINTR) return -errno;
  }
}

MT_API int mt_proc_exitcode(const mt_proc_t *cp) {
  mt_proc_t *p = (mt_proc_t *)cp;      /* observing may reap: still logically const */
  pthread_mutex_lock(&g_mu);
  bool done = reap_locked(p, false);
  int code = p->exitcode;
  pthread_mutex_unlock(&g_mu);
  return done ? code : MT_ERUNNING;
}

MT_API pid_t mt_proc_pid(const mt_proc_t *p) { return p->pid; }

MT_API bool mt_proc_is_alive(mt_proc_t *p) { return mt_proc_exitcode(p) == MT_ERUNNING; }

MT_API int mt_proc_signal(mt_proc_t *p, int signum) {
  int r = 0;
  pthread_mutex_lock(&g_mu);
  if (p->pidfd >= 0 && syscall(SYS_pidfd_send_signal, p->pidfd, signum, NULL, 0) < 0 && errno != ESRCH)
    r = -errno;
  pthread_mutex_unlock(&g_mu);
  return r;
}

MT_API int mt_proc_terminate(mt_proc_t *p) { return mt_proc_signal(p, SIGTERM); }
MT_API int mt_proc_kill(mt_proc_t *p) { return mt_proc_signal(p, SIGKILL); }

/* ---- the reaper ----------------------------------------------------------------- */
static void *reaper_main(void *arg) {
  int epfd = (int)(intptr_t)arg;
  for (;;) {
    struct epoll_event ev[16];
    int n = epoll_wait(epfd, ev, 16, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    for (int i = 0; i < n; i++) {
      mt_proc_t *p = ev[i].data.ptr;
      pthread_mutex_lock(&g_mu);
      /* Reaping also takes the pidfd out of the epoll set. */
      if (reap_locked(p, false)) mt__free(p);
      pthread_mutex_unlock(&g_mu);
    }
  }
}

MT_API void mt_proc_free(mt_proc_t *p) {
  if (!p) return;
  pthread_mutex_lock(&g_mu);
  if (reap_locked(p, false)) {
    pthread_mutex_unlock(&g_mu);
    mt__free(p);
    return;
  }
  /* Still running: the reaper takes it over. */
  p->orphan = true;
  if (g_epfd < 0) {
    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    mt_thread_opts_t o = { .name = "mt-reaper", .daemon = true };
    if (g_epfd >= 0 && mt_thread_start(&g_reaper, reaper_main, (void *)(intptr_t)g_epfd, &o) != 0) {
      close(g_epfd);
      g_epfd = -1;
    }
  }
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = p };
  bool watched = g_epfd >= 0 && epoll_ctl(g_epfd, EPOLL_CTL_ADD, p->pidfd, &ev) == 0;
  pthread_mutex_unlock(&g_mu);
  if (!watched) {
    /* No reaper could be had (out of memory or threads): wait here rather
     * than leave a zombie. */
    pthread_mutex_lock(&g_mu);
    reap_locked(p, true);
    pthread_mutex_unlock(&g_mu);
    mt__free(p);
  }
}
