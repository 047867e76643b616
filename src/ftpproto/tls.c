/* tls.c — the shared TLS layer (see tls.h): OpenSSL on a non-blocking fd,
 * every WANT_READ / WANT_WRITE turned into mt_wait_fd, which parks the
 * caller (thread or coroutine) until the fd is ready or the deadline.
 *
 * Server contexts stamp each session ticket with the token of the control
 * connection it belongs to (gen_cb below); clients remember the newest
 * session each connection received (new_session below), so a data
 * connection can offer its control connection's ticket — refreshed after
 * each data connection, since TLS 1.3 servers issue tickets after the
 * handshake, and OpenSSL's clients use each TLS 1.3 ticket once. Server-side session caching is off: resumption is by ticket
 * only, which is what lets the token travel with the session.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "mt/error.h"
#include "mt/io.h"
#include "mt/time.h"
#include "tls.h"

#define TOKEN_LEN 16

struct ftls_ctx {
  SSL_CTX *ssl;
  bool server, verify;
};

struct ftls {
  SSL *ssl;
  int fd;
  bool closed;                   /* close_notify sent */
  unsigned char token[TOKEN_LEN];  /* server: the control connection's token */
  unsigned char seen[TOKEN_LEN];   /* server: the token of the ticket it resumed */
  bool seen_ok;
  SSL_SESSION *latest;           /* client: the newest session received */
  ftls_t *parent;                /* client: the connection whose ticket this one resumed */
  char err[200];
};

static __thread char t_err[200];
static int ex_index = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static void init_bio(void);
static void init_index(void) {
  ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  init_bio();
}
static ftls_t *conn_of(SSL *s) { return SSL_get_ex_data(s, ex_index); }

/* Records OpenSSL's reason (or `what`) as the failure of t and of the
 * thread, and drops the rest of OpenSSL's error queue. */
static void note(ftls_t *t, const char *what) {
  char buf[160] = "";
  unsigned long e = ERR_peek_last_error();
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  snprintf(t_err, sizeof t_err, "%s%s%s", what, *buf && *what ? ": " : "", buf);
  if (t) snprintf(t->err, sizeof t->err, "%s", t_err);
}

static int min_version(const char *v) {
  if (!v || !strcmp(v, "1.2")) return TLS1_2_VERSION;
  if (!strcmp(v, "1.3")) return TLS1_3_VERSION;
  return -1;
}

/* ---- contexts --------------------------------------------------------------------- */
static int gen_ticket(SSL *s, void *arg) {
  ftls_t *t = conn_of(s);
  SSL_SESSION *ss = SSL_get_session(s);
  if (t && ss) SSL_SESSION_set1_ticket_appdata(ss, t->token, TOKEN_LEN);
  return 1;
}

/* TLS 1.3 tickets are single-use: a data connection's fresh tickets also
 * replace the ticket of the control connection it resumed, so the next data
 * connection has one to offer. */
/* The token must be read from the ticket as it is decrypted: by the end of
 * the handshake the server has issued fresh tickets, stamped (gen_ticket)
 * with this connection's own token. */
static SSL_TICKET_RETURN dec_ticket(SSL *s, SSL_SESSION *ss, const unsigned char *keyname, size_t keyname_len,
                                    SSL_TICKET_STATUS status, void *arg) {
  ftls_t *t = conn_of(s);
  void *app = NULL;
  size_t len = 0;
  switch (status) {
    case SSL_TICKET_SUCCESS:
    case SSL_TICKET_SUCCESS_RENEW:
      if (t && ss && SSL_SESSION_get0_ticket_appdata(ss, &app, &len) == 1 && len == TOKEN_LEN) {
        memcpy(t->seen, app, TOKEN_LEN);
        t->seen_ok = true;
      }
      return status == SSL_TICKET_SUCCESS ? SSL_TICKET_RETURN_USE : SSL_TICKET_RETURN_USE_RENEW;
    case SSL_TICKET_EMPTY:
    case SSL_TICKET_NO_DECRYPT:
      return SSL_TICKET_RETURN_IGNORE_RENEW;
    default:
      return SSL_TICKET_RETURN_IGNORE;       /* a full handshake instead */
  }
}

static int new_session(SSL *s, SSL_SESSION *ss) {
  ftls_t *t = conn_of(s);
  if (!t) return 0;
  if (t->latest) SSL_SESSION_free(t->latest);
  t->latest = ss;                /* keep the reference OpenSSL hands us */
  if (t->parent && SSL_SESSION_up_ref(ss)) {
    if (t->parent->latest) SSL_SESSION_free(t->parent->latest);
    t->parent->latest = ss;
  }
  return 1;
}

