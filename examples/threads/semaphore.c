/* semaphore.c — a Semaphore lets at most 3 of 8 threads into a section at
 * once (the notes' "KTV room for 3"); a BoundedSemaphore refuses a release
 * past its initial value.
 * Python: threading.Semaphore(3), threading.BoundedSemaphore(1). */
#include <stdatomic.h>
#include <stdio.h>

#include "mt.h"

static mt_sem_t room;
static atomic_int inside, most;

static void *guest(void *arg) {
  MT_WITH(&room) {
    int n = atomic_fetch_add(&inside, 1) + 1;
    int m = atomic_load(&most);
    while (n > m && !atomic_compare_exchange_weak(&most, &m, n)) {
    }
    mt_sleep(0.02);
    atomic_fetch_sub(&inside, 1);
  }
  return arg;
}

int main(void) {
  mt_sem_init(&room, 3, 0, 0);
  mt_thread_t *t[8];
  for (int i = 0; i < 8; i++)
    if (mt_thread_start(&t[i], guest, NULL, NULL)) return 1;
  for (int i = 0; i < 8; i++) {
    mt_thread_join(t[i], MT_FOREVER, NULL);
    mt_thread_free(t[i]);
  }
  printf("8 threads, Semaphore(3): at most %d inside at once\n", atomic_load(&most));
  mt_sem_t bounded;
  mt_sem_init(&bounded, 1, 1, 0);
  mt_sem_acquire(&bounded, MT_FOREVER);
  int r1 = mt_sem_release(&bounded), r2 = mt_sem_release(&bounded);
  printf("BoundedSemaphore(1): release %s, release again: %s\n", r1 ? mt_strerror(r1) : "ok", mt_strerror(r2));
  mt_sem_destroy(&bounded);
  mt_sem_destroy(&room);
  return most <= 3 && r2 == MT_EOVERRELEASE ? 0 : 1;
}
// expect: ^8 threads, Semaphore\(3\): at most [123] inside at once$
// expect: ^BoundedSemaphore\(1\): release ok, release again: released more times than acquired$
