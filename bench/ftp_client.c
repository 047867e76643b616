/* ftp_client.c — the FTP client of bench/ftp_compare: one small program,
 * plain POSIX and pthreads (no libmt, so the client is the same against every
 * server), built to stay out of the way of the server it measures.
 *
 *   retr  HOST PORT USER PASS PATH         one RETR, data spliced to /dev/null
 *   stor  HOST PORT USER PASS FILE PATH    one STOR, data sendfile()d from FILE
 *   small HOST PORT USER PASS SESS SECS SIZE
 *                                          SESS sessions at once, each storing
 *                                          then retrieving its own SIZE-byte
 *                                          file in a loop for SECS seconds;
 *                                          ops = transfers (a STOR or a RETR)
 *   sessions HOST PORT USER PASS CLIENTS SECS
 *                                          CLIENTS loops of connect, login,
 *                                          LIST, QUIT for SECS seconds
 *   multi HOST PORT USER PASS CLIENTS PATH CLIENTS sessions log in (in turn), then all
 *                                          RETR PATH at once; aggregate rate
 *   hold  HOST PORT USER PASS N            N logged-in sessions; prints READY,
 *                                          holds them until stdin closes, QUITs
 *   ceil-retr FILE                         the machine's ceiling for RETR: a
 *                                          bare sendfile() socket, spliced to
 *                                          /dev/null by the same receiver
 *   ceil-stor FILE DIR                     the ceiling for STOR: FILE sent with
 *                                          sendfile(), received into a new file
 *                                          in DIR by splice (socket→pipe→file)
 *   ceil-stor-rw FILE DIR                  the same received by read()/write()
 *
 * Every mode prints one line "RESULT key=value ..." (bytes, secs, ops,
 * errors) and exits 0, or a one-line message on stderr and exits 1 (bad
 * usage: 2). Data connections use EPSV to the control connection's address.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PIPE_SZ (1 << 20)

static const char *g_host;
static int g_port;
static const char *g_user, *g_pass;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("ftp_client: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

typedef struct ftp_ctl ctl_t;
static int ctl_read(ctl_t *c, char *buf, size_t cap);
static int ctl_write(ctl_t *c, const char *buf, size_t n);
#include "ftp_ctl.h"

static int ctl_read(ctl_t *c, char *buf, size_t cap) { return (int)read(c->fd, buf, cap); }
static int ctl_write(ctl_t *c, const char *buf, size_t n) { return (int)write(c->fd, buf, n); }

/* Connects and logs in; 0, or -1 with a message in c->last. */
static int ctl_open(ctl_t *c) {
  c->len = c->off = 0;
  c->last[0] = 0;
  c->fd = tcp_connect(g_host, g_port);
  if (c->fd < 0) {
    snprintf(c->last, sizeof c->last, "connect: %s", strerror(errno));
    return -1;
  }
  int code = ctl_reply(c);
  if (code != 220) goto fail;
  code = ctl_cmd(c, "USER %s", g_user);
  if (code == 331) code = ctl_cmd(c, "PASS %s", g_pass);
  if (code != 230) goto fail;
  if (ctl_cmd(c, "TYPE I") != 200) goto fail;
  return 0;
fail:
  close(c->fd);
  c->fd = -1;
  return -1;
}

static void ctl_quit(ctl_t *c) {
  ctl_cmd(c, "QUIT");
  close(c->fd);
  c->fd = -1;
}

/* EPSV, then a data connection; its fd or -1. */
static int data_open(ctl_t *c) {
  if (ctl_cmd(c, "EPSV") != 229) return -1;
  char *p = strstr(c->last, "(|||");
  if (!p) return -1;
  return tcp_connect(g_host, atoi(p + 4));
}

static int make_pipe(int p[2]) {
  if (pipe2(p, O_CLOEXEC) < 0) return -1;
  fcntl(p[1], F_SETPIPE_SZ, PIPE_SZ);
  return 0;
}

/* Moves everything from socket s to fd out through pipe p; bytes or -1. */
static long long splice_all(int s, int p[2], int out) {
  long long total = 0;
  for (;;) {
    ssize_t k = splice(s, NULL, p[1], NULL, PIPE_SZ, SPLICE_F_MOVE);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return -1;
    if (k == 0) return total;
    total += k;
    while (k > 0) {
      ssize_t w = splice(p[0], NULL, out, NULL, (size_t)k, SPLICE_F_MOVE);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return -1;
      k -= w;
    }
  }
}

