/* joinable_queue.c — JoinableQueue: the producer waits in join() until the
 * consumers have called task_done() for every item, without sentinels; the
 * consumers are daemonic and die when the producer's work is done.
 * Python: q = JoinableQueue(); consumer: q.get(); ...; q.task_done();
 * producer: q.put(x) ...; q.join(). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "mt.h"

#define ITEMS 12

static mt_pqueue_t *q;
static atomic_long *done_sum;                 /* in shared memory */

static int consumer(void *arg) {
  for (;;) {
    void *buf;
    size_t len;
    if (mt_pqueue_get(q, &buf, &len, MT_FOREVER)) return 1;
    atomic_fetch_add(done_sum, *(long *)buf);
    free(buf);
    mt_pqueue_task_done(q);
  }
}

int main(void) {
  q = mt_pqueue_new(0, 4096);
  done_sum = mt_shm_alloc(sizeof *done_sum);
  if (!q || !done_sum) return 1;
  mt_proc_t *c[2];
  for (int i = 0; i < 2; i++)
    if (mt_proc_start(&c[i], consumer, NULL, &(mt_proc_opts_t){ .daemon = true })) return 1;
  for (long i = 1; i <= ITEMS; i++) mt_pqueue_put(q, &i, sizeof i, MT_FOREVER);
  int r = mt_pqueue_join(q, 10);              /* every item processed, not just taken */
  printf("join returned %s; processed sum %ld (expected 78)\n", r ? mt_strerror(r) : "ok", atomic_load(done_sum));
  int ok = r == 0 && atomic_load(done_sum) == 78;
  for (int i = 0; i < 2; i++) mt_proc_free(c[i]);   /* daemonic: terminated at exit */
  mt_shm_free(done_sum, sizeof *done_sum);
  mt_pqueue_free(q);
  return ok ? 0 : 1;
}
// expect: ^join returned ok; processed sum 78 \(expected 78\)$
