/* redis_fixture.h — the remote tests' own Redis: a redis-server on a free
 * loopback port with a throwaway directory, started, killed, paused and
 * restarted by the test; and a TCP relay in front of it that the test can
 * stall or cut (a network partition on loopback).
 *
 * rs_start waits for the server by condition: it reads the server's log
 * until "Ready to accept connections", then checks that PING answers. */
#ifndef MT_REDIS_FIXTURE_H
#define MT_REDIS_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  pid_t pid;
  int port;
  bool aof;
  char dir[128];
  char url[64];
} rs_t;

static __attribute__((unused)) double rs_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static __attribute__((unused)) int rs_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &len)) {
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

/* A fresh connection to the fixture's server, for the test's own checks. */
static redisContext *rs_connect(const rs_t *s) {
  struct timeval tv = { 2, 0 };
  redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
  if (c && !c->err) redisSetTimeout(c, tv);
  return c;
}

static __attribute__((unused)) bool rs_ping(const rs_t *s) {
  redisContext *c = rs_connect(s);
  bool ok = false;
  if (c && !c->err) {
    redisReply *r = redisCommand(c, "PING");
    ok = r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG");
    if (r) freeReplyObject(r);
  }
  if (c) redisFree(c);
  return ok;
}

/* Starts the server on s->port / s->dir (set by rs_start). 0 or -1. */
static __attribute__((unused)) int rs_spawn(rs_t *s) {
  int p[2];
  if (pipe(p)) return -1;
  char port[16];
  snprintf(port, sizeof port, "%d", s->port);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);       /* never outlive a test that failed */
    const char *bin = getenv("MT_REDIS_SERVER");
    if (!bin) bin = "redis-server";
    execlp(bin, bin, "--port", port, "--bind", "127.0.0.1", "--dir", s->dir, "--save", "",
           "--appendonly", s->aof ? "yes" : "no", "--appendfsync", "always",
           "--daemonize", "no", "--protected-mode", "no", "--databases", "4", (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  s->pid = pid;
  char buf[4096];
  size_t n = 0;
  double end = rs_now() + 20;
  bool ready = false;
  while (!ready && rs_now() < end) {
    struct pollfd pf = { p[0], POLLIN, 0 };
    if (poll(&pf, 1, 200) <= 0) continue;
    ssize_t r = read(p[0], buf + n, sizeof buf - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
    buf[n] = 0;
    if (strstr(buf, "Ready to accept connections")) ready = true;
    if (n > sizeof buf / 2) {                 /* keep the tail only */
      memmove(buf, buf + n - 64, 64);
      n = 64;
    }
  }
  close(p[0]);                                /* Redis ignores SIGPIPE: later log lines are dropped */
  if (!ready || !rs_ping(s)) {
    fprintf(stderr, "redis-server on port %d did not start: %s\n", s->port, buf);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    s->pid = 0;
    return -1;
  }
  return 0;
}

static __attribute__((unused)) int rs_start(rs_t *s, bool aof) {
  memset(s, 0, sizeof *s);
  s->aof = aof;
  snprintf(s->dir, sizeof s->dir, "/tmp/mt-redis-XXXXXX");
  if (!mkdtemp(s->dir)) return -1;
  for (int tries = 0; tries < 5; tries++) {
    s->port = rs_free_port();
    snprintf(s->url, sizeof s->url, "redis://127.0.0.1:%d", s->port);
    if (s->port > 0 && rs_spawn(s) == 0) return 0;
  }
  return -1;
}

static __attribute__((unused)) void rs_kill(rs_t *s, int sig) {
  if (s->pid <= 0) return;
  kill(s->pid, sig);
  if (sig == SIGKILL || sig == SIGTERM) {
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
  }
}

static __attribute__((unused)) int rs_rm(const char *path, const struct stat *st, int flag, struct FTW *f) {
  (void)st; (void)flag; (void)f;
  return remove(path);
}

static __attribute__((unused)) void rs_stop(rs_t *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGCONT);
    rs_kill(s, SIGKILL);
  }
  if (s->dir[0]) nftw(s->dir, rs_rm, 16, FTW_DEPTH | FTW_PHYS);
  s->dir[0] = 0;
}

/* One Redis command from the test, returning the integer answer (or -1). */
static __attribute__((unused)) long long rs_int(const rs_t *s, const char *fmt, ...) {
  redisContext *c = rs_connect(s);
  long long v = -1;
  if (c && !c->err) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r && r->type == REDIS_REPLY_INTEGER) v = r->integer;
    if (r && r->type == REDIS_REPLY_ARRAY) v = (long long)r->elements;
    if (r) freeReplyObject(r);
  }
  if (c) redisFree(c);
  return v;
}

/* ---- the relay ------------------------------------------------------------------ */
/* A process of its own (so that no forked worker inherits its sockets and
 * keeps a "cut" link alive), steered through a pipe: each relay_set waits
 * until the relay has applied the new mode. */
