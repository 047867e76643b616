/* conn.c — connections to Redis: URL parsing, a per-handle stack of hiredis
 * contexts (one per concurrent caller: hiredis contexts are not
 * thread-safe), commands with a bounded wait, failure mapping, scripts.
 *
 * Every exchange sets the socket's send/receive timeout to the wait it may
 * take, so a Redis that stops answering (SIGSTOP, a stalled link) costs a
 * caller at most that wait and MT_ETIMEDOUT. A context that failed once is
 * never reused: mt__rlink_give closes it, and the next take connects anew —
 * that is the whole reconnection logic. hiredis 0.14 writes with write(2),
 * so a peer gone away would raise SIGPIPE: each exchange blocks SIGPIPE in
 * the calling thread and consumes one it raised itself.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "remote/remote_internal.h"

/* ---- URLs --------------------------------------------------------------------- */
void mt__rurl_free(mt__rurl_t *u) {
  mt__free(u->host);
  mt__free(u->path);
  mt__free(u->user);
  mt__free(u->pass);
  memset(u, 0, sizeof *u);
}

static char *dupn(const char *s, size_t n) {
  char *d = mt__malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = 0;
  }
  return d;
}

static bool parse_int(const char *s, size_t n, long lo, long hi, int *out) {
  if (n == 0 || n > 9) return false;
  long v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  if (v < lo || v > hi) return false;
  *out = (int)v;
  return true;
}

int mt__rurl_parse(const char *url, mt__rurl_t *u) {
  memset(u, 0, sizeof *u);
  u->port = 6379;
  if (!url) return MT_EINVAL;
  bool unix_sock;
  const char *p;
  if (!strncmp(url, "redis://", 8)) { unix_sock = false; p = url + 8; }
  else if (!strncmp(url, "unix://", 7)) { unix_sock = true; p = url + 7; }
  else return MT_EINVAL;
  int r = MT_ENOMEM;
  const char *at = strchr(p, '@');
  if (at) {                                    /* [user]:password@ */
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (!colon) return MT_EINVAL;
    if (colon > p && !(u->user = dupn(p, (size_t)(colon - p)))) goto fail;
    if (!(u->pass = dupn(colon + 1, (size_t)(at - colon - 1)))) goto fail;
    p = at + 1;
  }
  r = MT_EINVAL;
  if (unix_sock) {
    if (*p != '/') goto fail;
    const char *q = strchr(p, '?');
    size_t n = q ? (size_t)(q - p) : strlen(p);
    if (n < 2) goto fail;
    if (q) {
      if (strncmp(q, "?db=", 4) || !parse_int(q + 4, strlen(q + 4), 0, 1 << 20, &u->db)) goto fail;
    }
    r = MT_ENOMEM;
    if (!(u->path = dupn(p, n))) goto fail;
    return 0;
  }
  const char *slash = strchr(p, '/');
  size_t hl = slash ? (size_t)(slash - p) : strlen(p);
  const char *host = p, *after = p;            /* after: where ":port" may start */
  size_t hostlen;
  if (*p == '[') {                             /* an IPv6 literal: [::1]:6379 */
    const char *close = memchr(p, ']', hl);
    if (!close || close == p + 1) goto fail;
    host = p + 1;
    hostlen = (size_t)(close - p - 1);
    after = close + 1;
    if (after < p + hl && *after != ':') goto fail;
  } else {
    const char *colon = memchr(p, ':', hl);
    hostlen = colon ? (size_t)(colon - p) : hl;
    after = p + hostlen;
  }
  if (hostlen == 0) goto fail;
  if (after < p + hl && !parse_int(after + 1, (size_t)(p + hl - after - 1), 1, 65535, &u->port)) goto fail;
  if (slash && slash[1] && !parse_int(slash + 1, strlen(slash + 1), 0, 1 << 20, &u->db)) goto fail;
  r = MT_ENOMEM;
  if (!(u->host = dupn(host, hostlen))) goto fail;
  return 0;
fail:
  mt__rurl_free(u);
  return r;
}

bool mt__rname_ok(const char *name) {
  if (!name) return false;
  size_t n = strlen(name);
  if (n == 0 || n > MT__R_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char ch = name[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '_' || ch == '-' || ch == '.' || ch == ':'))
      return false;
  }
  return true;
}

