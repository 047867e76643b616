/* test_io.c — parking fd IO and the TCP helpers: an echo server with many
 * clients, all coroutines on one thread; fd timeouts while other
 * coroutines run; cancelling a coroutine blocked on a socket; one waiter per
 * fd direction; sendfile; the same calls from plain threads; name
 * resolution; the line reader's limits. */
#include <fcntl.h>
#include <sys/socket.h>

#include <ctype.h>

#include "testutil.h"

/* ---- echo server and clients, all coroutines ------------------------------------------ */
static int lfd;
static long echoed, client_ok;
static void *handler(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[256];
  ssize_t n;
  while ((n = mt_recv(fd, buf, sizeof buf, 0, 5)) > 0) {
    if (mt_send_all(fd, buf, (size_t)n, 5) != n) break;
    echoed += n;
  }
  mt_close(fd);
  return NULL;
}
static void *acceptor(void *arg) {
  for (int i = 0; i < 50; i++) {
    int c = mt_accept(lfd, NULL, NULL, 5);
    if (c < 0) return (void *)1;
    mt_co_detach(mt_co_spawn(handler, (void *)(intptr_t)c));
  }
  return NULL;
}
static void *client(void *arg) {
  int fd = mt_tcp_connect("127.0.0.1", mt_tcp_port(lfd), 5);
  if (fd < 0) return NULL;
  char msg[64], back[64];
  for (int round = 0; round < 20; round++) {
    int n = snprintf(msg, sizeof msg, "client %ld round %d", (long)(intptr_t)arg, round);
    if (mt_send_all(fd, msg, (size_t)n, 5) != n) break;
    size_t got = 0;
    while (got < (size_t)n) {
      ssize_t r = mt_recv(fd, back + got, (size_t)n - got, 0, 5);
      if (r <= 0) goto out;
      got += (size_t)r;
    }
    if (memcmp(msg, back, (size_t)n) != 0) goto out;
    mt_co_yield();
  }
  client_ok++;
out:
  close(fd);
  return NULL;
}
static void *echo_main(void *arg) {
  lfd = mt_tcp_listen("127.0.0.1", 0, 64, 0);
  if (lfd < 0) return (void *)1;
  mt_co_t *a = mt_co_spawn(acceptor, NULL);
  mt_co_t *c[50];
  for (intptr_t i = 0; i < 50; i++) c[i] = mt_co_spawn(client, (void *)i);
  int r = mt_co_joinall(c, 50, 30);
  mt_co_join(a, 30, NULL);
  close(lfd);
  return (void *)(intptr_t)r;
}
static void echo_server_with_many_clients(void **s) {
  echoed = client_ok = 0;
  assert_null(tu_co_main(echo_main, NULL));
  assert_int_equal(client_ok, 50);
  assert_true(echoed > 50 * 20 * 15);
}

/* ---- timeouts, cancellation, one waiter per direction ------------------------------------- */
static int sv[2];
static long spins;
static int t_res, c_res, busy_res;
static void *spinner(void *a) {
  while (!t_res) { spins++; mt_co_yield(); }
  return NULL;
}
static void *timed_reader(void *a) {
  char b[8];
  double t0 = mt_now();
  ssize_t r = mt_recv(sv[0], b, sizeof b, 0, 0.05);
  t_res = (r == MT_ETIMEDOUT && mt_now() - t0 >= 0.05) ? 1 : 2;
  return NULL;
}
static void *blocked_reader(void *a) {
  char b[8];
  c_res = (int)mt_recv(sv[0], b, sizeof b, 0, 30);
  return NULL;
}
static void *second_reader(void *a) {
  char b[8];
  busy_res = (int)mt_recv(sv[0], b, sizeof b, 0, 30);
  return NULL;
}
static void *fd_main(void *arg) {
  mt_co_t *sp = mt_co_spawn(spinner, NULL), *tr = mt_co_spawn(timed_reader, NULL);
  mt_co_join(tr, 5, NULL);
  mt_co_join(sp, 5, NULL);
  mt_co_t *br = mt_co_spawn(blocked_reader, NULL);
  mt_sleep(0.01);
  mt_co_t *sr = mt_co_spawn(second_reader, NULL);
  mt_co_join(sr, 5, NULL);                   /* refused at once: br waits already */
  mt_co_cancel(br);
  mt_co_join(br, 5, NULL);
  return NULL;
}
static void fd_timeouts_cancel_and_busy(void **s) {
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  assert_null(tu_co_main(fd_main, NULL));
  assert_int_equal(t_res, 1);
  assert_true(spins > 10);                   /* others ran while it waited */
  assert_int_equal(busy_res, MT_EBUSY);
  assert_int_equal(c_res, MT_ECANCELED);
  close(sv[0]);
  close(sv[1]);
}

