/* commands/fsops.c — verbs on names: PWD CWD CDUP SIZE MDTM MFMT DELE RNFR
 * RNTO MKD RMD and SITE CHMOD.
 *
 * Each resolves its path with ftpd_sess_path() and asks ftpd_authorize()
 * before touching anything. Operations on a last component (delete, rename,
 * mkdir) work on a parent-directory fd from ftpd_fs_parent() and never follow
 * a symlink in that last component. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../session.h"

void ftpd_cmd_pwd(ftpd_session_t *s, const char *arg) {
  char q[2 * FTPD_MAX_PATH + 3];
  ftpd_quote_path(s->cwd, q, sizeof q);
  ftpd_reply(s, 257, "\"%s\" is the current directory.", q);
}

void ftpd_cmd_cwd(ftpd_session_t *s, const char *arg) {
  char vpath[FTPD_MAX_PATH + 1];
  if (!ftpd_sess_path(s, arg, vpath) || !ftpd_authorize(s, PERM_E, vpath)) return;
  int fd = ftpd_fs_open(s->root_fd, vpath, O_PATH | O_DIRECTORY, 0);
  if (fd < 0) {
    ftpd_reply_err(s, 550, fd, vpath);
    return;
  }
  close(fd);
  strcpy(s->cwd, vpath);
  ftpd_reply(s, 250, "Directory successfully changed.");
}

void ftpd_cmd_cdup(ftpd_session_t *s, const char *arg) { ftpd_cmd_cwd(s, ".."); }

/* fstat of vpath beneath the root (symlinks followed only inside it). */
static int stat_path(ftpd_session_t *s, const char *vpath, struct stat *st) {
  int fd = ftpd_fs_open(s->root_fd, vpath, O_PATH, 0);
  if (fd < 0) return fd;
  int r = fstat(fd, st) ? -errno : 0;
  close(fd);
  return r;
}

void ftpd_cmd_size(ftpd_session_t *s, const char *arg) {
  char vpath[FTPD_MAX_PATH + 1];
  if (!ftpd_sess_path(s, arg, vpath) || !ftpd_authorize(s, PERM_L, vpath)) return;
  if (s->ascii) {     /* the ASCII size would differ from the file's: refuse, as RFC 3659 allows */
    ftpd_reply(s, 550, "SIZE not allowed in ASCII mode; send TYPE I first.");
    return;
  }
  struct stat st;
  int r = stat_path(s, vpath, &st);
  if (r < 0) ftpd_reply_err(s, 550, r, vpath);
  else if (!S_ISREG(st.st_mode)) ftpd_reply(s, 550, "%s: not a regular file.", vpath);
  else ftpd_reply(s, 213, "%lld", (long long)st.st_size);
}

void ftpd_cmd_mdtm(ftpd_session_t *s, const char *arg) {
  char vpath[FTPD_MAX_PATH + 1];
  if (!ftpd_sess_path(s, arg, vpath) || !ftpd_authorize(s, PERM_L, vpath)) return;
  struct stat st;
  int r = stat_path(s, vpath, &st);
  if (r < 0) {
    ftpd_reply_err(s, 550, r, vpath);
    return;
  }
  struct tm tm;
  gmtime_r(&st.st_mtime, &tm);
  char t[32];
  strftime(t, sizeof t, "%Y%m%d%H%M%S", &tm);
  ftpd_reply(s, 213, "%s", t);
}

/* "YYYYMMDDHHMMSS[.sss]" (UTC) → time_t; -1 when malformed. */
static int parse_time(const char *p, size_t n, time_t *out) {
  if (n < 14) return -1;
  for (size_t i = 0; i < 14; i++)
    if (p[i] < '0' || p[i] > '9') return -1;
  if (n > 14 && p[14] != '.') return -1;
  struct tm tm = {0};
#define NUM(a, len) ({ int v_ = 0; for (int k_ = 0; k_ < (len); k_++) v_ = v_ * 10 + (p[(a) + k_] - '0'); v_; })
  tm.tm_year = NUM(0, 4) - 1900;
  tm.tm_mon = NUM(4, 2) - 1;
  tm.tm_mday = NUM(6, 2);
  tm.tm_hour = NUM(8, 2);
  tm.tm_min = NUM(10, 2);
  tm.tm_sec = NUM(12, 2);
#undef NUM
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60)
    return -1;
  *out = timegm(&tm);
  return 0;
}

void ftpd_cmd_mfmt(ftpd_session_t *s, const char *arg) {
  const char *sp = strchr(arg, ' ');
  time_t t;
  if (!sp || !sp[1] || parse_time(arg, (size_t)(sp - arg), &t)) {
    ftpd_reply(s, 501, "Syntax: MFMT YYYYMMDDHHMMSS path");
    return;
  }
  char vpath[FTPD_MAX_PATH + 1], name[FTPD_MAX_NAME + 1];
  if (!ftpd_sess_path(s, sp + 1, vpath) || !ftpd_authorize(s, PERM_T, vpath)) return;
  int dfd = ftpd_fs_parent(s->root_fd, vpath, name, sizeof name);
  if (dfd < 0) {
    ftpd_reply_err(s, 550, dfd, vpath);
    return;
  }
  struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = t}};
  int r = utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
  close(dfd);
  if (r) {
    ftpd_reply_err(s, 550, r, vpath);
    return;
  }
  ftpd_reply(s, 213, "Modify=%.14s; %s", arg, vpath);
}

