/* data.c — data connections and the transfer loops.
 *
 * PASV/EPSV open a listener on the control connection's local address (ports
 * from --pasv-ports) and accept only a connection from the control peer's
 * address. PORT/EPRT are accepted only toward the control peer's address and
 * ports >= 1024 (RFC 2577: no bounce attacks). A transfer waits on the data
 * socket in FTPD_CTRL_POLL slices and reads the control connection between
 * them: ABOR and STAT act at once, other commands wait for the transfer's
 * end (session.c); a data connection that makes no progress for
 * data-timeout seconds is dropped. The file side of a transfer (sendfile,
 * pread, write) goes through ftpd_offload(), so in the coroutines model a
 * slow disk holds up a pool thread, not a scheduler — except steps of at
 * most INLINE_IO bytes (a small file's one sendfile, a small STOR chunk),
 * which cost less than the hand-off, and reads of file ranges wholly in the
 * page cache (cachestat), which cannot wait for the disk; a RETR ends at
 * the size the file had at its start, without a last call to find the end.
 * An upload overlaps receiving a chunk with writing the last one (on the
 * pool, in the coroutines model); a big binary upload goes on from the
 * socket into the file by splice(2) through a pipe (recv_splice). A busy
 * session keeps its passive listener for its next transfer (pasv_listen).
 *
 * MODE B (RFC 959 3.4.2) frames the bytes in blocks, so the end of a file
 * is a block's EOF flag instead of a close, and the data connection stays
 * open for the session's next transfer: a mirror of many small files then
 * costs no connection set-up per file (see "MODE B" below).
 *
 * After PROT P a data connection is TLS (RFC 4217): the server side of the
 * handshake whichever side connected, the session-reuse rule of
 * tls-data-reuse checked before any byte moves, reads and writes through
 * ftls_* in FTPD_CTRL_POLL slices (the same control checks as plain ones),
 * files read into a buffer instead of sendfile, and a close_notify at the
 * end. An upload that ends without the client's close_notify may be
 * truncated: with tls-strict-eof it fails (426) and is never stored.
 *
 * max-rate and max-rate-per-user (rate.c) pace every loop here — RETR by
 * sendfile or read-and-send, STOR/APPE, listings, plain and TLS alike — in
 * chunks of about an eighth of a second, sleeping between them (throttle).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config.h"
#include "session.h"
#include "tls.h"

void ftpd_data_drop_kept(ftpd_session_t *s) {
  if (s->kept_dfd >= 0) mt_close(s->kept_dfd);
  s->kept_dfd = -1;
}

/* The passive listener kept from the last transfer goes (a MODE B data
 * connection kept with it stays). */
static void listener_give_back(ftpd_session_t *s) {
  if (s->pasv_fd >= 0) mt_close(s->pasv_fd);
  s->pasv_fd = -1;
  s->pasv_keep = false;
}

void ftpd_data_reset(ftpd_session_t *s) {
  ftpd_data_drop_kept(s);
  listener_give_back(s);
  s->port_set = false;
}

void ftpd_data_idle(ftpd_session_t *s) {
  if (s->pasv_keep) listener_give_back(s);
}

/* A client that goes on with other commands (a mirror's SIZE and MDTM)
 * gives its port back after a few. */
#define KEEP_CMDS 4

void ftpd_data_next_command(ftpd_session_t *s) {
  if (s->pasv_keep && strcmp(s->verb, "PASV") && strcmp(s->verb, "EPSV") && ++s->pasv_keep_cmds > KEEP_CMDS)
    listener_give_back(s);
}

/* Local control address as IPv4 when it is v4 or v4-mapped. */
static bool local_v4(const ftpd_session_t *s, struct in_addr *out) {
  if (s->local.ss_family == AF_INET) {
    *out = ((const struct sockaddr_in *)&s->local)->sin_addr;
    return true;
  }
  const struct sockaddr_in6 *a = (const void *)&s->local;
  if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
    memcpy(out, &a->sin6_addr.s6_addr[12], 4);
    return true;
  }
  return false;
}

/* The kernel's ephemeral range, where passive ports come from when no
 * --pasv-ports range is set. */
static int g_eph_lo = 32768, g_eph_hi = 60999;
static pthread_once_t g_eph_once = PTHREAD_ONCE_INIT;
static void eph_read(void) {
  FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
  int lo, hi;
  if (f && fscanf(f, "%d %d", &lo, &hi) == 2 && lo >= 1024 && hi <= 65535 && lo < hi) g_eph_lo = lo, g_eph_hi = hi;
  if (f) fclose(f);
}

/* A random port from [lo, hi]: xorshift per thread, seeded from getrandom. */
static int rand_port(int lo, int hi) {
  static __thread uint64_t x;
  while (!x) {
    if (getrandom(&x, sizeof x, 0) != sizeof x) x = (uint64_t)(mt_now() * 1e9) | 1;
  }
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return lo + (int)(x % (uint64_t)(hi - lo + 1));
}

/* Binds a new listening socket on ss at port (0: the kernel's choice). 0
 * (*fd set), -EADDRINUSE to try another port, or another -errno. */
static int listen_on(struct sockaddr_storage *ss, socklen_t len, int port, int *fd) {
  int f = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (f < 0) return -errno;
  /* A port of a finished transfer lingers in TIME_WAIT for a minute; without
   * SO_REUSEADDR a small --pasv-ports range would run dry after a few
   * transfers, and a random one would often be refused. A port some live
   * socket holds is still refused. */
  int one = 1;
  setsockopt(f, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss->ss_family == AF_INET) ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
  else ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
  if (bind(f, (struct sockaddr *)ss, len) < 0 || listen(f, 1) < 0) {
    int e = -errno;
    close(f);
    return e;
  }
  *fd = f;
  return 0;
}

