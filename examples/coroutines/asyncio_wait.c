/* asyncio_wait.c — the notes' asyncio demo: func(name) prints "start",
 * awaits a sleep, prints "end"; run once alone (synchronously), then two
 * at once with asyncio.wait, which interleaves them: start, start, end, end.
 * Python: loop.run_until_complete(func('alex'));
 * loop.run_until_complete(asyncio.wait([func('alex'), func('bob')])). */
#include <stdio.h>

#include "mt.h"

static void *func(void *arg) {
  printf("%s start\n", (const char *)arg);
  mt_sleep(0.1);                              /* await asyncio.sleep(...) */
  printf("%s end\n", (const char *)arg);
  return NULL;
}

static void *wait_both(void *arg) {
  mt_co_t *t[2] = { mt_co_spawn(func, "alex"), mt_co_spawn(func, "bob") };
  mt_co_joinall(t, 2, MT_FOREVER);            /* asyncio.wait([...]) */
  return arg;
}

int main(void) {
  double t0 = mt_now();
  if (mt_co_main(func, "alex")) return 1;     /* run_until_complete(func('alex')) */
  double one = mt_now() - t0;
  t0 = mt_now();
  if (mt_co_main(wait_both, NULL)) return 1;
  double two = mt_now() - t0;
  printf("one alone: %.2f s; two with wait: %.2f s\n", one, two);
  return 0;
}
// expect: ^alex start$
// expect: ^alex end$
// expect: ^alex start$
// expect: ^bob start$
// expect: ^alex end$
// expect: ^bob end$
// expect: ^one alone: [0-9.]+ s; two with wait: [0-9.]+ s$
