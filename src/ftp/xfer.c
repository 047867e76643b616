/* xfer.c — downloads and uploads: one stream or N segments, resumable,
 * verified, rate-limited, and many files at once on an mt_pool.
 *
 * A download goes to NAME.part (a small fresh one to an unnamed file,
 * linked as NAME or NAME.part at the end: see open_unnamed), with a state
 * file NAME.part.state beside it that records, per segment, its byte range
 * and how much of it has been written (each segment owns one fixed-width
 * line and pwrites only that line, after the bytes it counts have been
 * pwritten). The state file is authoritative for -c: a .part is never taken
 * for complete because of its length. NAME appears only by rename (or the
 * link of a complete unnamed file), once every segment is complete,
 * the size checks and (when the server offers HASH SHA-256) the hash —
 * taken while the bytes arrive: in line for one stream, by a hasher that
 * follows the segments in file order otherwise, with the server asked on a
 * helper session meanwhile for large files.
 *
 * A download to a file is received into the session's buffer, hashed
 * there while the bytes are in the CPU's cache (one stream, or a segment
 * checked by its range: see "hashing alongside a download" below), and
 * pwritten (see "receiving" below).
 *
 * Threads: the calling thread runs segment 0 on the caller's session; the
 * other segments run on an mt_pool, each on a session of its own. Segments
 * share only the .part and state fds (disjoint pwrite ranges). Parallel
 * jobs run on an mt_pool whose workers each keep one session (thread-local)
 * for all their jobs; the sessions are closed by the caller after the pool
 * is joined.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <mt/error.h>
#include <mt/io.h>
#include <mt/pool.h>
#include <mt/time.h>

#include "ftpproto.h"
#include "mtftp.h"

#define BUFSZ XFER_BUFSZ
#define MIN_SEGMENT (256 * 1024)
#define MAX_SEGMENTS 16
#define STATE_MAGIC "mtftp-state 1"
#define HDR_LEN 80
#define LINE_LEN 63

/* ---- rate limit ---------------------------------------------------------- */

static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static double rate_next;   /* when the bytes taken so far may all have passed */

void rate_take(size_t n) {
  if (g_opts.rate <= 0) return;
  pthread_mutex_lock(&rate_lock);
  double now = mt_now();
  if (rate_next < now - 0.25) rate_next = now - 0.25;   /* a quarter second of burst */
  rate_next += (double)n / g_opts.rate;
  double wait = rate_next - now;
  pthread_mutex_unlock(&rate_lock);
  if (wait > 0) mt_sleep(wait);
}

/* ---- hashing --------------------------------------------------------------- */

static EVP_MD_CTX *hash_new(void) {
  EVP_MD_CTX *h = EVP_MD_CTX_new();
  if (h && !EVP_DigestInit_ex(h, EVP_sha256(), NULL)) {
    EVP_MD_CTX_free(h);
    h = NULL;
  }
  return h;
}

static void hash_hex(EVP_MD_CTX *h, char *hex) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(h, md, &len);
  for (unsigned i = 0; i < len; i++) sprintf(hex + 2 * i, "%02x", md[i]);
  hex[2 * len] = 0;
}

/* Hashes fd[from..from+n) into h with pread. 0 or -errno. */
static int hash_range(EVP_MD_CTX *h, int fd, uint64_t from, uint64_t n) {
  char *buf = malloc(BUFSZ);
  if (!buf) return -ENOMEM;
  uint64_t off = from;
  n += from;
  while (off < n) {
    size_t want = n - off < BUFSZ ? (size_t)(n - off) : BUFSZ;
    ssize_t r = pread(fd, buf, want, (off_t)off);
    if (r <= 0) {
      free(buf);
      return r < 0 ? -errno : -EIO;
    }
    EVP_DigestUpdate(h, buf, (size_t)r);
    off += (uint64_t)r;
  }
  free(buf);
  return 0;
}

static int hash_file(EVP_MD_CTX *h, int fd, uint64_t n) { return hash_range(h, fd, 0, n); }

/* Compares the server's HASH of path with ours. 0, EX_VERIFY, or an exit
 * code of the HASH command; says what was checked with -v. */
/* rh: the server's answer when it was asked on a helper session during the
 * transfer (NULL: ask now on s). */
typedef struct {
  char hex[65];
  int rc;   /* sess_hash's: 0, 1 (no HASH), or an exit code */
} rhash_res_t;

static int verify(sess_t *s, const char *path, const char *local_hex, uint64_t size, uint64_t expect,
                  const rhash_res_t *rh) {
  if (g_opts.verify && local_hex) {
    char rhex[65];
    int r = rh ? rh->rc : sess_hash(s, path, rhex);
    if (rh && r == 0) memcpy(rhex, rh->hex, sizeof rhex);
    if (r == 0) {
      if (strcmp(rhex, local_hex)) {
        snprintf(s->err, sizeof s->err, "SHA-256 mismatch: server %s, local %s", rhex, local_hex);
        return EX_VERIFY;
      }
      if (g_opts.verbose > 0) info("%s: SHA-256 verified (%s)", path, local_hex);
      return 0;
    }
    if (r != 1) return r;
  }
  if (size != expect) {
    snprintf(s->err, sizeof s->err, "size mismatch: %" PRIu64 " bytes, expected %" PRIu64, size, expect);
    return EX_VERIFY;
  }
  if (g_opts.verbose > 0)
    info("%s: %s; size checked (%" PRIu64 " bytes)", path,
         g_opts.verify ? "the server offers no HASH SHA-256" : "verification off", size);
  return 0;
}

/* ---- the state file ------------------------------------------------------------ */

typedef struct {
  uint64_t start, end, done;   /* [start, end) and bytes written from start */
} seg_t;

/* The state file is made lazily, by the first segment that has something
 * to record after half a second or at a failure: a download that
 * completes quickly (most small files) never writes one. Each segment's
 * `done` is stored atomically by its owner after the bytes are pwritten,
 * so the one who makes the file may read the others' counts. */
typedef struct {
  int fd;                 /* -1 until made */
  const char *path;
  pthread_mutex_t lock;   /* making the file */
  uint64_t size;
  int64_t mtime;
  int n;
  seg_t seg[MAX_SEGMENTS];
} state_t;

static int state_create(const char *path, state_t *st);

