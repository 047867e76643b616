/* http_server.c — the notes' homework "HTTPServer v2.0": a static HTTP/1.1
 * file server on coroutines. Python would write it with gevent's
 * StreamServer (a greenlet per connection) or asyncio.start_server; here a
 * coroutine per connection does blocking-style IO that parks.
 *
 *   http_server --listen HOST:PORT --root DIR [--threads N]
 *
 * GET and HEAD; keep-alive (HTTP/1.1 by default, HTTP/1.0 on request) with
 * pipelining; Content-Length, Content-Type by extension, Last-Modified and
 * If-Modified-Since (304); one byte range (206, 416 when unsatisfiable);
 * directories: "/dir" redirects (301) to "/dir/", which serves index.html
 * or a generated listing. Replies 400 (malformed request, no Host in 1.1),
 * 403 (outside the root, not a regular file, no permission), 404, 405
 * (another method, with Allow), 413 (a request with a body), 414 (request
 * line or path too long), 431 (too many or too long headers), 501 (a
 * transfer coding), 505 (not HTTP/1.x). Paths go through jail.c (openat2
 * RESOLVE_BENEATH); bodies go out with sendfile.
 *
 * --threads N runs N schedulers, each on its own thread with its own
 * SO_REUSEPORT listener (the kernel spreads connections). Everything a
 * connection touches belongs to its scheduler, so nothing here is locked.
 * SIGINT/SIGTERM: stop accepting, cancel the connections, exit 0.
 * Exit status: 0; 1 cannot listen / bad root; 2 usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/hostport.h"
#include "jail.h"
#include "mt.h"

#define SERVER_NAME "HTTPServer/2.0 (multitask)"
#define MAX_LINE 8192          /* request line and each header line */
#define MAX_PATH 4096          /* decoded path */
#define MAX_HEADERS 100
#define IDLE_TIMEOUT 30.0      /* between requests on a kept-alive connection */
#define REQ_TIMEOUT 30.0       /* to send the rest of a request, to take a reply */

typedef struct conn {
  struct conn *prev, *next;
  int fd;
  mt_co_t *co;
  struct sched *s;
} conn_t;

typedef struct sched {          /* one per thread */
  int listen_fd;
  conn_t *conns;
  mt_co_t *acceptor;
  char date[40];                /* cached Date: header value */
  time_t date_at;
} sched_t;

static int root_fd = -1;
static mt_event_t stop;
static atomic_bool stopping;     /* set once by whichever scheduler sees `stop` first */

typedef struct {
  char method[16];
  char target[MAX_LINE + 1];
  int minor;                    /* HTTP/1.minor */
  bool host, keep_alive;
  bool has_ims, has_range, has_te;
  time_t ims;
  char range[128];
  long long content_length;     /* -1 none, -2 malformed */
} req_t;

/* ---- small helpers --------------------------------------------------------- */
static const char *reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 416: return "Range Not Satisfiable";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 505: return "HTTP Version Not Supported";
  default: return "Error";
  }
}

static void http_date(time_t t, char *out, size_t n) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static const char *now_date(sched_t *s) {
  time_t t = time(NULL);
  if (t != s->date_at) {
    http_date(t, s->date, sizeof s->date);
    s->date_at = t;
  }
  return s->date;
}

static const char *content_type(const char *path) {
  static const struct { const char *ext, *type; } types[] = {
    { ".html", "text/html; charset=utf-8" }, { ".htm", "text/html; charset=utf-8" },
    { ".txt", "text/plain; charset=utf-8" }, { ".css", "text/css" },
    { ".js", "text/javascript" }, { ".json", "application/json" },
    { ".png", "image/png" }, { ".jpg", "image/jpeg" }, { ".jpeg", "image/jpeg" },
    { ".gif", "image/gif" }, { ".svg", "image/svg+xml" }, { ".pdf", "application/pdf" },
  };
  const char *dot = strrchr(path, '.');
  if (dot && !strchr(dot, '/'))
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
      if (!strcasecmp(dot, types[i].ext)) return types[i].type;
  return "application/octet-stream";
}

/* Headers of a reply, into buf. Returns the length (buf is big enough for
 * every caller: extra is bounded). */
