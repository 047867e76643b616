/* bench_pool.c — the thread-pool executor against the C anchors, with as
 * many workers as CPUs on both sides:
 *   fire-and-forget tasks/s: mt_pool_run vs GLib's GThreadPool (push N, then
 *     free with wait);
 *   submit + result round trips/s: submit N futures, then collect every
 *     result, vs libuv's uv_queue_work with its after-work callback (queue N,
 *     then uv_run until every callback ran).
 * Usage: bench_pool [scale]. Prints medians of RUNS runs and the ratios. */
#include <glib.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "bench_common.h"
#include "mt.h"

#define RUNS 5
static long N;
static int W;
static long sink;

static int mt_noop(void *arg, void **res) {
  *res = arg;
  return 0;
}

static double mt_fire(void) {
  double t0 = mt_now();
  mt_pool_t *p = mt_pool_new((size_t)W);
  for (long i = 0; i < N; i++) mt_pool_run(p, mt_noop, (void *)i);
  mt_pool_free(p);
  return (double)N / (mt_now() - t0);
}

static void g_noop(gpointer data, gpointer user) { (void)data; (void)user; }

static double g_fire(void) {
  double t0 = mt_now();
  GThreadPool *p = g_thread_pool_new(g_noop, NULL, W, TRUE, NULL);
  for (long i = 0; i < N; i++) g_thread_pool_push(p, (gpointer)(i + 1), NULL);
  g_thread_pool_free(p, FALSE, TRUE);
  return (double)N / (mt_now() - t0);
}

static double mt_roundtrip(mt_pool_t *p, mt_future_t **fs) {
  double t0 = mt_now();
  for (long i = 0; i < N; i++) fs[i] = mt_pool_submit(p, mt_noop, (void *)i);
  for (long i = 0; i < N; i++) {
    void *r;
    mt_future_result(fs[i], MT_FOREVER, &r);
    sink += (long)r;
    mt_future_release(fs[i]);
  }
  return (double)N / (mt_now() - t0);
}

static void uv_work(uv_work_t *req) { (void)req; }
static void uv_after(uv_work_t *req, int status) { sink += (long)req->data + status; }

static double uv_roundtrip(uv_loop_t *loop, uv_work_t *reqs) {
  double t0 = mt_now();
  for (long i = 0; i < N; i++) {
    reqs[i].data = (void *)i;
    uv_queue_work(loop, &reqs[i], uv_work, uv_after);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  return (double)N / (mt_now() - t0);
}

int main(int argc, char **argv) {
  double scale = argc > 1 ? atof(argv[1]) : 1.0;
  if (!(scale > 0)) { fprintf(stderr, "bench_pool: scale must be a positive number\n"); return 2; }
  N = (long)(1e6 * scale);
  W = (int)sysconf(_SC_NPROCESSORS_ONLN);
  char w[16];
  snprintf(w, sizeof w, "%d", W);
  setenv("UV_THREADPOOL_SIZE", w, 1);     /* same worker count for libuv */
  printf("thread pools, %ld tasks per run, %d workers each, median of %d\n", N, W, RUNS);

  double a[RUNS], b[RUNS];
  for (int i = 0; i < RUNS; i++) {
    a[i] = mt_fire();
    b[i] = g_fire();
  }
  bench_report("fire-and-forget (mt_pool_run)", "GThreadPool", bench_median(a, RUNS), bench_median(b, RUNS), 1.5);

  mt_pool_t *p = mt_pool_new((size_t)W);
  mt_future_t **fs = malloc((size_t)N * sizeof *fs);
  uv_work_t *reqs = malloc((size_t)N * sizeof *reqs);
  uv_loop_t loop;
  uv_loop_init(&loop);
  for (int i = 0; i < RUNS; i++) {
    a[i] = mt_roundtrip(p, fs);
    b[i] = uv_roundtrip(&loop, reqs);
  }
  bench_report("submit N, then collect N results (futures)", "uv_queue_work", bench_median(a, RUNS),
               bench_median(b, RUNS), 1.5);
  uv_loop_close(&loop);
  mt_pool_free(p);
  free(fs);
  free(reqs);
  return sink == 42 ? 1 : 0;
}
