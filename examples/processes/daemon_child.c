/* daemon_child.c — daemonic children die with their parent: a parent starts
 * a daemonic child (which would run forever) and a normal one, and returns.
 * At the parent's exit libmt terminates the daemonic child; the normal one
 * goes on to its end. We watch from outside: each child holds the write end
 * of its own pipe, and end of file on that pipe means the child is gone.
 * Python: Process(target=f, daemon=True) — the notes' "守护进程" ends when
 * the main process's code ends. */
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "mt.h"

static int to_daemon[2], to_normal[2];

static int forever(void *arg) {
  close(to_normal[1]);
  for (;;) mt_sleep(1);
  return 0;
}

static int short_job(void *arg) {
  close(to_daemon[1]);
  mt_sleep(0.2);
  return write(to_normal[1], "d", 1) == 1 ? 0 : 1;      /* "I finished my work" */
}

static int parent(void *arg) {
  mt_proc_t *d, *n;
  if (mt_proc_start(&d, forever, NULL, &(mt_proc_opts_t){ .name = "daemon-child", .daemon = true })) return 1;
  if (mt_proc_start(&n, short_job, NULL, &(mt_proc_opts_t){ .name = "normal-child" })) return 1;
  close(to_daemon[1]);
  close(to_normal[1]);
  mt_proc_free(d);
  mt_proc_free(n);
  return 0;                                   /* exit: the daemonic child is terminated */
}

/* Reads fd to end of file (5 s at most); returns the bytes read, -1 on timeout. */
static int drain(int fd) {
  struct pollfd p = { fd, POLLIN, 0 };
  char c;
  int n = 0;
  while (poll(&p, 1, 5000) == 1) {
    if (read(fd, &c, 1) <= 0) return n;
    n++;
  }
  return -1;
}

int main(void) {
  if (pipe(to_daemon) || pipe(to_normal)) return 1;
  mt_proc_t *p;
  if (mt_proc_start(&p, parent, NULL, &(mt_proc_opts_t){ .name = "parent" })) return 1;
  close(to_daemon[1]);
  close(to_normal[1]);
  mt_proc_join(p, 5);
  printf("parent exited with code %d\n", mt_proc_exitcode(p));
  mt_proc_free(p);
  int d = drain(to_daemon[0]);
  printf("daemonic child: %s\n", d == 0 ? "ended with its parent" : "still running");
  int n = drain(to_normal[0]);
  printf("normal child: %s\n", n == 1 ? "finished its work after the parent had gone" : "did not finish");
  return d == 0 && n == 1 ? 0 : 1;
}
// expect: ^parent exited with code 0$
// expect: ^daemonic child: ended with its parent$
// expect: ^normal child: finished its work after the parent had gone$
