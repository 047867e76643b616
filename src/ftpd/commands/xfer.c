/* commands/xfer.c — verbs that move data: RETR STOR APPE STOU LIST NLST MLSD,
 * and MLST REST RANG ABOR.
 *
 * RANG (draft-bryan-ftp-range-08) names a byte range, the end byte
 * included, for the next RETR or HASH only: "RANG 1 0" drops it, REST
 * replaces it (and RANG replaces a REST), an upload is refused while one is
 * set (504: a range written into a file is not offered), and any transfer
 * or HASH uses it up. RANG in TYPE A is refused, as REST is.
 *
 * Uploads never damage what is there: STOR and STOU write a temporary file
 * beside the target and rename it into place only when the transfer
 * completed; on any failure the temporary is removed. APPE and REST+STOR
 * (or REST+APPE, which RFC 3659 5.3 makes the same) write in place, as
 * their meaning requires, and touch the file only once the data connection
 * is open. Every file opened for reading or writing is opened O_NONBLOCK
 * and refused unless it is a regular file. REST in TYPE A is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../session.h"

void ftpd_cmd_rest(ftpd_session_t *s, const char *arg, const char *vp) {
  int64_t v;
  if (ftpp_rest_parse(arg, &v) < 0) {
    ftpd_reply(s, 501, "REST needs a non-negative byte offset.");
    return;
  }
  if (v > 0 && s->mode_b) {
    /* RFC 959 3.5: a restart in MODE B names a marker the server sent; this
     * one sends none */
    ftpd_reply(s, 504, "REST in MODE B needs a restart marker, and none is sent here; use MODE S.");
    return;
  }
  if (v > 0 && s->ascii) {
    /* RFC 3659 5.3: the marker counts bytes of the transferred (CRLF)
     * stream, not of the file; refused rather than misread. */
    ftpd_reply(s, 504, "REST is not supported in ASCII mode; send TYPE I first.");
    return;
  }
  s->rest = (off_t)v;
  s->rang = false;
  ftpd_reply(s, 350, "Restarting at %lld. Send STOR or RETR.", (long long)v);
}

void ftpd_cmd_rang(ftpd_session_t *s, const char *arg, const char *vp) {
  uint64_t a, b;
  int r = ftpp_rang_parse(arg, &a, &b);
  if (r < 0) {
    ftpd_reply(s, 501, "RANG needs a start and an end byte offset, the start not past the end.");
    return;
  }
  if (r == 1) {
    s->rang = false;
    ftpd_reply(s, 350, "Resetting RANG.");
    return;
  }
  if (s->ascii) {
    ftpd_reply(s, 504, "RANG is not supported in ASCII mode; send TYPE I first.");
    return;
  }
  s->rang = true;
  s->rang_from = (off_t)a;
  s->rang_stop = b < INT64_MAX ? (off_t)b + 1 : INT64_MAX;   /* RANG names its last byte */
  s->rest = 0;
  ftpd_reply(s, 350, "Restarting at %llu. Ending byte at %llu.", (unsigned long long)a, (unsigned long long)b);
}

void ftpd_cmd_abor(ftpd_session_t *s, const char *arg, const char *vp) {
  ftpd_data_reset(s);
  ftpd_reply(s, 225, "No transfer to abort.");
}

