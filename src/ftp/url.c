/* url.c — ftp:// URLs: [ftp://][user[:password]@]host[:port][/path], with
 * %XX decoding of the user, password and path, and [v6] hosts; ftps://
 * is the same with implicit TLS (port 990 by default). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtftp.h"

bool url_is_url(const char *s) { return !strncmp(s, "ftp://", 6) || !strncmp(s, "ftps://", 7); }

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes s[0..n) into out; -EINVAL for a bad escape or a NUL, -ENAMETOOLONG. */
static int decode(const char *s, size_t n, char *out, size_t outsz) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '%') {
      int h, l;
      if (i + 2 >= n) return -EINVAL;
      if ((h = hexval(s[i + 1])) < 0 || (l = hexval(s[i + 2])) < 0) return -EINVAL;
      c = (char)(h * 16 + l);
      if (!c) return -EINVAL;
      i += 2;
    }
    if (o + 1 >= outsz) return -ENAMETOOLONG;
    out[o++] = c;
  }
  out[o] = 0;
  return 0;
}

int url_parse(const char *s, url_t *u, const char **err) {
  memset(u, 0, sizeof *u);
  u->port = 21;
  const char *why = NULL;
  if (!strncmp(s, "ftp://", 6)) {
    s += 6;
  } else if (!strncmp(s, "ftps://", 7)) {
    s += 7;
    u->implicit_tls = true;
    u->port = 990;
  } else if (strstr(s, "://")) {
    why = "only ftp:// and ftps:// URLs are supported";
    goto bad;
  }
  const char *slash = strchr(s, '/');
  const char *end = slash ? slash : s + strlen(s);
  /* the last '@' before the path separates the credentials */
  const char *at = NULL;
  for (const char *p = s; p < end; p++)
    if (*p == '@') at = p;
  const char *h = s;
  if (at) {
    const char *colon = memchr(s, ':', (size_t)(at - s));
    size_t ulen = colon ? (size_t)(colon - s) : (size_t)(at - s);
    if (decode(s, ulen, u->user, sizeof u->user)) { why = "bad user name"; goto bad; }
    u->has_user = true;
    if (colon) {
      if (decode(colon + 1, (size_t)(at - colon - 1), u->pass, sizeof u->pass)) { why = "bad password"; goto bad; }
      u->has_pass = true;
    }
    h = at + 1;
  }
  const char *pe;
  if (*h == '[') {
    const char *rb = memchr(h, ']', (size_t)(end - h));
    if (!rb) { why = "unclosed [ in host"; goto bad; }
    if ((size_t)(rb - h - 1) >= sizeof u->host || rb == h + 1) { why = "bad host"; goto bad; }
    memcpy(u->host, h + 1, (size_t)(rb - h - 1));
    pe = rb + 1;
  } else {
    pe = h;
    while (pe < end && *pe != ':') pe++;
    if (pe == h || (size_t)(pe - h) >= sizeof u->host) { why = "no host"; goto bad; }
    memcpy(u->host, h, (size_t)(pe - h));
  }
  if (pe < end) {
    if (*pe != ':' || pe + 1 == end) { why = "bad port"; goto bad; }
    char *e;
    long port = strtol(pe + 1, &e, 10);
    if (e != end || port < 1 || port > 65535) { why = "bad port"; goto bad; }
    u->port = (int)port;
  }
  if (slash) {
    size_t plen = strlen(slash + 1);
    if (decode(slash + 1, plen, u->path, sizeof u->path)) { why = "bad path"; goto bad; }
    size_t n = strlen(u->path);
    if (n == 0 || u->path[n - 1] == '/') u->dir = true;
    while (n > 0 && u->path[n - 1] == '/') u->path[--n] = 0;
  } else {
    u->dir = true;
  }
  return 0;
bad:
  if (err) *err = why;
  return -EINVAL;
}
