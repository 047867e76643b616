/* daemon.c — mt_daemonize: the classic double fork, with a pidfile that is
 * locked for the daemon's lifetime and written atomically, and the outcome
 * reported back to the original process through a close-on-exec pipe. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h"
#include "mt/proc.h"

static int write_pidfile(const char *pidfile) {
  char tmp[4096], buf[32];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", pidfile, (int)getpid()) >= (int)sizeof tmp) return MT_ENAMETOOLONG;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
  int e = write(fd, buf, (size_t)n) == n && fsync(fd) == 0 ? 0 : -errno;
  close(fd);
  if (e == 0 && rename(tmp, pidfile) != 0) e = -errno;
  if (e) unlink(tmp);
  return e;
}

static void report(int fd, int code) {
  ssize_t w = write(fd, &code, sizeof code);
  (void)w;
  close(fd);
}

MT_API int mt_daemonize(const char *pidfile) {
  int lockfd = -1;
  if (pidfile) {
    char lk[4096];
    if (snprintf(lk, sizeof lk, "%s.lock", pidfile) >= (int)sizeof lk) return MT_ENAMETOOLONG;
    lockfd = open(lk, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lockfd < 0) return -errno;
    /* flock belongs to the open file, so the daemon inherits it */
    if (flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno == EWOULDBLOCK ? MT_EBUSY : -errno;
      close(lockfd);
      return e;
    }
  }
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    int e = -errno;
    if (lockfd >= 0) close(lockfd);
    return e;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    int e = -errno;
    close(p[0]);
    close(p[1]);
    if (lockfd >= 0) close(lockfd);
    return e;
  }
  if (pid > 0) {                        /* the original process */
    close(p[1]);
    if (lockfd >= 0) close(lockfd);    /* the daemon keeps its own copy */
    int code = MT_ECHILD;
    ssize_t r;
    do r = read(p[0], &code, sizeof code);
    while (r < 0 && errno == EINTR);
    close(p[0]);
    waitpid(pid, NULL, 0);             /* the intermediate child */
    if (r == (ssize_t)sizeof code && code == 0) _exit(0);
    return code ? code : MT_ECHILD;
  }
  close(p[0]);
  if (setsid() < 0) { report(p[1], -errno); _exit(1); }
  pid = fork();
  if (pid < 0) { report(p[1], -errno); _exit(1); }
  if (pid > 0) _exit(0);               /* not a session leader: no controlling tty ever */
  umask(027);
  int e = pidfile ? write_pidfile(pidfile) : 0;   /* before chdir: the path may be relative */
  if (e == 0 && chdir("/") != 0) e = -errno;
  if (e == 0) {
    int nul = open("/dev/null", O_RDWR);
    if (nul < 0) e = -errno;
    else {
      dup2(nul, 0);
      dup2(nul, 1);
      dup2(nul, 2);
      if (nul > 2) close(nul);
    }
  }
  report(p[1], e);
  if (e) _exit(1);
  return 0;
}
