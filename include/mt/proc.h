/* proc.h — processes, as Python's multiprocessing.Process.
 *
 * mt_proc_start forks and runs fn(arg) in the child; the child exits with
 * fn's return value. The parent watches each child through a pidfd: join
 * waits with a timeout and reaps, no SIGCHLD handler is installed and the
 * caller's own SIGCHLD handling is left alone. No zombies: a child whose
 * handle is freed before it was joined is reaped by libmt when it exits.
 *
 * Options: a name (visible to ps, top and /proc/PID/comm; 15 bytes kept), a
 * nice value, and `daemon`: a daemonic child is terminated when the parent
 * exits normally (as in Python) and killed by the kernel if the parent dies
 * abruptly (PR_SET_PDEATHSIG).
 *
 * After fork the child runs only fn: libmt's own threads, pools and timers
 * do not exist in it (docs/sync.md, "After fork()").
 */
#ifndef MT_PROC_H
#define MT_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_proc mt_proc_t;

typedef struct {
  const char *name;   /* NULL: keep the parent's */
  bool daemon;
  int nice;           /* added to the child's niceness; 0 leaves it */
} mt_proc_opts_t;

/* Starts fn(arg) in a forked child. On success *p is the caller's to
 * mt_proc_free(). Errors: MT_ENOMEM, MT_EAGAIN (fork), MT_ENOSYS (no pidfd). */
int  mt_proc_start(mt_proc_t **p, int (*fn)(void *arg), void *arg, const mt_proc_opts_t *opts);
/* Waits up to `timeout` for the child to end and reaps it. 0 or MT_ETIMEDOUT. */
int  mt_proc_join(mt_proc_t *p, double timeout);
/* Python's exitcode: the exit status, -signum if a signal killed it, or
 * MT_ERUNNING while it runs (or has not been reaped by join/is_alive). */
int  mt_proc_exitcode(const mt_proc_t *p);
pid_t mt_proc_pid(const mt_proc_t *p);
/* True while the child runs; reaps it if it has ended. */
bool mt_proc_is_alive(mt_proc_t *p);
/* SIGTERM / SIGKILL through the pidfd (never a recycled pid). 0 or an error;
 * 0 also when the child has already ended. */
int  mt_proc_terminate(mt_proc_t *p);
int  mt_proc_kill(mt_proc_t *p);
int  mt_proc_signal(mt_proc_t *p, int signum);
/* Drops the handle. A running child goes on and is reaped when it ends
 * (a daemonic one is still terminated at exit). */
void mt_proc_free(mt_proc_t *p);

#ifdef __cplusplus
}
#endif
#endif
