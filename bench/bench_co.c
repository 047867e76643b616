#define _GNU_SOURCE
/* bench_co.c — coroutines against their anchors, in one run:
 *   1. yield round trip between two coroutines vs a swapcontext ping-pong
 *      (goal: >= 25x faster);
 *   2. spawn + run + finish per second;
 *   3. memory: N parked coroutines alive at once, RSS per coroutine
 *      (goal: <= 4.5 KiB each with their own stacks);
 *   4. a TCP echo server on coroutines against a hand-written
 *      single-threaded epoll echo server, both driven by the same load
 *      generator (bench/loadgen.c: many connections, small messages) in a
 *      child process (goal: >= 0.9x).
 * Usage: bench_co [scale]. Medians of RUNS runs. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "bench_common.h"
#include "loadgen.h"
#include "mt.h"

#define RUNS 5
static long N;

/* ---- 1. yield round trip ----------------------------------------------------------- */
static long yields;
static void *yielder(void *arg) {
  for (long i = 0; i < yields; i++) mt_co_yield();
  return NULL;
}
static double t_yield;
static bool yield_shared;
static void *yield_main(void *arg) {
  mt_co_opts_t o = { .shared_stack = yield_shared };
  mt_co_t *a = mt_co_spawn_opts(yielder, NULL, &o), *b = mt_co_spawn_opts(yielder, NULL, &o);
  double t0 = mt_now();
  mt_co_join(a, MT_FOREVER, NULL);
  mt_co_join(b, MT_FOREVER, NULL);
  t_yield = mt_now() - t0;
  return NULL;
}
static double yield_rt_ns(void) {
  yields = N * 10;
  mt_co_main(yield_main, NULL);
  return t_yield * 1e9 / (double)yields;     /* a round trip: both have yielded once */
}

static ucontext_t uc_main, uc_a, uc_b;
static long uc_left;
static void uc_a_fn(void) { while (uc_left-- > 0) swapcontext(&uc_a, &uc_b); swapcontext(&uc_a, &uc_main); }
static void uc_b_fn(void) { for (;;) swapcontext(&uc_b, &uc_a); }
static double swapcontext_rt_ns(void) {
  static char sa[65536], sb[65536];
  getcontext(&uc_a);
  uc_a.uc_stack.ss_sp = sa; uc_a.uc_stack.ss_size = sizeof sa; uc_a.uc_link = &uc_main;
  makecontext(&uc_a, uc_a_fn, 0);
  getcontext(&uc_b);
  uc_b.uc_stack.ss_sp = sb; uc_b.uc_stack.ss_size = sizeof sb; uc_b.uc_link = &uc_main;
  makecontext(&uc_b, uc_b_fn, 0);
  uc_left = N * 2;
  double t0 = mt_now();
  swapcontext(&uc_main, &uc_a);
  return (mt_now() - t0) * 1e9 / (double)(N * 2);
}

/* ---- 2. spawn + run + finish ------------------------------------------------------------ */
static void *noop(void *arg) { return arg; }
static double t_spawn;
static void *spawn_main(void *arg) {
  double t0 = mt_now();
  for (long i = 0; i < N; i += 32) {          /* in waves, as a server spawns them */
    for (int k = 0; k < 32; k++) mt_co_detach(mt_co_spawn(noop, NULL));
    mt_sleep(0);                                /* they run and finish; stacks are reused */
  }
  t_spawn = mt_now() - t0;
  return NULL;
}

/* ---- 3. memory ------------------------------------------------------------------------------ */
static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
  }
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}
static mt_event_t gate;
static long nparked;
static bool park_shared;
static double per_co_kib;
static void *parked(void *arg) {
  mt_event_wait(&gate, MT_FOREVER);
  return NULL;
}
static void *memory_main(void *arg) {
  long before = rss_kib();
  long made = 0;
  for (; made < nparked; made++) {
    mt_co_t *c = mt_co_spawn_opts(parked, NULL, &(mt_co_opts_t){ .stack_size = 16384, .shared_stack = park_shared });
    if (!c) break;
    mt_co_detach(c);
  }
  mt_sleep(0.001);                            /* every one runs once and parks */
  per_co_kib = (double)(rss_kib() - before) / (double)(made ? made : 1);
  nparked = made;
  mt_event_set(&gate);
  return NULL;
}

/* ---- 4. echo servers ------------------------------------------------------------------------- */
static void *echo_conn(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[4096];
  ssize_t n;
  while ((n = mt_recv(fd, buf, sizeof buf, 0, MT_FOREVER)) > 0)
    if (mt_send_all(fd, buf, (size_t)n, MT_FOREVER) < 0) break;
  close(fd);
  return NULL;
}
static void *co_echo_server(void *arg) {
  int l = (int)(intptr_t)arg;
  for (;;) {
    int c = mt_accept(l, NULL, NULL, MT_FOREVER);
    if (c < 0) return NULL;
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    mt_co_detach(mt_co_spawn(echo_conn, (void *)(intptr_t)c));
  }
}

