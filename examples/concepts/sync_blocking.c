/* sync_blocking.c — synchronous + blocking, the first of the notes' four
 * combinations: one line of control, and each step waits (like input())
 * until its data is there, so the waits add up.
 * Python: data = sock.recv(...) three times in a row.
 * The data: a byte written into a pipe by a timer 0.1 s after we ask. */
#include <stdio.h>
#include <unistd.h>

#include "mt.h"

static int fds[2];
static void arrive(void *arg) { (void)arg; ssize_t w = write(fds[1], "x", 1); (void)w; }

int main(void) {
  if (pipe(fds)) return 1;
  double t0 = mt_now();
  for (int i = 0; i < 3; i++) {
    mt_timer_t *t;
    if (mt_timer_start(&t, 0.1, false, arrive, NULL)) return 1;
    char c;
    ssize_t r = mt_read(fds[0], &c, 1, MT_FOREVER);           /* blocks: nothing else happens */
    mt_timer_free(t);
    if (r != 1) return 1;
    printf("step %d: got its data after waiting\n", i + 1);
  }
  double dt = mt_now() - t0;
  printf("sync + blocking: 3 waits of 0.1 s one after another took %.2f s\n", dt);
  return dt >= 0.3 ? 0 : 1;
}
// expect: ^step 1: got its data after waiting$
// expect: ^step 3: got its data after waiting$
// expect: ^sync \+ blocking: 3 waits of 0\.1 s one after another took [0-9.]+ s$