/* ---- fd numbers reused after mt_close ------------------------------------------------------ */
static int reuse_ok;
static void *reuse_main(void *arg) {
  for (int round = 0; round < 20; round++) {
    int p[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p) != 0) return NULL;
    char b[4];
    if (mt_recv(p[0], b, sizeof b, 0, 0.001) != MT_ETIMEDOUT) return NULL;   /* registers p[0] */
    if (send(p[1], "hi", 2, 0) != 2) return NULL;
    if (mt_recv(p[0], b, sizeof b, 0, 1) != 2) return NULL;                  /* an edge arrives */
    mt_close(p[0]);                           /* the next pair gets the same numbers */
    mt_close(p[1]);
  }
  reuse_ok = 1;
  return NULL;
}
static void fd_numbers_reused_after_close(void **s) {
  assert_null(tu_co_main(reuse_main, NULL));
  assert_int_equal(reuse_ok, 1);
}

/* ---- sendfile, and plain threads ----------------------------------------------------------- */
static void sendfile_and_threads(void **s) {
  char path[] = "/tmp/mt-io-XXXXXX";
  int f = mkstemp(path);
  static char data[200000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i * 7);
  assert_int_equal(write(f, data, sizeof data), (ssize_t)sizeof data);
  int p[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p), 0);
  pid_t pid = fork();
  if (pid == 0) {                             /* the reader, a plain process */
    static char got[200000];
    size_t n = 0;
    while (n < sizeof got) {
      ssize_t r = mt_recv(p[1], got + n, sizeof got - n, 0, 10);
      if (r <= 0) _exit(1);
      n += (size_t)r;
    }
    _exit(memcmp(got, data, sizeof data) == 0 ? 0 : 2);
  }
  off_t off = 0;
  while (off < (off_t)sizeof data) assert_true(mt_sendfile(p[0], f, &off, sizeof data - (size_t)off, 10) > 0);
  int st;
  waitpid(pid, &st, 0);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  char b[4];
  assert_int_equal(mt_recv(p[0], b, sizeof b, 0, 0.02), MT_ETIMEDOUT);   /* thread path */
  assert_int_equal(mt_read(p[0], b, sizeof b, 0), MT_ETIMEDOUT);
  assert_int_equal(mt_wait_fd(p[0], 0, 0), MT_EINVAL);
  close(p[0]);
  close(p[1]);
  close(f);
  unlink(path);
}

/* ---- names and connect errors ----------------------------------------------------------------- */
static int lookups;
static void *resolve_main(void *arg) {
  int l = mt_tcp_listen("localhost", 0, 8, 0);   /* a name: resolved off-thread */
  if (l < 0) return (void *)1;
  int c = mt_tcp_connect("localhost", mt_tcp_port(l), 5);
  if (c < 0) return (void *)2;
  close(c);
  close(l);
  lookups = mt_tcp_connect("no-such-host.invalid", 1, 5);
  return NULL;
}
static void resolution_and_errors(void **s) {
  assert_null(tu_co_main(resolve_main, NULL));
  assert_true(lookups == MT_ENOENT || lookups == MT_EAGAIN || lookups == MT_ETIMEDOUT);   /* no DNS here */
  int l = mt_tcp_listen("127.0.0.1", 0, 8, 0);
  int port = mt_tcp_port(l);
  close(l);                                      /* nobody listens there now */
  assert_int_equal(mt_tcp_connect("127.0.0.1", port, 5), MT_ECONNREFUSED);
  int l6 = mt_tcp_listen("::1", 0, 8, MT_V6ONLY);
  if (l6 >= 0) {                                 /* IPv6 loopback, where the host has it */
    int c = mt_tcp_connect("::1", mt_tcp_port(l6), 5);
    assert_true(c >= 0);
    close(c);
    close(l6);
  }
}

