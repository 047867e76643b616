/* poll_epoll.c — the epoll backend of poller.h: EPOLLET for both directions
 * from the first add, the kick fd level-triggered and drained here. */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "co/poller.h"
#include "core/internal.h"

struct mt__poller {
  int epfd;
  int kick;
};

#define KICK UINT64_MAX

int mt__poller_new(mt__poller_t **out, int kick_fd) {
  mt__poller_t *p = mt__malloc(sizeof *p);
  if (!p) return MT_ENOMEM;
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  p->kick = kick_fd;
  struct epoll_event ev = { .events = EPOLLIN, .data.u64 = KICK };
  if (p->epfd < 0 || epoll_ctl(p->epfd, EPOLL_CTL_ADD, kick_fd, &ev) != 0) {
    int e = -errno;
    if (p->epfd >= 0) close(p->epfd);
    mt__free(p);
    return e;
  }
  *out = p;
  return 0;
}

void mt__poller_free(mt__poller_t *p) {
  if (!p) return;
  close(p->epfd);
  mt__free(p);
}

int mt__poller_add(mt__poller_t *p, int fd) {
  struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = (uint64_t)fd };
  if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 || errno == EEXIST) return 0;
  return errno == EPERM ? 1 : -errno;
}

void mt__poller_del(mt__poller_t *p, int fd) {
  epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);   /* gone already if it was closed */
}

void mt__poller_wait(mt__poller_t *p, int timeout_ms, void (*ready)(void *ctx, int fd, unsigned what), void *ctx) {
  struct epoll_event ev[64];
  int n = epoll_wait(p->epfd, ev, 64, timeout_ms);
  for (int i = 0; i < n; i++) {
    if (ev[i].data.u64 == KICK) {
      uint64_t v;
      ssize_t r = read(p->kick, &v, sizeof v);
      (void)r;
      continue;
    }
    uint32_t e = ev[i].events;
    unsigned what = 0;
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) what |= MT__POLL_R;
    if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) what |= MT__POLL_W;
    if (what) ready(ctx, (int)ev[i].data.u64, what);
  }
}
