/* ftps.c — the client's FTPS (RFC 4217) on the shared TLS module
 * (src/ftpproto/tls.c): the contexts, the certificate and pin policy of a
 * control connection, and the handshake of each PROT P data connection.
 *
 * Policy (mtftp.h, ftps.c section; mtftp(1) "TLS"): a certificate is
 * verified against the system store and --cacert, with the host name (or IP
 * literal) checked; --insecure checks nothing and says so on every control
 * connection; with --pin, a key recorded in known_servers is authoritative
 * (as in ssh: the connection is made without checking the chain, then the
 * key must be the recorded one), and a first contact records the key once
 * the chain was verified (or --insecure said not to). Everything is checked
 * before USER and PASS go out.
 *
 * Threads: the two contexts (verifying, not verifying) are made once, under
 * a lock, and shared by every session (OpenSSL contexts are thread-safe);
 * a session and its connections are used by one thread at a time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mt/error.h>
#include <mt/io.h>

#include "mtftp.h"
#include "tls.h"

static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static ftls_ctx_t *ctx_verify, *ctx_noverify;

/* The verifying or the non-verifying context, made on first use. NULL with
 * err filled when it cannot be made (a bad --cacert). */
static ftls_ctx_t *get_ctx(bool verify, char *err, size_t errlen) {
  pthread_mutex_lock(&ctx_lock);
  ftls_ctx_t **pp = verify ? &ctx_verify : &ctx_noverify;
  if (!*pp) {
    ftls_opts_t o = {.ca_file = g_opts.cacert, .verify = verify};
    char why[256];
    if (ftls_client_ctx(pp, &o, why, sizeof why)) snprintf(err, errlen, "TLS setup: %s", why);
  }
  ftls_ctx_t *c = *pp;
  pthread_mutex_unlock(&ctx_lock);
  return c;
}

void ftps_cleanup(void) {
  ftls_ctx_free(ctx_verify);
  ftls_ctx_free(ctx_noverify);
  ctx_verify = ctx_noverify = NULL;
}

static void hex32(const unsigned char k[32], char out[65]) {
  for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", k[i]);
}

/* "host:port", "[v6]:port" */
static void hostport(const sess_t *s, char *out, size_t n) {
  snprintf(out, n, strchr(s->host, ':') ? "[%s]:%d" : "%s:%d", s->host, s->port);
}

int ftps_control(sess_t *s) {
  char hp[300];
  hostport(s, hp, sizeof hp);
  unsigned char pinned[32];
  int pin_line = 0;
  const char *why = "";
  int known = 0;
  if (g_opts.pin) {
    known = pins_lookup(s->host, s->port, pinned, &pin_line, &why);
    if (known < 0) {
      snprintf(s->err, sizeof s->err, "--pin: %s", why);
      return s->err_exit = EX_TLS;
    }
  }
  /* a pinned key is authoritative: the chain is not what is checked then */
  bool verify = !g_opts.insecure && !known;
  ftls_ctx_t *ctx = get_ctx(verify, s->err, sizeof s->err);
  if (!ctx) return s->err_exit = EX_TLS;
  s->tls_ctx = ctx;
  if (g_opts.insecure) {
    prog_clear();
    fprintf(stderr, "mtftp: warning: --insecure: the TLS certificate of %s is not verified\n", hp);
  }
  int r = ftls_connect(&s->tls, ctx, s->fd, s->host, NULL, g_opts.timeout);
  if (r) {
    snprintf(s->err, sizeof s->err, "TLS with %s: %s", hp, ftls_error(NULL));
    return s->err_exit = EX_TLS;
  }
  if (ftls_peer_key_sha256(s->tls, s->key)) {
    snprintf(s->err, sizeof s->err, "TLS with %s: the server showed no certificate", hp);
    return s->err_exit = EX_TLS;
  }
  const char *how = verify ? "certificate verified" : "certificate NOT verified (--insecure)";
  if (known) {
    if (memcmp(pinned, s->key, 32)) {
      char was[65], now[65];
      hex32(pinned, was);
      hex32(s->key, now);
      snprintf(s->err, sizeof s->err,
               "the TLS key of %s has CHANGED since it was pinned (now sha256 %s, pinned %s): someone may be "
               "intercepting the connection, or the server has a new key; if you trust the new one, delete "
               "line %d of %s",
               hp, now, was, pin_line, pins_path() ? pins_path() : "known_servers");
      return s->err_exit = EX_TLS;
    }
    s->key_pinned = true;
    how = "key matches the pin in known_servers";
  } else if (g_opts.pin) {
    if (pins_record(s->host, s->port, s->key, &why)) {
      snprintf(s->err, sizeof s->err, "--pin: %s", why);
      return s->err_exit = EX_LOCAL;
    }
    s->key_pinned = true;
    if (g_opts.verbose >= 0) {
      char k[65];
      hex32(s->key, k);
      info("pinned the TLS key of %s (sha256 %s) in %s", hp, k, pins_path());
    }
  }
  if (g_opts.verbose > 0)
    info("TLS with %s: %s, %s; %s", hp, ftls_version(s->tls), ftls_cipher(s->tls), how);
  return 0;
}

int ftps_data(sess_t *s) {
  int r = ftls_connect(&s->dtls, s->tls_ctx, s->data_fd, s->host, s->tls, g_opts.timeout);
  const char *why = r ? ftls_error(NULL) : NULL;
  unsigned char key[32];
  if (!r && s->key_pinned && (ftls_peer_key_sha256(s->dtls, key) || memcmp(key, s->key, 32)))
    why = "the data connection's server key is not the control connection's";
  if (!why) {
    if (g_opts.verbose > 0)
      info("data connection: %s, %s, %s", ftls_version(s->dtls), ftls_cipher(s->dtls),
           ftls_resumed(s->dtls) ? "session resumed" : "new session");
    return 0;
  }
  char msg[sizeof s->err];
  snprintf(msg, sizeof msg, "TLS on the data connection: %s", why);
  sess_data_close(s);
  /* the server's word on it (it fails the transfer too), to stay in step */
  int code = sess_reply(s, g_opts.timeout < 5 ? g_opts.timeout : 5);
  if (code > 0) snprintf(s->err, sizeof s->err, "%s (server: %s)", msg, s->reply);
  else snprintf(s->err, sizeof s->err, "%s", msg);
  return s->err_exit = r == MT_ETIMEDOUT || r == -ECONNRESET ? EX_XFER : EX_TLS;
}
