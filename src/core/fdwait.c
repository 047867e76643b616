/* fdwait.c — waiting for a file descriptor with a deadline. Every libmt
 * call that blocks on an fd goes through here: a coroutine parks on its
 * scheduler's epoll (through the park hook); a plain thread uses poll(2). */
#include <errno.h>
#include <poll.h>

#include "core/internal.h"
#include "core/park.h"

int mt__fd_wait(int fd, short events, int64_t deadline) {
  if (mt__park_in_coroutine()) return mt__park_ops()->wait_fd(fd, events, deadline);
  for (;;) {
    int ms = -1;
    if (deadline != MT__NEVER) {
      int64_t left = deadline - mt__now_ns();
      if (left <= 0) ms = 0;
      else ms = left / 1000000 > INT32_MAX ? INT32_MAX : (int)((left + 999999) / 1000000);
    }
    struct pollfd p = { .fd = fd, .events = events };
    int n = poll(&p, 1, ms);
    if (n > 0) return 0;                 /* ready, or an error/hang-up the caller will see */
    if (n == 0) {
      if (ms != 0 && deadline != MT__NEVER && mt__now_ns() < deadline) continue;
      return MT_ETIMEDOUT;
    }
    if (errno != EINTR) return -errno;
  }
}

void mt__fd_forget(int fd) {
  if (mt__park_in_coroutine()) mt__park_ops()->fd_forget(fd);
}
