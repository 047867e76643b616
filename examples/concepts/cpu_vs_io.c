/* cpu_vs_io.c — the notes' rule "processes for computing, threads for IO",
 * measured in C and printed as a table.
 *
 * CPU-bound: a fixed amount of arithmetic split over 1, 2 and 4 threads,
 * then over 1, 2 and 4 processes. IO-bound: 8 jobs that each wait 50 ms
 * (a sleep standing for a socket) on 1, 4 and 8 threads and on 8
 * coroutines of one thread.
 *
 * What differs from Python: there the GIL lets one thread compute at a time,
 * so CPU-bound threads gain nothing and the notes send computing to
 * processes. C threads have no GIL: they compute in parallel exactly like
 * processes, up to the number of cores, and cost less to start. For IO both
 * languages agree: waiting needs no core, so threads — or far cheaper
 * coroutines — overlap the waits. Figures depend on the machine (cores,
 * load); the program checks only that the IO overlap happened.
 */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "mt.h"

#define WORK 24000000L      /* loop iterations in all */
#define IO_JOBS 8
#define IO_WAIT 0.05

static uint64_t spin(long n) {
  uint64_t x = 88172645463325252ULL;
  for (long i = 0; i < n; i++) {            /* xorshift: the compiler cannot skip it */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

static void *cpu_thread(void *arg) { return (void *)(uintptr_t)spin((long)(intptr_t)arg); }
static int cpu_proc(void *arg) { return (int)(spin((long)(intptr_t)arg) & 1); }

static double cpu_threads(int n) {
  mt_thread_t *t[4];
  double t0 = mt_now();
  for (int i = 0; i < n; i++)
    if (mt_thread_start(&t[i], cpu_thread, (void *)(intptr_t)(WORK / n), NULL)) return -1;
  for (int i = 0; i < n; i++) {
    mt_thread_join(t[i], MT_FOREVER, NULL);
    mt_thread_free(t[i]);
  }
  return mt_now() - t0;
}

static double cpu_procs(int n) {
  mt_proc_t *p[4];
  double t0 = mt_now();
  for (int i = 0; i < n; i++)
    if (mt_proc_start(&p[i], cpu_proc, (void *)(intptr_t)(WORK / n), NULL)) return -1;
  for (int i = 0; i < n; i++) {
    mt_proc_join(p[i], MT_FOREVER);
    mt_proc_free(p[i]);
  }
  return mt_now() - t0;
}

/* IO: jobs taken from a shared counter by each worker in turn. */
static int next_job;
static mt_lock_t job_lock = MT_LOCK_INIT;

static void *io_worker(void *arg) {
  for (;;) {
    int j;
    MT_WITH(&job_lock) j = next_job++;
    if (j >= IO_JOBS) return arg;
    mt_sleep(IO_WAIT);                        /* parks a thread, or a coroutine */
  }
}

static double io_threads(int n) {
  mt_thread_t *t[IO_JOBS];
  next_job = 0;
  double t0 = mt_now();
  for (int i = 0; i < n; i++)
    if (mt_thread_start(&t[i], io_worker, NULL, NULL)) return -1;
  for (int i = 0; i < n; i++) {
    mt_thread_join(t[i], MT_FOREVER, NULL);
    mt_thread_free(t[i]);
  }
  return mt_now() - t0;
}

static void *io_co_main(void *arg) {
  mt_co_t *c[IO_JOBS];
  for (int i = 0; i < IO_JOBS; i++) c[i] = mt_co_spawn(io_worker, NULL);
  mt_co_joinall(c, IO_JOBS, MT_FOREVER);
  return arg;
}

static double io_coroutines(void) {
  next_job = 0;
  double t0 = mt_now();
  mt_co_main(io_co_main, NULL);
  return mt_now() - t0;
}

int main(void) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  printf("%ld CPUs online\n", cpus);
  printf("%-10s %-11s %7s %9s %8s\n", "job", "runner", "workers", "seconds", "speedup");
  double base = 0;
  for (int kind = 0; kind < 2; kind++)
    for (int n = 1; n <= 4; n *= 2) {
      double s = kind == 0 ? cpu_threads(n) : cpu_procs(n);
      if (s < 0) return 1;
      if (kind == 0 && n == 1) base = s;
      printf("%-10s %-11s %7d %9.3f %7.2fx\n", "cpu-bound", kind == 0 ? "threads" : "processes", n, s, base / s);
    }
  double io1 = 0, last = 0;
  int ns[] = { 1, 4, IO_JOBS };
  for (int k = 0; k < 3; k++) {
    double s = io_threads(ns[k]);
    if (s < 0) return 1;
    if (k == 0) io1 = s;
    printf("%-10s %-11s %7d %9.3f %7.2fx\n", "io-bound", "threads", ns[k], s, io1 / s);
  }
  last = io_coroutines();
  printf("%-10s %-11s %7d %9.3f %7.2fx\n", "io-bound", "coroutines", IO_JOBS, last, io1 / last);
  printf("in C, threads compute in parallel like processes (no GIL); for IO, waits overlap on threads or coroutines\n");
  /* The one claim that holds on any machine: 8 overlapped waits take far
   * less than 8 waits in a row. */
  return io1 >= IO_JOBS * IO_WAIT && last < io1 / 2 ? 0 : 1;
}
// expect: ^[0-9]+ CPUs online$
// expect: ^job +runner +workers +seconds +speedup$
// expect: ^cpu-bound +threads +1 +[0-9.]+ +[0-9.]+x$
// expect: ^cpu-bound +threads +4 +[0-9.]+ +[0-9.]+x$
// expect: ^cpu-bound +processes +1 +[0-9.]+ +[0-9.]+x$
// expect: ^cpu-bound +processes +4 +[0-9.]+ +[0-9.]+x$
// expect: ^io-bound +threads +1 +[0-9.]+ +[0-9.]+x$
// expect: ^io-bound +threads +8 +[0-9.]+ +[0-9.]+x$
// expect: ^io-bound +coroutines +8 +[0-9.]+ +[0-9.]+x$
// expect: no GIL
