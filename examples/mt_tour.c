/* mt_tour.c — a short tour of libmt, following the seed notes: threads, a
 * lock, a barrier, a semaphore, an event and a timer; a queue feeding a
 * thread pool with futures; a child process; a cross-process queue; and
 * coroutines that sleep together. `make run` runs it (until the FTP server
 * takes over that role). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "mt.h"

static mt_lock_t lock = MT_LOCK_INIT;
static long counter;
static mt_barrier_t barrier;
static mt_sem_t slots;

static void *worker(void *arg) {
  int idx = mt_barrier_wait(&barrier, MT_FOREVER);
  MT_WITH(&slots) {                       /* at most 2 workers in here */
    for (int i = 0; i < 100000; i++) MT_WITH(&lock) counter++;
  }
  printf("  %-10s arrived %d at the barrier\n", mt_thread_name(mt_thread_current()), idx);
  return arg;
}

static void tick(void *arg) { printf("  timer fired: %s\n", (const char *)arg); }

static int square(void *arg, void **res) {
  *res = (void *)((intptr_t)arg * (intptr_t)arg);
  return 0;
}

static int child(void *arg) {
  mt_pqueue_t *q = arg;
  const char msg[] = "hello from the child process";
  return mt_pqueue_put(q, msg, sizeof msg, 5) == 0 ? 7 : 1;
}

static void *napper(void *arg) {
  mt_sleep(0.1);
  printf("  coroutine %s woke\n", mt_co_name(mt_co_current()));
  return arg;
}

static void *coroutines(void *arg) {
  mt_co_t *c[3];
  for (int i = 0; i < 3; i++) c[i] = mt_co_spawn(napper, NULL);
  double t0 = mt_now();
  mt_co_joinall(c, 3, 5);
  printf("  3 coroutines slept 0.1 s each, together: %.2f s in all\n", mt_now() - t0);
  return NULL;
}

int main(void) {
  printf("multitask %s — a tour\n", MT_VERSION_STRING);
  mt_barrier_init(&barrier, 4, 0);
  mt_sem_init(&slots, 2, 2, 0);
  mt_thread_t *t[4];
  for (int i = 0; i < 4; i++) {
    char name[16];
    snprintf(name, sizeof name, "worker-%d", i);
    mt_thread_opts_t o = { .name = name };
    int e = mt_thread_start(&t[i], worker, NULL, &o);
    if (e) { fprintf(stderr, "mt_tour: cannot start a thread: %s\n", mt_strerror(e)); return 1; }
  }
  printf("  %zu threads alive (main included)\n", mt_thread_active_count());
  for (int i = 0; i < 4; i++) { mt_thread_join(t[i], MT_FOREVER, NULL); mt_thread_free(t[i]); }
  printf("  counter = %ld (4 x 100000 increments under one lock)\n", counter);

  mt_timer_t *tm;
  mt_timer_start(&tm, 0.1, false, tick, "after 0.1 s");
  mt_event_t ev;
  mt_event_init(&ev, 0);
  int r = mt_event_wait(&ev, 0.2);
  printf("  event wait with nobody to set it: %s\n", mt_strerror(r));
  mt_timer_free(tm);
  mt_event_destroy(&ev);

  /* a thread pool and its futures, fed from a queue */
  mt_queue_t *q = mt_queue_new(MT_FIFO, 8);
  for (intptr_t i = 1; i <= 5; i++) mt_queue_put(q, (void *)i, 0);
  mt_pool_t *pool = mt_pool_new(0);
  mt_future_t *fs[5];
  void *item;
  for (int i = 0; mt_queue_get(q, &item, 0) == 0; i++) fs[i] = mt_pool_submit(pool, square, item);
  printf("  pool of %zu workers squared:", mt_pool_workers(pool));
  for (int i = 0; i < 5; i++) {
    void *sq;
    mt_future_result(fs[i], MT_FOREVER, &sq);
    printf(" %ld", (long)(intptr_t)sq);
    mt_future_release(fs[i]);
  }
  printf("\n");
  mt_pool_free(pool);
  mt_queue_free(q);

  /* a child process talking through a cross-process queue */
  mt_pqueue_t *pq = mt_pqueue_new(4, 4096);
  mt_proc_t *p;
  if (mt_proc_start(&p, child, pq, &(mt_proc_opts_t){ .name = "tour-child" }) == 0) {
    void *msg;
    size_t len;
    if (mt_pqueue_get(pq, &msg, &len, 5) == 0) {
      printf("  received: \"%s\"\n", (char *)msg);
      free(msg);
    }
    mt_proc_join(p, 5);
    printf("  child %d exited with code %d\n", (int)mt_proc_pid(p), mt_proc_exitcode(p));
    mt_proc_free(p);
  }
  mt_pqueue_free(pq);

  /* coroutines */
  mt_co_main(coroutines, NULL);
  mt_barrier_destroy(&barrier);
  mt_sem_destroy(&slots);
  return counter == 400000 ? 0 : 1;
}