void ftpd_cmd_retr(ftpd_session_t *s, const char *arg, const char *vp) {
  off_t rest = s->rest, stop = -1;
  s->rest = 0;
  if (s->rang) {
    rest = s->rang_from;
    stop = s->rang_stop;
    s->rang = false;
  }
  const char *vpath = vp;
  if ((rest > 0 || stop >= 0) && s->ascii) {
    ftpd_reply(s, 554, "Restart is not supported in ASCII mode; send TYPE I.");
    return;
  }
  int ffd = ftpd_fs_open(s->root_fd, vpath, O_RDONLY | O_NONBLOCK, 0);
  if (ffd < 0) {
    ftpd_reply_err(s, 550, ffd, vpath);
    return;
  }
  struct stat st;
  if (fstat(ffd, &st) || !S_ISREG(st.st_mode)) {
    close(ffd);
    ftpd_reply(s, 550, "%s: not a regular file.", vpath);
    return;
  }
  if (rest > st.st_size || (stop >= 0 && rest >= st.st_size)) {   /* a range must start inside */
    close(ffd);
    ftpd_reply(s, 554, "Restart offset %lld is past the end of the file (%lld bytes).", (long long)rest,
               (long long)st.st_size);
    return;
  }
  char what[FTPD_MAX_PATH + 100];
  if (stop >= 0)
    snprintf(what, sizeof what, "Opening BINARY mode data connection for %s (bytes %lld-%lld of %lld).", vpath,
             (long long)rest, (long long)(stop < st.st_size ? stop : st.st_size) - 1, (long long)st.st_size);
  else
    snprintf(what, sizeof what, "Opening %s mode data connection for %s (%lld bytes).", s->ascii ? "ASCII" : "BINARY",
             vpath, (long long)st.st_size);
  double t0 = mt_now();
  int dfd = ftpd_data_open(s, what);
  if (dfd < 0) {
    close(ffd);
    return;
  }
  off_t sent = 0;
  int rc = ftpd_data_send_file(s, dfd, ffd, rest, stop, &sent);
  close(ffd);
  ftpd_xferlog(s, mt_now() - t0, sent, vpath, 'o', rc == 0);
  ftpd_data_finish(s, dfd, rc, "Transfer complete.");
}

enum { UP_STOR, UP_APPE, UP_STOU };

/* Creates ".<name>.<random>.mtftpd-part" beside the target. */
static int make_temp(int dfd, const char *name, char *tmp, size_t tmpsz) {
  for (int attempt = 0; attempt < 8; attempt++) {
    unsigned long long r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r = (unsigned long long)mt_now() * 1000003u + (unsigned)attempt;
    if (strlen(name) > 200) snprintf(tmp, tmpsz, ".%016llx.mtftpd-part", r);
    else snprintf(tmp, tmpsz, ".%s.%016llx.mtftpd-part", name, r);
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EEXIST) return fd < 0 ? -errno : fd;
  }
  return -EEXIST;
}

/* Opens an existing upload target for writing, never creating or
 * truncating it (blocking again if write_here: it is written in place,
 * else only checked): proves the server user may write it (a 0444 file is
 * refused although a rename could replace it) and refuses anything but a
 * regular file without blocking — O_NONBLOCK, so a FIFO planted in the tree
 * cannot hold the session in open() waiting for a reader. lst is the
 * target's lstat; a symlink (inside the root) is followed. Returns an fd or
 * -errno (-EINVAL: not a regular file). */
static int open_target(ftpd_session_t *s, const char *vpath, const struct stat *lst, int extra, bool write_here,
                       struct stat *st) {
  if (!S_ISREG(lst->st_mode) && !S_ISLNK(lst->st_mode)) return -EINVAL;   /* never open a device or FIFO */
  if (S_ISLNK(lst->st_mode)) {
    int pfd = ftpd_fs_open(s->root_fd, vpath, O_PATH, 0);
    if (pfd < 0) return pfd;
    int r = fstat(pfd, st) ? -errno : S_ISREG(st->st_mode) ? 0 : -EINVAL;
    close(pfd);
    if (r) return r;
  }
  int fd = ftpd_fs_open(s->root_fd, vpath, O_WRONLY | O_NONBLOCK | extra, 0);
  if (fd < 0) return fd == -ENXIO ? -EINVAL : fd;
  if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
    close(fd);
    return -EINVAL;
  }
  if (write_here) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

static void target_error(ftpd_session_t *s, int err, const char *vpath) {
  if (err == -EINVAL) ftpd_reply(s, 553, "%s: not a regular file.", vpath);
  else ftpd_reply_err(s, 553, err, vpath);
}

