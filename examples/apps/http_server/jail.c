/* jail.c — see jail.h. */
#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if ((c | 32) >= 'a' && (c | 32) <= 'f') return (c | 32) - 'a' + 10;
  return -1;
}

int jail_normalize(const char *target, char *out, size_t outsz, bool *trailing_slash) {
  if (target[0] != '/' || outsz < 2) return -EINVAL;
  size_t len = 0;            /* out[0..len) is the path so far, "" = root */
  const char *p = target;
  size_t raw = strcspn(target, "?#");
  *trailing_slash = target[raw - 1] == '/';
  while (*p && *p != '?' && *p != '#') {
    while (*p == '/') p++;
    /* one component, decoded into out at len+1 */
    size_t start = len;
    if (start + 1 >= outsz) return -ENAMETOOLONG;
    out[len++] = '/';
    size_t n = 0;
    while (*p && *p != '/' && *p != '?' && *p != '#') {
      int c = (unsigned char)*p++;
      if (c == '%') {
        int hi = hexval(p[0]), lo = hi < 0 ? -1 : hexval(p[1]);
        if (lo < 0) return -EINVAL;
        c = hi * 16 + lo;
        p += 2;
      }
      if (c < 0x20 || c == 0x7f || c == '/') return -EINVAL;   /* an encoded '/' is not a separator */
      if (len + 1 >= outsz) return -ENAMETOOLONG;
      out[len++] = (char)c;
      n++;
    }
    const char *comp = out + start + 1;
    if (n == 0 || (n == 1 && comp[0] == '.')) {
      len = start;                            /* empty or "." */
    } else if (n == 2 && comp[0] == '.' && comp[1] == '.') {
      if (start == 0) return -EACCES;         /* above the root */
      len = start;                            /* pop the previous component */
      while (len > 0 && out[--len] != '/') {
      }
    }
  }
  if (len == 0) out[len++] = '/';
  out[len] = 0;
  return 0;
}

int jail_open(int root_fd, const char *vpath) {
  const char *rel = vpath[1] ? vpath + 1 : ".";
  struct open_how how = {
    .flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
  };
  long fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
  return fd < 0 ? -errno : (int)fd;
}

int jail_check(int root_fd) {
  int fd = jail_open(root_fd, "/");
  if (fd >= 0) close(fd);
  return fd == -ENOSYS ? -ENOSYS : 0;
}
