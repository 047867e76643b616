/* test_tls.c — the shared TLS layer (src/ftpproto/tls.c) over socketpairs:
 * handshake and data both ways, certificate and host-name checks, a clean
 * end against a truncated one, data-connection resumption with the control
 * connection's token, timeouts, handshakes of two coroutines on one
 * scheduler, key pinning, and bad certificate files. The test CA and
 * certificates are made at run time with the openssl command. */
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>

#include "testutil.h"
#include "ftpproto/tls.h"

static char dir[64];
static char ca[128], cert[128], key[128], both[128], other_ca[128], selfsigned[128];

static void sh(const char *fmt, ...) {
  char cmd[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  assert_int_equal(system(cmd), 0);
}

static int setup(void **s) {
  snprintf(dir, sizeof dir, "/tmp/mt-tls-XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(ca, sizeof ca, "%s/ca.pem", dir);
  snprintf(cert, sizeof cert, "%s/server.pem", dir);
  snprintf(key, sizeof key, "%s/server.key", dir);
  snprintf(both, sizeof both, "%s/both.pem", dir);
  snprintf(other_ca, sizeof other_ca, "%s/other.pem", dir);
  snprintf(selfsigned, sizeof selfsigned, "%s/self.pem", dir);
  const char *q = "2>/dev/null >/dev/null";
  sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
     "-subj /CN=test-ca -keyout ca.key -out ca.pem %s", dir, q);
  sh("cd %s && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost "
     "-keyout server.key -out server.csr %s", dir, q);
  sh("cd %s && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext && "
     "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
     "-extfile ext -out server.pem %s && cat server.pem server.key > both.pem", dir, q);
  sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
     "-subj /CN=other-ca -keyout other.key -out other.pem %s", dir, q);
  sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
     "-subj /CN=localhost -keyout self.key -out self.pem %s && cat self.key >> self.pem", dir, q);
  return 0;
}

static int teardown(void **s) {
  sh("rm -rf %s", dir);
  return 0;
}

static ftls_ctx_t *server_ctx(const char *c, const char *k) {
  ftls_ctx_t *x;
  char err[256];
  ftls_opts_t o = { .cert_file = c, .key_file = k };
  assert_int_equal(ftls_server_ctx(&x, &o, err, sizeof err), 0);
  return x;
}
static ftls_ctx_t *client_ctx(const char *cafile, bool verify) {
  ftls_ctx_t *x;
  ftls_opts_t o = { .ca_file = cafile, .verify = verify };
  assert_int_equal(ftls_client_ctx(&x, &o, NULL, 0), 0);
  return x;
}

/* ---- a server thread on one end of a socketpair ------------------------------------- */
typedef struct {
  ftls_ctx_t *ctx;
  int fd;
  ftls_t *control;        /* for data connections */
  int mode;               /* 0 echo until close_notify; 1 send "hello" then cut without close_notify */
  int rc;                 /* what accept returned */
  bool same, resumed;
  ftls_t *conn;           /* with keep: the connection, set once accepted (a control connection) */
  bool keep;
} srv_t;

static void *serve(void *a) {
  srv_t *s = a;
  ftls_t *t;
  s->rc = ftls_accept(&t, s->ctx, s->fd, s->control, 10);
  if (s->rc) return NULL;
  if (s->keep) __atomic_store_n(&s->conn, t, __ATOMIC_RELEASE);
  s->resumed = ftls_resumed(t);
  s->same = s->control && ftls_same_session(t, s->control);
  if (s->mode == 1) {
    ftls_write(t, "hello", 5, 10);
    shutdown(s->fd, SHUT_RDWR);                       /* the transport ends, no close_notify */
  } else {
    char buf[65536];
    ssize_t n;
    while ((n = ftls_read(t, buf, sizeof buf, 10)) > 0)
      if (ftls_write(t, buf, (size_t)n, 10) != n) break;
    if (n == 0) ftls_shutdown(t, false, 10);
  }
  if (!s->keep) ftls_free(t);
  return NULL;
}

