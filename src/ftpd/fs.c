/* fs.c — path resolution beneath a root, the kernel doing the checking.
 *
 * Two steps. ftpd_path_resolve() is pure string work on the virtual path (no
 * file system access), so a client can name nothing but "/x/y" forms. Then
 * ftpd_fs_open() hands the relative path to openat2() with RESOLVE_BENEATH:
 * whatever symlinks the tree holds, the kernel refuses any walk that would
 * leave root_fd. String checks alone cannot do that (a symlink made after
 * the check would win the race), which is why there are none here.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs.h"
#include "ftpd_limits.h"

static int resolve(const char *cwd, const char *arg, char *out, size_t outsz, bool clamp) {
  if (outsz < 2) return -ENAMETOOLONG;
  /* Component boundaries of the result, for "..". */
  size_t stack[FTPD_MAX_PATH / 2 + 1];
  size_t depth = 0, len = 0;
  out[0] = 0;
  for (int pass = 0; pass < 2; pass++) {
    const char *p = pass == 0 ? cwd : arg;
    if (!p) continue;
    if (pass == 1 && p[0] == '/') depth = len = 0;     /* absolute: start over */
    while (*p) {
      while (*p == '/') p++;
      if (!*p) break;
      const char *e = p;
      while (*e && *e != '/') e++;
      size_t n = (size_t)(e - p);
      if (n == 1 && p[0] == '.') {
        /* nothing */
      } else if (n == 2 && p[0] == '.' && p[1] == '.') {
        if (depth == 0) {
          if (!clamp) return -EACCES;
        } else {
          len = stack[--depth];
        }
      } else {
        if (n > FTPD_MAX_NAME) return -ENAMETOOLONG;
        if (len + 1 + n + 1 > outsz || len + 1 + n > FTPD_MAX_PATH) return -ENAMETOOLONG;
        if (depth >= sizeof stack / sizeof stack[0]) return -ENAMETOOLONG;
        stack[depth++] = len;
        out[len++] = '/';
        memcpy(out + len, p, n);
        len += n;
      }
      p = e;
    }
  }
  if (len == 0) out[len++] = '/';
  out[len] = 0;
  return 0;
}

int ftpd_path_resolve(const char *cwd, const char *arg, char *out, size_t outsz) {
  return resolve(cwd, arg, out, outsz, false);
}

int ftpd_path_resolve_clamped(const char *cwd, const char *arg, char *out, size_t outsz) {
  return resolve(cwd, arg, out, outsz, true);
}

static atomic_int force_fallback = -1;   /* -1: read the environment once */

void ftpd_fs_force_fallback(bool on) { atomic_store(&force_fallback, on ? 1 : 0); }

static bool use_fallback(void) {
  int f = atomic_load(&force_fallback);
  if (f < 0) {
    const char *e = getenv("MTFTPD_NO_OPENAT2");
    f = e && *e && strcmp(e, "0") != 0;
    atomic_store(&force_fallback, f);
  }
  return f == 1;
}

/* errno of a failed O_NOFOLLOW open of dfd/name, with "it is a symlink"
 * (ELOOP, or ENOTDIR when a directory was asked for) reported as EXDEV. */
static int nofollow_error(int dfd, const char *name, int e) {
  struct stat st;
  if (e == ELOOP || (e == ENOTDIR && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)))
    return -EXDEV;
  return -e;
}

static int walk_nofollow(int root_fd, const char *rel, int flags, mode_t mode) {
  int dfd = dup(root_fd);
  if (dfd < 0) return -errno;
  const char *p = rel;
  for (;;) {
    const char *slash = strchr(p, '/');
    if (!slash) break;
    char comp[FTPD_MAX_NAME + 1];
    size_t n = (size_t)(slash - p);
    if (n > FTPD_MAX_NAME) { close(dfd); return -ENAMETOOLONG; }
    memcpy(comp, p, n);
    comp[n] = 0;
    int nfd = openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int err = nfd < 0 ? nofollow_error(dfd, comp, errno) : 0;
    close(dfd);
    if (nfd < 0) return err;
    dfd = nfd;
    p = slash + 1;
  }
  int fd = openat(dfd, p, flags | O_NOFOLLOW | O_CLOEXEC, mode);
  int err = fd < 0 ? nofollow_error(dfd, p, errno) : 0;
  close(dfd);
  if (fd < 0) return err;
  return fd;
}

int ftpd_fs_open(int root_fd, const char *vpath, int flags, mode_t mode) {
  if (vpath[0] != '/') return -EINVAL;
  const char *rel = vpath[1] ? vpath + 1 : ".";
  if (!use_fallback()) {
    struct open_how how = {
      .flags = (unsigned long long)(flags | O_CLOEXEC),
      .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
      .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
    if (fd >= 0) return (int)fd;
    if (errno != ENOSYS) return -errno;
    ftpd_fs_force_fallback(true);     /* this kernel has no openat2 */
  }
  if (strcmp(rel, ".") == 0) {
    int fd = openat(root_fd, ".", flags | O_CLOEXEC, mode);
    return fd < 0 ? -errno : fd;
  }
  return walk_nofollow(root_fd, rel, flags, mode);
}

int ftpd_fs_parent(int root_fd, const char *vpath, char *name, size_t namesz) {
  if (vpath[0] != '/' || vpath[1] == 0) return -EPERM;
  const char *slash = strrchr(vpath, '/');
  size_t n = strlen(slash + 1);
  if (n + 1 > namesz) return -ENAMETOOLONG;
  memcpy(name, slash + 1, n + 1);
  char dir[FTPD_MAX_PATH + 1];
  size_t dl = (size_t)(slash - vpath);
  if (dl == 0) dl = 1;                      /* "/name": the parent is "/" */
  memcpy(dir, vpath, dl);
  dir[dl] = 0;
  return ftpd_fs_open(root_fd, dir, O_PATH | O_DIRECTORY, 0);
}
