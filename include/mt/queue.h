/* queue.h — FIFO, LIFO and priority queues, as Python's `queue` module.
 *
 * Items are pointers the queue never owns. A queue is bounded (maxsize > 0)
 * or unbounded (0). Every put/get takes a timeout: 0 is Python's
 * put_nowait/get_nowait. task_done/join work as in queue.Queue (and
 * multiprocessing.JoinableQueue). A queue can be closed: later puts fail
 * with MT_ECLOSED; gets drain what is left, then fail with MT_ECLOSED at
 * once; every put or get blocked at the time of the close wakes. Called from
 * a coroutine, blocking calls park the coroutine, so one queue can carry work
 * between plain threads and coroutines.
 */
#ifndef MT_QUEUE_H
#define MT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { MT_FIFO, MT_LIFO, MT_PRIORITY } mt_queue_kind_t;
typedef struct mt_queue mt_queue_t;

/* Returns a new queue, or NULL (mt_last_error(): MT_ENOMEM, MT_EINVAL).
 * The caller frees it with mt_queue_free(). */
mt_queue_t *mt_queue_new(mt_queue_kind_t kind, size_t maxsize);

/* Returns 0, MT_EFULL (bounded and still full when the timeout passed; at
 * once with timeout 0), MT_ECLOSED, MT_ENOMEM (unbounded growth failed),
 * MT_ECANCELED. For a priority queue, put() uses priority 0. */
int mt_queue_put(mt_queue_t *q, void *item, double timeout);
/* Priority queues: lowest prio first, FIFO among equal priorities. On FIFO
 * and LIFO queues prio is ignored. */
int mt_queue_put_prio(mt_queue_t *q, long prio, void *item, double timeout);

/* Returns 0 with *item set, MT_EEMPTY (still empty when the timeout passed),
 * MT_ECLOSED (closed and drained), MT_ECANCELED. */
int mt_queue_get(mt_queue_t *q, void **item, double timeout);
/* As mt_queue_get, also returning the item's priority (NULL allowed). */
int mt_queue_get_prio(mt_queue_t *q, void **item, long *prio, double timeout);

size_t mt_queue_size(mt_queue_t *q);
bool   mt_queue_empty(mt_queue_t *q);
bool   mt_queue_full(mt_queue_t *q);
bool   mt_queue_closed(mt_queue_t *q);

/* One put item is fully processed. Returns 0, or MT_EINVAL when called more
 * times than items were put (Python's ValueError). */
int  mt_queue_task_done(mt_queue_t *q);
/* Waits until every item put has been marked task_done. Returns 0 or
 * MT_ETIMEDOUT. Closing the queue does not end a join: it still waits for
 * the items already put to be processed. */
int  mt_queue_join(mt_queue_t *q, double timeout);

/* Python 3.13's Queue.shutdown(): puts fail with MT_ECLOSED from now on, and
 * every put or get blocked now wakes.
 *   immediate false: the same as mt_queue_close — gets drain what is left.
 *   immediate true: the items still queued are removed at once and each is
 *     passed to drop(item, ud) (NULL: just forgotten; the queue never owns
 *     items, so drop is where the caller frees them), after the queue's lock
 *     is released; each counts as task_done, so join() returns once the
 *     items already taken are done (at once if there are none); every get
 *     fails with MT_ECLOSED. A put racing with the shutdown may still land
 *     and be got.
 * Returns the number of items dropped. */
size_t mt_queue_shutdown(mt_queue_t *q, bool immediate, void (*drop)(void *item, void *ud), void *ud);
void mt_queue_close(mt_queue_t *q);
/* Frees the queue (not its items). No call may be in progress on it. */
void mt_queue_free(mt_queue_t *q);

#ifdef __cplusplus
}
#endif
#endif