static pthread_t start_server(srv_t *s, int fd) {
  s->fd = fd;
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, serve, s), 0);
  return th;
}

static void pair(int sv[2]) { assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0); }

/* Echo n bytes through c, then end cleanly. */
static void echo(ftls_t *c, size_t n) {
  unsigned char *out = malloc(n), *in = malloc(n);
  for (size_t i = 0; i < n; i++) out[i] = (unsigned char)(i * 7 + 3);
  size_t got = 0;
  /* write in pieces and read back as we go, so neither side's buffer fills */
  for (size_t off = 0; off < n;) {
    size_t k = n - off < 16384 ? n - off : 16384;
    assert_int_equal(ftls_write(c, out + off, k, 10), (ssize_t)k);
    off += k;
    while (got < off) {
      ssize_t r = ftls_read(c, in + got, off - got, 10);
      assert_true(r > 0);
      got += (size_t)r;
    }
  }
  assert_memory_equal(in, out, n);
  assert_int_equal(ftls_shutdown(c, true, 10), 0);    /* ours, then the server's */
  char b;
  assert_int_equal(ftls_read(c, &b, 1, 10), 0);       /* a clean end reads as 0 */
  free(out);
  free(in);
}

static void handshake_and_data_both_ways(void **st) {
  ftls_ctx_t *sc = server_ctx(cert, key), *cc = client_ctx(ca, true);
  int sv[2];
  pair(sv);
  srv_t s = { .ctx = sc };
  pthread_t th = start_server(&s, sv[0]);
  ftls_t *c;
  assert_int_equal(ftls_connect(&c, cc, sv[1], "localhost", NULL, 10), 0);
  assert_string_equal(ftls_version(c), "TLSv1.3");
  assert_non_null(ftls_cipher(c));
  assert_false(ftls_resumed(c));
  echo(c, 1 << 20);
  pthread_join(th, NULL);
  assert_int_equal(s.rc, 0);
  ftls_free(c);
  close(sv[0]);
  close(sv[1]);
  /* one PEM with the chain and the key works too; the IP form of the host is checked */
  ftls_ctx_t *sc2 = server_ctx(both, NULL);
  pair(sv);
  srv_t s2 = { .ctx = sc2 };
  th = start_server(&s2, sv[0]);
  assert_int_equal(ftls_connect(&c, cc, sv[1], "127.0.0.1", NULL, 10), 0);
  echo(c, 1000);
  pthread_join(th, NULL);
  ftls_free(c);
  close(sv[0]);
  close(sv[1]);
  ftls_ctx_free(sc);
  ftls_ctx_free(sc2);
  ftls_ctx_free(cc);
}

/* The client refuses what it cannot verify, with the reason; --insecure
 * (verify off) accepts it. */
