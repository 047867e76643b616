/* listing.c — LIST (the `ls -l` shape lftp and FileZilla parse), NLST, MLSD
 * and MLST facts (RFC 3659).
 *
 * Bounded: one directory, no recursion, no glob expansion, at most
 * FTPD_MAX_LIST_ENTRIES entries and a size-limited buffer. Entries are
 * sorted by name like ls. A symlink is described by what it points to only
 * when that target is inside the root (checked by opening it through the
 * jail); otherwise it is shown as the link itself, so a listing never leaks
 * facts about files outside. Names holding CR or LF are left out: they
 * would forge entries or end a STAT reply early.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "session.h"

static void mode_string(mode_t m, char out[11]) {
  out[0] = S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : S_ISCHR(m) ? 'c' : S_ISBLK(m) ? 'b'
         : S_ISFIFO(m) ? 'p' : S_ISSOCK(m) ? 's' : '-';
  static const char rwx[] = "rwxrwxrwx";
  for (int i = 0; i < 9; i++) out[1 + i] = (m & (1 << (8 - i))) ? rwx[i] : '-';
  if (m & S_ISUID) out[3] = (m & S_IXUSR) ? 's' : 'S';
  if (m & S_ISGID) out[6] = (m & S_IXGRP) ? 's' : 'S';
  if (m & S_ISVTX) out[9] = (m & S_IXOTH) ? 't' : 'T';
  out[10] = 0;
}

static void long_line(sbuf_t *b, const char *prefix, const char *name, const struct stat *st, const char *target) {
  char mode[11], date[32];
  mode_string(st->st_mode, mode);
  struct tm tm;
  gmtime_r(&st->st_mtime, &tm);
  time_t now = time(NULL);
  if (st->st_mtime > now - 180 * 86400 && st->st_mtime < now + 86400)
    strftime(date, sizeof date, "%b %e %H:%M", &tm);
  else
    strftime(date, sizeof date, "%b %e  %Y", &tm);
  sbuf_printf(b, "%s%s %3lu %-8u %-8u %12lld %s %s", prefix, mode, (unsigned long)st->st_nlink, st->st_uid,
              st->st_gid, (long long)st->st_size, date, name);
  if (target) sbuf_printf(b, " -> %s", target);
  sbuf_puts(b, "\r\n");
}

static void mlst_facts(ftpd_session_t *s, sbuf_t *b, const struct stat *st, const char *type) {
  unsigned f = s->mlst_facts;
  if (f & FTPP_FACT_TYPE) sbuf_printf(b, "type=%s;", type);
  if ((f & FTPP_FACT_SIZE) && !S_ISDIR(st->st_mode)) sbuf_printf(b, "size=%lld;", (long long)st->st_size);
  if (f & FTPP_FACT_MODIFY) {
    char t[16];
    if (ftpp_time_format(st->st_mtime, t, sizeof t) == 14) sbuf_printf(b, "modify=%s;", t);
  }
  if (f & FTPP_FACT_PERM) {
    unsigned p = s->perms;
    sbuf_puts(b, "perm=");
    if (S_ISDIR(st->st_mode)) {
      if (p & PERM_W) sbuf_puts(b, "c");
      if (p & PERM_D) sbuf_puts(b, "d");
      if (p & PERM_E) sbuf_puts(b, "e");
      if (p & PERM_F) sbuf_puts(b, "f");
      if (p & PERM_L) sbuf_puts(b, "l");
      if (p & PERM_M) sbuf_puts(b, "m");
      if (p & PERM_D) sbuf_puts(b, "p");
    } else {
      if (p & PERM_A) sbuf_puts(b, "a");
      if (p & PERM_D) sbuf_puts(b, "d");
      if (p & PERM_F) sbuf_puts(b, "f");
      if (p & PERM_R) sbuf_puts(b, "r");
      if (p & PERM_W) sbuf_puts(b, "w");
    }
    sbuf_puts(b, ";");
  }
  if (f & FTPP_FACT_UNIX_MODE) sbuf_printf(b, "UNIX.mode=0%o;", (unsigned)(st->st_mode & 07777));
  /* RFC 3659 7.5.2: the same for two names of one file, different otherwise. */
  if (f & FTPP_FACT_UNIQUE) sbuf_printf(b, "unique=%llxU%llx;", (unsigned long long)st->st_dev, (unsigned long long)st->st_ino);
  if (f & FTPP_FACT_UNIX_UID) sbuf_printf(b, "UNIX.uid=%u;", (unsigned)st->st_uid);
  if (f & FTPP_FACT_UNIX_GID) sbuf_printf(b, "UNIX.gid=%u;", (unsigned)st->st_gid);
  sbuf_puts(b, " ");
}

/* A name the control or data connection cannot carry as it is: CR or LF
 * would end its line early and let a planted name forge entries (RFC 3659
 * 2.2). Such names are left out of listings, and logged. */
static bool unlistable(const char *name) { return strpbrk(name, "\r\n") != NULL; }

