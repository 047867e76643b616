/* pool_sizing.c — how big a pool, as the notes advise: for computing, about
 * the number of CPUs (x1 to x2) — more workers only share the same cores;
 * for IO, up to x5 threads (or more) — waiting needs no core.
 * The same 16 CPU-bound tasks and 16 IO-bound tasks (a 20 ms sleep each)
 * run on thread pools of 1, CPUs, 2xCPUs and 5xCPUs workers.
 * Python: ThreadPoolExecutor(max_workers=n) (whose default is
 * min(32, CPUs + 4)) and Pool(processes=n); for CPU-bound Python code the
 * process pool is the one that scales, because of the GIL. Timings depend
 * on the machine; the program checks only what holds everywhere. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "mt.h"

#define TASKS 16

static int compute(void *arg, void **result) {
  uint64_t x = 88172645463325252ULL;
  for (long i = 0; i < 1500000; i++) x ^= x << 13, x ^= x >> 7, x ^= x << 17;
  *result = (void *)(uintptr_t)x;
  return 0;
}

static int wait_io(void *arg, void **result) {
  return mt_sleep(0.02);
}

static double run(size_t workers, mt_task_fn fn) {
  mt_pool_t *p = mt_pool_new(workers);
  void *args[TASKS] = { 0 };
  double t0 = mt_now();
  int r = p ? mt_pool_map(p, fn, args, NULL, TASKS, 60) : -1;
  double dt = mt_now() - t0;
  mt_pool_free(p);
  return r ? -1 : dt;
}

int main(void) {
  size_t cpus = (size_t)sysconf(_SC_NPROCESSORS_ONLN);
  size_t sizes[4] = { 1, cpus, 2 * cpus, 5 * cpus };
  const char *labels[4] = { "1", "CPUs", "2xCPUs", "5xCPUs" };
  printf("%zu CPUs; %d tasks of each kind\n", cpus, TASKS);
  printf("%-8s %7s %12s %12s\n", "pool", "workers", "cpu-bound s", "io-bound s");
  double io[4];
  for (int i = 0; i < 4; i++) {
    double c = run(sizes[i], compute);
    io[i] = run(sizes[i], wait_io);
    if (c < 0 || io[i] < 0) return 1;
    printf("%-8s %7zu %12.3f %12.3f\n", labels[i], sizes[i], c, io[i]);
  }
  printf("computing stops gaining past the CPU count; IO keeps gaining with more threads\n");
  return io[3] < io[0] / 2 ? 0 : 1;          /* 16 overlapped sleeps beat 16 in a row */
}
// expect: ^[0-9]+ CPUs; 16 tasks of each kind$
// expect: ^pool +workers +cpu-bound s +io-bound s$
// expect: ^1 +1 +[0-9.]+ +[0-9.]+$
// expect: ^CPUs +[0-9]+ +[0-9.]+ +[0-9.]+$
// expect: ^2xCPUs +[0-9]+ +[0-9.]+ +[0-9.]+$
// expect: ^5xCPUs +[0-9]+ +[0-9.]+ +[0-9.]+$
