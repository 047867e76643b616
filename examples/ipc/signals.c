/* signals.c — signals: an alarm and pause, a handler, and kill from a
 * parent to its child. libmt runs handlers on a normal thread, so they may
 * print, lock and set events — which a C signal handler may not.
 * Python: signal.alarm(1); signal.pause(); signal.signal(SIGUSR1, h);
 * os.kill(pid, SIGUSR1). */
#include <signal.h>
#include <stdio.h>

#include "mt.h"

static void on_alarm(int sig, void *ud) { printf("handler: got SIGALRM\n"); fflush(stdout); }

static mt_event_t *ready;                     /* shared: the child has its handler */

static void on_usr1(int sig, void *ud) {
  printf("child handler: got SIGUSR1 from the parent\n");
  fflush(stdout);
  mt_event_set(ud);
}

static int child(void *arg) {
  mt_event_t got;
  mt_event_init(&got, 0);
  mt_signal_handle(SIGUSR1, on_usr1, &got);
  mt_event_set(ready);
  int r = mt_event_wait(&got, 10);
  return r == 0 ? 0 : 1;
}

int main(void) {
  mt_signal_handle(SIGALRM, on_alarm, NULL);
  double t0 = mt_now();
  mt_alarm(0.1);
  int sig = mt_signal_pause();
  printf("pause returned after %.2f s: signal %d (SIGALRM is %d)\n", mt_now() - t0, sig, SIGALRM);

  ready = mt_shm_alloc(sizeof *ready);
  if (!ready || mt_event_init(ready, MT_SHARED)) return 1;
  mt_proc_t *p;
  if (mt_proc_start(&p, child, NULL, NULL)) return 1;
  if (mt_event_wait(ready, 10)) return 1;
  mt_proc_signal(p, SIGUSR1);                 /* os.kill(pid, SIGUSR1), through the pidfd */
  mt_proc_join(p, 10);
  printf("child exited with code %d\n", mt_proc_exitcode(p));
  int ok = sig == SIGALRM && mt_proc_exitcode(p) == 0;
  mt_proc_free(p);
  mt_event_destroy(ready);
  mt_shm_free(ready, sizeof *ready);
  return ok ? 0 : 1;
}
// env: TSAN_OPTIONS=die_after_fork=0
// expect: ^handler: got SIGALRM$
// expect: ^pause returned after [0-9.]+ s: signal 14 \(SIGALRM is 14\)$
// expect: ^child handler: got SIGUSR1 from the parent$
// expect: ^child exited with code 0$