static int head(sched_t *s, char *buf, size_t n, int status, bool keep_alive, long long length,
                const char *type, const char *extra) {
  return snprintf(buf, n,
                  "HTTP/1.1 %d %s\r\nServer: " SERVER_NAME "\r\nDate: %s\r\n%s%s%s"
                  "Content-Length: %lld\r\nConnection: %s\r\n%s\r\n",
                  status, reason(status), now_date(s), type ? "Content-Type: " : "", type ? type : "",
                  type ? "\r\n" : "", length, keep_alive ? "keep-alive" : "close", extra ? extra : "");
}

static int send_all(conn_t *c, const char *buf, size_t len, int flags) {
  size_t done = 0;
  while (done < len) {
    ssize_t r = mt_send(c->fd, buf + done, len - done, flags, REQ_TIMEOUT);
    if (r < 0) return (int)r;
    done += (size_t)r;
  }
  return 0;
}

/* An error reply with a small HTML body (none for HEAD). Returns 0 if it
 * went out and the connection may go on, else non-zero. */
static int send_error(conn_t *c, const req_t *rq, int status, bool keep_alive, const char *extra) {
  char body[256], hdr[1536];
  int bl = snprintf(body, sizeof body, "<!DOCTYPE html>\n<title>%d %s</title>\n<h1>%d %s</h1>\n", status,
                    reason(status), status, reason(status));
  int hl = head(c->s, hdr, sizeof hdr, status, keep_alive, bl, "text/html; charset=utf-8", extra);
  bool is_head = rq && !strcmp(rq->method, "HEAD");
  int r = send_all(c, hdr, (size_t)hl, is_head ? 0 : MSG_MORE);
  if (!r && !is_head) r = send_all(c, body, (size_t)bl, 0);
  return r ? r : !keep_alive;
}

/* ---- requests ---------------------------------------------------------------- */
/* Reads one request. Returns 0, a status to reply with (and close), or -1 when
 * the connection ended (or timed out) between requests. */
static int read_request(mt_linereader_t *lr, req_t *rq) {
  char *line;
  size_t len;
  int r;
  rq->method[0] = rq->target[0] = 0;
  rq->minor = 0;
  rq->host = rq->keep_alive = rq->has_ims = rq->has_range = rq->has_te = false;
  rq->content_length = -1;
  do {                              /* RFC 9112: ignore empty lines before a request */
    r = mt_readline(lr, &line, &len, IDLE_TIMEOUT);
    if (r == MT_EMSGSIZE) return 414;
    if (r) return -1;
  } while (len == 0);
  char *sp1 = memchr(line, ' ', len), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
  if (!sp1 || !sp2 || strchr(sp2 + 1, ' ')) return 400;
  size_t ml = (size_t)(sp1 - line), tl = (size_t)(sp2 - sp1 - 1);
  if (ml == 0 || ml >= sizeof rq->method || tl == 0) return 400;
  for (size_t i = 0; i < ml; i++)
    if (line[i] < 'A' || line[i] > 'Z') return 400;
  memcpy(rq->method, line, ml);
  rq->method[ml] = 0;
  memcpy(rq->target, sp1 + 1, tl);
  rq->target[tl] = 0;
  const char *ver = sp2 + 1;
  if (strncmp(ver, "HTTP/", 5)) return 400;
  if (!strcmp(ver + 5, "1.1")) rq->minor = 1;
  else if (!strcmp(ver + 5, "1.0")) rq->minor = 0;
  else if (ver[5] >= '0' && ver[5] <= '9' && ver[6] == '.' && ver[7] >= '0' && ver[7] <= '9' && !ver[8]) return 505;
  else return 400;
  rq->keep_alive = rq->minor == 1;
  for (int n = 0;; n++) {
    r = mt_readline(lr, &line, &len, REQ_TIMEOUT);
    if (r == MT_EMSGSIZE) return 431;
    if (r) return -1;
    if (len == 0) break;
    if (n == MAX_HEADERS) return 431;
    char *colon = memchr(line, ':', len);
    if (!colon || colon == line || line[0] == ' ' || line[0] == '\t') return 400;
    for (char *k = line; k < colon; k++)
      if (*k == ' ' || *k == '\t') return 400;   /* no space before the colon (RFC 9112 5.1) */
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    char *e = line + len;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
    if (!strcasecmp(line, "Host")) {
      if (rq->host) return 400;                  /* more than one Host */
      rq->host = true;
    } else if (!strcasecmp(line, "Connection")) {
      if (strcasestr(v, "close")) rq->keep_alive = false;
      else if (strcasestr(v, "keep-alive")) rq->keep_alive = true;
    } else if (!strcasecmp(line, "If-Modified-Since")) {
      struct tm tm = { 0 };
      const char *end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
      if (end && !*end) {                        /* anything else is ignored, as RFC 9110 says */
        rq->has_ims = true;
        rq->ims = timegm(&tm);
      }
    } else if (!strcasecmp(line, "Range")) {
      rq->has_range = strlen(v) < sizeof rq->range;
      if (rq->has_range) strcpy(rq->range, v);
    } else if (!strcasecmp(line, "Transfer-Encoding")) {
      rq->has_te = true;
    } else if (!strcasecmp(line, "Content-Length")) {
      char *end;
      errno = 0;
      long long cl = strtoll(v, &end, 10);
      if (errno || end == v || *end || cl < 0 || (rq->content_length >= 0 && rq->content_length != cl))
        rq->content_length = -2;
      else if (rq->content_length != -2)
        rq->content_length = cl;
    }
  }
  return 0;
}