/* Opens a passive listener on the control connection's local address, or
 * arms again the one the last transfer's connection came through: a busy
 * session's EPSV then costs one accept4 (to drop whatever queued there
 * since) instead of socket, setsockopt, bind, listen, getsockname and a
 * close — 7% more 4 KiB transfers a second over 8 sessions, here. A
 * session idle for a wait slice (1 s, a coroutine's 0.25 s before it
 * parks) gives its kept listener back (ftpd_data_idle), so idle sessions
 * hold no ports, and so does one that sends KEEP_CMDS other commands first.
 * (A kept port is the same for the next transfer: a host that shares the
 * client's address could connect to it first, as it could to any port it
 * guessed; the data connection is refused from every other address.)
 * Without --pasv-ports the port is still picked here, at random from the
 * ephemeral range, not by bind() to port 0: with SO_REUSEADDR the kernel's
 * search for a free port walks every port in TIME_WAIT, and after a few
 * thousand small transfers (each leaves the server's passive port in
 * TIME_WAIT) that search took 4.5 ms per EPSV here, against 16 us for a
 * random port (docs/perf-coroutines.md). */
static int pasv_listen(ftpd_session_t *s) {
  ftpd_data_drop_kept(s);            /* a new data connection is asked for (RFC 959 3.3) */
  if (s->pasv_keep) {
    /* a connection queued since the last transfer is nobody's to use: the
     * client connects only once it has this reply */
    for (;;) {
      int c = accept4(s->pasv_fd, NULL, NULL, SOCK_CLOEXEC);
      if (c >= 0) close(c);
      else if (errno != EINTR && errno != ECONNABORTED) break;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      s->pasv_keep = false;
      return s->pasv_port;
    }
  }
  ftpd_data_reset(s);                /* (and after a failed drain, a fresh one) */
  struct sockaddr_storage ss = s->local;
  socklen_t len = ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  int lo = s->cfg->pasv_lo, hi = s->cfg->pasv_hi;
  int fd = -1, r = -EADDRINUSE, port = 0;
  if (lo) {                      /* the configured range: every port once, from a random one */
    int n = hi - lo + 1, first = rand_port(lo, hi) - lo;
    for (int i = 0; i < n && r == -EADDRINUSE; i++) r = listen_on(&ss, len, port = lo + (first + i) % n, &fd);
  } else {
    pthread_once(&g_eph_once, eph_read);
    for (int i = 0; i < 32 && r == -EADDRINUSE; i++) r = listen_on(&ss, len, port = rand_port(g_eph_lo, g_eph_hi), &fd);
    if (r == -EADDRINUSE) r = listen_on(&ss, len, port = 0, &fd);   /* a crowded range: the kernel's pick */
  }
  if (r) return r;
  s->pasv_fd = fd;
  s->pasv_port = port ? port : mt_tcp_port(fd);
  return s->pasv_port;
}

void ftpd_cmd_pasv(ftpd_session_t *s, const char *arg, const char *vp) {
  if (s->epsv_all) {
    ftpd_reply(s, 501, "EPSV ALL is in effect; use EPSV.");
    return;
  }
  struct in_addr a;
  if (!local_v4(s, &a)) {
    ftpd_reply(s, 425, "PASV needs IPv4; use EPSV.");
    return;
  }
  if (s->cfg->pasv_address) inet_pton(AF_INET, s->cfg->pasv_address, &a);
  int port = pasv_listen(s);
  if (port < 0) {
    ftpd_log(LOG_WARN, "#%lu PASV: no port: %s", s->id, strerror(-port));
    ftpd_reply(s, 425, "Cannot open passive connection.");
    return;
  }
  struct sockaddr_storage ss = {0};
  struct sockaddr_in *in = (struct sockaddr_in *)&ss;
  in->sin_family = AF_INET;
  in->sin_addr = a;
  in->sin_port = htons((uint16_t)port);
  char text[64];
  ftpp_pasv_format(&ss, text, sizeof text);
  ftpd_reply(s, 227, "%s", text);
}

void ftpd_cmd_epsv(ftpd_session_t *s, const char *arg, const char *vp) {
  if (!strcasecmp(arg, "ALL")) {
    s->epsv_all = true;
    ftpd_reply(s, 200, "EPSV ALL ok.");
    return;
  }
  struct in_addr a;
  int fam = local_v4(s, &a) ? 1 : 2;
  if (*arg && strcmp(arg, fam == 1 ? "1" : "2") != 0) {
    ftpd_reply(s, 522, "Network protocol not supported, use (%d)", fam);
    return;
  }
  int port = pasv_listen(s);
  if (port < 0) {
    ftpd_reply(s, 425, "Cannot open passive connection.");
    return;
  }
  char text[64];
  ftpp_epsv_format(port, text, sizeof text);
  ftpd_reply(s, 229, "%s", text);
}

/* Accepts an active-mode target only toward the control peer, port >= 1024. */
static void set_port(ftpd_session_t *s, const struct sockaddr_storage *ss, int port) {
  if (s->epsv_all) {
    ftpd_reply(s, 501, "EPSV ALL is in effect; use EPSV.");
    return;
  }
  if (!ftpd_addr_same_host(ss, &s->peer) || port < 1024) {
    ftpd_log(LOG_WARN, "#%lu %s refused: target is not the client's address or port < 1024", s->id, s->verb);
    ftpd_reply(s, 500, "Illegal %s command: only to your own address, port 1024 or above.", s->verb);
    return;
  }
  ftpd_data_reset(s);
  s->port_addr = *ss;
  s->port_set = true;
  ftpd_reply(s, 200, "%s command successful. Consider using PASV.", s->verb);
}

