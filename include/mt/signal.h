/* signal.h — signals, as Python's `signal` module: handlers run in normal
 * context, never in the async-signal context.
 *
 * libmt's own C-level handler only writes the signal number into a pipe; a
 * dispatcher thread ("mt-signals", started on first use) reads it and calls
 * your handler. So a handler may take locks, allocate, log, set events —
 * anything a thread may do. Handlers run one at a time, in arrival order;
 * the same signal arriving several times while its handler is pending may
 * be coalesced by the kernel, as always with standard signals.
 *
 * In a child forked after handlers were installed, the handlers stay
 * installed; dispatching resumes there at the child's next mt_signal_* call.
 */
#ifndef MT_SIGNAL_H
#define MT_SIGNAL_H

#include "sync.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Installs fn for signum (replacing any earlier one). Returns 0, MT_EINVAL
 * (SIGKILL, SIGSTOP, out of range, fn NULL), or an error from the system. */
int mt_signal_handle(int signum, void (*fn)(int signum, void *ud), void *ud);
int mt_signal_ignore(int signum);     /* SIG_IGN */
int mt_signal_default(int signum);    /* SIG_DFL */
/* SIGALRM after `seconds` (fractions allowed; 0 cancels). Returns 0. */
int mt_alarm(double seconds);
/* Waits until libmt has dispatched a signal to a handler (Python's
 * signal.pause()); returns that signal's number. */
int mt_signal_pause(void);
/* The orderly-shutdown idiom: SIGINT and SIGTERM set `ev` (the program
 * waits on it and shuts down cleanly); a second one of them restores the
 * default action and re-raises, so an impatient user still gets out. */
int mt_signal_shutdown_event(mt_event_t *ev);

#ifdef __cplusplus
}
#endif
#endif
