/* session.c — one FTP control connection (RFC 959, 2428, 3659).
 *
 * A session is used by one thread at a time. Replies are read with libmt's
 * line reader and ftpproto's reply state machine, each within
 * g_opts.timeout; any broken or timed-out read closes the connection, so a
 * session is never left out of step with its server. Data connections are
 * EPSV first, then PASV (the 227's address is ignored in favour of the
 * control peer's, as curl does, so a NATed or lying server cannot point us
 * elsewhere), or active PORT/EPRT on the control connection's local
 * address.
 *
 * FTPS (ftps.c does the handshakes and the certificate policy): the control
 * connection's line reader reads through TLS once it is up, and commands go
 * out through it; with PROT P every data connection is TLS too, its bytes
 * read and written here (sess_data_read/write), and closed with
 * close_notify. A download's data connection that ends without the
 * server's close_notify may have been cut by a third party: the transfer
 * fails (RFC 4217 §10).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <mt/error.h>
#include <mt/io.h>
#include <mt/time.h>

#include "ftpproto.h"
#include "listparse.h"
#include "mtftp.h"
#include "tls.h"

#define MAX_LINE 8192

void sess_init(sess_t *s) {
  memset(s, 0, sizeof *s);
  s->fd = s->data_fd = s->listen_fd = -1;
}

bool sess_connected(const sess_t *s) { return s->fd >= 0; }

static void seterr(sess_t *s, int exitcode, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(sess_t *s, int exitcode, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, sizeof s->err, fmt, ap);
  va_end(ap);
  s->err_exit = exitcode;
}

static void drop(sess_t *s) {
  ftls_free(s->dtls);
  ftls_free(s->tls);
  s->dtls = s->tls = NULL;
  s->prot_p = false;
  if (s->data_fd >= 0) mt_close(s->data_fd);
  if (s->listen_fd >= 0) mt_close(s->listen_fd);
  if (s->fd >= 0) mt_close(s->fd);
  s->fd = s->data_fd = s->listen_fd = -1;
  if (s->lr) mt_linereader_free(s->lr);
  s->lr = NULL;
  s->type = 0;
  s->pending_noops = 0;
  s->hash_ahead = false;
  s->epsv_ok = false;
  s->mode_b = false;   /* a new connection starts in MODE S */
}

void sess_drop(sess_t *s) { drop(s); }

/* The control connection's bytes out: through TLS once it is up. */
static ssize_t ctrl_send(sess_t *s, const void *buf, size_t n, double timeout) {
  return s->tls ? ftls_write(s->tls, buf, n, timeout) : mt_send_all(s->fd, buf, n, timeout);
}

static ssize_t tls_read(void *ctx, void *buf, size_t n, double timeout) { return ftls_read(ctx, buf, n, timeout); }

void sess_close(sess_t *s) {
  if (s->fd >= 0 && s->data_fd < 0) {
    /* a polite QUIT, never a long wait */
    if (ctrl_send(s, "QUIT\r\n", 6, 2) == 6) {
      if (g_opts.verbose > 0) fprintf(stderr, "--> QUIT\n");
      sess_reply(s, 2);
    }
    if (s->tls) ftls_shutdown(s->tls, false, 1);   /* close_notify; the server's is not awaited */
  }
  drop(s);
  free(s->text);
  s->text = NULL;
  s->text_len = s->text_cap = 0;
  free(s->buf);
  s->buf = NULL;
}

char *sess_buf(sess_t *s) {
  if (!s->buf) s->buf = malloc(XFER_BUFSZ);
  return s->buf;
}

static void text_add(sess_t *s, const char *line, size_t len) {
  if (s->text_len + len + 2 > s->text_cap) {
    size_t cap = s->text_cap ? s->text_cap * 2 : 1024;
    while (cap < s->text_len + len + 2) cap *= 2;
    char *t = realloc(s->text, cap);
    if (!t) return;
    s->text = t;
    s->text_cap = cap;
  }
  memcpy(s->text + s->text_len, line, len);
  s->text_len += len;
  s->text[s->text_len++] = '\n';
  s->text[s->text_len] = 0;
}

int sess_reply(sess_t *s, double timeout) {
  if (s->fd < 0) return MT_ENOTCONN;
  ftpp_reply_t r;
  ftpp_reply_init(&r);
  s->text_len = 0;
  if (s->text) s->text[0] = 0;
  for (;;) {
    char *line;
    size_t len;
    int rc = mt_readline(s->lr, &line, &len, timeout);
    if (rc == MT_EMSGSIZE) continue;   /* an absurd line inside a reply: skipped */
    if (rc < 0) {
      seterr(s, EX_CONNECT, "%s", rc == MT_ECLOSED ? "connection closed by the server"
                                  : s->tls && *ftls_error(s->tls) ? ftls_error(s->tls) : mt_strerror(rc));
      drop(s);
      return rc;
    }
    if (g_opts.verbose > 0) {
      prog_clear();
      fprintf(stderr, "<-- %s\n", line);
    }
    text_add(s, line, len);
    int fr = ftpp_reply_feed(&r, line, len);
    if (fr < 0) {
      seterr(s, EX_CONNECT, "not an FTP reply: %.60s", line);
      drop(s);
      return MT_EINVAL;
    }
    if (fr == FTPP_REPLY_DONE) {
      snprintf(s->reply, sizeof s->reply, "%s", line);
      s->code = r.code;
      return r.code;
    }
  }
}

