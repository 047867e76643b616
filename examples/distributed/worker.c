/* worker.c — the consumer side of the notes' producer/consumer model, across
 * machines: run one of these on every host that should do work.
 *
 *   distributed_worker redis://HOST:6379/0 [processes]
 *
 * It registers the task "primes" (how many primes lie in [lo, hi)) and runs
 * tasks in a local pool of worker processes (one per CPU by default) until
 * SIGINT or SIGTERM, then finishes the tasks in hand and exits 0. Exit 1: bad
 * arguments; 2: cannot reach Redis or start the processes. Redis going away
 * while it runs is not fatal: it reconnects by itself. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mt.h"
#include "mt/remote.h"

static bool is_prime(long n) {
  if (n < 2) return false;
  for (long d = 2; d * d <= n; d++)
    if (n % d == 0) return false;
  return true;
}

/* In: "lo hi" as text. Out: the count as text. Runs in a worker process. */
static int primes(const void *in, size_t inlen, void **out, size_t *outlen) {
  char buf[64];
  if (inlen >= sizeof buf) return MT_EINVAL;
  memcpy(buf, in, inlen);
  buf[inlen] = 0;
  long lo, hi;
  if (sscanf(buf, "%ld %ld", &lo, &hi) != 2 || lo > hi) return MT_EINVAL;
  long n = 0;
  for (long i = lo; i < hi; i++) n += is_prime(i);
  char *s = malloc(64);
  if (!s) return MT_ENOMEM;
  /* mt_rworker_attempt(): a task must be idempotent, it may run again. */
  *outlen = (size_t)snprintf(s, 64, "%ld (pid %d, attempt %u)", n, (int)getpid(), mt_rworker_attempt());
  *out = s;
  return 0;
}

static void on_signal(int signum, void *ud) {
  (void)signum;
  mt_rworker_stop(ud);
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s redis://HOST:PORT/DB [processes]\n", argv[0]);
    return 1;
  }
  size_t procs = argc == 3 ? (size_t)atol(argv[2]) : 0;
  mt_rworker_t *w = mt_rworker_new(argv[1], "examples", NULL);
  if (!w) {
    fprintf(stderr, "%s: %s\n", argv[0], mt_strerror(mt_last_error()));
    return mt_last_error() == MT_EINVAL ? 1 : 2;
  }
  mt_rworker_register(w, "primes", primes);
  mt_signal_handle(SIGINT, on_signal, w);
  mt_signal_handle(SIGTERM, on_signal, w);
  fprintf(stderr, "worker %d: waiting for tasks of pool \"examples\"\n", (int)getpid());
  int r = mt_rworker_run(w, procs);
  if (r) fprintf(stderr, "%s: %s\n", argv[0], mt_strerror(r));
  mt_rworker_free(w);
  return r ? 2 : 0;
}
