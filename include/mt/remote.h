/* remote.h — beyond one machine: a queue and a process pool on Redis.
 *
 * An optional part of libmt, built when hiredis is found (MT_HAVE_REMOTE is
 * then defined by the CMake package and pkg-config file users get). It is not
 * included by <mt.h>: include <mt/remote.h> yourself.
 *
 * URLs: "redis://[[user]:password@]host[:port][/db]" (port 6379, db 0 by
 * default; an IPv6 host in brackets, "[::1]") and
 * "unix://[[user]:password@]/path/to/redis.sock[?db=N]".
 *
 * Connections. Every handle keeps a small stack of hiredis connections; a
 * call takes one for itself (a new one if all are in use) and gives it back,
 * so each thread works on its own connection and a blocking read never holds
 * up another thread's call. A connection that fails (reset, timed out, Redis
 * restarted) is dropped; the next call connects afresh: reconnecting is
 * automatic, nothing needs re-opening. Every network wait is bounded: by the
 * call's own timeout when it has one, else by the handle's io_timeout (5 s by
 * default); a call whose timeout is shorter than a round trip (0: do not
 * wait for an item or for room) still gets one exchange of up to 250 ms (or
 * io_timeout, if smaller). A call that cannot reach Redis returns MT_ETIMEDOUT (no answer
 * in time, e.g. Redis paused), MT_ECONNREFUSED or MT_ECONNRESET (refused or
 * cut), MT_EAGAIN (Redis is still loading its data after a restart), or
 * MT_EIO (Redis answered with an error, e.g. out of memory).
 *
 * ---- The queue (mt_rqueue_*) -------------------------------------------------
 * A named FIFO of byte messages in Redis with mt_pqueue's semantics, shared
 * by any process on any host that opens the same name on the same Redis:
 * put/get with timeouts, an optional bound on the number of items (put waits
 * for room, then fails with MT_EFULL), task_done/join and close (puts fail
 * with MT_ECLOSED; gets drain what was put before the close, then fail with
 * MT_ECLOSED). A put is one atomic script; an item is in the queue once put
 * returns 0, and no two gets ever receive it. The queue is as durable as
 * Redis is configured to be (with AOF `appendfsync always`, a returned put
 * survives a Redis restart). A get whose reply is lost in transit (the
 * connection cut between Redis sending and the caller receiving) loses that
 * item: the queue is at-most-once on get, like mt_pqueue with a consumer
 * killed mid-get. For at-least-once work, use the pool below.
 *
 * ---- The pool (mt_rpool_* submitters, mt_rworker_* workers) ---------------------
 * Tasks are entries of a Redis stream read by a consumer group; each worker
 * host runs its tasks in a local mt_procpool, so a crashing task costs one
 * worker process, not the host. What is guaranteed:
 *  - At-least-once: a task is acknowledged only in the same atomic script
 *    that stores its result, so a worker killed at any point (kill -9, OOM,
 *    machine gone) loses no task; it runs again elsewhere. Tasks must
 *    therefore be idempotent. mt_rworker_attempt() tells a task which
 *    delivery it is (1 the first time).
 *  - A result is applied once: a worker whose claim was taken over (it was
 *    cut off, paused, too slow) has its late result dropped, so a future
 *    never completes twice and a result is never overwritten.
 *  - Dead workers: every worker refreshes a heartbeat key with a TTL
 *    (heartbeat_ttl). A task delivered to a worker whose heartbeat has
 *    expired, or not refreshed for visibility_timeout, is claimed by a live
 *    worker (XAUTOCLAIM). A worker keeps the claims of its running tasks
 *    alive, so a long task is not taken from a live worker.
 *  - Poison tasks: a task delivered max_deliveries times without completing
 *    (its process keeps dying, or its workers do) goes to the dead-letter
 *    stream "mt:{POOL}:dead" and its future fails with MT_EBROKEN.
 *  - Results expire result_ttl seconds after they are stored. A submitter
 *    whose task or result Redis no longer has (expired, or lost by a Redis
 *    without persistence) gets MT_ELOST on that future, not a hang: it checks
 *    its unfinished tasks whenever no result has arrived for check_interval.
 *  - Redis unreachable or restarting: calls fail within their timeouts and
 *    everything reconnects by itself; the pool's and the workers' threads
 *    keep retrying. With AOF `appendfsync always`, a restart loses nothing
 *    acknowledged: neither a submitted task nor a stored result.
 *  - Cancel: mt_future_cancel() on a remote future succeeds (0) only while
 *    the task has not been delivered to any worker — it is then removed from
 *    the stream atomically and will never run; once delivered it returns
 *    MT_ERUNNING, as in Python.
 *
 * Futures follow future.h: they complete exactly once, with the task's code
 * and an mt_buf_t * result (the caller frees it with free(); NULL when the
 * task handed back nothing or failed), MT_EBROKEN (dead-lettered), MT_ENOSYS
 * (no worker knows the task's name), MT_ELOST, or MT_ECLOSED (the pool was
 * freed before the result came).
 */