static int state_line(state_t *st, int i) {
  char line[LINE_LEN + 1];
  snprintf(line, sizeof line, "%020" PRIu64 " %020" PRIu64 " %020" PRIu64 "\n", st->seg[i].start, st->seg[i].end,
           __atomic_load_n(&st->seg[i].done, __ATOMIC_RELAXED));
  ssize_t w = pwrite(st->fd, line, LINE_LEN, HDR_LEN + (off_t)i * LINE_LEN);
  return w == LINE_LEN ? 0 : (w < 0 ? -errno : -ENOSPC);
}

static int state_write_seg(state_t *st, int i) {
  int fd = __atomic_load_n(&st->fd, __ATOMIC_ACQUIRE);
  if (fd < 0) {
    pthread_mutex_lock(&st->lock);
    int r = st->fd < 0 ? state_create(st->path, st) : 0;
    pthread_mutex_unlock(&st->lock);
    if (r) return r;
  }
  return state_line(st, i);
}

static int state_create(const char *path, state_t *st) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -errno;
  __atomic_store_n(&st->fd, fd, __ATOMIC_RELEASE);
  char hdr[HDR_LEN + 1];
  snprintf(hdr, sizeof hdr, "%s size=%020" PRIu64 " mtime=%020" PRId64 " segs=%04d", STATE_MAGIC, st->size,
           st->mtime, st->n);
  size_t l = strlen(hdr);
  memset(hdr + l, ' ', HDR_LEN - 1 - l);
  hdr[HDR_LEN - 1] = '\n';
  if (pwrite(st->fd, hdr, HDR_LEN, 0) != HDR_LEN) return errno ? -errno : -ENOSPC;
  for (int i = 0; i < st->n; i++) {
    int r = state_line(st, i);
    if (r) return r;
  }
  return 0;
}

/* Loads a state file; 0, or -EINVAL when it is not one of ours or is
 * inconsistent (then the download starts over). */
static int state_load(const char *path, state_t *st) {
  st->fd = open(path, O_RDWR | O_CLOEXEC);
  if (st->fd < 0) return -errno;
  char buf[HDR_LEN + MAX_SEGMENTS * LINE_LEN + 1];
  ssize_t n = pread(st->fd, buf, sizeof buf - 1, 0);
  if (n < HDR_LEN) return -EINVAL;
  buf[n] = 0;
  unsigned long long size;
  long long mtime;
  int segs;
  if (sscanf(buf, STATE_MAGIC " size=%llu mtime=%lld segs=%d", &size, &mtime, &segs) != 3 || segs < 1 ||
      segs > MAX_SEGMENTS || n < HDR_LEN + segs * LINE_LEN)
    return -EINVAL;
  st->size = size;
  st->mtime = mtime;
  st->n = segs;
  uint64_t prev = 0;
  for (int i = 0; i < segs; i++) {
    unsigned long long a, b, d;
    if (sscanf(buf + HDR_LEN + i * LINE_LEN, "%llu %llu %llu", &a, &b, &d) != 3) return -EINVAL;
    if (a != prev || b < a || d > b - a || b > size) return -EINVAL;
    st->seg[i] = (seg_t){a, b, d};
    prev = b;
  }
  return prev == size ? 0 : -EINVAL;
}

/* ---- one segment ------------------------------------------------------------------ */

typedef struct {
  sess_t *s;                 /* the session it runs on (segment 0: the caller's) */
  sess_t own;
  const target_t *t;
  const char *path;
  int fd;                    /* the .part */
  state_t *st;
  int idx;
  bool size_known;
  bool to_eof;               /* one stream of unknown size or TYPE A */
  bool ascii;
  EVP_MD_CTX *hash;          /* hashed in order (one stream from 0) */
  bool hash_prefix;          /* hash's segment resumed: its written bytes to hash first */
  prog_t *prog;
  int rc;
  char err[2048];
} segjob_t;

/* Lost connections, broken transfers and 4xx replies (transient by RFC 959:
 * 421 too many users, 450 busy, 425 no data connection) are retried. */
static bool retryable(int ex, const sess_t *s) {
  return ex == EX_CONNECT || ex == EX_XFER || (ex != EX_INTR && s->code >= 400 && s->code < 500);
}

static int backoff(int attempt) {
  double d = 0.25 * (double)(1 << (attempt < 5 ? attempt : 5));
  for (double t = 0; t < d && !g_interrupted; t += 0.05) mt_sleep(0.05);
  return g_interrupted ? EX_INTR : 0;
}

/* Writes n bytes at off, converting CRLF to LF in ASCII mode (*cr carries a
 * CR across buffers). Returns bytes written to the file or -errno. */
static ssize_t put_bytes(int fd, char *buf, size_t n, uint64_t off, bool ascii, bool *cr) {
  size_t m = n;
  if (ascii) {
    size_t o = 0;
    char *tmp = buf;
    for (size_t i = 0; i < n; i++) {
      char c = tmp[i];
      if (*cr) {
        *cr = false;
        if (c != '\n') buf[o++] = '\r';
      }
      if (c == '\r') *cr = true;
      else buf[o++] = c;
    }
    m = o;
  }
  size_t w = 0;
  while (w < m) {
    ssize_t r = pwrite(fd, buf + w, m - w, (off_t)(off + w));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    w += (size_t)r;
  }
  return (ssize_t)m;
}

/* ---- receiving --------------------------------------------------------------------
 *
 * A segment receives into the session's buffer (XFER_BUFSZ), hashes it
 * there while it is in the CPU's cache when it has a hash of its own, and
 * pwrites it: two copies, socket to buffer and buffer to page cache.
 * Receiving straight into a MAP_SHARED window of the .part saves the
 * second copy but pays more: every page of the window is made in a fault
 * that zeroes it first (ext4 reads a hole as zeroes, large folios at a
 * time) and the window is unmapped again. On this kernel (6.18, ext4) a
 * 1 GiB `get -s 4`, verified, took 1.16-1.22 s by pwrite against
 * 1.29-1.31 s mapped (medians of 5 and 7 alternating runs), and four
 * threads filling one 1 GiB file took 0.36-0.41 s by pwrite against
 * 0.63-0.95 s by populating mapped windows, the inode lock that the
 * pwrites share notwithstanding. */
#define PREALLOC_MIN (16u << 20)   /* a fresh binary .part this big or bigger is allocated
                                       whole up front (fallocate), where get opens it */
#define BLOCK_MODE_MAX (4u << 20)   /* files up to this size come whole in MODE B when the
                                       server has it: no data connection set-up per file */

/* Reads the segment from its current position to its end (or EOF). 0,
 * or an exit code with j->err set; progress is in st->seg[idx].done. */
