/* switch.c — greenlet's explicit switch: two coroutines hand control to
 * each other at chosen points, so their prints interleave 12, 56, 34, 78.
 * libmt schedules round-robin, so with exactly two ready coroutines
 * mt_co_yield() *is* "switch to the other one".
 * Python: g1 = greenlet(eat); g2 = greenlet(play); g1.switch() ... */
#include <stdio.h>

#include "mt.h"

static void *eat(void *arg) {
  printf("12\n");
  mt_co_yield();                              /* g2.switch() */
  printf("34\n");
  mt_co_yield();
  return arg;
}

static void *play(void *arg) {
  printf("56\n");
  mt_co_yield();                              /* g1.switch() */
  printf("78\n");
  return arg;
}

static void *main_co(void *arg) {
  mt_co_t *g[2] = { mt_co_spawn(eat, NULL), mt_co_spawn(play, NULL) };
  if (!g[0] || !g[1]) return arg;
  mt_co_joinall(g, 2, MT_FOREVER);
  return arg;
}

int main(void) { return mt_co_main(main_co, NULL) ? 1 : 0; }
// expect: ^12$
// expect: ^56$
// expect: ^34$
// expect: ^78$