/* Parses "bytes=a-b" / "bytes=a-" / "bytes=-n" against size. Returns 1 with
 * [*first, *last] set, 0 to ignore the header (several ranges, not bytes,
 * malformed: RFC 9110 lets a server send the whole file), -1 unsatisfiable. */
static int parse_range(const char *v, long long size, long long *first, long long *last) {
  if (strncasecmp(v, "bytes=", 6) || strchr(v, ',')) return 0;
  const char *p = v + 6, *dash = strchr(p, '-');
  if (!dash) return 0;
  char *end;
  if (p == dash) {                               /* suffix: the last n bytes */
    long long n = strtoll(dash + 1, &end, 10);
    if (end == dash + 1 || *end || n < 0) return 0;
    if (n == 0 || size == 0) return -1;
    *first = n >= size ? 0 : size - n;
    *last = size - 1;
    return 1;
  }
  long long a = strtoll(p, &end, 10);
  if (end != dash || a < 0) return 0;
  long long b = size - 1;
  if (dash[1]) {
    b = strtoll(dash + 1, &end, 10);
    if (*end || b < a) return 0;
    if (b >= size) b = size - 1;
  }
  if (a >= size) return -1;
  *first = a;
  *last = b;
  return 1;
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Appends s to a growing buffer, HTML-escaped (esc 1) or %-encoded (esc 2). */
static bool put(char **buf, size_t *len, size_t *cap, const char *s, int esc) {
  for (; *s; s++) {
    char tmp[8];
    const char *add = tmp;
    unsigned char ch = (unsigned char)*s;
    if (esc == 1 && ch == '<') add = "&lt;";
    else if (esc == 1 && ch == '>') add = "&gt;";
    else if (esc == 1 && ch == '&') add = "&amp;";
    else if (esc == 1 && ch == '"') add = "&quot;";
    else if (esc == 2 && !(ch > 0x20 && ch < 0x7f && !strchr("%\"<>?#&'+", ch))) snprintf(tmp, sizeof tmp, "%%%02X", ch);
    else { tmp[0] = (char)ch; tmp[1] = 0; }
    size_t n = strlen(add);
    if (*len + n + 1 > *cap) {
      size_t nc = *cap ? *cap * 2 : 4096;
      while (nc < *len + n + 1) nc *= 2;
      char *nb = realloc(*buf, nc);
      if (!nb) return false;
      *buf = nb;
      *cap = nc;
    }
    memcpy(*buf + *len, add, n);
    *len += n;
  }
  return true;
}

/* The generated listing of a directory (dirfd is consumed). NULL: no memory. */
static char *listing(int dirfd, const char *vpath, size_t *outlen) {
  DIR *d = fdopendir(dirfd);
  if (!d) {
    close(dirfd);
    return NULL;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  bool ok = true;
  while (ok && (de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    struct stat st;
    bool dir = fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    if (n == cap) {
      cap = cap ? cap * 2 : 32;
      char **nn = realloc(names, cap * sizeof *names);
      if (!nn) { ok = false; break; }
      names = nn;
    }
    size_t l = strlen(de->d_name);
    if (!(names[n] = malloc(l + 2))) { ok = false; break; }
    memcpy(names[n], de->d_name, l);
    strcpy(names[n] + l, dir ? "/" : "");
    n++;
  }
  closedir(d);
  char *buf = NULL;
  size_t len = 0, bcap = 0;
  if (ok) {
    qsort(names, n, sizeof *names, name_cmp);
    ok = put(&buf, &len, &bcap, "<!DOCTYPE html>\n<title>Index of ", 0) && put(&buf, &len, &bcap, vpath, 1) &&
         put(&buf, &len, &bcap, "</title>\n<h1>Index of ", 0) && put(&buf, &len, &bcap, vpath, 1) &&
         put(&buf, &len, &bcap, "</h1>\n<ul>\n", 0);
    if (ok && strcmp(vpath, "/")) ok = put(&buf, &len, &bcap, "<li><a href=\"../\">../</a>\n", 0);
    for (size_t i = 0; ok && i < n; i++)
      ok = put(&buf, &len, &bcap, "<li><a href=\"", 0) && put(&buf, &len, &bcap, names[i], 2) &&
           put(&buf, &len, &bcap, "\">", 0) && put(&buf, &len, &bcap, names[i], 1) &&
           put(&buf, &len, &bcap, "</a>\n", 0);
    ok = ok && put(&buf, &len, &bcap, "</ul>\n", 0);
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  if (!ok) {
    free(buf);
    return NULL;
  }
  *outlen = len;
  return buf;
}

static int status_of(int err) {
  switch (err) {
  case -ENOENT: case -ENOTDIR: return 404;
  case -EACCES: case -EPERM: case -EXDEV: case -ELOOP: return 403;
  case -ENAMETOOLONG: return 414;
  default: return 500;
  }
}

/* Serves one parsed request. Returns 0 to go on with the connection. */
static int serve(conn_t *c, req_t *rq) {
  sched_t *s = c->s;
  char hdr[2048], extra[1024];
  /* These close the connection: what follows the headers cannot be trusted. */
  if (rq->minor == 1 && !rq->host) return send_error(c, rq, 400, false, NULL);
  if (rq->has_te) return send_error(c, rq, 501, false, NULL);
  if (rq->content_length == -2) return send_error(c, rq, 400, false, NULL);
  if (rq->content_length > 0) return send_error(c, rq, 413, false, NULL);
  bool is_head = !strcmp(rq->method, "HEAD");
  if (!is_head && strcmp(rq->method, "GET"))
    return send_error(c, rq, 405, rq->keep_alive, "Allow: GET, HEAD\r\n");
  char vpath[MAX_PATH + 16];
  bool slash;
  int e = jail_normalize(rq->target, vpath, MAX_PATH, &slash);
  if (e) return send_error(c, rq, e == -EACCES ? 403 : e == -ENAMETOOLONG ? 414 : 400, rq->keep_alive, NULL);
  int fd = jail_open(root_fd, vpath);
  if (fd < 0) return send_error(c, rq, status_of(fd), rq->keep_alive, NULL);
  struct stat st;
  if (fstat(fd, &st)) {
    close(fd);
    return send_error(c, rq, 500, rq->keep_alive, NULL);
  }
  if (S_ISDIR(st.st_mode)) {
    if (!slash) {                                /* /dir -> /dir/ */
      close(fd);
      char *loc = NULL;
      size_t ll = 0, lc = 0;
      bool ok = put(&loc, &ll, &lc, "Location: ", 0) && put(&loc, &ll, &lc, vpath, 2) &&
                put(&loc, &ll, &lc, "/\r\n", 0);
      if (ok) loc[ll] = 0;
      int r = ok && ll > 1200 ? send_error(c, rq, 414, rq->keep_alive, NULL) : ok ? send_error(c, rq, 301, rq->keep_alive, loc) : send_error(c, rq, 500, false, NULL);
      free(loc);
      return r;
    }
    size_t vl = strlen(vpath);
    snprintf(vpath + vl, sizeof vpath - vl, "%sindex.html", vl > 1 ? "/" : "");
    int ifd = jail_open(root_fd, vpath);
    vpath[vl] = 0;
    struct stat ist;
    if (ifd >= 0 && fstat(ifd, &ist) == 0 && S_ISREG(ist.st_mode)) {
      close(fd);
      fd = ifd;
      st = ist;
      strcpy(vpath + vl, vl > 1 ? "/index.html" : "index.html");
    } else {
      if (ifd >= 0) close(ifd);
      size_t len;
      char *body = listing(fd, vpath, &len);     /* consumes fd */
      if (!body) return send_error(c, rq, 500, rq->keep_alive, NULL);
      int hl = head(s, hdr, sizeof hdr, 200, rq->keep_alive, (long long)len, "text/html; charset=utf-8", NULL);
      int r = send_all(c, hdr, (size_t)hl, is_head ? 0 : MSG_MORE);
      if (!r && !is_head) r = send_all(c, body, len, 0);
      free(body);
      return r;
    }
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return send_error(c, rq, 403, rq->keep_alive, NULL);
  }
  char lm[40];
  http_date(st.st_mtime, lm, sizeof lm);
  if (rq->has_ims && st.st_mtime <= rq->ims) {
    close(fd);
    int hl = snprintf(hdr, sizeof hdr, "HTTP/1.1 304 Not Modified\r\nServer: " SERVER_NAME "\r\nDate: %s\r\n"
                      "Last-Modified: %s\r\nConnection: %s\r\n\r\n", now_date(s), lm,
                      rq->keep_alive ? "keep-alive" : "close");
    return send_all(c, hdr, (size_t)hl, 0);
  }
  long long size = st.st_size, first = 0, last = size - 1;
  int status = 200, rr = rq->has_range ? parse_range(rq->range, size, &first, &last) : 0;
  if (rr < 0) {
    close(fd);
    snprintf(extra, sizeof extra, "Content-Range: bytes */%lld\r\n", size);
    return send_error(c, rq, 416, rq->keep_alive, extra);
  }
  int xl = snprintf(extra, sizeof extra, "Last-Modified: %s\r\nAccept-Ranges: bytes\r\n", lm);
  if (rr > 0) {
    status = 206;
    snprintf(extra + xl, sizeof extra - (size_t)xl, "Content-Range: bytes %lld-%lld/%lld\r\n", first, last, size);
  }
  long long n = size ? last - first + 1 : 0;
  int hl = head(s, hdr, sizeof hdr, status, rq->keep_alive, n, content_type(vpath), extra);
  int r = send_all(c, hdr, (size_t)hl, is_head || n == 0 ? 0 : MSG_MORE);
  off_t off = (off_t)first;
  while (!r && !is_head && n > 0) {              /* the body, by sendfile */
    ssize_t w = mt_sendfile(c->fd, fd, &off, (size_t)(n > (1 << 30) ? (1 << 30) : n), REQ_TIMEOUT);
    if (w <= 0) r = w < 0 ? (int)w : MT_EIO;     /* 0: the file shrank under us */
    else n -= w;
  }
  close(fd);
  return r;
}

static void *conn_co(void *arg) {
  conn_t *c = arg;
  mt_linereader_t *lr = mt_linereader_new(c->fd, MAX_LINE);
  req_t *rq = malloc(sizeof *rq);
  while (lr && rq && !stopping) {
    int st = read_request(lr, rq);
    if (st < 0) break;
    if (st > 0) {                                /* malformed: reply and close */
      send_error(c, st == 414 || st == 431 ? NULL : rq, st, false, NULL);
      break;
    }
    if (serve(c, rq) != 0 || !rq->keep_alive) break;
  }
  free(rq);
  mt_linereader_free(lr);
  sched_t *s = c->s;
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  mt_close(c->fd);
  free(c);
  return NULL;
}

static void *accept_co(void *arg) {
  sched_t *s = arg;
  for (;;) {
    int fd = mt_accept(s->listen_fd, NULL, NULL, MT_FOREVER);
    if (fd == MT_ECANCELED) break;
    if (fd < 0) {
      if (mt_sleep(0.01) == MT_ECANCELED) break;   /* EMFILE...: let connections finish */
      continue;
    }
    conn_t *c = calloc(1, sizeof *c);
    if (!c) {
      mt_close(fd);
      continue;
    }
    c->fd = fd;
    c->s = s;
    c->co = mt_co_spawn(conn_co, c);
    if (!c->co) {
      mt_close(fd);
      free(c);
      continue;
    }
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    mt_co_detach(c->co);
  }
  return NULL;
}

static void *sched_main(void *arg) {
  sched_t *s = arg;
  s->acceptor = mt_co_spawn(accept_co, s);
  if (!s->acceptor) return NULL;
  mt_event_wait(&stop, MT_FOREVER);
  stopping = true;
  mt_co_cancel(s->acceptor);
  mt_co_join(s->acceptor, MT_FOREVER, NULL);
  for (conn_t *c = s->conns; c; c = c->next) mt_co_cancel(c->co);
  return NULL;
}

static void *sched_thread(void *arg) {
  mt_co_main(sched_main, arg);
  return NULL;
}

static void usage(FILE *f) {
  fprintf(f, "usage: http_server --listen HOST:PORT --root DIR [--threads N]\n"
             "  --listen HOST:PORT  where to listen (port 0: any free port)\n"
             "  --root DIR          the directory served; nothing outside it is reachable\n"
             "  --threads N         schedulers, one per thread (default 1)\n"
             "exit: 0 after SIGINT/SIGTERM, 1 cannot listen or bad root, 2 usage error\n");
}

int main(int argc, char **argv) {
  const char *listen_arg = NULL, *root = NULL;
  long threads = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
      listen_arg = argv[++i];
    } else if (!strcmp(argv[i], "--root") && i + 1 < argc) {
      root = argv[++i];
    } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      char *end;
      threads = strtol(argv[++i], &end, 10);
      if (*end || threads < 1 || threads > 64) {
        fprintf(stderr, "http_server: --threads must be from 1 to 64, not '%s'\n", argv[i]);
        return 2;
      }
    } else {
      fprintf(stderr, "http_server: unknown or incomplete option '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  char host[256];
  int port;
  if (!listen_arg || !root) {
    fprintf(stderr, "http_server: --listen HOST:PORT and --root DIR are required (see --help)\n");
    return 2;
  }
  if (!hostport_parse(listen_arg, host, sizeof host, &port, 0)) {
    fprintf(stderr, "http_server: --listen wants HOST:PORT, not '%s'\n", listen_arg);
    return 2;
  }
  root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) {
    fprintf(stderr, "http_server: cannot open the root %s: %s\n", root, strerror(errno));
    return 1;
  }
  if (jail_check(root_fd)) {
    fprintf(stderr, "http_server: this kernel has no openat2 (Linux 5.6 or later is needed)\n");
    return 1;
  }
  sched_t *s = calloc((size_t)threads, sizeof *s);
  if (!s) {
    fprintf(stderr, "http_server: out of memory\n");
    return 1;
  }
  for (long i = 0; i < threads; i++) {           /* the first picks the port, the others share it */
    s[i].listen_fd = mt_tcp_listen(host, port, 1024, threads > 1 ? MT_REUSEPORT : 0);
    if (s[i].listen_fd < 0) {
      fprintf(stderr, "http_server: cannot listen on %s: %s\n", listen_arg, mt_strerror(s[i].listen_fd));
      while (i-- > 0) mt_close(s[i].listen_fd);
      free(s);
      close(root_fd);
      return 1;
    }
    if (i == 0) port = mt_tcp_port(s[0].listen_fd);
  }
  mt_event_init(&stop, 0);
  mt_signal_shutdown_event(&stop);
  printf("http_server: listening on %s:%d\n", host[0] ? host : "*", port);
  fflush(stdout);
  mt_thread_t **th = calloc((size_t)threads, sizeof *th);
  for (long i = 1; th && i < threads; i++)
    if (mt_thread_start(&th[i], sched_thread, &s[i], &(mt_thread_opts_t){ .name = "http-sched" })) th[i] = NULL;
  int r = mt_co_main(sched_main, &s[0]);
  for (long i = 1; th && i < threads; i++)
    if (th[i]) {
      mt_thread_join(th[i], MT_FOREVER, NULL);
      mt_thread_free(th[i]);
    }
  for (long i = 0; i < threads; i++) mt_close(s[i].listen_fd);
  free(th);
  free(s);
  close(root_fd);
  return r ? 1 : 0;
}