static int ctx_new(ftls_ctx_t **out, bool server, const ftls_opts_t *o, char *err, size_t errlen) {
  *out = NULL;
  pthread_once(&once, init_index);
  char why[256] = "";
  int mv = min_version(o->min_version);
  ftls_ctx_t *c = calloc(1, sizeof *c);
  if (!c) return MT_ENOMEM;
  c->server = server;
  c->verify = !server && o->verify;
  c->ssl = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!c->ssl) {
    snprintf(why, sizeof why, "cannot create a TLS context");
  } else if (mv < 0) {
    snprintf(why, sizeof why, "minimum TLS version '%s': use 1.2 or 1.3", o->min_version);
  } else if (!SSL_CTX_set_min_proto_version(c->ssl, mv)) {
    snprintf(why, sizeof why, "cannot set the minimum TLS version");
  } else if (o->ciphers && !SSL_CTX_set_cipher_list(c->ssl, o->ciphers)) {
    snprintf(why, sizeof why, "cipher list '%s' selects no cipher", o->ciphers);
  }
  SSL_CTX *s = c->ssl;
  if (!*why && server) {
    const char *key = o->key_file ? o->key_file : o->cert_file;
    if (!o->cert_file)
      snprintf(why, sizeof why, "no certificate file given");
    else if (SSL_CTX_use_certificate_chain_file(s, o->cert_file) != 1)
      snprintf(why, sizeof why, "certificate %s", o->cert_file);
    else if (SSL_CTX_use_PrivateKey_file(s, key, SSL_FILETYPE_PEM) != 1)
      snprintf(why, sizeof why, ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH
                                    ? "the key in %s does not match the certificate" : "private key %s", key);
    else if (SSL_CTX_check_private_key(s) != 1)
      snprintf(why, sizeof why, "the key in %s does not match the certificate in %s", key, o->cert_file);
    if (!*why) {
      SSL_CTX_set_options(s, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
      SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);       /* tickets only */
      SSL_CTX_set_session_ticket_cb(s, gen_ticket, dec_ticket, NULL);
      static const unsigned char sid_ctx[] = "mtftp";
      SSL_CTX_set_session_id_context(s, sid_ctx, sizeof sid_ctx - 1);
    }
  } else if (!*why) {
    if (SSL_CTX_set_default_verify_paths(s) != 1)
      snprintf(why, sizeof why, "cannot load the system's CA store");
    else if (o->ca_file && SSL_CTX_load_verify_locations(s, o->ca_file, NULL) != 1)
      snprintf(why, sizeof why, "CA file %s", o->ca_file);
    if (!*why) {
      SSL_CTX_set_verify(s, c->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
      SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
      SSL_CTX_sess_set_new_cb(s, new_session);
    }
  }
  if (*why) {
    note(NULL, why);
    if (err && errlen) snprintf(err, errlen, "%s", t_err);
    ftls_ctx_free(c);
    return -EPROTO;
  }
  /* a write returns once a record is out (ftls_write loops for the rest), and
   * may be repeated from another buffer holding the same bytes */
  SSL_CTX_set_mode(s, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
  *out = c;
  return 0;
}

int ftls_server_ctx(ftls_ctx_t **out, const ftls_opts_t *o, char *err, size_t errlen) {
  return ctx_new(out, true, o, err, errlen);
}
int ftls_client_ctx(ftls_ctx_t **out, const ftls_opts_t *o, char *err, size_t errlen) {
  return ctx_new(out, false, o, err, errlen);
}

void ftls_ctx_free(ftls_ctx_t *c) {
  if (!c) return;
  SSL_CTX_free(c->ssl);          /* reference-counted: live connections keep it */
  free(c);
}

/* ---- waiting and failing -------------------------------------------------------------- */
static double deadline_of(double timeout) { return timeout < 0 ? -1 : mt_now() + timeout; }

/* After an SSL call returned r <= 0: waits when OpenSSL wants IO (returns
 * 1: try again) or maps the failure to a code. */
/* Records a failure of t (and of the calling thread), returns code. */
__attribute__((format(printf, 3, 4)))
static int fail(ftls_t *t, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->err, sizeof t->err, fmt, ap);
  va_end(ap);
  snprintf(t_err, sizeof t_err, "%s", t->err);
  return code;
}