/* Formats one command line into buf (CRLF added), shown with -v; its
 * length, or MT_EINVAL for a line too long or holding a line break. */
static int format_line(sess_t *s, char *buf, size_t cap, const char *fmt, va_list ap) {
  int n = vsnprintf(buf, cap - 2, fmt, ap);
  if (n < 0 || (size_t)n >= cap - 2 || memchr(buf, '\r', (size_t)n) || memchr(buf, '\n', (size_t)n)) {
    seterr(s, EX_USAGE_, "command too long or holds a line break");
    return MT_EINVAL;
  }
  if (g_opts.verbose > 0) {
    prog_clear();
    if (!strncasecmp(buf, "PASS ", 5)) fprintf(stderr, "--> PASS ****\n");
    else fprintf(stderr, "--> %s\n", buf);
  }
  buf[n++] = '\r';
  buf[n++] = '\n';
  return n;
}

/* Sends buf[0..n) on the control connection (one or more command lines). */
static int send_raw(sess_t *s, const char *buf, size_t n) {
  ssize_t w = ctrl_send(s, buf, n, g_opts.timeout);
  if (w < 0) {
    seterr(s, EX_CONNECT, "%s", s->tls ? ftls_error(s->tls) : mt_strerror((int)w));
    drop(s);
    return (int)w;
  }
  s->last_cmd = mt_now();
  return 0;
}

static int vsend(sess_t *s, const char *fmt, va_list ap) {
  if (s->fd < 0) {
    seterr(s, EX_CONNECT, "not connected");
    return MT_ENOTCONN;
  }
  char buf[MAX_LINE];
  int n = format_line(s, buf, sizeof buf, fmt, ap);
  return n < 0 ? n : send_raw(s, buf, (size_t)n);
}

int sess_send(sess_t *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsend(s, fmt, ap);
  va_end(ap);
  return r;
}

/* The reply to the command just sent; a pipelined HASH's comes first. */
static int cmd_reply(sess_t *s) {
  int r = sess_reply(s, g_opts.timeout);
  if (r > 0 && s->hash_ahead) {
    s->hash_ahead = false;
    s->ahead_code = r;
    snprintf(s->ahead_reply, sizeof s->ahead_reply, "%s", s->reply);
    r = sess_reply(s, g_opts.timeout);
  }
  return r;
}

int sess_cmd(sess_t *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsend(s, fmt, ap);
  va_end(ap);
  if (r < 0) return r;
  return cmd_reply(s);
}

static bool has_word(const char *text, const char *w) {
  for (const char *p = text; (p = strcasestr(p, w)); p++)
    return true;
  return false;
}

int sess_fail(sess_t *s, int r) {
  if (r < 0) {
    if (!s->err[0]) seterr(s, EX_CONNECT, "%s", mt_strerror(r));
    return s->err_exit ? s->err_exit : EX_CONNECT;
  }
  int ex = EX_REMOTE;
  const char *t = s->reply;
  switch (r) {
    case 421: ex = EX_CONNECT; break;
    case 530: case 532: case 553: ex = EX_PERM; break;
    case 425: case 426: case 451: case 452: case 552: ex = EX_XFER; break;
    case 450: case 550:
      if (has_word(t, "ermission") || has_word(t, "denied") || has_word(t, "privilege") || has_word(t, "not allowed"))
        ex = EX_PERM;
      else if (r == 550 || has_word(t, "no such") || has_word(t, "not found"))
        ex = EX_NOTFOUND;
      break;
    default: break;
  }
  seterr(s, ex, "%s", t);
  return ex;
}

static void parse_feat(sess_t *s) {
  if (!s->text) return;
  for (char *p = s->text; *p;) {
    char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n > 1 && p[0] == ' ') {
      char f[64];
      size_t k = 0;
      for (size_t i = 1; i < n && k + 1 < sizeof f && p[i] != ' '; i++) f[k++] = (char)toupper((unsigned char)p[i]);
      f[k] = 0;
      if (!strcmp(f, "MLST")) s->feat_mlst = true;
      else if (!strcmp(f, "SIZE")) s->feat_size = true;
      else if (!strcmp(f, "MDTM")) s->feat_mdtm = true;
      else if (!strcmp(f, "MFMT")) s->feat_mfmt = true;
      else if (!strcmp(f, "REST")) s->feat_rest = true;
      else if (!strcmp(f, "UTF8")) s->feat_utf8 = true;
      else if (!strcmp(f, "RANG")) s->feat_rang = true;
      else if (!strcmp(f, "HASH")) {
        char line[256];
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        if (strcasestr(line, "SHA-256")) s->feat_hash_sha256 = true;
        s->hash_selected = strcasestr(line, "SHA-256*") != NULL;
      }
    }
    p = e ? e + 1 : p + n;
  }
}

