/* echo_server.c — a coroutine echo server: one coroutine accepts, one per
 * connection reads lines and sends them back. Three client coroutines talk
 * to it in the same program and check what comes back.
 * Python: gevent.server.StreamServer(addr, handle), or
 * asyncio.start_server(handle, host, port). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mt.h"

static int port, echoed;

static void *session(void *arg) {
  int fd = (int)(intptr_t)arg;
  mt_linereader_t *lr = mt_linereader_new(fd, 1024);
  char *line;
  size_t len;
  while (lr && mt_readline(lr, &line, &len, 5) == 0) {
    line[len] = '\n';
    if (mt_send_all(fd, line, len + 1, 5) < 0) break;
  }
  mt_linereader_free(lr);
  mt_close(fd);
  return NULL;
}

static void *acceptor(void *arg) {
  int lfd = (int)(intptr_t)arg;
  for (int i = 0; i < 3; i++) {
    int fd = mt_accept(lfd, NULL, NULL, 5);
    if (fd < 0) break;
    mt_co_detach(mt_co_spawn(session, (void *)(intptr_t)fd));
  }
  return NULL;
}

static void *client(void *arg) {
  int fd = mt_tcp_connect("127.0.0.1", port, 5);
  if (fd < 0) return NULL;
  mt_linereader_t *lr = mt_linereader_new(fd, 1024);
  for (int i = 0; i < 3 && lr; i++) {
    char msg[64], *line;
    size_t len;
    int n = snprintf(msg, sizeof msg, "client %d line %d\n", (int)(intptr_t)arg, i);
    if (mt_send_all(fd, msg, (size_t)n, 5) < 0 || mt_readline(lr, &line, &len, 5)) break;
    if (len == (size_t)n - 1 && !memcmp(line, msg, len)) echoed++;
  }
  mt_linereader_free(lr);
  mt_close(fd);
  return NULL;
}

static void *main_co(void *arg) {
  int lfd = mt_tcp_listen("127.0.0.1", 0, 16, 0);
  if (lfd < 0) return NULL;
  port = mt_tcp_port(lfd);
  printf("echo server listening on 127.0.0.1:%d\n", port);
  mt_co_t *a = mt_co_spawn(acceptor, (void *)(intptr_t)lfd);
  mt_co_t *c[3];
  for (intptr_t i = 0; i < 3; i++) c[i] = mt_co_spawn(client, (void *)i);
  mt_co_joinall(c, 3, 10);
  mt_co_join(a, 10, NULL);
  mt_close(lfd);
  return NULL;
}

int main(void) {
  if (mt_co_main(main_co, NULL)) return 1;
  printf("3 clients x 3 lines: %d echoed back intact\n", echoed);
  return echoed == 9 ? 0 : 1;
}
// expect: ^echo server listening on 127\.0\.0\.1:[0-9]+$
// expect: ^3 clients x 3 lines: 9 echoed back intact$
