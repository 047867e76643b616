/* net.h — TCP helpers for servers and clients on libmt's parking IO.
 *
 * Sockets come back non-blocking and close-on-exec. Name resolution never
 * stalls a scheduler: numeric addresses are parsed directly; names are
 * resolved with getaddrinfo on a libmt helper thread while the calling
 * coroutine parks (a plain thread simply calls getaddrinfo).
 */
#ifndef MT_NET_H
#define MT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MT_REUSEPORT 0x1   /* SO_REUSEPORT: one listener per scheduler on one port */
#define MT_V6ONLY    0x2

/* Listens on host:port (host NULL or "" = all addresses, "::" for IPv6).
 * port 0 picks one (see mt_tcp_port). Returns the fd or a negative code. */
int mt_tcp_listen(const char *host, int port, int backlog, int flags);
/* The local port a socket is bound to, or a negative code. */
int mt_tcp_port(int fd);
/* Connects to host:port within `timeout` (resolution included). Returns the
 * fd or a negative code (MT_ETIMEDOUT, MT_ECONNREFUSED, MT_ENOENT for an
 * unknown name...). */
int mt_tcp_connect(const char *host, int port, double timeout);

/* A buffered line reader over a socket or any fd. Its buffer starts at a
 * few hundred bytes on the first read and grows to fit max_line. */
typedef struct mt_linereader mt_linereader_t;
/* max_line: the longest line accepted (its terminator not counted). NULL
 * on failure (mt_last_error()). Does not own fd. */
mt_linereader_t *mt_linereader_new(int fd, size_t max_line);
/* Reads one line ending in "\n" (a "\r" before it is dropped). *line is NUL-
 * terminated and valid until the next call. Returns 0; MT_ECLOSED at end of
 * stream (a last line without "\n" is still returned first); MT_EMSGSIZE
 * for a line longer than max_line (that line is skipped to its end);
 * MT_ETIMEDOUT; MT_ECANCELED; MT_ENOMEM when the buffer cannot grow for a
 * long line (what was read is kept: call again); -errno. */
int  mt_readline(mt_linereader_t *lr, char **line, size_t *len, double timeout);
/* Reads through read_fn(ctx, buf, n, timeout) instead of the fd from now on
 * — a TLS layer once the handshake is done (read_fn returns what mt_recv
 * would: a count, 0 at the end of the stream, or a negative code). Bytes
 * already buffered stay; a caller switching a stream from plain text to TLS
 * checks mt_linereader_pending() first (plain text sent before the
 * handshake must not be taken as protected). NULL read_fn: back to the fd. */
void mt_linereader_set_io(mt_linereader_t *lr, ssize_t (*read_fn)(void *ctx, void *buf, size_t n, double timeout),
                          void *ctx);
/* Bytes read past the last line returned (e.g. data after a command). */
size_t mt_linereader_pending(const mt_linereader_t *lr);
void mt_linereader_free(mt_linereader_t *lr);

#ifdef __cplusplus
}
#endif
#endif
