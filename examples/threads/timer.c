/* timer.c — Timers: a one-shot that fires once after 0.1 s, one cancelled
 * before it fires, and a repeating one on a fixed schedule.
 * Python: threading.Timer(0.1, f).start(), t.cancel(); repeating timers
 * are usually a Timer that re-arms itself — here it is a flag. */
#include <stdatomic.h>
#include <stdio.h>

#include "mt.h"

static mt_event_t fired;
static atomic_int cancelled_ran;

static void once(void *arg) { mt_event_set(&fired); }
static void never(void *arg) { atomic_store(&cancelled_ran, 1); }
static void tick(void *arg) {}

int main(void) {
  mt_event_init(&fired, 0);
  mt_timer_t *a, *b, *c;
  double t0 = mt_now();
  if (mt_timer_start(&a, 0.1, false, once, NULL) || mt_timer_start(&b, 0.1, false, never, NULL) ||
      mt_timer_start(&c, 0.05, true, tick, NULL))
    return 1;
  mt_timer_cancel(b);
  int r = mt_event_wait(&fired, 5);
  printf("one-shot fired after %.2f s (%s)\n", mt_now() - t0, r ? mt_strerror(r) : "ok");
  while (mt_timer_fired(c) < 4) mt_sleep(0.01);
  mt_timer_cancel(c);
  unsigned long n = mt_timer_fired(c);
  mt_sleep(0.12);
  printf("repeating timer: fired %lu times, then cancelled: no more (%lu)\n", n, mt_timer_fired(c));
  printf("cancelled timer ran: %s; fired count %lu\n", atomic_load(&cancelled_ran) ? "True" : "False", mt_timer_fired(b));
  int ok = r == 0 && mt_timer_fired(a) == 1 && mt_timer_fired(b) == 0 && mt_timer_fired(c) == n;
  mt_timer_free(a);
  mt_timer_free(b);
  mt_timer_free(c);
  mt_event_destroy(&fired);
  return ok ? 0 : 1;
}
// expect: ^one-shot fired after [0-9.]+ s \(ok\)$
// expect: ^repeating timer: fired ([4-9]|[0-9][0-9]+) times, then cancelled: no more
// expect: ^cancelled timer ran: False; fired count 0$
