/* condition.c — a Condition guarding a small buffer: producers wait while
 * it is full, consumers while it is empty, each notifying the other side.
 * Python: threading.Condition(lock), cond.wait_for(pred), cond.notify(). */
#include <stdbool.h>
#include <stdio.h>

#include "mt.h"

#define CAP 2
#define ITEMS 20

static mt_lock_t lock = MT_LOCK_INIT;
static mt_cond_t cond;
static int buf[CAP], count, head, consumed_sum;

static bool not_full(void *arg) { return count < CAP; }
static bool not_empty(void *arg) { return count > 0; }

static void *producer(void *arg) {
  for (int i = 1; i <= ITEMS; i++) {
    mt_cond_acquire(&cond, MT_FOREVER);
    mt_cond_wait_for(&cond, not_full, NULL, MT_FOREVER);
    buf[(head + count++) % CAP] = i;
    mt_cond_notify_all(&cond);
    mt_cond_release(&cond);
  }
  return arg;
}

static void *consumer(void *arg) {
  for (int i = 0; i < ITEMS; i++) {
    mt_cond_acquire(&cond, MT_FOREVER);
    mt_cond_wait_for(&cond, not_empty, NULL, MT_FOREVER);
    consumed_sum += buf[head];
    head = (head + 1) % CAP;
    count--;
    mt_cond_notify_all(&cond);
    mt_cond_release(&cond);
  }
  return arg;
}

int main(void) {
  mt_cond_init(&cond, &lock);
  mt_thread_t *p, *c;
  if (mt_thread_start(&p, producer, NULL, NULL) || mt_thread_start(&c, consumer, NULL, NULL)) return 1;
  mt_thread_join(p, MT_FOREVER, NULL);
  mt_thread_join(c, MT_FOREVER, NULL);
  mt_thread_free(p);
  mt_thread_free(c);
  printf("through a buffer of %d under a Condition: %d items, sum %d\n", CAP, ITEMS, consumed_sum);
  mt_cond_destroy(&cond);
  return consumed_sum == ITEMS * (ITEMS + 1) / 2 ? 0 : 1;
}
// expect: ^through a buffer of 2 under a Condition: 20 items, sum 210$
