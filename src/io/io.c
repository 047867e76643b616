/* io.c — fd IO over mt__fd_wait (core/fdwait.c): in a coroutine the wait
 * parks on the scheduler's epoll, in a thread it polls. One deadline per
 * call, computed once. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/park.h"
#include "mt/io.h"

static inline bool would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

/* The wait of the wait-first calls (mt_wait_fd, mt_read, mt_write), which
 * may find the fd ready already. A coroutine scheduler's epoll is
 * edge-triggered: a readiness whose edge an earlier call consumed (data
 * left unread, an end of stream already seen) would never wake the parked
 * coroutine, so a coroutine looks at the level first (poll with no wait).
 * The try-first calls (mt_recv, mt_send, ...) wait only after EAGAIN, when
 * the next edge is sure to come, and skip this. A thread's wait is poll(2)
 * itself: level-triggered. */
static int wait_level(int fd, short events, int64_t deadline) {
  if (mt__park_in_coroutine()) {
    struct pollfd p = { .fd = fd, .events = events };
    if (poll(&p, 1, 0) > 0) return 0;     /* ready, or an error the call will report */
  }
  return mt__fd_wait(fd, events, deadline);
}

MT_API int mt_wait_fd(int fd, int events, double timeout) {
  if (!(events & (POLLIN | POLLOUT))) return MT_EINVAL;
  return wait_level(fd, (short)(events & (POLLIN | POLLOUT)), mt__deadline(timeout));
}

MT_API ssize_t mt_read(int fd, void *buf, size_t n, double timeout) {
  int64_t deadline = mt__deadline(timeout);
  for (;;) {
    int w = wait_level(fd, POLLIN, deadline);
    if (w) return w;
    ssize_t r = read(fd, buf, n);
    if (r >= 0) return r;
    if (errno != EINTR && !would_block(errno)) return -errno;
  }
}

MT_API ssize_t mt_write(int fd, const void *buf, size_t n, double timeout) {
  int64_t deadline = mt__deadline(timeout);
  for (;;) {
    int w = wait_level(fd, POLLOUT, deadline);
    if (w) return w;
    ssize_t r = write(fd, buf, n);
    if (r >= 0) return r;
    if (errno != EINTR && !would_block(errno)) return -errno;
  }
}

MT_API ssize_t mt_recv(int fd, void *buf, size_t n, int flags, double timeout) {
  int64_t deadline = MT__NEVER;
  bool have = false;
  for (;;) {
    ssize_t r = recv(fd, buf, n, flags | MSG_DONTWAIT);
    if (r >= 0) return r;
    if (errno == EINTR) continue;
    if (!would_block(errno)) return -errno;
    if (!have) { deadline = mt__deadline(timeout); have = true; }
    int w = mt__fd_wait(fd, POLLIN, deadline);
    if (w) return w;
  }
}

MT_API ssize_t mt_send(int fd, const void *buf, size_t n, int flags, double timeout) {
  int64_t deadline = MT__NEVER;
  bool have = false;
  for (;;) {
    ssize_t r = send(fd, buf, n, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r >= 0) return r;
    if (errno == EINTR) continue;
    if (!would_block(errno)) return -errno;
    if (!have) { deadline = mt__deadline(timeout); have = true; }
    int w = mt__fd_wait(fd, POLLOUT, deadline);
    if (w) return w;
  }
}

MT_API ssize_t mt_send_all(int fd, const void *buf, size_t n, double timeout) {
  int64_t deadline = mt__deadline(timeout);
  size_t done = 0;
  while (done < n) {
    ssize_t r = mt_send(fd, (const char *)buf + done, n - done, 0,
                        deadline == MT__NEVER ? MT_FOREVER : mt__remaining(deadline));
    if (r < 0) return r;
    done += (size_t)r;
  }
  return (ssize_t)done;
}

MT_API int mt_accept(int fd, struct sockaddr *sa, socklen_t *len, double timeout) {
  int64_t deadline = MT__NEVER;
  bool have = false;
  for (;;) {
    int c = accept4(fd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) {
      mt__fd_forget(c);                       /* the number may be an old fd's */
      return c;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (!would_block(errno)) return -errno;
    if (!have) { deadline = mt__deadline(timeout); have = true; }
    int w = mt__fd_wait(fd, POLLIN, deadline);
    if (w) return w;
  }
}

MT_API int mt_close(int fd) {
  mt__fd_forget(fd);
  return close(fd) == 0 ? 0 : -errno;
}

MT_API int mt_connect(int fd, const struct sockaddr *sa, socklen_t len, double timeout) {
  mt__fd_forget(fd);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)) return -errno;
  if (connect(fd, sa, len) == 0) return 0;
  if (errno != EINPROGRESS && errno != EINTR) return -errno;
  int w = mt__fd_wait(fd, POLLOUT, mt__deadline(timeout));
  if (w) return w;
  int err = 0;
  socklen_t el = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) return -errno;
  return -err;
}

MT_API ssize_t mt_sendfile(int out, int in, off_t *off, size_t n, double timeout) {
  int64_t deadline = MT__NEVER;
  bool have = false;
  for (;;) {
    ssize_t r = sendfile(out, in, off, n);
    if (r >= 0) return r;
    if (errno == EINTR) continue;
    if (!would_block(errno)) return -errno;
    if (!have) { deadline = mt__deadline(timeout); have = true; }
    int w = mt__fd_wait(out, POLLOUT, deadline);
    if (w) return w;
  }
}