void ftpd_cmd_port(ftpd_session_t *s, const char *arg, const char *vp) {
  struct sockaddr_storage ss;
  if (ftpp_port_parse(arg, &ss) < 0) {
    ftpd_reply(s, 501, "Syntax: PORT h1,h2,h3,h4,p1,p2");
    return;
  }
  set_port(s, &ss, ntohs(((struct sockaddr_in *)&ss)->sin_port));
}

void ftpd_cmd_eprt(ftpd_session_t *s, const char *arg, const char *vp) {
  struct sockaddr_storage ss;
  int r = ftpp_eprt_parse(arg, &ss);
  if (r == -EAFNOSUPPORT) {
    ftpd_reply(s, 522, "Network protocol not supported, use (1,2)");
    return;
  }
  if (r < 0) {
    ftpd_reply(s, 501, "Syntax: EPRT |af|address|port|");
    return;
  }
  int port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                     : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  set_port(s, &ss, port);
}

/* PROT P: the handshake on a new data connection, then the reuse rule.
 * 0, or -1 after replying 522. */
static int tls_open(ftpd_session_t *s, int fd) {
  int r = ftls_accept(&s->dtls, s->snap->tls, fd, s->tls, s->cfg->data_timeout);
  if (r) {
    ftpd_log(LOG_INFO, "#%lu TLS handshake on the data connection failed: %s", s->id, ftls_error(NULL));
    ftpd_reply(s, 522, "TLS handshake on the data connection failed: %s.", ftls_error(NULL));
    return -1;
  }
  int mode = s->cfg->tls_data_reuse;
  bool ok = mode == TLS_REUSE_OFF || (mode == TLS_REUSE_ANY ? ftls_resumed(s->dtls) : ftls_same_session(s->dtls, s->tls));
  if (!ok) {
    const char *name = ftpd_config_name("tls-data-reuse", mode);
    ftpd_log(LOG_INFO, "#%lu data connection refused: it did not resume %s TLS session (tls-data-reuse = %s)", s->id,
             mode == TLS_REUSE_ANY ? "a" : "the control connection's", name);
    ftpd_reply(s, 522, "The data connection must resume %s TLS session (tls-data-reuse = %s).",
               mode == TLS_REUSE_ANY ? "a" : "the control connection's", name);
    ftls_free(s->dtls);
    s->dtls = NULL;
    return -1;
  }
  return 0;
}

/* Whether a kept MODE B connection can carry another transfer: the
 * client has not closed it (an upload's first blocks may be there
 * already). */
static bool kept_usable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLRDHUP};
  return poll(&p, 1, 0) == 0;
}

int ftpd_data_open(ftpd_session_t *s, const char *what) {
  s->blk_eof = false;
  s->xfer_blk = s->mode_b && !s->prot_p;
  bool reuse = s->kept_dfd >= 0 && s->xfer_blk && kept_usable(s->kept_dfd);
  if (!reuse) {
    ftpd_data_drop_kept(s);
    if ((s->pasv_fd < 0 || s->pasv_keep) && !s->port_set) {
      ftpd_reply(s, 425, "Use PORT, EPRT, PASV or EPSV first.");
      return -1;
    }
  }
  /* tls-required = data | all, and PROT C (for a kept connection it cannot
   * refuse today: a session's configuration is fixed, and MODE B is not
   * taken with PROT P) */
  if (!ftpd_tls_data_allowed(s)) {
    ftpd_data_reset(s);
    return -1;
  }
  int fd = -1;
  if (reuse) {
    fd = s->kept_dfd;
    s->kept_dfd = -1;
    if (ftpd_reply(s, 125, "Data connection already open; %s", what) < 0) {
      mt_close(fd);
      return -1;
    }
    goto opened;
  }
  if (ftpd_reply(s, 150, "%s", what) < 0) return -1;
  double deadline = mt_now() + s->cfg->data_timeout;
  if (s->pasv_fd >= 0) {
    while (fd < 0) {
      struct sockaddr_storage from;
      socklen_t fl = sizeof from;
      double left = deadline - mt_now();
      int c = left > 0 ? mt_accept(s->pasv_fd, (struct sockaddr *)&from, &fl, left) : MT_ETIMEDOUT;
      if (c < 0) break;
      if (!ftpd_addr_same_host(&from, &s->peer)) {
        char ip[INET6_ADDRSTRLEN];
        ftpd_addr_ip(&from, ip, sizeof ip, NULL);
        ftpd_log(LOG_WARN, "#%lu data connection from %s refused: not the client's address", s->id, ip);
        mt_close(c);
        continue;
      }
      fd = c;
    }
  } else {
    fd = socket(s->port_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
      socklen_t l = s->port_addr.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
      if (mt_connect(fd, (struct sockaddr *)&s->port_addr, l, s->cfg->data_timeout) < 0) {
        mt_close(fd);
        fd = -1;
      }
    }
  }
  if (fd >= 0 && s->pasv_fd >= 0) {   /* for the next PASV/EPSV */
    s->pasv_keep = true;
    s->pasv_keep_cmds = 0;
  } else {
    ftpd_data_reset(s);
  }
  if (fd < 0) {
    ftpd_reply(s, 425, "Cannot open data connection.");
    return -1;
  }
  if (s->prot_p && tls_open(s, fd) < 0) {
    mt_close(fd);
    return -1;
  }
opened:
  s->in_xfer = true;
  s->abort_req = false;
  s->xfer_bytes = 0;
  return fd;
}

/* Reads whatever the control connection has (without waiting). Returns 0 to
 * go on, MT_ECANCELED after ABOR, MT_ECONNRESET when the client is gone. */
