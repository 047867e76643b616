/* net.c — TCP listen/connect with non-stalling name resolution, and a
 * buffered line reader. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/park.h"
#include "mt/io.h"
#include "mt/net.h"
#include "mt/pool.h"

/* ---- resolution --------------------------------------------------------------------- */
typedef struct { const char *host, *port; struct addrinfo hints, *res; int err; } resolve_t;

static int resolve_task(void *arg, void **out) {
  resolve_t *r = arg;
  r->err = getaddrinfo(r->host, r->port, &r->hints, &r->res);
  return 0;
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static mt_pool_t *g_resolver;
static void resolver_init(void) {
  mt_pool_opts_t o = { .workers = 2, .name = "mt-resolve" };
  g_resolver = mt_pool_new_opts(&o);
}

static int gai_code(int e) {
  switch (e) {
    case 0: return 0;
    case EAI_NONAME: case EAI_NODATA: return MT_ENOENT;
    case EAI_AGAIN: return MT_EAGAIN;
    case EAI_MEMORY: return MT_ENOMEM;
    case EAI_SYSTEM: return -errno;
    default: return MT_EINVAL;
  }
}

/* Resolves without blocking a scheduler: numeric first, then the helper
 * pool. The request lives on the heap: the helper thread uses it while the
 * caller is parked. */
static int resolve(const char *host, int port, int flags, struct addrinfo **res, double timeout) {
  resolve_t *r = mt__calloc(1, sizeof *r + 16);
  if (!r) return MT_ENOMEM;
  char *ps = (char *)(r + 1);
  snprintf(ps, 16, "%d", port);
  r->host = host;
  r->port = ps;
  r->hints.ai_socktype = SOCK_STREAM;
  r->hints.ai_family = AF_UNSPEC;
  r->hints.ai_flags = flags | AI_NUMERICHOST;
  r->err = getaddrinfo(host, ps, &r->hints, &r->res);
  if (r->err == EAI_NONAME && host) {
    r->hints.ai_flags = flags;
    if (!mt__park_in_coroutine()) {
      r->err = getaddrinfo(host, ps, &r->hints, &r->res);
    } else {
      pthread_once(&g_once, resolver_init);
      mt_future_t *f = g_resolver ? mt_pool_submit(g_resolver, resolve_task, r) : NULL;
      int w = f ? mt_future_wait(f, timeout) : (mt_last_error() ? mt_last_error() : MT_ENOMEM);
      if (f && w) mt_future_wait(f, MT_FOREVER);   /* the helper still uses r: let it finish */
      mt_future_release(f);
      if (w) {
        if (r->res) freeaddrinfo(r->res);
        mt__free(r);
        return w;
      }
    }
  }
  *res = r->res;
  int e = gai_code(r->err);
  mt__free(r);
  return e;
}

MT_API int mt_tcp_listen(const char *host, int port, int backlog, int flags) {
  struct addrinfo *res = NULL;
  int e = resolve(host && *host ? host : NULL, port, AI_PASSIVE, &res, MT_FOREVER);
  if (e) return e;
  int fd = -1;
  e = MT_EINVAL;
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) { e = -errno; continue; }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (flags & MT_REUSEPORT) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (a->ai_family == AF_INET6) {
      int v6 = (flags & MT_V6ONLY) ? 1 : 0;
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6);
    }
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, backlog > 0 ? backlog : 128) == 0) {
      e = 0;
      break;
    }
    e = -errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (!e) mt__fd_forget(fd);
  return e ? e : fd;
}

MT_API int mt_tcp_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return -errno;
  if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return MT_EINVAL;
}

MT_API int mt_tcp_connect(const char *host, int port, double timeout) {
  int64_t deadline = mt__deadline(timeout);
  struct addrinfo *res = NULL;
  int e = resolve(host, port, 0, &res, timeout);
  if (e) return e;
  int fd = -1;
  e = MT_ECONNREFUSED;
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) { e = -errno; continue; }
    e = mt_connect(fd, a->ai_addr, a->ai_addrlen, deadline == MT__NEVER ? MT_FOREVER : mt__remaining(deadline));
    if (e == 0) break;
    close(fd);
    fd = -1;
    if (e == MT_ETIMEDOUT || e == MT_ECANCELED) break;
  }
  freeaddrinfo(res);
  if (e == 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return e ? e : fd;
}

/* ---- the line reader ---------------------------------------------------------------------- */
#define LR_FIRST 256   /* the line buffer's first size */