/* Stat of dir/name for listing: a symlink is followed only inside the root. */
static void entry_stat(ftpd_session_t *s, const char *vdir, int dfd, const char *name, struct stat *st,
                       bool *is_link, char *target, size_t tsz) {
  *is_link = false;
  target[0] = 0;
  if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) != 0) {
    memset(st, 0, sizeof *st);
    return;
  }
  if (!S_ISLNK(st->st_mode)) return;
  *is_link = true;
  ssize_t n = readlinkat(dfd, name, target, tsz - 1);
  target[n > 0 ? n : 0] = 0;
  char vp[FTPD_MAX_PATH + 1];
  char joined[FTPD_MAX_PATH + FTPD_MAX_NAME + 2];
  snprintf(joined, sizeof joined, "%s/%s", vdir, name);
  if (ftpd_path_resolve("/", joined, vp, sizeof vp) == 0) {
    int fd = ftpd_fs_open(s->root_fd, vp, O_PATH, 0);
    if (fd >= 0) {
      struct stat t;
      if (fstat(fd, &t) == 0) {
        *st = t;
        *is_link = false;      /* describe the target: it is inside */
      }
      close(fd);
    }
  }
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int ftpd_mlst_one(ftpd_session_t *s, const char *vpath, sbuf_t *b) {
  int fd = ftpd_fs_open(s->root_fd, vpath, O_PATH, 0);
  if (fd < 0) return fd;
  struct stat st;
  int r = fstat(fd, &st) ? -errno : 0;
  close(fd);
  if (r) return r;
  mlst_facts(s, b, &st, S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "OS.unix=special");
  sbuf_puts(b, vpath);
  return 0;
}

static int list_dir(ftpd_session_t *s, const char *vpath, int style, sbuf_t *b, const char *prefix) {
  int fd = ftpd_fs_open(s->root_fd, vpath, O_RDONLY | O_DIRECTORY | O_NONBLOCK, 0);
  if (fd == -ENOTDIR) {
    /* One file. */
    if (style == LIST_MLSD) return -ENOTDIR;
    fd = ftpd_fs_open(s->root_fd, vpath, O_PATH, 0);
    if (fd < 0) return fd;
    struct stat st;
    int r = fstat(fd, &st) ? -errno : 0;
    close(fd);
    if (r) return r;
    const char *base = strrchr(vpath, '/') + 1;
    if (style == LIST_NAMES) sbuf_printf(b, "%s%s\r\n", prefix, base);
    else long_line(b, prefix, base, &st, NULL);
    return b->failed ? -ENOMEM : 0;
  }
  if (fd < 0) return fd;
  DIR *d = fdopendir(fd);
  if (!d) {
    int e = -errno;
    close(fd);
    return e;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  int r = 0;
  struct dirent *de;
  errno = 0;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    if (n == FTPD_MAX_LIST_ENTRIES) break;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **nn = realloc(names, cap * sizeof *nn);
      if (!nn) { r = -ENOMEM; break; }
      names = nn;
    }
    if (!(names[n] = strdup(de->d_name))) { r = -ENOMEM; break; }
    n++;
  }
  if (!r && n) qsort(names, n, sizeof *names, cmp_names);
  int dfd = dirfd(d);
  if (!r && style == LIST_MLSD) {
    struct stat st;
    if (fstat(dfd, &st) == 0) {
      mlst_facts(s, b, &st, "cdir");
      sbuf_printf(b, "%s\r\n", vpath);
    }
  }
  size_t hidden = 0;
  for (size_t i = 0; !r && i < n && !b->failed; i++) {
    const char *name = names[i];
    if (unlistable(name)) {
      hidden++;
      continue;
    }
    if (style == LIST_NAMES) {
      sbuf_printf(b, "%s%s\r\n", prefix, name);
      continue;
    }
    struct stat st;
    bool is_link;
    char target[FTPD_MAX_PATH + 1];
    entry_stat(s, vpath, dfd, name, &st, &is_link, target, sizeof target);
    if (style == LIST_LONG) {
      long_line(b, prefix, name, &st, is_link ? target : NULL);
    } else {
      mlst_facts(s, b, &st, is_link ? "OS.unix=symlink" : S_ISDIR(st.st_mode) ? "dir"
                            : S_ISREG(st.st_mode) ? "file" : "OS.unix=special");
      sbuf_printf(b, "%s\r\n", name);
    }
  }
  if (hidden)
    ftpd_log(LOG_WARN, "#%lu %s: %zu name(s) with CR or LF left out of the listing of %s", s->id, s->user, hidden, vpath);
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  closedir(d);
  if (!r && b->failed) r = -ENOMEM;
  return r;
}

/* A listing reads a directory and stats every entry: in the coroutines model
 * that happens on the offload pool. */
struct list_job {
  ftpd_session_t *s;
  const char *vpath;
  int style;
  sbuf_t *b;
  const char *prefix;
};

static int list_run(void *p) {
  struct list_job *j = p;
  return list_dir(j->s, j->vpath, j->style, j->b, j->prefix);
}

int ftpd_list(ftpd_session_t *s, const char *vpath, int style, sbuf_t *b, const char *prefix) {
  struct list_job j = {s, vpath, style, b, prefix};
  return ftpd_offload(s->srv, list_run, &j);
}