static int retry_or_fail(ftls_t *t, int r, double deadline, const char *what) {
  int e = SSL_get_error(t->ssl, r);
  int events = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
  if (events) {
    double left = deadline < 0 ? MT_FOREVER : deadline - mt_now();
    int w = mt_wait_fd(t->fd, events, left < 0 ? 0 : left);
    return w == 0 ? 1 : fail(t, w, "%s: %s", what, mt_strerror(w));
  }
  if (e == SSL_ERROR_ZERO_RETURN) return 0;
  if (e == SSL_ERROR_SYSCALL) {
    int en = errno;
    ERR_clear_error();
    if (en == 0 || en == EAGAIN)             /* end of stream, no close_notify */
      return fail(t, -ECONNABORTED, "%s: connection closed without close_notify", what);
    return fail(t, en == EPIPE ? -ECONNRESET : -en, "%s: %s", what, strerror(en));
  }
  int reason = ERR_GET_REASON(ERR_peek_last_error());
  if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    ERR_clear_error();
    return fail(t, -ECONNABORTED, "%s: connection closed without close_notify (possibly truncated)", what);
  }
  if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    long v = SSL_get_verify_result(t->ssl);
    ERR_clear_error();
    return fail(t, -EACCES, "%s: certificate verification failed: %s", what, X509_verify_cert_error_string(v));
  }
  note(t, what);
  return -EPROTO;
}

/* ---- the transport: a socket BIO that never raises SIGPIPE -------------------------------
 * OpenSSL's own socket BIO writes with write(2): a peer that went away would
 * kill a process that has not ignored SIGPIPE. This one sends with
 * MSG_NOSIGNAL (EPIPE comes back as an error instead). */
static int bio_write(BIO *b, const char *buf, int n) {
  BIO_clear_retry_flags(b);
  ssize_t r = send((int)(intptr_t)BIO_get_data(b), buf, (size_t)n, MSG_NOSIGNAL);
  if (r < 0 && (errno == EAGAIN || errno == EINTR)) BIO_set_retry_write(b);
  return (int)r;
}
static int bio_read(BIO *b, char *buf, int n) {
  BIO_clear_retry_flags(b);
  ssize_t r = recv((int)(intptr_t)BIO_get_data(b), buf, (size_t)n, 0);
  if (r < 0 && (errno == EAGAIN || errno == EINTR)) BIO_set_retry_read(b);
  if (r == 0) errno = 0;                 /* end of stream, not an error of the system */
  return (int)r;
}
static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}
static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}
static BIO_METHOD *bio_method;
static void init_bio(void) {
  bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "mt-socket");
  if (!bio_method) return;
  BIO_meth_set_write(bio_method, bio_write);
  BIO_meth_set_read(bio_method, bio_read);
  BIO_meth_set_ctrl(bio_method, bio_ctrl);
  BIO_meth_set_create(bio_method, bio_create);
}

/* ---- connections ---------------------------------------------------------------------- */
static int conn_new(ftls_t **out, ftls_ctx_t *c, int fd) {
  *out = NULL;
  pthread_once(&once, init_index);
  ftls_t *t = calloc(1, sizeof *t);
  if (!t) return MT_ENOMEM;
  t->fd = fd;
  t->ssl = SSL_new(c->ssl);
  int fl = fcntl(fd, F_GETFL);
  BIO *bio = bio_method ? BIO_new(bio_method) : NULL;
  if (bio) BIO_set_data(bio, (void *)(intptr_t)fd);
  if (t->ssl && bio) SSL_set_bio(t->ssl, bio, bio);       /* the SSL owns it now */
  else BIO_free(bio);
  if (!t->ssl || !bio || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
      !SSL_set_ex_data(t->ssl, ex_index, t)) {
    note(t, "cannot set up the TLS connection");
    ftls_free(t);
    return MT_ENOMEM;
  }
  *out = t;
  return 0;
}

static int handshake(ftls_t **out, ftls_t *t, bool server, double timeout) {
  double deadline = deadline_of(timeout);
  for (;;) {
    int r = server ? SSL_accept(t->ssl) : SSL_connect(t->ssl);
    if (r == 1) break;
    int e = retry_or_fail(t, r, deadline, "TLS handshake");
    if (e == 1) continue;
    if (e == 0) e = -ECONNABORTED;
    ftls_free(t);
    return e;
  }
  *out = t;
  return 0;
}

int ftls_accept(ftls_t **out, ftls_ctx_t *c, int fd, ftls_t *control, double timeout) {
  *out = NULL;
  ftls_t *t;
  int e = conn_new(&t, c, fd);
  if (e) return e;
  if (control) memcpy(t->token, control->token, TOKEN_LEN);
  else if (RAND_bytes(t->token, TOKEN_LEN) != 1) {
    note(t, "no randomness for the session token");
    ftls_free(t);
    return -EPROTO;
  }
  return handshake(out, t, true, timeout);
}