/* ---- the line reader ----------------------------------------------------------------------------- */
static void line_reader_limits(void **s) {
  int p[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p), 0);
  mt_linereader_t *lr = mt_linereader_new(p[0], 10);
  const char *in = "USER bob\r\nNOOP\ntoo-long-a-line-here\r\nPASS x\r\nlast";
  assert_int_equal(write(p[1], in, strlen(in)), (ssize_t)strlen(in));
  char *line;
  size_t len;
  assert_int_equal(mt_readline(lr, &line, &len, 1), 0);
  assert_string_equal(line, "USER bob");
  assert_int_equal(mt_readline(lr, &line, &len, 1), 0);
  assert_string_equal(line, "NOOP");
  assert_int_equal(mt_readline(lr, &line, &len, 1), MT_EMSGSIZE);
  assert_int_equal(mt_readline(lr, &line, &len, 1), 0);
  assert_string_equal(line, "PASS x");
  assert_int_equal(mt_readline(lr, &line, &len, 0.02), MT_ETIMEDOUT);   /* "last" has no \n yet */
  /* a line far longer than the buffer is skipped as a whole */
  static char huge[100000];
  memset(huge, 'x', sizeof huge);
  assert_int_equal(write(p[1], "\n", 1), 1);
  assert_int_equal(mt_readline(lr, &line, &len, 1), 0);
  assert_string_equal(line, "last");
  pid_t pid = fork();
  if (pid == 0) {
    mt_send_all(p[1], huge, sizeof huge, 10);
    mt_send_all(p[1], "\nok\n", 4, 10);
    _exit(0);
  }
  assert_int_equal(mt_readline(lr, &line, &len, 10), MT_EMSGSIZE);
  assert_int_equal(mt_readline(lr, &line, &len, 10), 0);
  assert_string_equal(line, "ok");
  waitpid(pid, NULL, 0);
  close(p[1]);
  assert_int_equal(mt_readline(lr, &line, &len, 1), MT_ECLOSED);
  mt_linereader_free(lr);
  close(p[0]);
}

/* set_io: after the switch, lines come through the read function (here a
 * "decoder" that upper-cases what it reads), buffered bytes first. */
typedef struct { int fd; int calls; } upper_t;
static ssize_t upper_read(void *ctx, void *buf, size_t n, double timeout) {
  upper_t *u = ctx;
  u->calls++;
  ssize_t r = mt_recv(u->fd, buf, n, 0, timeout);
  for (ssize_t i = 0; i < r; i++) ((char *)buf)[i] = (char)toupper(((unsigned char *)buf)[i]);
  return r;
}
static void line_reader_through_a_read_function(void **s) {
  int p[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p), 0);
  mt_linereader_t *lr = mt_linereader_new(p[0], 100);
  assert_int_equal(write(p[1], "auth tls\r\nbuffered\n", 19), 19);
  char *line;
  size_t len;
  assert_int_equal(mt_readline(lr, &line, &len, 1), 0);
  assert_string_equal(line, "auth tls");
  assert_int_equal(mt_linereader_pending(lr), 9);        /* what a STARTTLS switch must refuse */
  upper_t u = { p[0], 0 };
  mt_linereader_set_io(lr, upper_read, &u);
  assert_int_equal(mt_readline(lr, &line, &len, 1), 0);
  assert_string_equal(line, "buffered");                 /* already read: as it came */
  assert_int_equal(u.calls, 0);
  assert_int_equal(write(p[1], "user bob\r\n", 10), 10);
  assert_int_equal(mt_readline(lr, &line, &len, 1), 0);
  assert_string_equal(line, "USER BOB");
  assert_true(u.calls >= 1);
  assert_int_equal(mt_readline(lr, &line, &len, 0.02), MT_ETIMEDOUT);   /* the function's timeout */
  mt_linereader_set_io(lr, NULL, NULL);                 /* back to the fd */
  assert_int_equal(write(p[1], "plain\n", 6), 6);
  assert_int_equal(mt_readline(lr, &line, &len, 1), 0);
  assert_string_equal(line, "plain");
  close(p[1]);
  assert_int_equal(mt_readline(lr, &line, &len, 1), MT_ECLOSED);
  mt_linereader_free(lr);
  close(p[0]);
}


