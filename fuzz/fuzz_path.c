/* fuzz_path.c — libFuzzer harness for the jail (path resolution beneath a root).
 *
 * A scratch tree is made once: root/ with a subdirectory, a file, symlinks
 * that stay inside and symlinks that lead out (absolute, relative "..", to
 * "/"), and outside/secret next to it. Each input is split at the first NUL
 * into a cwd and a client argument. Checked: a resolved path is absolute and
 * has no "." or ".." component or empty component; and whatever
 * ftpd_fs_open() opens is never the outside secret nor the outside
 * directory, with openat2 and with the no-follow fallback walk.
 */
#include <assert.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "ftpd_limits.h"

static int root_fd = -1;
static struct stat secret_st, outside_st;

static char base_dir[64];

/* Removes the scratch tree at exit (libFuzzer exits through exit()). */
static void cleanup(void) {
  static const char *rel[] = {"root/d/deep", "root/d/up", "root/d/f", "root/d", "root/in", "root/out-rel",
                              "root/out-abs", "root/slash", "root", "outside/secret", "outside", ""};
  char p[512];
  for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", base_dir, rel[i]);
    if (unlink(p) != 0) rmdir(p);
  }
}

static void setup(void) {
  strcpy(base_dir, "/tmp/mtftpd-fuzz-XXXXXX");
  char *base = mkdtemp(base_dir);
  assert(base);
  atexit(cleanup);
  char p[512], q[512];
  snprintf(p, sizeof p, "%s/outside", base); mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/outside/secret", base); close(open(p, O_CREAT | O_WRONLY, 0600));
  stat(p, &secret_st);
  snprintf(p, sizeof p, "%s/outside", base); stat(p, &outside_st);
  snprintf(p, sizeof p, "%s/root", base); mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/root/d", base); mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/root/d/f", base); close(open(p, O_CREAT | O_WRONLY, 0644));
  snprintf(p, sizeof p, "%s/root/in", base); symlink("d/f", p);
  snprintf(p, sizeof p, "%s/root/d/up", base); symlink("..", p);
  snprintf(p, sizeof p, "%s/root/out-rel", base); symlink("../outside", p);
  snprintf(q, sizeof q, "%s/outside/secret", base);
  snprintf(p, sizeof p, "%s/root/out-abs", base); symlink(q, p);
  snprintf(p, sizeof p, "%s/root/slash", base); symlink("/", p);
  snprintf(p, sizeof p, "%s/root/d/deep", base); symlink("../../outside/secret", p);
  snprintf(p, sizeof p, "%s/root", base);
  root_fd = open(p, O_PATH | O_DIRECTORY);
  assert(root_fd >= 0);
}

static void check_fd(int fd) {
  if (fd < 0) return;
  struct stat st;
  assert(fstat(fd, &st) == 0);
  assert(!(st.st_dev == secret_st.st_dev && st.st_ino == secret_st.st_ino));
  assert(!(st.st_dev == outside_st.st_dev && st.st_ino == outside_st.st_ino));
  close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (root_fd < 0) setup();
  if (size > 2 * FTPD_MAX_PATH) return 0;
  char buf[2 * FTPD_MAX_PATH + 2];
  memcpy(buf, data, size);
  buf[size] = 0;
  const char *cwd = "/";
  const char *arg = buf;
  size_t first = strlen(buf);
  if (first < size) {        /* "cwd\0arg" */
    cwd = buf;
    arg = buf + first + 1;
  }
  char vcwd[FTPD_MAX_PATH + 1], vpath[FTPD_MAX_PATH + 1];
  if (ftpd_path_resolve("/", cwd, vcwd, sizeof vcwd) != 0) return 0;
  if (ftpd_path_resolve(vcwd, arg, vpath, sizeof vpath) != 0) return 0;
  assert(vpath[0] == '/');
  assert(strlen(vpath) <= FTPD_MAX_PATH);
  assert(!strstr(vpath, "//"));
  assert(!strstr(vpath, "/./") && !strstr(vpath, "/../"));
  size_t n = strlen(vpath);
  assert(!(n >= 2 && !strcmp(vpath + n - 2, "/.")) && !(n >= 3 && !strcmp(vpath + n - 3, "/..")));
  for (int fb = 0; fb < 2; fb++) {
    ftpd_fs_force_fallback(fb);
    check_fd(ftpd_fs_open(root_fd, vpath, O_PATH, 0));
    check_fd(ftpd_fs_open(root_fd, vpath, O_RDONLY, 0));
    char name[FTPD_MAX_NAME + 1];
    int pfd = ftpd_fs_parent(root_fd, vpath, name, sizeof name);
    if (pfd >= 0) assert(!strchr(name, '/') && strcmp(name, "..") && strcmp(name, "."));
    check_fd(pfd);
  }
  return 0;
}