static int seg_once(segjob_t *j, char *buf) {
  sess_t *s = j->s;
  seg_t *g = &j->st->seg[j->idx];
  uint64_t pos = g->start + g->done;
  int r = sess_type(s, j->ascii ? 'A' : 'I');
  if (r) return r;
  /* a small file whole: MODE B, which keeps the data connection for the
   * next file (a big one goes faster by the stream's bigger reads) */
  s->want_block = !j->to_eof && !j->ascii && pos == 0 && g->end == j->st->size &&
                  j->st->size <= BLOCK_MODE_MAX;
  r = sess_data_begin(s, (int64_t)pos, "RETR %s", j->path);
  s->want_block = false;
  if (r) return r;
  double last_io = mt_now(), last_state = last_io;
  bool cr = false;
  int ex = 0;
  while (j->to_eof || pos < g->end) {
    if (g_interrupted) {
      ex = EX_INTR;
      break;
    }
    size_t want = BUFSZ;
    if (!j->to_eof && g->end - pos < want) want = (size_t)(g->end - pos);
    ssize_t n = sess_data_read(s, buf, want, 0.25);
    if (n == MT_ETIMEDOUT) {
      if (mt_now() - last_io > g_opts.timeout) {
        snprintf(j->err, sizeof j->err, "data connection stalled for %.0f s", g_opts.timeout);
        ex = EX_XFER;
        break;
      }
      sess_keepalive(s);
      continue;
    }
    if (n < 0) {
      snprintf(j->err, sizeof j->err, "data connection: %s", sess_data_strerror(s, (int)n));
      ex = EX_XFER;
      break;
    }
    if (n == 0) {
      if (j->to_eof) break;
      snprintf(j->err, sizeof j->err, "data connection closed at byte %" PRIu64 " of %" PRIu64, pos, g->end);
      ex = EX_XFER;
      break;
    }
    last_io = mt_now();
    if (j->hash) EVP_DigestUpdate(j->hash, buf, (size_t)n);
    ssize_t w = put_bytes(j->fd, buf, (size_t)n, j->to_eof ? g->start + g->done : pos, j->ascii, &cr);
    if (w < 0) {
      snprintf(j->err, sizeof j->err, "%s", strerror((int)-w));
      ex = EX_LOCAL;
      break;
    }
    pos += (uint64_t)n;
    __atomic_store_n(&g->done, g->done + (uint64_t)w, __ATOMIC_RELEASE);
    if (j->to_eof) g->end = g->start + g->done;
    prog_add(j->prog, (uint64_t)n);
    if (last_io - last_state > 0.5) {
      state_write_seg(j->st, j->idx);
      last_state = last_io;
    }
    rate_take((size_t)n);
    sess_keepalive(s);
  }
  if (cr && ex == 0) {
    char c = '\r';
    if (pwrite(j->fd, &c, 1, (off_t)(g->start + g->done)) == 1) __atomic_store_n(&g->done, g->done + 1, __ATOMIC_RELAXED);
  }
  /* a failure is always recorded; a success only where the file exists */
  int sr = ex || __atomic_load_n(&j->st->fd, __ATOMIC_ACQUIRE) >= 0 ? state_write_seg(j->st, j->idx) : 0;
  if (ex == 0 && sr) {
    snprintf(j->err, sizeof j->err, "state file: %s", strerror(-sr));
    ex = EX_LOCAL;
  }
  if (ex == 0) {
    bool whole = j->to_eof || g->end == j->st->size;
    if (whole) {
      ex = sess_data_end(s);
      if (ex) snprintf(j->err, sizeof j->err, "%s", s->err);
    } else {
      sess_abort(s);   /* a segment that ends before the file does */
    }
  } else if (ex == EX_INTR || ex == EX_LOCAL) {
    sess_abort(s);
  } else {
    sess_data_close(s);
    sess_drop(s);      /* out of step after a broken transfer: start afresh */
  }
  return ex;
}

static int seg_run(void *arg, void **result) {
  segjob_t *j = arg;
  char *buf = sess_buf(j->s);
  if (!buf) {
    snprintf(j->err, sizeof j->err, "out of memory");
    return j->rc = EX_LOCAL;
  }
  int ex = 0;
  if (j->hash_prefix) {   /* on this segment's own thread, beside the others */
    seg_t *g = &j->st->seg[j->idx];
    int r = hash_range(j->hash, j->fd, g->start, g->done);
    j->hash_prefix = false;
    if (r) {
      snprintf(j->err, sizeof j->err, "reading back what arrived before: %s", strerror(-r));
      return j->rc = EX_LOCAL;
    }
  }
  for (int attempt = 0;; attempt++) {
    seg_t *g = &j->st->seg[j->idx];
    if (!j->to_eof && g->done == g->end - g->start) {
      ex = 0;
      break;
    }
    j->err[0] = 0;
    if (!sess_connected(j->s)) {
      ex = sess_open(j->s, j->t);
      if (ex) snprintf(j->err, sizeof j->err, "%s", j->s->err);
    } else {
      uint64_t before = g->done;
      ex = seg_once(j, buf);
      if (ex && !j->err[0]) snprintf(j->err, sizeof j->err, "%s", j->s->err);
      if (g->done > before) attempt = 0;   /* progress: the count starts again */
      if (j->to_eof && ex == 0) break;
      if (j->to_eof && ex && j->hash) break;   /* an in-order hash cannot skip back */
    }
    if (ex == 0) continue;
    /* a TLS data connection cut without close_notify fails the download
     * (RFC 4217 §10); `get -c` may resume from what arrived */
    if (!retryable(ex, j->s) || j->s->data_truncated || attempt >= g_opts.retries) break;
    if (g_opts.verbose >= 0) info("%s: %s; retrying", j->path, j->err);
    if (backoff(attempt)) {
      ex = EX_INTR;
      break;
    }
  }
  return j->rc = ex;
}

/* ---- hashing alongside a download ---------------------------------------------------
 *
 * A large or segmented download does not wait for the server to hash the
 * file after the last byte: a helper session asks for HASH while the bytes
 * flow. A segmented download from a server with RANG checks each segment on
 * its own: every segment hashes its bytes as they arrive, on its own thread,
 * and the server is asked for the hash of each segment's range (RANG, then
 * HASH), so neither side hashes the file on one core from end to end.
 * Without RANG the local hash must be of the whole file in order: a hasher
 * follows the segments' published `done` counts and reads each range back
 * (from the page cache) as soon as it is written. */