#ifndef MT_REMOTE_H
#define MT_REMOTE_H

#include <stdbool.h>
#include <stddef.h>

#include "mt/future.h"
#include "mt/proc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the queue ------------------------------------------------------------------ */
typedef struct mt_rqueue mt_rqueue_t;

/* Opens (creating on first use) the queue `name` on the Redis at `url`; at
 * most `maxitems` items at once (0: unbounded). All openers should pass the
 * same bound (each enforces its own on put). Connects once to check the URL:
 * NULL on failure with mt_last_error() — MT_EINVAL (bad URL or name),
 * MT_ENOMEM, or a connection error. Free with mt_rqueue_free(). */
mt_rqueue_t *mt_rqueue_open(const char *url, const char *name, size_t maxitems);
/* The wait bound for network I/O when a call has none of its own (default 5 s). */
void mt_rqueue_set_io_timeout(mt_rqueue_t *q, double seconds);
/* Copies the message in. 0, MT_EFULL (no room by the timeout), MT_ECLOSED,
 * MT_EMSGSIZE (over 512 MiB), or a connection error. */
int  mt_rqueue_put(mt_rqueue_t *q, const void *buf, size_t len, double timeout);
/* 0 with *buf (malloc'd, the caller frees; NULL for an empty message) and
 * *len; MT_EEMPTY (nothing by the timeout), MT_ECLOSED (closed and drained),
 * MT_ENOMEM, or a connection error (then nothing was taken). */
int  mt_rqueue_get(mt_rqueue_t *q, void **buf, size_t *len, double timeout);
/* Items waiting; a negative code if Redis cannot be asked. */
long mt_rqueue_size(mt_rqueue_t *q);
/* One put item is finished. 0, MT_EINVAL (more task_done than puts). */
int  mt_rqueue_task_done(mt_rqueue_t *q);
/* Waits until every item put has had its task_done. 0, MT_ETIMEDOUT. */
int  mt_rqueue_join(mt_rqueue_t *q, double timeout);
/* Closes the queue for everyone who uses it. 0 or a connection error. */
int  mt_rqueue_close(mt_rqueue_t *q);
/* Deletes the queue's keys from Redis (the queue starts afresh on next use). */
int  mt_rqueue_unlink(mt_rqueue_t *q);
/* Disconnects and frees this handle (the queue lives on in Redis). */
void mt_rqueue_free(mt_rqueue_t *q);

/* ---- the pool: submitters ----------------------------------------------------------- */
typedef struct mt_rpool mt_rpool_t;

typedef struct {
  double io_timeout;       /* network wait bound; 0: 5 s */
  double result_ttl;       /* how long workers keep this pool's results; 0: 3600 s */
  double check_interval;   /* with no result for this long, look for lost tasks; 0: 5 s */
} mt_rpool_opts_t;

