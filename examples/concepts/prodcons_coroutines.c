/* prodcons_coroutines.c — producer/consumer, way 3 of 3: two coroutines on
 * one thread and the same bounded mt_queue as the threads use — a full or
 * empty queue parks the coroutine and the scheduler runs the other.
 * Python: gevent.spawn + gevent.queue.Queue(3) (or asyncio.Queue(3)).
 * Same output as prodcons_threads.c. */
#include <stdint.h>
#include <stdio.h>

#include "mt.h"

#define N 10

static mt_queue_t *q;
static long got[N];
static int ngot;

static void *producer(void *arg) {
  for (intptr_t i = 1; i <= N; i++) mt_queue_put(q, (void *)i, MT_FOREVER);
  mt_queue_put(q, NULL, MT_FOREVER);
  return arg;
}

static void *consumer(void *arg) {
  void *item;
  while (mt_queue_get(q, &item, MT_FOREVER) == 0 && item) got[ngot++] = (long)(intptr_t)item;
  return arg;
}

static void *main_co(void *arg) {
  mt_co_t *co[2] = { mt_co_spawn(producer, NULL), mt_co_spawn(consumer, NULL) };
  if (!co[0] || !co[1]) return arg;
  mt_co_joinall(co, 2, MT_FOREVER);
  return arg;
}

int main(void) {
  q = mt_queue_new(MT_FIFO, 3);
  if (!q || mt_co_main(main_co, NULL)) return 1;
  long sum = 0;
  printf("consumed:");
  for (int i = 0; i < ngot; i++) printf(" %ld", got[i]), sum += got[i];
  printf("\ncoroutines + mt_queue: %d items, sum %ld, then the sentinel\n", ngot, sum);
  mt_queue_free(q);
  return ngot == N ? 0 : 1;
}
// expect: ^consumed: 1 2 3 4 5 6 7 8 9 10$
// expect: ^coroutines \+ mt_queue: 10 items, sum 55, then the sentinel$
