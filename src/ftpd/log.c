/* log.c — readable session logs on stderr and the xferlog(5) transfer log.
 *
 * One line per event, written with a single write(2) so lines from
 * concurrent sessions never interleave: "2026-11-23 21:15:27 info #12 ...".
 *
 * localtime_r takes a lock inside glibc that fork(2) does not reset, so a
 * process forked while another thread logs could hang at its first log
 * line. Every time conversion here runs under tz_mu, which a pthread_atfork
 * handler holds across any fork of the process. */
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ftpd.h"

atomic_int ftpd_log_level = LOG_INFO;

static pthread_mutex_t tz_mu = PTHREAD_MUTEX_INITIALIZER;
static void tz_lock(void) { pthread_mutex_lock(&tz_mu); }
static void tz_unlock(void) { pthread_mutex_unlock(&tz_mu); }
__attribute__((constructor)) static void log_init(void) { pthread_atfork(tz_lock, tz_unlock, tz_unlock); }

static void local_time(time_t t, struct tm *tm) {
  tz_lock();
  localtime_r(&t, tm);
  tz_unlock();
}

void ftpd_log(int level, const char *fmt, ...) {
  if (level > atomic_load_explicit(&ftpd_log_level, memory_order_relaxed)) return;
  static const char *names[] = {"error", "warn", "info", "debug"};
  char line[2048];
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  local_time(tv.tv_sec, &tm);
  size_t n = strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
  n += (size_t)snprintf(line + n, sizeof line - n, " %-5s ", names[level]);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
  va_end(ap);
  n = m < 0 ? n : n + (size_t)m;
  if (n > sizeof line - 2) n = sizeof line - 2;
  for (size_t i = 0; i < n; i++)          /* client text never breaks a log line */
    if ((unsigned char)line[i] < 32) line[i] = '?';
  line[n++] = '\n';
  (void)!write(STDERR_FILENO, line, n);
}

void ftpd_xferlog(ftpd_session_t *s, double secs, off_t bytes, const char *path, char dir, bool complete) {
  int fd = s->srv->xferlog_fd;
  if (fd < 0) return;
  time_t now = time(NULL);
  struct tm tm;
  local_time(now, &tm);
  char when[64], name[FTPD_MAX_PATH + 1];
  strftime(when, sizeof when, "%a %b %e %H:%M:%S %Y", &tm);
  snprintf(name, sizeof name, "%s", path);
  for (char *c = name; *c; c++)       /* the format is space-separated */
    if (*c == ' ' || (unsigned char)*c < 32) *c = '_';
  char line[FTPD_MAX_PATH + 256];
  int n = snprintf(line, sizeof line, "%s %ld %s %lld %s %c _ %c %c %s ftp 0 * %c\n", when,
                   (long)(secs + 0.5), s->peer_ip, (long long)bytes, name, s->ascii ? 'a' : 'b', dir,
                   s->anonymous ? 'a' : 'r', s->user, complete ? 'c' : 'i');
  if (n > 0) (void)!write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