typedef struct {
  const target_t *t;
  const char *path;
  rhash_res_t res;            /* the whole file's; or, with n ranges, rc for them all */
  int n;
  const uint64_t *from, *to;  /* the ranges, and their hashes */
  char (*hex)[65];
} rhash_t;

static int rhash_run(void *arg, void **result) {
  rhash_t *r = arg;
  sess_t hs;
  sess_init(&hs);
  r->res.rc = sess_open(&hs, r->t);
  if (r->res.rc == 0)
    r->res.rc = r->n ? sess_hash_ranges(&hs, r->path, r->n, r->from, r->to, r->hex) : sess_hash(&hs, r->path, r->res.hex);
  sess_close(&hs);
  return 0;
}

typedef struct {
  state_t *st;
  int fd;
  EVP_MD_CTX *h;
  int stop;       /* set (atomically) when a segment failed: give up */
  int rc;         /* 0 when the whole file was hashed */
} lhash_t;

static int lhash_run(void *arg, void **result) {
  lhash_t *l = arg;
  char *buf = malloc(BUFSZ);
  l->rc = -1;
  if (!buf) return 0;
  uint64_t pos = 0;
  for (int i = 0; i < l->st->n; i++) {
    seg_t *g = &l->st->seg[i];
    while (pos < g->end) {
      uint64_t avail = g->start + __atomic_load_n(&g->done, __ATOMIC_ACQUIRE);
      if (avail > pos) {
        size_t want = avail - pos < BUFSZ ? (size_t)(avail - pos) : BUFSZ;
        ssize_t n = pread(l->fd, buf, want, (off_t)pos);
        if (n <= 0) goto out;
        EVP_DigestUpdate(l->h, buf, (size_t)n);
        pos += (uint64_t)n;
        continue;
      }
      if (__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE) || g_interrupted) goto out;
      mt_sleep(0.001);
    }
  }
  l->rc = 0;
out:
  free(buf);
  return 0;
}

#define RHASH_MIN (8 << 20)   /* below this a helper login costs more than it saves */

/* ---- get --------------------------------------------------------------------------- */

/* A small download that resumes nothing, to a name that is free and has no
 * .part beside it, goes to an unnamed file (O_TMPFILE) in the target's
 * directory, which gets its name by one link once complete and verified:
 * one change to the directory per file instead of three (create the .part,
 * remove a stale state, rename), each of which holds the directory's lock,
 * on which `mget -j 8` of small files queued. A failed one is linked as the
 * .part, as any failed download leaves it. */
#define UNNAMED_MAX MIN_SEGMENT   /* files this small are never segmented */

static int open_unnamed(const char *local) {
  static int proc_ok = -1;   /* links are made through /proc/self/fd */
  if (__atomic_load_n(&proc_ok, __ATOMIC_RELAXED) < 0)
    __atomic_store_n(&proc_ok, access("/proc/self/fd", X_OK) == 0, __ATOMIC_RELAXED);
  if (!__atomic_load_n(&proc_ok, __ATOMIC_RELAXED)) return -1;
  char dir[4200];
  const char *sl = strrchr(local, '/');
  if (!sl) snprintf(dir, sizeof dir, ".");
  else snprintf(dir, sizeof dir, "%.*s", sl == local ? 1 : (int)(sl - local), local);
  return open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);   /* -1 where the file system has none */
}

static int link_fd(int fd, const char *name) {
  /* the fd itself (Linux 6.10 lets its opener do that), else its /proc link */
  if (!linkat(fd, "", AT_FDCWD, name, AT_EMPTY_PATH)) return 0;
  if (errno == EEXIST) return -1;
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  return linkat(AT_FDCWD, p, AT_FDCWD, name, AT_SYMLINK_FOLLOW);
}

/* Gives the unnamed file fd the name, over a file that appeared there
 * meanwhile (by a link to the .part and a rename). 0 or -errno. */
static int name_unnamed(int fd, const char *name, const char *part) {
  if (!link_fd(fd, name)) return 0;
  if (errno != EEXIST) return -errno;
  unlink(part);
  if (link_fd(fd, part) || rename(part, name)) return -errno;
  return 0;
}

/* `get -c` when mtftp has no state file for local, but local itself exists
 * (a download by another tool, as wget -c and lftp get -c continue): its
 * bytes are taken as the file's first bytes. Shorter than the remote file:
 * it becomes the .part, to be continued (the remainder cut in segments),
 * and the whole is verified at the end as any download is — a prefix that
 * is not the remote file's ends in a SHA-256 mismatch, not in a file passed
 * off as complete. As long: checked (hash, else size) and kept. Longer:
 * downloaded again. Returns 1 adopted (*fd open on the .part, st set), 2
 * complete, 0 nothing to adopt, or -exit code. */
static int adopt_local(sess_t *s, const char *path, const char *local, const char *part, state_t *st,
                       int segments, int *fd) {
  struct stat ls;
  if (lstat(local, &ls) || !S_ISREG(ls.st_mode) || ls.st_size == 0) return 0;
  uint64_t have = (uint64_t)ls.st_size, size = st->size;
  if (have > size) {
    info("%s: the local file is longer than the remote one (%" PRIu64 " > %" PRIu64 " bytes); downloading it again",
         local, have, size);
    return 0;
  }
  if (have == size) {
    char hex[65] = "";
    bool hashing = g_opts.verify && s->feat_hash_sha256 && s->hash_selected;
    if (hashing) {
      int lfd = open(local, O_RDONLY | O_CLOEXEC);
      EVP_MD_CTX *h = lfd >= 0 ? hash_new() : NULL;
      int r = h ? hash_file(h, lfd, have) : -EIO;
      if (r == 0) hash_hex(h, hex);
      if (h) EVP_MD_CTX_free(h);
      if (lfd >= 0) close(lfd);
      if (r) {
        snprintf(s->err, sizeof s->err, "%s: %s", local, strerror(-r));
        return -EX_LOCAL;
      }
    }
    int r = verify(s, path, hex[0] ? hex : NULL, have, size, NULL);
    if (r == EX_VERIFY) {
      info("%s: as long as the remote file but not the same (%s); downloading it again", local, s->err);
      s->err[0] = 0;
      return 0;
    }
    if (r) return -r;
    if (g_opts.verbose > 0) info("%s: already complete", local);
    return 2;
  }
  if (rename(local, part)) {
    snprintf(s->err, sizeof s->err, "%s: %s", part, strerror(errno));
    return -EX_LOCAL;
  }
  *fd = open(part, O_RDWR | O_CLOEXEC);
  if (*fd < 0) {
    snprintf(s->err, sizeof s->err, "%s: %s", part, strerror(errno));
    return -EX_LOCAL;
  }
  /* the remainder in up to N segments; the first continues the local bytes */
  uint64_t rest = size - have;
  int n = segments < 1 ? 1 : (segments > MAX_SEGMENTS ? MAX_SEGMENTS : segments);
  while (n > 1 && rest / (uint64_t)n < MIN_SEGMENT) n--;
  st->n = n;
  for (int i = 0; i < n; i++) {
    st->seg[i].start = i == 0 ? 0 : have + rest / (uint64_t)n * (uint64_t)i;
    st->seg[i].end = i == n - 1 ? size : have + rest / (uint64_t)n * (uint64_t)(i + 1);
    st->seg[i].done = i == 0 ? have : 0;
  }
  if (g_opts.verbose > 0) info("%s: continuing the local file from byte %" PRIu64, local, have);
  return 1;
}

