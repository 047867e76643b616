/* signal.c — signal handlers in normal context.
 *
 * The installed sigaction handler (async-signal context) does one thing:
 * write(2) the signal number into a non-blocking self-pipe, keeping errno.
 * The dispatcher thread blocks on the pipe's read end and, for each number,
 * calls the registered handler outside any lock. g_mu (a leaf) guards the
 * table and the pause counter; handlers are read under it and called after
 * it is released, so a handler may call mt_signal_* itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/internal.h"
#include "mt/signal.h"
#include "mt/thread.h"

#define NSIG_MAX 65

static struct { void (*fn)(int, void *); void *ud; } g_tab[NSIG_MAX];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static unsigned long g_dispatched;
static int g_last;
static int g_pipe[2] = { -1, -1 };
static pid_t g_owner;                   /* process whose dispatcher runs */
static mt_thread_t *g_thread;

static void on_signal(int signum) {
  int saved = errno;
  unsigned char b = (unsigned char)signum;
  ssize_t w = write(__atomic_load_n(&g_pipe[1], __ATOMIC_ACQUIRE), &b, 1);   /* full pipe: coalesced */
  (void)w;
  errno = saved;
}

static void *dispatcher(void *arg) {
  int fd = (int)(intptr_t)arg;
  for (;;) {
    unsigned char b;
#ifdef MT_TSAN
    /* TSan runs an asynchronous signal's handler only when the thread it
     * landed on enters or leaves an intercepted call; a read() restarted by
     * SA_RESTART never leaves. Waking every 100 ms lets it deliver. */
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (poll(&pfd, 1, 100) == 0) {}
#endif
    ssize_t n = read(fd, &b, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return NULL;
    pthread_mutex_lock(&g_mu);
    void (*fn)(int, void *) = b < NSIG_MAX ? g_tab[b].fn : NULL;
    void *ud = b < NSIG_MAX ? g_tab[b].ud : NULL;
    pthread_mutex_unlock(&g_mu);
    if (fn) fn(b, ud);
    pthread_mutex_lock(&g_mu);
    g_dispatched++;
    g_last = b;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
  }
}

/* Starts (or, in a forked child, restarts) the dispatcher. Under g_mu. */
static int ensure_dispatcher(void) {
  if (g_thread && g_owner == getpid()) return 0;
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return -errno;
  fcntl(p[1], F_SETFL, O_NONBLOCK);
  mt_thread_opts_t o = { .name = "mt-signals", .daemon = true };
  mt_thread_t *t;
  int e = mt_thread_start(&t, dispatcher, (void *)(intptr_t)p[0], &o);
  if (e) {
    close(p[0]);
    close(p[1]);
    return e;
  }
  int old_r = g_pipe[0], old_w = g_pipe[1];
  __atomic_store_n(&g_pipe[1], p[1], __ATOMIC_RELEASE);   /* handlers write here now */
  g_pipe[0] = p[0];
  if (old_w >= 0) {                       /* the parent's pipe, inherited by fork */
    close(old_r);
    close(old_w);
  }
  g_thread = t;
  g_owner = getpid();
  return 0;
}

static bool valid(int signum) { return signum > 0 && signum < NSIG_MAX && signum != SIGKILL && signum != SIGSTOP; }

MT_API int mt_signal_handle(int signum, void (*fn)(int, void *), void *ud) {
  if (!valid(signum) || !fn) return MT_EINVAL;
  pthread_mutex_lock(&g_mu);
  int e = ensure_dispatcher();
  if (e == 0) {
    g_tab[signum].fn = fn;
    g_tab[signum].ud = ud;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signum, &sa, NULL) != 0) e = -errno;
  }
  pthread_mutex_unlock(&g_mu);
  return e;
}

static int set_disposition(int signum, void (*h)(int)) {
  if (!valid(signum)) return MT_EINVAL;
  pthread_mutex_lock(&g_mu);
  g_tab[signum].fn = NULL;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = h;
  sigemptyset(&sa.sa_mask);
  int e = sigaction(signum, &sa, NULL) == 0 ? 0 : -errno;
  pthread_mutex_unlock(&g_mu);
  return e;
}

MT_API int mt_signal_ignore(int signum) { return set_disposition(signum, SIG_IGN); }
MT_API int mt_signal_default(int signum) { return set_disposition(signum, SIG_DFL); }

MT_API int mt_alarm(double seconds) {
  if (!(seconds >= 0)) return MT_EINVAL;
  struct itimerval it;
  memset(&it, 0, sizeof it);
  it.it_value.tv_sec = (time_t)seconds;
  it.it_value.tv_usec = (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6);
  if (seconds > 0 && it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0) it.it_value.tv_usec = 1;
  return setitimer(ITIMER_REAL, &it, NULL) == 0 ? 0 : -errno;
}

MT_API int mt_signal_pause(void) {
  pthread_mutex_lock(&g_mu);
  ensure_dispatcher();
  unsigned long seen = g_dispatched;
  while (g_dispatched == seen) pthread_cond_wait(&g_cv, &g_mu);
  int s = g_last;
  pthread_mutex_unlock(&g_mu);
  return s;
}

static void shutdown_handler(int signum, void *ud) {
  mt_event_t *ev = ud;
  if (mt_event_is_set(ev)) {            /* the second request: stop being polite */
    mt_signal_default(signum);
    raise(signum);
    return;
  }
  mt_event_set(ev);
}

MT_API int mt_signal_shutdown_event(mt_event_t *ev) {
  if (!ev) return MT_EINVAL;
  int e = mt_signal_handle(SIGINT, shutdown_handler, ev);
  return e ? e : mt_signal_handle(SIGTERM, shutdown_handler, ev);
}
