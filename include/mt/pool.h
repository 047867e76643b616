/* pool.h — the thread-pool executor (concurrent.futures.ThreadPoolExecutor
 * and the notes' "thread pool built on a queue").
 *
 * Workers take tasks from one internal FIFO. `submit` returns a future;
 * `run` is fire-and-forget; `map` runs fn over an array and returns results
 * in input order with one timeout for all. A task may submit to its own
 * pool. With a bounded work queue (opts.max_queue) a fast producer blocks —
 * until a worker frees a slot — instead of growing memory; a worker
 * submitting to its own full pool is never blocked (that could deadlock).
 */
#ifndef MT_POOL_H
#define MT_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_pool mt_pool_t;

typedef struct {
  size_t workers;       /* 0: the number of online CPUs */
  size_t max_queue;     /* 0: unbounded; else at most this many queued tasks */
  const char *name;     /* worker thread names "<name>-<i>"; NULL: "mtpool" */
} mt_pool_opts_t;

/* Returns a pool, or NULL (mt_last_error(): MT_ENOMEM, MT_EAGAIN). */
mt_pool_t *mt_pool_new(size_t workers);
mt_pool_t *mt_pool_new_opts(const mt_pool_opts_t *opts);

/* Submits fn(arg). Returns a future (the caller's reference), or NULL with
 * mt_last_error() set: MT_ECLOSED after shutdown, MT_ENOMEM. */
mt_future_t *mt_pool_submit(mt_pool_t *p, mt_task_fn fn, void *arg);
/* The same, returning the code: 0 and *out set, or the error and *out NULL. */
int mt_pool_submit_ex(mt_pool_t *p, mt_task_fn fn, void *arg, mt_future_t **out);
/* Fire and forget: no future; fn's code and result are discarded. Returns 0,
 * MT_ECLOSED, MT_ENOMEM. */
int mt_pool_run(mt_pool_t *p, mt_task_fn fn, void *arg);
/* results[i] = result of fn(args[i]). Returns 0, the first non-zero task
 * code in input order (results of successful tasks are still stored), or
 * MT_ETIMEDOUT (tasks not yet started are cancelled; running ones finish in
 * the background, so args must stay valid). results may be NULL. */
int mt_pool_map(mt_pool_t *p, mt_task_fn fn, void **args, void **results, size_t n, double timeout);
/* Stops accepting work. cancel_pending cancels queued tasks (their futures
 * become cancelled); wait joins the workers after they drain the rest. */
int mt_pool_shutdown(mt_pool_t *p, bool wait, bool cancel_pending);
/* Shuts down (wait, no cancel) and frees. Not from one of its own workers. */
void mt_pool_free(mt_pool_t *p);
size_t mt_pool_workers(mt_pool_t *p);

#ifdef __cplusplus
}
#endif
#endif