struct mt_linereader {
  int fd;
  ssize_t (*read_fn)(void *ctx, void *buf, size_t n, double timeout);   /* NULL: the fd */
  void *ctx;
  size_t max, cap, full;      /* cap: buf's size now (0: none yet); full: its most */
  size_t start, end;          /* unread bytes: buf[start, end) */
  bool skipping;              /* inside an over-long line */
  char *buf;
};

MT_API mt_linereader_t *mt_linereader_new(int fd, size_t max_line) {
  mt_linereader_t *lr = mt__calloc(1, sizeof *lr);
  if (!lr) {
    mt__set_last_error(MT_ENOMEM);
    return NULL;
  }
  lr->fd = fd;
  lr->max = max_line;
  lr->full = max_line + 2 < 4096 ? 4096 : max_line + 2;
  mt__set_last_error(0);
  return lr;
}

/* Room to read into: the buffer starts small, on the first read, and
 * doubles up to `full` (room for the longest line and its CRLF), so a
 * reader of short lines holds a few hundred bytes, not max_line. */
static int lr_room(mt_linereader_t *lr) {
  if (lr->end < lr->cap) return 0;
  if (lr->cap >= lr->full) return 0;     /* full: the caller's length check acts */
  size_t ncap = lr->cap ? lr->cap * 2 : LR_FIRST;
  if (ncap > lr->full) ncap = lr->full;
  char *nb = mt__realloc(lr->buf, ncap + 1);
  if (!nb) return MT_ENOMEM;
  lr->buf = nb;
  lr->cap = ncap;
  return 0;
}
MT_API int mt_readline(mt_linereader_t *lr, char **line, size_t *len, double timeout) {
  int64_t deadline = mt__deadline(timeout);
  size_t scanned = lr->start;
  for (;;) {
    char *nl = lr->end > scanned ? memchr(lr->buf + scanned, '\n', lr->end - scanned) : NULL;
    if (nl) {
      size_t a = lr->start, n = (size_t)(nl - lr->buf) - a;
      lr->start = (size_t)(nl - lr->buf) + 1;
      if (lr->skipping) {                      /* the tail of an over-long line */
        lr->skipping = false;
        scanned = lr->start;
        return MT_EMSGSIZE;
      }
      if (n && lr->buf[a + n - 1] == '\r') n--;
      if (n > lr->max) return MT_EMSGSIZE;
      lr->buf[a + n] = 0;
      *line = lr->buf + a;
      *len = n;
      return 0;
    }
    scanned = lr->end;
    if (lr->end - lr->start > lr->max + 1) {   /* too long already: drop what we have */
      lr->skipping = true;
      lr->start = lr->end = scanned = 0;
    }
    if (lr->start > 0 && lr->end == lr->cap) {  /* make room */
      memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
      lr->end -= lr->start;
      scanned -= lr->start;
      lr->start = 0;
    }
    int g = lr_room(lr);
    if (g < 0) return g;
    double left = deadline == MT__NEVER ? MT_FOREVER : mt__remaining(deadline);
    ssize_t r = lr->read_fn ? lr->read_fn(lr->ctx, lr->buf + lr->end, lr->cap - lr->end, left)
                            : mt_recv(lr->fd, lr->buf + lr->end, lr->cap - lr->end, 0, left);
    if (r == -ENOTSOCK && !lr->read_fn)
      r = mt_read(lr->fd, lr->buf + lr->end, lr->cap - lr->end,
                  deadline == MT__NEVER ? MT_FOREVER : mt__remaining(deadline));
    if (r < 0) return (int)r;
    if (r == 0) {                              /* end of stream */
      if (lr->end > lr->start && !lr->skipping) {
        size_t a = lr->start, n = lr->end - a;
        lr->start = lr->end;
        if (n > lr->max) return MT_EMSGSIZE;
        lr->buf[a + n] = 0;
        *line = lr->buf + a;
        *len = n;
        return 0;
      }
      return MT_ECLOSED;
    }
    lr->end += (size_t)r;
  }
}

MT_API size_t mt_linereader_pending(const mt_linereader_t *lr) { return lr->end - lr->start; }

MT_API void mt_linereader_set_io(mt_linereader_t *lr, ssize_t (*read_fn)(void *ctx, void *buf, size_t n, double timeout),
                                 void *ctx) {
  lr->read_fn = read_fn;
  lr->ctx = ctx;
}

MT_API void mt_linereader_free(mt_linereader_t *lr) {
  if (!lr) return;
  mt__free(lr->buf);
  mt__free(lr);
}
