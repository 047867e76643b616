/* mt_tour.c — a short tour of libmt: threads, a lock, an event, a barrier,
 * a semaphore and a timer, as in the seed notes' threading chapter. */
#include <stdio.h>

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
  mt_barrier_destroy(&barrier);
  mt_sem_destroy(&slots);
  return counter == 400000 ? 0 : 1;
}
