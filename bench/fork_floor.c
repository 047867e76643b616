/* fork_floor — the ceiling for process start + join on this machine.
 *
 * A minimal program with no libmt in it: fork(), the child _exits at once,
 * the parent waitpid()s. Whatever mt_proc_start + mt_proc_join achieve,
 * they fork too, so this loop bounds them (bench_proc runs the same loop
 * inside its own, larger, process). Prints medians of 5 runs, with the time
 * spent in fork() and in waitpid() per child.
 *
 *   ./build/bench/fork_floor [N]        (N children per run, default 3000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 3000;
  if (n <= 0) {
    fprintf(stderr, "fork_floor: N must be a positive number\n");
    return 2;
  }
  enum { RUNS = 5 };
  double rate[RUNS], tfork[RUNS], twait[RUNS];
  for (int r = 0; r < RUNS; r++) {
    double in_fork = 0, in_wait = 0, t0 = now();
    for (long i = 0; i < n; i++) {
      double a = now();
      pid_t pid = fork();
      if (pid < 0) { perror("fork_floor: fork"); return 1; }
      if (pid == 0) _exit(0);
      double b = now();
      if (waitpid(pid, NULL, 0) != pid) { perror("fork_floor: waitpid"); return 1; }
      in_fork += b - a;
      in_wait += now() - b;
    }
    rate[r] = (double)n / (now() - t0);
    tfork[r] = in_fork / (double)n * 1e6;
    twait[r] = in_wait / (double)n * 1e6;
  }
  qsort(rate, RUNS, sizeof *rate, cmp);
  qsort(tfork, RUNS, sizeof *tfork, cmp);
  qsort(twait, RUNS, sizeof *twait, cmp);
  printf("bare fork+_exit+waitpid   %8.0f/s   (in fork() %.1f us, in waitpid() %.1f us; medians of %d)\n",
         rate[RUNS / 2], tfork[RUNS / 2], twait[RUNS / 2], RUNS);
  return 0;
}
