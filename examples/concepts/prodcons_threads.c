/* prodcons_threads.c — producer/consumer, way 1 of 3: two threads and a
 * bounded mt_queue, the producer ending the stream with a sentinel.
 * Python: threading.Thread + queue.Queue(3), with None as the sentinel.
 * prodcons_processes.c and prodcons_coroutines.c print the same lines. */
#include <stdint.h>
#include <stdio.h>

#include "mt.h"

#define N 10

static mt_queue_t *q;
static long got[N];
static int ngot;

static void *producer(void *arg) {
  for (intptr_t i = 1; i <= N; i++) mt_queue_put(q, (void *)i, MT_FOREVER);   /* blocks while 3 wait */
  mt_queue_put(q, NULL, MT_FOREVER);                                           /* the sentinel */
  return arg;
}

static void *consumer(void *arg) {
  void *item;
  while (mt_queue_get(q, &item, MT_FOREVER) == 0 && item) got[ngot++] = (long)(intptr_t)item;
  return arg;
}

int main(void) {
  q = mt_queue_new(MT_FIFO, 3);
  mt_thread_t *p, *c;
  if (!q || mt_thread_start(&p, producer, NULL, NULL) || mt_thread_start(&c, consumer, NULL, NULL)) return 1;
  mt_thread_join(p, MT_FOREVER, NULL);
  mt_thread_join(c, MT_FOREVER, NULL);
  mt_thread_free(p);
  mt_thread_free(c);
  long sum = 0;
  printf("consumed:");
  for (int i = 0; i < ngot; i++) printf(" %ld", got[i]), sum += got[i];
  printf("\nthreads + mt_queue: %d items, sum %ld, then the sentinel\n", ngot, sum);
  mt_queue_free(q);
  return ngot == N ? 0 : 1;
}
// expect: ^consumed: 1 2 3 4 5 6 7 8 9 10$
// expect: ^threads \+ mt_queue: 10 items, sum 55, then the sentinel$
