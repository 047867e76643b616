/* fork.c — fork returns twice: the child's pid in the parent, 0 in the
 * child; getpid/getppid show who is whom. The parent then waits for its
 * child (os.wait), as it must, or the child stays a zombie (zombie.c).
 * Python: pid = os.fork(); os.getpid(), os.getppid(); os.waitpid(pid, 0). */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  fflush(stdout);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    printf("child:  fork returned 0; my pid %d, my parent %d (%s)\n", (int)getpid(), (int)getppid(),
           getppid() == parent ? "the parent" : "someone else");
    fflush(stdout);
    _exit(3);
  }
  int status;
  waitpid(pid, &status, 0);                   /* the child has printed and exited */
  printf("parent: fork returned %d (the child's pid); my pid %d\n", (int)pid, (int)getpid());
  printf("parent: child exited with code %d\n", WEXITSTATUS(status));
  return WEXITSTATUS(status) == 3 ? 0 : 1;
}
// expect: ^child:  fork returned 0; my pid [0-9]+, my parent [0-9]+ \(the parent\)$
// expect: ^parent: fork returned [0-9]+ \(the child's pid\); my pid [0-9]+$
// expect: ^parent: child exited with code 3$
