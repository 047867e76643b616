/* race.c — the counter race and its lock. Four threads add 1 to a shared
 * counter 200000 times each. Unlocked, "read, add, write back" from two
 * threads interleaves and updates are lost; under a Lock none are.
 * Python: the same `n += 1` in threads (the GIL does not make it atomic),
 * fixed with `with lock: n += 1`.
 * The unlocked version reads and writes with two separate relaxed atomic
 * operations: exactly the lost-update pattern, without C's undefined
 * behaviour of a plain data race (so ThreadSanitizer stays quiet). */
#include <stdatomic.h>
#include <stdio.h>

#include "mt.h"

#define THREADS 4
#define ADDS 200000

static atomic_long counter;
static long locked_counter;
static mt_lock_t lock = MT_LOCK_INIT;
static mt_barrier_t start;

static void *unlocked(void *arg) {
  mt_barrier_wait(&start, MT_FOREVER);        /* all together, to make the race likely */
  for (int i = 0; i < ADDS; i++) {
    long v = atomic_load_explicit(&counter, memory_order_relaxed);   /* read */
    atomic_store_explicit(&counter, v + 1, memory_order_relaxed);    /* write back */
  }
  return arg;
}

static void *locked(void *arg) {
  mt_barrier_wait(&start, MT_FOREVER);
  for (int i = 0; i < ADDS; i++) MT_WITH(&lock) locked_counter++;
  return arg;
}

static void run(void *(*fn)(void *)) {
  mt_thread_t *t[THREADS];
  mt_barrier_init(&start, THREADS, 0);
  for (int i = 0; i < THREADS; i++) mt_thread_start(&t[i], fn, NULL, NULL);
  for (int i = 0; i < THREADS; i++) {
    mt_thread_join(t[i], MT_FOREVER, NULL);
    mt_thread_free(t[i]);
  }
  mt_barrier_destroy(&start);
}

int main(void) {
  run(unlocked);
  long got = atomic_load(&counter);
  printf("without a lock: %ld of %d (%ld updates lost)\n", got, THREADS * ADDS, THREADS * ADDS - got);
  run(locked);
  printf("with a lock:    %ld of %d\n", locked_counter, THREADS * ADDS);
  return locked_counter == THREADS * ADDS ? 0 : 1;
}
// expect: ^without a lock: [0-9]+ of 800000 \([0-9]+ updates lost\)$
// expect: ^with a lock:    800000 of 800000$
