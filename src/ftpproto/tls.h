/* tls.h — the TLS layer that mtftpd and mtftp share (FTPS, RFC 4217), on
 * OpenSSL 3, over libmt's parking IO.
 *
 * Every call that waits parks the caller through mt_wait_fd: a thread waits
 * in poll(2), a coroutine in its scheduler (other coroutines run), so a
 * handshake never blocks a scheduler thread. The fd given to a connection is
 * switched to non-blocking mode and stays owned by the caller (ftls_free does
 * not close it).
 *
 * Results: 0 or a byte count on success; on failure a negative code that
 * mt_strerror names — MT_ETIMEDOUT, MT_ECANCELED, MT_ENOMEM, or -errno:
 *   -EACCES        the peer's certificate failed verification (client)
 *   -EPROTO        any other TLS failure (handshake refused, bad record, ...)
 *   -ECONNRESET    the transport went away mid-record or mid-handshake
 *   -ECONNABORTED  end of stream without the peer's close_notify: what was
 *                  received may be truncated (RFC 4217 §10; an upload that
 *                  ends so must not replace a file)
 * and ftls_error() says what OpenSSL said, in one line.
 *
 * Data-connection session reuse (what stops a third party from stealing a
 * passive data connection): a server context puts, into every session
 * ticket it issues, a random token of the control connection the ticket
 * belongs to (ticket app data, so it works with TLS 1.3's post-handshake
 * tickets and with TLS 1.2 tickets alike). A data connection accepted with
 * `control` set inherits that token; ftls_same_session() is true when it
 * resumed a ticket carrying its control connection's token.
 */
#ifndef FTPPROTO_TLS_H
#define FTPPROTO_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct ftls_ctx ftls_ctx_t;
typedef struct ftls ftls_t;

typedef struct {
  /* server: the certificate chain (PEM; the key may be in the same file),
   * and the key (NULL: taken from cert_file) */
  const char *cert_file, *key_file;
  /* client: a CA file trusted besides the system store (NULL: none) */
  const char *ca_file;
  /* client: verify the server's certificate and host name (default on; the
   * zero value of this struct turns it off, so set it) */
  bool verify;
  /* "1.2" (default when NULL) or "1.3": the lowest protocol accepted */
  const char *min_version;
  /* TLS 1.2 cipher list in OpenSSL's syntax (NULL: OpenSSL's default) */
  const char *ciphers;
} ftls_opts_t;

/* A server or client context; on failure *out is NULL and err (if not
 * NULL) holds a one-line reason naming the file at fault. A context is
 * reference-counted by the connections made from it: it may be freed (or
 * replaced, e.g. on SIGHUP) while they live. */
int  ftls_server_ctx(ftls_ctx_t **out, const ftls_opts_t *o, char *err, size_t errlen);
int  ftls_client_ctx(ftls_ctx_t **out, const ftls_opts_t *o, char *err, size_t errlen);
void ftls_ctx_free(ftls_ctx_t *c);

/* Server side: the handshake on fd. `control` (may be NULL) is the control
 * connection this one is a data connection of. */
int  ftls_accept(ftls_t **out, ftls_ctx_t *c, int fd, ftls_t *control, double timeout);
/* Client side: the handshake on fd, checking `host` against the
 * certificate when the context verifies. `resume` (may be NULL): offer the
 * latest session ticket that connection received (a data connection offers
 * its control connection's); tickets the new connection receives then
 * refresh `resume`'s too (TLS 1.3 tickets are used once), so `resume` must
 * outlive the new connection and both be used by one thread at a time. */
int  ftls_connect(ftls_t **out, ftls_ctx_t *c, int fd, const char *host, ftls_t *resume, double timeout);

/* At most n bytes; 0 only at the peer's close_notify. */
ssize_t ftls_read(ftls_t *t, void *buf, size_t n, double timeout);
/* All n bytes, or a failure (then how much went out is unknown). */
ssize_t ftls_write(ftls_t *t, const void *buf, size_t n, double timeout);
/* Sends close_notify (once; later calls return 0). With wait_peer, also
 * waits for the peer's, so the caller learns the peer saw a clean end. */
int  ftls_shutdown(ftls_t *t, bool wait_peer, double timeout);

bool ftls_resumed(const ftls_t *t);
bool ftls_same_session(const ftls_t *data, const ftls_t *control);
/* SHA-256 of the peer certificate's public key (DER SubjectPublicKeyInfo),
 * as ssh-style pinning records it. 0 or -ENOENT (no certificate). */
int  ftls_peer_key_sha256(const ftls_t *t, unsigned char out[32]);
const char *ftls_version(const ftls_t *t);   /* "TLSv1.3" */
const char *ftls_cipher(const ftls_t *t);
/* The last failure of t (or of the calling thread's last context or
 * connection call, for t NULL), one line; "" if none. */
const char *ftls_error(const ftls_t *t);
/* Frees the connection (no close_notify: call ftls_shutdown first); the fd
 * stays open. NULL is fine. */
void ftls_free(ftls_t *t);

#endif
