/* queues.c — FIFO, LIFO and priority queues, with the notes' priority
 * example: lower numbers first, so (1, 'SVIP') is served before
 * (10, 'VIP') and (100, 'normal'). Also put_nowait on a full queue and
 * get with a timeout on an empty one.
 * Python: queue.Queue, queue.LifoQueue, queue.PriorityQueue. */
#include <stdio.h>

#include "mt.h"

static void drain(const char *title, mt_queue_t *q) {
  void *item;
  long prio;
  printf("%s:", title);
  while (mt_queue_get_prio(q, &item, &prio, 0) == 0) printf(" %s", (const char *)item);
  printf("\n");
}

int main(void) {
  const char *words[] = { "first", "second", "third" };
  mt_queue_t *fifo = mt_queue_new(MT_FIFO, 3), *lifo = mt_queue_new(MT_LIFO, 0), *pq = mt_queue_new(MT_PRIORITY, 0);
  if (!fifo || !lifo || !pq) return 1;
  for (int i = 0; i < 3; i++) {
    mt_queue_put(fifo, (void *)words[i], 0);
    mt_queue_put(lifo, (void *)words[i], 0);
  }
  int full = mt_queue_put(fifo, "fourth", 0);               /* put_nowait */
  printf("put_nowait on a full Queue(3): %s\n", mt_strerror(full));
  drain("FIFO", fifo);
  drain("LIFO", lifo);
  mt_queue_put_prio(pq, 10, "(10,'VIP')", 0);
  mt_queue_put_prio(pq, 100, "(100,'normal')", 0);
  mt_queue_put_prio(pq, 1, "(1,'SVIP')", 0);
  mt_queue_put_prio(pq, 10, "(10,'VIP2')", 0);              /* FIFO among equals */
  drain("priority", pq);
  void *item;
  int r = mt_queue_get(fifo, &item, 0.05);
  printf("get(timeout=0.05) on an empty queue: %s\n", mt_strerror(r));
  mt_queue_free(fifo);
  mt_queue_free(lifo);
  mt_queue_free(pq);
  return full == MT_EFULL && r == MT_EEMPTY ? 0 : 1;
}
// expect: ^put_nowait on a full Queue\(3\): queue is full$
// expect: ^FIFO: first second third$
// expect: ^LIFO: third second first$
// expect: ^priority: \(1,'SVIP'\) \(10,'VIP'\) \(10,'VIP2'\) \(100,'normal'\)$
// expect: ^get\(timeout=0\.05\) on an empty queue: queue is empty$
