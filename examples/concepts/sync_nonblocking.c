/* sync_nonblocking.c — synchronous + non-blocking: one line of control that
 * never waits. It asks "is the data there?" with a zero timeout and does
 * other work between the questions (busy, but never stuck).
 * Python: sock.setblocking(False); try: sock.recv() except BlockingIOError:
 * do_other_work(). */
#include <stdio.h>
#include <unistd.h>

#include "mt.h"

static int fds[2];
static void arrive(void *arg) { (void)arg; ssize_t w = write(fds[1], "x", 1); (void)w; }

int main(void) {
  if (pipe(fds)) return 1;
  mt_timer_t *t;
  if (mt_timer_start(&t, 0.1, false, arrive, NULL)) return 1;
  long polls = 0, work = 0;
  volatile double x = 0;
  char c;
  for (;;) {
    ssize_t r = mt_read(fds[0], &c, 1, 0);                    /* timeout 0: never waits */
    polls++;
    if (r == 1) break;
    if (r != MT_ETIMEDOUT) return 1;
    for (int i = 0; i < 10000; i++) x += i;                   /* other work meanwhile */
    work++;
  }
  mt_timer_free(t);
  printf("sync + non-blocking: asked %ld times, did %ld units of other work before the data came\n", polls, work);
  return work > 0 ? 0 : 1;
}
// expect: ^sync \+ non-blocking: asked [0-9]+ times, did [0-9]+ units of other work before the data came$