void mt__rrandom_hex(char *out, size_t nbytes) {
  unsigned char b[64];
  if (nbytes > sizeof b) nbytes = sizeof b;
  if (getrandom(b, nbytes, 0) != (ssize_t)nbytes) {     /* fall back: time and address */
    uint64_t x = (uint64_t)mt__now_ns() ^ (uint64_t)(uintptr_t)out ^ ((uint64_t)getpid() << 32);
    for (size_t i = 0; i < nbytes; i++) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      b[i] = (unsigned char)(x >> 56);
    }
  }
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < nbytes; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
  out[2 * nbytes] = 0;
}

/* ---- failures ---------------------------------------------------------------------- */
static int map_ctx_error(const redisContext *c, int saved_errno) {
  if (!c) return MT_ENOMEM;
  if (c->err == REDIS_ERR_EOF) return MT_ECONNRESET;
  if (c->err == REDIS_ERR_OOM) return MT_ENOMEM;
  if (c->err == REDIS_ERR_IO) {
    if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == ETIMEDOUT ||
        saved_errno == EINPROGRESS || strstr(c->errstr, "temporarily unavailable") ||
        strstr(c->errstr, "timed out"))
      return MT_ETIMEDOUT;
    if (saved_errno == ECONNREFUSED || strstr(c->errstr, "refused")) return MT_ECONNREFUSED;
    if (saved_errno == ENOENT) return MT_ECONNREFUSED;     /* no such Unix socket */
    if (saved_errno == ECONNRESET || saved_errno == EPIPE || strstr(c->errstr, "reset") ||
        strstr(c->errstr, "pipe"))
      return MT_ECONNRESET;
    return saved_errno > 0 ? -saved_errno : MT_EIO;
  }
  return MT_EIO;                                         /* protocol error, other */
}

bool mt__rconn_failed(const mt__rconn_t *c) { return c->err != 0; }

bool mt__rerr_is(const redisReply *r, const char *prefix) {
  return r && r->type == REDIS_REPLY_ERROR && r->str && !strncmp(r->str, prefix, strlen(prefix));
}

static struct timeval tv_of(double s) {
  if (s < 0.001) s = 0.001;
  struct timeval tv = { (time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6) };
  return tv;
}

/* ---- the connection stack ------------------------------------------------------------ */
int mt__rlink_init(mt__rlink_t *l, const char *url, double io_timeout) {
  memset(l, 0, sizeof *l);
  int r = mt__rurl_parse(url, &l->url);
  if (r) return r;
  l->io_timeout = io_timeout > 0 ? io_timeout : MT__R_DEFAULT_IO;
  mt_lock_init(&l->lock, 0);
  return 0;
}

static void conn_close(mt__rconn_t *c) {
  if (!c) return;
  if (c->c) redisFree(c->c);
  mt__free(c);
}

void mt__rlink_destroy(mt__rlink_t *l) {
  for (mt__rconn_t *c = l->idle, *n; c; c = n) {
    n = c->next;
    conn_close(c);
  }
  l->idle = NULL;
  mt_lock_destroy(&l->lock);
  mt__rurl_free(&l->url);
}

/* A call with a timeout that has (almost) run out still gets one exchange:
 * a round trip to Redis must have time to happen, or a timeout of 0 (the
 * non-waiting put and get) would fail on any loaded machine. */
#define MIN_EXCHANGE 0.25

double mt__rlink_wait(const mt__rlink_t *l, int64_t deadline) {
  if (deadline == MT__NEVER) return l->io_timeout;
  double left = mt__remaining(deadline);
  double floor = l->io_timeout < MIN_EXCHANGE ? l->io_timeout : MIN_EXCHANGE;
  if (left > l->io_timeout) left = l->io_timeout;
  return left < floor ? floor : left;
}

/* The SIGPIPE guard around one exchange: block it, do the I/O, swallow a
 * SIGPIPE this thread raised (one already pending before is left alone). */
typedef struct { sigset_t old; bool had; } pipe_guard_t;

