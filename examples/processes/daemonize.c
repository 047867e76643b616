/* daemonize.c — a double-fork daemon: fork, setsid, fork again, chdir("/"),
 * standard fds to /dev/null, a pidfile. The daemon is in a session of its
 * own, is not that session's leader (so it can never get a controlling
 * terminal back), and its original process exits 0 once it is set up.
 * Python: the classic os.fork(); os.setsid(); os.fork() recipe.
 * Here a child process calls mt_daemonize, so this program survives to
 * watch: the daemon writes what it sees to a file and exits. This program
 * is a child subreaper (see orphan.c), so the daemon, orphaned on purpose,
 * is adopted by it rather than init and can be reaped here. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mt.h"

static char dir[PATH_MAX], pidfile[PATH_MAX + 16], report[PATH_MAX + 16];

static int become_daemon(void *arg) {
  if (mt_daemonize(pidfile) != 0) return 1;   /* only the daemon returns */
  char cwd[PATH_MAX];
  FILE *f = fopen(report, "w");
  if (!f) return 1;
  fprintf(f, "pid %d, session leader: %s, cwd %s, stdin is /dev/null: %s\n", (int)getpid(),
          getsid(0) == getpid() ? "yes" : "no", getcwd(cwd, sizeof cwd) ? cwd : "?",
          isatty(0) ? "no" : "yes");
  fclose(f);
  return 0;
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/mt-daemonize-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  snprintf(pidfile, sizeof pidfile, "%s/d.pid", dir);
  snprintf(report, sizeof report, "%s/report", dir);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1)) return 1;
  mt_proc_t *p;
  if (mt_proc_start(&p, become_daemon, NULL, NULL)) return 1;
  mt_proc_join(p, 5);
  printf("the original process exited with code %d once the daemon was set up\n", mt_proc_exitcode(p));
  mt_proc_free(p);
  char line[512] = "";
  for (int i = 0; i < 500 && !line[0]; i++) {  /* wait for the daemon's report */
    FILE *f = fopen(report, "r");
    if (f) {
      if (!fgets(line, sizeof line, f)) line[0] = 0;
      fclose(f);
    }
    if (!line[0]) mt_sleep(0.01);
  }
  FILE *f = fopen(pidfile, "r");
  int pid = 0;
  if (f) {
    if (fscanf(f, "%d", &pid) != 1) pid = 0;
    fclose(f);
  }
  printf("pidfile says %d; the daemon says: %s", pid, line[0] ? line : "nothing\n");
  int ok = pid > 0 && strstr(line, "session leader: no, cwd /,") != NULL;
  if (pid > 0) waitpid(pid, NULL, 0);          /* adopted by us: reap it */
  unlink(report);
  unlink(pidfile);
  char lock[PATH_MAX + 32];
  snprintf(lock, sizeof lock, "%s.lock", pidfile);
  unlink(lock);
  rmdir(dir);
  return ok ? 0 : 1;
}
// expect: ^the original process exited with code 0 once the daemon was set up$
// expect: ^pidfile says [0-9]+; the daemon says: pid [0-9]+, session leader: no, cwd /, stdin is /dev/null: yes$
