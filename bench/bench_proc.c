/* bench_proc.c — processes, the process pool and the cross-process queue.
 *   1. process start + join per second (mt_proc_start/join of a child that
 *      returns at once);
 *   2. process pool map of N tiny items, one item per task, tasks/s;
 *   3. cross-process queue, 64-byte messages, one producer process and one
 *      consumer process, against a plain pipe carrying the same 64-byte
 *      messages (goal: >= 2x the pipe).
 * The Python side of each (goal >= 20x, 20x, 50x) is bench/py_proc_bench.py,
 * which runs this program and prints the ratios from the same run.
 * Usage: bench_proc [scale]. Medians of RUNS runs. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "mt.h"

#define RUNS 5

static int child_noop(void *arg) { return 0; }

static double starts(long n) {
  double t0 = mt_now();
  for (long i = 0; i < n; i++) {
    mt_proc_t *p;
    if (mt_proc_start(&p, child_noop, NULL, NULL) != 0) { fprintf(stderr, "bench_proc: start failed\n"); exit(1); }
    mt_proc_join(p, MT_FOREVER);
    mt_proc_free(p);
  }
  return (double)n / (mt_now() - t0);
}

/* The ceiling: a bare fork() + _exit + waitpid loop, no library at all. */
static double raw_forks(long n) {
  double t0 = mt_now();
  for (long i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, NULL, 0);
  }
  return (double)n / (mt_now() - t0);
}

static int tiny(const void *in, size_t inlen, void **out, size_t *outlen) {
  long v;
  memcpy(&v, in, sizeof v);
  long *r = malloc(sizeof *r);
  *r = v + 1;
  *out = r;
  *outlen = sizeof *r;
  return 0;
}

static double pool_map(mt_procpool_t *pp, long n) {
  long *in = malloc(sizeof *in * (size_t)n);
  const void **ins = malloc(sizeof *ins * (size_t)n);
  size_t *lens = malloc(sizeof *lens * (size_t)n);
  mt_future_t **fs = malloc(sizeof *fs * (size_t)n);
  for (long i = 0; i < n; i++) { in[i] = i; ins[i] = &in[i]; lens[i] = sizeof in[i]; }
  double t0 = mt_now();
  if (mt_procpool_map(pp, tiny, ins, lens, (size_t)n, fs) != 0) { fprintf(stderr, "bench_proc: map failed\n"); exit(1); }
  for (long i = 0; i < n; i++) {
    void *r;
    if (mt_future_result(fs[i], MT_FOREVER, &r) != 0) { fprintf(stderr, "bench_proc: task failed\n"); exit(1); }
    free(r);
    mt_future_release(fs[i]);
  }
  double rate = (double)n / (mt_now() - t0);
  free(in); free(ins); free(lens); free(fs);
  return rate;
}

static double pqueue_run(long n) {
  mt_pqueue_t *q = mt_pqueue_new(1024, 1 << 20);
  pid_t pid = fork();
  if (pid == 0) {
    char msg[64] = { 0 };
    for (long i = 0; i < n; i++) {
      memcpy(msg, &i, sizeof i);
      mt_pqueue_put(q, msg, sizeof msg, MT_FOREVER);
    }
    _exit(0);
  }
  double t0 = mt_now();
  for (long i = 0; i < n; i++) {
    void *m;
    size_t len;
    mt_pqueue_get(q, &m, &len, MT_FOREVER);
    free(m);
  }
  double rate = (double)n / (mt_now() - t0);
  waitpid(pid, NULL, 0);
  mt_pqueue_free(q);
  return rate;
}

static double pipe_run(long n) {
  int p[2];
  if (pipe(p) != 0) exit(1);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    char msg[64] = { 0 };
    for (long i = 0; i < n; i++) {
      memcpy(msg, &i, sizeof i);
      if (write(p[1], msg, sizeof msg) != (ssize_t)sizeof msg) _exit(1);
    }
    _exit(0);
  }
  close(p[1]);
  double t0 = mt_now();
  char msg[64];
  for (long i = 0; i < n; i++) {          /* 64 bytes <= PIPE_BUF: each write is atomic */
    size_t got = 0;
    while (got < sizeof msg) {
      ssize_t r = read(p[0], msg + got, sizeof msg - got);
      if (r <= 0) exit(1);
      got += (size_t)r;
    }
  }
  double rate = (double)n / (mt_now() - t0);
  close(p[0]);
  waitpid(pid, NULL, 0);
  return rate;
}

int main(int argc, char **argv) {
  double scale = argc > 1 ? atof(argv[1]) : 1.0;
  if (!(scale > 0)) { fprintf(stderr, "bench_proc: scale must be a positive number\n"); return 2; }
  long nstart = (long)(2000 * scale), nmap = (long)(100000 * scale), nq = (long)(1000000 * scale);
  double a[RUNS], b[RUNS];

  for (int i = 0; i < RUNS; i++) {
    a[i] = starts(nstart);
    b[i] = raw_forks(nstart);
  }
  double ma = bench_median(a, RUNS), mb = bench_median(b, RUNS);
  printf("process start+join                        libmt %12.0f/s   (bare fork+waitpid %.0f/s: %.0f%% of it)\n",
         ma, mb, 100 * ma / mb);

  mt_procpool_t *pp = mt_procpool_new(0, NULL);
  for (int i = 0; i < RUNS; i++) a[i] = pool_map(pp, nmap);
  mt_procpool_close(pp);
  mt_procpool_join(pp, MT_FOREVER);
  mt_procpool_free(pp);
  printf("process pool map, 1 item per task          libmt %12.0f/s\n", bench_median(a, RUNS));

  for (int i = 0; i < RUNS; i++) {
    a[i] = pqueue_run(nq);
    b[i] = pipe_run(nq);
  }
  bench_report("cross-process queue, 64 B messages, 1P/1C", "plain pipe", bench_median(a, RUNS),
               bench_median(b, RUNS), 2.0);
  return 0;
}