static void guard_on(pipe_guard_t *g) {
  sigset_t set, pend;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  sigpending(&pend);
  g->had = sigismember(&pend, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void guard_off(pipe_guard_t *g) {
  sigset_t set, pend;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  sigpending(&pend);
  if (!g->had && sigismember(&pend, SIGPIPE)) {
    struct timespec zero = { 0, 0 };
    while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR) {}
  }
  pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static int set_wait(mt__rconn_t *c, double wait) {
  if (wait == c->tmo) return 0;
  if (redisSetTimeout(c->c, tv_of(wait)) != REDIS_OK) return c->err = map_ctx_error(c->c, errno);
  c->tmo = wait;
  return 0;
}

int mt__rreply(mt__rconn_t *c, double wait, redisReply **out) {
  *out = NULL;
  if (c->err) return c->err;
  int r = set_wait(c, wait);
  if (r) return r;
  pipe_guard_t g;
  guard_on(&g);
  void *rep = NULL;
  errno = 0;
  int ok = redisGetReply(c->c, &rep);
  int e = errno;
  guard_off(&g);
  if (ok != REDIS_OK || !rep) {
    if (rep) freeReplyObject(rep);
    return c->err = map_ctx_error(c->c, e);
  }
  *out = rep;
  redisReply *rr = rep;
  if (rr->type != REDIS_REPLY_ERROR) return 0;
  /* Transient refusals: still loading its data after a restart, or busy
   * with a long script. */
  if (mt__rerr_is(rr, "LOADING") || mt__rerr_is(rr, "BUSY ") || mt__rerr_is(rr, "TRYAGAIN")) return MT_EAGAIN;
  return MT_EIO;
}

int mt__rappend(mt__rconn_t *c, int argc, const char **argv, const size_t *lens) {
  if (c->err) return c->err;
  if (redisAppendCommandArgv(c->c, argc, argv, lens) != REDIS_OK) return c->err = MT_ENOMEM;
  return 0;
}

int mt__rcmd(mt__rconn_t *c, double wait, redisReply **out, int argc, const char **argv,
             const size_t *lens) {
  *out = NULL;
  int r = mt__rappend(c, argc, argv, lens);
  return r ? r : mt__rreply(c, wait, out);
}

static int conn_setup(mt__rlink_t *l, mt__rconn_t *c, double wait) {
  redisReply *rep;
  int r = 0;
  if (l->url.pass) {
    const char *argv[3] = { "AUTH", l->url.user ? l->url.user : l->url.pass, l->url.pass };
    r = mt__rcmd(c, wait, &rep, l->url.user ? 3 : 2, argv, NULL);
    if (rep) freeReplyObject(rep);
    if (r == MT_EIO) r = MT_EACCES;
    if (r) return r;
  }
  if (l->url.db) {
    char db[16];
    snprintf(db, sizeof db, "%d", l->url.db);
    const char *argv[2] = { "SELECT", db };
    r = mt__rcmd(c, wait, &rep, 2, argv, NULL);
    if (rep) freeReplyObject(rep);
  }
  return r;
}

/* True if an idle connection was closed by the other end meanwhile (Redis
 * restarted, a proxy timed it out): it shows as readable, since nothing
 * else is due on an idle connection. */
static bool conn_stale(const mt__rconn_t *c) {
  struct pollfd pf = { c->c->fd, POLLIN | POLLRDHUP, 0 };
  return poll(&pf, 1, 0) != 0;
}

int mt__rlink_take(mt__rlink_t *l, double wait, mt__rconn_t **out) {
  *out = NULL;
  for (;;) {
    mt_lock_acquire(&l->lock, MT_FOREVER);
    mt__rconn_t *c = l->idle;
    if (c) l->idle = c->next;
    mt_lock_release(&l->lock);
    if (!c) break;
    if (conn_stale(c)) {                       /* drop it; try the next, or connect */
      conn_close(c);
      continue;
    }
    c->next = NULL;
    *out = c;
    return 0;
  }
  mt__rconn_t *c;
  if (wait <= 0) wait = l->io_timeout;
  c = mt__calloc(1, sizeof *c);
  if (!c) return MT_ENOMEM;
  errno = 0;
  c->c = l->url.path ? redisConnectUnixWithTimeout(l->url.path, tv_of(wait))
                     : redisConnectWithTimeout(l->url.host, l->url.port, tv_of(wait));
  int e = errno;
  int r = (!c->c || c->c->err) ? map_ctx_error(c->c, e) : 0;
  if (!r) {
    if (!l->url.path) redisEnableKeepAlive(c->c);
    c->tmo = -1;
    r = conn_setup(l, c, wait);
  }
  if (r) {
    conn_close(c);
    return r;
  }
  *out = c;
  return 0;
}

void mt__rlink_give(mt__rlink_t *l, mt__rconn_t *c) {
  if (!c) return;
  if (c->err) {
    conn_close(c);
    return;
  }
  mt_lock_acquire(&l->lock, MT_FOREVER);
  c->next = l->idle;
  l->idle = c;
  mt_lock_release(&l->lock);
}

int mt__rlink_cmd(mt__rlink_t *l, int64_t deadline, redisReply **out, int argc, const char **argv,
                  const size_t *lens) {
  *out = NULL;
  double wait = mt__rlink_wait(l, deadline);
  mt__rconn_t *c;
  int r = mt__rlink_take(l, wait, &c);
  if (r) return r;
  r = mt__rcmd(c, wait, out, argc, argv, lens);
  mt__rlink_give(l, c);
  return r;
}

/* ---- scripts ------------------------------------------------------------------------- */
int mt__rscript_prepare(mt__rconn_t *c, mt__rscript_t *s, double wait) {
  const char *argv[3] = { "SCRIPT", "LOAD", s->src };
  redisReply *rep;
  int r = mt__rcmd(c, wait, &rep, 3, argv, NULL);
  if (!r && (rep->type != REDIS_REPLY_STRING || rep->len != 40)) r = MT_EIO;
  if (!r && !mt__load(&s->have_sha)) {
    /* Every writer stores the same 40 bytes: a benign race made explicit. */
    for (int i = 0; i < 40; i++) __atomic_store_n(&s->sha[i], rep->str[i], __ATOMIC_RELAXED);
    mt__store(&s->have_sha, 1);
  }
  if (rep) freeReplyObject(rep);
  return r;
}

static int script_args(mt__rscript_t *s, const char *verb, const char *body, int nkeys, int argc,
                       const char **argv, const size_t *lens, const char ***pv, size_t **pl,
                       char *nk) {
  snprintf(nk, 16, "%d", nkeys);
  const char **v = mt__malloc(sizeof *v * (size_t)(argc + 3));
  size_t *l = mt__malloc(sizeof *l * (size_t)(argc + 3));
  if (!v || !l) {
    mt__free(v);
    mt__free(l);
    return MT_ENOMEM;
  }
  v[0] = verb; l[0] = strlen(verb);
  v[1] = body; l[1] = strlen(body);
  v[2] = nk;   l[2] = strlen(nk);
  for (int i = 0; i < argc; i++) {
    v[3 + i] = argv[i];
    l[3 + i] = lens ? lens[i] : strlen(argv[i]);
  }
  *pv = v;
  *pl = l;
  return 0;
}

static void sha_copy(mt__rscript_t *s, char *out) {
  for (int i = 0; i < 40; i++) out[i] = __atomic_load_n(&s->sha[i], __ATOMIC_RELAXED);
  out[40] = 0;
}

int mt__rscript(mt__rconn_t *c, mt__rscript_t *s, double wait, redisReply **out, int nkeys,
                int argc, const char **argv, const size_t *lens) {
  *out = NULL;
  char sha[41], nk[16];
  bool by_sha = mt__load(&s->have_sha);
  if (by_sha) sha_copy(s, sha);
  const char **v;
  size_t *l;
  int r = script_args(s, by_sha ? "EVALSHA" : "EVAL", by_sha ? sha : s->src, nkeys, argc, argv,
                      lens, &v, &l, nk);
  if (r) return r;
  r = mt__rcmd(c, wait, out, argc + 3, v, l);
  if (r == MT_EIO && by_sha && mt__rerr_is(*out, "NOSCRIPT")) {   /* Redis restarted */
    freeReplyObject(*out);
    v[0] = "EVAL"; l[0] = 4;
    v[1] = s->src; l[1] = strlen(s->src);
    r = mt__rcmd(c, wait, out, argc + 3, v, l);
  }
  if (!by_sha && r != MT_EIO && !c->err) mt__rscript_prepare(c, s, wait);
  mt__free(v);
  mt__free(l);
  return r;
}
