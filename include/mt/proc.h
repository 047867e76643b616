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
 * exits normally (as in Python). A daemonic child started from the main
 * thread is also killed by the kernel if the parent dies abruptly
 * (PR_SET_PDEATHSIG). Children of other threads are not: the kernel sends
 * that signal when the *thread* that forked ends, and a child must not die
 * because, say, the pool or acceptor thread that started it has finished.
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

/* ---- daemons ------------------------------------------------------------------ */
/* Turns the calling process into a daemon: fork, setsid, fork again,
 * chdir("/"), umask 027, standard fds to /dev/null. With a pidfile, it is
 * refused (MT_EBUSY) while another live instance holds it — a lock on
 * "<pidfile>.lock" held for the daemon's lifetime — and written atomically
 * (temporary file + rename). Returns 0 in the daemon. The original process
 * does not return on success (it exits 0 once the daemon is set up); on
 * failure it returns the negative code and is still the original process. */
int mt_daemonize(const char *pidfile);

/* ---- the process pool (multiprocessing.Pool / ProcessPoolExecutor) ------------- */
/* Arguments and results cross as bytes. The task runs in a worker process
 * and returns 0 or an error code; it may malloc() *out (libmt frees it).
 * The future's result is an mt_buf_t * that the caller frees with free(). */
typedef struct { size_t len; unsigned char data[]; } mt_buf_t;
typedef int (*mt_ptask_fn)(const void *in, size_t inlen, void **out, size_t *outlen);

typedef struct {
  void (*initializer)(void *arg);   /* run once in each worker as it starts */
  void *initarg;
  size_t maxtasksperchild;          /* 0: workers live as long as the pool */
  const char *name;                 /* worker process names "<name>-<i>"; NULL: "mtppool" */
} mt_procpool_opts_t;

typedef struct mt_procpool mt_procpool_t;
typedef struct mt_future mt_future_t;

/* `workers` processes (0: one per CPU); opts may be NULL. NULL on failure
 * (mt_last_error()). A worker that dies (crash, kill -9, _exit) fails only
 * the future of the task it was running, with MT_EBROKEN, and is replaced. */
mt_procpool_t *mt_procpool_new(size_t workers, const mt_procpool_opts_t *opts);
/* Copies `in`. Returns a future (the caller's reference), or NULL with
 * mt_last_error(): MT_ECLOSED after close/terminate, MT_ENOMEM. */
mt_future_t *mt_procpool_submit(mt_procpool_t *pp, mt_ptask_fn fn, const void *in, size_t inlen);
/* Submits fn over n inputs; out[i] receives each future (the caller
 * releases them). Returns 0, or the first submission error (futures already
 * submitted are in out[], the rest NULL). */
int  mt_procpool_map(mt_procpool_t *pp, mt_ptask_fn fn, const void *const *ins, const size_t *inlens,
                     size_t n, mt_future_t **out);
/* No more submissions; queued work still runs. */
int  mt_procpool_close(mt_procpool_t *pp);
/* After close: waits for every task to finish and the workers to exit.
 * 0, MT_ETIMEDOUT, MT_EINVAL (not closed). */
int  mt_procpool_join(mt_procpool_t *pp, double timeout);
/* Stops at once: workers are killed, running tasks fail with MT_EBROKEN,
 * queued ones are cancelled. */
int  mt_procpool_terminate(mt_procpool_t *pp);
/* Terminates if still running, and frees. */
void mt_procpool_free(mt_procpool_t *pp);

#ifdef __cplusplus
}
#endif
#endif
