/* orphan.c — an orphan: a process whose parent exits first is adopted. On a
 * plain system the adopter is init (pid 1); here this program makes itself
 * a "child subreaper" (prctl), so the orphan is adopted by it and the
 * program can see it happen and reap the orphan itself.
 * Python: os.fork() in a child that then exits; os.getppid() changes. */
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1)) return 1;
  int report[2];
  if (pipe(report)) return 1;
  pid_t me = getpid();
  fflush(stdout);
  pid_t mid = fork();
  if (mid == 0) {                             /* the middle process */
    pid_t before = getpid();
    pid_t orphan = fork();
    if (orphan == 0) {
      char go;
      if (read(report[0], &go, 1) != 1) _exit(1);   /* until the middle one is gone and reaped */
      printf("orphan: parent was %d, now %d (%s)\n", (int)before, (int)getppid(),
             getppid() == me ? "the subreaper adopted me" : "init adopted me");
      fflush(stdout);
      _exit(0);
    }
    _exit(0);                                 /* the parent exits first */
  }
  waitpid(mid, NULL, 0);
  printf("middle process %d exited, leaving its child an orphan\n", (int)mid);
  fflush(stdout);
  if (write(report[1], "g", 1) != 1) return 1;
  int status;
  pid_t reaped = wait(&status);               /* the adopted orphan is our child now */
  printf("subreaper reaped the orphan %d\n", (int)reaped);
  return reaped > 0 && WEXITSTATUS(status) == 0 ? 0 : 1;
}
// expect: ^middle process [0-9]+ exited, leaving its child an orphan$
// expect: ^orphan: parent was [0-9]+, now [0-9]+ \(the subreaper adopted me\)$
// expect: ^subreaper reaped the orphan [0-9]+$
