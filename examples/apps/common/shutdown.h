/* shutdown.h — the servers' stop switch: SIGINT and SIGTERM set an event
 * (libmt's mt_signal_shutdown_event), and are then blocked in the calling
 * thread — and so in every thread it starts afterwards — which leaves
 * libmt's signal-dispatcher thread as the only one the kernel can deliver
 * them to. Routing signals to one thread is good practice anyway; here it
 * is also what keeps ThreadSanitizer builds from losing the signal: TSan
 * defers a signal that lands on a thread inside a system call it does not
 * intercept (libmt parks threads with a raw futex syscall) until that
 * thread's next intercepted call, which a parked main thread never makes.
 * Call it from main before starting any thread. */
#ifndef EXAMPLES_SHUTDOWN_H
#define EXAMPLES_SHUTDOWN_H

#include <pthread.h>
#include <signal.h>

#include "mt.h"

static inline int shutdown_on_signals(mt_event_t *ev) {
  int r = mt_signal_shutdown_event(ev);
  if (r) return r;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

#endif