int sess_open(sess_t *s, const target_t *t) {
  drop(s);
  s->err[0] = 0;
  s->err_exit = 0;
  s->key_pinned = false;
  s->tls_ctx = NULL;
  const char *host = t->host, *user = t->user, *pass = t->pass;
  int port = t->port;
  snprintf(s->host, sizeof s->host, "%s", host);
  s->port = port;
  snprintf(s->user, sizeof s->user, "%s", user && *user ? user : "anonymous");
  snprintf(s->pass, sizeof s->pass, "%s", user && *user ? (pass ? pass : "") : (pass && *pass ? pass : "mtftp@"));
  s->active = g_opts.active;
  int fd = mt_tcp_connect(host, port, g_opts.timeout);
  if (fd < 0) {
    seterr(s, EX_CONNECT, "cannot connect to %s port %d: %s", host, port, mt_strerror(fd));
    return EX_CONNECT;
  }
  s->fd = fd;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  socklen_t l = sizeof s->peer;
  getpeername(fd, (struct sockaddr *)&s->peer, &l);
  l = sizeof s->local;
  getsockname(fd, (struct sockaddr *)&s->local, &l);
  int r;
  if (t->tls == TLS_IMPLICIT && (r = ftps_control(s))) {   /* ftps://: TLS from the first byte */
    drop(s);
    return r;
  }
  s->lr = mt_linereader_new(fd, MAX_LINE);
  if (!s->lr) {
    drop(s);
    seterr(s, EX_LOCAL, "out of memory");
    return EX_LOCAL;
  }
  if (s->tls) mt_linereader_set_io(s->lr, tls_read, s->tls);
  r = sess_reply(s, g_opts.timeout);
  if (r < 0) return EX_CONNECT;
  if (r != 220) {
    sess_fail(s, r);
    drop(s);
    s->err_exit = EX_CONNECT;
    return EX_CONNECT;
  }
  if (t->tls == TLS_EXPLICIT) {   /* RFC 4217 §4: AUTH TLS; no fallback to plain text */
    r = sess_cmd(s, "AUTH TLS");
    if (r < 0) return EX_CONNECT;
    if (r != 234) {
      seterr(s, EX_TLS, "the server refused AUTH TLS (%s); not continuing without TLS", s->reply);
      drop(s);
      return EX_TLS;
    }
    if (mt_linereader_pending(s->lr)) {   /* text the TLS would not protect */
      seterr(s, EX_TLS, "the server sent more after its 234 reply, before the TLS handshake");
      drop(s);
      return EX_TLS;
    }
    if ((r = ftps_control(s))) {
      drop(s);
      return r;
    }
    mt_linereader_set_io(s->lr, tls_read, s->tls);
  }
  r = sess_cmd(s, "USER %s", s->user);
  if (r == 331 || r == 332) r = sess_cmd(s, "PASS %s", s->pass);
  if (r < 0) return EX_CONNECT;
  if (r != 230 && r != 202) {
    sess_fail(s, r);
    s->err_exit = r == 421 ? EX_CONNECT : EX_LOGIN;
    drop(s);
    return s->err_exit;
  }
  if (s->tls) {   /* PROT P: the data connections are protected too */
    r = sess_cmd(s, "PBSZ 0");
    if (r == 200) r = sess_cmd(s, "PROT P");
    if (r < 0) return EX_CONNECT;
    if (r != 200) {
      seterr(s, EX_TLS, "the server refused protected data connections (%s)", s->reply);
      drop(s);
      return EX_TLS;
    }
    s->prot_p = true;
  }
  r = sess_cmd(s, "FEAT");
  if (r < 0) return EX_CONNECT;
  if (r == 211) parse_feat(s);
  if (s->feat_utf8 && sess_cmd(s, "OPTS UTF8 ON") < 0) return EX_CONNECT;
  if (s->feat_hash_sha256 && !s->hash_selected) {
    r = sess_cmd(s, "OPTS HASH SHA-256");
    if (r < 0) return EX_CONNECT;
    s->hash_selected = r == 200;
  }
  r = sess_type(s, 'I');
  if (r) return r;
  sess_pwd(s);
  return sess_connected(s) ? 0 : EX_CONNECT;
}

int sess_type(sess_t *s, char type) {
  if (s->type == type) return 0;
  int r = sess_cmd(s, "TYPE %c", type);
  if (r != 200) return sess_fail(s, r);
  s->type = type;
  return 0;
}

int sess_pwd(sess_t *s) {
  int r = sess_cmd(s, "PWD");
  if (r != 257) return r < 0 ? EX_CONNECT : 0;
  char path[4096];
  if (ftpp_path_unquote(s->reply + 4, path, sizeof path) >= 0) snprintf(s->cwd, sizeof s->cwd, "%s", path);
  return 0;
}

/* ---- data connections --------------------------------------------------- */

static int connect_to(sess_t *s, const struct sockaddr_storage *ss) {
  int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -errno;
  socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  int r = mt_connect(fd, (const struct sockaddr *)ss, len, g_opts.timeout);
  if (r < 0) {
    mt_close(fd);
    return r;
  }
  return fd;
}