static void verification_failures_are_refused(void **st) {
  ftls_ctx_t *sc = server_ctx(selfsigned, NULL);
  ftls_ctx_t *good = server_ctx(cert, key);
  struct { ftls_ctx_t *srv; const char *cafile; const char *host; const char *why; } cases[] = {
    { sc, ca, "localhost", "self-signed" },                  /* not issued by a trusted CA */
    { good, other_ca, "localhost", "unable to get local issuer" },
    { good, ca, "ftp.example.org", "hostname mismatch" },
    { good, ca, "10.1.2.3", "IP address mismatch" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ftls_ctx_t *cc = client_ctx(cases[i].cafile, true);
    int sv[2];
    pair(sv);
    srv_t s = { .ctx = cases[i].srv };
    pthread_t th = start_server(&s, sv[0]);
    ftls_t *c = (ftls_t *)1;
    assert_int_equal(ftls_connect(&c, cc, sv[1], cases[i].host, NULL, 10), -EACCES);
    assert_null(c);
    assert_non_null(strstr(ftls_error(NULL), "certificate verification failed"));
    assert_non_null(strstr(ftls_error(NULL), cases[i].why));
    close(sv[1]);                                       /* the server's handshake fails too */
    pthread_join(th, NULL);
    assert_true(s.rc < 0);
    close(sv[0]);
    ftls_ctx_free(cc);
  }
  ftls_ctx_t *insecure = client_ctx(NULL, false);
  int sv[2];
  pair(sv);
  srv_t s = { .ctx = sc };
  pthread_t th = start_server(&s, sv[0]);
  ftls_t *c;
  assert_int_equal(ftls_connect(&c, insecure, sv[1], "anything", NULL, 10), 0);
  echo(c, 100);
  pthread_join(th, NULL);
  ftls_free(c);
  close(sv[0]);
  close(sv[1]);
  ftls_ctx_free(insecure);
  ftls_ctx_free(sc);
  ftls_ctx_free(good);
}

/* End of stream without close_notify is not a clean end: an upload that
 * stops so may be truncated. */
static void missing_close_notify_is_reported(void **st) {
  ftls_ctx_t *sc = server_ctx(cert, key), *cc = client_ctx(ca, true);
  int sv[2];
  pair(sv);
  srv_t s = { .ctx = sc, .mode = 1 };
  pthread_t th = start_server(&s, sv[0]);
  ftls_t *c;
  assert_int_equal(ftls_connect(&c, cc, sv[1], "localhost", NULL, 10), 0);
  char buf[16];
  size_t got = 0;
  ssize_t r;
  while ((r = ftls_read(c, buf + got, sizeof buf - got, 10)) > 0) got += (size_t)r;
  assert_int_equal(got, 5);
  assert_memory_equal(buf, "hello", 5);
  assert_int_equal(r, -ECONNABORTED);
  assert_non_null(strstr(ftls_error(c), "close_notify"));
  pthread_join(th, NULL);
  ftls_free(c);
  close(sv[0]);
  close(sv[1]);
  ftls_ctx_free(sc);
  ftls_ctx_free(cc);
}

/* A control connection, then data connections that resume its ticket (the
 * same session: tls_data_reuse=same accepts them), that resume another
 * control connection's ticket (resumed, but not the same: refused), or
 * that do not resume at all. */
typedef struct { ftls_t *srv, *cli; int fds[2]; pthread_t th; srv_t s; } ctl_t;

static void control_open(ctl_t *k, ftls_ctx_t *sc, ftls_ctx_t *cc) {
  pair(k->fds);
  k->s = (srv_t){ .ctx = sc, .keep = true };
  k->th = start_server(&k->s, k->fds[0]);
  assert_int_equal(ftls_connect(&k->cli, cc, k->fds[1], "localhost", NULL, 10), 0);
  /* a round trip, so the client has read the server's post-handshake tickets */
  char b[4];
  assert_int_equal(ftls_write(k->cli, "ping", 4, 10), 4);
  size_t got = 0;
  while (got < 4) {
    ssize_t r = ftls_read(k->cli, b + got, 4 - got, 10);
    assert_true(r > 0);
    got += (size_t)r;
  }
}
static void control_close(ctl_t *k) {
  assert_int_equal(ftls_shutdown(k->cli, true, 10), 0);
  pthread_join(k->th, NULL);
  ftls_free(k->cli);
  ftls_free(k->s.conn);
  close(k->fds[0]);
  close(k->fds[1]);
}

static void data(ftls_ctx_t *sc, ftls_ctx_t *cc, ftls_t *server_control, ftls_t *offer, bool *resumed, bool *same) {
  int sv[2];
  pair(sv);
  srv_t s = { .ctx = sc, .control = server_control };
  pthread_t th = start_server(&s, sv[0]);
  ftls_t *c;
  assert_int_equal(ftls_connect(&c, cc, sv[1], "localhost", offer, 10), 0);
  echo(c, 5000);
  pthread_join(th, NULL);
  assert_int_equal(s.rc, 0);
  assert_int_equal(ftls_resumed(c), s.resumed);
  *resumed = s.resumed;
  *same = s.same;
  ftls_free(c);
  close(sv[0]);
  close(sv[1]);
}

static void data_connections_resume_the_control_session(void **st) {
  ftls_ctx_t *sc = server_ctx(cert, key), *cc = client_ctx(ca, true);
  ctl_t a, b;
  control_open(&a, sc, cc);
  control_open(&b, sc, cc);
  bool resumed, same;
  for (int i = 0; i < 3; i++) {             /* again and again: tickets refreshed */
    data(sc, cc, a.s.conn, a.cli, &resumed, &same);
    assert_true(resumed);
    assert_true(same);
  }
  data(sc, cc, a.s.conn, b.cli, &resumed, &same);     /* b's ticket on a's data connection */
  assert_true(resumed);
  assert_false(same);
  data(sc, cc, a.s.conn, NULL, &resumed, &same);      /* a client that never resumes */
  assert_false(resumed);
  assert_false(same);
  control_close(&a);
  control_close(&b);
  ftls_ctx_free(sc);
  ftls_ctx_free(cc);
}

/* A peer that never answers: the handshake gives up at the timeout. */
static void silent_peer_times_out(void **st) {
  ftls_ctx_t *cc = client_ctx(ca, true), *sc = server_ctx(cert, key);
  int sv[2];
  pair(sv);
  ftls_t *c = (ftls_t *)1;
  assert_int_equal(ftls_connect(&c, cc, sv[1], "localhost", NULL, 0.05), MT_ETIMEDOUT);
  assert_null(c);
  assert_int_equal(ftls_accept(&c, sc, sv[0], NULL, 0.05), MT_ETIMEDOUT);
  close(sv[0]);
  close(sv[1]);
  ftls_ctx_free(cc);
  ftls_ctx_free(sc);
}

/* Both ends on one scheduler thread, as coroutines: each handshake parks
 * its coroutine, never the thread, or the other end could not answer. */
static ftls_ctx_t *co_sc, *co_cc;
static int co_fds[2];
static void *co_server(void *a) {
  ftls_t *t;
  if (ftls_accept(&t, co_sc, co_fds[0], NULL, 10)) return (void *)1;
  char buf[256];
  ssize_t n;
  while ((n = ftls_read(t, buf, sizeof buf, 10)) > 0) ftls_write(t, buf, (size_t)n, 10);
  ftls_shutdown(t, false, 10);
  ftls_free(t);
  return n == 0 ? NULL : (void *)2;
}
static void *co_client(void *a) {
  ftls_t *t;
  if (ftls_connect(&t, co_cc, co_fds[1], "localhost", NULL, 10)) return (void *)3;
  char buf[6] = "";
  ftls_write(t, "hello", 5, 10);
  size_t got = 0;
  while (got < 5) {
    ssize_t r = ftls_read(t, buf + got, 5 - got, 10);
    if (r <= 0) return (void *)4;
    got += (size_t)r;
  }
  int ok = strcmp(buf, "hello") == 0 && ftls_shutdown(t, true, 10) == 0;
  ftls_free(t);
  return ok ? NULL : (void *)5;
}
static void *co_main(void *a) {
  mt_co_t *s = mt_co_spawn(co_server, NULL), *c = mt_co_spawn(co_client, NULL);
  void *rs, *rc;
  if (mt_co_join(c, 20, &rc) || mt_co_join(s, 20, &rs)) return (void *)9;
  return rs ? rs : rc;
}
static void coroutines_handshake_on_one_scheduler(void **st) {
  co_sc = server_ctx(cert, key);
  co_cc = client_ctx(ca, true);
  pair(co_fds);
  assert_int_equal(mt_co_main(co_main, NULL), 0);
  mt_close(co_fds[0]);
  mt_close(co_fds[1]);
  ftls_ctx_free(co_sc);
  ftls_ctx_free(co_cc);
}

/* The pin is the SHA-256 of the certificate's public key, the same figure
 * `openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256sum` gives. */
static void peer_key_pin(void **st) {
  ftls_ctx_t *sc = server_ctx(cert, key), *cc = client_ctx(ca, true);
  int sv[2];
  pair(sv);
  srv_t s = { .ctx = sc };
  pthread_t th = start_server(&s, sv[0]);
  ftls_t *c;
  assert_int_equal(ftls_connect(&c, cc, sv[1], "localhost", NULL, 10), 0);
  unsigned char pin[32];
  assert_int_equal(ftls_peer_key_sha256(c, pin), 0);
  char hex[65];
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", pin[i]);
  char cmd[512], want[80] = "";
  snprintf(cmd, sizeof cmd, "openssl x509 -in %s -pubkey -noout | openssl pkey -pubin -outform der | sha256sum", cert);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  assert_non_null(fgets(want, sizeof want, p));
  pclose(p);
  assert_memory_equal(hex, want, 64);
  echo(c, 10);
  pthread_join(th, NULL);
  ftls_free(c);
  close(sv[0]);
  close(sv[1]);
  ftls_ctx_free(sc);
  ftls_ctx_free(cc);
}

/* Broken configuration: a one-line reason naming the file, and no context. */
static void bad_files_are_reported(void **st) {
  ftls_ctx_t *x = (ftls_ctx_t *)1;
  char err[256];
  ftls_opts_t o = { .cert_file = "/nonexistent/cert.pem" };
  assert_int_equal(ftls_server_ctx(&x, &o, err, sizeof err), -EPROTO);
  assert_null(x);
  assert_non_null(strstr(err, "/nonexistent/cert.pem"));
  o = (ftls_opts_t){ .cert_file = cert, .key_file = other_ca };   /* not a key */
  assert_int_equal(ftls_server_ctx(&x, &o, err, sizeof err), -EPROTO);
  assert_non_null(strstr(err, other_ca));
  char otherkey[160];
  snprintf(otherkey, sizeof otherkey, "%s/other.key", dir);
  o = (ftls_opts_t){ .cert_file = cert, .key_file = otherkey };   /* a key, not this certificate's */
  assert_int_equal(ftls_server_ctx(&x, &o, err, sizeof err), -EPROTO);
  assert_non_null(strstr(err, "does not match"));
  o = (ftls_opts_t){ .cert_file = cert, .key_file = key, .min_version = "1.1" };
  assert_int_equal(ftls_server_ctx(&x, &o, err, sizeof err), -EPROTO);
  assert_non_null(strstr(err, "1.1"));
  o = (ftls_opts_t){ .cert_file = cert, .key_file = key, .ciphers = "NO-SUCH-CIPHER" };
  assert_int_equal(ftls_server_ctx(&x, &o, err, sizeof err), -EPROTO);
  assert_non_null(strstr(err, "NO-SUCH-CIPHER"));
  o = (ftls_opts_t){ .ca_file = "/nonexistent/ca.pem", .verify = true };
  assert_int_equal(ftls_client_ctx(&x, &o, err, sizeof err), -EPROTO);
  assert_non_null(strstr(err, "/nonexistent/ca.pem"));
  o = (ftls_opts_t){ .cert_file = cert, .key_file = key, .min_version = "1.3" };
  assert_int_equal(ftls_server_ctx(&x, &o, err, sizeof err), 0);
  ftls_ctx_free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(handshake_and_data_both_ways),
    cmocka_unit_test(verification_failures_are_refused),
    cmocka_unit_test(missing_close_notify_is_reported),
    cmocka_unit_test(data_connections_resume_the_control_session),
    cmocka_unit_test(silent_peer_times_out),
    cmocka_unit_test(coroutines_handshake_on_one_scheduler),
    cmocka_unit_test(peer_key_pin),
    cmocka_unit_test(bad_files_are_reported),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