int ftls_connect(ftls_t **out, ftls_ctx_t *c, int fd, const char *host, ftls_t *resume, double timeout) {
  *out = NULL;
  ftls_t *t;
  int e = conn_new(&t, c, fd);
  if (e) return e;
  unsigned char ip[16];
  bool literal = host && (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1);
  if (host && !literal) SSL_set_tlsext_host_name(t->ssl, host);          /* SNI: names only */
  if (c->verify && host) {
    int ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host)
                     : SSL_set1_host(t->ssl, host);
    if (!ok) {
      note(t, "cannot check the host name");
      ftls_free(t);
      return -EPROTO;
    }
  }
  if (resume && resume->latest) {
    SSL_set_session(t->ssl, resume->latest);
    t->parent = resume;
  }
  return handshake(out, t, false, timeout);
}

ssize_t ftls_read(ftls_t *t, void *buf, size_t n, double timeout) {
  double deadline = deadline_of(timeout);
  for (;;) {
    size_t got = 0;
    int r = SSL_read_ex(t->ssl, buf, n, &got);
    if (r == 1) return (ssize_t)got;
    int e = retry_or_fail(t, r, deadline, "TLS read");
    if (e != 1) return e;
  }
}

ssize_t ftls_write(ftls_t *t, const void *buf, size_t n, double timeout) {
  double deadline = deadline_of(timeout);
  size_t done = 0;
  while (done < n) {
    size_t put = 0;
    int r = SSL_write_ex(t->ssl, (const char *)buf + done, n - done, &put);
    if (r == 1) {
      done += put;
      continue;
    }
    int e = retry_or_fail(t, r, deadline, "TLS write");
    if (e == 0) e = -ECONNRESET;           /* the peer closed while we write */
    if (e != 1) return e;
  }
  return (ssize_t)n;
}

ssize_t ftls_write_some(ftls_t *t, const void *buf, size_t n, double timeout) {
  double deadline = deadline_of(timeout);
  for (;;) {
    size_t put = 0;
    int r = SSL_write_ex(t->ssl, buf, n, &put);
    if (r == 1) return (ssize_t)put;
    int e = retry_or_fail(t, r, deadline, "TLS write");
    if (e == 0) e = -ECONNRESET;
    if (e != 1) return e;
  }
}

int ftls_shutdown(ftls_t *t, bool wait_peer, double timeout) {
  double deadline = deadline_of(timeout);
  for (;;) {
    if (t->closed && (!wait_peer || (SSL_get_shutdown(t->ssl) & SSL_RECEIVED_SHUTDOWN))) return 0;
    int r = SSL_shutdown(t->ssl);
    if (r >= 0) {
      t->closed = true;
      if (r == 1 || !wait_peer) return 0;
      continue;                           /* sent ours; read theirs */
    }
    int e = retry_or_fail(t, r, deadline, "TLS shutdown");
    if (e == 0) return 0;
    if (e != 1) return e;
  }
}

bool ftls_resumed(const ftls_t *t) { return SSL_session_reused(t->ssl) == 1; }

bool ftls_same_session(const ftls_t *data, const ftls_t *control) {
  return ftls_resumed(data) && data->seen_ok && memcmp(data->seen, control->token, TOKEN_LEN) == 0;
}

int ftls_peer_key_sha256(const ftls_t *t, unsigned char out[32]) {
  X509 *cert = SSL_get0_peer_certificate(t->ssl);
  EVP_PKEY *key = cert ? X509_get0_pubkey(cert) : NULL;
  unsigned char *der = NULL;
  int len = key ? i2d_PUBKEY(key, &der) : -1;
  if (len <= 0) return -ENOENT;
  unsigned int outlen = 0;
  int ok = EVP_Digest(der, (size_t)len, out, &outlen, EVP_sha256(), NULL);
  OPENSSL_free(der);
  return ok == 1 && outlen == 32 ? 0 : -EPROTO;
}

const char *ftls_version(const ftls_t *t) { return SSL_get_version(t->ssl); }
const char *ftls_cipher(const ftls_t *t) { return SSL_get_cipher_name(t->ssl); }
const char *ftls_error(const ftls_t *t) { return t ? t->err : t_err; }

void ftls_free(ftls_t *t) {
  if (!t) return;
  if (t->latest) SSL_SESSION_free(t->latest);
  SSL_free(t->ssl);
  free(t);
}
