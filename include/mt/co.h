/* co.h — coroutines, in the style of gevent and asyncio.
 *
 * mt_co_main(fn, arg) runs a scheduler on the calling thread until every
 * coroutine spawned on it has finished. Coroutines are scheduled
 * cooperatively, round-robin: one runs until it yields, sleeps, finishes, or
 * blocks in any libmt call — a Lock, Event, Condition, Semaphore, Barrier,
 * queue, future, mt_sleep — which parks the coroutine, not the thread. A
 * wake-up from another thread reaches the scheduler through an eventfd, so
 * a coroutine can wait on a thread-pool future, and one mt_queue can carry
 * work between plain threads and coroutines.
 *
 * Each coroutine runs on its own stack from mmap, with a guard page below
 * it: an overflow kills the process with a message naming the coroutine.
 * Stacks are recycled through a per-thread cache. A coroutine spawned with
 * shared_stack instead runs on one stack per scheduler, and only its live
 * frames are kept aside while it is parked (as greenlet does): the choice
 * for servers holding very many mostly idle sessions. Pointers into a
 * shared-stack coroutine's stack are valid only while it runs.
 *
 * Cancellation: mt_co_cancel(co) makes the target's pending blocking call —
 * or its next one — return MT_ECANCELED. It is one-shot: the call after
 * that blocks normally, so clean-up code can still take locks.
 */
#ifndef MT_CO_H
#define MT_CO_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_co mt_co_t;

typedef struct {
  const char *name;      /* NULL: "co-N"; copied */
  size_t stack_size;     /* 0: 64 KiB; rounded up to pages */
  bool shared_stack;     /* run on the scheduler's shared 256 KiB stack: a parked
                            coroutine costs only its live frames, switches cost
                            copies (x86_64; elsewhere MT_ENOSYS) */
} mt_co_opts_t;

/* Runs fn(arg) as the first coroutine of a new scheduler on this thread and
 * returns when every coroutine on it has finished: 0, MT_EBUSY (this thread
 * already runs a scheduler), MT_ENOMEM. */
int mt_co_main(void *(*fn)(void *), void *arg);

/* Spawns a coroutine on the current thread's scheduler; it first runs when
 * the spawner yields or blocks. The handle is the caller's: join or detach
 * it. NULL on failure (mt_last_error(): MT_EPERM outside a scheduler,
 * MT_ENOMEM, MT_ENOSYS). */
mt_co_t *mt_co_spawn(void *(*fn)(void *), void *arg);
mt_co_t *mt_co_spawn_opts(void *(*fn)(void *), void *arg, const mt_co_opts_t *opts);

/* Waits up to `timeout` for co to finish, stores its return value, and
 * reclaims the handle (on success only). 0, MT_ETIMEDOUT, MT_ECANCELED,
 * MT_EDEADLK (joining itself). May be called from a plain thread too. */
int mt_co_join(mt_co_t *co, double timeout, void **result);
/* Joins them all with one deadline: 0, or the first error (those joined
 * before it are reclaimed). */
int mt_co_joinall(mt_co_t **cos, size_t n, double timeout);
/* Gives the handle up: the coroutine is reclaimed when it finishes. */
void mt_co_detach(mt_co_t *co);
/* Lets the other ready coroutines run; in a plain thread, sched_yield(). */
void mt_co_yield(void);
/* Cancels co's pending or next blocking call (see above). 0, or MT_EINVAL
 * if it has finished. */
int mt_co_cancel(mt_co_t *co);
/* The running coroutine, or NULL in a plain thread. */
mt_co_t *mt_co_current(void);
const char *mt_co_name(const mt_co_t *co);

#ifdef __cplusplus
}
#endif
#endif