/* Streams path into out (standard output, a FIFO, a device): no .part, no
 * state, nothing renamed over it. */
static int get_stream(sess_t *s, const char *path, int out, const char *name) {
  int r = sess_type(s, s->ascii ? 'A' : 'I');
  if (r) return r;
  r = sess_data_begin(s, 0, "RETR %s", path);
  if (r) return r;
  char *buf = sess_buf(s);
  int ex = buf ? 0 : EX_LOCAL;
  double last = mt_now();
  while (!ex) {
    if (g_interrupted) {
      ex = EX_INTR;
      break;
    }
    ssize_t n = sess_data_read(s, buf, BUFSZ, 0.25);
    if (n == MT_ETIMEDOUT) {
      if (mt_now() - last > g_opts.timeout) ex = EX_XFER;
      continue;
    }
    if (n == 0) break;
    if (n < 0) {
      snprintf(s->err, sizeof s->err, "data connection: %s", sess_data_strerror(s, (int)n));
      ex = EX_XFER;
      break;
    }
    last = mt_now();
    ssize_t w = 0, k = 0;
    while (w < n && (k = mt_write(out, buf + w, (size_t)(n - w), g_opts.timeout)) > 0) w += k;
    if (w != n) {
      snprintf(s->err, sizeof s->err, "%s: %s", name, mt_strerror(k < 0 ? (int)k : -EIO));
      ex = EX_LOCAL;
    }
    rate_take((size_t)n);
  }
  if (ex) {
    sess_abort(s);
    return ex;
  }
  return sess_data_end(s);
}