enum { RELAY_PASS = 'p', RELAY_STALL = 's', RELAY_CUT = 'c' };
#define RELAY_MAXC 64

typedef struct {
  pid_t pid;
  int port;
  int ctl, ack;                              /* our ends of the control pipes */
} relay_t;

static __attribute__((unused)) void relay_close_pair(int fds[][2], int i) {
  struct linger lg = { 1, 0 };              /* RST: the peer sees the link die */
  for (int k = 0; k < 2; k++) {
    if (fds[i][k] >= 0) {
      setsockopt(fds[i][k], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      close(fds[i][k]);
    }
    fds[i][k] = -1;
  }
}

static __attribute__((unused)) void relay_loop(int lfd, int target, int ctl, int ack) {
  int fds[RELAY_MAXC][2];
  for (int i = 0; i < RELAY_MAXC; i++) fds[i][0] = fds[i][1] = -1;
  char mode = RELAY_PASS;
  for (;;) {
    struct pollfd pf[2 + 2 * RELAY_MAXC];
    int idx[2 + 2 * RELAY_MAXC];
    int n = 0;
    pf[n].fd = ctl; pf[n].events = POLLIN; idx[n++] = -1;
    pf[n].fd = lfd; pf[n].events = POLLIN; idx[n++] = -1;
    if (mode == RELAY_PASS) {
      for (int i = 0; i < RELAY_MAXC; i++)
        for (int k = 0; k < 2; k++)
          if (fds[i][k] >= 0) { pf[n].fd = fds[i][k]; pf[n].events = POLLIN; idx[n++] = i * 2 + k; }
    }
    if (poll(pf, (nfds_t)n, -1) <= 0) continue;
    if (pf[0].revents) {
      char m;
      if (read(ctl, &m, 1) != 1) _exit(0);  /* the test is gone */
      mode = m;
      if (mode == RELAY_CUT)
        for (int i = 0; i < RELAY_MAXC; i++) relay_close_pair(fds, i);
      if (write(ack, &m, 1) != 1) _exit(0);
      continue;
    }
    if (pf[1].revents & POLLIN) {
      int cfd = accept(lfd, NULL, NULL);
      int slot = -1;
      for (int i = 0; i < RELAY_MAXC && slot < 0; i++) if (fds[i][0] < 0) slot = i;
      int sfd = -1;
      if (cfd >= 0 && mode != RELAY_CUT && slot >= 0) {
        sfd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)target),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (sfd >= 0 && connect(sfd, (struct sockaddr *)&a, sizeof a)) {
          close(sfd);
          sfd = -1;
        }
      }
      if (cfd >= 0 && sfd < 0) {
        int tmp[1][2] = { { cfd, -1 } };
        relay_close_pair(tmp, 0);
      } else if (cfd >= 0) {
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fds[slot][0] = cfd;
        fds[slot][1] = sfd;
      }
    }
    for (int j = 2; j < n; j++) {
      if (!pf[j].revents) continue;
      int i = idx[j] / 2, k = idx[j] % 2;
      if (fds[i][k] < 0) continue;
      char buf[65536];
      ssize_t got = read(fds[i][k], buf, sizeof buf);
      if (got <= 0) { relay_close_pair(fds, i); continue; }
      ssize_t off = 0;
      while (off < got) {
        ssize_t w = write(fds[i][1 - k], buf + off, (size_t)(got - off));
        if (w <= 0) break;
        off += w;
      }
      if (off < got) relay_close_pair(fds, i);
    }
  }
}

/* A relay on a free loopback port forwarding to 127.0.0.1:target. */
static __attribute__((unused)) int relay_start(relay_t *r, int target) {
  memset(r, 0, sizeof *r);
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof a;
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 64) ||
      getsockname(lfd, (struct sockaddr *)&a, &len))
    return -1;
  r->port = ntohs(a.sin_port);
  int c[2], k[2];
  if (pipe(c) || pipe(k)) return -1;
  fflush(NULL);
  r->pid = fork();
  if (r->pid < 0) return -1;
  if (r->pid == 0) {
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(c[1]);
    close(k[0]);
    relay_loop(lfd, target, c[0], k[1]);
    _exit(0);
  }
  close(lfd);
  close(c[0]);
  close(k[1]);
  r->ctl = c[1];
  r->ack = k[0];
  return 0;
}

static __attribute__((unused)) int relay_set(relay_t *r, char mode) {
  char m;
  return write(r->ctl, &mode, 1) == 1 && read(r->ack, &m, 1) == 1 ? 0 : -1;
}

static __attribute__((unused)) void relay_stop(relay_t *r) {
  if (r->pid <= 0) return;
  close(r->ctl);
  close(r->ack);
  kill(r->pid, SIGKILL);
  waitpid(r->pid, NULL, 0);
  r->pid = 0;
}

#endif
