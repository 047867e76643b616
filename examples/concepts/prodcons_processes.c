/* prodcons_processes.c — producer/consumer, way 2 of 3: a producer process
 * and the consumer in the parent, through the cross-process mt_pqueue (bytes
 * are copied across), an empty message as the sentinel.
 * Python: multiprocessing.Process + multiprocessing.Queue(3), None as the
 * sentinel. Same output as prodcons_threads.c. */
#include <stdio.h>
#include <stdlib.h>

#include "mt.h"

#define N 10

static int producer(void *arg) {
  mt_pqueue_t *q = arg;
  for (long i = 1; i <= N; i++)
    if (mt_pqueue_put(q, &i, sizeof i, MT_FOREVER)) return 1;
  return mt_pqueue_put(q, "", 0, MT_FOREVER) ? 1 : 0;         /* the sentinel */
}

int main(void) {
  mt_pqueue_t *q = mt_pqueue_new(3, 4096);
  mt_proc_t *p;
  if (!q || mt_proc_start(&p, producer, q, &(mt_proc_opts_t){ .name = "producer" })) return 1;
  long got[N], sum = 0;
  int ngot = 0;
  for (;;) {
    void *buf;
    size_t len;
    if (mt_pqueue_get(q, &buf, &len, 10) || len == 0) break;   /* error, or the sentinel */
    if (ngot < N) got[ngot++] = *(long *)buf;
    free(buf);
  }
  mt_proc_join(p, MT_FOREVER);
  int code = mt_proc_exitcode(p);
  mt_proc_free(p);
  printf("consumed:");
  for (int i = 0; i < ngot; i++) printf(" %ld", got[i]), sum += got[i];
  printf("\nprocesses + mt_pqueue: %d items, sum %ld, then the sentinel\n", ngot, sum);
  mt_pqueue_free(q);
  return ngot == N && code == 0 ? 0 : 1;
}
// expect: ^consumed: 1 2 3 4 5 6 7 8 9 10$
// expect: ^processes \+ mt_pqueue: 10 items, sum 55, then the sentinel$