static long long sendfile_all(int s, int in, long long n) {
  off_t off = 0;
  while (off < n) {
    ssize_t k = sendfile(s, in, &off, (size_t)(n - off > (1 << 20) ? 1 << 20 : n - off));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
  }
  return off;
}

static int g_devnull;

/* RETR path into /dev/null (splice) or into buf when buf is set; bytes or -1. */
static long long do_retr(ctl_t *c, const char *path, char *buf, size_t cap, int p[2]) {
  int d = data_open(c);
  if (d < 0) return -1;
  int code = ctl_cmd(c, "RETR %s", path);
  if (code != 150 && code != 125) {
    close(d);
    return -1;
  }
  long long got = 0;
  if (buf) {
    for (;;) {
      ssize_t k = read(d, buf + (got < (long long)cap ? got : 0), got < (long long)cap ? cap - (size_t)got : cap);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) {
        if (k < 0) got = -1;
        break;
      }
      got += k;
    }
  } else {
    got = splice_all(d, p, g_devnull);
  }
  close(d);
  if (ctl_reply(c) != 226) return -1;
  return got;
}

/* STOR path from fd in (n bytes, sendfile) or from buf; bytes or -1. */
static long long do_stor(ctl_t *c, const char *path, int in, const char *buf, long long n) {
  int d = data_open(c);
  if (d < 0) return -1;
  int code = ctl_cmd(c, "STOR %s", path);
  if (code != 150 && code != 125) {
    close(d);
    return -1;
  }
  long long sent;
  if (buf)
    sent = write(d, buf, (size_t)n);
  else
    sent = sendfile_all(d, in, n);
  close(d);
  if (ctl_reply(c) != 226 || sent != n) return -1;
  return sent;
}

static int do_list(ctl_t *c) {
  int d = data_open(c);
  if (d < 0) return -1;
  int code = ctl_cmd(c, "LIST");
  if (code != 150 && code != 125) {
    close(d);
    return -1;
  }
  char tmp[8192];
  while (read(d, tmp, sizeof tmp) > 0) {
  }
  close(d);
  return ctl_reply(c) == 226 ? 0 : -1;
}

/* ---- the threaded modes ---- */

static pthread_barrier_t g_start;
static double g_deadline;
static int g_size;
static const char *g_path;
static atomic_long g_ops, g_errors;
static atomic_llong g_bytes;
static char g_err[600];
static pthread_mutex_t g_err_lock = PTHREAD_MUTEX_INITIALIZER;

static void note_error(const char *what, ctl_t *c) {
  atomic_fetch_add(&g_errors, 1);
  pthread_mutex_lock(&g_err_lock);
  if (!g_err[0]) snprintf(g_err, sizeof g_err, "%.16s: %.500s", what, c->last);
  pthread_mutex_unlock(&g_err_lock);
}

static void *small_worker(void *arg) {
  long id = (long)arg;
  ctl_t *c = calloc(1, sizeof *c);
  char *out = malloc((size_t)g_size), *in = malloc((size_t)g_size + 1);
  memset(out, 'a' + (int)(id % 26), (size_t)g_size);
  char name[64];
  snprintf(name, sizeof name, "small-%ld-%d.bin", id, (int)getpid());
  int ok = ctl_open(c);
  if (ok < 0) note_error("login", c);
  pthread_barrier_wait(&g_start);
  long ops = 0;
  while (ok == 0 && now() < g_deadline) {
    if (do_stor(c, name, -1, out, g_size) < 0) {
      note_error("STOR", c);
      break;
    }
    long long got = do_retr(c, name, in, (size_t)g_size + 1, NULL);
    if (got != g_size || memcmp(in, out, (size_t)g_size) != 0) {
      note_error("RETR", c);
      break;
    }
    ops += 2;
  }
  if (ok == 0) {
    ctl_cmd(c, "DELE %s", name);
    ctl_quit(c);
  }
  atomic_fetch_add(&g_ops, ops);
  free(out);
  free(in);
  free(c);
  return NULL;
}

