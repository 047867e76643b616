/* thread.h — threads, as Python's `threading.Thread`.
 *
 * A thread runs fn(arg); its return value is handed to mt_thread_join().
 * Names are visible to `ps -L`, `top -H` and /proc/PID/task/TID/comm (the
 * kernel keeps the first 15 bytes). Daemon semantics follow Python: when the
 * process calls exit() (or main returns), libmt first joins every non-daemon
 * thread it started; daemon threads do not hold the process up.
 *
 * Handles are reference-counted: the handle returned by mt_thread_start()
 * is the caller's to mt_thread_free(), whether or not the thread has ended.
 */
#ifndef MT_THREAD_H
#define MT_THREAD_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_thread mt_thread_t;

typedef struct {
  const char *name;   /* NULL: "Thread-N" as in Python; copied */
  bool daemon;        /* true: does not hold up exit() */
  size_t stack_size;  /* 0: the system default */
} mt_thread_opts_t;

/* Starts fn(arg) on a new thread. opts may be NULL. On success *t is a handle
 * the caller frees with mt_thread_free(). On error (MT_ENOMEM, MT_EAGAIN,
 * MT_EINVAL) *t is NULL and fn never runs. */
int mt_thread_start(mt_thread_t **t, void *(*fn)(void *), void *arg, const mt_thread_opts_t *opts);

/* Waits up to `timeout` seconds for the thread to finish and stores fn's
 * return value in *result (if result is not NULL). Returns 0, MT_ETIMEDOUT,
 * MT_EDEADLK when a thread joins itself, MT_EINVAL for the main thread or a
 * thread libmt did not start. Joining twice is allowed. */
int mt_thread_join(mt_thread_t *t, double timeout, void **result);

/* Drops the caller's reference. A running thread goes on (detached). */
void mt_thread_free(mt_thread_t *t);

/* The calling thread's handle (borrowed, do not free). Threads libmt did not
 * start get a "Dummy-N" entry, as in Python; NULL only if that allocation
 * fails. */
mt_thread_t *mt_thread_current(void);

const char *mt_thread_name(const mt_thread_t *t);
/* The kernel thread id (what `ps -L` shows in LWP; Python's native_id). */
unsigned long mt_thread_ident(const mt_thread_t *t);
bool mt_thread_is_alive(const mt_thread_t *t);
bool mt_thread_is_daemon(const mt_thread_t *t);

/* Number of live threads known to libmt, the main thread included. */
size_t mt_thread_active_count(void);

/* Stores up to `cap` live threads in out[] and returns how many there are in
 * all (possibly more than cap). Each stored handle carries a reference that
 * the caller drops with mt_thread_free(). */
size_t mt_thread_enumerate(mt_thread_t **out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