/* Connects to the pool `pool` (any name of letters, digits, "-_.:") on the
 * Redis at url; opts may be NULL. Starts one thread that collects results.
 * NULL on failure with mt_last_error(). Free with mt_rpool_free(). */
mt_rpool_t  *mt_rpool_connect(const char *url, const char *pool, const mt_rpool_opts_t *opts);
/* Queues task `task` (a name some worker registered) with a copy of
 * in[0..inlen). Returns a future (the caller's reference), or NULL with
 * mt_last_error(): MT_ECLOSED after close, MT_EINVAL, MT_ENOMEM, or a
 * connection error (then the task was not queued, or — if the reply was lost
 * — queued but never reported: its future does not exist, the task may run
 * once and its result expires unseen). */
mt_future_t *mt_rpool_submit(mt_rpool_t *p, const char *task, const void *in, size_t inlen);
/* Submits n tasks, pipelined. out[i] receives each future (the caller
 * releases them). 0, or the first error (out[] holds the futures of the
 * tasks queued, NULL for the rest). */
int  mt_rpool_map(mt_rpool_t *p, const char *task, const void *const *ins, const size_t *inlens,
                  size_t n, mt_future_t **out);
/* The same as mt_future_cancel(f) for a future of this pool. */
int  mt_rpool_cancel(mt_rpool_t *p, mt_future_t *f);
/* Futures of this pool not finished yet. */
size_t mt_rpool_pending(mt_rpool_t *p);
/* No more submissions (MT_ECLOSED); results still arrive. */
int  mt_rpool_close(mt_rpool_t *p);
/* Stops collecting; unfinished futures fail with MT_ECLOSED (their tasks may
 * still run; their results expire unseen). Then frees. */
void mt_rpool_free(mt_rpool_t *p);

/* ---- the pool: workers -------------------------------------------------------------- */
typedef struct mt_rworker mt_rworker_t;

typedef struct {
  double io_timeout;          /* network wait bound; 0: 5 s */
  double visibility_timeout;  /* a claim not refreshed this long is taken over; 0: 30 s */
  double heartbeat_ttl;       /* a worker silent this long is dead; 0: 10 s */
  unsigned max_deliveries;    /* then dead-letter; 0: 5 */
  size_t prefetch;            /* tasks held per process (read in batches); 0: 64 */
  const char *name;           /* consumer name; NULL: "<host>-<pid>-<random>" */
} mt_rworker_opts_t;

/* A worker for `pool` on the Redis at url; opts may be NULL. NULL on failure
 * with mt_last_error(). Register the tasks, then mt_rworker_run(). */
mt_rworker_t *mt_rworker_new(const char *url, const char *pool, const mt_rworker_opts_t *opts);
/* Binds `task` to fn (before run; fn runs in a forked worker process, see
 * mt_procpool). 0, MT_EEXIST, MT_EINVAL, MT_EBUSY (running), MT_ENOMEM. */
int  mt_rworker_register(mt_rworker_t *w, const char *task, mt_ptask_fn fn);
/* Runs tasks in nprocs worker processes (0: one per CPU) until
 * mt_rworker_stop(). Returns 0 after a stop — the tasks in hand are
 * finished and acknowledged first (if Redis stays unreachable for
 * 2 x io_timeout meanwhile, they are left to be delivered again) — or an
 * error that kept it from starting (MT_EBUSY: already running; MT_EAGAIN:
 * fork...). Redis going away is not an error: it retries. */
int  mt_rworker_run(mt_rworker_t *w, size_t nprocs);
/* Makes run() return soon. Async-signal-safe: may be called from a signal
 * handler or another thread. */
void mt_rworker_stop(mt_rworker_t *w);
/* Frees a worker that is not running. */
void mt_rworker_free(mt_rworker_t *w);
/* Inside a task: which delivery of it this is (1, 2, ...); 0 outside one. */
unsigned mt_rworker_attempt(void);

#ifdef __cplusplus
}
#endif
#endif