int xfer_get(sess_t *s, const target_t *t, const char *path, const char *local, const getopts_t *o) {
  s->err[0] = 0;
  if (!strcmp(local, "-")) return get_stream(s, path, 1, "standard output");
  struct stat lst;
  bool local_free = stat(local, &lst) != 0 && errno == ENOENT;
  if (!local_free && !S_ISREG(lst.st_mode)) {
    if (S_ISDIR(lst.st_mode)) {
      snprintf(s->err, sizeof s->err, "%s: is a directory", local);
      return EX_LOCAL;
    }
    /* a device or FIFO (-o /dev/null): written to, never replaced */
    int out = open(local, O_WRONLY | O_CLOEXEC);
    if (out < 0) {
      snprintf(s->err, sizeof s->err, "%s: %s", local, strerror(errno));
      return EX_LOCAL;
    }
    int r = get_stream(s, path, out, local);
    close(out);
    return r;
  }
  uint64_t size = 0;
  bool known = false;
  if (!s->ascii && o->size_hint >= 0) {   /* from a listing: no SIZE round trip */
    size = (uint64_t)o->size_hint;
    known = true;
  } else if (!s->ascii) {
    int r = sess_size(s, path, &size);
    if (r == 0) known = true;
    else if (!sess_connected(s)) return r;
    else if (r == EX_NOTFOUND || r == EX_PERM) return r;   /* RETR would say the same */
  }
  /* The remote time goes into the state file so that -c never resumes a
   * .part of a file that changed on the server (one MDTM, for files large
   * enough to have a state file). */
  int64_t rtime = o->set_mtime;
  if (rtime < 0 && known && size >= MIN_SEGMENT && s->feat_mdtm) {
    time_t rt;
    if (sess_mdtm(s, path, &rt) == 0) rtime = rt;
    else if (!sess_connected(s)) return EX_CONNECT;
  }
  char part[4200], spath[4220];
  snprintf(part, sizeof part, "%s.part", local);
  snprintf(spath, sizeof spath, "%s.part.state", local);
  state_t st = {.fd = -1, .path = spath, .size = size, .mtime = rtime};
  pthread_mutex_init(&st.lock, NULL);
  bool resumed = false;
  int fd = -1, unnamed = -1;   /* unnamed: fd is an O_TMPFILE, named at the end */
  if (o->resume && known && state_load(spath, &st) == 0 && st.size == size && st.mtime == rtime) {
    fd = open(part, O_RDWR | O_CLOEXEC);
    resumed = fd >= 0;
  }
  if (!resumed && o->resume && known && !s->ascii) {   /* -c on a file of another tool's making */
    if (st.fd >= 0) close(st.fd);
    st.fd = -1;
    st.size = size;
    st.mtime = rtime;
    st.n = 0;
    int a = adopt_local(s, path, local, part, &st, o->segments, &fd);
    if (a < 0) return -a;
    if (a == 2) return 0;    /* already complete (and verified when the server can hash) */
    resumed = a == 1;
  }
  if (!resumed) {
    if (st.fd >= 0) close(st.fd);
    if (o->resume && g_opts.verbose > 0) info("%s: nothing to resume; starting from the beginning", local);
    st.fd = -1;
    st.size = size;
    st.mtime = rtime;
    int n = o->segments < 1 ? 1 : (o->segments > MAX_SEGMENTS ? MAX_SEGMENTS : o->segments);
    if (!known || s->ascii) n = 1;
    while (n > 1 && size / (uint64_t)n < MIN_SEGMENT) n--;
    st.n = n;
    for (int i = 0; i < n; i++) {
      st.seg[i].start = size / (uint64_t)n * (uint64_t)i;
      st.seg[i].end = i == n - 1 ? size : size / (uint64_t)n * (uint64_t)(i + 1);
      st.seg[i].done = 0;
    }
    struct stat pst0;
    if (known && size < UNNAMED_MAX && local_free && !o->resume && stat(part, &pst0) && errno == ENOENT)
      fd = unnamed = open_unnamed(local);
    if (fd < 0) {
      unlink(spath);   /* a stale state must never describe the new .part */
      fd = open(part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
    if (fd < 0) {
      snprintf(s->err, sizeof s->err, "%s: %s", part, strerror(errno));
      return EX_LOCAL;
    }
    /* A big file's blocks are allocated before the first byte comes: a
     * disk that cannot hold it says so at once, and the writes that follow
     * find their blocks there instead of reserving each 4 KiB one (ext4's
     * delayed allocation): a verified 1 GiB `get -s 4` took 1.03-1.19 s
     * against 1.10-1.25 s without (8 alternating runs). A file system
     * without fallocate goes on without it. */
    if (known && !s->ascii && size >= PREALLOC_MIN && fallocate(fd, 0, 0, (off_t)size) &&
        (errno == ENOSPC || errno == EDQUOT || errno == EFBIG)) {
      snprintf(s->err, sizeof s->err, "%s: %s", part, strerror(errno));
      (void)!ftruncate(fd, 0);   /* what a failed fallocate kept (ext4 keeps it) is given back */
      close(fd);
      return EX_LOCAL;
    }
  }
  uint64_t have = 0;
  for (int i = 0; i < st.n; i++) have += st.seg[i].done;
  bool to_eof = !known || s->ascii;
  EVP_MD_CTX *h = NULL;
  if (g_opts.verify && s->feat_hash_sha256 && s->hash_selected && st.n == 1 && !s->ascii) {
    h = hash_new();
    if (h && have && hash_file(h, fd, have)) {   /* the resumed prefix, once */
      EVP_MD_CTX_free(h);
      h = NULL;
    }
  }
  prog_t *prog = o->quiet_skip ? NULL : prog_start(local, size, have);
  segjob_t *jobs = calloc((size_t)st.n, sizeof *jobs);
  if (!jobs) {
    close(fd);
    if (st.fd >= 0) close(st.fd);
    return EX_LOCAL;
  }
  for (int i = 0; i < st.n; i++) {
    jobs[i] = (segjob_t){.t = t, .path = path, .fd = fd, .st = &st, .idx = i, .size_known = known,
                         .to_eof = to_eof, .ascii = s->ascii, .prog = prog};
    sess_init(&jobs[i].own);
    jobs[i].own.ascii = s->ascii;
    jobs[i].s = i == 0 ? s : &jobs[i].own;
  }
  if (to_eof) st.seg[0].done = 0, st.seg[0].end = 0;   /* unknown size: start over */
  jobs[0].hash = h;
  bool hashing = g_opts.verify && s->feat_hash_sha256 && s->hash_selected && !s->ascii;
  rhash_t rh = {.t = t, .path = path, .res = {.rc = -1}};
  /* ranged: the ranges' hashes asked on two helpers, half each, so that the
   * server hashes two ranges at once */
  uint64_t rfrom[MAX_SEGMENTS], rto[MAX_SEGMENTS];
  char rhex[MAX_SEGMENTS][65];
  rhash_t rh2 = {.t = t, .path = path, .res = {.rc = -1}};
  lhash_t lh = {.st = &st, .fd = fd, .rc = -1};
  bool want_rh = hashing && known && size >= RHASH_MIN;
  /* segments checked one by one (RANG): each hashes its own bytes, a
   * resumed one its written prefix first */
  bool ranged = hashing && st.n > 1 && s->feat_rang;
  for (int i = 0; ranged && i < st.n; i++) {
    seg_t *g = &st.seg[i];
    rfrom[i] = g->start;
    rto[i] = g->end;
    jobs[i].hash = hash_new();
    jobs[i].hash_prefix = g->done > 0;
    if (!jobs[i].hash) ranged = false;
  }
  if (ranged) {
    rh.n = st.n / 2;
    rh.from = rfrom, rh.to = rto, rh.hex = rhex;
    rh2.n = st.n - rh.n;
    rh2.from = rfrom + rh.n, rh2.to = rto + rh.n, rh2.hex = rhex + rh.n;
  } else if (hashing && st.n > 1) {
    for (int i = 0; i < st.n; i++) {
      if (jobs[i].hash) EVP_MD_CTX_free(jobs[i].hash);
      jobs[i].hash = NULL;
      jobs[i].hash_prefix = false;
    }
    lh.h = hash_new();
  }
  mt_pool_t *pool = NULL;
  mt_future_t *fs[MAX_SEGMENTS] = {0}, *rf = NULL, *rf2 = NULL, *lf = NULL;
  size_t nworkers = (size_t)st.n - 1 + (want_rh ? (ranged ? 2 : 1) : 0) + (lh.h ? 1 : 0);
  if (nworkers) {
    pool = mt_pool_new(nworkers);
    for (int i = 1; pool && i < st.n; i++) fs[i] = mt_pool_submit(pool, seg_run, &jobs[i]);
    if (pool && want_rh) rf = mt_pool_submit(pool, rhash_run, &rh);
    if (pool && want_rh && ranged) rf2 = mt_pool_submit(pool, rhash_run, &rh2);
    if (pool && lh.h) lf = mt_pool_submit(pool, lhash_run, &lh);
  }
  /* a smaller single stream: its HASH rides ahead of the EPSV (no round trip of its own) */
  bool ahead = hashing && !want_rh && st.n == 1 && !to_eof && sess_hash_ahead(s, path) == 0;
  seg_run(&jobs[0], NULL);
  for (int i = 1; i < st.n; i++) {
    if (fs[i]) {
      mt_future_result(fs[i], MT_FOREVER, NULL);
      mt_future_release(fs[i]);
    } else {
      jobs[i].rc = EX_LOCAL;
      snprintf(jobs[i].err, sizeof jobs[i].err, "cannot start segment %d", i);
    }
    sess_close(&jobs[i].own);
  }
  int ex = 0;
  for (int i = 0; i < st.n && !ex; i++)
    if (jobs[i].rc) {
      ex = jobs[i].rc;
      snprintf(s->err, sizeof s->err, "%s", jobs[i].err);
    }
  if (ex) __atomic_store_n(&lh.stop, 1, __ATOMIC_RELEASE);
  if (lf) {
    mt_future_result(lf, MT_FOREVER, NULL);
    mt_future_release(lf);
  }
  if (rf) {
    mt_future_result(rf, MT_FOREVER, NULL);
    mt_future_release(rf);
  }
  if (rf2) {
    mt_future_result(rf2, MT_FOREVER, NULL);
    mt_future_release(rf2);
  }
  if (pool) mt_pool_free(pool);
  prog_end(prog);
  uint64_t got = 0;
  for (int i = 0; i < st.n; i++) got += st.seg[i].done;
  char lhex[MAX_SEGMENTS][65];   /* ranged: each segment's own hash */
  for (int i = 0; ranged && i < st.n; i++) {
    hash_hex(jobs[i].hash, lhex[i]);
    EVP_MD_CTX_free(jobs[i].hash);
  }
  free(jobs);
  if (ex == EX_CONNECT && got > have) ex = EX_XFER;   /* lost once bytes flowed: the transfer failed */
  char hex[65] = "";
  if (!ex && hashing && !ranged) {
    if (lh.h && lh.rc == 0) hash_hex(lh.h, hex);   /* segmented: hashed in order alongside */
    else if (h) hash_hex(h, hex);                  /* one stream: hashed as received */
    else if (lh.h) ex = EX_LOCAL;
  }
  if (h) EVP_MD_CTX_free(h);   /* one stream only: never ranged */
  if (lh.h) EVP_MD_CTX_free(lh.h);
  if (!ex && !sess_connected(s)) ex = sess_open(s, t);
  bool checked = false;   /* ranged, and every range compared */
  if (!ex && ranged) {
    /* the helpers' answers; asked here when they had none, but not again
     * when the server said it hashes no range */
    int r = rf && rf2 && rh.res.rc == 0 && rh2.res.rc == 0 ? 0
            : (rf && rh.res.rc == 1) || (rf2 && rh2.res.rc == 1) ? 1
            : sess_hash_ranges(s, path, st.n, rfrom, rto, rhex);
    if (r == 0) {
      checked = true;
      for (int i = 0; i < st.n && !ex; i++)
        if (strcmp(rhex[i], lhex[i])) {
          snprintf(s->err, sizeof s->err, "SHA-256 mismatch in bytes %" PRIu64 "-%" PRIu64 ": server %s, local %s",
                   rfrom[i], rto[i] - 1, rhex[i], lhex[i]);
          ex = EX_VERIFY;
        }
      if (!ex && g_opts.verbose > 0) info("%s: SHA-256 verified, %d ranges of %" PRIu64 " bytes", path, st.n, got);
    } else if (r == 1) {   /* the server hashes no range after all: the whole file, read back once */
      EVP_MD_CTX *w = hash_new();
      if (w && !hash_file(w, fd, size)) hash_hex(w, hex);
      else ex = EX_LOCAL;
      if (w) EVP_MD_CTX_free(w);
    } else {
      ex = r;
    }
  }
  /* the helper's answer, unless it could not get one (then ask here) */
  const rhash_res_t *rres = rf && rh.res.rc >= 0 && rh.res.rc <= 1 ? &rh.res : NULL;
  rhash_res_t ares;
  if (ahead && (ares.rc = sess_hash_ahead_result(s, ares.hex)) >= 0 && ares.rc <= 1) rres = &ares;
  /* (ranged, the helpers' answers were for ranges: the whole file is asked here) */
  if (!ex && !checked) ex = verify(s, path, hex[0] ? hex : NULL, got, to_eof ? got : size, ranged ? NULL : rres);
  if (!ex && o->set_mtime >= 0) {   /* on the fd: no second path lookup */
    struct timespec ts[2] = {{o->set_mtime, 0}, {o->set_mtime, 0}};
    futimens(fd, ts);
  }
  if (unnamed >= 0) {
    int r = name_unnamed(fd, ex ? part : local, part);
    close(fd);
    if (st.fd >= 0) close(st.fd);
    pthread_mutex_destroy(&st.lock);
    if (ex) return ex;   /* named as the .part, beside its state */
    if (r) {
      snprintf(s->err, sizeof s->err, "%s: %s", local, strerror(-r));
      return EX_LOCAL;
    }
    return 0;
  }
  close(fd);
  bool had_state = st.fd >= 0 || resumed;
  if (st.fd >= 0) close(st.fd);
  pthread_mutex_destroy(&st.lock);
  if (ex) return ex;   /* the .part and its state stay: `get -c` resumes */
  if (rename(part, local)) {
    snprintf(s->err, sizeof s->err, "%s: %s", local, strerror(errno));
    return EX_LOCAL;
  }
  if (had_state) unlink(spath);   /* else none exists: removed before the .part was made */
  return 0;
}

/* ---- put ------------------------------------------------------------------------------ */

int xfer_put(sess_t *s, const char *local, const char *path, bool resume, time_t mtime) {
  s->err[0] = 0;
  int fd = open(local, O_RDONLY | O_CLOEXEC);
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
    snprintf(s->err, sizeof s->err, "%s: %s", local, fd < 0 || errno ? strerror(errno) : "not a regular file");
    if (fd >= 0 && S_ISDIR(sb.st_mode)) snprintf(s->err, sizeof s->err, "%s: is a directory", local);
    if (fd >= 0) close(fd);
    return EX_LOCAL;
  }
  int r = sess_type(s, s->ascii ? 'A' : 'I');
  if (r) {
    close(fd);
    return r;
  }
  uint64_t off = 0;
  if (resume && !s->ascii) {
    uint64_t rsize;
    if (sess_size(s, path, &rsize) == 0 && rsize <= (uint64_t)sb.st_size) off = rsize;
    if (!sess_connected(s)) {
      close(fd);
      return EX_CONNECT;
    }
  }
  EVP_MD_CTX *h = g_opts.verify && s->feat_hash_sha256 && s->hash_selected && !s->ascii ? hash_new() : NULL;
  if (h && off && hash_file(h, fd, off)) {
    EVP_MD_CTX_free(h);
    h = NULL;
  }
  r = off ? sess_data_begin(s, 0, "APPE %s", path) : sess_data_begin(s, 0, "STOR %s", path);
  if (r) {
    if (h) EVP_MD_CTX_free(h);
    close(fd);
    return r;
  }
  char *buf = sess_buf(s);
  char *abuf = s->ascii ? malloc(BUFSZ * 2) : NULL;   /* LF -> CRLF doubles at most */
  prog_t *prog = prog_start(local, (uint64_t)sb.st_size, off);
  int ex = buf && (abuf || !s->ascii) ? 0 : EX_LOCAL;
  uint64_t pos = off;
  while (!ex) {
    if (g_interrupted) {
      ex = EX_INTR;
      break;
    }
    ssize_t n = pread(fd, buf, BUFSZ, (off_t)pos);
    if (n < 0) {
      snprintf(s->err, sizeof s->err, "%s: %s", local, strerror(errno));
      ex = EX_LOCAL;
      break;
    }
    if (n == 0) break;
    if (h) EVP_DigestUpdate(h, buf, (size_t)n);
    const char *out = buf;
    size_t outn = (size_t)n;
    if (s->ascii) {   /* LF -> CRLF */
      char *o = abuf;
      size_t k = 0;
      for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n' && (i > 0 ? buf[i - 1] != '\r' : true)) o[k++] = '\r';
        o[k++] = buf[i];
      }
      out = o;
      outn = k;
    }
    ssize_t w = sess_data_write(s, out, outn, g_opts.timeout);
    if (w < 0) {
      snprintf(s->err, sizeof s->err, "data connection: %s", sess_data_strerror(s, (int)w));
      ex = EX_XFER;
      break;
    }
    pos += (uint64_t)n;
    prog_add(prog, (uint64_t)n);
    rate_take((size_t)n);
    sess_keepalive(s);
  }
  free(abuf);
  prog_end(prog);
  close(fd);
  if (ex) {
    if (ex == EX_XFER) {
      sess_data_close(s);
      sess_reply(s, g_opts.timeout);   /* the server's word on it, if any */
    } else {
      sess_abort(s);
    }
    if (h) EVP_MD_CTX_free(h);
    return ex;
  }
  ex = sess_data_end(s);
  char hex[65] = "";
  if (h) {
    hash_hex(h, hex);
    EVP_MD_CTX_free(h);
  }
  if (ex) return ex;
  if (!s->ascii) {
    uint64_t rsize = pos;
    if (!hex[0] && sess_size(s, path, &rsize) && !sess_connected(s)) return EX_CONNECT;
    ex = verify(s, path, hex[0] ? hex : NULL, rsize, pos, NULL);
    if (ex) return ex;
  }
  if (mtime >= 0 && s->feat_mfmt) {
    char ts[32];
    if (ftpp_time_format(mtime, ts, sizeof ts) > 0) sess_cmd(s, "MFMT %s %s", ts, path);
  }
  return sess_connected(s) ? 0 : EX_CONNECT;
}

