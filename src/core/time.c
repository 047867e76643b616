/* time.c — the monotonic clock, deadlines and mt_sleep().
 * A timeout is turned into a deadline once, at the top of each blocking
 * call; everything below works with the absolute deadline. */
#include <errno.h>
#include <math.h>
#include <time.h>

#include "core/internal.h"
#include "core/park.h"

int64_t mt__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t mt__deadline(double timeout) {
  if (!(timeout >= 0)) return MT__NEVER;        /* negative or NaN: forever */
  if (timeout > 9.0e9) return MT__NEVER;        /* ~285 years: no overflow */
  return mt__now_ns() + (int64_t)(timeout * 1e9);
}

double mt__remaining(int64_t deadline) {
  if (deadline == MT__NEVER) return -1.0;
  int64_t left = deadline - mt__now_ns();
  return left > 0 ? (double)left / 1e9 : 0.0;
}

MT_API double mt_now(void) { return (double)mt__now_ns() / 1e9; }

MT_API int mt_sleep(double seconds) {
  if (!(seconds >= 0)) return MT_EINVAL;
  int64_t deadline = mt__deadline(seconds);
  if (mt__park_in_coroutine()) {
    /* Nobody unparks this waiter: the deadline ends the park. */
    MT__WAITER(w);
    int r = mt__park(w, deadline);
    return r == MT_ETIMEDOUT ? 0 : r;
  }
  struct timespec ts = mt__ts(deadline == MT__NEVER ? INT64_MAX / 2 : deadline);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
  return 0;
}