static void *session_worker(void *arg) {
  (void)arg;
  ctl_t *c = calloc(1, sizeof *c);
  long ops = 0;
  pthread_barrier_wait(&g_start);
  while (now() < g_deadline) {
    if (ctl_open(c) < 0) {
      note_error("login", c);
      break;
    }
    if (do_list(c) < 0) {
      note_error("LIST", c);
      close(c->fd);
      break;
    }
    if (ctl_cmd(c, "QUIT") != 221) {
      note_error("QUIT", c);
      close(c->fd);
      break;
    }
    close(c->fd);
    ops++;
  }
  atomic_fetch_add(&g_ops, ops);
  free(c);
  return NULL;
}

/* The multi sessions log in one after the other before the start (a burst
 * of 100 simultaneous connects overflows some servers' accept backlog and
 * measures that instead of the transfers). */
static ctl_t *g_multi;

static void *multi_worker(void *arg) {
  ctl_t *c = &g_multi[(long)arg];
  int p[2] = {-1, -1};
  int ok = c->fd >= 0 ? make_pipe(p) : -1;
  pthread_barrier_wait(&g_start);
  if (ok == 0) {
    long long got = do_retr(c, g_path, NULL, 0, p);
    if (got < 0)
      note_error("RETR", c);
    else
      atomic_fetch_add(&g_bytes, got);
    ctl_quit(c);
  }
  if (p[0] >= 0) {
    close(p[0]);
    close(p[1]);
  }
  return NULL;
}

/* Runs n threads of fn, started together; the wall time from the start. */
static double run_threads(int n, void *(*fn)(void *), double secs) {
  pthread_t *t = calloc((size_t)n, sizeof *t);
  pthread_barrier_init(&g_start, NULL, (unsigned)n + 1);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 << 10);
  for (long i = 0; i < n; i++)
    if (pthread_create(&t[i], &attr, fn, (void *)i) != 0) die("pthread_create: %s", strerror(errno));
  g_deadline = now() + secs; /* set before the start: the workers read it after */
  pthread_barrier_wait(&g_start);
  double t0 = now();
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  double dt = now() - t0;
  free(t);
  return dt;
}

static void raise_nofile(void) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

/* ---- the ceilings ---- */

static int listen_any(int *port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  socklen_t len = sizeof sa;
  if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s, 1) < 0 ||
      getsockname(s, (struct sockaddr *)&sa, &len) < 0)
    die("listen: %s", strerror(errno));
  *port = ntohs(sa.sin_port);
  return s;
}

static int g_ceil_file;
static long long g_ceil_size;
static int g_ceil_listener;

static void *ceil_sender(void *arg) {
  (void)arg;
  int c = accept(g_ceil_listener, NULL, NULL);
  if (c < 0 || sendfile_all(c, g_ceil_file, g_ceil_size) != g_ceil_size) die("ceiling sender failed");
  close(c);
  return NULL;
}

/* Socket to file with read()/write() through a 1 MiB buffer (the other
 * bare way; on some file systems faster than splice). */