static int ctrl_check(ftpd_session_t *s) {
  if (s->quit_in_xfer) return 0;     /* answered 221; the client may have closed its side */
  for (;;) {
    char *line;
    size_t len;
    int r = mt_readline(s->lr, &line, &len, 0);
    if (r == MT_ETIMEDOUT) return 0;
    if (r == MT_EMSGSIZE) {
      ftpd_reply(s, 500, "Command line too long.");
      continue;
    }
    if (r < 0) {
      s->quit = true;
      return MT_ECONNRESET;
    }
    ftpd_sess_during_xfer(s, line, len);
    if (s->abort_req) return MT_ECANCELED;
  }
}

/* max-rate (rate.c): waits until the session's and its user's clocks let
 * the next chunk go, reading the control connection between slices (an
 * ABOR ends the wait). mt_sleep parks a coroutine, not its scheduler. */
static int throttle(ftpd_session_t *s) {
  for (;;) {
    double d = ftpd_rate_delay(s);
    if (d <= 0) return 0;
    mt_sleep(d < FTPD_CTRL_POLL ? d : FTPD_CTRL_POLL);
    int r = ctrl_check(s);
    if (r < 0) return r;
  }
}

/* n bytes moved on the data connection: counted, and charged to the rates. */
static void moved(ftpd_session_t *s, size_t n) {
  s->xfer_bytes += (off_t)n;
  ftpd_rate_charge(s, n);
}

/* Waits for the data fd, checking the control connection every slice. */
static int wait_data(ftpd_session_t *s, int dfd, int events) {
  double stalled = 0;
  for (;;) {
    int r = mt_wait_fd(dfd, events, FTPD_CTRL_POLL);
    if (r >= 0) return 0;
    if (r != MT_ETIMEDOUT) return r;
    if ((r = ctrl_check(s)) < 0) return r;
    stalled += FTPD_CTRL_POLL;
    if (stalled >= s->cfg->data_timeout) return MT_ETIMEDOUT;
  }
}

/* Between chunks: a control check at most every FTPD_CTRL_POLL seconds. */
static int between_chunks(ftpd_session_t *s, double *next) {
  double now = mt_now();
  if (now < *next) return 0;
  *next = now + FTPD_CTRL_POLL;
  return ctrl_check(s);
}

/* A TLS data connection's write loop: slices of FTPD_CTRL_POLL with the
 * control connection read between them, as wait_data does for plain ones. */
static int tls_send(ftpd_session_t *s, const char *p, size_t n) {
  double next = 0, stalled = 0;
  while (n) {
    int r = between_chunks(s, &next);
    if (r < 0 || (r = throttle(s)) < 0) return r;
    ssize_t w = ftls_write_some(s->dtls, p, ftpd_rate_chunk(s, n), FTPD_CTRL_POLL);
    if (w == MT_ETIMEDOUT) {                        /* repeat with the same bytes (tls.h) */
      if ((r = ctrl_check(s)) < 0) return r;
      if ((stalled += FTPD_CTRL_POLL) >= s->cfg->data_timeout) return MT_ETIMEDOUT;
      continue;
    }
    if (w < 0) return (int)w;
    stalled = 0;
    p += w;
    n -= (size_t)w;
    moved(s, (size_t)w);
  }
  return 0;
}

/* ---- MODE B ------------------------------------------------------------------
 * A block is a descriptor byte (BLK_EOF: the file's last block; BLK_RESTART:
 * a restart marker, whose bytes are not file data), a 16-bit count, then
 * count bytes (RFC 959 3.4.2). A binary RETR ends with the EOF flag on its
 * last block; a listing, an ASCII RETR or an empty file with an empty block
 * flagged EOF after the data. An upload ends when the client's EOF block
 * has come. Then the data connection is kept (ftpd_data_finish: 250
 * instead of 226) and the next transfer starts on it with 125; a kept
 * connection the client has closed is not used (425). A new PASV, EPSV,
 * PORT or EPRT, MODE S, ABOR, REIN, any failed transfer or the session's
 * end closes it; a REIN during a transfer lets it end framed, then closes.
 * The framing is fixed at the transfer's start (s->xfer_blk). No restart
 * markers are sent, so REST is refused in MODE B (commands/xfer.c; a RANG
 * works: its last block is flagged EOF), MODE B is not offered with PROT P,
 * and a file sendfile cannot read fails (451) instead of being copied. */
#define BLK_EOF FTPP_BLOCK_EOF
#define BLK_RESTART FTPP_BLOCK_RESTART
#define BLK_MAX FTPP_BLOCK_MAX

/* A block's header announcing count <= BLK_MAX bytes, and n bytes of p
 * (count, or 0 when sendfile sends them next: then with MSG_MORE), in one
 * sendmsg when the socket takes them. */
static int blk_send(ftpd_session_t *s, int dfd, int desc, size_t count, const char *p, size_t n) {
  unsigned char h[FTPP_BLOCK_HEADER];
  ftpp_block_header(h, desc, count);
  bool more = n < count;
  size_t hl = sizeof h;
  while (hl || n) {
    struct iovec iov[2];
    int k = 0;
    if (hl) iov[k++] = (struct iovec){h + sizeof h - hl, hl};
    if (n) iov[k++] = (struct iovec){(void *)p, n};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)k};
    ssize_t w = sendmsg(dfd, &m, MSG_DONTWAIT | MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
      int r = wait_data(s, dfd, MT_WRITE);
      if (r < 0) return r;
      continue;
    }
    size_t a = (size_t)w < hl ? (size_t)w : hl;
    hl -= a;
    w -= (ssize_t)a;
    p += w;
    n -= (size_t)w;
    if (w) moved(s, (size_t)w);
  }
  if (desc & BLK_EOF) s->blk_eof = true;
  return 0;
}

