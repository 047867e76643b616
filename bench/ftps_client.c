/* ftps_client.c — the FTPS client of bench/ftps_compare: OpenSSL used
 * directly (no libmt, no ftptls), so the client is the same against every
 * server it measures.
 *
 *   sessions HOST PORT USER PASS CLIENTS SECS CAFILE
 *       CLIENTS threads, each looping for SECS seconds over one explicit
 *       FTPS session (RFC 4217): connect, AUTH TLS, PBSZ 0, PROT P, USER,
 *       PASS, EPSV, LIST over a TLS data connection that resumes the control
 *       connection's session (vsftpd's require_ssl_reuse and mtftpd's
 *       tls-data-reuse=same need that; the others accept it), QUIT. The
 *       server's certificate is verified against CAFILE with the address
 *       checked, as a real client does.
 *
 * Prints one line "RESULT ops=N secs=S errors=E tls=VERSION" and exits 0, or
 * a one-line message on stderr and exits 1 (bad usage: 2); the first error
 * seen is on stderr too.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *g_host, *g_user, *g_pass;
static int g_port;
static SSL_CTX *g_ctx;
static double g_deadline;
static atomic_long g_ops, g_errors;
static pthread_barrier_t g_start;
static pthread_mutex_t g_err_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_err[1400], g_version[32];

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The control connection: plain until AUTH TLS, then over ssl. */
#define FTP_CTL_EXTRA SSL *ssl;
#include "ftp_ctl.h"
typedef ftp_ctl_t ctl_t;

static int tcp_connect_to(int port) { return tcp_connect(g_host, port); }

static int ctl_read(ctl_t *c, char *buf, size_t cap) {
  return c->ssl ? SSL_read(c->ssl, buf, (int)cap) : (int)read(c->fd, buf, cap);
}
static int ctl_write(ctl_t *c, const char *buf, size_t n) {
  return c->ssl ? SSL_write(c->ssl, buf, (int)n) : (int)write(c->fd, buf, n);
}

static SSL *tls_on(int fd, SSL_SESSION *resume) {
  SSL *ssl = SSL_new(g_ctx);
  if (!ssl) return NULL;
  SSL_set_fd(ssl, fd);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), g_host);
  if (resume) SSL_set_session(ssl, resume);
  if (SSL_connect(ssl) != 1) {
    SSL_free(ssl);
    return NULL;
  }
  return ssl;
}

static void note(const char *what, const ctl_t *c) {
  atomic_fetch_add(&g_errors, 1);
  pthread_mutex_lock(&g_err_lock);
  if (!g_err[0]) {
    unsigned long e = ERR_peek_last_error();
    snprintf(g_err, sizeof g_err, "%s: %s%s%s", what, c->last, e ? " / " : "", e ? ERR_reason_error_string(e) : "");
  }
  pthread_mutex_unlock(&g_err_lock);
}

