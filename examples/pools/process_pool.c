/* process_pool.c — the process pool: apply_async-style submit, map, close
 * and join, and a worker that crashes: its task fails with MT_EBROKEN, the
 * worker is replaced, and the pool goes on. Arguments and results cross as
 * bytes.
 * Python: pool = Pool(2); r = pool.apply_async(f, (x,)); r.get();
 * pool.map(f, xs); pool.close(); pool.join(). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mt.h"

static int cube(const void *in, size_t inlen, void **out, size_t *outlen) {
  long x;
  if (inlen != sizeof x) return MT_EINVAL;
  memcpy(&x, in, sizeof x);
  long *y = malloc(sizeof *y);
  if (!y) return MT_ENOMEM;
  *y = x * x * x;
  *out = y;
  *outlen = sizeof *y;
  return 0;
}

static int crash(const void *in, size_t inlen, void **out, size_t *outlen) {
  raise(SIGKILL);                             /* the worker dies mid-task */
  return 0;
}

static long value(mt_future_t *f, int *code) {
  void *r = NULL;
  *code = mt_future_result(f, 10, &r);
  long v = *code == 0 ? *(long *)((mt_buf_t *)r)->data : 0;
  free(r);
  mt_future_release(f);
  return v;
}

int main(void) {
  mt_procpool_t *pp = mt_procpool_new(2, NULL);
  if (!pp) return 1;
  long x = 3;
  int code;
  long v = value(mt_procpool_submit(pp, cube, &x, sizeof x), &code);
  printf("apply_async(cube, 3).get() = %ld\n", v);

  long xs[4] = { 1, 2, 3, 4 };
  const void *ins[4];
  size_t lens[4];
  mt_future_t *fs[4];
  for (int i = 0; i < 4; i++) ins[i] = &xs[i], lens[i] = sizeof xs[i];
  if (mt_procpool_map(pp, cube, ins, lens, 4, fs)) return 1;
  printf("map(cube, [1, 2, 3, 4]) =");
  for (int i = 0; i < 4; i++) printf(" %ld", value(fs[i], &code));
  printf("\n");

  value(mt_procpool_submit(pp, crash, NULL, 0), &code);
  printf("a worker killed mid-task: its future gives %s\n", mt_err_name(code));
  int crashed = code;
  v = value(mt_procpool_submit(pp, cube, &x, sizeof x), &code);
  printf("the pool goes on (worker replaced): cube(3) = %ld\n", v);

  mt_procpool_close(pp);
  int r = mt_procpool_join(pp, 10);
  printf("close() + join(): %s\n", r ? mt_strerror(r) : "ok");
  mt_procpool_free(pp);
  return crashed == MT_EBROKEN && v == 27 && r == 0 ? 0 : 1;
}
// env: TSAN_OPTIONS=die_after_fork=0
// expect: ^apply_async\(cube, 3\)\.get\(\) = 27$
// expect: ^map\(cube, \[1, 2, 3, 4\]\) = 1 8 27 64$
// expect: ^a worker killed mid-task: its future gives MT_EBROKEN$
// expect: ^the pool goes on \(worker replaced\): cube\(3\) = 27$
// expect: ^close\(\) \+ join\(\): ok$
