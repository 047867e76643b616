/* future.h — futures, as in concurrent.futures.
 *
 * A future moves pending -> running -> done, or pending -> cancelled. It is
 * reference-counted: whoever receives one (mt_pool_submit...) owns one
 * reference and drops it with mt_future_release(), from any thread, in any
 * order with respect to the work finishing.
 *
 * The async contract: if submission fails, nothing ever fires for it; once
 * it succeeds, the future completes exactly once — done with the task's code
 * and result, or cancelled (MT_ECANCELED) — and each done-callback runs
 * exactly once.
 */
#ifndef MT_FUTURE_H
#define MT_FUTURE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_future mt_future_t;

/* A task returns 0 or an error code (negative, or any value the caller
 * chooses), and may hand back a result through *result. */
typedef int (*mt_task_fn)(void *arg, void **result);

/* Waits until the future is done or cancelled: 0, MT_ETIMEDOUT, MT_ECANCELED
 * (the caller is a cancelled coroutine). */
int  mt_future_wait(mt_future_t *f, double timeout);
/* Waits, then returns the task's code and stores its result (if result is
 * not NULL). A cancelled future gives MT_ECANCELED; MT_ETIMEDOUT if not
 * done in time. */
int  mt_future_result(mt_future_t *f, double timeout, void **result);
bool mt_future_done(const mt_future_t *f);        /* done or cancelled */
bool mt_future_cancelled(const mt_future_t *f);
bool mt_future_running(const mt_future_t *f);
/* Cancels a pending future: returns 0 (also if already cancelled),
 * MT_ERUNNING if it is running, MT_EBUSY if it already finished. */
int  mt_future_cancel(mt_future_t *f);
/* Calls cb(f, ud) exactly once when f finishes — at once, in the caller, if
 * it already has; otherwise in the thread that finishes it. Returns 0, or
 * MT_ENOMEM (then cb is never called). */
int  mt_future_add_done_callback(mt_future_t *f, void (*cb)(mt_future_t *f, void *ud), void *ud);
void mt_future_release(mt_future_t *f);
/* Takes another reference (for handing the future to another owner). */
mt_future_t *mt_future_retain(mt_future_t *f);

typedef enum { MT_ALL_COMPLETED, MT_FIRST_COMPLETED, MT_FIRST_EXCEPTION } mt_wait_mode_t;
/* Waits until the mode's condition holds for fs[0..n): returns how many of
 * them are done (>= 0) when it holds, MT_ETIMEDOUT otherwise, or MT_ENOMEM.
 * MT_FIRST_EXCEPTION completes at the first future whose code is non-zero
 * (or cancelled), else when all are done. */
int  mt_wait(mt_future_t **fs, size_t n, mt_wait_mode_t mode, double timeout);

/* Yields the futures as they finish. The iterator holds its own references;
 * the futures returned by next() are borrowed (valid while the caller holds
 * its own reference). */
typedef struct mt_as_completed mt_as_completed_t;
mt_as_completed_t *mt_as_completed_new(mt_future_t **fs, size_t n);   /* NULL: mt_last_error() */
/* The next finished future, or NULL: all yielded (mt_last_error() 0), or the
 * timeout passed (MT_ETIMEDOUT). */
mt_future_t *mt_as_completed_next(mt_as_completed_t *it, double timeout);
void mt_as_completed_free(mt_as_completed_t *it);

#ifdef __cplusplus
}
#endif
#endif
