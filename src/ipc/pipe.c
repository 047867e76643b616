/* pipe.c — message-framed pipes over a socketpair.
 *
 * A message is an 8-byte length followed by its bytes. The socket is
 * non-blocking; a call waits for readiness through mt__fd_wait with its
 * deadline only until the first byte of a message has moved, then finishes
 * the message whatever the time, so the framing never breaks. slock and
 * rlock serialise senders and receivers of one end; reads go through a
 * 64 KiB buffer, so a stream of small messages costs one recv(2) per
 * buffer-full rather than two per message. MSG_NOSIGNAL keeps a
 * vanished peer from raising SIGPIPE: it shows up as MT_ECLOSED.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mt/ipc.h"
#include "sync/sync_internal.h"

#define RBUF 65536     /* receive buffer: many small messages per recv(2) */

struct mt_pipe {
  int fd;
  bool can_send, can_recv, broken;
  size_t max;
  mt_lock_t slock, rlock;
  unsigned char *rbuf;         /* under rlock; allocated on first recv */
  size_t rpos, rlen;
};

#define DEFAULT_MAX ((size_t)1 << 30)

static mt_pipe_t *end_new(int fd, bool s, bool r) {
  mt_pipe_t *p = mt__calloc(1, sizeof *p);
  if (!p) return NULL;
  p->fd = fd;
  p->can_send = s;
  p->can_recv = r;
  p->max = DEFAULT_MAX;
  mt_lock_init(&p->slock, MT__NOCHECK);
  mt_lock_init(&p->rlock, MT__NOCHECK);
  return p;
}

MT_API int mt_pipe_new(mt_pipe_t **a, mt_pipe_t **b, bool duplex) {
  *a = *b = NULL;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return -errno;
  if (!duplex) {
    shutdown(sv[0], SHUT_WR);
    shutdown(sv[1], SHUT_RD);
  }
  mt_pipe_t *x = end_new(sv[0], duplex, true), *y = end_new(sv[1], true, duplex);
  if (!x || !y) {
    mt__free(x);
    mt__free(y);
    close(sv[0]);
    close(sv[1]);
    return MT_ENOMEM;
  }
  mt__fd_forget(sv[0]);                 /* numbers an old fd of a scheduler's may have had */
  mt__fd_forget(sv[1]);
  *a = x;
  *b = y;
  return 0;
}

static int closed_or(int e) { return (e == EPIPE || e == ECONNRESET || e == ENOTCONN) ? MT_ECLOSED : -e; }

/* Sends n messages with as few sendmsg(2) calls as the socket allows (the
 * process pool hands a worker a batch of tasks this way). Framing is kept:
 * once a byte has moved, the rest follows whatever the time. n <= 128. */
int mt__pipe_sendv(mt_pipe_t *p, const void *const *bufs, const size_t *lens, size_t n, double timeout) {
  if (!p->can_send) return MT_EBADF;
  if (n > 128) return MT_EINVAL;
  uint64_t hdr[128];
  struct iovec iov[256];
  size_t left = 0, k = 0;
  for (size_t i = 0; i < n; i++) {
    if (lens[i] && !bufs[i]) return MT_EINVAL;
    hdr[i] = lens[i];
    iov[k++] = (struct iovec){ &hdr[i], sizeof hdr[i] };
    if (lens[i]) iov[k++] = (struct iovec){ (void *)bufs[i], lens[i] };
    left += sizeof hdr[i] + lens[i];
  }
  int64_t deadline = mt__deadline(timeout);
  struct msghdr m = { .msg_iov = iov, .msg_iovlen = k };
  bool started = false;
  int r = 0;
  mt__lock_enter(&p->slock);
  while (left) {
    ssize_t w = sendmsg(p->fd, &m, MSG_NOSIGNAL);
    if (w > 0) {
      started = true;
      left -= (size_t)w;
      while (w > 0 && m.msg_iovlen) {            /* advance past what went out */
        size_t step = (size_t)w < m.msg_iov->iov_len ? (size_t)w : m.msg_iov->iov_len;
        m.msg_iov->iov_base = (char *)m.msg_iov->iov_base + step;
        m.msg_iov->iov_len -= step;
        w -= (ssize_t)step;
        if (m.msg_iov->iov_len == 0) { m.msg_iov++; m.msg_iovlen--; }
      }
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (mt__fd_wait(p->fd, POLLOUT, started ? MT__NEVER : deadline) == MT_ETIMEDOUT) { r = MT_ETIMEDOUT; break; }
      continue;
    }
    r = closed_or(errno);
    break;
  }
  mt_lock_release(&p->slock);
  return r;
}

