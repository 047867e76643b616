/* semaphore.c — a process-shared Semaphore lets at most 2 of 5 worker
 * processes into the section at once (the notes' KTV with processes); the
 * highest count seen inside is kept in shared memory.
 * Python: multiprocessing.Semaphore(2) passed to each Process. */
#include <stdio.h>

#include "mt.h"

typedef struct { mt_sem_t sem; mt_lock_t lock; int inside, most; } shared_t;
static shared_t *sh;

static int worker(void *arg) {
  if (mt_sem_acquire(&sh->sem, 10)) return 1;
  MT_WITH(&sh->lock) if (++sh->inside > sh->most) sh->most = sh->inside;
  mt_sleep(0.03);
  MT_WITH(&sh->lock) sh->inside--;
  mt_sem_release(&sh->sem);
  return 0;
}

int main(void) {
  sh = mt_shm_alloc(sizeof *sh);
  if (!sh || mt_sem_init(&sh->sem, 2, 0, MT_SHARED) || mt_lock_init(&sh->lock, MT_SHARED)) return 1;
  mt_proc_t *p[5];
  double t0 = mt_now();
  for (int i = 0; i < 5; i++)
    if (mt_proc_start(&p[i], worker, NULL, NULL)) return 1;
  int ok = 1;
  for (int i = 0; i < 5; i++) {
    mt_proc_join(p[i], 10);
    ok &= mt_proc_exitcode(p[i]) == 0;
    mt_proc_free(p[i]);
  }
  printf("5 processes, Semaphore(2): at most %d inside at once, %.2f s in all\n", sh->most, mt_now() - t0);
  ok &= sh->most <= 2;
  mt_sem_destroy(&sh->sem);
  mt_lock_destroy(&sh->lock);
  mt_shm_free(sh, sizeof *sh);
  return ok ? 0 : 1;
}
// expect: ^5 processes, Semaphore\(2\): at most [12] inside at once, [0-9.]+ s in all$