/* One whole session; 0, or -1 with the error noted. */
static int session(ctl_t *c) {
  c->off = c->len = 0;
  c->ssl = NULL;
  c->last[0] = 0;
  const char *what = "connect";
  int dfd = -1, rc = -1;
  SSL *d = NULL;
  SSL_SESSION *sess = NULL;
  c->fd = tcp_connect_to(g_port);
  if (c->fd < 0) goto out;
  what = "banner";
  if (ctl_reply(c) != 220) goto out;
  what = "AUTH TLS";
  if (ctl_cmd(c, "AUTH TLS") != 234) goto out;
  what = "TLS handshake";
  if (!(c->ssl = tls_on(c->fd, NULL))) goto out;
  what = "PBSZ";
  if (ctl_cmd(c, "PBSZ 0") != 200) goto out;
  what = "PROT P";
  if (ctl_cmd(c, "PROT P") != 200) goto out;
  what = "login";
  int code = ctl_cmd(c, "USER %s", g_user);
  if (code == 331) code = ctl_cmd(c, "PASS %s", g_pass);
  if (code != 230) goto out;
  what = "EPSV";
  if (ctl_cmd(c, "EPSV") != 229) goto out;
  char *p = strstr(c->last, "(|||");
  if (!p || (dfd = tcp_connect_to(atoi(p + 4))) < 0) goto out;
  what = "LIST";
  char line[] = "LIST\r\n";
  if (SSL_write(c->ssl, line, 6) != 6) goto out;
  code = ctl_reply(c);
  if (code != 150 && code != 125) goto out;
  what = "data TLS handshake";
  sess = SSL_get1_session(c->ssl);   /* the newest ticket: TLS 1.3 sends them after the handshake */
  if (!(d = tls_on(dfd, sess))) goto out;
  char buf[16384];
  int k;
  while ((k = SSL_read(d, buf, sizeof buf)) > 0) {
  }
  what = "data close_notify";
  if (SSL_get_error(d, k) != SSL_ERROR_ZERO_RETURN) goto out;
  SSL_shutdown(d);
  what = "226";
  if (ctl_reply(c) != 226) goto out;
  what = "QUIT";
  if (ctl_cmd(c, "QUIT") != 221) goto out;
  if (!g_version[0]) snprintf(g_version, sizeof g_version, "%s", SSL_get_version(c->ssl));
  SSL_shutdown(c->ssl);
  rc = 0;
out:
  if (rc) note(what, c);
  if (d) SSL_free(d);
  if (sess) SSL_SESSION_free(sess);
  if (dfd >= 0) close(dfd);
  if (c->ssl) SSL_free(c->ssl);
  if (c->fd >= 0) close(c->fd);
  ERR_clear_error();
  return rc;
}

static void *worker(void *arg) {
  (void)arg;
  ctl_t *c = calloc(1, sizeof *c);
  pthread_barrier_wait(&g_start);
  while (now() < g_deadline)
    if (session(c) == 0) atomic_fetch_add(&g_ops, 1);
  free(c);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 9 || strcmp(argv[1], "sessions")) {
    fputs("usage: ftps_client sessions HOST PORT USER PASS CLIENTS SECS CAFILE\n", stderr);
    return 2;
  }
  g_host = argv[2];
  g_port = atoi(argv[3]);
  g_user = argv[4];
  g_pass = argv[5];
  int n = atoi(argv[6]);
  double secs = atof(argv[7]);
  if (n < 1 || n > 1000 || secs <= 0) {
    fputs("ftps_client: CLIENTS 1-1000, SECS > 0\n", stderr);
    return 2;
  }
  g_ctx = SSL_CTX_new(TLS_client_method());
  if (!g_ctx || SSL_CTX_load_verify_locations(g_ctx, argv[8], NULL) != 1) {
    fprintf(stderr, "ftps_client: %s: cannot load the CA file\n", argv[8]);
    return 1;
  }
  SSL_CTX_set_verify(g_ctx, SSL_VERIFY_PEER, NULL);
  SSL_CTX_set_min_proto_version(g_ctx, TLS1_2_VERSION);
  pthread_t *t = calloc((size_t)n, sizeof *t);
  pthread_barrier_init(&g_start, NULL, (unsigned)n + 1);
  for (int i = 0; i < n; i++)
    if (pthread_create(&t[i], NULL, worker, NULL)) {
      fputs("ftps_client: cannot start a thread\n", stderr);
      return 1;
    }
  double t0 = now();
  g_deadline = t0 + secs;
  pthread_barrier_wait(&g_start);
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  double el = now() - t0;
  if (g_err[0]) fprintf(stderr, "ftps_client: first error: %s\n", g_err);
  printf("RESULT ops=%ld secs=%.3f errors=%ld tls=%s\n", atomic_load(&g_ops), el, atomic_load(&g_errors),
         g_version[0] ? g_version : "-");
  free(t);
  SSL_CTX_free(g_ctx);
  return 0;
}
