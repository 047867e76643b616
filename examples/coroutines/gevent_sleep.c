/* gevent_sleep.c — the notes' gevent demo: four coroutines that each
 * "start func", sleep 1 s and "end func" finish together in about 1 s, not
 * 4 — a sleep parks its coroutine and the others run. (Here 0.2 s, and 100
 * coroutines as well as 4.)
 * Python: monkey.patch_all(); gevent.spawn(func) x4; gevent.joinall(...). */
#include <stdio.h>

#include "mt.h"

static void *func(void *arg) {
  if (arg) printf("start func\n");
  mt_sleep(0.2);                              /* time.sleep, "patched" */
  if (arg) printf("end func\n");
  return NULL;
}

static double run(int n, int verbose) {
  mt_co_t *g[100];
  double t0 = mt_now();
  for (int i = 0; i < n; i++) g[i] = mt_co_spawn(func, verbose ? (void *)1 : NULL);
  mt_co_joinall(g, (size_t)n, MT_FOREVER);
  return mt_now() - t0;
}

static double t4, t100;
static void *main_co(void *arg) {
  t4 = run(4, 1);
  t100 = run(100, 0);
  return arg;
}

int main(void) {
  if (mt_co_main(main_co, NULL)) return 1;
  printf("4 coroutines sleeping 0.2 s each: %.2f s in all\n", t4);
  printf("100 coroutines sleeping 0.2 s each: %.2f s in all\n", t100);
  return t100 < 100 * 0.2 / 4 ? 0 : 1;        /* overlapped: nowhere near the 20 s of one after another */
}
// expect: ^start func$
// expect: ^start func$
// expect: ^start func$
// expect: ^start func$
// expect: ^end func$
// expect: ^4 coroutines sleeping 0\.2 s each: [0-9.]+ s in all$
// expect: ^100 coroutines sleeping 0\.2 s each: [0-9.]+ s in all$
