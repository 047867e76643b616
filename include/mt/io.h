/* io.h — blocking-style fd IO that parks a coroutine instead of its thread.
 *
 * Each call waits (up to `timeout` seconds; MT_FOREVER, or 0 to not wait)
 * for the fd to be ready and then does the system call. In a coroutine the
 * wait parks it on its scheduler's epoll and other coroutines run; in a
 * plain thread it is poll(2). Results: the byte count (or new fd, or 0) as
 * the system call returns it, or a negative code: MT_ETIMEDOUT,
 * MT_ECANCELED, MT_EBUSY (another coroutine of this scheduler already waits
 * on this fd in that direction), or -errno.
 *
 * Close fds that coroutines waited on with mt_close(): a scheduler keeps
 * each such fd registered (so a wait costs no system call) and must forget
 * it before its number is reused. (Fds that libmt creates — mt_accept,
 * mt_tcp_listen, mt_tcp_connect — and mt_connect forget stale state by
 * themselves, so a plain close() is safe when every fd comes from them.)
 *
 * mt_recv, mt_send, mt_accept and mt_sendfile try the call first and wait
 * only if it would block, so they suit non-blocking sockets; mt_accept
 * returns non-blocking, close-on-exec sockets; mt_connect makes its socket
 * non-blocking. mt_read and mt_write wait first, so they also work on
 * blocking fds without holding the thread.
 */
#ifndef MT_IO_H
#define MT_IO_H

#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MT_READ  0x001   /* = POLLIN */
#define MT_WRITE 0x004   /* = POLLOUT */

int     mt_wait_fd(int fd, int events, double timeout);
ssize_t mt_read(int fd, void *buf, size_t n, double timeout);
ssize_t mt_write(int fd, const void *buf, size_t n, double timeout);
ssize_t mt_recv(int fd, void *buf, size_t n, int flags, double timeout);
/* MSG_NOSIGNAL is added: a vanished peer gives -EPIPE, not SIGPIPE. */
ssize_t mt_send(int fd, const void *buf, size_t n, int flags, double timeout);
/* Writes all n bytes (looping over partial sends) or fails. */
ssize_t mt_send_all(int fd, const void *buf, size_t n, double timeout);
int     mt_accept(int fd, struct sockaddr *sa, socklen_t *len, double timeout);
int     mt_connect(int fd, const struct sockaddr *sa, socklen_t len, double timeout);
ssize_t mt_sendfile(int out, int in, off_t *off, size_t n, double timeout);
/* close(2), after the calling scheduler forgets fd. 0 or -errno. */
int     mt_close(int fd);

#ifdef __cplusplus
}
#endif
#endif
