/* queue_sentinel.c — one producer, two consumer processes, one cross-
 * process queue; the producer ends with one sentinel per consumer (an empty
 * message), as the notes end theirs with None.
 * Python: q = multiprocessing.Queue(); q.put(None) once per consumer. */
#include <stdio.h>
#include <stdlib.h>

#include "mt.h"

#define ITEMS 20

typedef struct { long sum, count; } tally_t;

static mt_pqueue_t *q;
static tally_t *tally;                        /* one per consumer, in shared memory */

static int consumer(void *arg) {
  tally_t *t = &tally[(long)arg];
  for (;;) {
    void *buf;
    size_t len;
    if (mt_pqueue_get(q, &buf, &len, 10)) return 1;
    if (len == 0) return 0;                   /* the sentinel */
    t->sum += *(long *)buf;
    t->count++;
    free(buf);
  }
}

int main(void) {
  q = mt_pqueue_new(4, 4096);
  tally = mt_shm_alloc(2 * sizeof *tally);
  if (!q || !tally) return 1;
  mt_proc_t *c[2];
  for (long i = 0; i < 2; i++)
    if (mt_proc_start(&c[i], consumer, (void *)i, NULL)) return 1;
  for (long i = 1; i <= ITEMS; i++) mt_pqueue_put(q, &i, sizeof i, MT_FOREVER);
  for (int i = 0; i < 2; i++) mt_pqueue_put(q, "", 0, MT_FOREVER);   /* one sentinel each */
  int ok = 1;
  for (int i = 0; i < 2; i++) {
    mt_proc_join(c[i], 10);
    ok &= mt_proc_exitcode(c[i]) == 0;
    mt_proc_free(c[i]);
  }
  printf("two consumers took %ld + %ld items, sum %ld; both stopped at their sentinel\n", tally[0].count,
         tally[1].count, tally[0].sum + tally[1].sum);
  ok &= tally[0].count + tally[1].count == ITEMS;
  mt_shm_free(tally, 2 * sizeof *tally);
  mt_pqueue_free(q);
  return ok ? 0 : 1;
}
// expect: ^two consumers took [0-9]+ \+ [0-9]+ items, sum 210; both stopped at their sentinel$