/* ---- many files at once ------------------------------------------------------------------ */

typedef struct {
  const target_t *t;
  const getopts_t *o;
  sess_t **sessions;        /* one per worker, made on its first job */
  size_t nsess, cap;
  pthread_mutex_t lock;
} par_t;

typedef struct {
  par_t *par;
  job_t *job;
} partask_t;

static __thread sess_t *worker_sess;

static int par_run(void *arg, void **result) {
  partask_t *pt = arg;
  par_t *par = pt->par;
  job_t *j = pt->job;
  if (g_interrupted) return j->rc = EX_INTR;
  if (!worker_sess) {
    sess_t *s = malloc(sizeof *s);
    if (!s) return j->rc = EX_LOCAL;
    sess_init(s);
    pthread_mutex_lock(&par->lock);
    par->sessions[par->nsess++] = s;
    pthread_mutex_unlock(&par->lock);
    worker_sess = s;
  }
  sess_t *s = worker_sess;
  int ex = 0;
  for (int attempt = 0;; attempt++) {
    if (!sess_connected(s)) ex = sess_open(s, par->t);
    if (!ex) {
      if (j->upload) {
        ex = xfer_put(s, j->local, j->remote, par->o->resume, j->mtime);
      } else {
        getopts_t o = *par->o;
        o.set_mtime = j->mtime;
        o.segments = 1;
        o.size_hint = j->size;
        o.resume = par->o->resume || attempt > 0;   /* a retry continues where the last try stopped */
        ex = xfer_get(s, par->t, j->remote, j->local, &o);
      }
    }
    if (!ex || !retryable(ex, s) || s->data_truncated || attempt >= g_opts.retries || g_interrupted) break;
    if (backoff(attempt)) break;
  }
  snprintf(j->err, sizeof j->err, "%s", s->err);
  return j->rc = ex;
}

