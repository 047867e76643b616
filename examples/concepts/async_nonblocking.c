/* async_nonblocking.c — asynchronous + non-blocking: several coroutines on
 * ONE thread; each "blocking" read parks its coroutine, and the scheduler,
 * which never blocks on any one fd (epoll), runs whichever is ready.
 * The notes call it the most efficient of the four.
 * Python: gevent with monkey.patch_all(), or asyncio's loop.sock_recv. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "mt.h"

static int fds[3][2];
static void arrive(void *arg) { ssize_t w = write(fds[(intptr_t)arg][1], "x", 1); (void)w; }

static void *reader(void *arg) {
  char c;
  return (void *)(intptr_t)(mt_read(fds[(intptr_t)arg][0], &c, 1, MT_FOREVER) == 1);   /* parks */
}

static int ok;

static void *main_co(void *arg) {
  mt_co_t *co[3];
  for (intptr_t i = 0; i < 3; i++) co[i] = mt_co_spawn(reader, (void *)i);
  for (int i = 0; i < 3; i++) {
    void *r = NULL;
    if (co[i] && mt_co_join(co[i], MT_FOREVER, &r) == 0) ok += (int)(intptr_t)r;
  }
  return arg;
}

int main(void) {
  mt_timer_t *tm[3];
  for (intptr_t i = 0; i < 3; i++)
    if (pipe(fds[i]) || mt_timer_start(&tm[i], 0.1, false, arrive, (void *)i)) return 1;
  double t0 = mt_now();
  mt_co_main(main_co, NULL);
  double dt = mt_now() - t0;
  for (int i = 0; i < 3; i++) mt_timer_free(tm[i]);
  printf("async + non-blocking: %d coroutines on one thread each waited 0.1 s, together in %.2f s\n", ok, dt);
  return ok == 3 ? 0 : 1;
}
// expect: ^async \+ non-blocking: 3 coroutines on one thread each waited 0\.1 s, together in [0-9.]+ s$
