/* pins.c — the --pin store: $XDG_DATA_HOME/mtftp/known_servers (default
 * ~/.local/share/mtftp/known_servers), one line per server:
 *
 *     HOST:PORT sha256 HEX        ([v6-address]:PORT for IPv6 literals)
 *
 * with '#' comments and blank lines allowed. Lines are only ever added: a
 * changed key is refused (ftps.c), and the user deletes the line by hand.
 * A record rewrites the whole file into a temporary one beside it (mode
 * 0600, in a directory made 0700) and renames it over, under an flock on the
 * directory, so concurrent mtftp processes and parallel workers neither
 * lose a line nor see half of one.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mtftp.h"

#define PINS_MAX (1 << 20)   /* a known_servers larger than this is not ours */

static char dir_buf[4096], path_buf[sizeof dir_buf + 16];
static pthread_once_t path_once = PTHREAD_ONCE_INIT;

static void make_path(void) {
  const char *x = getenv("XDG_DATA_HOME"), *h = getenv("HOME");
  if (x && x[0] == '/') snprintf(dir_buf, sizeof dir_buf, "%s/mtftp", x);
  else if (h && *h) snprintf(dir_buf, sizeof dir_buf, "%s/.local/share/mtftp", h);
  else return;
  snprintf(path_buf, sizeof path_buf, "%s/known_servers", dir_buf);
}

const char *pins_path(void) {
  pthread_once(&path_once, make_path);
  return path_buf[0] ? path_buf : NULL;
}

static void key_name(const char *host, int port, char *out, size_t n) {
  snprintf(out, n, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

static int unhex(const char *h, unsigned char key[32]) {
  for (int i = 0; i < 32; i++) {
    unsigned v;
    if (sscanf(h + 2 * i, "%2x", &v) != 1) return -1;
    key[i] = (unsigned char)v;
  }
  return h[64] == 0 ? 0 : -1;
}

/* The whole file (NUL-terminated, *len bytes), NULL and *err = 0 when it
 * does not exist, or NULL with *err = -errno. Caller frees. */
static char *slurp(const char *path, size_t *len, int *err) {
  *err = 0;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = errno == ENOENT ? 0 : -errno;
    return NULL;
  }
  struct stat st;
  char *buf = NULL;
  if (fstat(fd, &st) || st.st_size > PINS_MAX || !(buf = malloc((size_t)st.st_size + 1))) {
    *err = errno ? -errno : -EFBIG;
    close(fd);
    return NULL;
  }
  size_t got = 0;
  ssize_t r;
  while (got < (size_t)st.st_size && (r = read(fd, buf + got, (size_t)st.st_size - got)) > 0) got += (size_t)r;
  close(fd);
  buf[got] = 0;
  *len = got;
  return buf;
}

/* Finds name in text: 1 (key, line set), 0, or -EINVAL for a line of name
 * that is not well formed. */
static int find(char *text, const char *name, unsigned char key[32], int *line) {
  int ln = 0;
  for (char *p = text; p && *p;) {
    char *e = strchr(p, '\n');
    if (e) *e = 0;
    ln++;
    char host[300], algo[16], hex[80];
    int n = sscanf(p, "%299s %15s %79s", host, algo, hex);
    if (n >= 1 && host[0] != '#' && !strcmp(host, name)) {
      if (e) *e = '\n';
      *line = ln;
      if (n != 3 || strcmp(algo, "sha256") || strlen(hex) != 64 || unhex(hex, key)) return -EINVAL;
      return 1;
    }
    if (e) *e = '\n';
    p = e ? e + 1 : NULL;
  }
  return 0;
}

int pins_lookup(const char *host, int port, unsigned char key[32], int *line, const char **why) {
  static __thread char msg[4400];
  const char *path = pins_path();
  if (!path) {
    *why = "no HOME or XDG_DATA_HOME to keep known_servers in";
    return -ENOENT;
  }
  size_t len;
  int err;
  char *text = slurp(path, &len, &err);
  if (!text) {
    snprintf(msg, sizeof msg, "%s: %s", path, strerror(-err));
    *why = msg;
    return err;
  }
  char name[300];
  key_name(host, port, name, sizeof name);
  int r = find(text, name, key, line);
  free(text);
  if (r == -EINVAL) {
    snprintf(msg, sizeof msg, "%s line %d: not 'HOST:PORT sha256 HEX'", path, *line);
    *why = msg;
  }
  return r;
}

static int mkdirs(char *dir) {
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    int r = mkdir(dir, 0700);
    *p = '/';
    if (r && errno != EEXIST) return -errno;
  }
  if (mkdir(dir, 0700) && errno != EEXIST) return -errno;
  return 0;
}

int pins_record(const char *host, int port, const unsigned char key[32], const char **why) {
  static __thread char msg[4400];
  const char *path = pins_path();
  if (!path) {
    *why = "no HOME or XDG_DATA_HOME to keep known_servers in";
    return -ENOENT;
  }
  char dir[sizeof dir_buf];
  snprintf(dir, sizeof dir, "%s", dir_buf);
  int r = mkdirs(dir);
  int dfd = r ? -1 : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || flock(dfd, LOCK_EX)) {
    snprintf(msg, sizeof msg, "%s: %s", dir, strerror(r ? -r : errno));
    *why = msg;
    if (dfd >= 0) close(dfd);
    return r ? r : -errno;
  }
  size_t len = 0;
  int err;
  char *text = slurp(path, &len, &err);
  char name[300];
  key_name(host, port, name, sizeof name);
  unsigned char old[32];
  int line = 0;
  int found = text ? find(text, name, old, &line) : 0;
  char tmp[4200] = "";
  int fd = -1;
  if (err) {
    r = err;
  } else if (found) {   /* another process recorded it meanwhile */
    r = found == 1 && !memcmp(old, key, 32) ? 0 : -EEXIST;
    if (r) snprintf(msg, sizeof msg, "%s line %d: recorded meanwhile with another key", path, line);
    goto out;
  } else {
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) r = -errno;
  }
  if (!r) {
    char entry[400];
    int n = snprintf(entry, sizeof entry, "%s%s sha256 ", len && text[len - 1] != '\n' ? "\n" : "", name);
    for (int i = 0; i < 32; i++) n += snprintf(entry + n, sizeof entry - (size_t)n, "%02x", key[i]);
    entry[n++] = '\n';
    if (fchmod(fd, 0600) || (len && write(fd, text, len) != (ssize_t)len) || write(fd, entry, (size_t)n) != n ||
        fsync(fd) || rename(tmp, path))
      r = errno ? -errno : -EIO;
    else
      fsync(dfd);
  }
  if (r) snprintf(msg, sizeof msg, "cannot record the key in %s: %s", path, strerror(-r));
out:
  if (fd >= 0) close(fd);
  if (r && tmp[0]) unlink(tmp);
  free(text);
  flock(dfd, LOCK_UN);
  close(dfd);
  *why = msg;
  return r;
}