/* The buffer grows from a small first size to fit max_line, lines arrive
 * whole across its growth, and a growth that cannot allocate says so. */
static bool fail_realloc;
static void *failing_realloc(void *p, size_t n) { return fail_realloc ? NULL : realloc(p, n); }
static void line_reader_grows(void **s) {
  int p[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p), 0);
  mt_linereader_t *lr = mt_linereader_new(p[0], 5000);
  static char big[4990];
  memset(big, 'b', sizeof big);
  big[sizeof big - 2] = '\r';
  big[sizeof big - 1] = '\n';
  assert_int_equal(mt_send_all(p[1], big, sizeof big, 5), (ssize_t)sizeof big);
  assert_int_equal(write(p[1], "NOOP\r\nPW", 8), 8);
  char *line;
  size_t len;
  assert_int_equal(mt_readline(lr, &line, &len, 5), 0);
  assert_int_equal(len, sizeof big - 2);
  for (size_t i = 0; i < len; i++) assert_int_equal(line[i], 'b');
  assert_int_equal(mt_readline(lr, &line, &len, 5), 0);
  assert_string_equal(line, "NOOP");
  assert_int_equal(mt_linereader_pending(lr), 2);      /* "PW" */
  assert_int_equal(write(p[1], "D\n", 2), 2);
  assert_int_equal(mt_readline(lr, &line, &len, 5), 0);
  assert_string_equal(line, "PWD");
  assert_int_equal(mt_linereader_pending(lr), 0);
  assert_int_equal(write(p[1], "QUIT\n", 5), 5);
  assert_int_equal(mt_readline(lr, &line, &len, 5), 0);
  assert_string_equal(line, "QUIT");
  mt_linereader_free(lr);

  /* out of memory while growing: MT_ENOMEM, and what was read stays */
  assert_int_equal(mt_set_allocator(malloc, failing_realloc, calloc, free), 0);
  lr = mt_linereader_new(p[0], 5000);
  assert_int_equal(mt_send_all(p[1], big, 1000, 5), 1000);  /* no newline yet */
  fail_realloc = false;
  assert_int_equal(mt_readline(lr, &line, &len, 0.05), MT_ETIMEDOUT);
  fail_realloc = true;
  assert_int_equal(mt_send_all(p[1], big, 1000, 5), 1000);
  assert_int_equal(mt_readline(lr, &line, &len, 5), MT_ENOMEM);
  fail_realloc = false;
  assert_int_equal(write(p[1], "\n", 1), 1);
  assert_int_equal(mt_readline(lr, &line, &len, 5), 0);
  assert_int_equal(len, 2000);
  mt_linereader_free(lr);
  assert_int_equal(mt_set_allocator(NULL, NULL, NULL, NULL), 0);
  close(p[1]);
  close(p[0]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(echo_server_with_many_clients),
    cmocka_unit_test(fd_timeouts_cancel_and_busy),
    cmocka_unit_test(fd_numbers_reused_after_close),
    cmocka_unit_test(sendfile_and_threads),
    cmocka_unit_test(resolution_and_errors),
    cmocka_unit_test(line_reader_limits),
    cmocka_unit_test(line_reader_through_a_read_function),
    cmocka_unit_test(line_reader_grows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
