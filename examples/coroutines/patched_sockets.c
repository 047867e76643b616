/* patched_sockets.c — blocking-style socket code that parks: what
 * gevent.monkey.patch_all() gives Python. Each client coroutine writes the
 * ordinary sequence connect, send, recv — no callbacks — against a slow
 * server (it answers after 0.2 s), and ten of them finish in about 0.2 s on
 * one thread, because every wait parks only its own coroutine. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mt.h"

static int port;

static void *handle(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[64];
  ssize_t n = mt_recv(fd, buf, sizeof buf, 0, 5);
  mt_sleep(0.2);                              /* a slow server */
  if (n > 0) mt_send_all(fd, buf, (size_t)n, 5);
  mt_close(fd);
  return NULL;
}

static void *server(void *arg) {
  int lfd = (int)(intptr_t)arg;
  for (int i = 0; i < 10; i++) {
    int fd = mt_accept(lfd, NULL, NULL, 5);
    if (fd < 0) break;
    mt_co_detach(mt_co_spawn(handle, (void *)(intptr_t)fd));
  }
  return NULL;
}

static int ok;
static void *client(void *arg) {
  int fd = mt_tcp_connect("127.0.0.1", port, 5);   /* socket.create_connection */
  if (fd < 0) return NULL;
  char msg[16], buf[16] = "";
  int n = snprintf(msg, sizeof msg, "hello %d", (int)(intptr_t)arg);
  mt_send_all(fd, msg, (size_t)n, 5);              /* sock.sendall */
  ssize_t r = mt_recv(fd, buf, sizeof buf - 1, 0, 5);   /* sock.recv: parks here */
  if (r == n && !memcmp(buf, msg, (size_t)n)) ok++;
  mt_close(fd);
  return NULL;
}

static void *main_co(void *arg) {
  int lfd = mt_tcp_listen("127.0.0.1", 0, 16, 0);
  if (lfd < 0) return NULL;
  port = mt_tcp_port(lfd);
  mt_co_t *srv = mt_co_spawn(server, (void *)(intptr_t)lfd);
  mt_co_t *c[10];
  double t0 = mt_now();
  for (intptr_t i = 0; i < 10; i++) c[i] = mt_co_spawn(client, (void *)i);
  mt_co_joinall(c, 10, 10);
  printf("10 blocking-style clients of a 0.2 s server: %d answered, %.2f s in all, one thread\n", ok, mt_now() - t0);
  mt_co_join(srv, 10, NULL);
  mt_close(lfd);
  return NULL;
}

int main(void) {
  if (mt_co_main(main_co, NULL)) return 1;
  return ok == 10 ? 0 : 1;
}
// expect: ^10 blocking-style clients of a 0\.2 s server: 10 answered, [0-9.]+ s in all, one thread$
