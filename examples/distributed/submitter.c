/* submitter.c — the producer side: it splits [0, limit) into chunks, submits
 * one "primes" task per chunk to the pool "examples" and prints the results
 * as they come, whichever host computed them; then the total.
 *
 *   distributed_submitter redis://HOST:6379/0 [limit [chunks]]
 *
 * Exit 0 when every chunk was counted; 1: bad arguments; 2: cannot reach
 * Redis; 3: some task failed (its error is printed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt.h"
#include "mt/remote.h"

int main(int argc, char **argv) {
  if (argc < 2 || argc > 4) {
    fprintf(stderr, "usage: %s redis://HOST:PORT/DB [limit [chunks]]\n", argv[0]);
    return 1;
  }
  long limit = argc > 2 ? atol(argv[2]) : 2000000, chunks = argc > 3 ? atol(argv[3]) : 40;
  if (limit <= 0 || chunks <= 0 || chunks > 100000) {
    fprintf(stderr, "%s: limit and chunks must be positive (chunks at most 100000)\n", argv[0]);
    return 1;
  }
  mt_rpool_t *p = mt_rpool_connect(argv[1], "examples", NULL);
  if (!p) {
    fprintf(stderr, "%s: %s\n", argv[0], mt_strerror(mt_last_error()));
    return mt_last_error() == MT_EINVAL ? 1 : 2;
  }
  char (*ins)[64] = calloc((size_t)chunks, 64);
  const void **inp = calloc((size_t)chunks, sizeof *inp);
  size_t *lens = calloc((size_t)chunks, sizeof *lens);
  mt_future_t **fs = calloc((size_t)chunks, sizeof *fs);
  for (long i = 0; i < chunks; i++) {
    lens[i] = (size_t)snprintf(ins[i], 64, "%ld %ld", limit * i / chunks, limit * (i + 1) / chunks);
    inp[i] = ins[i];
  }
  int r = mt_rpool_map(p, "primes", inp, lens, (size_t)chunks, fs);
  if (r) {
    fprintf(stderr, "%s: submitting: %s\n", argv[0], mt_strerror(r));
    return 2;
  }
  /* The notes' consumer loop, but the consumers are on other machines. */
  mt_as_completed_t *it = mt_as_completed_new(fs, (size_t)chunks);
  long total = 0, failed = 0;
  mt_future_t *f;
  while ((f = mt_as_completed_next(it, MT_FOREVER))) {
    long i = 0;
    while (fs[i] != f) i++;
    mt_buf_t *b = NULL;
    int code = mt_future_result(f, 0, (void **)&b);
    if (code) {
      printf("[%s): failed: %s\n", ins[i], mt_strerror(code));
      failed++;
    } else {
      printf("[%s): %.*s\n", ins[i], (int)b->len, (const char *)b->data);
      total += atol((const char *)b->data);
    }
    free(b);
  }
  mt_as_completed_free(it);
  for (long i = 0; i < chunks; i++) mt_future_release(fs[i]);
  printf("primes below %ld: %ld\n", limit, total);
  mt_rpool_free(p);
  free(ins);
  free(inp);
  free(lens);
  free(fs);
  return failed ? 3 : 0;
}
