/* async_blocking.c — asynchronous + blocking: several lines of control
 * (threads), each blocked in its own read; the waits overlap, so three of
 * them take the time of one — socketserver's thread per connection.
 * Python: threading.Thread(target=lambda: sock.recv(...)) three times. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "mt.h"

static int fds[3][2];
static void arrive(void *arg) { ssize_t w = write(fds[(intptr_t)arg][1], "x", 1); (void)w; }

static void *reader(void *arg) {
  char c;
  return (void *)(intptr_t)(mt_read(fds[(intptr_t)arg][0], &c, 1, MT_FOREVER) == 1);   /* blocks this thread only */
}

int main(void) {
  mt_thread_t *th[3];
  mt_timer_t *tm[3];
  double t0 = mt_now();
  for (intptr_t i = 0; i < 3; i++) {
    if (pipe(fds[i]) || mt_thread_start(&th[i], reader, (void *)i, NULL)) return 1;
    if (mt_timer_start(&tm[i], 0.1, false, arrive, (void *)i)) return 1;
  }
  int ok = 0;
  for (int i = 0; i < 3; i++) {
    void *r;
    mt_thread_join(th[i], MT_FOREVER, &r);
    ok += (int)(intptr_t)r;
    mt_thread_free(th[i]);
    mt_timer_free(tm[i]);
  }
  double dt = mt_now() - t0;
  printf("async + blocking: %d threads each waited 0.1 s, together in %.2f s\n", ok, dt);
  return ok == 3 ? 0 : 1;
}
// expect: ^async \+ blocking: 3 threads each waited 0\.1 s, together in [0-9.]+ s$
