/* bench_queue.c — bounded FIFO throughput: mt_queue_t against GLib's
 * GAsyncQueue (the C anchor), with one producer and one consumer thread and
 * with two of each. Items are pointers; every item put is got.
 * Usage: bench_queue [scale]. Prints medians of RUNS runs and the ratios. */
#include <glib.h>
#include <pthread.h>

#include "bench_common.h"
#include "mt.h"

#define RUNS 5
#define CAP 1024

static long N;   /* items per producer */

typedef struct { mt_queue_t *q; GAsyncQueue *g; long n; } arg_t;

static void *mt_prod(void *a) {
  arg_t *x = a;
  for (long i = 1; i <= x->n; i++) mt_queue_put(x->q, (void *)i, MT_FOREVER);
  return NULL;
}
static void *mt_cons(void *a) {
  arg_t *x = a;
  void *it;
  for (long i = 0; i < x->n; i++) mt_queue_get(x->q, &it, MT_FOREVER);
  return NULL;
}
static void *g_prod(void *a) {
  arg_t *x = a;
  for (long i = 1; i <= x->n; i++) g_async_queue_push(x->g, (void *)i);
  return NULL;
}
static void *g_cons(void *a) {
  arg_t *x = a;
  for (long i = 0; i < x->n; i++) g_async_queue_pop(x->g);
  return NULL;
}

static double run(int pairs, bool use_mt) {
  arg_t x = { .n = N };
  if (use_mt) x.q = mt_queue_new(MT_FIFO, CAP);
  else x.g = g_async_queue_new();
  pthread_t t[8];
  double t0 = mt_now();
  for (int i = 0; i < pairs; i++) {
    pthread_create(&t[2 * i], NULL, use_mt ? mt_cons : g_cons, &x);
    pthread_create(&t[2 * i + 1], NULL, use_mt ? mt_prod : g_prod, &x);
  }
  for (int i = 0; i < 2 * pairs; i++) pthread_join(t[i], NULL);
  double dt = mt_now() - t0;
  if (use_mt) mt_queue_free(x.q);
  else g_async_queue_unref(x.g);
  return (double)N * pairs / dt;
}

int main(int argc, char **argv) {
  double scale = argc > 1 ? atof(argv[1]) : 1.0;
  if (!(scale > 0)) { fprintf(stderr, "bench_queue: scale must be a positive number\n"); return 2; }
  N = (long)(1e6 * scale);
  printf("queue throughput, %ld items per producer, median of %d (mt_queue bounded to %d; GAsyncQueue has no bound)\n",
         N, RUNS, CAP);
  for (int pairs = 1; pairs <= 2; pairs++) {
    double a[RUNS], b[RUNS];
    for (int i = 0; i < RUNS; i++) {
      a[i] = run(pairs, true);
      b[i] = run(pairs, false);
    }
    char what[64];
    snprintf(what, sizeof what, "FIFO put+get, %dP/%dC threads", pairs, pairs);
    bench_report(what, "GAsyncQueue", bench_median(a, RUNS), bench_median(b, RUNS), 1.5);
  }
  return 0;
}