static void set_port(struct sockaddr_storage *ss, int port) {
  if (ss->ss_family == AF_INET6) ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
  else ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

static int passive(sess_t *s) {
  struct sockaddr_storage ss = s->peer;
  if (!s->no_epsv) {
    int r = sess_cmd(s, "EPSV");
    if (r < 0) return EX_CONNECT;
    int port;
    if (r == 229 && ftpp_epsv_parse(s->reply, &port) == 0) {
      set_port(&ss, port);
      s->epsv_ok = true;   /* the next transfers pipeline it (epsv_piped) */
      goto connect;
    }
    s->no_epsv = true;   /* refused or unreadable: PASV from now on */
  }
  int r = sess_cmd(s, "PASV");
  if (r < 0) return EX_CONNECT;
  struct sockaddr_storage given;
  if (r != 227) return sess_fail(s, r);
  if (ftpp_pasv_parse(s->reply, &given)) {
    seterr(s, EX_XFER, "cannot read the PASV reply: %s", s->reply);
    return EX_XFER;
  }
  int port = ntohs(((struct sockaddr_in *)&given)->sin_port);
  if (g_opts.verbose > 0 && ss.ss_family == AF_INET &&
      ((struct sockaddr_in *)&given)->sin_addr.s_addr != ((struct sockaddr_in *)&ss)->sin_addr.s_addr)
    fprintf(stderr, "mtftp: the PASV reply's address differs from the server's; using the server's\n");
  set_port(&ss, port);
connect:;
  int fd = connect_to(s, &ss);
  if (fd < 0) {
    seterr(s, EX_XFER, "cannot open the data connection: %s", mt_strerror(fd));
    return EX_XFER;
  }
  s->data_fd = fd;
  return 0;
}

static int active(sess_t *s) {
  struct sockaddr_storage ss = s->local;
  set_port(&ss, 0);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  socklen_t len = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 1) ||
      getsockname(fd, (struct sockaddr *)&ss, &len)) {
    seterr(s, EX_LOCAL, "cannot listen for the data connection: %s", strerror(errno));
    if (fd >= 0) close(fd);
    return EX_LOCAL;
  }
  s->listen_fd = fd;
  char arg[80];
  bool v4 = ss.ss_family == AF_INET ||
            (ss.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr));
  int r;
  if (v4 && ftpp_port_format(&ss, arg, sizeof arg) > 0) {
    r = sess_cmd(s, "PORT %s", arg);
  } else {
    ftpp_eprt_format(&ss, arg, sizeof arg);
    r = sess_cmd(s, "EPRT %s", arg);
  }
  if (r < 0) return EX_CONNECT;
  if (r != 200) {
    mt_close(s->listen_fd);
    s->listen_fd = -1;
    return sess_fail(s, r);
  }
  return 0;
}

/* EPSV and the transfer command in one write (RFC 959 lets a client send
 * the next command before a reply; the server reads it once EPSV is
 * answered), so a small file costs one round trip less. Only on a session
 * whose EPSV has worked: 0 with the data connection open and the transfer
 * command sent, 1 when EPSV failed after all (the transfer command's reply
 * read and dropped: go the slow way), or an exit code (EX_XFER with the
 * session dropped when the server answered the transfer command with a
 * 1xx all the same: the caller's retry reconnects). */
static int epsv_piped(sess_t *s, const char *fmt, va_list ap) {
  char buf[MAX_LINE + 8];
  memcpy(buf, "EPSV\r\n", 6);
  if (g_opts.verbose > 0) {
    prog_clear();
    fprintf(stderr, "--> EPSV\n");
  }
  int n = format_line(s, buf + 6, sizeof buf - 6, fmt, ap);
  if (n < 0) return EX_USAGE_;
  if (send_raw(s, buf, (size_t)n + 6) < 0) return EX_CONNECT;
  int r = cmd_reply(s), port;
  if (r < 0) return EX_CONNECT;
  if (r != 229 || ftpp_epsv_parse(s->reply, &port)) {
    int t = sess_reply(s, g_opts.timeout);   /* the transfer command's, with no port */
    if (t < 0) return EX_CONNECT;
    s->epsv_ok = false;
    if (t >= 100 && t < 200) {
      /* a server that queues the transfer until a data connection comes
       * (pyftpdlib does) is now waiting for one it was never offered, and
       * whatever it says next belongs to that transfer: start afresh */
      seterr(s, EX_XFER, "the server began the transfer after refusing EPSV (%d)", r);
      drop(s);
      return EX_XFER;
    }
    return 1;
  }
  struct sockaddr_storage ss = s->peer;
  set_port(&ss, port);
  int fd = connect_to(s, &ss);
  if (fd < 0) {
    seterr(s, EX_XFER, "cannot open the data connection: %s", mt_strerror(fd));
    drop(s);   /* the server waits on its transfer command: start afresh */
    return EX_XFER;
  }
  s->data_fd = fd;
  return 0;
}

/* Whether the data connection kept open in MODE B can take a transfer:
 * the server has not closed it (nor sent anything out of turn). */
static bool kept_usable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
  return poll(&p, 1, 0) == 0;
}

/* MODE B for a download that asks for it (s->want_block: binary, from the
 * start; and passive, without TLS), MODE S for any other transfer; the
 * server is told only when the mode changes. A server that refuses MODE B
 * for good (5xx) is not asked again. 0, or an exit code. */
static int choose_mode(sess_t *s, int64_t rest) {
  bool blk = s->want_block && s->data_in && rest <= 0 && !s->prot_p && !s->no_mode_b && !s->active;
  if (blk == s->mode_b) return 0;
  sess_data_close(s);    /* a kept connection belongs to the mode it was opened in */
  int r = sess_cmd(s, blk ? "MODE B" : "MODE S");
  if (r < 0) return EX_CONNECT;
  if (r == 200) s->mode_b = blk;
  else if (blk) s->no_mode_b = r >= 500;   /* stream it is: this time, or from now on */
  else return sess_fail(s, r);
  return 0;
}