static void epoll_echo_server(int l) {
  int ep = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN, .data.fd = l };
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  char buf[4096];
  for (;;) {
    struct epoll_event evs[256];
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == l) {
        int c;
        while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          int one = 1;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event ce = { .events = EPOLLIN, .data.fd = c };
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
        }
        continue;
      }
      ssize_t r;
      while ((r = recv(fd, buf, sizeof buf, 0)) > 0) {
        ssize_t off = 0;
        while (off < r) {                     /* small echoes fit the buffer */
          ssize_t w = send(fd, buf + off, (size_t)(r - off), MSG_NOSIGNAL);
          if (w < 0) { if (errno == EAGAIN) continue; break; }
          off += w;
        }
      }
      if (r == 0 || (r < 0 && errno != EAGAIN)) close(fd);
    }
  }
}

/* Starts a server process on a fresh port; returns its pid, *port set. */
static pid_t start_server(bool coroutines, int *port) {
  int l = mt_tcp_listen("127.0.0.1", 0, 1024, 0);
  *port = mt_tcp_port(l);
  pid_t pid = fork();
  if (pid == 0) {
    if (coroutines) mt_co_main(co_echo_server, (void *)(intptr_t)l);
    else epoll_echo_server(l);
    _exit(0);
  }
  close(l);
  return pid;
}

static double echo_run(bool coroutines, int conns, long msgs) {
  int port;
  pid_t srv = start_server(coroutines, &port);
  double rate = loadgen_run("127.0.0.1", port, conns, msgs, 64);
  kill(srv, SIGKILL);
  waitpid(srv, NULL, 0);
  return rate;
}

int main(int argc, char **argv) {
  double scale = argc > 1 ? atof(argv[1]) : 1.0;
  if (!(scale > 0)) { fprintf(stderr, "bench_co: scale must be a positive number\n"); return 2; }
  N = (long)(1e6 * scale);
  double a[RUNS], b[RUNS];

  for (int i = 0; i < RUNS; i++) { a[i] = yield_rt_ns(); b[i] = swapcontext_rt_ns(); }
  double y = bench_median(a, RUNS), u = bench_median(b, RUNS);
  printf("yield round trip, 2 coroutines      libmt %7.1f ns   swapcontext %7.1f ns   %5.1fx faster  (goal >= 25x: %s)\n",
         y, u, u / y, u / y >= 25 ? "met" : "NOT met");
  yield_shared = true;
  N /= 10;
  for (int i = 0; i < RUNS; i++) a[i] = yield_rt_ns();
  N *= 10;
  yield_shared = false;
  printf("yield round trip, shared-stack mode libmt %7.1f ns   (the price of copying live frames)\n",
         bench_median(a, RUNS));

  for (int i = 0; i < RUNS; i++) {
    mt_co_main(spawn_main, NULL);
    a[i] = (double)N / t_spawn;
  }
  printf("spawn + run + finish                libmt %12.0f/s\n", bench_median(a, RUNS));

  /* Each own stack is two mappings (guard + stack): a million of them need
   * vm.max_map_count above two million. As root, raise it for the run. */
  long want = (long)(1000000 * scale), maxmap = 0;
  FILE *mm = fopen("/proc/sys/vm/max_map_count", "r");
  if (mm) { if (fscanf(mm, "%ld", &maxmap) != 1) maxmap = 0; fclose(mm); }
  long restore = 0;
  if (maxmap && maxmap < 2 * want + 10000 && geteuid() == 0 && (mm = fopen("/proc/sys/vm/max_map_count", "w"))) {
    fprintf(mm, "%ld\n", 2 * want + 10000);
    fclose(mm);
    restore = maxmap;
    maxmap = 2 * want + 10000;
  }
  for (int shared = 0; shared < 2; shared++) {
    mt_event_init(&gate, 0);
    park_shared = shared;
    nparked = shared || !maxmap ? want : (maxmap - 10000) / 2 < want ? (maxmap - 10000) / 2 : want;
    mt_co_main(memory_main, NULL);
    mt_event_destroy(&gate);
    double goal = shared ? 1.5 : 4.5;
    printf("parked coroutines, %-13s %8ld alive, RSS per coroutine %5.2f KiB  (goal <= %.1f KiB: %s)\n",
           shared ? "shared stack:" : "own stacks:", nparked, per_co_kib, goal, per_co_kib <= goal ? "met" : "NOT met");
  }
  if (restore && (mm = fopen("/proc/sys/vm/max_map_count", "w"))) {
    fprintf(mm, "%ld\n", restore);
    fclose(mm);
  }

  int conns = 200;
  long msgs = (long)(200000 * scale);
  for (int i = 0; i < RUNS; i++) { a[i] = echo_run(true, conns, msgs); b[i] = echo_run(false, conns, msgs); }
  bench_report("TCP echo, 200 connections, 64 B messages", "epoll by hand", bench_median(a, RUNS),
               bench_median(b, RUNS), 0.9);
  return 0;
}