MT_API int mt_pipe_send(mt_pipe_t *p, const void *buf, size_t len, double timeout) {
  return mt__pipe_sendv(p, &buf, &len, 1, timeout);
}

/* Reads exactly n bytes into dst (NULL: discard), through the receive
 * buffer. Waits until `deadline` only while nothing of the message has
 * arrived (*started false). Under rlock. */
static int read_full(mt_pipe_t *p, void *dst, size_t n, int64_t deadline, bool *started) {
  if (!p->rbuf) p->rbuf = mt__malloc(RBUF);
  if (!p->rbuf) return MT_ENOMEM;
  while (n) {
    if (p->rpos < p->rlen) {                       /* serve from the buffer */
      size_t k = p->rlen - p->rpos < n ? p->rlen - p->rpos : n;
      if (dst) {
        memcpy(dst, p->rbuf + p->rpos, k);
        dst = (char *)dst + k;
      }
      p->rpos += k;
      n -= k;
      *started = true;
      continue;
    }
    /* empty buffer: a big remainder goes straight to dst */
    bool direct = dst && n >= RBUF;
    ssize_t k = recv(p->fd, direct ? dst : (void *)p->rbuf, direct ? n : RBUF, 0);
    if (k > 0) {
      if (direct) {
        *started = true;
        n -= (size_t)k;
        dst = (char *)dst + k;
      } else {
        p->rpos = 0;
        p->rlen = (size_t)k;
      }
      continue;
    }
    if (k == 0) return MT_ECLOSED;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (mt__fd_wait(p->fd, POLLIN, *started ? MT__NEVER : deadline) == MT_ETIMEDOUT) return MT_ETIMEDOUT;
      continue;
    }
    return closed_or(errno);
  }
  return 0;
}

MT_API int mt_pipe_recv(mt_pipe_t *p, void **buf, size_t *len, double timeout) {
  *buf = NULL;
  *len = 0;
  if (!p->can_recv) return MT_EBADF;
  int64_t deadline = mt__deadline(timeout);
  bool started = false;
  uint64_t hdr = 0;
  mt__lock_enter(&p->rlock);
  int r = p->broken ? MT_ECLOSED : read_full(p, &hdr, sizeof hdr, deadline, &started);
  if (r == 0 && hdr > p->max) {
    p->broken = true;                 /* cannot resynchronise: close the stream */
    shutdown(p->fd, SHUT_RDWR);
    r = MT_EMSGSIZE;
  } else if (r == 0 && hdr) {
    void *b = malloc((size_t)hdr);   /* the caller frees it with free() */
    r = read_full(p, b, (size_t)hdr, MT__NEVER, &started);   /* NULL b: drained */
    if (r == 0 && !b) r = MT_ENOMEM;
    if (r == 0) {
      *buf = b;
      *len = (size_t)hdr;
    } else {
      free(b);
    }
  }
  mt_lock_release(&p->rlock);
  return r;
}

MT_API void mt_pipe_set_max(mt_pipe_t *p, size_t max) { p->max = max; }

MT_API int mt_pipe_poll(mt_pipe_t *p, double timeout) {
  if (!p->can_recv) return MT_EBADF;
  if (mt_lock_acquire(&p->rlock, 0) == 0) {     /* (a receiver at work: just wait on the fd) */
    bool buffered = p->rpos < p->rlen;
    mt_lock_release(&p->rlock);
    if (buffered) return 0;
  }
  return mt__fd_wait(p->fd, POLLIN, mt__deadline(timeout));
}

MT_API int mt_pipe_fileno(const mt_pipe_t *p) { return p->fd; }

MT_API void mt_pipe_close(mt_pipe_t *p) {
  if (!p) return;
  mt__fd_forget(p->fd);
  close(p->fd);
  mt__free(p->rbuf);
  mt_lock_destroy(&p->slock);
  mt_lock_destroy(&p->rlock);
  mt__free(p);
}
