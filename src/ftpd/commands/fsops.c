/* commands/fsops.c — verbs on names: PWD CWD CDUP SIZE MDTM MFMT DELE RNFR
 * RNTO MKD RMD and SITE CHMOD.
 *
 * The dispatcher (session.c) has resolved each one's path (vp) and checked
 * the permission its table entry names before the handler runs. Operations
 * on a last component (delete, rename, mkdir) work on a parent-directory fd
 * from ftpd_fs_parent() and never follow a symlink in that last component. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../session.h"

void ftpd_cmd_pwd(ftpd_session_t *s, const char *arg, const char *vp) {
  char q[2 * FTPD_MAX_PATH + 3];
  ftpp_path_quote(s->cwd, q, sizeof q);
  ftpd_reply(s, 257, "\"%s\" is the current directory.", q);
}

void ftpd_cmd_cwd(ftpd_session_t *s, const char *arg, const char *vp) {
  const char *vpath = vp;
  int fd = ftpd_fs_open(s->root_fd, vpath, O_PATH | O_DIRECTORY, 0);
  if (fd < 0) {
    ftpd_reply_err(s, 550, fd, vpath);
    return;
  }
  close(fd);
  if (ftpd_sess_set_cwd(s, vpath) < 0) {
    ftpd_reply(s, 451, "Out of memory.");
    return;
  }
  ftpd_reply(s, 250, "Directory successfully changed.");
}

void ftpd_cmd_cdup(ftpd_session_t *s, const char *arg, const char *vp) { ftpd_cmd_cwd(s, "..", vp); }

/* fstat of vpath beneath the root (symlinks followed only inside it). */
static int stat_path(ftpd_session_t *s, const char *vpath, struct stat *st) {
  int fd = ftpd_fs_open(s->root_fd, vpath, O_PATH, 0);
  if (fd < 0) return fd;
  int r = fstat(fd, st) ? -errno : 0;
  close(fd);
  return r;
}

void ftpd_cmd_size(ftpd_session_t *s, const char *arg, const char *vp) {
  const char *vpath = vp;
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

void ftpd_cmd_mdtm(ftpd_session_t *s, const char *arg, const char *vp) {
  const char *vpath = vp;
  struct stat st;
  int r = stat_path(s, vpath, &st);
  if (r < 0) {
    ftpd_reply_err(s, 550, r, vpath);
    return;
  }
  if (!S_ISREG(st.st_mode)) {        /* RFC 3659 3.1 speaks of files; so do the other servers */
    ftpd_reply(s, 550, "%s: not a regular file.", vpath);
    return;
  }
  char t[16];
  if (ftpp_time_format(st.st_mtime, t, sizeof t) < 0) ftpd_reply(s, 550, "%s: modification time out of range.", vpath);
  else ftpd_reply(s, 213, "%s", t);
}

void ftpd_cmd_mfmt(ftpd_session_t *s, const char *arg, const char *vp) {
  struct timespec t;
  const char *path;
  if (ftpp_mfmt_parse(arg, &t, &path) < 0) {
    ftpd_reply(s, 501, "Syntax: MFMT YYYYMMDDHHMMSS path");
    return;
  }
  const char *vpath = vp;
  char name[FTPD_MAX_NAME + 1];
  (void)path;                        /* the dispatcher resolved it into vp */
  int dfd = ftpd_fs_parent(s->root_fd, vpath, name, sizeof name);
  if (dfd < 0) {
    ftpd_reply_err(s, 550, dfd, vpath);
    return;
  }
  struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, t};
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
static void name_op(ftpd_session_t *s, const char *vpath, int op) {
  char name[FTPD_MAX_NAME + 1];
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
    ftpp_path_quote(vpath, q, sizeof q);
    ftpd_reply(s, 257, "\"%s\" created.", q);
  } else {
    ftpd_reply(s, 250, op == OP_DELE ? "File deleted." : "Directory removed.");
  }
}

void ftpd_cmd_dele(ftpd_session_t *s, const char *arg, const char *vp) { name_op(s, vp, OP_DELE); }
void ftpd_cmd_rmd(ftpd_session_t *s, const char *arg, const char *vp) { name_op(s, vp, OP_RMD); }
void ftpd_cmd_mkd(ftpd_session_t *s, const char *arg, const char *vp) { name_op(s, vp, OP_MKD); }

void ftpd_cmd_rnfr(ftpd_session_t *s, const char *arg, const char *vp) {
  const char *vpath = vp;
  char name[FTPD_MAX_NAME + 1];
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

void ftpd_cmd_rnto(ftpd_session_t *s, const char *arg, const char *vp) {
  if (!s->rnfr) {
    ftpd_reply(s, 503, "RNFR required first.");
    return;
  }
  char *from = s->rnfr;
  s->rnfr = NULL;
  const char *vpath = vp;
  char n1[FTPD_MAX_NAME + 1], n2[FTPD_MAX_NAME + 1];
  {
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

void ftpd_site_chmod(ftpd_session_t *s, const char *arg, const char *vp) {
  unsigned mode, asked;
  const char *path;
  if (ftpp_chmod_parse(arg, &mode, &asked, &path) < 0) {
    ftpd_reply(s, 501, "Syntax: SITE CHMOD <octal mode> <path>");
    return;
  }
  const char *vpath = vp;
  char name[FTPD_MAX_NAME + 1];
  (void)path;
  int dfd = ftpd_fs_parent(s->root_fd, vpath, name, sizeof name);
  /* AT_SYMLINK_NOFOLLOW: a symlink's target, maybe outside, is never changed. */
  int r = dfd < 0 ? dfd : fchmodat(dfd, name, (mode_t)mode, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
  if (dfd >= 0) close(dfd);
  if (r) ftpd_reply_err(s, 550, r, vpath);
  else if (asked != mode) ftpd_reply(s, 200, "SITE CHMOD command ok (mode %04o: setuid, setgid and sticky bits are never set).", mode);
  else ftpd_reply(s, 200, "SITE CHMOD command ok.");
}