/* Publishes a finished upload: the temporary takes the target's name in one
 * step, so the name always holds a whole file. Over an existing file it
 * swaps the two (renameat2 RENAME_EXCHANGE) and then unlinks the old one
 * under the temporary name: on ext4 a rename over an existing file forces
 * the new file's delayed allocation at once (auto_da_alloc), the exchange
 * does not, which halves the cost of a small STOR (docs/perf-coroutines.md).
 * Where the file system has no exchange, or the target went away, a plain
 * rename. */
struct publish_job {
  int dirfd;
  const char *tmp, *name;
  bool replace;
  int rc;
};

static int publish_run(void *p) {
  struct publish_job *j = p;
  j->rc = 0;
  if (j->replace && renameat2(j->dirfd, j->tmp, j->dirfd, j->name, RENAME_EXCHANGE) == 0) {
    if (unlinkat(j->dirfd, j->tmp, 0) == 0 || errno != EISDIR) return 0;   /* the old file, under the temporary name */
    /* a directory took the name meanwhile: swap back, refuse as rename would */
    renameat2(j->dirfd, j->tmp, j->dirfd, j->name, RENAME_EXCHANGE);
    j->rc = -EISDIR;
    return 0;
  }
  if (renameat(j->dirfd, j->tmp, j->dirfd, j->name) != 0) j->rc = -errno;
  return 0;
}

/* Publishing runs on the session's own thread, not on the disk pool, when
 * the upload and the file it replaces are both this small: a hand-off to
 * the pool and back cost the coroutine model 6% of its 4 KiB STOR+RETR
 * rate, and such a swap and unlink only edits a directory and frees a few
 * blocks. A rename can still wait for the journal; one that took longer
 * than SLOW_PUBLISH sends every publish to the pool for the next second. */
#define INLINE_PUBLISH (64 << 10)
#define SLOW_PUBLISH 0.002

static void publish(ftpd_session_t *s, struct publish_job *pj, off_t size, off_t replaced) {
  static atomic_llong pool_until;   /* microseconds of mt_now() */
  double t = mt_now();
  if (!ftpd_offloads(s->srv) || size > INLINE_PUBLISH || replaced > INLINE_PUBLISH ||
      t * 1e6 < (double)atomic_load_explicit(&pool_until, memory_order_relaxed)) {
    ftpd_offload(s->srv, publish_run, pj);
    return;
  }
  publish_run(pj);
  double took = mt_now() - t;
  if (took > SLOW_PUBLISH) {
    atomic_store_explicit(&pool_until, (long long)((t + took + 1.0) * 1e6), memory_order_relaxed);
    ftpd_log(LOG_DEBUG, "#%lu a rename took %.1f ms on the scheduler: renames go to the disk pool for a second", s->id,
             took * 1e3);
  }
}

/* STOR, APPE and STOU. Nothing on disk changes before the data connection
 * is open: the checks run first, and a file written in place (APPE, and
 * STOR or APPE after REST) is created or truncated only once the client's
 * data is about to flow. */
