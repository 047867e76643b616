/* shared_counter.c — a counter in shared memory, incremented by 4 processes:
 * without a lock, updates are lost (the read and the write-back of two
 * processes interleave); with a process-shared lock none are.
 * Python: Value('i', 0, lock=False) raced, then with v.get_lock().
 * How many are lost depends on how much the processes overlap: on a busy
 * machine they may run one after another and lose none; the locked count
 * is exact every time. */
#include <stdatomic.h>
#include <stdio.h>

#include "mt.h"

#define PROCS 4
#define RACY_ADDS 2000000   /* many: the processes must overlap for updates to be lost */
#define LOCKED_ADDS 200000

typedef struct {
  atomic_long racy;                           /* read and written in two steps */
  mt_lock_t lock;
  long safe;
  mt_barrier_t start;
} shared_t;

static shared_t *sh;

static int racer(void *arg) {
  mt_barrier_wait(&sh->start, 10);
  for (int i = 0; i < RACY_ADDS; i++) {
    long v = atomic_load_explicit(&sh->racy, memory_order_relaxed);
    atomic_store_explicit(&sh->racy, v + 1, memory_order_relaxed);
  }
  return 0;
}

static int locked(void *arg) {
  mt_barrier_wait(&sh->start, 10);
  for (int i = 0; i < LOCKED_ADDS; i++) MT_WITH(&sh->lock) sh->safe++;
  return 0;
}

static void run(int (*fn)(void *)) {
  mt_proc_t *p[PROCS];
  mt_barrier_init(&sh->start, PROCS, MT_SHARED);
  for (int i = 0; i < PROCS; i++) mt_proc_start(&p[i], fn, NULL, NULL);
  for (int i = 0; i < PROCS; i++) {
    mt_proc_join(p[i], 30);
    mt_proc_free(p[i]);
  }
  mt_barrier_destroy(&sh->start);
}

int main(void) {
  sh = mt_shm_alloc(sizeof *sh);
  if (!sh || mt_lock_init(&sh->lock, MT_SHARED)) return 1;
  run(racer);
  long r = atomic_load(&sh->racy);
  printf("without a lock: %ld of %d (%ld lost)\n", r, PROCS * RACY_ADDS, PROCS * RACY_ADDS - r);
  run(locked);
  printf("with a lock:    %ld of %d\n", sh->safe, PROCS * LOCKED_ADDS);
  int ok = sh->safe == PROCS * LOCKED_ADDS;
  mt_lock_destroy(&sh->lock);
  mt_shm_free(sh, sizeof *sh);
  return ok ? 0 : 1;
}
// expect: ^without a lock: [0-9]+ of 8000000 \([0-9]+ lost\)$
// expect: ^with a lock:    800000 of 800000$
