/* ftp_ctl.h — the control connection of the bench clients (ftp_client.c,
 * ftps_client.c): the TCP connect, a buffered line reader and reply reader over a transport
 * the client chooses (a plain socket, or an SSL), header-only so that each
 * client stays one file with its own dependencies.
 *
 * A client defines FTP_CTL_EXTRA (extra fields of ftp_ctl_t, may be empty)
 * and provides
 *   static int ctl_read(ftp_ctl_t *c, char *buf, size_t cap);   (bytes, <= 0 at EOF/error)
 *   static int ctl_write(ftp_ctl_t *c, const char *buf, size_t n);  (n, or < 0)
 * before including this file. */
#ifndef MT_BENCH_FTP_CTL_H
#define MT_BENCH_FTP_CTL_H
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef FTP_CTL_EXTRA
#define FTP_CTL_EXTRA
#endif

typedef struct ftp_ctl {
  int fd;
  size_t len, off;
  char buf[4096];
  char last[1024];   /* the last reply line, for error messages */
  FTP_CTL_EXTRA
} ftp_ctl_t;

static int ctl_read(ftp_ctl_t *c, char *buf, size_t cap);
static int ctl_write(ftp_ctl_t *c, const char *buf, size_t n);

/* A TCP connection to host:port (IPv4), Nagle off; nothing waits forever
 * on it: a stuck server shows as an error, not a hang. fd or -1. */
static int tcp_connect(const char *host, int port) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return -1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct timeval tv = {.tv_sec = 60};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* One line, without CRLF; -1 on EOF or error. */
static int ctl_line(ftp_ctl_t *c, char *out, size_t cap) {
  size_t n = 0;
  for (;;) {
    if (c->off == c->len) {
      int k = ctl_read(c, c->buf, sizeof c->buf);
      if (k <= 0) return -1;
      c->off = 0;
      c->len = (size_t)k;
    }
    char ch = c->buf[c->off++];
    if (ch == '\n') {
      if (n && out[n - 1] == '\r') n--;
      out[n] = 0;
      return 0;
    }
    if (n + 1 < cap) out[n++] = ch;
  }
}

/* A whole reply (multi-line ones too); its code, or -1. */
static int ctl_reply(ftp_ctl_t *c) {
  char *l = c->last;
  if (ctl_line(c, l, sizeof c->last) < 0 || strlen(l) < 3) return -1;
  int code = atoi(l);
  if (l[3] == '-') {
    char want[5] = {l[0], l[1], l[2], ' ', 0};
    do
      if (ctl_line(c, l, sizeof c->last) < 0) return -1;
    while (strncmp(l, want, 4) != 0);
  }
  return code;
}

/* Sends one command line; its reply's code, or -1. */
static int ctl_cmd(ftp_ctl_t *c, const char *fmt, ...) {
  char line[1100];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 2, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n > sizeof line - 3) return -1;
  memcpy(line + n, "\r\n", 2);
  if (ctl_write(c, line, (size_t)n + 2) != n + 2) return -1;
  return ctl_reply(c);
}
#endif
