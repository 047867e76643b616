/* loadgen.c — see loadgen.h. Each connection keeps one message in flight;
 * a reply completes when all its bytes are back, then the next is sent. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

double loadgen_run(const char *host, int port, int conns, long msgs, int size) {
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  inet_pton(AF_INET, host, &sa.sin_addr);
  int ep = epoll_create1(0);
  int *fds = calloc((size_t)conns, sizeof *fds);
  int *got = calloc((size_t)conns, sizeof *got);
  char *msg = malloc((size_t)size), buf[65536];
  memset(msg, 'm', (size_t)size);
  for (int i = 0; i < conns; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fds[i], (struct sockaddr *)&sa, sizeof sa) != 0) { perror("loadgen: connect"); exit(1); }
    int one = 1;
    setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
  }
  long sent = 0, done = 0;
  double t0 = now();
  for (int i = 0; i < conns && sent < msgs; i++, sent++)
    if (send(fds[i], msg, (size_t)size, MSG_NOSIGNAL) != size) { perror("loadgen: send"); exit(1); }
  while (done < msgs) {
    struct epoll_event evs[256];
    int n = epoll_wait(ep, evs, 256, 5000);
    if (n <= 0) { fprintf(stderr, "loadgen: server stalled\n"); exit(1); }
    for (int k = 0; k < n; k++) {
      int i = (int)evs[k].data.u32;
      ssize_t r = recv(fds[i], buf, sizeof buf, 0);
      if (r <= 0) { fprintf(stderr, "loadgen: connection lost\n"); exit(1); }
      got[i] += (int)r;
      while (got[i] >= size) {
        got[i] -= size;
        done++;
        if (sent < msgs) {
          sent++;
          if (send(fds[i], msg, (size_t)size, MSG_NOSIGNAL) != size) { perror("loadgen: send"); exit(1); }
        }
      }
    }
  }
  double rate = (double)msgs / (now() - t0);
  for (int i = 0; i < conns; i++) close(fds[i]);
  close(ep);
  free(fds);
  free(got);
  free(msg);
  return rate;
}