static void upload(ftpd_session_t *s, const char *vpath, int kind) {
  off_t rest = s->rest;
  s->rest = 0;
  if (s->rang) {
    s->rang = false;
    ftpd_reply(s, 504, "RANG applies to RETR and HASH only; the range is reset.");
    return;
  }
  char name[FTPD_MAX_NAME + 1];
  if (kind == UP_STOU) rest = 0;
  if (rest > 0 && s->ascii) {
    ftpd_reply(s, 554, "Restart is not supported in ASCII mode; send TYPE I.");
    return;
  }
  /* REST n then STOR or APPE: write from n on, in place (RFC 3659 5.3). */
  bool in_place = kind == UP_APPE || rest > 0;
  int dirfd = ftpd_fs_parent(s->root_fd, vpath, name, sizeof name);
  if (dirfd < 0) {
    ftpd_reply_err(s, 553, dirfd, vpath);
    return;
  }
  struct stat st;
  bool exists = fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
  int ffd = -1;
  if (exists && S_ISDIR(st.st_mode)) {
    close(dirfd);
    ftpd_reply(s, 553, "%s: is a directory.", vpath);
    return;
  }
  if (exists && (in_place || kind == UP_STOR) && !(kind == UP_STOR && !in_place && S_ISLNK(st.st_mode))) {
    /* (STOR replaces a symlink itself, so there is nothing to check.) */
    struct stat fst;
    ffd = open_target(s, vpath, &st, kind == UP_APPE && rest == 0 ? O_APPEND : 0, in_place, &fst);
    if (ffd < 0) {
      close(dirfd);
      target_error(s, ffd, vpath);
      return;
    }
    if (rest > fst.st_size) {
      close(ffd);
      close(dirfd);
      ftpd_reply(s, 554, "Restart offset %lld is past the end of the file.", (long long)rest);
      return;
    }
    st = fst;
    if (!in_place) {           /* STOR: only the check; the data goes to a temporary */
      close(ffd);
      ffd = -1;
    }
  } else if (rest > 0) {
    close(dirfd);                    /* nothing to resume: create nothing */
    ftpd_reply(s, 554, "Restart offset %lld is past the end of the file.", (long long)rest);
    return;
  }
  char final[FTPD_MAX_NAME + 16];
  snprintf(final, sizeof final, "%s", name);
  if (kind == UP_STOU) {             /* name, name.1, name.2 ... */
    for (int i = 1; exists && i < 1000; i++) {
      snprintf(final, sizeof final, "%s.%d", name, i);
      exists = fstatat(dirfd, final, &st, AT_SYMLINK_NOFOLLOW) == 0;
    }
    if (exists) {
      close(dirfd);
      ftpd_reply(s, 553, "Cannot find a unique name.");
      return;
    }
  }
  char tmp[FTPD_MAX_NAME + 64] = "";
  if (!in_place) {
    /* The temporary beside the target; the target itself is replaced by a
     * rename only after a complete transfer. It keeps the target's
     * permission bits, never setuid, setgid or sticky. */
    ffd = make_temp(dirfd, name, tmp, sizeof tmp);
    if (ffd < 0) {
      close(dirfd);
      ftpd_reply_err(s, 553, ffd, vpath);
      return;
    }
    if (exists && S_ISREG(st.st_mode)) fchmod(ffd, st.st_mode & 0777);
  }
  char what[FTPD_MAX_PATH + 100];
  if (kind == UP_STOU) snprintf(what, sizeof what, "FILE: %s", final);
  else snprintf(what, sizeof what, "Ok to send data for %s.", vpath);
  double t0 = mt_now();
  int dfd = ftpd_data_open(s, what);
  int rc = 0;
  bool not_regular = false;
  off_t got = 0;
  if (dfd < 0) {
    rc = MT_ECANCELED;
  } else {
    if (ffd < 0) {                   /* APPE to a new name: created only now */
      struct stat fst;
      ffd = ftpd_fs_open(s->root_fd, vpath, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK, 0644);
      if (ffd >= 0 && (fstat(ffd, &fst) || !S_ISREG(fst.st_mode))) {
        close(ffd);
        ffd = -EINVAL;
        not_regular = true;
      }
      if (ffd < 0) rc = ffd;
    } else if (in_place && rest > 0 && (ftruncate(ffd, rest) || lseek(ffd, rest, SEEK_SET) < 0)) {
      rc = -errno;
    }
    if (rc == 0) {
      rc = ftpd_data_recv_file(s, dfd, ffd, &got);
      if (rc == 0 && close(ffd) != 0) rc = -errno;   /* delayed write errors (NFS, quota) */
      else if (rc != 0) close(ffd);
      ffd = -1;
    }
  }
  if (ffd >= 0) close(ffd);
  if (!in_place) {
    if (rc == 0) {
      if (kind == UP_STOU) {
        /* Never replace a file that appeared meanwhile. */
        int r;
        for (int i = 1; (r = renameat2(dirfd, tmp, dirfd, final, RENAME_NOREPLACE)) != 0 && errno == EEXIST && i < 1000;
             i++)
          snprintf(final, sizeof final, "%s.%d", name, i);
        if (r) rc = -errno;
      } else {
        struct publish_job pj = {.dirfd = dirfd, .tmp = tmp, .name = name, .replace = exists && S_ISREG(st.st_mode)};
        publish(s, &pj, got, pj.replace ? st.st_size : 0);
        rc = pj.rc;
      }
    }
    if (rc != 0) unlinkat(dirfd, tmp, 0);
  }
  close(dirfd);
  ftpd_xferlog(s, mt_now() - t0, got, vpath, 'i', rc == 0);
  if (dfd < 0) return;               /* 425 already sent */
  char ok[FTPD_MAX_NAME + 64];
  if (kind == UP_STOU) snprintf(ok, sizeof ok, "Transfer complete (unique file name: %s).", final);
  else snprintf(ok, sizeof ok, "Transfer complete.");
  if (not_regular) {                 /* something else appeared under the name meanwhile */
    ftpd_data_close(s, dfd);
    ftpd_reply(s, 553, "%s: not a regular file.", vpath);
    return;
  }
  ftpd_data_finish(s, dfd, rc, ok);
}