int xfer_parallel(const target_t *t, job_t *jobs, size_t n, int nworkers, const getopts_t *o) {
  if (n == 0) return 0;
  if (nworkers < 1) nworkers = 1;
  if ((size_t)nworkers > n) nworkers = (int)n;
  par_t par = {.t = t, .o = o, .cap = (size_t)nworkers};
  pthread_mutex_init(&par.lock, NULL);
  par.sessions = calloc((size_t)nworkers, sizeof *par.sessions);
  partask_t *pts = calloc(n, sizeof *pts);
  mt_future_t **fs = calloc(n, sizeof *fs);
  mt_pool_opts_t po = {.workers = (size_t)nworkers, .name = "mtftp"};
  mt_pool_t *pool = par.sessions && pts && fs ? mt_pool_new_opts(&po) : NULL;
  if (!pool) {
    free(par.sessions);
    free(pts);
    free(fs);
    errmsg("cannot start %d workers: %s", nworkers, mt_strerror(mt_last_error()));
    return EX_LOCAL;
  }
  for (size_t i = 0; i < n; i++) {
    pts[i] = (partask_t){&par, &jobs[i]};
    fs[i] = mt_pool_submit(pool, par_run, &pts[i]);
    if (!fs[i]) {
      jobs[i].rc = EX_LOCAL;
      snprintf(jobs[i].err, sizeof jobs[i].err, "cannot queue: %s", mt_strerror(mt_last_error()));
    }
  }
  int first = 0;
  for (size_t i = 0; i < n; i++) {
    if (fs[i]) {
      mt_future_result(fs[i], MT_FOREVER, NULL);
      mt_future_release(fs[i]);
    }
    if (jobs[i].rc) {
      if (jobs[i].rc != EX_INTR)
        errmsg("%s %s: %s", jobs[i].upload ? "put" : "get",
               jobs[i].label ? jobs[i].label : jobs[i].upload ? jobs[i].local : jobs[i].remote, jobs[i].err);
      if (!first) first = jobs[i].rc;
    }
  }
  mt_pool_free(pool);
  for (size_t i = 0; i < par.nsess; i++) {
    sess_close(par.sessions[i]);
    free(par.sessions[i]);
  }
  pthread_mutex_destroy(&par.lock);
  free(par.sessions);
  free(pts);
  free(fs);
  return first;
}