int sess_data_begin(sess_t *s, int64_t rest, const char *fmt, ...) {
  s->err[0] = 0;
  if (s->fd < 0) {
    seterr(s, EX_CONNECT, "not connected");
    return EX_CONNECT;
  }
  /* which way the bytes go: a download's end must be the server's close_notify */
  s->data_in = strncasecmp(fmt, "STOR", 4) && strncasecmp(fmt, "APPE", 4) && strncasecmp(fmt, "STOU", 4);
  s->data_truncated = false;
  int r = choose_mode(s, rest);
  if (r) return r;
  s->blk_hlen = 0;
  s->blk_left = 0;
  s->blk_eof = s->blk_marker = false;
  if (s->mode_b && s->data_fd >= 0) {
    if (kept_usable(s->data_fd)) {
      va_list ap;
      va_start(ap, fmt);
      r = vsend(s, fmt, ap);
      va_end(ap);
      if (r < 0) return EX_CONNECT;
      r = cmd_reply(s);
      if (r < 0) return EX_CONNECT;
      if (r == 125) goto opened;
      if (r >= 100 && r < 200) {
        /* the server did not take the kept connection (it had closed it
         * and now waits for a new one nobody will open): start afresh */
        seterr(s, EX_XFER, "the server began the transfer on another data connection (%d)", r);
        drop(s);
        return EX_XFER;
      }
      /* refused (550 and the like): the kept connection stays for the next */
      if (r >= 200 && r < 300) {
        seterr(s, EX_XFER, "%s (no data connection)", s->reply);
        return EX_XFER;
      }
      if (r != 425) return sess_fail(s, r);
      /* 425: the server no longer has it; a new one below */
    }
    sess_data_close(s);
  }
  if (!s->active && s->epsv_ok && rest <= 0) {
    va_list ap;
    va_start(ap, fmt);
    r = epsv_piped(s, fmt, ap);
    va_end(ap);
    if (r == 0) goto sent;
    if (r != 1) return r;
  }
  r = s->active ? active(s) : passive(s);
  if (r) return r;
  if (rest > 0) {
    r = sess_cmd(s, "REST %lld", (long long)rest);
    if (r != 350) {
      int ex = r < 0 ? EX_CONNECT : sess_fail(s, r);
      if (s->data_fd >= 0) mt_close(s->data_fd);
      if (s->listen_fd >= 0) mt_close(s->listen_fd);
      s->data_fd = s->listen_fd = -1;
      return ex;
    }
  }
  va_list ap;
  va_start(ap, fmt);
  r = vsend(s, fmt, ap);
  va_end(ap);
  if (r < 0) return EX_CONNECT;
sent:
  r = cmd_reply(s);
  if (r < 0) return EX_CONNECT;
  if (r >= 300 || r < 100 || (r >= 200 && r < 300)) {
    if (s->data_fd >= 0) mt_close(s->data_fd);
    if (s->listen_fd >= 0) mt_close(s->listen_fd);
    s->data_fd = s->listen_fd = -1;
    if (r >= 200 && r < 300) {
      seterr(s, EX_XFER, "%s (no data connection)", s->reply);
      return EX_XFER;
    }
    return sess_fail(s, r);
  }
  if (s->listen_fd >= 0) {
    int fd = mt_accept(s->listen_fd, NULL, NULL, g_opts.timeout);
    mt_close(s->listen_fd);
    s->listen_fd = -1;
    if (fd < 0) {
      seterr(s, EX_XFER, "the server did not connect back: %s", mt_strerror(fd));
      drop(s);
      return EX_XFER;
    }
    s->data_fd = fd;
  }
opened:
  s->pending_noops = 0;
  return s->prot_p ? ftps_data(s) : 0;
}

/* MODE B: the bytes of the blocks, headers taken out; 0 once the block
 * flagged EOF has been read whole, or when the server closes the
 * connection (sess_data_end tells the two apart). A restart marker's
 * bytes are read and dropped. */
static ssize_t blk_read(sess_t *s, void *buf, size_t n, double timeout) {
  for (;;) {
    if (s->blk_hlen == FTPP_BLOCK_HEADER && s->blk_left == 0) {   /* a block read whole */
      if (s->blk_eof) return 0;
      s->blk_hlen = 0;
    }
    if (s->blk_hlen < FTPP_BLOCK_HEADER) {
      ssize_t r = mt_recv(s->data_fd, s->blk_hdr + s->blk_hlen, (size_t)(FTPP_BLOCK_HEADER - s->blk_hlen), 0, timeout);
      if (r <= 0) return r;
      if ((s->blk_hlen += (int)r) < FTPP_BLOCK_HEADER) continue;
      s->blk_eof = s->blk_hdr[0] & FTPP_BLOCK_EOF;
      s->blk_marker = s->blk_hdr[0] & FTPP_BLOCK_RESTART;
      s->blk_left = ftpp_block_count(s->blk_hdr);
      continue;
    }
    ssize_t r = mt_recv(s->data_fd, buf, n < s->blk_left ? n : s->blk_left, 0, timeout);
    if (r <= 0) return r;
    s->blk_left -= (size_t)r;
    if (!s->blk_marker) return r;
  }
}

ssize_t sess_data_read(sess_t *s, void *buf, size_t n, double timeout) {
  if (s->mode_b && !s->dtls) return blk_read(s, buf, n, timeout);
  if (!s->dtls) return mt_recv(s->data_fd, buf, n, 0, timeout);
  ssize_t r = ftls_read(s->dtls, buf, n, timeout);
  if (r == -ECONNABORTED) s->data_truncated = true;
  return r;
}

