/* barrier.c — a Barrier of 3: nobody passes until all three have arrived;
 * each gets a distinct index, and the barrier is ready for the next round.
 * Python: threading.Barrier(3); b.wait() returns the index. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "mt.h"

static mt_barrier_t b;
static atomic_int arrived, passed_early;

static void *runner(void *arg) {
  for (int round = 0; round < 2; round++) {
    atomic_fetch_add(&arrived, 1);
    int idx = mt_barrier_wait(&b, 5);
    if (idx < 0) return (void *)1;
    if (atomic_load(&arrived) < 3 * (round + 1)) atomic_fetch_add(&passed_early, 1);
  }
  return NULL;
}

int main(void) {
  mt_barrier_init(&b, 3, 0);
  mt_thread_t *t[3];
  for (int i = 0; i < 3; i++)
    if (mt_thread_start(&t[i], runner, NULL, NULL)) return 1;
  int bad = 0;
  for (int i = 0; i < 3; i++) {
    void *r;
    mt_thread_join(t[i], MT_FOREVER, &r);
    bad += r != NULL;
    mt_thread_free(t[i]);
  }
  printf("2 rounds of 3 threads: nobody passed before all had arrived: %s\n",
         !bad && atomic_load(&passed_early) == 0 ? "True" : "False");
  int r = mt_barrier_wait(&b, 0.05);          /* alone: times out and breaks it */
  printf("waiting alone with a timeout: %s; broken: %s\n", mt_strerror(r), mt_barrier_broken(&b) ? "True" : "False");
  mt_barrier_reset(&b);
  printf("after reset: broken: %s\n", mt_barrier_broken(&b) ? "True" : "False");
  mt_barrier_destroy(&b);
  return bad;
}
// expect: ^2 rounds of 3 threads: nobody passed before all had arrived: True$
// expect: ^waiting alone with a timeout: broken .*; broken: True$
// expect: ^after reset: broken: False$