void ftpd_cmd_stor(ftpd_session_t *s, const char *arg, const char *vp) { upload(s, vp, UP_STOR); }
void ftpd_cmd_appe(ftpd_session_t *s, const char *arg, const char *vp) { upload(s, vp, UP_APPE); }
void ftpd_cmd_stou(ftpd_session_t *s, const char *arg, const char *vp) { upload(s, vp, UP_STOU); }

/* LIST/NLST/MLSD: build the listing, then send it in one go. */
static void listing(ftpd_session_t *s, const char *vpath, int style) {
  s->rest = 0;
  s->rang = false;
  sbuf_t b;
  sbuf_init(&b, 64 << 20);
  int r = ftpd_list(s, vpath, style, &b, "");
  if (r < 0) {
    sbuf_free(&b);
    ftpd_reply_err(s, style == LIST_MLSD && r == -ENOTDIR ? 501 : 550, r, vpath);
    return;
  }
  int dfd = ftpd_data_open(s, "Here comes the directory listing.");
  if (dfd >= 0) {
    int rc = ftpd_data_send_buf(s, dfd, b.p ? b.p : "", b.len);
    ftpd_data_finish(s, dfd, rc, "Directory send OK.");
  }
  sbuf_free(&b);
}

void ftpd_cmd_list(ftpd_session_t *s, const char *arg, const char *vp) { listing(s, vp, LIST_LONG); }
void ftpd_cmd_nlst(ftpd_session_t *s, const char *arg, const char *vp) { listing(s, vp, LIST_NAMES); }
void ftpd_cmd_mlsd(ftpd_session_t *s, const char *arg, const char *vp) { listing(s, vp, LIST_MLSD); }

void ftpd_cmd_mlst(ftpd_session_t *s, const char *arg, const char *vp) {
  const char *vpath = vp;
  sbuf_t b;
  sbuf_init(&b, 0);
  sbuf_puts(&b, " ");
  int r = ftpd_mlst_one(s, vpath, &b);
  if (r < 0) {
    sbuf_free(&b);
    ftpd_reply_err(s, 550, r, vpath);
    return;
  }
  sbuf_puts(&b, "\r\n");
  sbuf_free(&s->out);
  s->out = b;
  char first[FTPD_MAX_PATH + 32];
  snprintf(first, sizeof first, "Listing %s", vpath);
  ftpd_reply_multi(s, 250, first, "End.");
}