ssize_t sess_data_write(sess_t *s, const void *buf, size_t n, double timeout) {
  return s->dtls ? ftls_write(s->dtls, buf, n, timeout) : mt_send_all(s->data_fd, buf, n, timeout);
}

const char *sess_data_strerror(const sess_t *s, int r) {
  return s->dtls && r != MT_ETIMEDOUT && *ftls_error(s->dtls) ? ftls_error(s->dtls) : mt_strerror(r);
}

void sess_data_close(sess_t *s) {
  ftls_free(s->dtls);
  s->dtls = NULL;
  if (s->data_fd >= 0) mt_close(s->data_fd);
  s->data_fd = -1;
}

/* The end of a TLS data connection: a download must have brought the
 * server's close_notify (read it now if the bytes stopped at the announced
 * size); ours goes out either way. After an upload the server's is awaited
 * (with our side shut for writing, so a server waiting for the end of the
 * stream sees it): reading it also takes in the session tickets the server
 * sent, which the next data connection resumes. 0 or EX_XFER (s->err). */
static int tls_data_finish(sess_t *s) {
  int ex = 0;
  if (s->data_in && !s->data_truncated) {
    char c[512];
    ssize_t n = ftls_read(s->dtls, c, sizeof c, g_opts.timeout);
    if (n > 0) {
      seterr(s, EX_XFER, "the data connection brought more bytes than the file's announced size");
      ex = EX_XFER;
    } else if (n < 0) {
      if (n == -ECONNABORTED) s->data_truncated = true;
      seterr(s, EX_XFER, "data connection: %s", sess_data_strerror(s, (int)n));
      ex = EX_XFER;
    }
  } else if (s->data_truncated) {
    seterr(s, EX_XFER, "data connection: %s", ftls_error(s->dtls));
    ex = EX_XFER;
  }
  if (!ex) {
    ftls_shutdown(s->dtls, false, g_opts.timeout);
    if (!s->data_in) {
      shutdown(s->data_fd, SHUT_WR);
      ftls_shutdown(s->dtls, true, g_opts.timeout);   /* the server may just close: fine */
    }
  }
  return ex;
}

void sess_keepalive(sess_t *s) {
  if (g_opts.keepalive <= 0 || s->fd < 0 || mt_now() - s->last_cmd < g_opts.keepalive) return;
  if (sess_send(s, "NOOP") == 0) s->pending_noops++;
}

/* MODE B: a download's bytes are in; what follows must be no more than
 * the end of the block flagged EOF. 0, or EX_XFER (s->err). */
static int blk_end(sess_t *s) {
  char c[512];
  ssize_t n = blk_read(s, c, sizeof c, g_opts.timeout);
  if (n > 0) {
    seterr(s, EX_XFER, "the data connection brought more bytes than the file's announced size");
    return EX_XFER;
  }
  if (n < 0 || !s->blk_eof || s->blk_hlen < FTPP_BLOCK_HEADER || s->blk_left) {
    seterr(s, EX_XFER, "the data connection ended before the file's last block");
    return EX_XFER;
  }
  return 0;
}

int sess_data_end(sess_t *s) {
  int tex = s->dtls ? tls_data_finish(s) : 0;
  bool keep = false;
  if (s->mode_b && !s->dtls && s->data_fd >= 0 && s->data_in) keep = !(tex = blk_end(s));
  if (!keep) sess_data_close(s);
  int r;
  for (;;) {
    r = sess_reply(s, g_opts.timeout);
    if (r == 200 && s->pending_noops > 0) {
      s->pending_noops--;
      continue;
    }
    break;
  }
  while (r > 0 && s->pending_noops > 0) {
    int n = sess_reply(s, g_opts.timeout);
    if (n < 0) break;
    s->pending_noops--;
  }
  if (r < 0) {
    seterr(s, EX_XFER, "connection lost before the transfer's reply");
    return EX_XFER;
  }
  if (keep && r != 250) sess_data_close(s);   /* 226: the server closed its end */
  if (tex) return tex;   /* whatever the server thinks, the bytes are not trusted */
  if (r != 226 && r != 250) {
    int ex = sess_fail(s, r);
    return ex == EX_REMOTE ? EX_XFER : ex;
  }
  return 0;
}

void sess_abort(sess_t *s) {
  if (s->fd < 0) return;
  sess_data_close(s);
  if (sess_send(s, "ABOR") < 0) return;
  /* 426 for the transfer and 226 for ABOR, or only 226 (RFC 959 4.1.3);
   * replies to keep-alive NOOPs may come first. */
  for (int i = 0; i < 4 + s->pending_noops; i++) {
    int r = sess_reply(s, g_opts.timeout < 5 ? g_opts.timeout : 5);
    if (r < 0) return;
    if (r == 225 || r == 226) break;
    if (r >= 500) break;
  }
  s->pending_noops = 0;
  /* whatever else is in flight: a NOOP round trip puts us back in step */
  int r = sess_cmd(s, "NOOP");
  while (r > 0 && r != 200) r = sess_reply(s, 2);
  if (r < 0) drop(s);
}

/* ---- listings -------------------------------------------------------------- */

