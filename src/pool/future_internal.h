/* future_internal.h — how executors (thread pool, process pool, coroutines)
 * drive a future, and how mt_wait/as_completed watch one. */
#ifndef MT_FUTURE_INTERNAL_H
#define MT_FUTURE_INTERNAL_H

#include <stdint.h>

#include "mt/future.h"

typedef struct mt__fwatch {
  struct mt__fwatch *next;
  void (*fn)(mt_future_t *f, void *ud);   /* runs under the future's lock: short, no blocking */
  void *ud;
  bool cb;                                /* future.c's own: a done-callback node (set it false) */
} mt__fwatch_t;

/* A pending future holding `refs` references, or NULL (MT_ENOMEM). Carved
 * from the calling thread's chunk of futures (see future.c). */
mt_future_t *mt__future_new(unsigned refs);
/* Gives back the calling thread's partly used chunk of futures (thread exit
 * does it too): afterwards libmt holds no future memory for this thread
 * beyond futures still referenced. mt_pool_free calls it. */
void mt__future_cache_flush(void);
/* pending -> running; false if it was cancelled first (then skip the work). */
bool mt__future_start(mt_future_t *f);
/* running/pending -> done with the task's code and result; false if already finished. */
bool mt__future_finish(mt_future_t *f, int code, void *result);
/* pending -> cancelled; false if not pending. */
bool mt__future_cancel(mt_future_t *f);
/* Adds a watcher; false (not added) if f has already finished. */
bool mt__future_watch(mt_future_t *f, mt__fwatch_t *w);
/* Removes it if still there; afterwards its fn is not running and never will. */
void mt__future_unwatch(mt_future_t *f, mt__fwatch_t *w);
int  mt__future_code(const mt_future_t *f);
/* For an executor that must agree to a cancel (the remote pool): while f is
 * pending, mt_future_cancel(f) first calls fn(f, ud, tag) outside any lock;
 * 0 lets the cancel go on, any other value is returned to the caller. Set it
 * before f is shared; fn must cope with f finishing meanwhile. (Without
 * memory for the hook, none is set: the cancel is then decided locally.) */
void mt__future_set_cancel_hook(mt_future_t *f, int (*fn)(mt_future_t *f, void *ud, uint64_t tag),
                                void *ud, uint64_t tag);
/* For an executor that must agree to a cancel (the remote pool): while f is
 * pending, mt_future_cancel(f) first calls fn(f, ud, tag) outside any lock;
 * 0 lets the cancel go on, any other value is returned to the caller. Set it
 * before f is shared; fn must cope with f finishing meanwhile. */
void mt__future_set_cancel_hook(mt_future_t *f, int (*fn)(mt_future_t *f, void *ud, uint64_t tag),
                                void *ud, uint64_t tag);

#endif
