/* sigchld_ignore.c — ignoring SIGCHLD: with SIGCHLD set to SIG_IGN the
 * kernel reaps exited children at once, so they never become zombies —
 * and there is nothing left for waitpid to collect (ECHILD).
 * Python: signal.signal(signal.SIGCHLD, signal.SIG_IGN). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mt.h"

int main(void) {
  if (mt_signal_ignore(SIGCHLD)) return 1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d", (int)pid);
  int r = waitpid(pid, NULL, 0);              /* blocks until the child is gone, then fails */
  int e = errno;
  printf("SIGCHLD ignored: waitpid -> %d (%s); /proc/%d %s\n", r, r < 0 ? strerror(e) : "reaped",
         (int)pid, access(path, F_OK) ? "is gone: no zombie" : "still exists");
  mt_signal_default(SIGCHLD);
  return r < 0 && e == ECHILD ? 0 : 1;
}
// expect: ^SIGCHLD ignored: waitpid -> -1 \(No child processes\); /proc/[0-9]+ is gone: no zombie$
