/* netrc.c — ~/.netrc lookups (machine / login / password / default, the
 * tokens ftp(1) reads; `macdef` bodies are skipped). A file that group or
 * others may read is refused, as BSD ftp does, since it holds passwords. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mtftp.h"

/* The next whitespace-separated token (quotes allowed) from *p. */
static bool next_tok(char **p, char *out, size_t outsz) {
  char *s = *p;
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == ',') s++;
  if (!*s) return false;
  size_t n = 0;
  if (*s == '"') {
    s++;
    while (*s && *s != '"') {
      if (*s == '\\' && s[1]) s++;
      if (n + 1 < outsz) out[n++] = *s;
      s++;
    }
    if (*s == '"') s++;
  } else {
    while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') {
      if (*s == '\\' && s[1]) s++;
      if (n + 1 < outsz) out[n++] = *s;
      s++;
    }
  }
  out[n] = 0;
  *p = s;
  return true;
}

int netrc_lookup(const char *path, const char *host, char *login, size_t loginsz, char *pass,
                 size_t passsz, const char **why) {
  char def[4096];
  if (!path) path = getenv("NETRC");
  if (!path || !*path) {
    const char *home = getenv("HOME");
    if (!home) return 0;
    snprintf(def, sizeof def, "%s/.netrc", home);
    path = def;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
    close(fd);
    return 0;
  }
  if (st.st_mode & 077) {
    close(fd);
    if (why) *why = "~/.netrc is readable or writable by others (chmod 600 it); not used";
    return -EPERM;
  }
  char *buf = malloc((size_t)st.st_size + 1);
  if (!buf) {
    close(fd);
    return 0;
  }
  ssize_t n = read(fd, buf, (size_t)st.st_size);
  close(fd);
  buf[n > 0 ? n : 0] = 0;
  char tok[512];
  char *p = buf;
  int state = 0;   /* 0 outside, 1 in the matching entry, 2 in another */
  int found = 0;
  login[0] = pass[0] = 0;
  while (next_tok(&p, tok, sizeof tok)) {
    if (!strcmp(tok, "machine")) {
      if (state == 1) break;
      if (!next_tok(&p, tok, sizeof tok)) break;
      state = strcasecmp(tok, host) ? 2 : 1;
      if (state == 1) found = 1;
    } else if (!strcmp(tok, "default")) {
      if (state == 1) break;
      state = 1;
      found = 1;
    } else if (!strcmp(tok, "login") || !strcmp(tok, "password") || !strcmp(tok, "account")) {
      char val[512];
      if (!next_tok(&p, val, sizeof val)) break;
      if (state == 1 && tok[0] == 'l') snprintf(login, loginsz, "%s", val);
      if (state == 1 && tok[0] == 'p') snprintf(pass, passsz, "%s", val);
    } else if (!strcmp(tok, "macdef")) {
      next_tok(&p, tok, sizeof tok);
      char *e = strstr(p, "\n\n");   /* a macro ends at an empty line */
      p = e ? e + 2 : p + strlen(p);
    }
  }
  free(buf);
  return found;
}