/* The shared shape of DELE, RMD, MKD: a parent fd, one call on the name. */
enum { OP_DELE, OP_RMD, OP_MKD };
static void name_op(ftpd_session_t *s, const char *arg, int op) {
  static const unsigned perm[] = {PERM_D, PERM_D, PERM_M};
  char vpath[FTPD_MAX_PATH + 1], name[FTPD_MAX_NAME + 1];
  if (!ftpd_sess_path(s, arg, vpath) || !ftpd_authorize(s, perm[op], vpath)) return;
  int dfd = ftpd_fs_parent(s->root_fd, vpath, name, sizeof name);
  if (dfd < 0) {
    ftpd_reply_err(s, 550, dfd, vpath);
    return;
  }
  int r;
  if (op == OP_MKD) r = mkdirat(dfd, name, 0755);
  else r = unlinkat(dfd, name, op == OP_RMD ? AT_REMOVEDIR : 0);
  r = r ? -errno : 0;
  close(dfd);
  if (r) {
    ftpd_reply_err(s, 550, r, vpath);
  } else if (op == OP_MKD) {
    char q[2 * FTPD_MAX_PATH + 3];
    ftpd_quote_path(vpath, q, sizeof q);
    ftpd_reply(s, 257, "\"%s\" created.", q);
  } else {
    ftpd_reply(s, 250, op == OP_DELE ? "File deleted." : "Directory removed.");
  }
}

void ftpd_cmd_dele(ftpd_session_t *s, const char *arg) { name_op(s, arg, OP_DELE); }
void ftpd_cmd_rmd(ftpd_session_t *s, const char *arg) { name_op(s, arg, OP_RMD); }
void ftpd_cmd_mkd(ftpd_session_t *s, const char *arg) { name_op(s, arg, OP_MKD); }

void ftpd_cmd_rnfr(ftpd_session_t *s, const char *arg) {
  char vpath[FTPD_MAX_PATH + 1], name[FTPD_MAX_NAME + 1];
  if (!ftpd_sess_path(s, arg, vpath) || !ftpd_authorize(s, PERM_F, vpath)) return;
  int dfd = ftpd_fs_parent(s->root_fd, vpath, name, sizeof name);
  struct stat st;
  int r = dfd < 0 ? dfd : fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
  if (dfd >= 0) close(dfd);
  if (r) {
    ftpd_reply_err(s, 550, r, vpath);
    return;
  }
  free(s->rnfr);
  s->rnfr = strdup(vpath);
  if (!s->rnfr) ftpd_reply(s, 451, "Out of memory.");
  else ftpd_reply(s, 350, "Ready for RNTO.");
}

void ftpd_cmd_rnto(ftpd_session_t *s, const char *arg) {
  if (!s->rnfr) {
    ftpd_reply(s, 503, "RNFR required first.");
    return;
  }
  char *from = s->rnfr;
  s->rnfr = NULL;
  char vpath[FTPD_MAX_PATH + 1], n1[FTPD_MAX_NAME + 1], n2[FTPD_MAX_NAME + 1];
  if (ftpd_sess_path(s, arg, vpath) && ftpd_authorize(s, PERM_F, vpath)) {
    int d1 = ftpd_fs_parent(s->root_fd, from, n1, sizeof n1);
    int d2 = d1 < 0 ? d1 : ftpd_fs_parent(s->root_fd, vpath, n2, sizeof n2);
    int r = d2 < 0 ? d2 : renameat(d1, n1, d2, n2) ? -errno : 0;
    if (d1 >= 0) close(d1);
    if (d2 >= 0) close(d2);
    if (r) ftpd_reply_err(s, 550, r, vpath);
    else ftpd_reply(s, 250, "Rename successful.");
  }
  free(from);
}

void ftpd_site_chmod(ftpd_session_t *s, const char *arg) {
  char *end;
  long mode = strtol(arg, &end, 8);
  if (end == arg || *end != ' ' || !end[1] || mode < 0 || mode > 07777) {
    ftpd_reply(s, 501, "Syntax: SITE CHMOD <octal mode> <path>");
    return;
  }
  char vpath[FTPD_MAX_PATH + 1], name[FTPD_MAX_NAME + 1];
  if (!ftpd_sess_path(s, end + 1, vpath) || !ftpd_authorize(s, PERM_CHMOD, vpath)) return;
  int dfd = ftpd_fs_parent(s->root_fd, vpath, name, sizeof name);
  /* AT_SYMLINK_NOFOLLOW: a symlink's target, maybe outside, is never changed. */
  int r = dfd < 0 ? dfd : fchmodat(dfd, name, (mode_t)mode, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
  if (dfd >= 0) close(dfd);
  if (r) ftpd_reply_err(s, 550, r, vpath);
  else ftpd_reply(s, 200, "SITE CHMOD command ok.");
}