void rlist_free(rlist_t *l) {
  free(l->v);
  memset(l, 0, sizeof *l);
}

static rentry_t *rlist_add(rlist_t *l) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    rentry_t *v = realloc(l->v, cap * sizeof *v);
    if (!v) return NULL;
    l->v = v;
    l->cap = cap;
  }
  rentry_t *e = &l->v[l->n++];
  memset(e, 0, sizeof *e);
  e->mtime = -1;
  return e;
}

/* Reads the data connection line by line into fn. */
static int read_lines(sess_t *s, int (*fn)(void *ud, char *line, size_t len), void *ud) {
  mt_linereader_t *lr = mt_linereader_new(s->data_fd, MAX_LINE);
  if (!lr) return EX_LOCAL;
  if (s->dtls) mt_linereader_set_io(lr, tls_read, s->dtls);
  int ex = 0;
  for (;;) {
    char *line;
    size_t len;
    int r = mt_readline(lr, &line, &len, g_opts.timeout);
    if (r == MT_ECLOSED) break;
    if (r == MT_EMSGSIZE) continue;
    if (r < 0) {
      seterr(s, EX_XFER, "listing: %s", sess_data_strerror(s, r));
      ex = EX_XFER;
      break;
    }
    if (g_interrupted) {
      ex = EX_INTR;
      break;
    }
    if ((ex = fn(ud, line, len))) break;
  }
  mt_linereader_free(lr);
  return ex;
}

typedef struct {
  rlist_t *out;
  bool mlsd;
} listctx_t;

/* A listing names entries of one directory: a name with '/' (or a NUL),
 * "." or ".." is a server trying to point mget or mirror outside it. */
static bool bad_name(const char *name, size_t len) {
  return memchr(name, '/', len) || memchr(name, 0, len) || (len == 1 && name[0] == '.') ||
         (len == 2 && name[0] == '.' && name[1] == '.');
}

static int list_line(void *ud, char *line, size_t len) {
  listctx_t *c = ud;
  if (c->mlsd) {
    ftpp_facts_t f;
    if (ftpp_facts_parse(line, len, &f)) return 0;
    if (!strcasecmp(f.type, "cdir") || !strcasecmp(f.type, "pdir")) return 0;
    if (f.name_len >= sizeof c->out->v[0].name || bad_name(f.name, f.name_len)) return 0;
    rentry_t *e = rlist_add(c->out);
    if (!e) return EX_LOCAL;
    memcpy(e->name, f.name, f.name_len);
    e->name[f.name_len] = 0;
    if (!strcasecmp(f.type, "dir")) e->type = FTPP_LIST_DIR;
    else if (!strcasecmp(f.type, "file")) e->type = FTPP_LIST_FILE;
    else if (strcasestr(f.type, "symlink") || strcasestr(f.type, "link")) e->type = FTPP_LIST_LINK;
    else e->type = FTPP_LIST_OTHER;
    if (f.present & FTPP_FACT_SIZE) {
      e->size = f.size;
      e->has_size = true;
    }
    if (f.present & FTPP_FACT_MODIFY) e->mtime = f.modify.tv_sec;
    if (f.present & FTPP_FACT_UNIX_MODE) e->mode = f.unix_mode & 07777;
    return 0;
  }
  ftpp_list_entry_t le;
  if (ftpp_list_parse(line, len, time(NULL), &le)) return 0;
  if (le.name_len >= sizeof c->out->v[0].name || bad_name(le.name, le.name_len)) return 0;
  rentry_t *e = rlist_add(c->out);
  if (!e) return EX_LOCAL;
  memcpy(e->name, le.name, le.name_len);
  e->name[le.name_len] = 0;
  e->type = le.type;
  e->size = le.size;
  e->has_size = le.type == FTPP_LIST_FILE;
  e->mtime = le.mtime_exact ? le.mtime : -1;   /* a year only is too coarse to compare */
  e->mode = le.mode;
  return 0;
}

int sess_list(sess_t *s, const char *path, rlist_t *out) {
  memset(out, 0, sizeof *out);
  listctx_t c = {out, s->feat_mlst};
  int r;
  if (s->feat_mlst) r = path && *path ? sess_data_begin(s, 0, "MLSD %s", path) : sess_data_begin(s, 0, "MLSD");
  else r = path && *path ? sess_data_begin(s, 0, "LIST %s", path) : sess_data_begin(s, 0, "LIST");
  if (r) return r;
  int ex = read_lines(s, list_line, &c);
  if (ex) {
    if (ex == EX_INTR) sess_abort(s);
    else drop(s);
    return ex;
  }
  return sess_data_end(s);
}

static int raw_line(void *ud, char *line, size_t len) {
  int fd = *(int *)ud;
  prog_clear();
  line[len] = '\n';
  ssize_t w = write(fd, line, len + 1);
  line[len] = 0;
  return w < 0 ? EX_LOCAL : 0;
}

int sess_list_raw(sess_t *s, const char *verb, const char *path, int fd) {
  int r = path && *path ? sess_data_begin(s, 0, "%s %s", verb, path) : sess_data_begin(s, 0, "%s", verb);
  if (r) return r;
  int ex = read_lines(s, raw_line, &fd);
  if (ex) {
    if (ex == EX_INTR) sess_abort(s);
    else drop(s);
    return ex;
  }
  return sess_data_end(s);
}