static long long copy_rw(int s, int out) {
  static char buf[1 << 20];
  long long total = 0;
  for (;;) {
    ssize_t k = read(s, buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return -1;
    if (k == 0) return total;
    for (ssize_t o = 0; o < k;) {
      ssize_t w = write(out, buf + o, (size_t)(k - o));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return -1;
      o += w;
    }
    total += k;
  }
}

static void ceiling(const char *file, const char *dir, bool rw) {
  g_ceil_file = open(file, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (g_ceil_file < 0 || fstat(g_ceil_file, &st) < 0) die("%s: %s", file, strerror(errno));
  g_ceil_size = st.st_size;
  int port;
  g_ceil_listener = listen_any(&port);
  int out = g_devnull;
  char tmpl[4096];
  if (dir) {
    snprintf(tmpl, sizeof tmpl, "%s/ceil-stor-XXXXXX", dir);
    out = mkostemp(tmpl, O_CLOEXEC);
    if (out < 0) die("%s: %s", tmpl, strerror(errno));
  }
  int p[2];
  if (make_pipe(p) < 0) die("pipe: %s", strerror(errno));
  pthread_t t;
  pthread_create(&t, NULL, ceil_sender, NULL);
  double t0 = now();
  int s = tcp_connect("127.0.0.1", port);
  if (s < 0) die("connect: %s", strerror(errno));
  long long got = rw ? copy_rw(s, out) : splice_all(s, p, out);
  double dt = now() - t0;
  pthread_join(t, NULL);
  close(s);
  if (dir) {
    close(out);
    unlink(tmpl);
  }
  if (got != g_ceil_size) die("ceiling: got %lld of %lld bytes", got, g_ceil_size);
  printf("RESULT bytes=%lld secs=%.6f\n", got, dt);
}

static void usage(void) {
  fputs("usage: ftp_client retr|stor|small|sessions|multi|hold HOST PORT USER PASS ARGS...\n"
        "       ftp_client ceil-retr FILE | ceil-stor FILE DIR | ceil-stor-rw FILE DIR   (see the top)\n",
        stderr);
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  const char *mode = argv[1];
  g_devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  raise_nofile();
  if (!strcmp(mode, "ceil-retr") && argc == 3) {
    ceiling(argv[2], NULL, false);
    return 0;
  }
  if (!strcmp(mode, "ceil-stor") && argc == 4) {
    ceiling(argv[2], argv[3], false);
    return 0;
  }
  if (!strcmp(mode, "ceil-stor-rw") && argc == 4) {
    ceiling(argv[2], argv[3], true);
    return 0;
  }
  if (argc < 6) usage();
  g_host = argv[2];
  g_port = atoi(argv[3]);
  g_user = argv[4];
  g_pass = argv[5];
  char **a = argv + 6;
  int na = argc - 6;
  ctl_t c;
  if (!strcmp(mode, "retr") && na == 1) {
    int p[2];
    if (ctl_open(&c) < 0) die("login: %s", c.last);
    if (make_pipe(p) < 0) die("pipe: %s", strerror(errno));
    double t0 = now();
    long long got = do_retr(&c, a[0], NULL, 0, p);
    double dt = now() - t0;
    if (got < 0) die("RETR %s: %s", a[0], c.last);
    ctl_quit(&c);
    printf("RESULT bytes=%lld secs=%.6f\n", got, dt);
  } else if (!strcmp(mode, "stor") && na == 2) {
    int in = open(a[0], O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (in < 0 || fstat(in, &st) < 0) die("%s: %s", a[0], strerror(errno));
    if (ctl_open(&c) < 0) die("login: %s", c.last);
    double t0 = now();
    long long sent = do_stor(&c, a[1], in, NULL, st.st_size);
    double dt = now() - t0;
    if (sent < 0) die("STOR %s: %s", a[1], c.last);
    ctl_quit(&c);
    printf("RESULT bytes=%lld secs=%.6f\n", sent, dt);
  } else if (!strcmp(mode, "small") && na == 3) {
    g_size = atoi(a[2]);
    double dt = run_threads(atoi(a[0]), small_worker, atof(a[1]));
    printf("RESULT ops=%ld secs=%.6f errors=%ld%s%s\n", atomic_load(&g_ops), dt, atomic_load(&g_errors),
           g_err[0] ? " first=" : "", g_err);
  } else if (!strcmp(mode, "sessions") && na == 2) {
    double dt = run_threads(atoi(a[0]), session_worker, atof(a[1]));
    printf("RESULT ops=%ld secs=%.6f errors=%ld%s%s\n", atomic_load(&g_ops), dt, atomic_load(&g_errors),
           g_err[0] ? " first=" : "", g_err);
  } else if (!strcmp(mode, "multi") && na == 2) {
    g_path = a[1];
    int n = atoi(a[0]);
    g_multi = calloc((size_t)n, sizeof *g_multi);
    for (int i = 0; i < n; i++)
      if (ctl_open(&g_multi[i]) < 0) die("session %d: %s", i, g_multi[i].last);
    double dt = run_threads(atoi(a[0]), multi_worker, 0);
    printf("RESULT bytes=%lld secs=%.6f errors=%ld%s%s\n", (long long)atomic_load(&g_bytes), dt,
           atomic_load(&g_errors), g_err[0] ? " first=" : "", g_err);
  } else if (!strcmp(mode, "hold") && na == 1) {
    int n = atoi(a[0]);
    ctl_t *cs = calloc((size_t)n, sizeof *cs);
    for (int i = 0; i < n; i++)
      if (ctl_open(&cs[i]) < 0) die("session %d: %s", i, cs[i].last);
    printf("READY %d\n", n);
    fflush(stdout);
    char tmp[64];
    while (read(0, tmp, sizeof tmp) > 0) {
    }
    for (int i = 0; i < n; i++) ctl_quit(&cs[i]);
    printf("RESULT sessions=%d\n", n);
  } else {
    usage();
  }
  return 0;
}
