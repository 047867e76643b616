/* pipe.c — pipes between processes: a duplex pipe for ping-pong (both ends
 * send and receive) and a one-way pipe (the child only sends). Messages
 * keep their boundaries, and a closed end reads as MT_ECLOSED (Python's
 * EOFError).
 * Python: a, b = Pipe(); Pipe(duplex=False); conn.send(), conn.recv(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt.h"

static mt_pipe_t *pa, *pb, *ra, *wb;

static int ponger(void *arg) {
  mt_pipe_close(pa);                          /* the child keeps its own ends only */
  mt_pipe_close(ra);
  for (int i = 0; i < 3; i++) {
    void *buf;
    size_t len;
    if (mt_pipe_recv(pb, &buf, &len, 5)) return 1;
    char reply[64];
    int n = snprintf(reply, sizeof reply, "pong %.*s", (int)len - 5, (char *)buf + 5);
    free(buf);
    if (mt_pipe_send(pb, reply, (size_t)n, 5)) return 1;
  }
  const char *words[] = { "one", "way", "only" };
  for (int i = 0; i < 3; i++)
    if (mt_pipe_send(wb, words[i], strlen(words[i]), 5)) return 1;
  return 0;                                   /* exit closes our ends */
}

int main(void) {
  if (mt_pipe_new(&pa, &pb, true) || mt_pipe_new(&ra, &wb, false)) return 1;
  mt_proc_t *p;
  if (mt_proc_start(&p, ponger, NULL, NULL)) return 1;
  mt_pipe_close(pb);
  mt_pipe_close(wb);
  for (int i = 1; i <= 3; i++) {
    char ping[32];
    int n = snprintf(ping, sizeof ping, "ping %d", i);
    void *buf;
    size_t len;
    if (mt_pipe_send(pa, ping, (size_t)n, 5) || mt_pipe_recv(pa, &buf, &len, 5)) return 1;
    printf("duplex: sent '%s', got '%.*s'\n", ping, (int)len, (char *)buf);
    free(buf);
  }
  int r;
  void *buf;
  size_t len;
  while ((r = mt_pipe_recv(ra, &buf, &len, 5)) == 0) {
    printf("one-way: got '%.*s'\n", (int)len, (char *)buf);
    free(buf);
  }
  printf("one-way: then %s (the child's end is gone)\n", mt_strerror(r));
  int bad = mt_pipe_send(ra, "x", 1, 0);
  printf("sending on the receive-only end: %s\n", mt_strerror(bad));
  mt_proc_join(p, 5);
  int code = mt_proc_exitcode(p);
  mt_proc_free(p);
  mt_pipe_close(pa);
  mt_pipe_close(ra);
  return code == 0 && r == MT_ECLOSED ? 0 : 1;
}
// expect: ^duplex: sent 'ping 1', got 'pong 1'$
// expect: ^duplex: sent 'ping 3', got 'pong 3'$
// expect: ^one-way: got 'one'$
// expect: ^one-way: got 'way'$
// expect: ^one-way: got 'only'$
// expect: ^one-way: then closed \(the child's end is gone\)$
// expect: ^sending on the receive-only end: bad file descriptor$
