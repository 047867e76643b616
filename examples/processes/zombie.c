/* zombie.c — a zombie: a child that has exited but whose parent has not
 * yet collected its status stays in the process table in state Z. Reaping
 * it (waitpid) removes it. libmt's mt_proc_start/mt_proc_join never leaves
 * one: join reaps, and a child whose handle is freed unjoined is reaped by
 * libmt when it exits.
 * Python: os.fork() + os.waitpid(); multiprocessing reaps for you. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mt.h"

/* The state letter of /proc/PID/stat, or '-' if there is no such process. */
static char state(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return '-';
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  return p && p[1] == ' ' ? p[2] : '?';
}

static char wait_state(pid_t pid, char want) {       /* until it becomes `want`, 5 s at most */
  char s = state(pid);
  for (int i = 0; i < 5000 && s != want; i++) {
    usleep(1000);
    s = state(pid);
  }
  return s;
}

static int quick(void *arg) { return 0; }

int main(void) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  printf("raw fork: child %d exited, not yet reaped: state %c\n", (int)pid, wait_state(pid, 'Z'));
  waitpid(pid, NULL, 0);
  printf("after waitpid: state %c (gone)\n", state(pid));

  mt_proc_t *p;
  if (mt_proc_start(&p, quick, NULL, NULL)) return 1;
  pid_t lp = mt_proc_pid(p);
  mt_proc_join(p, MT_FOREVER);
  printf("mt_proc_start + mt_proc_join: exit code %d, state %c (gone)\n", mt_proc_exitcode(p), state(lp));
  mt_proc_free(p);
  if (mt_proc_start(&p, quick, NULL, NULL)) return 1;
  lp = mt_proc_pid(p);
  mt_proc_free(p);                            /* never joined */
  printf("mt_proc_free without join: state %c once it exits (libmt reaped it)\n", wait_state(lp, '-'));
  return state(lp) == '-' ? 0 : 1;
}
// expect: ^raw fork: child [0-9]+ exited, not yet reaped: state Z$
// expect: ^after waitpid: state - \(gone\)$
// expect: ^mt_proc_start \+ mt_proc_join: exit code 0, state - \(gone\)$
// expect: ^mt_proc_free without join: state - once it exits \(libmt reaped it\)$