/* Reads at most n bytes (n > 0), waiting as wait_data does. 0 with *got
 * set; MT_ECONNRESET when the connection ends: in MODE B that is always
 * before the EOF block, so the upload is incomplete. */
static int recv_some(ftpd_session_t *s, int dfd, char *p, size_t n, size_t *got) {
  for (;;) {
    ssize_t r = mt_recv(dfd, p, n, 0, 0);
    if (r == MT_ETIMEDOUT) {
      int w = wait_data(s, dfd, MT_READ);
      if (w < 0) return w;
      continue;
    }
    if (r < 0) return (int)r;
    if (r == 0) return MT_ECONNRESET;
    *got = (size_t)r;
    return 0;
  }
}

int ftpd_data_send_buf(ftpd_session_t *s, int dfd, const char *p, size_t n) {
  if (s->dtls) return tls_send(s, p, n);
  double next = 0;
  while (n) {
    int r = between_chunks(s, &next);
    if (r < 0 || (r = throttle(s)) < 0) return r;
    if (s->xfer_blk) {           /* a block at a time, its header with it */
      size_t c = ftpd_rate_chunk(s, n < BLK_MAX ? n : BLK_MAX);
      if ((r = blk_send(s, dfd, 0, c, p, c)) < 0) return r;
      p += c;
      n -= c;
      continue;
    }
    ssize_t w = mt_send(dfd, p, ftpd_rate_chunk(s, n), 0, 0);
    if (w == MT_ETIMEDOUT) {
      if ((r = wait_data(s, dfd, MT_WRITE)) < 0) return r;
      continue;
    }
    if (w < 0) return (int)w;
    p += w;
    n -= (size_t)w;
    moved(s, (size_t)w);
  }
  return 0;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* File IO steps of a transfer, shaped for ftpd_offload(). */
struct io_job {
  int out, in;
  off_t *off, pos;
  char *buf;
  size_t n;
  ssize_t r;
  int err;
};

/* Both retry EINTR: in the fork model the session's SIGTERM handler (the
 * graceful stop) may interrupt them mid-transfer, which must not end it. */
static int sendfile_run(void *p) {
  struct io_job *j = p;
  do j->r = sendfile(j->out, j->in, j->off, j->n);
  while (j->r < 0 && errno == EINTR);
  j->err = errno;
  return 0;
}

static int pread_run(void *p) {
  struct io_job *j = p;
  do j->r = pread(j->in, j->buf, j->n, j->pos);
  while (j->r < 0 && errno == EINTR);
  j->err = errno;
  return 0;
}

static int write_run(void *p) {
  struct io_job *j = p;
  return write_all(j->out, j->buf, j->n);
}

/* At most this much file IO runs on the session's own thread even in the
 * coroutine model: a hand-off to the disk pool and back (about ten system
 * calls and two context switches) costs more than a small read or write
 * from the page cache (docs/perf-coroutines.md). */
#define INLINE_IO (64 << 10)

static int file_io(ftpd_session_t *s, int (*fn)(void *), struct io_job *j) {
  return j->n <= INLINE_IO ? fn(j) : ftpd_offload(s->srv, fn, j);
}

/* Whether every page of [off, off + n) of fd is in the page cache, so that
 * reading it cannot wait for the disk: cachestat(2) (Linux 6.5). False
 * where the kernel lacks it (the read is then handed off, as before). */
#ifndef SYS_cachestat
#define SYS_cachestat 451     /* the same number on every architecture */
#endif
static bool cached(int fd, off_t off, size_t n) {
  static atomic_bool missing;
  if (atomic_load_explicit(&missing, memory_order_relaxed)) return false;
  struct { uint64_t off, len; } range = {(uint64_t)off, n};
  struct { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; } cs;
  if (syscall(SYS_cachestat, fd, &range, &cs, 0) != 0) {
    if (errno == ENOSYS) atomic_store_explicit(&missing, true, memory_order_relaxed);
    return false;
  }
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  uint64_t pages = ((uint64_t)off + n + page - 1) / page - (uint64_t)off / page;
  return cs.nr_cache >= pages;
}

/* A read of the file (sendfile, pread) of n bytes at off: on the session's
 * thread when small or all in the page cache, else handed off. */
static int file_read_as(ftpd_session_t *s, int (*fn)(void *), struct io_job *j, int fd, off_t off, size_t span) {
  return span <= INLINE_IO || !ftpd_offloads(s->srv) || cached(fd, off, j->n) ? fn(j) : ftpd_offload(s->srv, fn, j);
}

static int file_read(ftpd_session_t *s, int (*fn)(void *), struct io_job *j, int fd, off_t off) {
  return file_read_as(s, fn, j, fd, off, j->n);
}

int ftpd_data_send_file(ftpd_session_t *s, int dfd, int ffd, off_t off, off_t stop, off_t *sent) {
  double next = 0;
  int r = 0;
  bool ascii = s->ascii;     /* fixed for the transfer: a REIN during it resets s->ascii */
  if (!ascii && !s->dtls) {  /* TLS: the bytes must pass through OpenSSL, no sendfile */
    /* The file's size at the start ends the loop: no last sendfile only to
     * learn of the end (what grows meanwhile is for the next RETR). */
    struct stat st;
    off_t end = fstat(ffd, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : -1;
    if (stop >= 0 && (end < 0 || stop < end)) end = stop;
    bool blk = s->xfer_blk;
    if (blk && end < 0) goto copy;         /* blocks need the size: read and framed */
    size_t blk_left = 0;                   /* MODE B: bytes the block header announced, not yet sent */
    for (;;) {
      if (end >= 0 && off >= end) break;
      if ((r = between_chunks(s, &next)) < 0 || (r = throttle(s)) < 0) break;
      off_t before = off;
      if (blk && !blk_left) {
        size_t b = (size_t)(end - off) < BLK_MAX ? (size_t)(end - off) : BLK_MAX;
        if ((r = blk_send(s, dfd, off + (off_t)b == end ? BLK_EOF : 0, b, NULL, 0)) < 0) break;
        blk_left = b;
      }
      /* in chunks a rate limit can pace (ftpd_rate_chunk) */
      size_t n = ftpd_rate_chunk(s, 1 << 20);
      if (end >= 0 && (off_t)n > end - off) n = (size_t)(end - off);
      if (blk && n > blk_left) n = blk_left;
      struct io_job j = {.out = dfd, .in = ffd, .off = &off, .n = n};
      /* may read the disk; a block's read is judged by the rest of the file
       * (a big file's blocks are no small reads) */
      file_read_as(s, sendfile_run, &j, ffd, off, blk ? (size_t)(end - off) : n);
      ssize_t w = j.r;
      errno = j.err;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if ((r = wait_data(s, dfd, MT_WRITE)) < 0) break;
        continue;
      }
      /* a file sendfile cannot read (in MODE B, after a header announced
       * the block: 451) */
      if (w < 0 && (errno == EINVAL || errno == ENOSYS) && !blk) {
        off = before;
        goto copy;
      }
      if (w < 0) {
        r = -errno;
        break;
      }
      if (w == 0) {
        if (blk_left) r = -EIO;   /* the file shrank under a block already announced */
        break;
      }
      if (blk) blk_left -= (size_t)w;
      moved(s, (size_t)w);
    }
    *sent = s->xfer_bytes;
    return r;
  }
copy:;
  /* ASCII: a LF goes out as CRLF (RFC 959 3.1.1.1) unless a CR already
   * precedes it — a file with CRLF lines is sent as it is (vsftpd and
   * ProFTPD do the same), never as CR CR LF. */
  /* binary (TLS, or a file sendfile cannot read): the bytes read go out as
   * they are, a whole buffer at a time; ASCII: half a buffer in, at most a
   * whole one out */
  size_t inlen = ascii ? FTPD_XFER_BUF / 2 : FTPD_XFER_BUF;
  char *in = malloc(inlen), *out = ascii ? malloc(FTPD_XFER_BUF) : NULL;
  if (!in || (ascii && !out)) r = MT_ENOMEM;
  char prev = 0;
  if (ascii && off > 0 && !r) {      /* the byte before the start decides the first LF */
    struct io_job j = {.in = ffd, .buf = &prev, .n = 1, .pos = off - 1};
    ftpd_offload(s->srv, pread_run, &j);
    if (j.r != 1) prev = 0;
  }
  while (!r) {
    if (stop >= 0 && off >= stop) break;
    size_t want = stop >= 0 && stop - off < (off_t)inlen ? (size_t)(stop - off) : inlen;
    struct io_job j = {.in = ffd, .buf = in, .n = want, .pos = off};
    file_read(s, pread_run, &j, ffd, off);
    ssize_t n = j.r;
    if (n < 0) {
      r = -j.err;
      break;
    }
    if (n == 0) break;
    off += n;
    if (!ascii) {
      r = ftpd_data_send_buf(s, dfd, in, (size_t)n);
      continue;
    }
    size_t o = 0;
    for (ssize_t i = 0; i < n; i++) {
      if (in[i] == '\n' && ascii && prev != '\r') out[o++] = '\r';
      prev = out[o++] = in[i];
    }
    r = ftpd_data_send_buf(s, dfd, out, o);
  }
  free(in);
  free(out);
  *sent = s->xfer_bytes;
  return r;
}

/* The rest of a big binary upload, moved from the socket into the file
 * through a pipe: splice(2) takes the socket's pages into the pipe without
 * a copy, where recv() copied them into a buffer that write() then copied
 * again. On a thread of its own the pipe goes into the file at once; in
 * the coroutines model the pool does that (it may wait for the disk) while
 * the scheduler fills a second pipe from the socket. 1 when it cannot
 * start (no pipe; the file is O_APPEND, which splice refuses): the
 * caller's loop goes on; else 0 or <0 as the loop returns. */
#define SPLICE_CHUNK (1 << 20)

struct splice_job {
  int in, out;
  size_t n;
};

static int splice_out_run(void *p) {
  struct splice_job *j = p;
  while (j->n > 0) {
    ssize_t w = splice(j->in, NULL, j->out, NULL, j->n, SPLICE_F_MOVE);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return w < 0 ? -errno : -EIO;
    j->n -= (size_t)w;
  }
  return 0;
}

static int open_pipe(int p[2]) {
  if (pipe2(p, O_CLOEXEC) < 0) return -errno;
  fcntl(p[1], F_SETPIPE_SZ, SPLICE_CHUNK);    /* if the system allows; else smaller steps */
  return 0;
}

static int recv_splice(ftpd_session_t *s, int dfd, int ffd) {
  if (fcntl(ffd, F_GETFL) & O_APPEND) return 1;
  int p[2][2] = {{-1, -1}, {-1, -1}};
  if (open_pipe(p[0]) < 0) return 1;
  bool pool = ftpd_offloads(s->srv);
  struct splice_job jobs[2];
  ftpd_offload_t pend;
  bool writing = false;      /* pend moves the other pipe into the file */
  int cur = 0;
  double next = 0;
  int r = 0;
  for (;;) {
    if ((r = between_chunks(s, &next)) < 0 || (r = throttle(s)) < 0) break;
    /* p[cur] is empty: its last job has ended */
    ssize_t n = splice(dfd, NULL, p[cur][1], NULL, ftpd_rate_chunk(s, SPLICE_CHUNK), SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {   /* the socket has nothing yet */
      if ((r = wait_data(s, dfd, MT_READ)) < 0) break;
      continue;
    }
    if (n < 0) {
      r = -errno;
      break;
    }
    if (writing) {             /* the last pipe is in the file before this one goes */
      writing = false;
      if ((r = ftpd_offload_end(&pend)) < 0) break;
    }
    if (n == 0) {
      r = ctrl_check(s);    /* an ABOR sent before the close still wins */
      break;
    }
    moved(s, (size_t)n);
    jobs[cur] = (struct splice_job){p[cur][0], ffd, (size_t)n};
    if (!pool || (p[cur ^ 1][0] < 0 && open_pipe(p[cur ^ 1]) < 0)) {
      if ((r = splice_out_run(&jobs[cur])) < 0) break;
      continue;
    }
    ftpd_offload_begin(s->srv, &pend, splice_out_run, &jobs[cur]);
    writing = true;
    cur ^= 1;
  }
  if (writing) {
    int w = ftpd_offload_end(&pend);
    if (r == 0) r = w;
  }
  for (int i = 0; i < 2; i++)
    if (p[i][0] >= 0) {
      close(p[i][0]);
      close(p[i][1]);
    }
  return r;
}

/* ASCII upload: CRLF -> LF in buf[0..*n), a lone CR kept; a CR that ends
 * the chunk waits for the next one (*cr_pending). */
static int crlf_to_lf(int ffd, char *buf, size_t *n, bool *cr_pending) {
  char *o = buf, *end = buf + *n;
  if (*cr_pending && *n && buf[0] != '\n') {
    int r = write_all(ffd, "\r", 1);
    if (r < 0) return r;
  }
  if (*n) *cr_pending = false;
  for (char *p = buf; p < end; p++) {
    if (*p == '\r') {
      if (p + 1 == end) {
        *cr_pending = true;
        continue;
      }
      if (p[1] == '\n') continue;
    }
    *o++ = *p;
  }
  *n = (size_t)(o - buf);
  return 0;
}

/* A MODE B upload: blocks until the one with the EOF flag; a restart
 * marker's bytes are read and dropped. */
static int recv_blocks(ftpd_session_t *s, int dfd, int ffd, off_t *got) {
  char *buf = malloc(FTPD_XFER_BUF);
  if (!buf) return MT_ENOMEM;
  bool ascii = s->ascii, cr_pending = false, eof = false;
  /* binary: the blocks' bytes gathered into whole buffers before they are
   * written, so that a big upload's writes are big ones (on the disk pool
   * in the coroutines model, as in MODE S); ASCII: each chunk at once */
  size_t fill = 0;
  double next = 0;
  int r = 0;
  while (!eof && !r) {
    unsigned char h[FTPP_BLOCK_HEADER];
    for (size_t have = 0, k = 0; have < sizeof h && !r; have += k)
      r = recv_some(s, dfd, (char *)h + have, sizeof h - have, &k);
    if (r) break;
    eof = h[0] & BLK_EOF;
    size_t left = ftpp_block_count(h);
    while (left) {
      if ((r = between_chunks(s, &next)) < 0 || (r = throttle(s)) < 0) break;
      size_t n = 0, room = FTPD_XFER_BUF - fill, want = ftpd_rate_chunk(s, left < room ? left : room);
      if ((r = recv_some(s, dfd, buf + fill, want, &n)) < 0) break;
      left -= n;
      if (h[0] & BLK_RESTART) continue;   /* a marker's bytes: not kept */
      moved(s, n);
      if (ascii && (r = crlf_to_lf(ffd, buf, &n, &cr_pending)) < 0) break;
      fill += n;
      if (ascii || fill == FTPD_XFER_BUF) {
        struct io_job j = {.out = ffd, .buf = buf, .n = fill};
        fill = 0;
        if ((r = file_io(s, write_run, &j)) < 0) break;
      }
    }
  }
  if (!r && fill) {
    struct io_job j = {.out = ffd, .buf = buf, .n = fill};
    r = file_io(s, write_run, &j);
  }
  if (!r) r = ctrl_check(s);      /* an ABOR sent with the last block still wins */
  if (!r && cr_pending) r = write_all(ffd, "\r", 1);
  if (!r) s->blk_eof = true;
  free(buf);
  *got = s->xfer_bytes;
  return r;
}

/* An upload overlaps the network and the disk where the disk is another
 * thread's (the coroutines model): while the pool writes one chunk the
 * session receives the next into a second buffer. Chunks are written in
 * order: a chunk's write starts only after the last one's has ended.
 * Once a chunk of a binary upload without TLS fills the whole buffer,
 * recv_splice takes the rest. */
int ftpd_data_recv_file(ftpd_session_t *s, int dfd, int ffd, off_t *got) {
  if (s->xfer_blk) return recv_blocks(s, dfd, ffd, got);
  bool ascii = s->ascii;
  char *bufs[2] = {malloc(FTPD_XFER_BUF), NULL};
  if (!bufs[0]) return MT_ENOMEM;
  struct io_job jobs[2];
  ftpd_offload_t pend;
  bool writing = false;      /* pend holds the write of the other buffer */
  int cur = 0;
  double next = 0, stalled = 0;
  bool cr_pending = false;   /* ASCII: a CR ended the last chunk */
  bool may_splice = !ascii && !s->dtls;
  int r = 0;
  for (;;) {
    char *buf = bufs[cur];
    if ((r = between_chunks(s, &next)) < 0 || (r = throttle(s)) < 0) break;
    size_t want = ftpd_rate_chunk(s, FTPD_XFER_BUF);
    ssize_t n = s->dtls ? ftls_read(s->dtls, buf, want, FTPD_CTRL_POLL) : mt_recv(dfd, buf, want, 0, 0);
    if (n == MT_ETIMEDOUT && s->dtls) {
      if ((r = ctrl_check(s)) < 0) break;
      if ((stalled += FTPD_CTRL_POLL) >= s->cfg->data_timeout) {
        r = MT_ETIMEDOUT;
        break;
      }
      continue;
    }
    if (n == MT_ETIMEDOUT) {
      if ((r = wait_data(s, dfd, MT_READ)) < 0) break;
      continue;
    }
    stalled = 0;
    if (n == -ECONNABORTED && s->dtls && s->cfg->tls_strict_eof != 0) n = 0;   /* tls-strict-eof = no */
    if (n < 0) {
      r = (int)n;
      break;
    }
    if (writing) {             /* the last chunk is on the disk before this one goes */
      writing = false;
      if ((r = ftpd_offload_end(&pend)) < 0) break;
    }
    if (n == 0) {
      /* End of data. An ABOR the client sent before closing still wins:
       * look once more before the upload counts as complete. */
      if ((r = ctrl_check(s)) < 0) break;
      if (cr_pending) r = write_all(ffd, "\r", 1);
      break;
    }
    moved(s, (size_t)n);
    if (ascii) {
      size_t k = (size_t)n;
      if ((r = crlf_to_lf(ffd, buf, &k, &cr_pending)) < 0) break;
      n = (ssize_t)k;
    }
    jobs[cur] = (struct io_job){.out = ffd, .buf = buf, .n = (size_t)n};
    /* A full buffer: a big upload; splice the rest. */
    if (may_splice && (size_t)n == want && want == FTPD_XFER_BUF) {
      if ((r = file_io(s, write_run, &jobs[cur])) < 0) break;
      if ((r = recv_splice(s, dfd, ffd)) != 1) break;
      r = 0;
      may_splice = false;
      continue;
    }
    if (jobs[cur].n <= INLINE_IO || !ftpd_offloads(s->srv) ||
        (!bufs[1] && !(bufs[1] = malloc(FTPD_XFER_BUF)))) {
      if ((r = file_io(s, write_run, &jobs[cur])) < 0) break;    /* may wait for the disk */
      continue;
    }
    ftpd_offload_begin(s->srv, &pend, write_run, &jobs[cur]);   /* and on to the next chunk */
    writing = true;
    cur ^= 1;
  }
  if (writing) {
    int w = ftpd_offload_end(&pend);
    if (r == 0) r = w;
  }
  free(bufs[0]);
  free(bufs[1]);
  *got = s->xfer_bytes;
  return r;
}

void ftpd_data_close(ftpd_session_t *s, int dfd) {
  ftls_free(s->dtls);               /* no close_notify: the transfer did not complete */
  s->dtls = NULL;
  mt_close(dfd);
  s->in_xfer = false;
}

void ftpd_data_finish(ftpd_session_t *s, int dfd, int rc, const char *okmsg) {
  /* A client that aborts often closes the data connection first; look for
   * its ABOR briefly so the replies come in the order it expects. */
  if (rc < 0 && !s->abort_req && (rc == -EPIPE || rc == -ECONNRESET) && !s->quit) {
    if (mt_wait_fd(s->ctrl, MT_READ, 0.1) >= 0) ctrl_check(s);
  }
  if (s->xfer_blk && rc == 0 && !s->abort_req) {
    /* the end of a download without a last block flagged EOF: an empty one */
    if (!s->blk_eof) rc = blk_send(s, dfd, BLK_EOF, 0, NULL, 0);
    if (rc == 0 && !s->abort_req && s->mode_b) {   /* (a REIN meanwhile: MODE S, no keeping) */
      s->in_xfer = false;
      s->kept_dfd = dfd;
      ftpd_reply(s, 250, "%s Data connection kept open (MODE B).", okmsg);
      return;
    }
  }
  if (s->dtls) {
    /* close_notify after a complete transfer: a download's end, or our
     * answer to an upload's */
    if (rc == 0 && !s->abort_req) ftls_shutdown(s->dtls, false, s->cfg->data_timeout);
    ftls_free(s->dtls);
    s->dtls = NULL;
  }
  mt_close(dfd);
  s->in_xfer = false;
  if (s->abort_req) {
    ftpd_reply(s, 426, "Connection closed; transfer aborted.");
    ftpd_reply(s, 226, "ABOR command successful.");
  } else if (rc == 0) {
    ftpd_reply(s, 226, "%s", okmsg);
  } else if (rc == -ENOSPC || rc == -EDQUOT || rc == -EFBIG) {
    ftpd_reply(s, 452, "Insufficient storage space: %s.", strerror(-rc));
  } else if (rc == MT_ETIMEDOUT) {
    ftpd_reply(s, 426, "Data connection timed out; transfer aborted.");
  } else if (rc == -ECONNABORTED) {
    ftpd_reply(s, 426, "TLS data connection closed without close_notify: the upload may be truncated and was "
                       "not stored (tls-strict-eof).");
  } else if (rc == -EPIPE || rc == -ECONNRESET || rc == MT_ECONNRESET) {
    ftpd_reply(s, 426, "Data connection lost; transfer aborted.");
  } else {
    ftpd_reply(s, 451, "Local error: %s.", rc < -4000 ? mt_strerror(rc) : strerror(-rc));
  }
  s->abort_req = false;
}
