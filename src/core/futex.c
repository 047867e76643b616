/* futex.c — the two futex calls the parking layer needs. Waits use
 * FUTEX_WAIT_BITSET, whose timeout is an absolute CLOCK_MONOTONIC time, so
 * a deadline never needs recomputing after a spurious wake-up. */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/internal.h"

int mt__futex_wait(uint32_t *addr, uint32_t val, int64_t deadline, bool shared) {
  int op = FUTEX_WAIT_BITSET | (shared ? 0 : FUTEX_PRIVATE_FLAG);
  struct timespec ts, *tsp = NULL;
  if (deadline != MT__NEVER) {
    ts = mt__ts(deadline < 0 ? 0 : deadline);
    tsp = &ts;
  }
  long r = syscall(SYS_futex, addr, op, val, tsp, NULL, FUTEX_BITSET_MATCH_ANY);
  if (r == -1 && errno == ETIMEDOUT) return MT_ETIMEDOUT;
  return 0;   /* woken, EAGAIN (value changed) or EINTR: the caller re-checks */
}

void mt__futex_wake(uint32_t *addr, int n, bool shared) {
  int op = FUTEX_WAKE | (shared ? 0 : FUTEX_PRIVATE_FLAG);
  syscall(SYS_futex, addr, op, n, NULL, NULL, 0);
}
