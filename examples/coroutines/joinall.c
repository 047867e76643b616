/* joinall.c — join one coroutine (with its result), then joinall the rest
 * with one deadline; a coroutine that outlives the deadline is cancelled.
 * Python: g = gevent.spawn(f, 3); g.join(); g.value;
 * gevent.joinall([...], timeout=t); g.kill(). */
#include <stdint.h>
#include <stdio.h>

#include "mt.h"

static void *triple(void *arg) {
  mt_sleep(0.01);
  return (void *)((intptr_t)arg * 3);
}

static void *sleepy(void *arg) {
  int r = mt_sleep(10);
  printf("sleepy: woke with %s\n", mt_strerror(r));
  return NULL;
}

static void *main_co(void *arg) {
  mt_co_t *g = mt_co_spawn(triple, (void *)14);
  void *v;
  int r = mt_co_join(g, 5, &v);
  printf("join: %s, value %ld\n", r ? mt_strerror(r) : "ok", (long)(intptr_t)v);
  mt_co_t *gs[3] = { mt_co_spawn(triple, (void *)1), mt_co_spawn(triple, (void *)2), mt_co_spawn(triple, (void *)3) };
  r = mt_co_joinall(gs, 3, 5);
  printf("joinall of 3: %s\n", r ? mt_strerror(r) : "ok");
  mt_co_t *s = mt_co_spawn(sleepy, NULL);
  r = mt_co_joinall(&s, 1, 0.05);
  printf("joinall with timeout 0.05 on a 10 s sleeper: %s\n", mt_strerror(r));
  mt_co_cancel(s);                            /* g.kill() */
  mt_co_join(s, MT_FOREVER, NULL);
  return arg;
}

int main(void) { return mt_co_main(main_co, NULL) ? 1 : 0; }
// expect: ^join: ok, value 42$
// expect: ^joinall of 3: ok$
// expect: ^joinall with timeout 0\.05 on a 10 s sleeper: timed out$
// expect: ^sleepy: woke with operation canceled$
