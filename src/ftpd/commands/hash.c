/* commands/hash.c — HASH (draft-bryan-ftpext-hash-02): the digest of a file,
 * so a client can verify a transfer without fetching it twice.
 *
 *   FEAT        " HASH SHA-256*;SHA-512;SHA-1;MD5" (the session's choice starred)
 *   OPTS HASH   the current algorithm; OPTS HASH <name> selects one (501 if unknown)
 *   HASH <path> "213 <algo> 0-<size> <hex digest> <path as given>"
 *   RANG a b, then HASH <path>: the digest of bytes a..b (b included, cut
 *               at the file's end), "213 <algo> a-<b+1> ..." (the end in the
 *               reply is the byte after, as in the whole file's 0-<size>)
 *
 * The dispatcher authorizes the path exactly as for RETR (PERM_R, resolved
 * beneath the root: commands/table.c) before ftpd_cmd_hash runs. The file is
 * opened as RETR opens it (O_NONBLOCK, regular files only) and digested
 * through ftpd_offload, so in the coroutine model the disk reads and the
 * hashing run on the thread pool, never on the scheduler. Digests come from
 * OpenSSL's libcrypto (EVP), and are remembered in the digest cache
 * (digests.c): a file unchanged since it was last hashed, by any session,
 * is answered without a read. */
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../session.h"

static const struct {
  const char *name;
  const EVP_MD *(*md)(void);
} algos[] = {
  {"SHA-256", EVP_sha256},
  {"SHA-512", EVP_sha512},
  {"SHA-1", EVP_sha1},
  {"MD5", EVP_md5},
};
#define NALGOS (int)(sizeof algos / sizeof algos[0])

void ftpd_hash_feat(const ftpd_session_t *s, char *out, size_t n) {
  size_t o = 0;
  for (int i = 0; i < NALGOS && o < n; i++)
    o += (size_t)snprintf(out + o, n - o, "%s%s%s", i ? ";" : "", algos[i].name, i == s->hash_algo ? "*" : "");
}

void ftpd_hash_opts(ftpd_session_t *s, const char *arg) {
  if (!*arg) {
    ftpd_reply(s, 200, "%s", algos[s->hash_algo].name);
    return;
  }
  for (int i = 0; i < NALGOS; i++) {
    if (!strcasecmp(arg, algos[i].name)) {
      s->hash_algo = i;
      ftpd_reply(s, 200, "%s", algos[i].name);
      return;
    }
  }
  ftpd_reply(s, 501, "Unknown hash algorithm; choose one of SHA-256, SHA-512, SHA-1, MD5.");
}

struct hash_job {
  int fd;
  struct ftpd_digests *cache;  /* remember the digest here (NULL: not) */
  int algo;
  struct stat st;              /* the file before the first read */
  off_t from, to;              /* the bytes hashed: [from, to) */
  size_t bufsz;                /* the read buffer: no larger than the file needs */
  const EVP_MD *md;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len;
  int err;                     /* 0, or -errno of a failed read, or -ENOMEM */
};

static int hash_run(void *p) {
  struct hash_job *j = p;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned char *buf = malloc(j->bufsz);
  struct timespec clock = ftpd_digest_clock();
  if (!ctx || !buf || EVP_DigestInit_ex(ctx, j->md, NULL) != 1) {
    j->err = -ENOMEM;
  } else {
    off_t off = j->from;
    while (off < j->to) {
      size_t want = j->to - off < (off_t)j->bufsz ? (size_t)(j->to - off) : j->bufsz;
      ssize_t n = pread(j->fd, buf, want, off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        j->err = -errno;
        break;
      }
      if (n == 0) break;
      EVP_DigestUpdate(ctx, buf, (size_t)n);
      off += n;
    }
    if (!j->err && EVP_DigestFinal_ex(ctx, j->digest, &j->len) != 1) j->err = -ENOMEM;
    struct stat after;
    if (!j->err && j->cache && !fstat(j->fd, &after))
      ftpd_digest_put(j->cache, &j->st, &after, clock, j->algo, (uint64_t)j->from, (uint64_t)j->to, j->digest,
                      j->len);
  }
  free(buf);
  EVP_MD_CTX_free(ctx);
  return 0;
}

void ftpd_cmd_hash(ftpd_session_t *s, const char *arg, const char *vp) {
  bool ranged = s->rang;
  s->rang = false;
  int fd = ftpd_fs_open(s->root_fd, vp, O_RDONLY | O_NONBLOCK, 0);
  if (fd < 0) {
    ftpd_reply_err(s, 550, fd, vp);
    return;
  }
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    close(fd);
    ftpd_reply(s, 550, "%s: not a regular file.", vp);
    return;
  }
  off_t from = 0, to = st.st_size;
  if (ranged) {
    if (s->rang_from >= st.st_size) {
      close(fd);
      ftpd_reply(s, 554, "RANG start %lld is past the end of %s (%lld bytes).", (long long)s->rang_from, vp,
                 (long long)st.st_size);
      return;
    }
    from = s->rang_from;
    if (s->rang_stop < to) to = s->rang_stop;
  }
  /* a small file's hash is not worth a 256 KiB buffer (an mmap and munmap
   * per HASH in a threaded process) */
  size_t bufsz = to - from < FTPD_XFER_BUF ? (size_t)(to - from) + 1 : FTPD_XFER_BUF;
  struct hash_job j = {.fd = fd, .cache = s->srv->digests, .algo = s->hash_algo, .st = st, .from = from, .to = to,
                       .bufsz = bufsz, .md = algos[s->hash_algo].md()};
  j.len = (unsigned)EVP_MD_get_size(j.md);
  if (ftpd_digest_get(s->srv->digests, &st, s->hash_algo, (uint64_t)from, (uint64_t)to, j.len, j.digest))
    ftpd_log(LOG_DEBUG, "#%lu HASH %s: from the digest cache", s->id, vp);
  else
    ftpd_offload(s->srv, hash_run, &j);
  close(fd);
  if (j.err) {
    ftpd_reply_err(s, 451, j.err, vp);
    return;
  }
  char text[FTPD_MAX_PATH + 256];   /* the path as asked */
  if (ftpp_hash_format(algos[s->hash_algo].name, (uint64_t)from, (uint64_t)to, j.digest, j.len, arg, text, sizeof text) < 0) {
    ftpd_reply(s, 451, "HASH reply too long.");
    return;
  }
  ftpd_reply(s, 213, "%s", text);
}
