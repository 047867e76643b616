/* bench_sync.c — libmt's Lock and Event against their pthread anchors.
 *
 *   1. uncontended acquire+release, ns per pair: mt_lock_t vs pthread_mutex_t
 *      (goal: within 10%)
 *   2. ping-pong round trip between two threads, ns: two mt_event_t vs a
 *      pthread mutex + condvar pair doing the same handshake (goal: no slower)
 *
 * Each figure is the median of several runs measured in this one process.
 * Usage: bench_sync [scale]   (scale multiplies the iteration counts)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "mt.h"

#include "bench_common.h"

#define RUNS 7
#define median bench_median

static void *idle_main(void *a) {
  mt_event_wait(a, MT_FOREVER);
  return NULL;
}

/* ---- 1. uncontended ------------------------------------------------------- */
static double run_mt_lock(long n) {
  mt_lock_t l;
  mt_lock_init(&l, 0);
  double t0 = mt_now();
  for (long i = 0; i < n; i++) {
    mt_lock_acquire(&l, MT_FOREVER);
    mt_lock_release(&l);
  }
  double dt = mt_now() - t0;
  mt_lock_destroy(&l);
  return dt * 1e9 / (double)n;
}

static double run_pthread_mutex(long n) {
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  double t0 = mt_now();
  for (long i = 0; i < n; i++) {
    pthread_mutex_lock(&m);
    pthread_mutex_unlock(&m);
  }
  double dt = mt_now() - t0;
  pthread_mutex_destroy(&m);
  return dt * 1e9 / (double)n;
}

/* ---- 2. ping-pong ------------------------------------------------------------ */
typedef struct { mt_event_t ping, pong; long rounds; } mt_pp_t;

static void *mt_ponger(void *a) {
  mt_pp_t *p = a;
  for (long i = 0; i < p->rounds; i++) {
    mt_event_wait(&p->ping, MT_FOREVER);
    mt_event_clear(&p->ping);
    mt_event_set(&p->pong);
  }
  return NULL;
}

static double run_mt_pingpong(long rounds) {
  mt_pp_t p = { .rounds = rounds };
  mt_event_init(&p.ping, 0);
  mt_event_init(&p.pong, 0);
  mt_thread_t *t;
  mt_thread_start(&t, mt_ponger, &p, NULL);
  double t0 = mt_now();
  for (long i = 0; i < rounds; i++) {
    mt_event_set(&p.ping);
    mt_event_wait(&p.pong, MT_FOREVER);
    mt_event_clear(&p.pong);
  }
  double dt = mt_now() - t0;
  mt_thread_join(t, MT_FOREVER, NULL);
  mt_thread_free(t);
  mt_event_destroy(&p.ping);
  mt_event_destroy(&p.pong);
  return dt * 1e9 / (double)rounds;
}

typedef struct { pthread_mutex_t m; pthread_cond_t c; int flag; } pev_t;
typedef struct { pev_t ping, pong; long rounds; } pt_pp_t;

static void pev_set(pev_t *e) {
  pthread_mutex_lock(&e->m);
  e->flag = 1;
  pthread_cond_broadcast(&e->c);
  pthread_mutex_unlock(&e->m);
}
static void pev_wait_clear(pev_t *e) {
  pthread_mutex_lock(&e->m);
  while (!e->flag) pthread_cond_wait(&e->c, &e->m);
  e->flag = 0;
  pthread_mutex_unlock(&e->m);
}

static void *pt_ponger(void *a) {
  pt_pp_t *p = a;
  for (long i = 0; i < p->rounds; i++) {
    pev_wait_clear(&p->ping);
    pev_set(&p->pong);
  }
  return NULL;
}

static double run_pt_pingpong(long rounds) {
  pt_pp_t p = { .ping = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 },
                .pong = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 },
                .rounds = rounds };
  pthread_t t;
  pthread_create(&t, NULL, pt_ponger, &p);
  double t0 = mt_now();
  for (long i = 0; i < rounds; i++) {
    pev_set(&p.ping);
    pev_wait_clear(&p.pong);
  }
  double dt = mt_now() - t0;
  pthread_join(t, NULL);
  return dt * 1e9 / (double)rounds;
}

int main(int argc, char **argv) {
  double scale = argc > 1 ? atof(argv[1]) : 1.0;
  if (!(scale > 0)) { fprintf(stderr, "bench_sync: scale must be a positive number\n"); return 2; }
  long n1 = (long)(20e6 * scale), n2 = (long)(100e3 * scale);
  double a[RUNS], b[RUNS];

  /* An idle second thread makes the process multi-threaded, as any program
   * that needs locks is: glibc drops the lock prefix while a process has a
   * single thread, which would measure something no user of locks gets. */
  mt_event_t idle;
  mt_event_init(&idle, 0);
  mt_thread_t *idler;
  mt_thread_start(&idler, idle_main, &idle, NULL);
  run_mt_lock(n1 / 10);                    /* warm up */
  run_pthread_mutex(n1 / 10);
  for (int i = 0; i < RUNS; i++) {         /* interleave to share any drift */
    a[i] = run_mt_lock(n1);
    b[i] = run_pthread_mutex(n1);
  }
  double mt = median(a, RUNS), pt = median(b, RUNS);
  printf("uncontended acquire+release, multi-threaded process (median of %d x %ld)\n", RUNS, n1);
  printf("  mt_lock_t        %7.2f ns\n", mt);
  printf("  pthread_mutex_t  %7.2f ns\n", pt);
  printf("  ratio mt/pthread %7.3f   (goal <= 1.10: %s)\n", mt / pt, mt / pt <= 1.10 ? "met" : "NOT met");

  mt_event_set(&idle);
  mt_thread_join(idler, MT_FOREVER, NULL);
  mt_thread_free(idler);
  mt_event_destroy(&idle);

  for (int i = 0; i < RUNS; i++) {
    a[i] = run_mt_pingpong(n2);
    b[i] = run_pt_pingpong(n2);
  }
  mt = median(a, RUNS);
  pt = median(b, RUNS);
  printf("event ping-pong round trip, two threads (median of %d x %ld)\n", RUNS, n2);
  printf("  mt_event_t       %8.0f ns\n", mt);
  printf("  pthread condvar  %8.0f ns\n", pt);
  printf("  ratio mt/pthread %7.3f   (goal <= 1.00: %s)\n", mt / pt, mt / pt <= 1.0 ? "met" : "NOT met");
  return 0;
}