int sess_size(sess_t *s, const char *path, uint64_t *size) {
  int r = sess_type(s, 'I');
  if (r) return r;
  r = sess_cmd(s, "SIZE %s", path);
  if (r != 213) return sess_fail(s, r);
  int64_t v;
  if (ftpp_rest_parse(s->reply + 4, &v)) {
    seterr(s, EX_REMOTE, "cannot read the SIZE reply: %s", s->reply);
    return EX_REMOTE;
  }
  *size = (uint64_t)v;
  return 0;
}

int sess_mdtm(sess_t *s, const char *path, time_t *t) {
  int r = sess_cmd(s, "MDTM %s", path);
  if (r != 213) return sess_fail(s, r);
  struct timespec ts;
  const char *v = s->reply + 4;
  if (ftpp_time_parse(v, strcspn(v, " "), &ts)) {
    seterr(s, EX_REMOTE, "cannot read the MDTM reply: %s", s->reply);
    return EX_REMOTE;
  }
  *t = ts.tv_sec;
  return 0;
}

int sess_is_dir(sess_t *s, const char *path) {
  int r = sess_cmd(s, "CWD %s", path);
  if (r < 0) return -1;
  if (r != 250) return 0;
  r = sess_cmd(s, "CWD %s", s->cwd[0] ? s->cwd : "/");
  return r < 0 ? -1 : 1;
}

/* Reads a HASH reply (code r, last line `line`) into hex: 0, 1 (no hash
 * here) or an exit code. want_from/want_to: the range the reply must name
 * (want_to < 0: the whole file, from 0 to any end). */
static int hash_reply_range(sess_t *s, int r, const char *line, char *hex, uint64_t want_from, int64_t want_to) {
  if (r < 0) return EX_CONNECT;
  if (r != 213) {
    if (r >= 500 && r <= 504) return 1;
    snprintf(s->reply, sizeof s->reply, "%s", line);
    return sess_fail(s, r);
  }
  /* "213 SHA-256 <from>-<to> hexhash path" */
  ftpp_hash_t h;
  if (strlen(line) < 4 || ftpp_hash_parse(line + 4, &h) || strcasecmp(h.algo, "SHA-256") || strlen(h.hex) != 64) {
    seterr(s, EX_REMOTE, "cannot read the HASH reply: %s", line);
    return EX_REMOTE;
  }
  if (h.start != want_from || (want_to >= 0 && h.end != (uint64_t)want_to)) {
    if (want_to < 0) {
      seterr(s, EX_REMOTE, "HASH reply for another range: %s", line);
      return EX_REMOTE;
    }
    return 1;   /* a range asked and another hashed (RANG ignored): no range hash here */
  }
  memcpy(hex, h.hex, 65);
  return 0;
}

static int hash_reply(sess_t *s, int r, const char *line, char *hex) { return hash_reply_range(s, r, line, hex, 0, -1); }

int sess_hash(sess_t *s, const char *path, char *hex) {
  if (!s->feat_hash_sha256 || !s->hash_selected) return 1;
  int r = sess_cmd(s, "HASH %s", path);
  char line[sizeof s->reply];
  snprintf(line, sizeof line, "%s", s->reply);
  return hash_reply(s, r, line, hex);
}

int sess_hash_ahead(sess_t *s, const char *path) {
  s->ahead_code = 0;
  if (!s->feat_hash_sha256 || !s->hash_selected || s->hash_ahead) return -1;
  if (sess_send(s, "HASH %s", path) < 0) return -1;
  s->hash_ahead = true;
  return 0;
}

int sess_hash_ranges(sess_t *s, const char *path, int n, const uint64_t *from, const uint64_t *to, char (*hex)[65]) {
  if (!s->feat_hash_sha256 || !s->hash_selected || !s->feat_rang || n < 1) return 1;
  for (int i = 0; i < n; i++)
    if (to[i] <= from[i]) return 1;   /* an empty range has no RANG */
  int r = sess_type(s, 'I');   /* RANG is for binary transfers */
  if (r) return r;
  for (int i = 0; i < n; i++)
    if (sess_send(s, "RANG %" PRIu64 " %" PRIu64, from[i], to[i] - 1) < 0 || sess_send(s, "HASH %s", path) < 0)
      return EX_CONNECT;
  /* and the range dropped: a server whose HASH ignored it would apply the
   * last one to the session's next RETR */
  if (sess_send(s, "RANG 1 0") < 0) return EX_CONNECT;
  int rc = 0;
  for (int i = 0; i < n; i++) {   /* every reply is read, to keep the session in step */
    int a = sess_reply(s, g_opts.timeout);
    if (a < 0) return EX_CONNECT;
    int b = sess_reply(s, g_opts.timeout);
    if (b < 0) return EX_CONNECT;
    char line[sizeof s->reply];
    snprintf(line, sizeof line, "%s", s->reply);
    int one = a != 350 ? 1 : hash_reply_range(s, b, line, hex[i], from[i], (int64_t)to[i]);
    if (!rc) rc = one;
  }
  if (sess_reply(s, g_opts.timeout) < 0) return EX_CONNECT;   /* RANG 1 0's, whatever it is */
  return rc;
}

int sess_hash_ahead_result(sess_t *s, char *hex) {
  if (!s->ahead_code) return -1;
  int r = hash_reply(s, s->ahead_code, s->ahead_reply, hex);
  s->ahead_code = 0;
  return r;
}
